#!/bin/bash
# blkdiscard punches holes in the backing files: a whole-device discard on a
# 512-byte-block LUN frees (nearly) every block of its file, and a discard of
# [4 MiB, 12 MiB) on a 4096-byte-block LUN frees exactly that range: the
# bytes before and after it are untouched and the range reads back as zeros.
FULL_LUN=1
PART_LUN=2
SIZE_MIB=32
PART_OFF_MIB=4
PART_LEN_MIB=8

if [ "$1" = guest ]; then
	. /tests/lib-guest.sh
	g_wait_disks 3 || g_done
	for lun in $FULL_LUN $PART_LUN; do
		sd=$(g_disk_of_lun $lun) || { g_fail "no disk for LUN $lun"; continue; }
		max=$(cat "/sys/block/${sd#/dev/}/queue/discard_max_bytes")
		echo "LUN $lun ($sd): discard_max_bytes $max"
		[ "$max" -gt 0 ] || g_fail "kernel sees no discard support on LUN $lun"
	done
	sd=$(g_disk_of_lun $FULL_LUN) && {
		g_run blkdiscard -v "$sd" || g_fail "blkdiscard $sd"
	}
	sd=$(g_disk_of_lun $PART_LUN) && {
		g_run blkdiscard -v -o $((PART_OFF_MIB << 20)) -l $((PART_LEN_MIB << 20)) "$sd" ||
			g_fail "blkdiscard range on $sd"
	}
	for lun in $FULL_LUN $PART_LUN; do
		g_run sg_sync "$(g_sg_of_lun $lun)" || g_fail "SYNCHRONIZE CACHE on LUN $lun"
	done
	g_done
fi

. "$(dirname "$0")/lib.sh"
vus_setup discard
T=$VUS_TMP
# Fully allocated, non-zero contents: every hole afterwards is the daemon's.
head -c $((SIZE_MIB << 20)) /dev/urandom >"$T/full.img"
head -c $((SIZE_MIB << 20)) /dev/urandom >"$T/part.img"
sync "$T/full.img" "$T/part.img"
cp "$T/part.img" "$T/part.orig"
full_before=$(stat -c %b "$T/full.img")
part_before=$(stat -c %b "$T/part.img")
vus_start_backend "type=ram,size=16M,lun=0" \
	"type=file,path=$T/full.img,lun=$FULL_LUN" \
	"type=file,path=$T/part.img,lun=$PART_LUN,block-size=4096" &&
	vus_run_guest test-discard
vus_stop_backend

full_after=$(stat -c %b "$T/full.img")
part_after=$(stat -c %b "$T/part.img")
vus_log "whole-device discard: $full_before -> $full_after blocks of 512 allocated"
vus_log "range discard: $part_before -> $part_after blocks of 512 allocated"
# Allow a little for alignment leftovers and filesystem granularity.
[ "$full_after" -le $((full_before / 8)) ] ||
	vus_fail "whole-device discard left $full_after of $full_before blocks allocated"
freed=$((part_before - part_after))
want=$((PART_LEN_MIB << 11))
if [ "$freed" -lt $((want * 7 / 8)) ] || [ "$freed" -gt $((want + 256)) ]; then
	vus_fail "range discard freed $freed blocks, want about $want"
fi
[ "$(stat -c %s "$T/full.img")" = $((SIZE_MIB << 20)) ] || vus_fail "full.img changed size"
[ "$(stat -c %s "$T/part.img")" = $((SIZE_MIB << 20)) ] || vus_fail "part.img changed size"
# Byte-exact check of the range: before, inside, after.
cmp -s -n $((PART_OFF_MIB << 20)) "$T/part.img" "$T/part.orig" ||
	vus_fail "bytes before the discarded range changed"
cmp -s -n $((PART_LEN_MIB << 20)) -i $((PART_OFF_MIB << 20)):0 "$T/part.img" /dev/zero ||
	vus_fail "discarded range does not read back as zeros"
end=$(((PART_OFF_MIB + PART_LEN_MIB) << 20))
cmp -s -i $end:$end "$T/part.img" "$T/part.orig" ||
	vus_fail "bytes after the discarded range changed"
vus_finish
