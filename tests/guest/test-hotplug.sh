#!/bin/bash
# LUN hotplug and resize through the JSON-RPC socket reach a running guest
# (issue #10), while the guest runs verified fio on LUN 0 the whole time:
#
#   1. vhost-user-scsi-ctl lun attach: the new disk appears in the guest
#      without a manual rescan (the virtio-scsi RESCAN event; the guest only
#      watches /sys/class/scsi_disk), and is read and written; lun detach:
#      the disk disappears (REMOVED event).
#   2. N more attach/detach cycles (50, with either daemon), each with a
#      fresh ram bdev (bdev create ... lun attach ... lun detach ... bdev
#      delete), the guest seeing every disk come and go.  The daemon's fd
#      count after cycle 5 and after cycle N must be equal, and its VmRSS
#      within HP_RSS_SLACK_KB (plain daemon only: ASan's quarantine grows).
#   3. bdev resize: a ram LUN to a new size, a file LUN to a new size (the
#      daemon extends the file) and a file LUN re-read after the host
#      extended its file: /sys/block/sdX/size follows each time, and the
#      sector past the old end is readable.
#   4. fio (libaio, direct, randrw, crc32c with verify_backlog, QD 2 x 8)
#      ends with err=0 and no verify failure; the kernel log has no error
#      about LUN 0 and shows LUN 0 got REPORTED LUNS DATA HAS CHANGED.
#
# The host drives the CLI while the VM runs; the two halves meet through
# the serial log: the guest prints "VUS-HP: [STEP ...]" markers and polls
# sysfs, the host polls the log for the markers (hp_wait).
#
# Flavours: the plain daemon, then the ASan+UBSan one when build/asan has it
# (any sanitizer report fails).  Knobs: VUS_HP_FLAVOURS="plain asan",
# VUS_HP_CYCLES (plain, default 50), VUS_HP_ASAN_CYCLES (default 50: the ASan
# daemon goes through the same cycles).
HP_LUN0_MIB=64          # LUN 0: a file LUN from the command line, fio's target
HP_RAM_MIB=64           # the hotplugged ram bdev
HP_RAM_RESIZED_MIB=128  # ... after bdev resize size=
HP_FILE_MIB=32          # the file bdev of the resize step
HP_FILE_RESIZED_MIB=48  # ... after bdev resize size= (the daemon extends the file)
HP_FILE_REREAD_MIB=64   # ... after the host extends the file and bdev resize (no size)
HP_WAIT_S=30            # the longest either side waits for the other's step
HP_RSS_SLACK_KB=2048

