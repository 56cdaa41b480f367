#!/bin/sh
# A throwaway single-node Ceph cluster for the RBD tests, loopback only:
# one monitor, one bluestore OSD on a sparse file, no manager (RBD I/O does
# not need one), pool "rbd" with one replica.  Everything lives under DIR.
#
#   tests/remote/ceph-cluster.sh start DIR    idempotent; prints "started" or "running"
#   tests/remote/ceph-cluster.sh stop DIR     stops the daemons, removes DIR
#   tests/remote/ceph-cluster.sh status DIR   exit 0 when the cluster answers
#   tests/remote/ceph-cluster.sh osd-stop DIR / osd-start DIR   the fault tests' OSD outage
#
# Clients use DIR/ceph.conf (CEPH_CONF=DIR/ceph.conf, or conf= on the LUN),
# whose client section sets short timeouts so a dead cluster fails a test
# instead of hanging it.  Ports: VUS_CEPH_PORT (default 6789, v1) and +1 (v2
# is not used: msgr v1 only keeps the setup to one port per daemon).
set -eu

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
	echo "usage: $0 start|stop|status|osd-stop|osd-start DIR" >&2
	exit 2
}
port=${VUS_CEPH_PORT:-6789}
conf=$dir/ceph.conf
export CEPH_CONF="$conf"

die() {
	echo "ceph-cluster: $*" >&2
	exit 1
}

alive() { # pidfile
	[ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

answers() {
	[ -f "$dir/ready" ] && alive "$dir/mon.pid" &&
		timeout 10 ceph --connect-timeout 5 health >/dev/null 2>&1
}

write_conf() {
	cat >"$conf" <<CONF
[global]
fsid = $(cat "$dir/fsid")
mon host = v1:127.0.0.1:$port
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr2 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
run dir = $dir/run
log file = $dir/log/\$name.log
mon cluster log file = $dir/log/cluster.log
crash dir = $dir/crash
admin socket = $dir/run/\$name.asok
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
mon mgr mkfs grace = 100000
mon osd down out interval = 0
osd crush chooseleaf type = 0

[mon]
mon data = $dir/mon
keyring = $dir/mon/keyring
mon osd report timeout = 3600

[osd]
osd data = $dir/osd
keyring = $dir/osd/keyring
osd objectstore = bluestore
bluestore block create = true
bluestore block size = 4294967296
bluestore fsck on mkfs = false
# No deferred writes: this Ceph (16.2) can replay them wrongly after the fast
# shutdown the fault tests' osd-stop causes, and a later read then fails its
# checksum ("_verify_csum bad crc32c"); with one replica the object is
# unfound and every read of it waits for ever.  A file counts as an HDD, where
# writes up to 64 KiB would be deferred.
bluestore prefer deferred size hdd = 0
bluestore prefer deferred size ssd = 0
osd memory target = 939524096
bluestore cache autotune = false
bluestore cache size = 134217728
osd op num shards = 1
osd op num threads per shard = 2
osd heartbeat grace = 20

[client]
admin socket =
keyring = $dir/client.admin.keyring
rados osd op timeout = 60
rados mon op timeout = 20
client mount timeout = 20
CONF
}

wait_for() { # seconds description command...
	n=$1
	what=$2
	shift 2
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || die "timed out waiting for $what (logs in $dir/log)"
		sleep 1
	done
}

osd_up() {
	timeout 10 ceph osd dump 2>/dev/null | grep -q '^osd.0 up'
}

start_osd() {
	ceph-osd -f -i 0 >>"$dir/log/osd.0.out" 2>&1 &
	echo $! >"$dir/osd.pid"
	wait_for 60 "osd.0 up" osd_up
}

start() {
	command -v ceph-mon >/dev/null || die "ceph-mon not installed (scripts/install-deps.sh)"
	if answers; then
		alive "$dir/osd.pid" || start_osd
		echo running
		return 0
	fi
	# A half-started or stale directory: start over.
	stop_daemons
	rm -rf "$dir"
	mkdir -p "$dir/run" "$dir/log" "$dir/crash" "$dir/mon" "$dir/osd"
	uuidgen >"$dir/fsid"
	write_conf
	ceph-authtool --create-keyring "$dir/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
	ceph-authtool --create-keyring "$dir/client.admin.keyring" --gen-key -n client.admin \
		--cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
	ceph-authtool "$dir/mon.keyring" --import-keyring "$dir/client.admin.keyring" >/dev/null
	# Spelled out: monmaptool takes a bare port other than 6789 for msgr2, which nothing here speaks.
	monmaptool --create --fsid "$(cat "$dir/fsid")" --addv a "[v1:127.0.0.1:$port]" "$dir/monmap" >/dev/null
	ceph-mon --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/mon.keyring" >/dev/null 2>&1 ||
		die "ceph-mon --mkfs failed"
	ceph-mon -f -i a >>"$dir/log/mon.a.out" 2>&1 &
	echo $! >"$dir/mon.pid"
	wait_for 30 "the monitor" timeout 10 ceph --connect-timeout 5 health
	uuid=$(uuidgen)
	id=$(ceph osd new "$uuid")
	[ "$id" = 0 ] || die "unexpected OSD id $id"
	ceph auth get-or-create osd.0 mon 'allow profile osd' osd 'allow *' mgr 'allow profile osd' \
		-o "$dir/osd/keyring" >/dev/null
	ceph-osd -i 0 --mkfs --osd-uuid "$uuid" >>"$dir/log/osd.0.out" 2>&1 || die "ceph-osd --mkfs failed"
	start_osd
	ceph osd pool create rbd 8 8 >/dev/null 2>&1
	rbd pool init rbd
	: >"$dir/ready"
	echo started
}

stop_one() { # pidfile
	if alive "$1"; then
		pid=$(cat "$1")
		kill "$pid" 2>/dev/null || true
		n=50
		while kill -0 "$pid" 2>/dev/null && [ "$n" -gt 0 ]; do
			sleep 0.1
			n=$((n - 1))
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$1"
}

stop_daemons() {
	stop_one "$dir/osd.pid"
	stop_one "$dir/mon.pid"
}

case "$cmd" in
start) start ;;
stop)
	stop_daemons
	rm -rf "$dir"
	;;
status) answers ;;
osd-stop) stop_one "$dir/osd.pid" ;;
osd-start)
	alive "$dir/osd.pid" || start_osd
	;;
*) die "unknown command $cmd" ;;
esac
