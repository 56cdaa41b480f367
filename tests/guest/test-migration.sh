#!/bin/bash
# Live migration of a running guest between two QEMU processes on this
# host, while the guest runs fio with crc32c verification at iodepth 32 on
# two request queues (issue #11):
#
#   - three file LUNs (direct=on), served by one daemon per QEMU: the source
#     daemon for the source QEMU, the destination daemon for the destination
#     QEMU, both on the same backing files;
#   - the destination QEMU has the same command line plus -incoming (a unix
#     socket); the host drives the migration over each QEMU's QMP socket
#     (tests/guest/mig-qmp.py), waits for "completed", records downtime and
#     total time from query-migrate, and quits the source QEMU;
#   - in the guest (vhost-user-scsi-pci num_queues=2, 2 vCPUs): on LUNs 0
#     and 1 one fio loop each, pinned to its own vCPU so both request queues
#     carry I/O, of complete runs (randwrite 32 MiB, verify_backlog, then
#     verify everything), a new seed each run so no run can pass on an older
#     run's data; on LUN 2, written once, one fio --verify_only that reads
#     it back for the whole test: its buffers are written by the backend
#     only, so the reads completed around the switch reach the destination
#     only through the backend's dirty log (without LOG_ALL marks this LUN
#     fails, see docs/testing.md);
#   - the host tells the guest the migration is over through a second serial
#     port (ttyS1, a chardev socket on the destination); each write loop then
#     finishes the run in progress, which began on the source, and one whole
#     run more, on the destination; then the reader is stopped;
#   - the serial console moves with the guest: the source QEMU's output goes
#     to NAME.SCEN.src.serial.log, the destination's to .dst.serial.log, and
#     the guest's result marker is read from the latter.
#
# It passes when: the migration completed (source in postmigrate, then quit
# with status 0; destination running), every fio run reported err=0 and no
# verify failure, a run of at least one LUN was in progress at the switch
# (started in the source's log, ended in the destination's), the guest
# kernel logged nothing that looks like a SCSI error, timeout or reset
# (a POWER ON unit attention after the switch included), and neither daemon
# died or reported a sanitizer error.  Downtime and total time go to the
# log (RESULT lines) and, by hand, to docs/testing.md.
#
# QEMU refuses to migrate a VM whose vhost-user backend lacks
# VHOST_F_LOG_ALL / LOG_SHMFD (a migration blocker, read from
# query-migrate's blocked-reasons before the guest boots): the test then
# ends with SKIP (exit 77) and QEMU's reason.
#
# Scenarios: mig_scenario NAME DEVICE-PROPS [slow] runs one whole migration
# with extra properties on the virtio-scsi controller device of both ends:
#   drain     no extra properties: the source completes its requests when
#             it stops the device;
#   inflight  inflight-migration=on (this project's QEMU series, patches
#             5-8): the source's daemon suspends the requests in flight at
#             the stop, the inflight region travels with the device state
#             and the destination's daemon resubmits them.  LUNs 0 and 1 sit
#             on slowfs (tests/tools/slowfs.c: every I/O takes MIG_SLOW_US),
#             so requests are certainly in the backend at the switch; the
#             destination daemon must report resubmitting at least one.
#             Skipped (not failed) with a QEMU that lacks the property.  Flavours: the plain daemon, then the ASan+UBSan one when
# build/asan has it.  Knobs: VUS_MIG_FLAVOURS="plain asan",
# VUS_MIG_SCENARIOS, VUS_MIG_PARAMS (JSON for migrate-set-parameters),
# VUS_MIG_FIO_MIB (per write run), QEMU (both ends).
MIG_FILE_MIB=64
MIG_FIO_MIB=${VUS_MIG_FIO_MIB:-32}
MIG_RO_MIB=24        # LUN 2, read back and verified over and over
MIG_GUEST_WAIT_S=100 # the guest's limit for the host's "migrated" message
MIG_LOOPS_MAX=200    # fio runs per LUN, a safety net
# inflight scenario: the latency of LUNs 0 and 1.  20 ms was enough on earlier
# machines; on a kernel 6.18 machine of this kind nothing was left in the
# backend by the time the source's device stopped (0 of 3 runs), at 60 ms the
# guest's queues were full at the switch (64 requests resubmitted, 53 s a run).
MIG_SLOW_US=${VUS_MIG_SLOW_US:-60000}