if [ "$1" = guest ]; then
	. /tests/lib-guest.sh
	CYCLES=${2:-51}
	mark() { echo "VUS-HP: [$*]"; }
	# What the guest sees when a step fails: features (bit 1 HOTPLUG, bit 2
	# CHANGE of virtio-scsi), devices, REPORT LUNS, the kernel's last words.
	diag() {
		for v in /sys/bus/virtio/devices/*; do
			[ "$(cat "$v/device")" = 0x0008 ] && echo "virtio-scsi ${v##*/} features $(cat "$v/features")"
		done
		echo "scsi devices: $(ls /sys/class/scsi_device | tr '\n' ' ')"
		echo "scsi disks: $(ls /sys/class/scsi_disk | tr '\n' ' ')"
		sg=$(g_sg_of_lun 0) && sg_luns "$sg" 2>&1 | sed 's/^/sg_luns: /'
		dmesg | tail -15 | sed 's/^/dmesg: /'
	}
	abort() {
		g_fail "$*"
		diag
		mark abort
		[ -n "$fiopid" ] && kill -TERM "$fiopid" 2>/dev/null
		g_done
	}
	sectors() { echo $(($1 * 2048)); }

	# hp_present L: the block device name of target 0 LUN L once sd has
	# bound it (its capacity is read before the disk is added).
	hp_present() {
		for d in /sys/class/scsi_disk/*:0:0:"$1"; do
			[ -d "$d" ] || continue
			for b in "$d"/device/block/*; do
				[ -e "$b/size" ] && echo "${b##*/}" && return 0
			done
		done
		return 1
	}
	# hp_gone L NAME: no SCSI device at target 0 LUN L and no block device NAME.
	hp_gone() {
		for d in /sys/class/scsi_device/*:0:0:"$1" /sys/class/scsi_disk/*:0:0:"$1"; do
			[ -e "$d" ] && return 1
		done
		[ ! -e "/sys/block/$2" ]
	}
	# hp_until TENTHS COMMAND...: poll every 0.1 s.
	hp_until() {
		n=$1
		shift
		while ! "$@"; do
			n=$((n - 1))
			[ "$n" -le 0 ] && return 1
			sleep 0.1
		done
	}
	size_is() { [ "$(cat "/sys/block/$1/size" 2>/dev/null)" = "$2" ]; }
	sizes_are() { size_is "$1" "$2" && size_is "$3" "$4"; }
	# One O_DIRECT read of the disk's last 512-byte sector.
	read_last() {
		dd if="/dev/$1" of=/dev/null bs=512 skip=$(($(cat "/sys/block/$1/size") - 1)) count=1 \
			iflag=direct 2>/dev/null
	}

	fiopid=
	g_wait_disks 1 || abort "no LUN 0"
	sd0=$(g_disk_of_lun 0) || abort "no disk for LUN 0"
	a0=$(g_addr_of_lun 0)
	n0=${sd0#/dev/}
	half=$((HP_LUN0_MIB / 2))
	# Two jobs on their own halves (nobody overwrites another job's
	# blocks), QD 8 each; verify_backlog checks what was written while the
	# test runs (a time-based job stopped by a signal never reaches fio's
	# final verify pass).  Reads of blocks not written yet are not checked.
	cat >/tmp/hp.fio <<-JOB
		[global]
		ioengine=libaio
		direct=1
		iodepth=8
		rw=randrw
		bsrange=4k-64k
		size=${half}M
		verify=crc32c
		verify_backlog=64
		verify_fatal=1
		verify_dump=0
		time_based=1
		runtime=3600
		group_reporting=1
		filename=$sd0
		[lo]
		offset=0
		[hi]
		offset=${half}M
	JOB
	fio --output=/tmp/fio.out --eta=never /tmp/hp.fio 2>/tmp/fio.err &
	fiopid=$!
	# Ready once fio's writes reach the disk (field 5 of stat: writes completed).
	fio_writing() { [ "$(awk '{ print $5 }' "/sys/block/$n0/stat")" -gt 100 ]; }
	hp_until 600 fio_writing || abort "fio did not start writing to $sd0 within 60 s"
	g_ok "fio running on $sd0 ($a0)"
	read -r t_ready _ </proc/uptime
	mark ready

	# 1 + 2: cycle 1 is the first attach, checked more closely.
	i=1
	while [ "$i" -le "$CYCLES" ]; do
		echo "cycle $i" >/run/vus.phase
		hp_until $((HP_WAIT_S * 10)) hp_present 1 >/dev/null ||
			abort "cycle $i: target 0 LUN 1 did not appear within ${HP_WAIT_S}s (no manual rescan)"
		name=$(hp_present 1)
		size=$(cat "/sys/block/$name/size")
		if [ "$i" = 1 ]; then
			g_expect_eq "hotplugged LUN 1 ($name) size in sectors" "$size" "$(sectors $HP_RAM_MIB)"
			g_roundtrip 1 "hotplugged LUN 1 4 MiB O_DIRECT read-back"
		fi
		dd if="/dev/$name" of=/dev/null bs=64k count=1 iflag=direct 2>/dev/null ||
			g_fail "cycle $i: O_DIRECT read from the hotplugged /dev/$name"
		mark "up $i $name $size"
		hp_until $((HP_WAIT_S * 10)) hp_gone 1 "$name" ||
			abort "cycle $i: $name (LUN 1) still present ${HP_WAIT_S}s after the host detached it"
		mark "down $i"
		i=$((i + 1))
	done
	g_ok "$CYCLES hotplug cycles seen"

	# 3: resize.  LUN 1 = ram, LUN 2 = file.
	echo resize >/run/vus.phase
	both_present() { hp_present 1 >/dev/null && hp_present 2 >/dev/null; }
	hp_until $((HP_WAIT_S * 10)) both_present || abort "resize: LUNs 1 and 2 did not both appear"
	r=$(hp_present 1)
	f=$(hp_present 2)
	g_expect_eq "ram LUN 1 ($r) size before resize" "$(cat "/sys/block/$r/size")" "$(sectors $HP_RAM_MIB)"
	g_expect_eq "file LUN 2 ($f) size before resize" "$(cat "/sys/block/$f/size")" "$(sectors $HP_FILE_MIB)"
	mark "rs-up $r $f"
	if hp_until $((HP_WAIT_S * 10)) sizes_are "$r" "$(sectors $HP_RAM_RESIZED_MIB)" \
		"$f" "$(sectors $HP_FILE_RESIZED_MIB)"; then
		g_ok "bdev resize size=: /sys/block/$r/size and /sys/block/$f/size followed"
	else
		g_fail "bdev resize size=: /sys/block/$r/size = $(cat "/sys/block/$r/size") (want $(sectors $HP_RAM_RESIZED_MIB)), /sys/block/$f/size = $(cat "/sys/block/$f/size") (want $(sectors $HP_FILE_RESIZED_MIB)) after ${HP_WAIT_S}s"
	fi
	g_check "read the last sector of the resized ram LUN" read_last "$r"
	g_check "read the last sector of the resized file LUN" read_last "$f"
	mark rs-1
	if hp_until $((HP_WAIT_S * 10)) size_is "$f" "$(sectors $HP_FILE_REREAD_MIB)"; then
		g_ok "bdev resize (re-read): /sys/block/$f/size followed the backing file"
	else
		g_fail "bdev resize (re-read): /sys/block/$f/size = $(cat "/sys/block/$f/size"), want $(sectors $HP_FILE_REREAD_MIB) after ${HP_WAIT_S}s"
	fi
	g_check "read the last sector of the re-read file LUN" read_last "$f"
	mark rs-2

	# 4: fio's verdict and the kernel's.
	echo fio-end >/run/vus.phase
	g_check "fio still running at the end" kill -0 "$fiopid"
	kill -TERM "$fiopid" 2>/dev/null
	wait "$fiopid"
	rc=$?
	sed 's/^/  /' /tmp/fio.out /tmp/fio.err
	# SIGTERM makes fio stop and report, exit status 128 (0 if it was done).
	[ "$rc" = 0 ] || [ "$rc" = 128 ] || g_fail "fio exit status $rc"
	g_grep "fio reported err=0" "err= *0" /tmp/fio.out
	if grep -q -E "err= *[1-9]|verify: bad|bad magic|crc32c: verify failed|io_u error" /tmp/fio.out; then
		g_fail "fio errors or verification failures on LUN 0"
	fi
	g_kv fio_io "$(sed -n 's/^ *\(READ\|WRITE\): .*\(io=[^ ,]*\).*\(run=[^ ,]*\).*/\1 \2 \3/p' /tmp/fio.out | tr '\n' ' ')"
	dmesg >/tmp/dmesg
	grep -E "$a0|\\[$n0\\]|[^a-z]$n0([^a-z]|\$)" /tmp/dmesg >/tmp/dmesg0
	g_kv lun0_kernel_lines "$(wc -l </tmp/dmesg0)"
	nrl=$(grep -c 'LUN assignments on this target have changed' /tmp/dmesg0)
	g_kv lun0_reported_luns_changed "$nrl"
	[ "$nrl" -gt 0 ] || g_fail "LUN 0 ($a0) never got REPORTED LUNS DATA HAS CHANGED (no 'LUN assignments ... changed' in dmesg)"
	# The power-on unit attention of the boot-time scan is no error; one
	# once fio runs would be a reset of LUN 0.
	awk -v t="$t_ready" '/Power-on or device reset occurred/ {
		s = $0; sub(/^\[ */, "", s); sub(/\].*/, "", s); if (s + 0 < t + 0) next } { print }' \
		/tmp/dmesg0 >/tmp/dmesg0.run
	if grep -i -E 'I/O error|critical|medium error|hardware error|aborted command|timing out|abort|reset|FAILED|rejecting|offline|hostbyte' /tmp/dmesg0.run >/tmp/dmesg0.bad; then
		g_fail "kernel errors about LUN 0 ($a0, $n0):"
		sed 's/^/    | /' /tmp/dmesg0.bad | head -20
	else
		g_ok "no kernel errors about LUN 0 ($a0, $n0)"
	fi
	# For the record: what the kernel said about the other disks.
	grep -i -E 'error|fail' /tmp/dmesg | grep -v -E "$a0|\\[$n0\\]" | sort | uniq -c | sort -rn | head -10 |
		sed 's/^/  other disks: /'
	mark end
	g_done
