#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The CLI against a stub daemon (stub_server.c: the real RPC server library,
# methods stubbed with validated params and canned results).
#
#   tests/ctl/run.sh CTL STUB_SERVER
#
# Checks every command's output, --json, the exit codes (0 ok, 1 failed
# call, 2 usage) and that every error is exactly one line on stderr with
# nothing on stdout.  Prints one line per failed check and a summary;
# exits 1 if any failed.
set -u

CTL=$1
STUB=$2
tmp=$(mktemp -d /tmp/vus-ctl-test.XXXXXX)
sock=$tmp/rpc.sock
stub_pid=
hang_pid=
pass=0
fail=0

cleanup() {
	[ -n "$stub_pid" ] && kill "$stub_pid" 2>/dev/null && wait "$stub_pid" 2>/dev/null
	[ -n "$hang_pid" ] && kill "$hang_pid" 2>/dev/null && wait "$hang_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

"$STUB" "$sock" >"$tmp/stub.out" 2>"$tmp/stub.err" &
stub_pid=$!
for _ in $(seq 100); do
	grep -q ready "$tmp/stub.out" 2>/dev/null && break
	sleep 0.05
done
grep -q ready "$tmp/stub.out" || { echo "check-ctl: the stub server did not start"; cat "$tmp/stub.err"; exit 1; }

export VUS_RPC_SOCKET="$sock"

# run NAME RC -- ARGS...: run the CLI; the exit status must be RC.  Output in $tmp/out, $tmp/err.
run() {
	name=$1 want=$2
	shift 3
	"$CTL" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" != "$want" ]; then
		bad "$name: exit status $rc, expected $want (stderr: $(cat "$tmp/err"))"
		return 1
	fi
	if [ "$want" != 0 ]; then
		# An error is one line on stderr, prefixed, and nothing on stdout.
		if [ "$(wc -l <"$tmp/err")" != 1 ] || ! grep -q '^vhost-user-scsi-ctl: ' "$tmp/err" ||
			[ -s "$tmp/out" ]; then
			bad "$name: expected one error line on stderr and no output; got stderr: $(cat "$tmp/err") stdout: $(cat "$tmp/out")"
			return 1
		fi
	fi
	return 0
}

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "check-ctl: FAILED: $*"; }

# out_is NAME EXPECTED: stdout is exactly EXPECTED.
out_is() {
	printf '%s\n' "$2" >"$tmp/want"
	if cmp -s "$tmp/want" "$tmp/out"; then ok; else
		bad "$1: output differs:"; diff "$tmp/want" "$tmp/out" | sed 's/^/    /'
	fi
}
out_empty() {
	if [ -s "$tmp/out" ]; then bad "$1: unexpected output: $(cat "$tmp/out")"; else ok; fi
}
# err_is NAME EXPECTED: stderr is exactly EXPECTED.
err_is() {
	if [ "$(cat "$tmp/err")" = "$2" ]; then ok; else bad "$1: stderr '$(cat "$tmp/err")', expected '$2'"; fi
}
err_has() {
	if grep -qF -- "$2" "$tmp/err"; then ok; else bad "$1: stderr '$(cat "$tmp/err")' lacks '$2'"; fi
}

# ---- successful commands, human-readable ----
run version 0 -- version && out_is version "version: 0.1.0-stub
name: vhost-user-scsi"

run "controller list" 0 -- controller list && out_is "controller list" \
"NAME          SOCKET                      CONNECTED  LUNS
vm0           /run/vus/vm0.sock           yes        0:0=disk0,0:1=scratch
vm-long-name  /run/vus/vm-long-name.sock  no         -"

run "controller create" 0 -- controller create name=vm1 socket=/run/vus/vm1.sock && out_empty "controller create"
run "controller delete" 0 -- controller delete name=vm0 && out_empty "controller delete"

