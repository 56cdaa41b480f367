#!/bin/bash
# A Ceph RBD image as the guest's disk (type=rbd, single-node cluster from
# tests/remote/ceph-cluster.sh): fio random writes with crc32c verification,
# the same again while the host stops the only OSD for 8 s and starts it
# again (the guest must see no error and no bad data), then mkfs.ext4, files,
# e2fsck -fn.  The cluster in $VUS_CEPH_DIR (default build/ceph) is reused
# when it runs, else started here and stopped at the end.
OUTAGE=8

if [ "$1" = guest ]; then
	. /tests/lib-guest.sh
	g_wait_disks 1 || g_done
	sd=$(g_disk_of_lun 0) || { g_fail "no disk for LUN 0"; g_done; }
	# What one sets for network storage: a command may wait out a whole OSD
	# restart (8 s down, then boot and peering, slow under a TCG guest on two
	# cores).  The default 30 s would turn a slow restart into an abort.
	echo 120 >"/sys/block/${sd#/dev/}/device/timeout" || g_fail "setting the command timeout"
	job() { # name size
		cat >/tmp/$1.fio <<-JOB
			[global]
			ioengine=libaio
			direct=1
			iodepth=16
			rw=randwrite
			bsrange=4k-64k
			size=$2
			verify=crc32c
			verify_fatal=1
			verify_dump=0
			[$1]
			filename=$sd
		JOB
	}
	job verify 32M
	g_run fio --output-format=normal /tmp/verify.fio || g_fail "fio exit status"
	g_grep "fio reported no errors" "err= *0" "$G_OUT"
	# The host stops the OSD ~2 s after this line, while fio writes.
	job fault 96M
	echo "VUS-FAULT: go"
	g_run fio --output-format=normal /tmp/fault.fio || g_fail "fio exit status across the OSD outage"
	echo "VUS-FAULT: done"
	g_grep "fio across the OSD outage reported no errors" "err= *0" "$G_OUT"
	if grep -q -E "verify: bad|bad magic|crc32c: verify failed" "$G_OUT"; then
		g_fail "fio verification errors"
	fi
	dmesg | grep -E "sd .*(timing out|abort|reset)" | head -5
	g_run mkfs.ext4 -F -q -E nodiscard "$sd" || g_fail "mkfs.ext4"
	mkdir -p /mnt/t
	g_run mount -t ext4 "$sd" /mnt/t || { g_fail "mount"; g_done; }
	dd if=/dev/urandom of=/mnt/t/big bs=1M count=8 2>/dev/null || g_fail "write 8 MiB file"
	sha256sum /mnt/t/big >/tmp/sum
	g_run umount /mnt/t || g_fail "umount"
	g_run e2fsck -fn "$sd" || g_fail "e2fsck -fn (exit $?)"
	echo 3 >/proc/sys/vm/drop_caches
	g_run mount -t ext4 -o ro "$sd" /mnt/t || { g_fail "remount"; g_done; }
	g_check "file contents survive remount" sha256sum -c /tmp/sum
	umount /mnt/t
	g_done
fi

. "$(dirname "$0")/lib.sh"
vus_setup rbd
vus_require_daemon
# The guest waits out the OSD's restart (up to the 120 s command timeout it
# sets): the default 90 s for the whole VM would cut a slow restart short.
VUS_VM_TIMEOUT=${VUS_VM_TIMEOUT:-300}
export VUS_VM_TIMEOUT
CEPH_DIR=${VUS_CEPH_DIR:-$VUS_ROOT/build/ceph}
CLUSTER=$VUS_ROOT/tests/remote/ceph-cluster.sh
export CEPH_CONF=$CEPH_DIR/ceph.conf
command -v ceph-mon >/dev/null || vus_skip "Ceph is not installed (scripts/install-deps.sh)"
started=
if ! "$CLUSTER" status "$CEPH_DIR"; then
	"$CLUSTER" start "$CEPH_DIR" >/dev/null || { vus_fail "starting the Ceph cluster"; vus_finish; }
	started=1
