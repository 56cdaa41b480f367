#!/bin/bash
# The backend program conventions QEMU and systemd rely on:
# --print-capabilities, and --fd N serving an inherited listening socket
# (socket activation) for a real guest.
if [ "$1" = guest ]; then
	. /tests/lib-guest.sh
	g_wait_disks 1 || g_done
	sd=$(g_disk_of_lun 0) || { g_fail "no disk for LUN 0"; g_done; }
	dd if=/dev/urandom of=/tmp/p bs=64k count=16 2>/dev/null
	dd if=/tmp/p of="$sd" bs=64k oflag=direct 2>/dev/null || g_fail "write"
	got=$(dd if="$sd" bs=64k count=16 iflag=direct 2>/dev/null | sha256sum)
	g_expect_eq "1 MiB read-back through the socket-activated daemon" "$got" "$(sha256sum </tmp/p)"
	g_done
fi

. "$(dirname "$0")/lib.sh"
vus_setup sockact
[ "$VUS_BACKEND" = daemon ] || vus_skip "needs the daemon backend"

caps=$("$VUS_DAEMON" --print-capabilities)
[ "$caps" = '{"type": "scsi"}' ] || vus_fail "--print-capabilities printed '$caps'"

# --fd on something that is not a listening socket: a bad command line.
"$VUS_DAEMON" --fd 0 --lun type=ram,size=8M </dev/null 2>"$VUS_TMP/err"
rc=$?
[ "$rc" = 2 ] || vus_fail "--fd 0 (not a socket): exit $rc, want 2"
grep -q "not a listening socket" "$VUS_TMP/err" || vus_fail "--fd 0: message '$(cat "$VUS_TMP/err")'"

# Socket activation as systemd does it: the socket exists and listens before
# the daemon starts, and arrives as fd 3.
echo "# socket-activated: $VUS_DAEMON --fd 3 --lun type=ram,size=16M" >>"$VUS_DLOG"
/usr/bin/python3 - "$VUS_SOCK" "$VUS_DAEMON" 2>>"$VUS_DLOG" <<'PY' &
import os, socket, sys
path, daemon = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.execv(daemon, [daemon, "--fd", "3", "--lun", "type=ram,size=16M"])
PY
VUS_DPID=$!
vus_wait_socket || vus_fail "no socket at $VUS_SOCK"
VUS_DEV_ARGS=(-chardev "socket,id=vus,path=$VUS_SOCK" -device "vhost-user-scsi-pci,chardev=vus")
vus_run_guest test-sockact
vus_stop_backend
vus_finish
