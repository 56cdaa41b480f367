#!/bin/bash
# contrib/upgrade/vhost-user-scsi-upgrade against the real daemon, no VM
# (issue #11): what RPC created comes back in the new process, and the
# script refuses what it cannot upgrade.
#
#   tests/upgrade/test-upgrade.sh [DAEMON [CTL]]
#
#   1. A daemon with --rpc-socket and --config; the CLI creates a controller,
#      a file and a ram block device and attaches both.  The upgrade script
#      (new binary: the same one) replaces it: a new PID, listening on the
#      RPC and the controller socket, and `controller list`, `bdev list`
#      give what they gave before.
#   2. A new binary that does not run (--version fails): refused before the
#      old daemon is touched.
#   3. A new binary that starts but dies at once: the old binary is started
#      again (rollback), exit status 1, the configuration still served.
#   4. Bad arguments and a PID that is not the daemon: exit 2, one line.
# Prints "N passed, N failed"; exit status 0 only if all passed.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DAEMON=${1:-$ROOT/build/vhost-user-scsi}
CTL=${2:-$ROOT/build/vhost-user-scsi-ctl}
UPGRADE=$ROOT/contrib/upgrade/vhost-user-scsi-upgrade
T=$(mktemp -d /tmp/vus-upgrade-test.XXXXXX)
LOG=$T/daemon.log
pass=0
fail=0
pids=()

ok() {
	echo "ok: $*"
	pass=$((pass + 1))
}
bad() {
	echo "FAIL: $*"
	fail=$((fail + 1))
}
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

ctl() { "$CTL" -s "$T/rpc.sock" --timeout 10 "$@"; }
wait_sock() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -S "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
state() { { ctl controller list && ctl bdev list; } 2>&1; }

truncate -s 16M "$T/disk.img"
"$DAEMON" --rpc-socket "$T/rpc.sock" --config "$T/config.json" 2>>"$LOG" &
pid=$!
pids+=("$pid")
wait_sock "$T/rpc.sock" || { bad "the daemon did not listen (log $LOG)"; exit 1; }
if ! { ctl controller create name=vm1 socket="$T/vm1.sock" &&
	ctl bdev create name=disk1 type=file path="$T/disk.img" &&
	ctl bdev create name=scratch type=ram size=8M &&
	ctl lun attach controller=vm1 bdev=disk1 &&
	ctl lun attach controller=vm1 bdev=scratch; } >/dev/null; then
	bad "setting up through the CLI"
fi
before=$(state)

# 1. The upgrade proper.
if newpid=$("$UPGRADE" --pid "$pid" --binary "$DAEMON" --log "$LOG" 2>"$T/up.err"); then
	pids+=("$newpid")
	if [ "$newpid" != "$pid" ] && kill -0 "$newpid" 2>/dev/null && ! kill -0 "$pid" 2>/dev/null; then
		ok "upgrade: $pid replaced by $newpid ($(tail -1 "$T/up.err" | sed 's/^vhost-user-scsi-upgrade: //'))"
	else
		bad "upgrade: old $pid / new '$newpid' not as expected"
	fi
	pid=$newpid
else
	bad "upgrade exited $? ($(cat "$T/up.err"))"
fi
if [ -S "$T/vm1.sock" ]; then ok "the controller's socket is back"; else bad "no $T/vm1.sock after the upgrade"; fi
after=$(state)
if [ -n "$before" ] && [ "$before" = "$after" ]; then
	ok "controllers, LUNs and block devices restored from --config"
else
	bad "state differs after the upgrade: before '$before', after '$after'"
fi

# 2. A binary that does not even run: the old daemon is left alone.
printf '#!/bin/sh\nexit 1\n' >"$T/broken"
chmod +x "$T/broken"
"$UPGRADE" --pid "$pid" --binary "$T/broken" --log "$LOG" >/dev/null 2>"$T/up.err"
rc=$?
if [ "$rc" = 2 ] && kill -0 "$pid" 2>/dev/null; then
	ok "a new binary that fails --version is refused, the daemon untouched ($(cat "$T/up.err"))"
else
	bad "broken binary: exit $rc, daemon alive: $(kill -0 "$pid" 2>/dev/null && echo yes || echo no)"
fi

# 3. A binary that passes the checks but dies at start: rollback.
cat >"$T/dies" <<-SH
	#!/bin/sh
	case "\$1" in --version|--print-capabilities) exec "$DAEMON" "\$1" ;; esac
	exit 1
SH
chmod +x "$T/dies"
rb=$("$UPGRADE" --pid "$pid" --binary "$T/dies" --log "$LOG" --timeout 3 2>"$T/up.err")
rc=$?
[ -n "$rb" ] && pids+=("$rb")
if [ "$rc" = 1 ] && [ -n "$rb" ] && kill -0 "$rb" 2>/dev/null && [ "$(state)" = "$before" ]; then
	ok "a new binary that dies: rolled back to the old one ($rb), configuration served"
else
	bad "rollback: exit $rc, pid '$rb' ($(tr '\n' ' ' <"$T/up.err"))"
fi
rm -rf /var/tmp/vus-rollback.* 2>/dev/null

# 4. Refusals.
"$UPGRADE" >/dev/null 2>"$T/up.err"
rc=$?
if [ "$rc" = 2 ]; then ok "no --pid: exit 2 ($(cat "$T/up.err"))"; else bad "no --pid: exit $rc"; fi
"$UPGRADE" --pid $$ >/dev/null 2>"$T/up.err"
rc=$?
if [ "$rc" = 2 ]; then ok "not a daemon: exit 2 ($(cat "$T/up.err"))"; else bad "a shell as the daemon: exit $rc"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
