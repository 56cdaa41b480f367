# shellcheck shell=bash
# Shared by the in-guest benchmarks (bench/guest.sh, bench/remote.sh), sourced
# after the caller has set:
#   ROOT GDIR QEMU   tree, guest image (scripts/guest/build-guest.sh), QEMU
#   WORK CMDS SECS   scratch directory, command log, fio seconds per point
#   TAG              prefix of log lines
# One TCG guest per point: 1 vCPU runs bench/guest-fio.sh, which prints
# VUS-BENCH-START before fio and fio's terse line after it, so the host can
# read CPU counters over fio's run alone (boot and probing left out).

log() { echo "[$TAG] $*" >&2; }
die() {
	echo "[$TAG] error: $*" >&2
	exit 1
}

# The test guest's initramfs plus a small cpio with the guest half and
# virtio_blk (later cpio members replace earlier ones, so load.order can grow
# by one), so nothing of scripts/guest changes.  Sets INITRD.
gb_make_initrd() {
	local stage=$WORK/stage vblk
	mkdir -p "$stage/tests" "$stage/lib/modules"
	cp "$ROOT/bench/guest-fio.sh" "$stage/tests/bench-guest.sh"
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
}

# utime + stime of a whole process, in clock ticks.
cpu_ticks() {
	local f
	read -r -a f <"/proc/$1/stat" 2>/dev/null || return 1
	echo $((f[13] + f[14]))
}

# Waits until the serial log has a line starting with $2 (or QEMU is gone).
wait_marker() {
	while kill -0 "$QPID" 2>/dev/null; do
		[ -f "$1" ] && tr -d '\r' <"$1" | grep -aq "^$2" && return 0
		sleep 0.05
	done
	tr -d '\r' <"$1" | grep -aq "^$2"
}

# Starts the guest in the background (QPID: the timeout(1) around QEMU), on
# CPU $GB_QEMU_CPU when the caller sets it.
boot() { # $1 kind (scsi|blk), $2 qd, $3 rw, $4 log, qemu device args...
	local kind=$1 qd=$2 rw=$3 logf=$4 mem=512M
	shift 4
	local cmdline="console=ttyS0 panic=-1 quiet loglevel=4 i8042.noaux i8042.nokbd"
	cmdline="$cmdline vus.test=bench-guest vus.timeout=$((SECS + 100)) vus.args=$kind,$qd,$SECS,$rw"
	# shellcheck disable=SC2054 # commas belong to QEMU's option syntax
	local args=(-accel tcg -machine pc -cpu max -smp 1 -m "$mem"
		-object "memory-backend-memfd,id=mem,size=$mem,share=on" -numa node,memdev=mem
		-kernel "$GDIR/vmlinux" -initrd "$INITRD" -append "$cmdline"
		-nodefaults -no-user-config -display none -serial "file:$logf" -no-reboot
		-name bench,debug-threads=on "$@")
	printf '%q ' ${GB_QEMU_CPU:+taskset -c "$GB_QEMU_CPU"} "$QEMU" "${args[@]}" >>"$CMDS"
	echo >>"$CMDS"
	timeout --kill-after=5 $((SECS + 150)) ${GB_QEMU_CPU:+taskset -c "$GB_QEMU_CPU"} "$QEMU" "${args[@]}" \
		</dev/null >"$logf.qemu" 2>&1 &
	QPID=$!
}

# Follows the guest started by boot() to its end.  "$@" is a command that
# prints counters (CPU ticks) as words; it runs at fio's start and end, and
# GB_DELTA gets the differences, word by word (all 0 when a reading failed).
gb_measure() { # $1 log, counter command...
	local logf=$1 before="" after=""
	shift
	if wait_marker "$logf" VUS-BENCH-START; then
		before=$("$@") || before=""
	fi
	if wait_marker "$logf" "VUS-BENCH: "; then
		after=$("$@") || after=""
	fi
	wait "$QPID" || log "qemu exit $? (log $logf)"
	# shellcheck disable=SC2034 # read by the caller
	GB_DELTA=$(awk -v b="$before" -v a="$after" 'BEGIN {
		n = split(b, B, " "); m = split(a, A, " ")
		for (i = 1; i <= n; i++)
			printf "%s%d", (i > 1 ? " " : ""), (n == m ? A[i] - B[i] : 0)
		print "" }')
}

# "iops ios lat_mean_us" from the guest's VUS-BENCH line (fio-3 terse v3:
# read KiB is field 6, IOPS 8, total latency mean 40; write KiB 47, IOPS 49,
# latency mean 81).  The job is all reads or all writes: the sums pick it.
parse_guest() {
	tr -d '\r' <"$1" | grep -a '^VUS-BENCH: 3;' | tail -1 | sed 's/^VUS-BENCH: //' |
		awk -F';' '{ printf "%d %d %.1f\n", $8 + $49, ($6 + $47) / 4, $40 + $81 }'
}