fi

. "$(dirname "$0")/lib.sh"

# Without a flavour: run each flavour as its own test (own daemon, VM, logs).
vus_flavours HP hotplug

if [ "$VUS_HP_FLAVOUR" = asan ]; then
	NAME=hotplug-asan
	LOOP=${VUS_HP_ASAN_CYCLES:-50}
else
	NAME=hotplug
	LOOP=${VUS_HP_CYCLES:-50}
fi
CYCLES=$((LOOP + 1)) # the first attach/detach, then LOOP more
MEASURE_A=$((1 + 5)) # after loop cycle 5 ...
MEASURE_B=$CYCLES    # ... and after the last one

vus_setup "$NAME"
[ "$VUS_HP_FLAVOUR" = asan ] && vus_require_daemon
CTL=${VUS_CTL:-$VUS_ROOT/build/vhost-user-scsi-ctl}
RPC=$VUS_TMP/rpc.sock
QMP=$VUS_TMP/qmp.sock
CTLLOG=$VUS_LOGDIR/$NAME.ctl.log
: >"$CTLLOG"
VM=
QPID=$VUS_TMP/qemu.pid
HP_OUT=

# hp_ctl STEP ARGS...: one CLI call, logged; a failure names the step.
hp_ctl() {
	local step=$1 rc
	shift
	echo "\$ vhost-user-scsi-ctl $* ($(date +%T.%N | cut -c1-12))" >>"$CTLLOG"
	HP_OUT=$("$CTL" -s "$RPC" --timeout 20 "$@" 2>&1)
	rc=$?
	[ -n "$HP_OUT" ] && echo "$HP_OUT" | sed 's/^/  /' >>"$CTLLOG"
	if [ "$rc" != 0 ]; then
		vus_fail "$step: 'vhost-user-scsi-ctl $*' exited $rc: $HP_OUT"
		return 1
	fi
}

