#!/bin/bash
# 32 MiB of random data written with O_DIRECT to each LUN reads back with the
# same checksum, and the file LUN's data really is in its backing file.
MIB=32
RAM_LUN=0
FILE_LUN=1

if [ "$1" = guest ]; then
	. /tests/lib-guest.sh
	g_wait_disks 2 || g_done
	g_run dd if=/dev/urandom of=/tmp/pattern bs=1M count=$MIB || g_fail "make pattern"
	want=$(sha256sum /tmp/pattern | cut -d' ' -f1)
	g_kv pattern_sha256 "$want"
	for lun in $RAM_LUN $FILE_LUN; do
		sd=$(g_disk_of_lun $lun) || { g_fail "no disk for LUN $lun"; continue; }
		g_run dd if=/tmp/pattern of="$sd" bs=1M count=$MIB oflag=direct conv=fsync ||
			g_fail "O_DIRECT write to LUN $lun"
		# Drop the page cache too: O_DIRECT already bypasses it, but this
		# makes sure the buffered read below also goes to the device.
		echo 3 >/proc/sys/vm/drop_caches
		got=$(dd if="$sd" bs=1M count=$MIB iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
		g_expect_eq "LUN $lun O_DIRECT read-back sha256" "$got" "$want"
		got=$(dd if="$sd" bs=64k count=$((MIB * 16)) 2>/dev/null | sha256sum | cut -d' ' -f1)
		g_expect_eq "LUN $lun buffered read-back sha256" "$got" "$want"
		# Unaligned-in-the-device offset: skip 1 MiB + 4 KiB and read 1 MiB.
		got=$(dd if="$sd" bs=4k skip=257 count=256 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
		exp=$(dd if=/tmp/pattern bs=4k skip=257 count=256 2>/dev/null | sha256sum | cut -d' ' -f1)
		g_expect_eq "LUN $lun O_DIRECT read at 1 MiB + 4 KiB" "$got" "$exp"
	done
	g_done
fi

. "$(dirname "$0")/lib.sh"
vus_setup "${VUS_TEST_NAME:-data}"
truncate -s 64M "$VUS_TMP/file1.img"
vus_start_backend \
	"type=ram,size=64M,lun=$RAM_LUN" \
	"type=file,path=$VUS_TMP/file1.img,lun=$FILE_LUN" &&
	vus_run_guest test-data
vus_stop_backend
want=$(vus_guest_kv pattern_sha256)
got=$(head -c $((MIB * 1024 * 1024)) "$VUS_TMP/file1.img" | sha256sum | cut -d' ' -f1)
if [ -z "$want" ]; then
	vus_fail "guest printed no checksum"
elif [ "$got" != "$want" ]; then
	vus_fail "backing file holds sha256 $got, guest wrote $want"
else
	vus_log "backing file sha256 matches the guest's ($got)"
fi
vus_finish
