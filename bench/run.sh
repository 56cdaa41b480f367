#!/bin/bash
# VM-free benchmark of the daemon through the fio external engine, against
# QEMU's contrib/vhost-user-scsi + tgt, then docs/benchmarks.md (bench/report.py).
#
#   bench/run.sh                      the full run: 30 s per point, 2 runs
#   BENCH_RUNTIME=3 BENCH_RUNS=1 BENCH_LABEL=quick bench/run.sh    (bench-quick)
#
# Environment (defaults in brackets):
#   BENCH_RUNTIME [30]  seconds per point      BENCH_RUNS [2]  passes over all points
#   BENCH_QDS [1 32 128]  iodepth per queue    BENCH_RWS [randread randwrite]
#   BENCH_LUN_SIZE [1G]  ram/null LUN and tgt image size
#   BENCH_OUT [build/bench/results]  raw results   BENCH_LABEL [full]
#   BENCH_DOC [docs/benchmarks.md]  BENCH_CONTRIB [1]  0 skips contrib + tgt
#   BENCH_MALLOC_IOS [200000]  requests in the malloc-count difference run
#   BENCH_SCALING [1]  0 skips bench/scaling.sh (thread scaling, daemon-bound)
#   BENCH_GUEST [1]  0 skips the TCG guest part (bench/guest.sh, which has its
#                    own BENCH_GUEST_* settings)
#   BENCH_LARGE [1]  0 skips bench/large.sh (64 KiB-1 MiB sequential against
#                    the copy floor)
#   BENCH_PIN [1]  the backend on CPU 0, fio on CPU 1 (taskset): on 2 CPUs
#                  where the scheduler puts them changes a result by up to 2x
#   BENCH_SPDK []  an SPDK source tree with build/bin/vhost built in it (not
#                  part of this project; docs/benchmarks.md says how): its
#                  vhost-scsi with a Malloc bdev of BENCH_LUN_SIZE is then
#                  measured at every point beside our ram LUN, on CPU 0. It
#                  needs 2 MiB huge pages (reserved here, given back after).
#
# The passes are alternated (pass 1 of every point, then pass 2) so a slow
# drift of the machine hits every configuration alike instead of one of them.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

RUNTIME=${BENCH_RUNTIME:-30}
RUNS=${BENCH_RUNS:-2}
QDS=${BENCH_QDS:-1 32 128}
RWS=${BENCH_RWS:-randread randwrite}
LUN_SIZE=${BENCH_LUN_SIZE:-1G}
OUT=${BENCH_OUT:-$ROOT/build/bench/results}
LABEL=${BENCH_LABEL:-full}
DOC=${BENCH_DOC:-$ROOT/docs/benchmarks.md}
WITH_CONTRIB=${BENCH_CONTRIB:-1}
MALLOC_IOS=${BENCH_MALLOC_IOS:-200000}
SPDK=${BENCH_SPDK:-}

DAEMON=$ROOT/build/vhost-user-scsi
CTL=$ROOT/build/vhost-user-scsi-ctl
ENGINE=$ROOT/build/fio-vhost-user-scsi.so
CONTRIB=$ROOT/build/bench/contrib/vhost-user-scsi
MCOUNT=$ROOT/build/bench/malloc_count.so
HZ=$(getconf CLK_TCK)
PIN_BACKEND=()
PIN_FIO=()
if [ "${BENCH_PIN:-1}" != 0 ] && [ "$(nproc)" -ge 2 ]; then
	PIN_BACKEND=(taskset -c 0)
	PIN_FIO=(taskset -c 1)
fi
# A private tgt instance: its own control socket number and portal port, so a
# system tgt (or another engineer's) is neither used nor disturbed.
TGT_CTL=${BENCH_TGT_CONTROL_PORT:-7}
TGT_PORT=${BENCH_TGT_PORT:-13260}
TGT_IQN=iqn.2026-01.invalid.vus-bench:ram
TGT_IMG=/dev/shm/vus-bench-tgt.$$.img

log() { echo "[bench] $*" >&2; }
die() {
	echo "[bench] error: $*" >&2
	exit 1
}

for f in "$DAEMON" "$CTL" "$ENGINE" "$MCOUNT"; do
	[ -e "$f" ] || die "$f missing (make bench builds it)"
