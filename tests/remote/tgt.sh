#!/bin/bash
# A throwaway tgt iSCSI target on 127.0.0.1 for the iSCSI tests.
#   tgt.sh start DIR PORT [SIZE_MB]   target $TGT_IQN, LUN 1 backed by DIR/lun.img
#                                     (created once, kept across restarts), on
#                                     PORT or, when something else listens there,
#                                     the next free one: DIR/port says which
#   tgt.sh kill DIR                   SIGKILL tgtd (a crashed target: connections reset)
#   tgt.sh restart DIR                start it again on the same port and image
#   tgt.sh stop DIR                   remove the target and end tgtd
# The port doubles as tgtd's control port, so parallel runs on distinct ports
# do not meet; tgtadm takes control ports up to 32767 only.  DIR holds
# tgtd.pid, tgtd.log and the port.
set -euo pipefail
TGT_IQN=${TGT_IQN:-iqn.2024-01.org.vhost-user-scsi:remote-test}

cmd=$1
dir=$2

tgt_adm() { tgtadm -C "$(cat "$dir/port")" --lld iscsi "$@"; }

# Whether a TCP socket listens on port $1 (any address, IPv4 or IPv6).
listening() {
	local hex
	hex=$(printf ':%04X' "$1")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }'
}

# tgtd on DIR/port.  tgtd runs on when its portal cannot bind (another
# process has the port), and the initiator would then meet that process or
# nothing: so 1 unless tgtd listens there.
start_tgtd() {
	local port
	port=$(cat "$dir/port")
	tgtd -f -C "$port" --iscsi portal=127.0.0.1:"$port" >>"$dir/tgtd.log" 2>&1 &
	echo $! >"$dir/tgtd.pid"
	for _ in $(seq 200); do
		tgt_adm --op show --mode target >/dev/null 2>&1 && break
		sleep 0.05
	done
	if ! listening "$port"; then
		echo "tgt.sh: tgtd is not listening on 127.0.0.1:$port (log $dir/tgtd.log)" >&2
		return 1
	fi
	# LUN 0 is tgt's own controller LUN; the disk is LUN 1.  (Called in an
	# && list, where set -e does not act: each step says so itself.)
	tgt_adm --op new --mode target --tid 1 -T "$TGT_IQN" || return 1
	tgt_adm --op new --mode logicalunit --tid 1 --lun 1 -b "$dir/lun.img" || return 1
	# Thin provisioning makes tgt offer UNMAP (punching holes in the image).
	tgt_adm --op update --mode logicalunit --tid 1 --lun 1 --params thin_provisioning=1 || return 1
	tgt_adm --op bind --mode target --tid 1 -I 127.0.0.1
}

# start_tgtd, or no tgtd left behind.
start() {
	start_tgtd && return 0
	kill -KILL "$(cat "$dir/tgtd.pid")" 2>/dev/null || true
	rm -f "$dir/tgtd.pid"
	return 1
}

case $cmd in
start)
	if ! [ "$3" -ge 1024 ] 2>/dev/null || [ "$3" -gt 32767 ]; then
		echo "tgt.sh: port $3 is not in 1024..32767 (it is also tgtd's control port)" >&2
		exit 2
	fi
	mkdir -p "$dir"
	[ -f "$dir/lun.img" ] || truncate -s "${4:-64}M" "$dir/lun.img"
	# Ports taken by another process (a parallel run, anything) are skipped.
	for port in $(seq "$3" $(($3 + 63 > 32767 ? 32767 : $3 + 63))); do
		listening "$port" && continue
		echo "$port" >"$dir/port"
		start && exit 0
	done
	echo "tgt.sh: no port free for tgtd in $3..$(($3 + 63))" >&2
	exit 1
	;;
restart)
	start
	;;
kill)
	pid=$(cat "$dir/tgtd.pid")
	kill -KILL "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
	;;
stop)
	[ -f "$dir/tgtd.pid" ] || exit 0
	pid=$(cat "$dir/tgtd.pid")
	# tgtd ignores SIGTERM; it leaves on "delete system" once it has no target.
	tgt_adm --op delete --mode target --tid 1 --force >/dev/null 2>&1 || true
	tgtadm -C "$(cat "$dir/port")" --op delete --mode system >/dev/null 2>&1 || kill -KILL "$pid" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$dir/tgtd.pid"
	;;
*)
	echo "usage: $0 start|kill|restart|stop DIR [PORT [SIZE_MB]]" >&2
	exit 2
	;;
esac
