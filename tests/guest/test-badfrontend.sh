#!/bin/bash
# A hostile frontend (garbage bytes, hang-ups mid-handshake, huge size
# fields, out-of-range ring indexes, ...) must not take the daemon down: it
# keeps answering, and then serves a real VM whose disk I/O checks out.
if [ "$1" = guest ]; then
	. /tests/lib-guest.sh
	g_wait_disks 2 || g_done
	for lun in 0 1; do
		g_roundtrip $lun "LUN $lun 4 MiB read-back"
	done
	g_run sg_inq "$(g_sg_of_lun 0)" || g_fail "INQUIRY"
	g_done
fi

. "$(dirname "$0")/lib.sh"
vus_setup badfrontend
vus_require_daemon
truncate -s 16M "$VUS_TMP/file1.img"
if vus_start_backend "type=ram,size=16M,lun=0" "type=file,path=$VUS_TMP/file1.img,lun=1"; then
	if /usr/bin/python3 "$(dirname "$0")/bad-frontend.py" "$VUS_SOCK" >"$VUS_TMP/bf.out" 2>&1 8>&-; then
		vus_log "hostile frontend: daemon answered after every case"
	else
		vus_fail "hostile frontend cases failed"
	fi
	sed 's/^/    /' "$VUS_TMP/bf.out" >&2
	cp "$VUS_TMP/bf.out" "$VUS_LOGDIR/badfrontend.cases.log"
	if kill -0 "$VUS_DPID" 2>/dev/null; then
		vus_run_guest test-badfrontend
	else
		vus_fail "daemon died under the hostile frontend (log $VUS_DLOG)"
	fi
fi
vus_stop_backend
vus_finish
