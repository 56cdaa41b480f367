#!/bin/bash
# The daemon killed with SIGKILL again and again while the guest writes and
# verifies (issue #11): every request it had in flight is taken over by the
# next instance through the inflight region, and the guest sees nothing.
#
#   guest: fio randwrite, 4 KiB, iodepth 32, two jobs pinned to the two
#          vCPUs (so both request queues carry I/O), crc32c verify of every
#          block written (verify_backlog), for RS_RUNTIME seconds on one file
#          LUN.  Pass: fio exits 0, no verify failure, no I/O error, and the
#          kernel log has no SCSI error, timeout, abort or reset.
#   host:  RS_KILLS times: wait until QEMU has reconnected and I/O runs
#          again, kill -9 the daemon, start it again on the same socket.
#          Then RS_UPGRADES live upgrades through
#          contrib/upgrade/vhost-user-scsi-upgrade (SIGTERM, the same
#          command line started again), during the same I/O.
#          Pass: every restart reconnects, the daemons' logs show requests
#          resubmitted (at least RS_MIN_RESUBMITS restarts found some in
#          flight), no sanitizer report.
#
# Needs a QEMU whose vhost-user-scsi reconnects to its backend (8.2 or
# later: `-chardev socket,reconnect-ms=`): the patched 10.2.2 of make qemu.
# Debian's 7.2 does not reconnect a vhost-user-scsi backend: SKIP there.
#
# Flavours: the plain daemon, then the ASan+UBSan one when build/asan has it
# (VUS_RS_FLAVOURS="plain asan" to choose).
RS_KILLS=${VUS_RS_KILLS:-20}
RS_RUNTIME=${VUS_RS_RUNTIME:-75}
RS_MIN_RESUBMITS=${VUS_RS_MIN_RESUBMITS:-10}
RS_UPGRADES=${VUS_RS_UPGRADES:-2}
RS_DISK_MIB=64

if [ "$1" = guest ]; then
	. /tests/lib-guest.sh
	runtime=${2:-60}
	g_wait_disks 1 || g_done
	sd=$(g_disk_of_lun 0) || { g_fail "no disk for LUN 0"; g_done; }
	half=$((RS_DISK_MIB / 2))
	# Each job owns half of the disk: nobody overwrites a block another
	# job is about to verify.  loops is only an upper bound: runtime ends it.
	cat >/tmp/rs.fio <<-JOB
		[global]
		ioengine=libaio
		direct=1
		iodepth=32
		rw=randwrite
		bs=4k
		size=${half}M
		loops=1000
		runtime=$runtime
		verify=crc32c
		verify_backlog=32
		verify_fatal=1
		verify_dump=0
		filename=$sd
		[q0]
		offset=0
		cpus_allowed=0
		[q1]
		offset=${half}M
		cpus_allowed=1
	JOB
	dmesg -c >/dev/null
	g_kv io_started 1
	fio --output=/tmp/fio.out --eta=never /tmp/rs.fio 2>/tmp/fio.err
	rc=$?
	g_expect_eq "fio exit status" "$rc" 0
	if grep -q -i verify /tmp/fio.err; then
		g_fail "fio reported verify failures"
		head -5 /tmp/fio.err
	else
		g_ok "no verify failure"
	fi
	errs=$(grep -o 'err= *[0-9]*' /tmp/fio.out | tr -d ' ' | sort -u | tr '\n' ' ')
	g_expect_eq "fio job errors" "$errs" "err=0 "
	ios=$(awk -F'[=,]' '/^ *write:/ { for (i = 1; i <= NF; i++) if ($i ~ /IOPS/) print $(i + 1) }' \
		/tmp/fio.out | tr '\n' ' ')
	g_kv fio_write_iops "$ios"
	dmesg >/tmp/dmesg
	if grep -i -E 'I/O error|timing out|abort|reset|FAILED|critical|blk_update_request|not a head|broken' \
		/tmp/dmesg >/tmp/dmesg.bad; then
		g_fail "the kernel logged SCSI errors"
		head -20 /tmp/dmesg.bad
	else
		g_ok "no SCSI error, timeout, abort or reset in the kernel log"
	fi
	g_done
fi

. "$(dirname "$0")/lib.sh"

vus_flavours RS restart

NAME=restart
[ "$VUS_RS_FLAVOUR" = asan ] && NAME=restart-asan
vus_setup "$NAME"
vus_require_daemon

QEMU_BIN=${QEMU:-/usr/bin/qemu-system-x86_64}
qver=$("$QEMU_BIN" --version | sed -n 's/^QEMU emulator version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
read -r qmaj qmin <<<"$qver"
if [ -z "$qmaj" ] || [ "$qmaj" -lt 8 ] || { [ "$qmaj" = 8 ] && [ "$qmin" -lt 2 ]; }; then
	vus_skip "QEMU ${qmaj:-?}.${qmin:-?} ($QEMU_BIN) has no vhost-user-scsi reconnect (8.2+; make check-restart uses the patched 10.2.2)"
fi

now() { date +%s.%N; }
ms_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%d", (b - a) * 1000 }'; }
connections() { grep -c 'frontend connected' "$VUS_DLOG"; }
# reconnected BEFORE WHAT: wait (10 s) until the daemons' log counts more
# connections than BEFORE: QEMU came back after WHAT.
reconnected() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(connections)" -gt "$1" ] && return 0
		sleep 0.05
	done
	vus_fail "QEMU did not reconnect within 10 s after $2"
	return 1
}

