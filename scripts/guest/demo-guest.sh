#!/bin/sh
# Guest half of `make demo` (installed as /tests/demo.sh in the initramfs).
. /tests/lib-guest.sh
g_wait_disks 2 || g_done
echo
echo "----- lsblk"
lsblk -o NAME,HCTL,SIZE,LOG-SEC,PHY-SEC,DISC-MAX,TYPE,VENDOR,MODEL,SERIAL
for d in /sys/class/scsi_device/*; do
	a=${d##*/}
	sg=$(ls "$d/device/scsi_generic/")
	echo
	echo "----- sg_inq /dev/$sg ($a)"
	sg_inq "/dev/$sg" | grep -E 'Vendor|Product|revision|Peripheral device type|Unit serial'
	sg_readcap "/dev/$sg" | grep -E 'blocks|length'
done
disks=
for d in /sys/class/scsi_disk/*; do
	disks="$disks --name=$(ls "$d/device/block/") --filename=/dev/$(ls "$d/device/block/")"
done
echo
echo "----- fio: 4k random read/write, iodepth 16, 3 s per disk"
# shellcheck disable=SC2086
fio --ioengine=libaio --direct=1 --rw=randrw --bs=4k --iodepth=16 --size=16M \
	--time_based --runtime=3 --group_reporting=0 $disks 2>&1 |
	grep -E '^[a-z0-9]+: \(g|^  (read|write):|err=' || g_fail "fio"
g_done
