#!/bin/bash
# The in-guest part of the benchmark: a TCG guest runs fio 4k randread at
# each QD against three backends serving the same RAM-backed disk:
#   ours      build/vhost-user-scsi, ram LUN, through vhost-user-scsi-pci
#   qemu-scsi QEMU's built-in virtio-scsi-pci + scsi-hd, raw file in
#             /dev/shm, aio=io_uring, in an iothread
#   qsd-blk   qemu-storage-daemon's vhost-user-blk export of that file
# and records IOPS and the backend's CPU time per I/O. One boot per point.
#
#   bench/guest.sh OUTDIR          (called by bench/run.sh; writes OUTDIR/guest.csv)
#
# Environment: BENCH_GUEST_QDS [1 16], BENCH_GUEST_RUNTIME [20] seconds of
# fio per point, BENCH_RUNS [2], BENCH_GUEST_DISK [256M].
#
# The guest (1 vCPU, TCG) reuses the test guest of scripts/guest/ (kernel,
# initramfs with fio) plus a small cpio appended to it with the guest half
# (bench/guest-fio.sh) and virtio_blk, so nothing of scripts/guest changes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=$1
QDS=${BENCH_GUEST_QDS:-1 16}
SECS=${BENCH_GUEST_RUNTIME:-20}
RUNS=${BENCH_RUNS:-2}
DISK=${BENCH_GUEST_DISK:-256M}
QEMU=${QEMU:-/usr/bin/qemu-system-x86_64}
QSD=${QSD:-/usr/bin/qemu-storage-daemon}
DAEMON=$ROOT/build/vhost-user-scsi
ENGINE=$ROOT/build/fio-vhost-user-scsi.so
GDIR=$ROOT/build/guest
HZ=$(getconf CLK_TCK)
CSV=$OUT/guest.csv
CMDS=$OUT/commands.log

log() { echo "[bench-guest] $*" >&2; }
die() {
	echo "[bench-guest] error: $*" >&2
	exit 1
}

