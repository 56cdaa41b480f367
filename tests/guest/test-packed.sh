#!/bin/bash
# Packed virtqueues (issue 14): the device is created with packed=on, so
# the guest's virtio-scsi driver and the daemon negotiate VIRTIO_F_RING_PACKED
# (the guest's features string shows bit 34); then fio with crc32c
# verification on the RAM LUN over two request queues, and ext4 on the file
# LUN (mkfs, files, e2fsck, remount, re-read; the host fscks the file too).
QUEUES=2
THREADS=2
FILE_LUN=1

if [ "$1" = guest ]; then
	. /tests/lib-guest.sh
	g_wait_disks 2 || g_done
	feat=''
	for v in /sys/bus/virtio/devices/*; do
		[ "$(cat "$v/device")" = 0x0008 ] && feat=$(cat "$v/features")
	done
	echo "virtio-scsi features $feat"
	# One character per feature bit, bit 0 first.
	g_expect_eq "VIRTIO_F_RING_PACKED negotiated" "${feat:34:1}" 1
	ram=$(g_disk_of_lun 0) || g_fail "no disk for LUN 0"
	sd=$(g_disk_of_lun $FILE_LUN) || { g_fail "no disk for LUN $FILE_LUN"; g_done; }
	g_expect_eq "hardware queues of $ram" "$(ls /sys/block/${ram#/dev/}/mq | wc -l)" $QUEUES
	g_fio_verify 64 4k-128k "$ram"

	g_ext4_roundtrip "$sd" 100
	g_done
fi

. "$(dirname "$0")/lib.sh"
vus_setup packed
vus_require_daemon
truncate -s 64M "$VUS_TMP/file1.img"
VUS_DEV_PROPS=packed=on vus_start_backend --threads $THREADS --queues $QUEUES \
	"type=ram,size=32M,lun=0" "type=file,path=$VUS_TMP/file1.img,lun=$FILE_LUN" &&
	vus_run_guest test-packed
vus_stop_backend
vus_host_fsck "$VUS_TMP/file1.img"
vus_finish