disk=$VUS_TMP/disk.img
truncate -s ${RS_DISK_MIB}M "$disk"
LUN="type=file,path=$disk,lun=0"
vus_start_daemon "" "$LUN" || vus_finish
VUS_DEV_ARGS=(-chardev "socket,id=vus,path=$VUS_SOCK,reconnect-ms=100"
	-device "vhost-user-scsi-pci,chardev=vus,num_queues=2")

"$VUS_ROOT/scripts/guest/run-vm.sh" --test test-restart --args "$RS_RUNTIME" --log "$VUS_SERIAL" \
	--timeout $((RS_RUNTIME + 90)) -- "${VUS_DEV_ARGS[@]}" 8>&- 2>/dev/null &
vm=$!

started=0
if vus_wait_serial 'VUS-KV: io_started=1' 60 "$vm"; then
	started=1
else
	vus_fail "the guest never started its I/O (log $VUS_SERIAL)"
fi

kills=0
reconnect_ms=()
t_io=$(now)
while [ "$started" = 1 ] && [ "$kills" -lt "$RS_KILLS" ]; do
	# Let the new instance serve a while (0.8-1.6 s): the kill lands with
	# requests in flight, at a different point of each batch.
	sleep "1.$((RANDOM % 7 + 2))"
	kill -0 "$vm" 2>/dev/null || { vus_fail "the VM ended after $kills kills"; break; }
	kill -KILL "$VUS_DPID"
	wait "$VUS_DPID" 2>/dev/null
	kills=$((kills + 1))
	t_kill=$(now)
	before=$(connections)
	rm -f "$VUS_SOCK"
	vus_start_daemon "" "$LUN" || break
	reconnected "$before" "kill $kills" || break
	reconnect_ms+=("$(ms_since "$t_kill")")
done
vus_log "$kills kills in $(ms_since "$t_io") ms; kill -> reconnected: $(printf '%s\n' "${reconnect_ms[@]}" |
	sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "min %d, median %d, max %d ms", v[1], v[int((NR + 1) / 2)], v[NR] }')"

upgrades=0
upgrade_ms=()
while [ "$started" = 1 ] && [ "$kills" = "$RS_KILLS" ] && [ "$upgrades" -lt "$RS_UPGRADES" ]; do
	sleep "1.$((RANDOM % 7 + 2))"
	kill -0 "$vm" 2>/dev/null || { vus_fail "the VM ended after $upgrades upgrades"; break; }
	before=$(connections)
	t_up=$(now)
	echo "# contrib/upgrade/vhost-user-scsi-upgrade --pid $VUS_DPID" >>"$VUS_DLOG"
	if ! newpid=$("$VUS_ROOT/contrib/upgrade/vhost-user-scsi-upgrade" --pid "$VUS_DPID" \
		--binary "$VUS_DAEMON" --log "$VUS_DLOG" 2>>"$VUS_DLOG"); then
		vus_fail "upgrade $((upgrades + 1)) failed (log $VUS_DLOG)"
		break
	fi
	wait "$VUS_DPID" 2>/dev/null
	VUS_DPID=$newpid
	upgrades=$((upgrades + 1))
	reconnected "$before" "upgrade $upgrades" || break
	upgrade_ms+=("$(ms_since "$t_up")")
done
vus_log "$upgrades live upgrades; upgrade -> reconnected: ${upgrade_ms[*]} ms"

wait "$vm"
vmrc=$?
[ "$vmrc" = 0 ] || vus_fail "the guest's checks failed (run-vm status $vmrc, log $VUS_SERIAL)"
grep -a -E '^(ok|FAIL|VUS-KV)' "$VUS_SERIAL" | sed 's/^/    guest: /' >&2

restarts_with=$(grep -c 'resubmitting' "$VUS_DLOG")
resubmitted=$(sed -n 's/.*resubmitting \([0-9]*\) request.*/\1/p' "$VUS_DLOG" | awk '{ s += $1 } END { print s + 0 }')
vus_log "rings that resumed requests in flight: $restarts_with; requests resubmitted: $resubmitted"
[ "$kills" = "$RS_KILLS" ] || vus_fail "only $kills of $RS_KILLS kills happened"
[ "$upgrades" = "$RS_UPGRADES" ] || vus_fail "only $upgrades of $RS_UPGRADES upgrades happened"
[ "$restarts_with" -ge "$RS_MIN_RESUBMITS" ] ||
	vus_fail "only $restarts_with rings had requests to resubmit (want >= $RS_MIN_RESUBMITS): the kills missed the I/O"
vus_stop_backend
vus_finish
