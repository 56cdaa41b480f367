#!/bin/bash
# QEMU killed with SIGKILL in the middle of queue-depth-32 I/O (the daemon
# sees the socket drop with requests in flight) must leave the daemon able
# to serve the next VM, whose data checks out.
if [ "$1" = guest ]; then
	. /tests/lib-guest.sh
	g_wait_disks 2 || g_done
	if [ "$2" = load ]; then
		a=$(g_disk_of_lun 0)
		b=$(g_disk_of_lun 1)
		g_kv io_started 1
		# Runs until the host kills the VM.
		fio --name=load --ioengine=libaio --direct=1 --rw=randrw --bs=4k-64k \
			--iodepth=32 --numjobs=2 --time_based --runtime=300 \
			--filename="$a:$b" >/dev/null 2>&1
		g_fail "fio ended before the VM was killed"
		g_done
	fi
	for lun in 0 1; do
		g_roundtrip $lun "LUN $lun 4 MiB read-back after reconnect"
	done
	g_done
fi

. "$(dirname "$0")/lib.sh"
vus_setup reconnect
vus_require_daemon
truncate -s 32M "$VUS_TMP/file1.img"
if vus_start_backend --queues 2 "type=ram,size=32M,lun=0" "type=file,path=$VUS_TMP/file1.img,lun=1"; then
	log1=$VUS_LOGDIR/reconnect.vm1.serial.log
	rm -f "$log1"
	"$VUS_ROOT/scripts/guest/run-vm.sh" --test test-reconnect --args load --log "$log1" \
		--timeout 120 -- "${VUS_DEV_ARGS[@]}" -pidfile "$VUS_TMP/qemu1.pid" 8>&- 2>/dev/null &
	vm1=$!
	started=0
	for _ in $(seq 1 600); do
		if grep -q -a 'VUS-KV: io_started=1' "$log1" 2>/dev/null; then
			started=1
			break
		fi
		kill -0 "$vm1" 2>/dev/null || break
		sleep 0.1
	done
	if [ "$started" = 1 ]; then
		sleep 3 # let fio fill the queues
		kill -KILL "$(cat "$VUS_TMP/qemu1.pid")"
		vus_log "killed the first VM during I/O"
	else
		vus_fail "first VM never started its I/O (log $log1)"
	fi
	wait "$vm1"
	if kill -0 "$VUS_DPID" 2>/dev/null; then
		vus_run_guest test-reconnect check
	else
		vus_fail "daemon died when its frontend was killed (log $VUS_DLOG)"
	fi
fi
vus_stop_backend
vus_finish
