#!/bin/bash
# mkfs.ext4 on the file LUN, mount, write files, unmount, e2fsck -fn clean,
# remount and re-read; the host then fscks the backing file as well.
FILE_LUN=1

if [ "$1" = guest ]; then
	. /tests/lib-guest.sh
	g_wait_disks 2 || g_done
	sd=$(g_disk_of_lun $FILE_LUN) || { g_fail "no disk for LUN $FILE_LUN"; g_done; }
	g_run mkfs.ext4 -F -q -E nodiscard "$sd" || g_fail "mkfs.ext4"
	mkdir -p /mnt/t
	g_run mount -t ext4 "$sd" /mnt/t || { g_fail "mount"; g_done; }
	dd if=/dev/urandom of=/tmp/big bs=1M count=8 2>/dev/null
	cp /tmp/big /mnt/t/big || g_fail "write 8 MiB file"
	mkdir -p /mnt/t/dir
	i=0
	while [ $i -lt 200 ]; do
		echo "file $i $(head -c 64 /dev/urandom | sha256sum)" >/mnt/t/dir/f$i || g_fail "write f$i"
		i=$((i + 1))
	done
	(cd /mnt/t && find . -type f | sort | xargs sha256sum) >/tmp/sums
	g_run umount /mnt/t || g_fail "umount"
	g_run e2fsck -fn "$sd" || g_fail "e2fsck -fn after writing (exit $?)"
	echo 3 >/proc/sys/vm/drop_caches
	g_run mount -t ext4 -o ro "$sd" /mnt/t || { g_fail "remount"; g_done; }
	(cd /mnt/t && find . -type f | sort | xargs sha256sum) >/tmp/sums2
	g_check "file contents survive remount" cmp -s /tmp/sums /tmp/sums2
	g_expect_eq "number of files" "$(wc -l </tmp/sums2)" 201
	umount /mnt/t
	g_done
fi

. "$(dirname "$0")/lib.sh"
vus_setup ext4
truncate -s 64M "$VUS_TMP/file1.img"
vus_start_backend "type=ram,size=16M,lun=0" "type=file,path=$VUS_TMP/file1.img,lun=$FILE_LUN" &&
	vus_run_guest test-ext4
vus_stop_backend
if e2fsck -fn "$VUS_TMP/file1.img" >"$VUS_TMP/fsck.out" 2>&1; then
	vus_log "host e2fsck -fn of the backing file: clean"
else
	vus_fail "host e2fsck -fn of the backing file reports problems"
	cat "$VUS_TMP/fsck.out" >&2
fi
vus_finish
