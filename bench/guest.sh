#!/bin/bash
# The in-guest part of the benchmark: a TCG guest runs fio 4k randread at
# each QD against three backends serving the same RAM-backed disk:
#   ours      build/vhost-user-scsi, ram LUN, through vhost-user-scsi-pci
#   ours-irq  the same in interrupt mode (--poll-us 0)
#   qemu-scsi QEMU's built-in virtio-scsi-pci + scsi-hd, raw file in
#             /dev/shm, aio=io_uring, in an iothread
#   qsd-blk   qemu-storage-daemon's vhost-user-blk export of that file
# and records IOPS and the backend's CPU time per I/O. One boot per point.
#
#   bench/guest.sh OUTDIR          (called by bench/run.sh; writes OUTDIR/guest.csv)
#
# Environment: BENCH_GUEST_QDS [1 16], BENCH_GUEST_RUNTIME [20] seconds of
# fio per point, BENCH_RUNS [2], BENCH_GUEST_DISK [256M], BENCH_GUEST_BACKENDS
# [ours ours-irq qemu-scsi qsd-blk], BENCH_GUEST_PIN [1]; DAEMON
# [build/vhost-user-scsi].
#
# One CPU each, as in the VM-free points (BENCH_GUEST_PIN=1): the backend on
# CPU 0, QEMU (the guest's vCPU and QEMU's main loop) on CPU 1; for QEMU's
# own device the backend is its iothread, moved to CPU 0 once it exists.
# Unpinned, backend and QEMU share both CPUs and the figure depends on where
# the scheduler put them.
#
# The guest (1 vCPU, TCG) reuses the test guest of scripts/guest/ plus the
# guest half (bench/guest-fio.sh); the machinery is in bench/guest-lib.sh,
# shared with bench/remote.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=$1
QDS=${BENCH_GUEST_QDS:-1 16}
SECS=${BENCH_GUEST_RUNTIME:-20}
RUNS=${BENCH_RUNS:-2}
DISK=${BENCH_GUEST_DISK:-256M}
BACKENDS=${BENCH_GUEST_BACKENDS:-ours ours-irq qemu-scsi qsd-blk}
QEMU=${QEMU:-/usr/bin/qemu-system-x86_64}
QSD=${QSD:-/usr/bin/qemu-storage-daemon}
DAEMON=${DAEMON:-$ROOT/build/vhost-user-scsi}
ENGINE=$ROOT/build/fio-vhost-user-scsi.so
GDIR=$ROOT/build/guest
HZ=$(getconf CLK_TCK)
CSV=$OUT/guest.csv
CMDS=$OUT/commands.log

TAG=bench-guest
# shellcheck source=bench/guest-lib.sh
. "$ROOT/bench/guest-lib.sh"

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

PIN_BE=()
GB_QEMU_CPU=""
if [ "${BENCH_GUEST_PIN:-1}" = 1 ]; then
	PIN_BE=(taskset -c 0)
	GB_QEMU_CPU=1
fi
echo "pin=${BENCH_GUEST_PIN:-1}" >"$OUT/guest.env"

gb_make_initrd
dd if=/dev/zero of="$IMG" bs=1M count=$(($(numfmt --from=iec "$DISK") >> 20)) status=none

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

# QEMU's iothread ("IO io0") to the backend's CPU, once QEMU has started it.
pin_iothread() {
	local qpid t
	for _ in $(seq 200); do
		if qpid=$(pgrep -P "$QPID" | head -1); then
			for t in /proc/"$qpid"/task/*; do
				[ "$(cat "$t/comm" 2>/dev/null)" = "IO io0" ] || continue
				echo "taskset -pc 0 <tid of \"IO io0\">" >>"$CMDS"
				taskset -pc 0 "${t##*/}" >/dev/null || die "cannot pin QEMU's iothread"
				return 0
			done
		fi
		sleep 0.05
	done
	die "QEMU's iothread did not appear"
}

backend_ticks() { # $1 backend
	if [ "$1" = qemu-scsi ]; then qemu_block_ticks; else cpu_ticks "$BPID"; fi
}

[ -f "$CSV" ] || echo "backend,qd,run,iops,ios,lat_mean_us,cpu_s,cpu_us_per_io" >"$CSV"
point() { # $1 backend $2 qd $3 run
	local be=$1 qd=$2 run=$3 sock=$WORK/be.sock logf=$OUT/guest-$1-qd$2-run$3.log
	local res ticks
	rm -f "$sock"
	case $be in
	ours | ours-irq)
		local dargs=(--socket-path "$sock" --lun "type=ram,size=$DISK" --threads 1)
		[ "$be" = ours-irq ] && dargs+=(--poll-us 0)
		printf '%q ' "${PIN_BE[@]}" "$DAEMON" "${dargs[@]}" >>"$CMDS"
		echo >>"$CMDS"
		"${PIN_BE[@]}" "$DAEMON" "${dargs[@]}" >"$WORK/be.log" 2>&1 &
		BPID=$!
		for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
		# Written once so the guest reads real pages, as from the tmpfs file.
		fio --name=prefill --thread --ioengine=external:"$ENGINE" --lun=0 --socket="$sock" \
			--rw=write --bs=1M --iodepth=8 --size="$DISK" --output-format=terse >/dev/null 2>&1 ||
			die "prefill failed"
		boot scsi "$qd" randread "$logf" -chardev "socket,id=vus,path=$sock" \
			-device vhost-user-scsi-pci,chardev=vus,num_queues=1
		;;
	qsd-blk)
		# shellcheck disable=SC2054 # commas belong to QEMU's option syntax
		local qsd_args=(--blockdev "driver=file,node-name=f0,filename=$IMG,aio=io_uring"
			--blockdev driver=raw,node-name=r0,file=f0
			--export "type=vhost-user-blk,id=e0,node-name=r0,addr.type=unix,addr.path=$sock,writable=on,num-queues=1")
		printf '%q ' "${PIN_BE[@]}" "$QSD" "${qsd_args[@]}" >>"$CMDS"
		echo >>"$CMDS"
		"${PIN_BE[@]}" "$QSD" "${qsd_args[@]}" >"$WORK/be.log" 2>&1 &
		BPID=$!
		for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
		boot blk "$qd" randread "$logf" -chardev "socket,id=blk,path=$sock" \
			-device vhost-user-blk-pci,chardev=blk,num-queues=1
		;;
	qemu-scsi)
		boot scsi "$qd" randread "$logf" -object iothread,id=io0 \
			-device virtio-scsi-pci,id=scsi0,iothread=io0,num_queues=1 \
			-drive "if=none,id=d0,file=$IMG,format=raw,aio=io_uring" \
			-device scsi-hd,drive=d0,bus=scsi0.0,lun=0
		[ "${#PIN_BE[@]}" = 0 ] || pin_iothread
		;;
	esac
	# CPU over fio's run only: boot, probing and shutdown are left out.
	gb_measure "$logf" backend_ticks "$be"
	ticks=$GB_DELTA
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
		for be in $BACKENDS; do
			point "$be" "$qd" "$run"
		done
	done
done
