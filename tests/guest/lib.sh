# shellcheck shell=bash
# Host-side helpers for the guest tests (bash; sourced, not run).
#
# A test script calls, in order:
#   vus_setup NAME            temp dir, log names, cleanup trap
#   vus_start_backend [--threads N] [--queues N] LUNSPEC...
#                             LUNSPEC uses the daemon's --lun syntax
#   vus_run_guest GUESTTEST [ARGS]   boot one VM running the guest half
#   vus_stop_backend          stop the daemon, fail on a sanitizer report
#   vus_finish                print the verdict, exit 0/1
#
# Backend selection (VUS_BACKEND):
#   daemon  build/vhost-user-scsi through vhost-user-scsi-pci (the default
#           whenever the binary exists)
#   qemu    QEMU's own virtio-scsi-pci + scsi-hd on the same backing
#           files: the same guest driver and tools, used to validate the
#           harness itself while the daemon is not ready
# VUS_DAEMON overrides the daemon binary (the ASan test uses build/asan/...).
# VUS_DEV_PROPS adds properties to the vhost-user-scsi-pci device (packed=on: test-packed.sh).

VUS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VUS_OUT=$VUS_ROOT/build/guest
VUS_LOGDIR=$VUS_OUT/logs
VUS_DAEMON=${VUS_DAEMON:-$VUS_ROOT/build/vhost-user-scsi}
if [ -z "${VUS_BACKEND:-}" ]; then
	if [ -x "$VUS_DAEMON" ]; then VUS_BACKEND=daemon; else VUS_BACKEND=qemu; fi
fi

VUS_FAILS=0
VUS_DPID=
VUS_DEV_ARGS=()

vus_log() { echo "[$VUS_NAME] $*" >&2; }
vus_fail() {
	echo "[$VUS_NAME] FAIL: $*" >&2
	VUS_FAILS=$((VUS_FAILS + 1))
}
vus_skip() {
	echo "[$VUS_NAME] SKIP: $*" >&2
	vus_cleanup
	exit 77
}

vus_setup() {
	VUS_NAME=$1
	mkdir -p "$VUS_LOGDIR"
	# Several people run these tests in one tree: two runs of one test
	# would overwrite each other's logs, so they take turns.  Fd 8 is
	# closed for every child so an orphan cannot keep the lock.
	exec 8>"$VUS_LOGDIR/.$VUS_NAME.lock"
	if ! flock -n 8; then
		vus_log "waiting for another run of $VUS_NAME to finish"
		flock 8
	fi
	VUS_TMP=$(mktemp -d "/tmp/vus-$VUS_NAME.XXXXXX")
	VUS_SERIAL=$VUS_LOGDIR/$VUS_NAME.serial.log
	VUS_DLOG=$VUS_LOGDIR/$VUS_NAME.daemon.log
	rm -f "$VUS_LOGDIR/$VUS_NAME.ctl.log"
	VUS_SOCK=$VUS_TMP/vus.sock
	: >"$VUS_DLOG"
	rm -f "$VUS_SERIAL"
	VUS_T0=$(date +%s.%N)
	trap vus_cleanup EXIT
	trap 'vus_fail "interrupted"; exit 1' INT TERM
	if [ "$VUS_BACKEND" = daemon ]; then
		vus_log "backend: daemon $VUS_DAEMON"
	else
		vus_log "backend: QEMU-emulated virtio-scsi-pci + scsi-hd"
	fi
}

# Also the path taken on errors and interrupts, so it never waits long.
vus_cleanup() {
	if [ -n "$VUS_DPID" ] && kill -0 "$VUS_DPID" 2>/dev/null; then
		kill "$VUS_DPID" 2>/dev/null
		sleep 0.5
		kill -0 "$VUS_DPID" 2>/dev/null && kill -KILL "$VUS_DPID" 2>/dev/null
		wait "$VUS_DPID" 2>/dev/null
	fi
	VUS_DPID=
	[ -n "${VUS_TMP:-}" ] && rm -rf "$VUS_TMP"
	VUS_TMP=
}

# Value of a "key=value" field inside a comma separated LUN spec.
vus_lun_key() {
	local spec=$1 key=$2 kv
	local IFS=,
	for kv in $spec; do
		if [ "${kv%%=*}" = "$key" ]; then
			echo "${kv#*=}"
			return 0
		fi
	done
	return 1
}

