#!/bin/bash
# Host only: each malformed --lun (and a few other bad options) makes the
# daemon exit 2 with exactly one line on stderr that names the bad part, and
# it creates nothing: no socket, no backing file.
. "$(dirname "$0")/lib.sh"
vus_setup badlun
vus_require_daemon

T=$VUS_TMP
truncate -s 8M "$T/exists.img"
before=$(stat -c '%s %Y' "$T/exists.img")

# expect TOKEN ARGS...: exit 2, one stderr line containing TOKEN.
expect() {
	local token=$1 rc lines
	shift
	rm -f "$T/err" "$T/out"
	timeout 10 "$VUS_DAEMON" --socket-path "$T/s.sock" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	lines=$(wc -l <"$T/err")
	if [ "$rc" != 2 ]; then
		vus_fail "[$*] exit $rc, want 2: $(head -c 300 "$T/err")"
	elif [ "$lines" != 1 ]; then
		vus_fail "[$*] $lines stderr lines, want 1:"
		sed 's/^/    | /' "$T/err" >&2
	elif ! grep -q -F -- "$token" "$T/err"; then
		vus_fail "[$*] message does not name '$token': $(cat "$T/err")"
	else
		vus_log "ok [$*] -> $(cat "$T/err")"
	fi
	if [ -e "$T/s.sock" ]; then
		vus_fail "[$*] created the socket"
		rm -f "$T/s.sock"
	fi
	if [ -e "$T/new.img" ]; then
		vus_fail "[$*] created the backing file"
		rm -f "$T/new.img"
	fi
}

expect bogus --lun type=bogus,size=8M
expect size --lun type=ram
expect size --lun type=ram,size=abc
expect size --lun type=ram,size=0
expect size --lun type=ram,size=-5M
expect size --lun type=ram,size=99999999999999999999
expect block-size --lun type=ram,size=8M,block-size=1000
expect block-size --lun type=ram,size=8M,block-size=0
expect readonly --lun type=ram,size=8M,readonly=maybe
expect direct --lun type=file,path=$T/exists.img,direct=perhaps
expect frobnicate --lun type=ram,size=8M,frobnicate=1
expect lun --lun type=ram,size=8M,lun=99999
expect lun --lun type=ram,size=8M,lun=abc
expect target --lun type=ram,size=8M,target=-1
expect wwn --lun type=ram,size=8M,wwn=xyz
expect serial --lun "type=ram,size=8M,serial=$(printf 'S%.0s' $(seq 1 300))"
expect path --lun type=file
expect path --lun type=file,path=
expect type --lun size=8M
expect lun --lun type=ram,size=8M,lun=0 --lun type=ram,size=8M,lun=0
# A good file LUN followed by a bad one: the good one is not opened either.
expect frobnicate --lun type=file,path=$T/new.img,size=8M,frobnicate=1
expect frobnicate --lun type=file,path=$T/exists.img --lun type=ram,size=8M,frobnicate=1
expect threads --threads 0 --lun type=ram,size=8M
expect threads --threads many --lun type=ram,size=8M

after=$(stat -c '%s %Y' "$T/exists.img")
[ "$before" = "$after" ] || vus_fail "existing backing file was modified ($before -> $after)"
vus_finish
