#!/bin/bash
# A/B of two daemon binaries in one run: ram LUN, the fio external engine,
# 4k random reads at QD1 and QD32 on one queue, runs alternated so that a
# drift of the machine hits both alike.  Prints one line per point (IOPS,
# and the daemon's CPU time per I/O in microseconds) and the means of each
# with the ratios B/A (IOPS: reads plus writes, for AB_FIO_ARGS_*="--rw=...").  CPU per I/O is the steadier measure of what a
# request costs, in interrupt mode (AB_DAEMON_ARGS="--poll-us 0"): a polling
# daemon spends its idle time looking for work.
#
#   bench/ab.sh A_BINARY B_BINARY            e.g. a daemon built from an older commit
#   AB_RUNTIME [10] seconds per point   AB_RUNS [3]   AB_QDS ["1 32"]
#   AB_DAEMON_ARGS [""]: extra daemon options, e.g. "--poll-us 0"
#   AB_FIO_ARGS_A, AB_FIO_ARGS_B [""]: extra fio options for one side, e.g.
#   AB_FIO_ARGS_B="--packed=1" with the same binary twice: split vs packed rings
#   AB_PREFILL [1]: write the whole LUN before each point (reads then copy
#   real data, not the zero page, and no point pays for the first touch of
#   the RAM disk's pages: on this machine, after a minute idle, that first
#   touch can take seconds, the host having taken the memory back)
#   AB_PIN [1]: the daemon on CPU 0 and fio on CPU 1 (on 2 CPUs, where the
#   scheduler puts the two otherwise changes the result by up to 2x)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ENGINE=$ROOT/build/fio-vhost-user-scsi.so
A=${1:?usage: bench/ab.sh A_BINARY B_BINARY}
B=${2:?usage: bench/ab.sh A_BINARY B_BINARY}
RUNTIME=${AB_RUNTIME:-10}
RUNS=${AB_RUNS:-3}
QDS=${AB_QDS:-1 32}
PIN_D=()
PIN_F=()
if [ "${AB_PIN:-1}" = 1 ]; then
	PIN_D=(taskset -c 0)
	PIN_F=(taskset -c 1)
fi
[ -e "$ENGINE" ] || { echo "ab: $ENGINE missing (make fio-engine)" >&2; exit 1; }
HZ=$(getconf CLK_TCK)
WORK=$(mktemp -d /tmp/vus-ab.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

point() { # $1 binary, $2 qd, $3 extra fio options: prints IOPS
	local sock=$WORK/vus.sock pid iops before ticks
	rm -f "$sock"
	# shellcheck disable=SC2086
	"${PIN_D[@]}" "$1" --socket-path "$sock" --lun type=ram,size=1G ${AB_DAEMON_ARGS:-} \
		>"$WORK/daemon.log" 2>&1 &
	pid=$!
	for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
	if [ "${AB_PREFILL:-1}" = 1 ]; then
		timeout 300 "${PIN_F[@]}" fio --name=prefill --thread --ioengine=external:"$ENGINE" --lun=0 \
			--socket="$sock" --rw=write --bs=1M --iodepth=8 --size=1G --output-format=terse >/dev/null 2>&1
	fi
	before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	# shellcheck disable=SC2086 # $3: fio options, split into words
	iops=$(timeout $((RUNTIME + 60)) "${PIN_F[@]}" fio --name=ab --thread --ioengine=external:"$ENGINE" --lun=0 \
		--socket="$sock" --bs=4k --size=1G --norandommap --randrepeat=0 --rw=randread \
		--iodepth="$2" --time_based --runtime="$RUNTIME" $3 --output-format=json 2>/dev/null |
		python3 -c 'import json,sys; t=sys.stdin.read(); j=json.loads(t[t.index("{"):]); s=j["jobs"][0]; print(int(s["read"]["iops"] + s["write"]["iops"]))')
	# utime + stime of the whole daemon, in clock ticks (fields 14 and 15 of stat).
	ticks=$(($(awk '{print $14 + $15}' "/proc/$pid/stat") - before))
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	awk -v i="$iops" -v t="$ticks" -v hz="$HZ" -v r="$RUNTIME" \
		'BEGIN { printf "%d %.3f\n", i, t / hz * 1e6 / (i * r) }'
}

for run in $(seq "$RUNS"); do
	for qd in $QDS; do
		for side in A B; do
			bin=$A fio_args=${AB_FIO_ARGS_A:-}
			[ "$side" = B ] && bin=$B fio_args=${AB_FIO_ARGS_B:-}
			echo "$side qd$qd run$run $(point "$bin" "$qd" "$fio_args")"
		done
	done
done | tee "$WORK/points"
for qd in $QDS; do
	awk -v qd="qd$qd" '$2 == qd { s[$1] += $4; c[$1] += $5; n[$1]++ }
		END { a = s["A"] / n["A"]; b = s["B"] / n["B"]; ca = c["A"] / n["A"]; cb = c["B"] / n["B"];
		      printf "%s: IOPS A %.0f B %.0f B/A %.3f; CPU us/IO A %.3f B %.3f B/A %.3f\n",
		             qd, a, b, b / a, ca, cb, cb / ca }' "$WORK/points"
done