done
[ "$WITH_CONTRIB" = 0 ] || [ -x "$CONTRIB" ] || die "$CONTRIB missing (bench/contrib.sh)"
if [ -n "$SPDK" ]; then
	[ -x "$SPDK/build/bin/vhost" ] || die "BENCH_SPDK=$SPDK: no build/bin/vhost in it"
	[ -e "$SPDK/scripts/rpc.py" ] || die "BENCH_SPDK=$SPDK: no scripts/rpc.py in it"
fi

rm -rf "$OUT"
mkdir -p "$OUT/fio"
WORK=$(mktemp -d /tmp/vus-bench.XXXXXX)
CSV=$OUT/results.csv
CMDS=$OUT/commands.log
echo "impl,lun,queues,threads,rw,qd,run,iops,lat_mean_us,lat_p99_us,cpu_s,ios,cpu_us_per_io,rss_kb,lun_data_kb,guest_kb" >"$CSV"
: >"$CMDS"

bg_pids=()
TGTD_PID=""
SPDK_PID=""
HUGEPAGES=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
HUGEPAGES_BEFORE=""
cleanup() {
	local p live
	if [ -n "$SPDK_PID" ]; then
		# A stopped process does not act on SIGTERM until it runs again.
		kill -CONT "$SPDK_PID" 2>/dev/null || true
	fi
	# Only children the shell still knows: an exited one's pid may be reused.
	live=" $(jobs -p | tr '\n' ' ') "
	for p in "${bg_pids[@]}"; do
		case $live in *" $p "*) ;; *) continue ;; esac
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ -n "$TGTD_PID" ]; then
		# tgtd ignores SIGTERM; it leaves on "delete system" once it has no target.
		tgtadm -C "$TGT_CTL" --lld iscsi --op delete --mode target --tid 1 --force >/dev/null 2>&1 || true
		if ! tgtadm -C "$TGT_CTL" --op delete --mode system >/dev/null 2>&1; then
			kill -KILL "$TGTD_PID" 2>/dev/null || true
		fi
		wait "$TGTD_PID" 2>/dev/null || true
	fi
	rm -f "$TGT_IMG"
	[ -z "$HUGEPAGES_BEFORE" ] || echo "$HUGEPAGES_BEFORE" >"$HUGEPAGES" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Run a command in the background, logged verbatim to commands.log.
spawn() {
	local outfile=$1
	shift
	printf '%q ' "$@" >>"$CMDS"
	echo >>"$CMDS"
	"$@" >"$outfile" 2>&1 &
	SPAWNED=$!
}

wait_socket() {
	for _ in $(seq 200); do
		[ -S "$1" ] && return 0
		sleep 0.05
	done
	die "no socket at $1"
}

# utime + stime of a process (all its threads), in clock ticks.
cpu_ticks() {
	local f
	read -r -a f <"/proc/$1/stat" || return 1
	# The comm field (2) has no spaces for these daemons, so indexes are fixed.
	echo $((f[13] + f[14]))
}

# "rss_kb lun_data_kb guest_kb" from smaps. Guest memory is what the frontend
# shared with us (memfd mappings); the RAM disk's data is the one anonymous
# mapping exactly the size of the LUN. Both are reported apart, and rss_kb
# excludes guest memory only.
rss_of() {
	python3 - "$1" "$2" <<'EOF'
import re, sys
pid, lunbytes = sys.argv[1], int(sys.argv[2])
rss = data = guest = 0
is_guest = is_data = False
with open(f"/proc/{pid}/smaps") as f:
    for line in f:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$", line)
        if m:
            name = m.group(3).strip()
            is_guest = name.startswith("/memfd:")
            is_data = name == "" and int(m.group(2), 16) - int(m.group(1), 16) == lunbytes
        elif line.startswith("Rss:"):
            kb = int(line.split()[1])
            if is_guest:
                guest += kb
            else:
                rss += kb
            if is_data:
                data += kb
print(rss, data, guest)
EOF
}

size_bytes() {
	numfmt --from=iec "$1"
}
LUN_BYTES=$(size_bytes "$LUN_SIZE")

fio_common=(--thread --ioengine=external:"$ENGINE" --lun=0 --bs=4k --size="$LUN_SIZE"
	--norandommap --randrepeat=0 --group_reporting --lat_percentiles=1
	--percentile_list=50:99:99.9 --output-format=json)

