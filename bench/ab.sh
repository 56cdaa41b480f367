#!/bin/bash
# A/B of two daemon binaries in one run: ram LUN, the fio external engine,
# 4k random reads at QD1 and QD32 on one queue, runs alternated so that a
# drift of the machine hits both alike.  Prints one line per point and the
# mean IOPS of each with the ratio B/A.
#
#   bench/ab.sh A_BINARY B_BINARY            e.g. a daemon built from an older commit
#   AB_RUNTIME [10] seconds per point   AB_RUNS [3]   AB_QDS ["1 32"]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ENGINE=$ROOT/build/fio-vhost-user-scsi.so
A=${1:?usage: bench/ab.sh A_BINARY B_BINARY}
B=${2:?usage: bench/ab.sh A_BINARY B_BINARY}
RUNTIME=${AB_RUNTIME:-10}
RUNS=${AB_RUNS:-3}
QDS=${AB_QDS:-1 32}
[ -e "$ENGINE" ] || { echo "ab: $ENGINE missing (make fio-engine)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/vus-ab.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

point() { # $1 binary, $2 qd: prints IOPS
	local sock=$WORK/vus.sock pid iops
	rm -f "$sock"
	"$1" --socket-path "$sock" --lun type=ram,size=1G >"$WORK/daemon.log" 2>&1 &
	pid=$!
	for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
	iops=$(timeout $((RUNTIME + 60)) fio --name=ab --thread --ioengine=external:"$ENGINE" --lun=0 \
		--socket="$sock" --bs=4k --size=1G --norandommap --randrepeat=0 --rw=randread \
		--iodepth="$2" --time_based --runtime="$RUNTIME" --output-format=json 2>/dev/null |
		python3 -c 'import json,sys; t=sys.stdin.read(); j=json.loads(t[t.index("{"):]); print(int(j["jobs"][0]["read"]["iops"]))')
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	echo "$iops"
}

for run in $(seq "$RUNS"); do
	for qd in $QDS; do
		for side in A B; do
			bin=$A
			[ "$side" = B ] && bin=$B
			echo "$side qd$qd run$run $(point "$bin" "$qd")"
		done
	done
done | tee "$WORK/points"
for qd in $QDS; do
	awk -v qd="qd$qd" '$2 == qd { s[$1] += $4; n[$1]++ }
		END { a = s["A"] / n["A"]; b = s["B"] / n["B"];
		      printf "%s: A %.0f IOPS, B %.0f IOPS, B/A %.3f\n", qd, a, b, b / a }' "$WORK/points"
done