# Turn daemon-syntax LUN specs into QEMU scsi-hd devices.  RAM LUNs become
# sparse files in the temp dir: same capacity, and zero-filled like RAM.
vus_qemu_luns() {
	local nq=$1 spec i=0 type size path lun tgt bs ro dev drv wwn
	shift
	VUS_DEV_ARGS+=(-device "virtio-scsi-pci,id=scsi0,num_queues=$nq")
	for spec in "$@"; do
		type=$(vus_lun_key "$spec" type)
		path=$(vus_lun_key "$spec" path || true)
		if [ "$type" = ram ]; then
			size=$(vus_lun_key "$spec" size)
			path=$VUS_TMP/ram$i.img
			truncate -s "$size" "$path"
		fi
		lun=$(vus_lun_key "$spec" lun || echo "$i")
		tgt=$(vus_lun_key "$spec" target || echo 0)
		drv="if=none,id=d$i,file=$path,format=raw,discard=unmap"
		ro=$(vus_lun_key "$spec" readonly || echo off)
		[ "$ro" = on ] && drv="$drv,readonly=on"
		[ "$(vus_lun_key "$spec" direct || echo off)" = on ] && drv="$drv,cache=none"
		dev="scsi-hd,bus=scsi0.0,drive=d$i,scsi-id=$tgt,lun=$lun"
		[ "$(vus_lun_key "$spec" write-cache || echo on)" = off ] && dev="$dev,write-cache=off"
		bs=$(vus_lun_key "$spec" block-size || true)
		[ -n "$bs" ] && dev="$dev,logical_block_size=$bs,physical_block_size=$bs"
		if vus_lun_key "$spec" serial >/dev/null; then
			dev="$dev,serial=$(vus_lun_key "$spec" serial)"
		fi
		if vus_lun_key "$spec" wwn >/dev/null; then
			wwn=$(vus_lun_key "$spec" wwn)
			dev="$dev,wwn=0x${wwn#0x}"
		fi
		VUS_DEV_ARGS+=(-drive "$drv" -device "$dev")
		i=$((i + 1))
	done
}

# Wait until the daemon listens on its socket (or died trying).
vus_wait_socket() {
	local i
	for i in $(seq 1 100); do
		[ -S "$VUS_SOCK" ] && return 0
		kill -0 "$VUS_DPID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

vus_start_daemon() {
	local threads=$1
	shift
	local args=(--socket-path "$VUS_SOCK")
	local spec
	for spec in "$@"; do args+=(--lun "$spec"); done
	[ -n "$threads" ] && args+=(--threads "$threads")
	echo "# $VUS_DAEMON ${args[*]}" >>"$VUS_DLOG"
	# Sanitizer reports go to the daemon log, which vus_stop_backend scans;
	# leaks are reported only if the daemon exits cleanly on SIGTERM.
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
		"$VUS_DAEMON" "${args[@]}" ${VUS_DAEMON_EXTRA:-} 2>>"$VUS_DLOG" >&2 8>&- &
	VUS_DPID=$!
	if ! vus_wait_socket; then
		vus_fail "daemon did not create $VUS_SOCK (log $VUS_DLOG)"
		tail -5 "$VUS_DLOG" >&2
		return 1
	fi
}

vus_start_backend() {
	local threads='' nq=1
	while [ $# -gt 0 ]; do
		case "$1" in
		--threads) threads=$2; shift 2 ;;
		--queues) nq=$2; shift 2 ;;
		*) break ;;
		esac
	done
	VUS_DEV_ARGS=()
	if [ "$VUS_BACKEND" = daemon ]; then
		[ -x "$VUS_DAEMON" ] || { vus_fail "no daemon binary $VUS_DAEMON"; return 1; }
		vus_start_daemon "$threads" "$@" || return 1
		VUS_DEV_ARGS+=(-chardev "socket,id=vus,path=$VUS_SOCK"
			-device "vhost-user-scsi-pci,chardev=vus,num_queues=$nq${VUS_DEV_PROPS:+,$VUS_DEV_PROPS}")
	else
		vus_qemu_luns "$nq" "$@"
	fi
}

