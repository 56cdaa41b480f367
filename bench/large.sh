#!/bin/bash
# Large sequential I/O on the ram LUN against the copy it cannot avoid.
#
#   bench/large.sh RESULTS_DIR         (bench/run.sh calls it; writes
#                                       RESULTS_DIR/large.{csv,env} and large_floor.txt,
#                                       appends to commands.log)
#
# A 64 KiB-1 MiB read or write is one memcpy between guest memory and the RAM
# disk plus a per-request cost that no longer matters, so the daemon's CPU per
# MiB should come close to what bench/copy_floor measures for the same copy on
# this machine (same block size, same number of guest buffers, guest memory a
# shared memfd). The daemon runs on CPU 0 and fio on CPU 1; the floor is
# measured on CPU 0 before each run's points, so that the machine's drift
# (large on a shared host) hits both alike. At QD 32 the daemon, not the
# wakeups between requests, is the bottleneck (at QD 8 a 64 KiB point
# spends more CPU sleeping and waking than copying).
#
# Environment: BENCH_RUNTIME [30], BENCH_RUNS [2], BENCH_LUN_SIZE [1G],
# BENCH_LARGE_BSS ["64k 256k 1m"], BENCH_LARGE_QD [32].
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: bench/large.sh RESULTS_DIR}
RUNTIME=${BENCH_RUNTIME:-30}
RUNS=${BENCH_RUNS:-2}
LUN_SIZE=${BENCH_LUN_SIZE:-1G}
BSS=${BENCH_LARGE_BSS:-64k 256k 1m}
QD=${BENCH_LARGE_QD:-32}
DAEMON=$ROOT/build/vhost-user-scsi
ENGINE=$ROOT/build/fio-vhost-user-scsi.so
FLOOR=$ROOT/build/bench/copy_floor
CSV=$OUT/large.csv
CMDS=$OUT/commands.log
HZ=$(getconf CLK_TCK)
LUN_MIB=$(($(numfmt --from=iec "$LUN_SIZE") >> 20))

mkdir -p "$OUT/fio"
PART=large
# shellcheck source=bench/point-lib.sh
. "$ROOT/bench/point-lib.sh"

{
	part_env
	echo "qd=$QD"
	echo "lun_size=$LUN_SIZE"
} >"$OUT/large.env"

echo "rw,bs,qd,run,mib_s,cpu_s,mib,cpu_us_per_mib" >"$CSV"
# The floor: "copy_floor ... bs=B order=seq dir=read|write copy=memcpy|nt ... us_per_mib=N run=R" lines.
: >"$OUT/large_floor.txt"
sock=$WORK/vus.sock
for run in $(seq "$RUNS"); do
	for bs in $BSS; do
		b=$(numfmt --from=iec "${bs^^}")
		logged taskset -c 0 "$FLOOR" --seq "$b" "$QD" "$LUN_MIB"
		taskset -c 0 "$FLOOR" --seq "$b" "$QD" "$LUN_MIB" | sed "s/\$/ run=$run/" >>"$OUT/large_floor.txt"
	done
	tail -$((3 * $(wc -w <<<"$BSS"))) "$OUT/large_floor.txt" >&2
	rm -f "$sock"
	logged taskset -c 0 "$DAEMON" --socket-path "$sock" --lun type=ram,size="$LUN_SIZE"
	taskset -c 0 "$DAEMON" --socket-path "$sock" --lun type=ram,size="$LUN_SIZE" >"$WORK/daemon.log" 2>&1 &
	DPID=$!
	for _ in $(seq 200); do
		[ -S "$sock" ] && break
		sleep 0.05
	done
	timeout 300 taskset -c 1 fio --name=prefill --thread --ioengine=external:"$ENGINE" --lun=0 \
		--socket="$sock" --rw=write --bs=1M --iodepth=8 --size="$LUN_SIZE" --output-format=terse >/dev/null
	for bs in $BSS; do
		for rw in read write; do
			tag=large-$rw-$bs-run$run
			cmd=(timeout $((RUNTIME + 60)) taskset -c 1 fio --name="$tag" --thread
				--ioengine=external:"$ENGINE" --lun=0 --socket="$sock" --bs="$bs" --size="$LUN_SIZE"
				--output-format=json --rw="$rw" --iodepth="$QD" --time_based --runtime="$RUNTIME")
			logged "${cmd[@]}"
			before=$(ticks "$DPID")
			"${cmd[@]}" >"$OUT/fio/$tag.json" 2>&1
			after=$(ticks "$DPID")
			python3 - "$OUT/fio/$tag.json" "$rw" "$((after - before))" "$HZ" \
				"$rw,$bs,$QD,$run" >>"$CSV" <<'PY'
import json, sys
path, rw, ticks, hz, key = sys.argv[1:]
text = open(path).read()
s = json.loads(text[text.index("{"):])["jobs"][0][rw]
cpu = int(ticks) / int(hz)
mib = s["io_bytes"] / 2**20
print(f"{key},{s['bw_bytes'] / 2**20:.1f},{cpu:.2f},{mib:.1f},{cpu * 1e6 / mib if mib else 0:.2f}")
PY
			echo "[bench] large $(tail -1 "$CSV")" >&2
		done
	done
	kill "$DPID"
	wait "$DPID" 2>/dev/null || true
	DPID=""
done
