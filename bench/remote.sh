#!/bin/bash
# Remote storage in a TCG guest: our daemon against qemu-storage-daemon, both
# clients of the same remote store, in the same run (issue 13):
#   ours  build/vhost-user-scsi, a type=iscsi / type=rbd LUN, through
#         vhost-user-scsi-pci
#   qsd   qemu-storage-daemon with QEMU's own iscsi / rbd block driver
#         (Debian's qemu-block-extra), exported as vhost-user-blk
# against
#   iscsi tgt on 127.0.0.1 (tests/remote/tgt.sh), LUN on a /dev/shm file
#   rbd   the single-node cluster of tests/remote/ceph-cluster.sh (one
#         bluestore OSD on a file under build/, loopback)
# The guest (bench/guest-lib.sh, bench/guest-fio.sh) runs fio 4 KiB randread
# and randwrite at each QD; the host reads the CPU ticks (/proc) of the
# backend process and, apart, of the target (tgtd, ceph-osd) over fio's run.
# One boot per point; 2 rounds, the second with the backends in reverse order.
#
#   bench/remote.sh            (make bench-remote) results in build/bench/remote,
#                              report in docs/benchmarks-remote.md
#
# Environment (defaults in brackets): BENCH_REMOTE_RUNTIME [20] seconds of
# fio per point, BENCH_RUNS [2], BENCH_REMOTE_QDS [1 32],
# BENCH_REMOTE_RWS [randread randwrite], BENCH_REMOTE_TARGETS [iscsi rbd],
# BENCH_REMOTE_DISK [256M] image size, BENCH_REMOTE_OUT [build/bench/remote],
# BENCH_REMOTE_DOC [docs/benchmarks-remote.md] (empty: no report),
# BENCH_REMOTE_TGT_PORT [13262] (tgt's portal and control port),
# BENCH_REMOTE_CEPH_PORT [6799] (the monitor; the tests use 6789).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECS=${BENCH_REMOTE_RUNTIME:-20}
RUNS=${BENCH_RUNS:-2}
QDS=${BENCH_REMOTE_QDS:-1 32}
RWS=${BENCH_REMOTE_RWS:-randread randwrite}
TARGETS=${BENCH_REMOTE_TARGETS:-iscsi rbd}
DISK=${BENCH_REMOTE_DISK:-256M}
OUT=${BENCH_REMOTE_OUT:-$ROOT/build/bench/remote}
DOC=${BENCH_REMOTE_DOC-$ROOT/docs/benchmarks-remote.md}
TGT_PORT=${BENCH_REMOTE_TGT_PORT:-13262}
export VUS_CEPH_PORT=${BENCH_REMOTE_CEPH_PORT:-6799}
QEMU=${QEMU:-/usr/bin/qemu-system-x86_64}
QSD=${QSD:-/usr/bin/qemu-storage-daemon}
DAEMON=$ROOT/build/vhost-user-scsi
GDIR=$ROOT/build/guest
HZ=$(getconf CLK_TCK)
export TGT_IQN=iqn.2026-01.invalid.vus-bench:remote
TGT=$ROOT/tests/remote/tgt.sh
CLUSTER=$ROOT/tests/remote/ceph-cluster.sh
CEPH_DIR=$ROOT/build/bench/ceph
export CEPH_CONF=$CEPH_DIR/ceph.conf
IMAGE=bench
DISK_MB=$(($(numfmt --from=iec "$DISK") >> 20))
TAG=bench-remote
# shellcheck source=bench/guest-lib.sh
. "$ROOT/bench/guest-lib.sh"

[ -x "$DAEMON" ] || die "$DAEMON missing (make bench-remote builds it)"
for t in $TARGETS; do
	case $t in
	iscsi) command -v tgtd >/dev/null || die "tgtd missing (scripts/install-deps.sh)" ;;
	rbd) command -v ceph-mon >/dev/null || die "ceph-mon missing (scripts/install-deps.sh)" ;;
	*) die "unknown target $t (iscsi, rbd)" ;;
	esac
	[ -e "/usr/lib/x86_64-linux-gnu/qemu/block-$t.so" ] ||
		die "QEMU's $t block driver missing: apt-get install qemu-block-extra (make bench-remote does)"
done

