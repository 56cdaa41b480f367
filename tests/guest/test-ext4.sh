#!/bin/bash
# mkfs.ext4 on the file LUN, mount, write files, unmount, e2fsck -fn clean,
# remount and re-read; the host then fscks the backing file as well.
FILE_LUN=1

if [ "$1" = guest ]; then
	. /tests/lib-guest.sh
	g_wait_disks 2 || g_done
	sd=$(g_disk_of_lun $FILE_LUN) || { g_fail "no disk for LUN $FILE_LUN"; g_done; }
	g_ext4_roundtrip "$sd" 200
	g_done
fi

. "$(dirname "$0")/lib.sh"
vus_setup ext4
truncate -s 64M "$VUS_TMP/file1.img"
vus_start_backend "type=ram,size=16M,lun=0" "type=file,path=$VUS_TMP/file1.img,lun=$FILE_LUN" &&
	vus_run_guest test-ext4
vus_stop_backend
vus_host_fsck "$VUS_TMP/file1.img"
vus_finish