run "bdev list" 0 -- bdev list && out_is "bdev list" \
"NAME     TYPE  SIZE  BLOCK  RO   LUNS  DESC
disk0    file  1.5G  512    no   1     /var/lib/img/vm0.img
scratch  ram   64M   4096   yes  0     64 MiB of RAM"

run "bdev create file" 0 -- bdev create name=disk1 type=file path=/var/lib/img/vm1.img direct=on \
	readonly=off block-size=4096 && out_empty "bdev create file"
run "bdev create ram suffix" 0 -- bdev create name=ram1 type=ram size=64M && ok
run "bdev create ram bytes" 0 -- bdev create name=ram2 type=ram size=1048576 && ok
run "bdev create nvme" 0 -- bdev create name=nv1 type=nvme pci=0000:03:00.0 ns=1 && ok
run "bdev resize" 0 -- bdev resize name=disk1 size=2G && out_empty "bdev resize"
run "bdev resize no size" 0 -- bdev resize name=disk1 && ok
run "bdev delete" 0 -- bdev delete name=ram2 && ok

run "lun attach" 0 -- lun attach controller=vm0 bdev=disk1 target=1 lun=3 serial=S1 \
	wwn=5000c50015ea71ac && out_is "lun attach" "attached as target 1 lun 3"
run "lun attach default" 0 -- lun attach controller=vm0 bdev=disk1 && out_is "lun attach default" \
	"attached as target 0 lun 2"
run "lun detach" 0 -- lun detach controller=vm0 target=0 lun=1 && out_empty "lun detach"
run "lun list" 0 -- lun list controller=vm0 && out_is "lun list" \
"TARGET  LUN  BDEV
0       0    disk0
0       1    scratch"

run stats 0 -- stats && out_is stats \
"controller vm0
  T:L  BDEV     READS  WRITES  UNMAPS  FLUSHES  READ  WRITTEN  ERRORS  TMFS  RD-P50  RD-P99  WR-P50  WR-P99
  0:0  disk0    100    101     3       7        392K  100M     2       1     66us    944us   1.6ms   2.1ms
  0:1  scratch  0      0       0       0        0     0        0       0     -       -       -       -
  errors on 0:0: medium_error=2"
run "stats filtered" 0 -- stats controller=vm0 target=0 lun=0 && ok

run "worker list" 0 -- worker list && out_is "worker list" \
"ID  POLL-MAX-US  WINDOW-US  SLEEP-COST-US  SLEEPS  CAUGHT  MISSED
0   32.0         32.0       102.7          12      3456    7
1   32.0         0.0        98.4           5000    0       40"

run "worker set-poll" 0 -- worker set-poll poll-us=0 && out_empty "worker set-poll"

run methods 0 -- methods && if grep -q '^rpc_methods ' "$tmp/out" && grep -q '^lun_attach ' "$tmp/out"; then ok; else bad "methods: $(cat "$tmp/out")"; fi

# ---- --json: the raw result ----
run "json" 0 -- --json lun attach controller=vm0 bdev=disk0 target=4 && out_is json '{
  "target": 4,
  "lun": 2
}'
run "json stats" 0 -- --json stats && if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["controllers"][0]["luns"][0]["ops"]["read"]==100' "$tmp/out"; then ok; else bad "json stats: not the raw result"; fi
run "call" 0 -- call bdev_resize '{"name":"disk0","size":"1G"}' && ok

# ---- -s beats the environment; env sets the default ----
run "-s" 0 -- -s "$sock" version && ok
VUS_RPC_SOCKET=$tmp/none run "env socket" 1 -- version &&
	err_is "env socket" "vhost-user-scsi-ctl: cannot connect to $tmp/none: No such file or directory (is the daemon running with --rpc-socket?)"
run "-s missing" 1 -- -s "$tmp/none" version && err_has "-s missing" "is the daemon running with --rpc-socket?"