fi
img=guest-rbd
rbd rm --no-progress "rbd/$img" >/dev/null 2>&1
rbd create --size 128M "rbd/$img" || vus_fail "rbd create"

# The fault: once the guest says go, stop the OSD for $OUTAGE s, mid-fio.
(
	vus_wait_serial '^VUS-FAULT: go' 600
	sleep 2
	"$CLUSTER" osd-stop "$CEPH_DIR"
	echo "osd stopped $(date +%T)" >"$VUS_TMP/fault"
	sleep $OUTAGE
	tr -d '\r' <"$VUS_SERIAL" | grep -q '^VUS-FAULT: done' && echo "fio had ended" >>"$VUS_TMP/fault"
	"$CLUSTER" osd-start "$CEPH_DIR" || echo "osd-start failed $(date +%T)" >>"$VUS_TMP/fault"
	echo "osd started $(date +%T)" >>"$VUS_TMP/fault"
	# No mgr, so no PG states: a small write succeeding says the OSD serves again.
	timeout 120 rados -p rbd put vus-fault-probe /etc/hostname &&
		echo "first write served $(date +%T)" >>"$VUS_TMP/fault"
) 8>&- &
fault=$!

# The daemon's librados requests, logged so that a request that never
# completes can be told apart: one the OSD never answered, or one answered
# and then lost on our side (tests/remote/rados-ops.sh reads the log).
client_log=$VUS_TMP/rbd-client.log
CEPH_ARGS="--debug-objecter 10 --debug-rbd 5 --log-file $client_log" \
	vus_start_backend "type=rbd,pool=rbd,image=$img,conf=$CEPH_CONF,lun=0" &&
	vus_run_guest test-rbd
if [ "$VUS_FAILS" != 0 ] && [ -n "$VUS_DPID" ] && kill -0 "$VUS_DPID" 2>/dev/null; then
	# Where it hangs: the rings' indexes (SIGUSR1) and every thread's stack.
	kill -USR1 "$VUS_DPID"
	command -v gdb >/dev/null &&
		timeout 60 gdb -p "$VUS_DPID" -batch -ex "thread apply all bt 12" >"$VUS_LOGDIR/rbd.gdb.log" 2>&1 &&
		vus_log "daemon threads: $VUS_LOGDIR/rbd.gdb.log"
	sleep 0.5
fi
# A guest that never got as far as the fault leaves the injector waiting.
tr -d '\r' <"$VUS_SERIAL" 2>/dev/null | grep -q '^VUS-FAULT: go' || kill "$fault" 2>/dev/null
wait "$fault"
vus_stop_backend
vus_log "fault timeline: $(tr '\n' ' ' <"$VUS_TMP/fault" 2>/dev/null)"
if [ "$VUS_FAILS" != 0 ]; then
	# The daemon's view of the outage, librados', and the guest's.
	grep -a -i -E 'rbd|error|abort|reset|vring|queue' "$VUS_DLOG" | tail -12 >&2
	"$VUS_ROOT/tests/remote/rados-ops.sh" "$client_log" >&2
	timeout 20 ceph health detail 2>&1 | head -4 >&2
	cp "$client_log" "$VUS_LOGDIR/rbd.client.log" 2>/dev/null
	tr -d '\r' <"$VUS_SERIAL" | grep -a -E 'timing out|abort|reset|I/O error|err=' | head -8 >&2
fi
if [ ! -s "$VUS_TMP/fault" ]; then
	vus_fail "the OSD outage never happened"
elif grep -q "fio had ended" "$VUS_TMP/fault"; then
	vus_fail "fio ended before the OSD came back: the outage did not hit its I/O"
else
	vus_log "OSD outage of ${OUTAGE}s during fio"
fi
"$CLUSTER" osd-start "$CEPH_DIR"
rbd rm --no-progress "rbd/$img" >/dev/null 2>&1
rados -p rbd rm vus-fault-probe >/dev/null 2>&1
[ -n "$started" ] && "$CLUSTER" stop "$CEPH_DIR"
vus_finish