# One measured point. $1 impl, $2 lun, $3 queues, $4 threads, $5 rw, $6 qd,
# $7 run, $8 socket, $9 pid(s) whose CPU is the backend's (comma-separated),
# ${10} pid whose RSS is reported, ${11} (optional) a bench/cpuwrap.py pid
# and ${12} its output file: that CPU time is added once the wrapper exits.
point() {
	local impl=$1 lun=$2 q=$3 t=$4 rw=$5 qd=$6 run=$7 sock=$8 pids=$9 rsspid=${10}
	local wrap=${11:-} wrapout=${12:-} extra=0
	local tag=$impl-$lun-${q}q${t}t-$rw-qd$qd-run$run
	local json=$OUT/fio/$tag.json
	local before=0 after=0 p rss fpid
	for p in ${pids//,/ }; do
		before=$((before + $(cpu_ticks "$p")))
	done
	spawn "$json" timeout $((RUNTIME + 60)) "${PIN_FIO[@]}" fio --name="$tag" "${fio_common[@]}" --socket="$sock" \
		--rw="$rw" --iodepth="$qd" --numjobs="$q" --time_based --runtime="$RUNTIME"
	fpid=$SPAWNED
	# RSS in the middle of the run, when every queue is busy.
	sleep "$(awk -v r="$RUNTIME" 'BEGIN { print (r / 2 > 0.5 ? r / 2 : 0.5) }')"
	rss=$(rss_of "$rsspid" "$LUN_BYTES" 2>/dev/null || echo "0 0 0")
	wait "$fpid" || die "fio failed for $tag: $(tail -5 "$json")"
	for p in ${pids//,/ }; do
		after=$((after + $(cpu_ticks "$p")))
	done
	if [ -n "$wrap" ]; then
		wait "$wrap" 2>/dev/null || true
		extra=$(awk -v s="$(cat "$wrapout")" -v hz="$HZ" 'BEGIN { printf "%d", s * hz + 0.5 }')
	fi
	python3 - "$json" "$rw" "$HZ" "$((after - before + extra))" "$rss" \
		"$impl,$lun,$q,$t,$rw,$qd,$run" >>"$CSV" <<'EOF'
import json, sys
path, rw, hz, ticks, rss, key = sys.argv[1:]
with open(path) as f:
    text = f.read()
j = json.loads(text[text.index("{"):])  # fio may print notes before the JSON
s = j["jobs"][0]["read" if rw.endswith("read") else "write"]
lat = s["lat_ns"]
p99 = lat.get("percentile", {}).get("99.000000", 0)
ios = s["total_ios"]
cpu = int(ticks) / int(hz)
r, d, g = rss.split()
print(f"{key},{s['iops']:.0f},{lat['mean']/1000:.2f},{p99/1000:.2f},{cpu:.2f},{ios},"
      f"{cpu * 1e6 / ios if ios else 0:.3f},{r},{d},{g}")
EOF
	log "$(tail -1 "$CSV")"
}

start_ours() { # $1 lun type, $2 threads, $3 socket, $4 --poll-us, [extra env via env(1) args]
	local lun=$1 t=$2 sock=$3 poll=$4
	shift 4
	rm -f "$sock"
	spawn "$WORK/$(basename "$sock" .sock).log" "${PIN_BACKEND[@]}" "$@" "$DAEMON" --socket-path "$sock" --lun type="$lun",size="$LUN_SIZE" --threads "$t" \
		--poll-us "$poll" ${DAEMON_RPC:+--rpc-socket "$DAEMON_RPC"}
	DPID=$SPAWNED
	bg_pids+=("$DPID")
	wait_socket "$sock"
}

# Forgotten at once: a pid left in bg_pids could be reused by an unrelated
# process by the time cleanup runs.
forget_pid() {
	local p keep=()
	for p in "${bg_pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	bg_pids=("${keep[@]}")
}

stop_pid() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	forget_pid "$1"
}

# The RAM disk and tgt's image are written once before reads, so reads touch
# real pages rather than the kernel's shared zero page.
prefill() {
	timeout 300 "${PIN_FIO[@]}" fio --name=prefill --thread --ioengine=external:"$ENGINE" --lun=0 --socket="$1" \
		--rw=write --bs=1M --iodepth=8 --size="$LUN_SIZE" --output-format=terse >"$WORK/prefill.out" 2>&1 ||
		die "prefill failed: $(tail -3 "$WORK/prefill.out")"
}

start_tgt() {
	dd if=/dev/zero of="$TGT_IMG" bs=1M count=$((LUN_BYTES >> 20)) status=none
	spawn "$OUT/tgtd.log" "${PIN_BACKEND[@]}" tgtd -f -C "$TGT_CTL" --iscsi portal=127.0.0.1:"$TGT_PORT"
	TGTD_PID=$SPAWNED
	local T=(tgtadm -C "$TGT_CTL" --lld iscsi)
	for _ in $(seq 100); do
		"${T[@]}" --op show --mode target >/dev/null 2>&1 && break
		sleep 0.05
	done
	# LUN 0 is tgt's controller; the data LUN is 1 (contrib is built for it).
	"${T[@]}" --op new --mode target --tid 1 -T "$TGT_IQN"
	"${T[@]}" --op new --mode logicalunit --tid 1 --lun 1 -b "$TGT_IMG"
	"${T[@]}" --op bind --mode target --tid 1 -I 127.0.0.1
	printf '%s\n' "${T[*]} --op new --mode target --tid 1 -T $TGT_IQN" \
		"${T[*]} --op new --mode logicalunit --tid 1 --lun 1 -b $TGT_IMG" \
		"${T[*]} --op bind --mode target --tid 1 -I 127.0.0.1" >>"$CMDS"
}

# SPDK's vhost-scsi: one controller, target 0 a Malloc bdev of the LUN's size.
# Its reactor busy-polls CPU 0 (-m 0x1) whenever it runs, so it is kept
# stopped (SIGSTOP) except for its own points: it would otherwise take the CPU
# our daemon is measured on.
spdk_rpc() {
	printf '%q ' /usr/bin/python3 "$SPDK/scripts/rpc.py" -s "$WORK/spdk.rpc" "$@" >>"$CMDS"
	echo >>"$CMDS"
	/usr/bin/python3 "$SPDK/scripts/rpc.py" -s "$WORK/spdk.rpc" "$@" >/dev/null ||
		die "SPDK rpc $1 failed (see $OUT/spdk.log)"
}
start_spdk() {
	local mib=$((LUN_BYTES >> 20)) pages
	# The bdev's memory plus what SPDK's own pools take (768 MiB, as measured).
	pages=$(((mib + 768) / 2))
	HUGEPAGES_BEFORE=$(cat "$HUGEPAGES")
	[ "$HUGEPAGES_BEFORE" -ge "$pages" ] || echo "$pages" >"$HUGEPAGES"
	[ "$(cat "$HUGEPAGES")" -ge "$pages" ] || die "could not reserve $pages huge pages of 2 MiB for SPDK"
	mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages
	mkdir -p "$WORK/spdk"
	spawn "$OUT/spdk.log" "$SPDK/build/bin/vhost" -u -m 0x1 -s $((mib + 768)) -S "$WORK/spdk" -r "$WORK/spdk.rpc"
	SPDK_PID=$SPAWNED
	bg_pids+=("$SPDK_PID")
	wait_socket "$WORK/spdk.rpc"
	spdk_rpc bdev_malloc_create -b Malloc0 "$mib" 512
	spdk_rpc vhost_create_scsi_controller vhost.0
	spdk_rpc vhost_scsi_controller_add_target vhost.0 0 Malloc0
	wait_socket "$WORK/spdk/vhost.0"
	prefill "$WORK/spdk/vhost.0"
	kill -STOP "$SPDK_PID"
}

# ---------------------------------------------------------------------------
{
	echo "label=$LABEL"
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "runtime=$RUNTIME"
	echo "runs=$RUNS"
	echo "qds=$QDS"
	echo "lun_size=$LUN_SIZE"
	echo "kernel=$(uname -r)"
	echo "cpus=$(nproc)"
	echo "cpu_model=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "fio=$(fio --version)"
	echo "gcc=$(gcc -dumpfullversion)"
	echo "tgt=$(dpkg-query -W -f='${Version}' tgt 2>/dev/null || echo none)"
	echo "libiscsi=$(dpkg-query -W -f='${Version}' libiscsi7 2>/dev/null || echo none)"
	echo "commit=$(git rev-parse --short HEAD 2>/dev/null || echo none)"
	echo "dirty_files=$(git status --porcelain 2>/dev/null | wc -l)"
	echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "pinned=$([ ${#PIN_FIO[@]} -gt 0 ] && echo 1 || echo 0)"
	if [ -n "$SPDK" ]; then
		echo "spdk=$(git -C "$SPDK" describe --tags 2>/dev/null || echo unknown)"
		echo "spdk_local_changes=$(git -C "$SPDK" diff --stat 2>/dev/null | tail -1 | sed 's/^ *//')"
		echo "dpdk=$(pkg-config --modversion libdpdk 2>/dev/null || echo unknown)"
	fi
} >"$OUT/meta.env"

if [ "$WITH_CONTRIB" != 0 ]; then
	start_tgt
fi

# What a RAM LUN's 4 KiB read cannot go below on this machine: the copy alone.
"$ROOT/build/bench/copy_floor" "$(($(size_bytes "$LUN_SIZE") >> 20))" >"$OUT/copy_floor.txt"
cat "$OUT/copy_floor.txt" >&2

# lun queues threads, at the daemon's default --poll-us 32. One worker
# thread each: the backend has one CPU here; what a second thread does with a
# CPU of its own is bench/scaling.sh's.
#
# Every configuration has its own daemon, all started at once (one not being
# measured sleeps: a worker finding no work stops polling within its window),
# and each point is taken for all of them back to back, in reverse order
# every other pass: this machine's throughput drifts by a quarter over
# minutes, and ram against null must be compared within seconds, not between
# points minutes apart. Interrupt mode ("ours-irq") is the first daemon
# switched to --poll-us 0 at run time (worker_set_poll) and back, so polling
# and interrupt mode also share the disk's memory: two RAM disks of the same
# size can differ by a quarter in copy speed here (where the host put them).
CONFIGS=("ram 1 1" "ram 2 1" "null 1 1")
declare -a CFG_PID CFG_SOCK
for i in "${!CONFIGS[@]}"; do
	read -r lun q t <<<"${CONFIGS[$i]}"
	CFG_SOCK[i]=$WORK/vus$i.sock
	DAEMON_RPC=""
	[ "$i" != 0 ] || DAEMON_RPC=$WORK/rpc0.sock
	start_ours "$lun" "$t" "${CFG_SOCK[i]}" 32
	CFG_PID[i]=$DPID
	[ "$lun" != ram ] || prefill "${CFG_SOCK[i]}"
done
DAEMON_RPC=""
[ -z "$SPDK" ] || start_spdk
set_poll() { # $1 --poll-us for the first configuration's daemon
	printf '%q ' "$CTL" -s "$WORK/rpc0.sock" worker set-poll poll-us="$1" >>"$CMDS"
	echo >>"$CMDS"
	"$CTL" -s "$WORK/rpc0.sock" worker set-poll poll-us="$1" || die "worker set-poll $1 failed"
}
# The measured configurations of one point: "i" or "i irq", in order.
SLOTS=("0 poll" "0 irq" "1 poll" "2 poll")
[ -z "$SPDK" ] || SLOTS+=("spdk")
sock=$WORK/vus.sock
for run in $(seq "$RUNS"); do
	order=("${!SLOTS[@]}")
	if [ $((run % 2)) = 0 ]; then
		order=()
		for ((i = ${#SLOTS[@]} - 1; i >= 0; i--)); do order+=("$i"); done
	fi
	for rw in $RWS; do
		for qd in $QDS; do
			for k in "${order[@]}"; do
				read -r i mode <<<"${SLOTS[$k]}"
				if [ "$i" = spdk ]; then
					kill -CONT "$SPDK_PID"
					point spdk ram 1 1 "$rw" "$qd" "$run" "$WORK/spdk/vhost.0" "$SPDK_PID" "$SPDK_PID"
					kill -STOP "$SPDK_PID"
					continue
				fi
				read -r lun q t <<<"${CONFIGS[$i]}"
				impl=ours
				if [ "$mode" = irq ]; then
					impl=ours-irq
					set_poll 0
				fi
				point "$impl" "$lun" "$q" "$t" "$rw" "$qd" "$run" "${CFG_SOCK[i]}" "${CFG_PID[i]}" "${CFG_PID[i]}"
				[ "$mode" != irq ] || set_poll 32
			done
		done
	done
	if [ "$WITH_CONTRIB" != 0 ]; then
		for rw in $RWS; do
			for qd in $QDS; do
				# The sample serves one connection and exits when it closes.
				rm -f "$sock"
				rm -f "$WORK/contrib.cpu"
				spawn "$WORK/contrib.log" "${PIN_BACKEND[@]}" "$ROOT/bench/cpuwrap.py" "$WORK/contrib.cpu" "$CONTRIB" \
					-s "$sock" -i "iscsi://127.0.0.1:$TGT_PORT/$TGT_IQN/1"
				wpid=$SPAWNED
				bg_pids+=("$wpid")
				wait_socket "$sock"
				cpid=$(pgrep -P "$wpid" | head -1)
				# point() reaps the wrapper: the sample exits with its frontend.
				point contrib ram 1 1 "$rw" "$qd" "$run" "$sock" "$TGTD_PID" "$cpid" "$wpid" "$WORK/contrib.cpu"
				forget_pid "$wpid"
			done
		done
	fi
done

for i in "${!CONFIGS[@]}"; do
	stop_pid "${CFG_PID[i]}"
done
if [ -n "$SPDK_PID" ]; then
	kill -CONT "$SPDK_PID"
	stop_pid "$SPDK_PID"
	SPDK_PID=""
fi

# RSS target: one controller, 4 queues (null LUN, so the figure is the
# daemon's own footprint and not the disk's contents).
start_ours null 2 "$sock" 32
point ours-rss null 4 2 randread 32 1 "$sock" "$DPID" "$DPID"
grep -E '^(VmRSS|VmHWM|Threads)' "/proc/$DPID/status" >"$OUT/rss4q-status.txt" || true
stop_pid "$DPID"

# Allocations per request: two runs of different lengths on one daemon; the
# connection set-up costs the same in both, so the difference divided by the
# difference in requests is what each request costs.
mfile=$WORK/malloc.count
start_ours ram 2 "$sock" 32 env LD_PRELOAD="$MCOUNT" VUS_MALLOC_COUNT_FILE="$mfile"
prefill "$sock"
counts() { od -An -t u8 -w40 "$mfile" | awk '{ print $1, $2, $3, $4, $5 }'; }
{
	# number_ios is per job: 2 jobs x (randread + randwrite) per length.
	echo "requests_per_io_count=4"
	echo "ios_short=$((MALLOC_IOS / 10))"
	echo "ios_long=$((MALLOC_IOS / 10 + MALLOC_IOS))"
	echo "after_setup=$(counts)"
	for n in $((MALLOC_IOS / 10)) $((MALLOC_IOS / 10 + MALLOC_IOS)); do
		for rw in randread randwrite; do
			printf '%q ' fio --name=malloc "${fio_common[@]}" --socket="$sock" --rw="$rw" \
				--iodepth=32 --numjobs=2 --number_ios="$n" >>"$CMDS"
			echo >>"$CMDS"
			fio --name=malloc "${fio_common[@]}" --socket="$sock" --rw="$rw" --iodepth=32 \
				--numjobs=2 --number_ios="$n" >"$WORK/malloc-$n-$rw.json" 2>&1 ||
				die "fio failed in the malloc run"
		done
		echo "after_$n=$(counts)"
	done
} >"$OUT/malloc.txt"
stop_pid "$DPID"
cat "$OUT/malloc.txt" >&2

if [ "${BENCH_SCALING:-1}" != 0 ]; then
	BENCH_RUNTIME=$RUNTIME BENCH_RUNS=$RUNS BENCH_LUN_SIZE=$LUN_SIZE "$ROOT/bench/scaling.sh" "$OUT"
fi

if [ "${BENCH_LARGE:-1}" != 0 ]; then
	BENCH_RUNTIME=$RUNTIME BENCH_RUNS=$RUNS BENCH_LUN_SIZE=$LUN_SIZE "$ROOT/bench/large.sh" "$OUT"
fi

if [ "${BENCH_GUEST:-1}" != 0 ]; then
	echo "guest_runtime=${BENCH_GUEST_RUNTIME:-20}" >>"$OUT/meta.env"
	BENCH_RUNS=$RUNS "$ROOT/bench/guest.sh" "$OUT"
fi

echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.env"
log "results in $OUT; writing $DOC"
python3 "$ROOT/bench/report.py" "$OUT" "$DOC"
