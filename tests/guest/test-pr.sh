#!/bin/bash
# Persistent reservations seen from a real guest (issue 12): one TCG guest
# with two vhost-user-scsi-pci devices, each on its own controller socket
# of one daemon, both exposing the same named block device.  The guest sees
# two disks, two I_T nexuses to one logical unit, and drives sg_persist:
#
#   boot 1: both register; A reserves Write Exclusive: B reads but a direct
#           write from B is an I/O error (RESERVATION CONFLICT), A writes;
#           release; A reserves Exclusive Access: B cannot even read; B
#           preempts A; B clears; A registers with APTPL and reserves WE.
#   the daemon is restarted (same --state-dir), bdev and controllers made
#   again through the CLI;
#   boot 2: the APTPL registration and reservation are back: the key is
#           listed, exactly one of the two disks can write; CLEAR.
#
# Which disk is controller pa's does not matter but must not flip between
# boots; boot 2 only checks that exactly one nexus is the holder.
if [ "$1" = guest ]; then
	. /tests/lib-guest.sh
	PHASE=$2
	g_wait_disks 2 || g_done
	set -- $(for d in /sys/class/scsi_device/*; do ls "$d/device/scsi_generic/"; done)
	SGA=/dev/$1 SGB=/dev/$2
	set -- $(for d in /sys/class/scsi_device/*; do ls "$d/device/block/"; done)
	SDA=/dev/$1 SDB=/dev/$2
	echo "nexus A: $SGA $SDA, nexus B: $SGB $SDB"
	pr() { echo "\$ sg_persist $*"; sg_persist "$@" >/tmp/pr.out 2>&1; r=$?; sed 's/^/    /' /tmp/pr.out; return $r; }
	wr() { dd if=/dev/zero of="$1" bs=4k count=1 seek=16 oflag=direct 2>/dev/null; }
	rd() { dd if="$1" of=/dev/null bs=4k count=1 skip=16 iflag=direct 2>/dev/null; }
	no() { ! "$@"; }
	case "$PHASE" in
	1)
		g_check "A registers 0xa" pr --out --register --param-sark=0xa "$SGA"
		g_check "B registers 0xb" pr --out --register --param-sark=0xb "$SGB"
		pr --in --read-keys "$SGB"
		g_grep "read keys lists 0xa" '^ +0xa$' /tmp/pr.out
		g_grep "read keys lists 0xb" '^ +0xb$' /tmp/pr.out
		g_check "A reserves WE" pr --out --reserve --param-rk=0xa --prout-type=1 "$SGA"
		pr --in --read-reservation "$SGB"
		g_grep "read reservation: WE by 0xa" 'Key=0xa' /tmp/pr.out
		g_grep "read reservation type" 'Write Exclusive' /tmp/pr.out
		g_check "B's direct write fails (WE)" no wr "$SDB"
		g_check "B reads (WE)" rd "$SDB"
		g_check "A writes" wr "$SDA"
		g_check "A releases" pr --out --release --param-rk=0xa --prout-type=1 "$SGA"
		g_check "B writes once released" wr "$SDB"
		g_check "A reserves EA" pr --out --reserve --param-rk=0xa --prout-type=3 "$SGA"
		g_check "B cannot read (EA)" no rd "$SDB"
		g_check "B preempts A" pr --out --preempt --param-rk=0xb --param-sark=0xa --prout-type=3 "$SGB"
		g_check "B reads as holder" rd "$SDB"
		g_check "A cannot read once preempted" no rd "$SDA"
		pr --in --read-keys "$SGA"
		g_check "A's key is gone" no grep -q -E '^ +0xa$' /tmp/pr.out
		g_check "B clears" pr --out --clear --param-rk=0xb "$SGB"
		pr --in --read-keys "$SGA"
		g_grep "no keys after CLEAR" '[Nn][Oo] registered reservation keys' /tmp/pr.out
		g_check "A writes after CLEAR" wr "$SDA"
		g_check "A registers 0xa1 with APTPL" pr --out --register --param-sark=0xa1 --param-aptpl "$SGA"
		g_check "A reserves WE (persistent)" pr --out --reserve --param-rk=0xa1 --prout-type=1 "$SGA"
		pr --in --report-capabilities "$SGA"
		g_grep "PTPL_A reported" 'Persist Through Power Loss Active.*1' /tmp/pr.out
		;;
	2)
		pr --in --read-keys "$SGB"
		g_grep "APTPL key 0xa1 survived the restart" '^ +0xa1$' /tmp/pr.out
		pr --in --read-reservation "$SGB"
		g_grep "the WE reservation survived the restart" 'Key=0xa1' /tmp/pr.out
		n=0
		wr "$SDA" && n=$((n + 1))
		wr "$SDB" && n=$((n + 1))
		g_expect_eq "nexuses that can write" "$n" 1
		g_check "CLEAR from either" sh -c "sg_persist --out --clear --param-rk=0xa1 $SGA || sg_persist --out --clear --param-rk=0xa1 $SGB"
		g_check "A writes after CLEAR" wr "$SDA"
		g_check "B writes after CLEAR" wr "$SDB"
		;;
	esac
	g_done
fi

. "$(dirname "$0")/lib.sh"
vus_setup pr
vus_require_daemon
STATE=$VUS_TMP/state
mkdir -p "$STATE"

if vus_start_two_paths "type=ram size=64M" --state-dir "$STATE"; then
	vus_run_guest test-pr 1
	[ -s "$STATE/pr-shared.json" ] || vus_fail "no APTPL state file $STATE/pr-shared.json"
	vus_stop_backend
	vus_start_two_paths "type=ram size=64M" --state-dir "$STATE" && vus_run_guest test-pr 2
	[ -e "$STATE/pr-shared.json" ] && vus_fail "the APTPL state file outlived CLEAR"
fi
vus_stop_backend
vus_finish