# hp_wait STEP: wait for the guest's "VUS-HP: [STEP" marker.
hp_wait() {
	# Longer than the guest waits: its own timeout says more (diag).
	local n=$(((HP_WAIT_S + 15) * 20))
	[ "$1" = ready ] && n=$((n * 3)) # boot + fio start
	local i
	for ((i = 0; i < n; i++)); do
		grep -a -q -F "VUS-HP: [$1" "$VUS_SERIAL" 2>/dev/null && return 0
		if grep -a -q -E '^VUS-HP: \[abort|^VUS-TEST-RESULT|^VUS-GUEST-TIMEOUT' "$VUS_SERIAL" 2>/dev/null; then
			vus_fail "waiting for the guest's '$1': the guest gave up (log $VUS_SERIAL)"
			return 1
		fi
		if ! kill -0 "$VM" 2>/dev/null; then
			vus_fail "waiting for the guest's '$1': the VM ended (log $VUS_SERIAL)"
			return 1
		fi
		sleep 0.05
	done
	vus_fail "the guest did not report '$1' within $((n / 20))s (log $VUS_SERIAL)"
	return 1
}

now() { date +%s.%N; }
ms_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%d", (b - a) * 1000 }'; }
# min/median/max of a list of numbers
stats3() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
	if (NR) printf "min %d, median %d, max %d ms (%d)", v[1], v[int((NR + 1) / 2)], v[NR], NR }'; }

