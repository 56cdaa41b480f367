#!/bin/bash
# An iSCSI LUN (tgt on 127.0.0.1, tests/remote/tgt.sh) in a TCG guest.
#
#   guest: fio random writes with crc32c verification; mkfs.ext4, files
#          written, e2fsck -fn clean; then fio verify again while the host
#          kills tgt and starts it again ~3 s later.  Pass: fio exits 0 with
#          no verify failure and no I/O error, and the kernel logged no SCSI
#          error: the daemon held the guest's requests and reissued them.
#   host:  the daemon logged the lost session and the new login.
#
# The guest is run once; the fault comes once its last fio started.
# Skipped without tgtd.
FAULT_RUNTIME=${VUS_ISCSI_FAULT_RUNTIME:-15}

if [ "$1" = guest ]; then
	. /tests/lib-guest.sh
	runtime=${2:-15}
	g_wait_disks 1 || g_done
	sd=$(g_disk_of_lun 0) || { g_fail "no disk for LUN 0"; g_done; }
	cat >/tmp/verify.fio <<-JOB
		[global]
		ioengine=libaio
		direct=1
		iodepth=32
		rw=randwrite
		bsrange=4k-64k
		size=16M
		verify=crc32c
		verify_fatal=1
		verify_dump=0
		filename=$sd
		[v]
	JOB
	g_run fio --output-format=normal /tmp/verify.fio || g_fail "fio exit status"
	g_grep "fio reported no errors" "err= *0" "$G_OUT"

	g_run mkfs.ext4 -F -q "$sd" || g_fail "mkfs.ext4"
	mkdir -p /mnt/t
	if g_run mount -t ext4 "$sd" /mnt/t; then
		dd if=/dev/urandom of=/mnt/t/big bs=1M count=4 2>/dev/null || g_fail "write 4 MiB file"
		i=0
		while [ $i -lt 50 ]; do
			echo "file $i" >/mnt/t/f$i || g_fail "write f$i"
			i=$((i + 1))
		done
		sha=$(sha256sum </mnt/t/big)
		g_run umount /mnt/t || g_fail "umount"
		g_run e2fsck -fn "$sd" || g_fail "e2fsck -fn (exit $?)"
		echo 3 >/proc/sys/vm/drop_caches
		g_run mount -t ext4 -o ro "$sd" /mnt/t || g_fail "remount"
		g_expect_eq "file read back" "$(sha256sum </mnt/t/big)" "$sha"
		umount /mnt/t
	else
		g_fail "mount"
	fi

	# Random writes verified as they go, through the target's disappearance.
	cat >/tmp/fault.fio <<-JOB
		[global]
		ioengine=libaio
		direct=1
		iodepth=16
		rw=randwrite
		bs=4k
		size=16M
		loops=1000
		runtime=$runtime
		verify=crc32c
		verify_backlog=16
		verify_fatal=1
		verify_dump=0
		filename=$sd
		[f]
	JOB
	dmesg -c >/dev/null
	g_kv io_started 1
	fio --output=/tmp/fio.out --eta=never /tmp/fault.fio 2>/tmp/fio.err
	g_expect_eq "fio exit status during the target restart" "$?" 0
	if grep -q -i verify /tmp/fio.err; then
		g_fail "fio reported verify failures"
		head -5 /tmp/fio.err
	fi
	errs=$(grep -o 'err= *[0-9]*' /tmp/fio.out | tr -d ' ' | sort -u | tr '\n' ' ')
	g_expect_eq "fio job errors" "$errs" "err=0 "
	dmesg >/tmp/dmesg
	if grep -i -E 'I/O error|timing out|abort|reset|FAILED|critical' /tmp/dmesg >/tmp/dmesg.bad; then
		g_fail "the kernel logged SCSI errors"
		head -20 /tmp/dmesg.bad
	else
		g_ok "no SCSI error, timeout, abort or reset in the kernel log"
	fi
	g_done
fi

. "$(dirname "$0")/lib.sh"
vus_setup iscsi
vus_require_daemon
command -v tgtd >/dev/null || vus_skip "tgtd is not installed (Debian package tgt)"

TGT=$VUS_ROOT/tests/remote/tgt.sh
export TGT_IQN=iqn.2024-01.org.vhost-user-scsi:guest-test
# Not under VUS_TMP: vus_finish removes that before the EXIT trap runs.
tdir=$(mktemp -d /tmp/vus-iscsi-tgt.XXXXXX)
port=$((20000 + $$ % 12000)) # tgt.sh: at most 32767
# The target goes with the test, however it ends.
trap '"$TGT" stop "$tdir" >/dev/null 2>&1; rm -rf "$tdir"; vus_cleanup' EXIT
"$TGT" start "$tdir" "$port" 64 || vus_fail "tgt did not start"
port=$(cat "$tdir/port" 2>/dev/null) # tgt.sh moves on when the port is taken
LUN="type=iscsi,url=iscsi://127.0.0.1:$port/$TGT_IQN/1,lun=0,timeout=30"
vus_start_daemon "" "$LUN" || vus_finish
VUS_DEV_ARGS=(-chardev "socket,id=vus,path=$VUS_SOCK" -device "vhost-user-scsi-pci,chardev=vus,num_queues=1")

"$VUS_ROOT/scripts/guest/run-vm.sh" --test test-iscsi --args "$FAULT_RUNTIME" --log "$VUS_SERIAL" \
	--timeout $((FAULT_RUNTIME + 150)) -- "${VUS_DEV_ARGS[@]}" 8>&- 2>/dev/null &
vm=$!
if vus_wait_serial 'VUS-KV: io_started=1' 150 "$vm"; then
	sleep 2
	vus_log "killing tgt during the guest's I/O"
	"$TGT" kill "$tdir"
	sleep 3
	vus_log "starting tgt again"
	"$TGT" restart "$tdir" || vus_fail "tgt did not restart"
else
	vus_fail "the guest never started its last fio (log $VUS_SERIAL)"
fi
wait "$vm"
rc=$?
[ "$rc" = 0 ] || {
	vus_fail "guest half failed (rc=$rc, log $VUS_SERIAL)"
	tr -d '\r' <"$VUS_SERIAL" | grep -a -E '^VUS-CHECK-FAIL|^VUS-WARN' | head -20 >&2
}
vus_stop_backend
"$TGT" stop "$tdir" || vus_fail "tgt did not stop"
grep -q 'session lost' "$VUS_DLOG" || vus_fail "the daemon never noticed the target going away ($VUS_DLOG)"
grep -q 'logged in again' "$VUS_DLOG" || vus_fail "the daemon never logged in again ($VUS_DLOG)"
vus_finish