"$ROOT/scripts/guest/build-guest.sh" >&2 || die "scripts/guest/build-guest.sh failed"
WORK=$(mktemp -d /tmp/vus-bench-remote.XXXXXX)
TDIR=""
CEPH_UP=""
BPID=""
stop_backend() {
	[ -n "$BPID" ] || return 0
	# SIGTERM: both close the image cleanly (librbd releases its exclusive lock).
	kill "$BPID" 2>/dev/null || true
	wait "$BPID" 2>/dev/null || true
	BPID=""
}
cleanup() {
	stop_backend
	if [ -n "$TDIR" ]; then
		"$TGT" stop "$TDIR" >/dev/null 2>&1 || true
		rm -rf "$TDIR"
	fi
	[ -z "$CEPH_UP" ] || "$CLUSTER" stop "$CEPH_DIR" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$OUT"
mkdir -p "$OUT"
CSV=$OUT/remote.csv
CMDS=$OUT/commands.log
{
	echo "# make bench-remote: bench/remote.sh (BENCH_REMOTE_RUNTIME=$SECS BENCH_RUNS=$RUNS" \
		"BENCH_REMOTE_QDS='$QDS' BENCH_REMOTE_RWS='$RWS' BENCH_REMOTE_TARGETS='$TARGETS' BENCH_REMOTE_DISK=$DISK)"
} >"$CMDS"
echo "target,rw,qd,backend,run,iops,ios,lat_mean_us,be_cpu_s,be_cpu_us_per_io,tgt_cpu_s,tgt_cpu_us_per_io" >"$CSV"
{
	echo "host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	echo "host_cpus=$(nproc)"
	echo "host_mem=$(free -g | awk '/^Mem:/ { print $2 " GiB" }')"
	echo "host_kernel=$(uname -r)"
	echo "host_load=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "qemu=$("$QEMU" --version | head -1)"
	echo "qsd=$("$QSD" --version | head -1)"
	echo "tgt=$(dpkg-query -W -f='${Version}' tgt 2>/dev/null)"
	echo "ceph=$(dpkg-query -W -f='${Version}' ceph-osd 2>/dev/null)"
	echo "libiscsi=$(dpkg-query -W -f='${Version}' libiscsi7 2>/dev/null)"
	echo "guest_kernel=$(cat "$GDIR/kernel.version" 2>/dev/null)"
	echo "fio=$(fio --version 2>/dev/null)"
	echo "osd_disk=$(df --output=source "$ROOT/build" | tail -1)"
	echo "tree=$(git rev-parse --short HEAD 2>/dev/null) dirty=$(git status --porcelain 2>/dev/null | grep -c -v '^??' || true)"
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
} >"$OUT/machine.txt"
gb_make_initrd

# The target's store, written once before the first point so both backends
# read allocated, non-zero data (an RBD object never written is read as
# zeroes without touching the OSD's disk).
setup_target() { # $1 target
	case $1 in
	iscsi)
		TDIR=$(mktemp -d /dev/shm/vus-bench-tgt.XXXXXX)
		dd if=/dev/urandom of="$TDIR/lun.img" bs=1M count="$DISK_MB" status=none
		"$TGT" start "$TDIR" "$TGT_PORT" "$DISK_MB" || die "tgt did not start"
		TGT_PORT=$(cat "$TDIR/port") # tgt.sh moves on when the port is taken
		echo "$TGT start $TDIR $TGT_PORT $DISK_MB   # TGT_IQN=$TGT_IQN, LUN 1 on $TDIR/lun.img (/dev/shm)" >>"$CMDS"
		;;
	rbd)
		CEPH_UP=1
		"$CLUSTER" start "$CEPH_DIR" >/dev/null || die "the Ceph cluster did not start (logs in $CEPH_DIR/log)"
		rbd rm --no-progress "rbd/$IMAGE" >/dev/null 2>&1 || true
		rbd create --size "$DISK_MB" "rbd/$IMAGE" || die "rbd create"
		rbd bench --io-type write --io-size 4M --io-pattern seq --io-total "$DISK_MB"M "rbd/$IMAGE" >/dev/null ||
			die "rbd bench (prefill)"
		echo "VUS_CEPH_PORT=$VUS_CEPH_PORT $CLUSTER start $CEPH_DIR; rbd create --size $DISK_MB rbd/$IMAGE; rbd bench --io-type write ... (prefill)" >>"$CMDS"
		;;
	esac
}

teardown_target() { # $1 target
	case $1 in
	iscsi)
		"$TGT" stop "$TDIR" >/dev/null 2>&1 || true
		rm -rf "$TDIR"
		TDIR=""
		;;
	rbd)
		"$CLUSTER" stop "$CEPH_DIR" >/dev/null 2>&1 || true
		CEPH_UP=""
		;;
	esac
}

target_pid() { # $1 target
	case $1 in
	iscsi) cat "$TDIR/tgtd.pid" ;;
	rbd) cat "$CEPH_DIR/osd.pid" ;;
	esac
}

# "backend target" ticks, one reading.
ticks() { # $1 backend pid, $2 target pid
	echo "$(cpu_ticks "$1") $(cpu_ticks "$2")"
}

