#!/bin/bash
# fio random writes with crc32c verification, libaio O_DIRECT at iodepth 32,
# on a device with two request queues served by two daemon threads.
QUEUES=2
THREADS=2

if [ "$1" = guest ]; then
	. /tests/lib-guest.sh
	g_wait_disks 2 || g_done
	ram=$(g_disk_of_lun 0) || g_fail "no disk for LUN 0"
	file=$(g_disk_of_lun 1) || g_fail "no disk for LUN 1"
	# The block layer exposes one directory per hardware queue; two
	# means num_queues=2 reached the guest driver.
	g_expect_eq "hardware queues of $ram" "$(ls /sys/block/${ram#/dev/}/mq | wc -l)" $QUEUES
	# Two jobs per disk on two vCPUs: both virtqueues carry requests.
	g_fio_verify 32 4k-64k "$ram" "$file"
	g_done
fi

. "$(dirname "$0")/lib.sh"
vus_setup "${VUS_TEST_NAME:-fio}"
truncate -s 32M "$VUS_TMP/file1.img"
vus_start_backend --threads $THREADS --queues $QUEUES \
	"type=ram,size=32M,lun=0" "type=file,path=$VUS_TMP/file1.img,lun=1" &&
	vus_run_guest test-fio
vus_stop_backend
vus_finish
