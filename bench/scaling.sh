#!/bin/bash
# Worker-thread scaling where the daemon, not fio, is the bottleneck.
#
#   bench/scaling.sh RESULTS_DIR        (bench/run.sh calls it; writes
#                                        RESULTS_DIR/scaling.{csv,env}, appends to commands.log)
#
# At 4 KiB on a 2-CPU machine fio's own threads need about as much CPU as the
# daemon, so 2 daemon threads cannot show 2x there. With 64 KiB requests the
# daemon's copies dominate and fio needs little CPU: the same ram LUN, 2 queues
# at QD32, served by 1 and then by 2 worker threads, in alternated runs.
#
# Environment: BENCH_RUNTIME [30], BENCH_RUNS [2], BENCH_LUN_SIZE [1G],
# BENCH_SCALING_BS [64k].
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: bench/scaling.sh RESULTS_DIR}
RUNTIME=${BENCH_RUNTIME:-30}
RUNS=${BENCH_RUNS:-2}
LUN_SIZE=${BENCH_LUN_SIZE:-1G}
BS=${BENCH_SCALING_BS:-64k}
DAEMON=$ROOT/build/vhost-user-scsi
ENGINE=$ROOT/build/fio-vhost-user-scsi.so
CSV=$OUT/scaling.csv
CMDS=$OUT/commands.log
HZ=$(getconf CLK_TCK)

mkdir -p "$OUT/fio"
PART=scaling
# shellcheck source=bench/point-lib.sh
. "$ROOT/bench/point-lib.sh"

part_env >"$OUT/scaling.env"
echo "threads,rw,bs,qd,queues,run,iops,mib_s,cpu_s,ios,cpu_us_per_io" >"$CSV"
sock=$WORK/vus.sock
for run in $(seq "$RUNS"); do
	for t in 1 2; do
		rm -f "$sock"
		logged "$DAEMON" --socket-path "$sock" --lun type=ram,size="$LUN_SIZE" --threads "$t"
		"$DAEMON" --socket-path "$sock" --lun type=ram,size="$LUN_SIZE" --threads "$t" \
			>"$WORK/daemon.log" 2>&1 &
		DPID=$!
		for _ in $(seq 200); do
			[ -S "$sock" ] && break
			sleep 0.05
		done
		timeout 300 fio --name=prefill --thread --ioengine=external:"$ENGINE" --lun=0 --socket="$sock" \
			--rw=write --bs=1M --iodepth=8 --size="$LUN_SIZE" --output-format=terse >/dev/null
		for rw in randread randwrite; do
			tag=scaling-${t}t-$rw-$BS-run$run
			cmd=(timeout $((RUNTIME + 60)) fio --name="$tag" --thread --ioengine=external:"$ENGINE" --lun=0
				--socket="$sock" --bs="$BS" --size="$LUN_SIZE" --norandommap --randrepeat=0
				--group_reporting --output-format=json --rw="$rw" --iodepth=32 --numjobs=2
				--time_based --runtime="$RUNTIME")
			logged "${cmd[@]}"
			before=$(ticks "$DPID")
			"${cmd[@]}" >"$OUT/fio/$tag.json" 2>&1
			after=$(ticks "$DPID")
			python3 - "$OUT/fio/$tag.json" "$rw" "$((after - before))" "$HZ" \
				"$t,$rw,$BS,32,2,$run" >>"$CSV" <<'EOF'
import json, sys
path, rw, ticks, hz, key = sys.argv[1:]
text = open(path).read()
s = json.loads(text[text.index("{"):])["jobs"][0]["read" if rw.endswith("read") else "write"]
cpu = int(ticks) / int(hz)
ios = s["total_ios"]
print(f"{key},{s['iops']:.0f},{s['bw_bytes'] / 2**20:.1f},{cpu:.2f},{ios},{cpu * 1e6 / ios if ios else 0:.3f}")
EOF
			echo "[bench] scaling $(tail -1 "$CSV")" >&2
		done
		kill "$DPID"
		wait "$DPID" 2>/dev/null || true
		DPID=""
	done
done