"$ROOT/scripts/guest/build-guest.sh" >&2 || die "scripts/guest/build-guest.sh failed"
WORK=$(mktemp -d /tmp/vus-bench-guest.XXXXXX)
IMG=/dev/shm/vus-bench-guest.$$.img
BPID=""
cleanup() {
	if [ -n "$BPID" ]; then
		kill "$BPID" 2>/dev/null || true
		wait "$BPID" 2>/dev/null || true
	fi
	rm -f "$IMG"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Later cpio members replace earlier ones, so load.order can grow by one.
stage=$WORK/stage
mkdir -p "$stage/tests" "$stage/lib/modules"
cp bench/guest-fio.sh "$stage/tests/bench-guest.sh"
vblk=$(find "$GDIR"/kernel-*/lib/modules -name virtio_blk.ko | head -1)
[ -n "$vblk" ] || die "no virtio_blk.ko under $GDIR"
cp "$vblk" "$stage/lib/modules/"
{
	cat "$GDIR/initramfs.root/lib/modules/load.order"
	echo virtio_blk.ko
} >"$stage/lib/modules/load.order"
INITRD=$WORK/initramfs.cpio
(cd "$stage" && find . -mindepth 1 | cpio -o -H newc --quiet) >"$WORK/extra.cpio"
cat "$GDIR/initramfs.cpio" "$WORK/extra.cpio" >"$INITRD"

MEM=512M
dd if=/dev/zero of="$IMG" bs=1M count=$(($(numfmt --from=iec "$DISK") >> 20)) status=none

cpu_ticks() {
	local f
	read -r -a f <"/proc/$1/stat" || return 1
	echo $((f[13] + f[14]))
}

# QEMU's own process also runs the guest (TCG), so only its block threads
# count: the iothread ("IO io0") and the thread pool ("worker").
qemu_block_ticks() {
	local qpid t comm f sum=0
	# $QPID is timeout(1); QEMU is its child.
	qpid=$(pgrep -P "$QPID" | head -1) || return 1
	for t in /proc/"$qpid"/task/*; do
		comm=$(cat "$t/comm" 2>/dev/null) || continue
		case $comm in
		"IO io0" | worker)
			read -r -a f <<<"$(sed 's/^.*) //' "$t/stat" 2>/dev/null)" || continue
			# After the comm: state is field 0, utime 11, stime 12.
			sum=$((sum + f[11] + f[12]))
			;;
		esac
	done
	echo "$sum"
}

backend_ticks() { # $1 backend
	if [ "$1" = qemu-scsi ]; then qemu_block_ticks; else cpu_ticks "$BPID"; fi
}

# Waits until the serial log has a line starting with $2 (or QEMU is gone).
wait_marker() {
	while kill -0 "$QPID" 2>/dev/null; do
		[ -f "$1" ] && tr -d '\r' <"$1" | grep -aq "^$2" && return 0
		sleep 0.05
	done
	tr -d '\r' <"$1" | grep -aq "^$2"
}

boot() { # $1 kind (scsi|blk), $2 qd, $3 log, qemu device args...
	local kind=$1 qd=$2 logf=$3
	shift 3
	local cmdline="console=ttyS0 panic=-1 quiet loglevel=4 i8042.noaux i8042.nokbd"
	cmdline="$cmdline vus.test=bench-guest vus.timeout=$((SECS + 100)) vus.args=$kind,$qd,$SECS"
	# shellcheck disable=SC2054 # commas belong to QEMU's option syntax
	local args=(-accel tcg -machine pc -cpu max -smp 1 -m "$MEM"
		-object "memory-backend-memfd,id=mem,size=$MEM,share=on" -numa node,memdev=mem
		-kernel "$GDIR/vmlinux" -initrd "$INITRD" -append "$cmdline"
		-nodefaults -no-user-config -display none -serial "file:$logf" -no-reboot
		-name bench,debug-threads=on "$@")
	printf '%q ' "$QEMU" "${args[@]}" >>"$CMDS"
	echo >>"$CMDS"
	timeout --kill-after=5 $((SECS + 150)) "$QEMU" "${args[@]}" </dev/null >"$logf.qemu" 2>&1 &
	QPID=$!
}

# "iops ios lat_mean_us" from the guest's VUS-BENCH line (fio terse v3:
# read KiB is field 6, IOPS 8, total latency mean 40).
parse_guest() {
	tr -d '\r' <"$1" | grep -a '^VUS-BENCH: 3;' | tail -1 | sed 's/^VUS-BENCH: //' |
		awk -F';' '{ printf "%d %d %.1f\n", $8, $6 / 4, $40 }'
}

[ -f "$CSV" ] || echo "backend,qd,run,iops,ios,lat_mean_us,cpu_s,cpu_us_per_io" >"$CSV"
point() { # $1 backend $2 qd $3 run
	local be=$1 qd=$2 run=$3 sock=$WORK/be.sock logf=$OUT/guest-$1-qd$2-run$3.log
	local before=0 after=0 res ticks
	rm -f "$sock"
	case $be in
	ours)
		printf '%q ' "$DAEMON" --socket-path "$sock" --lun "type=ram,size=$DISK" --threads 1 >>"$CMDS"
		echo >>"$CMDS"
		"$DAEMON" --socket-path "$sock" --lun "type=ram,size=$DISK" --threads 1 >"$WORK/be.log" 2>&1 &
		BPID=$!
		for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
		# Written once so the guest reads real pages, as from the tmpfs file.
		fio --name=prefill --thread --ioengine=external:"$ENGINE" --lun=0 --socket="$sock" \
			--rw=write --bs=1M --iodepth=8 --size="$DISK" --output-format=terse >/dev/null 2>&1 ||
			die "prefill failed"
		boot scsi "$qd" "$logf" -chardev "socket,id=vus,path=$sock" \
			-device vhost-user-scsi-pci,chardev=vus,num_queues=1
		;;
	qsd-blk)
		# shellcheck disable=SC2054 # commas belong to QEMU's option syntax
		local qsd_args=(--blockdev "driver=file,node-name=f0,filename=$IMG,aio=io_uring"
			--blockdev driver=raw,node-name=r0,file=f0
			--export "type=vhost-user-blk,id=e0,node-name=r0,addr.type=unix,addr.path=$sock,writable=on,num-queues=1")
		printf '%q ' "$QSD" "${qsd_args[@]}" >>"$CMDS"
		echo >>"$CMDS"
		"$QSD" "${qsd_args[@]}" >"$WORK/be.log" 2>&1 &
		BPID=$!
		for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
		boot blk "$qd" "$logf" -chardev "socket,id=blk,path=$sock" \
			-device vhost-user-blk-pci,chardev=blk,num-queues=1
		;;
	qemu-scsi)
		boot scsi "$qd" "$logf" -object iothread,id=io0 \
			-device virtio-scsi-pci,id=scsi0,iothread=io0,num_queues=1 \
			-drive "if=none,id=d0,file=$IMG,format=raw,aio=io_uring" \
			-device scsi-hd,drive=d0,bus=scsi0.0,lun=0
		;;
	esac
	# CPU over fio's run only: boot, probing and shutdown are left out.
	if wait_marker "$logf" VUS-BENCH-START; then
		before=$(backend_ticks "$be") || before=0
	fi
	if wait_marker "$logf" "VUS-BENCH: "; then
		after=$(backend_ticks "$be") || after=$before
	fi
	wait "$QPID" || log "$be qd$qd: qemu exit $? (log $logf)"
	ticks=$((after - before))
	if [ -n "$BPID" ]; then
		kill "$BPID" 2>/dev/null || true
		wait "$BPID" 2>/dev/null || true
		BPID=""
	fi
	res=$(parse_guest "$logf")
	[ -n "$res" ] || die "$be qd$qd: no result from the guest (log $logf)"
	read -r iops ios lat <<<"$res"
	awk -v be="$be" -v qd="$qd" -v run="$run" -v iops="$iops" -v ios="$ios" -v lat="$lat" \
		-v t="$ticks" -v hz="$HZ" 'BEGIN {
			cpu = t / hz
			printf "%s,%d,%d,%d,%d,%.1f,%.2f,%.2f\n", be, qd, run, iops, ios, lat, cpu,
				ios ? cpu * 1e6 / ios : 0 }' >>"$CSV"
	log "$(tail -1 "$CSV")"
}

for run in $(seq "$RUNS"); do
	for qd in $QDS; do
		for be in ours qemu-scsi qsd-blk; do
			point "$be" "$qd" "$run"
		done
	done
done
