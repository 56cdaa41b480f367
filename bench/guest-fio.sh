#!/bin/sh
# Guest half of bench/guest.sh and bench/remote.sh (busybox sh, run by the
# test guest's init as "/tests/bench-guest.sh guest KIND QD SECONDS [RW]"):
# one fio 4k RW (randread unless given) on the disk the backend under test
# provides, result as one "VUS-BENCH:" line of fio's terse output for the
# host to parse.
[ "$1" = guest ] || exit 2
kind=$2
qd=$3
secs=$4
rw=${5:-randread}
# shellcheck source=/dev/null # tests/guest/lib-guest.sh, at /tests in the guest
. /tests/lib-guest.sh

if [ "$kind" = blk ]; then
	dev=
	for _ in $(seq 300); do
		[ -b /dev/vda ] && dev=/dev/vda && break
		sleep 0.1
	done
	[ -n "$dev" ] || g_fail "no /dev/vda"
else
	g_wait_disks 1 || g_done
	dev=$(g_disk_of_lun 0) || g_fail "no disk at LUN 0"
fi
[ -n "$dev" ] || g_done

# none: the scheduler would merge and reorder, and it differs by disk type.
echo none >"/sys/block/${dev#/dev/}/queue/scheduler" 2>/dev/null
# The host reads the backend's CPU time at this marker and at the result.
echo "VUS-BENCH-START"
fio --name=bench --filename="$dev" --ioengine=libaio --direct=1 --rw="$rw" --bs=4k \
	--iodepth="$qd" --time_based --runtime="$secs" --norandommap --randrepeat=0 \
	--output-format=terse --terse-version=3 >/tmp/bench.out 2>&1
rc=$?
[ "$rc" -eq 0 ] || {
	cat /tmp/bench.out
	g_fail "fio exit $rc"
	g_done
}
echo "VUS-BENCH: $(grep '^3;' /tmp/bench.out)"
# QEMU's threads must still exist when the host takes its second reading.
sleep 1
g_done