# The daemon's open fds, once two samples 0.1 s apart agree (an RPC
# client's connection may still be closing when the CLI has exited).
fd_count() {
	local a b i
	a=$(ls "/proc/$VUS_DPID/fd" | wc -l)
	for i in 1 2 3 4 5 6 7 8 9 10; do
		sleep 0.1
		b=$(ls "/proc/$VUS_DPID/fd" | wc -l)
		[ "$a" = "$b" ] && break
		a=$b
	done
	echo "$b"
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$VUS_DPID/status"; }

hp_stop_vm() {
	[ -f "$QPID" ] && kill "$(cat "$QPID")" 2>/dev/null
}

# The operations, through the CLI (daemon) or QMP (VUS_BACKEND=qemu: QEMU's
# own virtio-scsi sends the same events, which validates the guest half and
# the handshake without the daemon; a ram bdev is then a sparse file).
hp_qmp() {
	echo "\$ qmp $1" >>"$CTLLOG"
	HP_OUT=$(/usr/bin/python3 - "$QMP" "$1" <<-'EOF' 2>&1
		import json, socket, sys
		s = socket.socket(socket.AF_UNIX)
		s.settimeout(20)
		s.connect(sys.argv[1])
		f = s.makefile("rw")
		def reply():
		    while True:
		        m = json.loads(f.readline())
		        if "event" not in m:
		            return m
		reply()
		for cmd in ('{"execute": "qmp_capabilities"}', sys.argv[2]):
		    f.write(cmd + "\n")
		    f.flush()
		    r = reply()
		    if "error" in r:
		        print(r["error"].get("desc"))
		        sys.exit(1)
	EOF
	)
	local rc=$?
	[ -n "$HP_OUT" ] && echo "$HP_OUT" | sed 's/^/  /' >>"$CTLLOG"
	[ "$rc" = 0 ] || vus_fail "$2: QMP $1 failed: $HP_OUT"
	return "$rc"
}

# hp_bdev_create STEP NAME ram MIB | STEP NAME file PATH
hp_bdev_create() {
	if [ "$VUS_BACKEND" = daemon ]; then
		if [ "$3" = ram ]; then
			hp_ctl "$1" bdev create name="$2" type=ram size="$4"M
		else
			hp_ctl "$1" bdev create name="$2" type=file path="$4" direct=on
		fi
		return
	fi
	local path=$4
	if [ "$3" = ram ]; then
		path=$VUS_TMP/$2.ram
		rm -f "$path"
		truncate -s "$4"M "$path"
	fi
	hp_qmp '{"execute": "blockdev-add", "arguments": {"driver": "raw", "node-name": "'"$2"'", "file": {"driver": "file", "filename": "'"$path"'"}}}' "$1"
}
# hp_lun_attach STEP NAME LUN: the daemon's default LUN must be LUN.
hp_lun_attach() {
	if [ "$VUS_BACKEND" = daemon ]; then
		hp_ctl "$1" lun attach controller=default bdev="$2" || return 1
	else
		hp_qmp '{"execute": "device_add", "arguments": {"driver": "scsi-hd", "id": "lun'"$3"'", "bus": "scsi0.0", "drive": "'"$2"'", "scsi-id": 0, "lun": '"$3"'}}' "$1" || return 1
		HP_OUT="attached as target 0 lun $3"
	fi
	if [ "$HP_OUT" != "attached as target 0 lun $3" ]; then
		vus_fail "$1: lun attach printed '$HP_OUT', want 'attached as target 0 lun $3'"
		return 1
	fi
}
hp_lun_detach() {
	if [ "$VUS_BACKEND" = daemon ]; then
		hp_ctl "$1" lun detach controller=default target=0 lun="$2"
	else
		hp_qmp '{"execute": "device_del", "arguments": {"id": "lun'"$2"'"}}' "$1"
	fi
}
hp_bdev_delete() {
	if [ "$VUS_BACKEND" = daemon ]; then
		hp_ctl "$1" bdev delete name="$2"
	else
		hp_qmp '{"execute": "blockdev-del", "arguments": {"node-name": "'"$2"'"}}' "$1"
	fi
}
# hp_bdev_resize STEP NAME [MIB]: without MIB, the daemon re-reads the file's
# size (QEMU has no such thing: it is told the file's size).
hp_bdev_resize() {
	if [ "$VUS_BACKEND" = daemon ]; then
		hp_ctl "$1" bdev resize name="$2" ${3:+size="$3"M}
	else
		local bytes
		if [ -n "${3:-}" ]; then bytes=$(($3 << 20)); else bytes=$(stat -c %s "$VUS_TMP/$2.img"); fi
		hp_qmp '{"execute": "block_resize", "arguments": {"node-name": "'"$2"'", "size": '"$bytes"'}}' "$1"
	fi
}

# The host's side of the steps; returns at the first failure (the caller
# stops the VM then).
hp_drive() {
	local i t up=() down=() fd_a rss_a fd_b rss_b sz
	hp_wait ready || return 1
	vus_log "guest ready: fio running on LUN 0"
	for i in $(seq 1 "$CYCLES"); do
		hp_bdev_create "cycle $i" hp ram $HP_RAM_MIB || return 1
		t=$(now)
		hp_lun_attach "cycle $i" hp 1 || return 1
		hp_wait "up $i " || return 1
		up+=("$(ms_since "$t")")
		t=$(now)
		hp_lun_detach "cycle $i" 1 || return 1
		hp_wait "down $i]" || return 1
		down+=("$(ms_since "$t")")
		hp_bdev_delete "cycle $i" hp || return 1
		[ -n "$VUS_DPID" ] || continue
		echo "# after cycle $i: $(ls "/proc/$VUS_DPID/fd" | wc -l) fds, VmRSS $(rss_kb) kB" >>"$CTLLOG"
		if [ "$i" = 1 ]; then
			vus_log "first attach: the guest saw the disk after ${up[0]} ms, and it was gone ${down[0]} ms after the detach"
		elif [ "$i" = "$MEASURE_A" ]; then
			fd_a=$(fd_count)
			rss_a=$(rss_kb)
			vus_log "after loop cycle $((i - 1)): $fd_a fds, VmRSS $rss_a kB"
		elif [ "$i" = "$MEASURE_B" ]; then
			fd_b=$(fd_count)
			rss_b=$(rss_kb)
			vus_log "after loop cycle $((i - 1)): $fd_b fds, VmRSS $rss_b kB"
		fi
	done
	vus_log "attach -> disk in the guest: $(stats3 "${up[@]}")"
	vus_log "detach -> disk gone from the guest: $(stats3 "${down[@]}")"
	if [ -n "${fd_a:-}" ] && [ -n "${fd_b:-}" ]; then
		[ "$fd_a" = "$fd_b" ] || vus_fail "fd leak: $fd_a fds after loop cycle 5, $fd_b after loop cycle $LOOP"
		if [ "$VUS_HP_FLAVOUR" = asan ]; then
			vus_log "VmRSS not compared for the ASan daemon (its quarantine holds freed memory)"
		elif [ $((rss_b - rss_a)) -gt "$HP_RSS_SLACK_KB" ]; then
			vus_fail "VmRSS grew by $((rss_b - rss_a)) kB from loop cycle 5 to $LOOP (allowed $HP_RSS_SLACK_KB)"
		fi
	fi

	# Resize: LUN 1 ram, LUN 2 file.
	truncate -s ${HP_FILE_MIB}M "$VUS_TMP/rf.img"
	hp_bdev_create resize hp ram $HP_RAM_MIB || return 1
	hp_lun_attach resize hp 1 || return 1
	hp_bdev_create resize rf file "$VUS_TMP/rf.img" || return 1
	hp_lun_attach resize rf 2 || return 1
	hp_wait "rs-up" || return 1
	hp_bdev_resize resize hp $HP_RAM_RESIZED_MIB || return 1
	hp_bdev_resize resize rf $HP_FILE_RESIZED_MIB || return 1
	sz=$(stat -c %s "$VUS_TMP/rf.img")
	[ "$sz" = $((HP_FILE_RESIZED_MIB << 20)) ] ||
		vus_fail "bdev resize size=${HP_FILE_RESIZED_MIB}M left the backing file at $sz bytes"
	hp_wait "rs-1" || return 1
	truncate -s ${HP_FILE_REREAD_MIB}M "$VUS_TMP/rf.img"
	hp_bdev_resize resize rf || return 1
	hp_wait "rs-2" || return 1
	if [ "$VUS_BACKEND" = daemon ]; then
		hp_ctl "end" bdev list
		hp_ctl "end" lun list controller=default
		hp_ctl "end" stats
	fi
	return 0
}

if [ "$VUS_BACKEND" = daemon ] && [ ! -x "$CTL" ]; then
	vus_fail "no $CTL (make)"
elif [ "$VUS_BACKEND" = daemon ] && ! "$VUS_DAEMON" --help 2>&1 | grep -q -- --rpc-socket; then
	vus_fail "$VUS_DAEMON has no --rpc-socket (the daemon side of issue #10)"
else
	truncate -s ${HP_LUN0_MIB}M "$VUS_TMP/lun0.img"
	VUS_DAEMON_EXTRA="--rpc-socket $RPC"
	if vus_start_backend --threads 2 --queues 2 "type=file,path=$VUS_TMP/lun0.img,direct=on,lun=0"; then
		if [ "$VUS_BACKEND" = daemon ]; then
			for _ in $(seq 1 100); do
				[ -S "$RPC" ] && break
				sleep 0.05
			done
			[ -S "$RPC" ] || vus_fail "no RPC socket $RPC"
			hp_ctl "start" lun list controller=default
		fi
		vmt=$((90 + 3 * CYCLES))
		t0=$(now)
		"$VUS_ROOT/scripts/guest/run-vm.sh" --test test-hotplug --args "$CYCLES" --log "$VUS_SERIAL" \
			--timeout "$vmt" -- "${VUS_DEV_ARGS[@]}" -pidfile "$QPID" \
			-qmp "unix:$QMP,server=on,wait=off" 8>&- &
		VM=$!
		if ! hp_drive; then
			vus_log "stopping the VM after a failed step"
			hp_stop_vm
		fi
		wait "$VM"
		rc=$?
		vus_log "guest test-hotplug: rc=$rc in $(ms_since "$t0") ms"
		if [ "$rc" != 0 ]; then
			vus_fail "guest half failed (rc=$rc, log $VUS_SERIAL)"
			tr -d '\r' <"$VUS_SERIAL" | grep -a -E '^VUS-CHECK-FAIL|^VUS-WARN|^    \||^(virtio-scsi|scsi devices|scsi disks|sg_luns)' | head -30 >&2
		fi
		tr -d '\r' <"$VUS_SERIAL" | grep -a -E '^VUS-KV: (fio_io|lun0_)' | sed 's/^VUS-KV: /  /' >&2
		HP_COMPLETE=1
	fi
fi
# bash abandons a whole top-level command on an expansion error: make sure
# the block above ran to its end, and that no VM outlives the test.
if [ -n "$VM" ] && kill -0 "$VM" 2>/dev/null; then
	hp_stop_vm
	wait "$VM"
fi
[ "$VUS_FAILS" = 0 ] && [ "${HP_COMPLETE:-0}" != 1 ] && vus_fail "the host half did not run to its end"
vus_stop_backend
vus_finish