# Boot the guest and run the guest half of a test; the serial log stays in
# build/guest/logs.  Returns run-vm.sh's status.
vus_run_guest() {
	local gtest=$1 gargs=${2:-} rc t0 t1
	t0=$(date +%s.%N)
	"$VUS_ROOT/scripts/guest/run-vm.sh" --test "$gtest" --args "$gargs" \
		--log "$VUS_SERIAL" ${VUS_CONSOLE:+--console} -- "${VUS_DEV_ARGS[@]}" 8>&-
	rc=$?
	t1=$(date +%s.%N)
	vus_log "guest $gtest: rc=$rc in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')s"
	[ "$rc" = 0 ] || vus_fail "guest half '$gtest' failed (rc=$rc, log $VUS_SERIAL)"
	if [ "$rc" != 0 ]; then
		tr -d '\r' <"$VUS_SERIAL" | grep -a -E '^VUS-CHECK-FAIL|^VUS-WARN' | head -20 >&2
	fi
	return "$rc"
}

# vus_wait_serial PATTERN SECONDS [PID]: wait for a line of the guest's
# serial log matching the extended regexp PATTERN, for tests whose host half
# acts at a point of the guest's run (a fault, a kill).  1 when SECONDS pass
# first, or when the process PID (the VM) ends without it.
vus_wait_serial() {
	local pat=$1 n=$(($2 * 10)) pid=${3:-} i
	for ((i = 0; i < n; i++)); do
		tr -d '\r' 2>/dev/null <"$VUS_SERIAL" | grep -a -q -E "$pat" && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			# It may have printed the line just before it ended.
			tr -d '\r' 2>/dev/null <"$VUS_SERIAL" | grep -a -q -E "$pat"
			return
		fi
		sleep 0.1
	done
	return 1
}

# "VUS-KV: key=value" lines printed by the guest half.
vus_guest_kv() {
	tr -d '\r' <"$VUS_SERIAL" | sed -n "s/^VUS-KV: $1=//p" | tail -1
}

vus_sanitizer_check() {
	if grep -q -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|WARNING: ThreadSanitizer' "$VUS_DLOG"; then
		vus_fail "sanitizer report in $VUS_DLOG"
		grep -m 5 -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$VUS_DLOG" >&2
	fi
}

# Stop the daemon.  It must still be running: dying during a test is a bug
# even when the guest happened to finish.
vus_stop_backend() {
	[ "$VUS_BACKEND" = daemon ] || return 0
	if [ -n "$VUS_DPID" ]; then
		if ! kill -0 "$VUS_DPID" 2>/dev/null; then
			wait "$VUS_DPID" 2>/dev/null
			vus_fail "daemon exited during the test (status $?, log $VUS_DLOG)"
		else
			kill "$VUS_DPID"
			# A daemon that ignores SIGTERM would hang the run here.
			local i
			for i in $(seq 1 50); do
				kill -0 "$VUS_DPID" 2>/dev/null || break
				sleep 0.1
			done
			if kill -0 "$VUS_DPID" 2>/dev/null; then
				vus_fail "daemon still running 5 s after SIGTERM"
				kill -KILL "$VUS_DPID"
			fi
			wait "$VUS_DPID" 2>/dev/null
		fi
		VUS_DPID=
	fi
	vus_sanitizer_check
}

