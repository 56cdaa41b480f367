#!/bin/bash
# Two LUNs (RAM and file) appear in the guest and the SCSI identification
# and capacity commands report exactly what --lun configured.  The file LUN
# starts write-through (write-cache=off); the kernel turns its cache on and
# off again by MODE SELECT; D_SENSE switches the sense data to descriptor
# format and back.
RAM_SIZE=64M
RAM_BLOCKS=131072 # 64 MiB / 512
RAM_SERIAL=VUSRAM0001
RAM_WWN=0x5001405aa0000001
FILE_SIZE=32M
FILE_BLOCKS=8192 # 32 MiB / 4096
FILE_SERIAL=VUSFILE0002
FILE_WWN=0x5001405bb0000002

if [ "$1" = guest ]; then
	. /tests/lib-guest.sh
	g_wait_disks 2 || g_done

	# $1 lun, $2 blocks, $3 block size, $4 serial, $5 wwn
	check_lun() {
		sg=$(g_sg_of_lun "$1") || { g_fail "no sg node for LUN $1"; return; }
		sd=$(g_disk_of_lun "$1") || { g_fail "no disk for LUN $1"; return; }
		echo "== LUN $1: $sd $sg"
		g_run sg_inq "$sg" || g_fail "sg_inq LUN $1"
		g_grep "LUN $1 is a disk" "Peripheral device type: disk" "$G_OUT"
		g_run sg_vpd -p 0x00 "$sg" || g_fail "VPD 0x00 LUN $1"
		g_grep "LUN $1 lists VPD 0x80" "Unit serial number" "$G_OUT"
		g_grep "LUN $1 lists VPD 0x83" "Device identification" "$G_OUT"
		g_grep "LUN $1 lists VPD 0xb0" "Block limits" "$G_OUT"
		g_grep "LUN $1 lists VPD 0xb2" "Logical block provisioning" "$G_OUT"
		g_run sg_vpd -p 0x80 "$sg" || g_fail "VPD 0x80 LUN $1"
		g_grep "LUN $1 serial" "Unit serial number: $4\$" "$G_OUT"
		g_run sg_vpd -p 0x83 "$sg" || g_fail "VPD 0x83 LUN $1"
		g_grep "LUN $1 NAA designator" "$5" "$G_OUT"
		g_run sg_vpd -p 0xb0 "$sg" || g_fail "VPD 0xb0 LUN $1"
		g_grep "LUN $1 block limits" "Maximum unmap LBA count" "$G_OUT"
		g_run sg_vpd -p 0xb2 "$sg" || g_fail "VPD 0xb2 LUN $1"
		g_grep "LUN $1 UNMAP supported" "Unmap command supported \(LBPU\): 1" "$G_OUT"
		g_run sg_readcap -l "$sg" || g_fail "READ CAPACITY(16) LUN $1"
		g_grep "LUN $1 block count" "Number of logical blocks=$2\$" "$G_OUT"
		g_grep "LUN $1 block size" "Logical block length=$3 bytes" "$G_OUT"
		g_run sg_readcap "$sg" || g_fail "READ CAPACITY(10) LUN $1"
		g_grep "LUN $1 block count (10)" "Number of logical blocks=$2\$" "$G_OUT"
		g_run sg_turs "$sg" || g_fail "TEST UNIT READY LUN $1"
		b=${sd#/dev/}
		g_expect_eq "LUN $1 kernel logical_block_size" \
			"$(cat /sys/block/$b/queue/logical_block_size)" "$3"
		g_expect_eq "LUN $1 kernel size in 512-byte sectors" \
			"$(cat /sys/block/$b/size)" "$(($2 * $3 / 512))"
	}
	check_lun 0 $RAM_BLOCKS 512 $RAM_SERIAL $RAM_WWN
	check_lun 1 $FILE_BLOCKS 4096 $FILE_SERIAL $FILE_WWN

	sg=$(g_sg_of_lun 0)
	g_run sg_luns "$sg" || g_fail "REPORT LUNS"
	g_grep "REPORT LUNS has LUN 0" "^ +0000000000000000" "$G_OUT"
	g_grep "REPORT LUNS has LUN 1" "^ +0001000000000000" "$G_OUT"
	g_grep "REPORT LUNS has 2 entries" "2 lun entries" "$G_OUT"

	# The caching page: the kernel reads WCE by MODE SENSE and writes it
	# by MODE SELECT when cache_type is written.
	sd=$(g_disk_of_lun 1)
	ct=$(echo /sys/block/${sd#/dev/}/device/scsi_disk/*/cache_type)
	g_expect_eq "LUN 1 starts write-through" "$(cat "$ct")" "write through"
	echo "write back" >"$ct" || g_fail "cache_type write back (MODE SELECT WCE=1)"
	g_expect_eq "LUN 1 write cache on" "$(cat "$ct")" "write back"
	echo "write through" >"$ct" || g_fail "cache_type write through (MODE SELECT WCE=0)"
	g_expect_eq "LUN 1 write cache off again" "$(cat "$ct")" "write through"
	g_roundtrip 1 "LUN 1 write-through"
	# Saving is refused (SP=1); D_SENSE switches the sense data of an LBA
	# out of range to descriptor format and back.  Only on our target: the
	# harness check against QEMU's scsi-hd (VUS_BACKEND=qemu) covers what
	# both do.
	if sg_inq "$sg" | grep -q VUSCSI; then
		ctl="0a,0a,04,10,00,00,00,00,00,00,00,00"
		oob="88 00 ff ff ff ff ff ff ff ff 00 00 00 01 00 00"
		# sg_wr_mode -s refuses by itself (PS=0): send the CDB by hand.
		printf '\000\000\000\000\012\012\004\020\000\000\000\000\000\000\000\000' >/tmp/ms
		if g_run sg_raw -s 16 -i /tmp/ms "$sg" 15 11 00 00 10 00; then
			g_fail "MODE SELECT with SP=1 accepted"
		fi
		g_grep "MODE SELECT SP=1: INVALID FIELD IN CDB" "Invalid field in cdb" "$G_OUT"
		g_run sg_raw -s 16 -i /tmp/ms "$sg" 15 10 00 00 10 00 || g_fail "MODE SELECT(6) D_SENSE=1"
		g_run sg_raw -r 512 "$sg" $oob
		g_grep "descriptor-format sense after MODE SELECT(6)" "Descriptor format, current" "$G_OUT"
		g_run sg_wr_mode -p 0x0a -c $ctl "$sg" || g_fail "MODE SELECT D_SENSE=1"
		g_run sg_raw -r 512 "$sg" $oob
		g_grep "descriptor-format sense with D_SENSE=1" "Descriptor format, current" "$G_OUT"
		g_run sg_wr_mode -p 0x0a -c 0a,0a,00,10,00,00,00,00,00,00,00,00 "$sg" ||
			g_fail "MODE SELECT D_SENSE=0"
		g_run sg_raw -r 512 "$sg" $oob
		g_grep "fixed-format sense with D_SENSE=0" "Fixed format, current" "$G_OUT"
	fi
	g_run lsblk
	g_done
fi

. "$(dirname "$0")/lib.sh"
vus_setup inquiry
truncate -s $FILE_SIZE "$VUS_TMP/file1.img"
vus_start_backend \
	"type=ram,size=$RAM_SIZE,lun=0,serial=$RAM_SERIAL,wwn=$RAM_WWN" \
	"type=file,path=$VUS_TMP/file1.img,lun=1,block-size=4096,serial=$FILE_SERIAL,wwn=$FILE_WWN,write-cache=off" &&
	vus_run_guest test-inquiry
vus_stop_backend
vus_finish
