#!/bin/bash
# A throwaway tgt iSCSI target on 127.0.0.1 for the iSCSI tests.
#   tgt.sh start DIR PORT [SIZE_MB]   target $TGT_IQN, LUN 1 backed by DIR/lun.img
#                                     (created once, kept across restarts)
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

start() {
	local port
	port=$(cat "$dir/port")
	tgtd -f -C "$port" --iscsi portal=127.0.0.1:"$port" >>"$dir/tgtd.log" 2>&1 &
	echo $! >"$dir/tgtd.pid"
	for _ in $(seq 200); do
		tgt_adm --op show --mode target >/dev/null 2>&1 && break
		sleep 0.05
	done
	# LUN 0 is tgt's own controller LUN; the disk is LUN 1.
	tgt_adm --op new --mode target --tid 1 -T "$TGT_IQN"
	tgt_adm --op new --mode logicalunit --tid 1 --lun 1 -b "$dir/lun.img"
	# Thin provisioning makes tgt offer UNMAP (punching holes in the image).
	tgt_adm --op update --mode logicalunit --tid 1 --lun 1 --params thin_provisioning=1
	tgt_adm --op bind --mode target --tid 1 -I 127.0.0.1
}

case $cmd in
start)
	if ! [ "$3" -ge 1024 ] 2>/dev/null || [ "$3" -gt 32767 ]; then
		echo "tgt.sh: port $3 is not in 1024..32767 (it is also tgtd's control port)" >&2
		exit 2
	fi
	mkdir -p "$dir"
	echo "$3" >"$dir/port"
	[ -f "$dir/lun.img" ] || truncate -s "${4:-64}M" "$dir/lun.img"
	start
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