if [ "$1" = guest ]; then
	. /tests/lib-guest.sh
	MIB=${2:-64}
	WAIT_S=${3:-100}
	RMIB=${4:-32}
	mark() { echo "VUS-MIG: [$*]"; }
	uptime_s() {
		read -r u _ </proc/uptime
		echo "${u%.*}"
	}
	g_wait_disks 3 || g_done
	d0=$(g_disk_of_lun 0) || { g_fail "no disk for LUN 0"; g_done; }
	d1=$(g_disk_of_lun 1) || { g_fail "no disk for LUN 1"; g_done; }
	d2=$(g_disk_of_lun 2) || { g_fail "no disk for LUN 2"; g_done; }
	# shellcheck disable=SC2012 # busybox
	g_expect_eq "hardware queues of $d0" "$(ls "/sys/block/${d0#/dev/}/mq" | wc -l)" 2

	# The host's message arrives on ttyS1 (the destination's chardev
	# socket); canonical mode, no echo back to the host.
	stty -F /dev/ttyS1 -echo 2>/dev/null || echo "VUS-WARN: stty ttyS1 failed"
	(
		read -r msg </dev/ttyS1
		echo "$msg" >/run/mig.signal
		mark "signal $msg"
	) &

	FIO_COMMON="--ioengine=libaio --direct=1 --iodepth=32 --rw=randwrite --bsrange=4k-64k
		--verify=crc32c --verify_fatal=1 --verify_dump=0"
	# LUN 2's fixed content: written and verified once, then read back and
	# verified (--verify_only replays the same seed) by one fio that loops
	# until the end: its buffers are written by the backend only, never by
	# the guest CPU, so its reads completed at the switch reach the
	# destination only through the backend's dirty log.
	RO_JOB="--name=lun2 --filename=$d2 --size=${RMIB}M --randseed=4242"

	# fio_verdict LUN RUN RC AFTER: judge /tmp/fio.LUN.out (fio's exit status
	# RC: 128 after our SIGINT is fine), print the run's end marker, record it
	# in /tmp/runs.LUN; AFTER: 1 when the run started after the host's
	# message.  Fails when the run did.
	fio_verdict() {
		out=/tmp/fio.$1.out
		res=ok
		if { [ "$3" != 0 ] && [ "$3" != 128 ]; } || ! grep -q "err= *0" "$out" ||
			grep -q -E "verify: bad|bad magic|crc32c: verify failed|io_u error" "$out" "/tmp/fio.$1.err"; then
			res=FAIL
			echo "VUS-CHECK-FAIL: fio run $2 on LUN $1: exit $3"
			sed 's/^/    | /' "$out" "/tmp/fio.$1.err" | head -40
		fi
		io=$(sed -n 's/^ *\(WRITE\|READ\): .* io=\([^ ,]*\).* run=\([^ ,]*\)/\1 \2 \3/p' "$out" | tr '\n' ' ')
		mark "fio $1 $2 end $res $io"
		echo "$2 $res $4" >>"/tmp/runs.$1"
		[ "$res" = ok ]
	}

	# fio_loop LUN DISK CPU: whole randwrite + verify runs, a new seed each,
	# until one that started after the host's message is done.
	fio_loop() {
		lun=$1
		n=0
		deadline=$(($(uptime_s) + WAIT_S))
		while [ "$n" -lt "$MIG_LOOPS_MAX" ]; do
			n=$((n + 1))
			after=0
			[ -e /run/mig.signal ] && after=1
			mark "fio $lun $n start"
			# shellcheck disable=SC2086 # a word list
			fio $FIO_COMMON --name="lun$lun" --filename="$2" --size="${MIB}M" --verify_backlog=64 \
				--randseed=$((n * 2 + lun)) --cpus_allowed="$3" \
				--output="/tmp/fio.$lun.out" >/dev/null 2>"/tmp/fio.$lun.err"
			fio_verdict "$lun" "$n" $? "$after" || break
			[ "$after" = 1 ] && break
			if [ "$(uptime_s)" -ge "$deadline" ]; then
				echo "VUS-CHECK-FAIL: LUN $lun: no word from the host ${WAIT_S}s after fio started"
				break
			fi
		done
	}
	echo "fio: LUN 2 content" >/run/vus.phase
	# shellcheck disable=SC2086 # word lists
	g_run fio $FIO_COMMON $RO_JOB || g_fail "writing LUN 2's content"
	: >/tmp/runs.0
	: >/tmp/runs.1
	: >/tmp/runs.2
	echo fio >/run/vus.phase
	read -r t_start _ </proc/uptime
	reads2=$(awk '{ print $1 }' "/sys/block/${d2#/dev/}/stat")
	mark "fio 2 1 start"
	# shellcheck disable=SC2086 # word lists
	fio $FIO_COMMON $RO_JOB --verify_only --loops=1000000 \
		--output=/tmp/fio.2.out >/dev/null 2>/tmp/fio.2.err &
	p2=$!
	fio_loop 0 "$d0" 0 &
	p0=$!
	fio_loop 1 "$d1" 1 &
	p1=$!
	# Ready once the disks see I/O (fields 1 and 5 of stat: reads and
	# writes completed).
	busy() {
		[ "$(awk '{ print $5 }' "/sys/block/${d0#/dev/}/stat")" -gt 200 ] &&
			[ "$(awk '{ print $5 }' "/sys/block/${d1#/dev/}/stat")" -gt 200 ] &&
			[ "$(awk '{ print $1 }' "/sys/block/${d2#/dev/}/stat")" -gt $((reads2 + 200)) ]
	}
	i=0
	while ! busy && [ "$i" -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if busy; then mark ready; else g_fail "fio did not get going within 60 s"; fi
	wait "$p0"
	wait "$p1"
	# The reader must still be reading (verify_fatal ends it at the first
	# bad block); it has read since the host's message, the writers' last
	# runs took that long.
	if kill -0 "$p2" 2>/dev/null; then
		kill -INT "$p2"
		after=1
	else
		echo "VUS-CHECK-FAIL: the reader on LUN 2 ended before the writers"
		after=0
	fi
	wait "$p2"
	fio_verdict 2 1 $? "$after"
	echo checks >/run/vus.phase

	if [ -e /run/mig.signal ]; then
		g_ok "host said: $(cat /run/mig.signal)"
	else
		g_fail "no message from the host on ttyS1"
	fi
	for lun in 0 1 2; do
		runs=$(wc -l <"/tmp/runs.$lun")
		bad=$(grep -c FAIL "/tmp/runs.$lun")
		after=$(awk '$3 == 1' "/tmp/runs.$lun" | wc -l)
		g_kv "lun${lun}_runs" "$runs"
		if [ "$bad" = 0 ]; then
			g_ok "LUN $lun: $runs fio runs, all err=0 and verified"
		else
			g_fail "LUN $lun: $bad of $runs fio runs failed"
		fi
		[ "$after" -ge 1 ] || g_fail "LUN $lun: no whole fio run after the host's message"
	done

	# Kernel log: nothing about the disks that looks like an error.  The
	# power-on unit attention of the boot-time scan is no error.
	dmesg >/tmp/dmesg
	addrs=
	names=
	for lun in 0 1 2; do
		addrs="$addrs|$(g_addr_of_lun $lun)"
		d=$(g_disk_of_lun $lun)
		names="$names|${d#/dev/}"
	done
	addrs=${addrs#|}
	names=${names#|}
	grep -E "$addrs|\\[($names)\\]|[^a-z]($names)([^a-z]|\$)|virtio_scsi|scsi host" /tmp/dmesg |
		awk -v t="$t_start" '/Power-on or device reset occurred/ {
			s = $0; sub(/^\[ */, "", s); sub(/\].*/, "", s); if (s + 0 < t + 0) next } { print }' >/tmp/dmesg.disks
	g_kv kernel_disk_lines "$(wc -l </tmp/dmesg.disks)"
	# What a new backend that takes the migrated guest for a new one says.
	npo=$(grep -c 'Power-on or device reset occurred' /tmp/dmesg.disks)
	g_kv power_on_ua_after_start "$npo"
	if [ "$npo" != 0 ]; then
		g_fail "POWER ON OCCURRED reached the guest $npo time(s) once fio ran: a reset the migrated guest never had"
		grep 'Power-on or device reset occurred' /tmp/dmesg.disks | sed 's/^/    | /'
	fi
	if grep -v 'Power-on or device reset occurred' /tmp/dmesg.disks |
		grep -i -E 'I/O error|critical|medium error|hardware error|aborted command|timing out|timed out|abort|reset|FAILED|rejecting|offline|hostbyte|error' >/tmp/dmesg.bad; then
		g_fail "kernel errors about the disks ($addrs; $names):"
		sed 's/^/    | /' /tmp/dmesg.bad | head -20
	else
		g_ok "no kernel errors about the disks ($addrs; $names)"
	fi
	g_done
fi

. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)

vus_flavours MIG migration

if [ "$VUS_MIG_FLAVOUR" = asan ]; then NAME=migration-asan; else NAME=migration; fi
vus_setup "$NAME"
[ "$VUS_MIG_FLAVOUR" = asan ] && vus_require_daemon
QEMU=${QEMU:-/usr/bin/qemu-system-x86_64}
export QEMU
vus_log "QEMU $QEMU ($("$QEMU" --version | head -1)) on both ends"
QMPLOG=$VUS_LOGDIR/$NAME.qmp.log
: >"$QMPLOG"
MIG_PY=$HERE/mig-qmp.py
# Downtime limit: QEMU's default (300 ms); bandwidth: no throttle on a local
# socket.
MIG_PARAMS=${VUS_MIG_PARAMS:-'{"max-bandwidth": 4294967296}'}
MIG_SKIP=
MIG_PIDS=()  # daemons and run-vm.sh instances to reap on any exit
SRC_DPID=
DST_DPID=

now() { date +%s.%N; }
secs_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

mig_cleanup() {
	local p side
	# run-vm.sh's QEMU outlives a killed run-vm.sh: quit it by its pidfile.
	for side in src dst; do
		p=$(cat "$VUS_TMP/$side.pid" 2>/dev/null) || continue
		grep -q qemu "/proc/$p/cmdline" 2>/dev/null && kill "$p" 2>/dev/null
	done
	for p in "${MIG_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${MIG_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	MIG_PIDS=()
	mig_slowfs_stop
	vus_cleanup
}
trap mig_cleanup EXIT

mig_qmp() { "$MIG_PY" "$@" 2>>"$QMPLOG"; }

# mig_backend SIDE SPEC...: start SIDE's daemon (for the QEMU backend,
# nothing runs: only the device arguments); SIDE's device arguments go to
# SRC_ARGS or DST_ARGS.
mig_backend() {
	local side=$1 a
	shift
	# shellcheck disable=SC2034 # lib.sh's
	VUS_SOCK=$VUS_TMP/$side.vus.sock
	VUS_DLOG=$VUS_LOGDIR/$NAME.$MIG_SCEN.$side.daemon.log
	: >"$VUS_DLOG"
	VUS_DPID=
	vus_start_backend --threads 2 --queues 2 "$@" || return 1
	if [ -n "$VUS_DPID" ]; then
		MIG_PIDS+=("$VUS_DPID")
		if [ "$side" = src ]; then SRC_DPID=$VUS_DPID; else DST_DPID=$VUS_DPID; fi
	fi
	VUS_DPID=
	# The scenario's properties go on the controller device.
	local args=()
	for a in "${VUS_DEV_ARGS[@]}"; do
		case "$a" in
		vhost-user-scsi-pci,* | virtio-scsi-pci,*) a=$a${MIG_PROPS:+,$MIG_PROPS} ;;
		esac
		args+=("$a")
	done
	if [ "$side" = src ]; then SRC_ARGS=("${args[@]}"); else DST_ARGS=("${args[@]}"); fi
}

# mig_stop_daemon PID LOG: lib.sh's checks (still alive, stops on SIGTERM,
# no sanitizer report) for one of the two daemons.
mig_stop_daemon() {
	[ -n "$1" ] || return 0
	VUS_DPID=$1
	VUS_DLOG=$2
	vus_stop_backend
}

# mig_vm SIDE QEMU-ARGS...: one VM through run-vm.sh in the background, with
# its QMP socket and its ttyS1 socket; MIG_VMPID is run-vm.sh's pid.
mig_vm() {
	local side=$1
	shift
	"$VUS_ROOT/scripts/guest/run-vm.sh" --test test-migration --args "$MIG_FIO_MIB,$MIG_GUEST_WAIT_S,$MIG_RO_MIB" \
		--log "$VUS_LOGDIR/$NAME.$MIG_SCEN.$side.serial.log" --timeout 240 -- \
		"$@" -pidfile "$VUS_TMP/$side.pid" -qmp "unix:$VUS_TMP/$side.qmp,server=on,wait=off" \
		-serial "unix:$VUS_TMP/$side.ttyS1,server=on,wait=off" 8>&- 2>>"$VUS_LOGDIR/$NAME.$MIG_SCEN.$side.run-vm.log" &
	MIG_VMPID=$!
	MIG_PIDS+=("$MIG_VMPID")
}

# mig_wait_marker LOG TEXT SECS PID: wait for TEXT in a serial log while the
# VM's run-vm.sh lives.
mig_wait_marker() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -a -q -F "$2" "$1" 2>/dev/null && return 0
		if grep -a -q -E '^VUS-TEST-RESULT|^VUS-GUEST-TIMEOUT' "$1" 2>/dev/null; then
			vus_fail "waiting for '$2': the guest gave up (log $1)"
			return 1
		fi
		if ! kill -0 "$4" 2>/dev/null; then
			vus_fail "waiting for '$2': the VM ended (log $1)"
			return 1
		fi
		sleep 0.1
	done
	vus_fail "no '$2' within $3 s (log $1)"
	return 1
}

# The figures of the last migration ("key=value" lines from mig-qmp.py).
mig_kv() { sed -n "s/^$1=//p" <<<"$MIG_OUT" | tail -1; }
# ... a byte count in MiB (no shell arithmetic: an empty value must not
# abort the script).
mig_mib() { mig_kv "$1" | awk '{ printf "%d", $1 / 1048576 }'; }

# mig_drive SRCLOG SRCVM DSTVM: the host's side once both VMs run; returns
# at the first failure (the caller stops what still runs).
mig_drive() {
	local srclog=$1 srcvm=$2 dstvm=$3 rc st out
	st=$(mig_qmp status "$VUS_TMP/dst.qmp" inmigrate 60) || {
		vus_fail "destination QEMU not waiting for the migration (state '$st', log $QMPLOG)"
		return 1
	}
	# QEMU knows at once whether it would refuse (blocked-reasons): no
	# need to boot the guest to find out.
	out=$(mig_qmp blockers "$VUS_TMP/src.qmp")
	rc=$?
	if [ "$rc" = 77 ]; then
		MIG_SKIP="QEMU refuses to migrate: $(echo "$out" | tr '\n' ' ')"
		return 1
	fi
	[ "$rc" = 0 ] || vus_log "query-migrate blocked-reasons: rc $rc, $out (log $QMPLOG)"
	mig_wait_marker "$srclog" "VUS-MIG: [ready]" 90 "$srcvm" || return 1
	vus_log "guest: fio running on the three LUNs; migrating"
	sleep 1
	MIG_OUT=$(mig_qmp migrate "$VUS_TMP/src.qmp" "$VUS_TMP/dst.qmp" "unix:$VUS_TMP/mig.sock" 60 "$MIG_PARAMS")
	rc=$?
	printf '  %s\n' "${MIG_OUT//$'\n'/$'\n  '}" >>"$QMPLOG"
	if [ "$rc" = 77 ]; then
		MIG_SKIP="QEMU refuses to migrate: $(mig_kv blocked)"
		return 1
	fi
	if [ "$rc" != 0 ]; then
		vus_fail "migration: status $(mig_kv status), source $(mig_kv src-state), destination $(mig_kv dst-state) $(mig_kv error)$(mig_kv error-desc) (log $QMPLOG)"
		return 1
	fi
	vus_log "migration completed: downtime $(mig_kv downtime) ms, total $(mig_kv total-time) ms, setup $(mig_kv setup-time) ms, $(mig_mib ram-transferred) MiB sent in $(mig_kv ram-dirty-sync-count) dirty syncs"
	mig_qmp quit "$VUS_TMP/src.qmp" >/dev/null
	# The guest on the destination may go on to its next fio run.
	mig_qmp send "$VUS_TMP/dst.ttyS1" migrated >/dev/null ||
		vus_fail "could not reach the destination's ttyS1 (log $QMPLOG)"
	return 0
}

# mig_slowfs N: LUN N's backing file served through slowfs at $VUS_TMP/slowN/disk.
MIG_SLOWFS_PIDS=()
mig_slowfs() {
	local dir=$VUS_TMP/slow$1 i
	mkdir -p "$dir"
	"$MIG_SLOWFS" "$VUS_TMP/lun$1.img" "$dir" "$MIG_SLOW_US" 8>&- 2>>"$QMPLOG" &
	MIG_SLOWFS_PIDS+=("$!")
	for ((i = 0; i < 100; i++)); do
		[ -f "$dir/disk" ] && return 0
		sleep 0.05
	done
	vus_fail "slowfs did not mount $dir"
	return 1
}
mig_slowfs_stop() {
	local p d
	for d in "$VUS_TMP"/slow?; do
		[ -d "$d" ] && umount "$d" 2>/dev/null
	done
	for p in "${MIG_SLOWFS_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	MIG_SLOWFS_PIDS=()
}

# mig_scenario SCEN [DEVICE-PROPS [slow]]: one whole migration, both daemons and
# both VMs started and stopped inside.  DEVICE-PROPS (e.g. "a=on,b=off") go
# on the controller device of both ends.
mig_scenario() {
	MIG_SCEN=$1
	MIG_PROPS=${2:-}
	local slow=${3:-}
	local srclog=$VUS_LOGDIR/$NAME.$MIG_SCEN.src.serial.log
	local dstlog=$VUS_LOGDIR/$NAME.$MIG_SCEN.dst.serial.log
	local srcvm dstvm src_rc dst_rc t0 lun n spanned=0 ok
	vus_log "scenario $MIG_SCEN${MIG_PROPS:+ (device properties $MIG_PROPS)}"
	echo "=== $NAME scenario $MIG_SCEN" >>"$QMPLOG"
	rm -f "$srclog" "$dstlog" "$VUS_LOGDIR/$NAME.$MIG_SCEN".*.run-vm.log "$VUS_TMP"/lun?.img "$VUS_TMP"/*.qmp "$VUS_TMP"/*.ttyS1 "$VUS_TMP/mig.sock"
	truncate -s ${MIG_FILE_MIB}M "$VUS_TMP/lun0.img" "$VUS_TMP/lun1.img"
	truncate -s ${MIG_RO_MIB}M "$VUS_TMP/lun2.img"
	local specs=("type=file,path=$VUS_TMP/lun0.img,direct=on,lun=0"
		"type=file,path=$VUS_TMP/lun1.img,direct=on,lun=1"
		"type=file,path=$VUS_TMP/lun2.img,direct=on,lun=2")
	if [ -n "$slow" ]; then
		mig_slowfs 0 && mig_slowfs 1 || return 1
		specs[0]="type=file,path=$VUS_TMP/slow0/disk,lun=0"
		specs[1]="type=file,path=$VUS_TMP/slow1/disk,lun=1"
	fi
	SRC_DPID=
	DST_DPID=
	mig_backend src "${specs[@]}" && mig_backend dst "${specs[@]}" || return 1

	t0=$(now)
	mig_vm src "${SRC_ARGS[@]}"
	srcvm=$MIG_VMPID
	mig_vm dst "${DST_ARGS[@]}" -incoming "unix:$VUS_TMP/mig.sock"
	dstvm=$MIG_VMPID
	if ! mig_drive "$srclog" "$srcvm" "$dstvm"; then
		[ -n "$MIG_SKIP" ] || vus_log "stopping both VMs after a failed step"
		mig_qmp quit "$VUS_TMP/src.qmp" >/dev/null
		mig_qmp quit "$VUS_TMP/dst.qmp" >/dev/null
	fi
	wait "$srcvm"
	src_rc=$?
	wait "$dstvm"
	dst_rc=$?
	vus_log "scenario $MIG_SCEN: VMs done after $(secs_since "$t0") s"
	if [ -z "$MIG_SKIP" ]; then
		# The source ends without a result marker (run-vm.sh: 3) once
		# quit after the migration; QEMU itself must have exited 0.
		grep -a -q '^# qemu exit 0 ' "$srclog" ||
			vus_fail "source QEMU: $(grep -a '^# qemu exit' "$srclog") $(cat "$VUS_LOGDIR/$NAME.$MIG_SCEN.src.run-vm.log") (run-vm.sh $src_rc, log $srclog)"
		if [ "$dst_rc" != 0 ]; then
			vus_fail "guest half on the destination failed (run-vm.sh $dst_rc, log $dstlog)"
			cat "$VUS_LOGDIR/$NAME.$MIG_SCEN.dst.run-vm.log" >&2
			tr -d '\r' <"$dstlog" | grep -a -E '^VUS-CHECK-FAIL|^VUS-WARN|^    \|' | head -30 >&2
		fi
		# A run in progress at the switch: started in the source's log,
		# ended in the destination's.
		for lun in 0 1 2; do
			n=$(tr -d '\r' <"$srclog" | sed -n "s/^VUS-MIG: \[fio $lun \([0-9]*\) start\]/\1/p" | tail -1)
			if [ -n "$n" ] && ! grep -a -q -F "[fio $lun $n end" "$srclog" &&
				grep -a -q -F "[fio $lun $n end ok" "$dstlog"; then
				vus_log "LUN $lun: fio run $n was in progress at the switch and verified on the destination"
				spanned=$((spanned + 1))
			else
				vus_log "LUN $lun: between two fio runs at the switch (last run started on the source: ${n:-none})"
			fi
		done
		[ "$spanned" -gt 0 ] || vus_fail "no fio run was in progress at the switch"
		if [ -n "$slow" ]; then
			# What crossed the switch in flight: the destination took it over.
			local dlog=$VUS_LOGDIR/$NAME.$MIG_SCEN.dst.daemon.log rings reqs
			rings=$(grep -c 'resubmitting' "$dlog")
			reqs=$(sed -n 's/.*resubmitting \([0-9]*\) request.*/\1/p' "$dlog" | awk '{ s += $1 } END { print s + 0 }')
			vus_log "RESULT $NAME/$MIG_SCEN: $reqs request(s) in flight at the switch, resubmitted by the destination on $rings ring(s)"
			[ "$reqs" -ge 1 ] ||
				vus_fail "no request crossed the switch in flight (nothing resubmitted on the destination, log $dlog)"
		fi
		tr -d '\r' <"$dstlog" | grep -a -E '^VUS-KV: ' | sed 's/^VUS-KV: /  /' >&2
		ok=$([ "$VUS_FAILS" = 0 ] && echo PASS || echo FAIL)
		vus_log "RESULT $NAME/$MIG_SCEN ($ok): QEMU $("$QEMU" --version | head -1 | awk '{ print $4 }'), downtime $(mig_kv downtime) ms, total-time $(mig_kv total-time) ms, setup-time $(mig_kv setup-time) ms, transferred $(mig_mib ram-transferred) MiB"
	fi
	mig_stop_daemon "$SRC_DPID" "$VUS_LOGDIR/$NAME.$MIG_SCEN.src.daemon.log"
	mig_stop_daemon "$DST_DPID" "$VUS_LOGDIR/$NAME.$MIG_SCEN.dst.daemon.log"
	mig_slowfs_stop
	MIG_DONE=$((MIG_DONE + 1))
	[ -z "$MIG_SKIP" ]
}

"$VUS_ROOT/scripts/guest/build-guest.sh" || vus_fail "building the guest failed"
# The scenarios: name and extra controller properties.
MIG_DONE=0
MIG_WANT=0
MIG_SLOWFS=${VUS_SLOWFS:-$VUS_ROOT/build/tests/slowfs}
for scen in ${VUS_MIG_SCENARIOS:-drain inflight}; do
	MIG_WANT=$((MIG_WANT + 1))
	case "$scen" in
	drain) mig_scenario drain "" ;;
	inflight)
		if ! "$QEMU" -device vhost-user-scsi-pci,help 2>/dev/null | grep -q inflight-migration; then
			vus_log "scenario inflight skipped: $QEMU has no inflight-migration property (this project's QEMU series adds it)"
			MIG_DONE=$((MIG_DONE + 1))
		elif [ ! -x "$MIG_SLOWFS" ]; then
			vus_fail "no $MIG_SLOWFS (make build/tests/slowfs)"
		else
			mig_scenario inflight inflight-migration=on slow
		fi
		;;
	*) vus_fail "unknown scenario $scen" ;;
	esac
	# A skip only when nothing else went wrong (a daemon's sanitizer report...).
	[ -n "$MIG_SKIP" ] && [ "$VUS_FAILS" = 0 ] && vus_skip "$MIG_SKIP"
	[ -n "$MIG_SKIP" ] && break
done
# bash abandons a whole top-level command (the loop) on an expansion error:
# a scenario that did not reach its end must not pass.
[ -n "$MIG_SKIP" ] || [ "$MIG_DONE" = "$MIG_WANT" ] ||
	vus_fail "$((MIG_WANT - MIG_DONE)) scenario(s) did not run to their end"
vus_finish