# ---- errors from the daemon: exit 1, its message ----
run "not found" 1 -- bdev delete name=nope && err_is "not found" "vhost-user-scsi-ctl: no bdev named nope"
run "busy" 1 -- bdev delete name=disk0 && err_is "busy" "vhost-user-scsi-ctl: bdev disk0 is attached to 1 LUN; detach it first"
run "exists" 1 -- controller create name=vm0 socket=/x && err_is "exists" "vhost-user-scsi-ctl: controller vm0 already exists"
run "bad size" 1 -- bdev create name=r type=ram size=1000 && err_is "bad size" "vhost-user-scsi-ctl: size: must be a positive multiple of 512, got 1000"
run "bad suffix" 1 -- bdev create name=r type=ram size=1Q && err_is "bad suffix" "vhost-user-scsi-ctl: size: '1Q' is not a number with an optional K, M, G or T suffix"
run "bad type" 1 -- bdev create name=r type=disk && err_is "bad type" "vhost-user-scsi-ctl: type: must be one of ram, file, null, nvme, got 'disk'"
run "bad name" 1 -- bdev create name=a/b type=ram size=1M && err_has "bad name" "name: may contain only"
run "range" 1 -- lun attach controller=vm0 bdev=disk0 target=256 && err_is "range" "vhost-user-scsi-ctl: target: must be between 0 and 255, got 256"
run "call unknown method" 1 -- call nope && err_is "call unknown method" "vhost-user-scsi-ctl: method 'nope' not found"
run "call unknown param" 1 -- call bdev_list '{"x":1}' && err_is "call unknown param" "vhost-user-scsi-ctl: unknown parameter 'x'"

# ---- usage errors: exit 2, nothing sent ----
for args in "" "frobnicate" "bdev" "bdev frob" "controller" "lun" \
	"bdev create name=x" "bdev create type=ram" "bdev create name=x type=ram size" \
	"bdev create name=x type=ram =1" "bdev create name=x type=ram sise=1G" \
	"bdev create name=x name=y type=ram" "bdev create name=x type=ram readonly=maybe" \
	"bdev create name=x type=ram block-size=4k" "lun detach controller=vm0 target=0" \
	"lun detach controller=vm0 target=-1 lun=0" "lun list" "controller create name=x" \
	"version extra=1" "stats target=x" "call" "call m {" "call m [1]" "call m {} extra" \
	"--bogus version" "-x version" "--timeout version" "--timeout 0 version" \
	"--timeout abc version" "-s"; do
	# shellcheck disable=SC2086
	if run "usage: '$args'" 2 -- $args; then ok; fi
done
run "usage names the key" 2 -- bdev create name=x type=ram sise=1G &&
	err_is "usage names the key" "vhost-user-scsi-ctl: bdev create: unknown key 'sise' (see vhost-user-scsi-ctl --help)"
run "usage required" 2 -- lun attach controller=vm0 &&
	err_is "usage required" "vhost-user-scsi-ctl: lun attach: bdev= is required (see vhost-user-scsi-ctl --help)"
run "help" 0 -- --help && if grep -q '^usage: vhost-user-scsi-ctl' "$tmp/out"; then ok; else bad "help"; fi

# ---- a daemon that accepts and never answers: --timeout ----
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4)
print("ready", flush=True)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
' "$tmp/hang.sock" >"$tmp/hang.out" &
hang_pid=$!
for _ in $(seq 100); do grep -q ready "$tmp/hang.out" 2>/dev/null && break; sleep 0.05; done
start=$(date +%s)
run "timeout" 1 -- -s "$tmp/hang.sock" --timeout 1 version &&
	err_is "timeout" "vhost-user-scsi-ctl: no answer from $tmp/hang.sock within the timeout"
if [ $(($(date +%s) - start)) -le 3 ]; then ok; else bad "timeout: took $(($(date +%s) - start)) s"; fi

# The stub survived all of it.
run "still serving" 0 -- version && ok

echo "check-ctl: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