vus_finish() {
	local t1
	t1=$(date +%s.%N)
	local dt
	dt=$(awk -v a="$VUS_T0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	vus_cleanup
	if [ "$VUS_FAILS" = 0 ]; then
		echo "[$VUS_NAME] PASS (${dt}s)" >&2
		exit 0
	fi
	echo "[$VUS_NAME] FAIL: $VUS_FAILS problem(s) (${dt}s)" >&2
	exit 1
}

# vus_host_fsck IMAGE: e2fsck -fn of a backing file once the daemon is
# stopped, so that the guest's view of the filesystem is checked from outside.
vus_host_fsck() {
	if e2fsck -fn "$1" >"$VUS_TMP/fsck.out" 2>&1; then
		vus_log "host e2fsck -fn of the backing file: clean"
	else
		vus_fail "host e2fsck -fn of the backing file reports problems"
		cat "$VUS_TMP/fsck.out" >&2
	fi
}

# Skip a test that needs the real daemon when running on the QEMU backend.
vus_require_daemon() {
	[ "$VUS_BACKEND" = daemon ] || vus_skip "needs the vhost-user-scsi daemon (backend is $VUS_BACKEND)"
	[ -x "$VUS_DAEMON" ] || vus_skip "no daemon binary $VUS_DAEMON"
}

# The daemon's CLI on the RPC socket of vus_start_two_paths; its output
# goes to $VUS_LOGDIR/$VUS_NAME.ctl.log.
vus_ctl() {
	local log=$VUS_LOGDIR/$VUS_NAME.ctl.log
	echo "\$ vhost-user-scsi-ctl $*" >>"$log"
	"${VUS_CTL:-$VUS_ROOT/build/vhost-user-scsi-ctl}" -s "$VUS_TMP/rpc.sock" --timeout 20 "$@" >>"$log" 2>&1 ||
		{ vus_fail "vhost-user-scsi-ctl $* failed (log $log)"; return 1; }
}

# vus_start_two_paths "BDEV-KEYS" [DAEMON-ARGS...]: one daemon serving RPC
# on $VUS_TMP/rpc.sock, a named block device "shared" (bdev create keys,
# e.g. "type=ram size=64M") attached as target 0 LUN 0 of two controllers,
# pa and pb, and both handed to the guest: two paths, two I_T nexuses, to
# one logical unit (reservations, multipath).  The daemon needs no --lun.
vus_start_two_paths() {
	local keys=$1 i
	shift
	vus_require_daemon
	VUS_DEV_ARGS=()
	echo "# $VUS_DAEMON --rpc-socket $VUS_TMP/rpc.sock --threads 2 $*" >>"$VUS_DLOG"
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
		"$VUS_DAEMON" --rpc-socket "$VUS_TMP/rpc.sock" --threads 2 "$@" 2>>"$VUS_DLOG" >&2 8>&- &
	VUS_DPID=$!
	for i in $(seq 1 100); do
		[ -S "$VUS_TMP/rpc.sock" ] && break
		sleep 0.05
	done
	# shellcheck disable=SC2086 # the keys are separate words
	vus_ctl bdev create name=shared $keys &&
		vus_ctl controller create name=pa socket="$VUS_TMP/pa.sock" &&
		vus_ctl controller create name=pb socket="$VUS_TMP/pb.sock" &&
		vus_ctl lun attach controller=pa bdev=shared target=0 lun=0 &&
		vus_ctl lun attach controller=pb bdev=shared target=0 lun=0 || return 1
	VUS_DEV_ARGS=(-chardev "socket,id=pa,path=$VUS_TMP/pa.sock" -device "vhost-user-scsi-pci,chardev=pa"
		-chardev "socket,id=pb,path=$VUS_TMP/pb.sock" -device "vhost-user-scsi-pci,chardev=pb")
}

# vus_flavours TAG NAME: for tests that run once with the plain daemon and
# once with the ASan+UBSan one.  When VUS_<TAG>_FLAVOUR is set, returns: the
# script goes on as that flavour.  Otherwise runs the script once per
# flavour with VUS_<TAG>_FLAVOUR (and, for asan, VUS_DAEMON) set, and exits
# with the combined status: 1 if one failed, 77 if one skipped and none
# failed, else 0.  The flavours: VUS_<TAG>_FLAVOURS, or "plain asan" when
# the backend is the daemon and build/asan has one, else plain.
vus_flavours() {
	local var="VUS_${1}_FLAVOUR" name=$2 f r rc=0 skipped=0 flavours
	local asan=${VUS_ASAN_DAEMON:-$VUS_ROOT/build/asan/vhost-user-scsi}
	[ -n "${!var:-}" ] && return 0
	flavours=$(eval echo "\${${var}S:-}")
	if [ -z "$flavours" ]; then
		if [ "$VUS_BACKEND" = daemon ] && [ -x "$asan" ]; then
			flavours="plain asan"
		else
			flavours=plain
			[ "$VUS_BACKEND" = daemon ] &&
				echo "[$name] no $asan: the ASan flavour does not run (make SAN=1 all)" >&2
		fi
	fi
	for f in $flavours; do
		if [ "$f" = asan ]; then
			env "$var=asan" VUS_DAEMON="$asan" "$0"
		else
			env "$var=plain" "$0"
		fi
		r=$?
		if [ "$r" = 77 ]; then skipped=$((skipped + 1)); elif [ "$r" != 0 ]; then rc=1; fi
	done
	[ "$rc" = 0 ] && [ "$skipped" -gt 0 ] && exit 77
	exit $rc
}