start_backend() { # $1 target, $2 backend, $3 socket; sets BPID, prints the QEMU device args
	local t=$1 be=$2 sock=$3 lun node
	local -a cmd
	if [ "$be" = ours ]; then
		case $t in
		iscsi) lun="type=iscsi,url=iscsi://127.0.0.1:$TGT_PORT/$TGT_IQN/1,lun=0" ;;
		rbd) lun="type=rbd,pool=rbd,image=$IMAGE,conf=$CEPH_CONF,lun=0" ;;
		esac
		cmd=("$DAEMON" --socket-path "$sock" --lun "$lun" --threads 1)
	else
		# QEMU's defaults otherwise: for rbd, cache.direct=off keeps librbd's
		# writeback cache on (rbd_cache=true), as librbd's default is for ours.
		case $t in
		iscsi) node="driver=iscsi,node-name=n0,transport=tcp,portal=127.0.0.1:$TGT_PORT,target=$TGT_IQN,lun=1" ;;
		rbd) node="driver=rbd,node-name=n0,pool=rbd,image=$IMAGE,conf=$CEPH_CONF" ;;
		esac
		cmd=("$QSD" --blockdev "$node"
			--export "type=vhost-user-blk,id=e0,node-name=n0,addr.type=unix,addr.path=$sock,writable=on,num-queues=1")
	fi
	printf '%q ' "${cmd[@]}" >>"$CMDS"
	echo >>"$CMDS"
	"${cmd[@]}" >"$OUT/$t-$be.log" 2>&1 &
	BPID=$!
	for _ in $(seq 600); do
		[ -S "$sock" ] && return 0
		kill -0 "$BPID" 2>/dev/null || break
		sleep 0.05
	done
	die "$be did not come up on $t (log $OUT/$t-$be.log)"
}

point() { # $1 target $2 rw $3 qd $4 backend $5 run
	local t=$1 rw=$2 qd=$3 be=$4 run=$5 sock=$WORK/be.sock res iops ios lat
	local logf=$OUT/$t-$rw-qd$qd-$be-run$run.log
	rm -f "$sock"
	start_backend "$t" "$be" "$sock"
	if [ "$be" = ours ]; then
		boot scsi "$qd" "$rw" "$logf" -chardev "socket,id=vus,path=$sock" \
			-device vhost-user-scsi-pci,chardev=vus,num_queues=1
	else
		boot blk "$qd" "$rw" "$logf" -chardev "socket,id=blk,path=$sock" \
			-device vhost-user-blk-pci,chardev=blk,num-queues=1
	fi
	gb_measure "$logf" ticks "$BPID" "$(target_pid "$t")"
	stop_backend
	res=$(parse_guest "$logf")
	[ -n "$res" ] || die "$t $rw qd$qd $be: no result from the guest (log $logf)"
	read -r iops ios lat <<<"$res"
	read -r bt tt <<<"$GB_DELTA"
	awk -v t="$t" -v rw="$rw" -v qd="$qd" -v be="$be" -v run="$run" -v iops="$iops" -v ios="$ios" \
		-v lat="$lat" -v bt="${bt:-0}" -v tt="${tt:-0}" -v hz="$HZ" 'BEGIN {
			b = bt / hz; g = tt / hz
			printf "%s,%s,%d,%s,%d,%d,%d,%.1f,%.2f,%.1f,%.2f,%.1f\n", t, rw, qd, be, run, iops, ios, lat,
				b, ios ? b * 1e6 / ios : 0, g, ios ? g * 1e6 / ios : 0 }' >>"$CSV"
	log "$(tail -1 "$CSV")"
}

n=0
for _ in $TARGETS; do for _ in $RWS; do for _ in $QDS; do n=$((n + 2 * RUNS)); done; done; done
log "$n points, ${SECS}s of fio each; results in $OUT"
t0=$(date +%s)
for t in $TARGETS; do
	setup_target "$t"
	for run in $(seq "$RUNS"); do
		# Odd rounds ours first, even rounds qsd first.
		order="ours qsd"
		[ $((run % 2)) = 0 ] && order="qsd ours"
		for rw in $RWS; do
			for qd in $QDS; do
				for be in $order; do
					point "$t" "$rw" "$qd" "$be" "$run"
				done
			done
		done
	done
	teardown_target "$t"
done
echo "host_load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
echo "wall_s=$(($(date +%s) - t0))" >>"$OUT/machine.txt"
if [ -n "$DOC" ]; then
	python3 bench/remote-report.py "$OUT" "$DOC"
	log "wrote $DOC"
fi
log "raw results: $CSV"
