#!/bin/sh
# Guest half of bench/nvme-guest.sh (busybox sh, run by the test guest's
# init as "/tests/bench-nvme.sh guest SECS ROUNDS POINTS SPAN KENGINE"):
# one emulated NVMe, three ways to reach it, in alternating rounds:
#   vfio     our daemon, --lun type=nvme,pci=BDF (NVMe bound to vfio-pci),
#            fio through our engine
#   kfile    our daemon, --lun type=file,path=/dev/nvme0n1,direct=on (the
#            kernel's nvme driver), fio through our engine
#   kdirect  fio straight on /dev/nvme0n1 (KENGINE, direct=1): no daemon
# POINTS is a '+' list of RW:QD (randread:1+randread:32+randwrite:32); each
# point runs SECS seconds over the first SPAN MiB, which are written once
# first.  Round r runs the three in order, round r+1 in reverse, so only
# the round boundaries rebind the device.
#
# Per point one "VUS-NVBENCH: key=value..." line (daemon and whole-guest
# CPU ticks over fio's run) and fio's JSON between VUS-NVBENCH-JSON-BEGIN
# and VUS-NVBENCH-JSON-END, for the host to parse.
[ "$1" = guest ] || exit 2
SECS=$2 ROUNDS=$3 POINTS=$(echo "$4" | tr + ' ') SPAN=$5 KENGINE=$6
# shellcheck source=/dev/null # tests/guest/lib-guest.sh, at /tests in the guest
. /tests/lib-guest.sh
DAEMON=/opt/vus/vhost-user-scsi
ENGINE=/opt/vus/fio-vhost-user-scsi.so
SOCK=/tmp/vus.sock

g_load_modules
for _ in $(seq 100); do [ -e /sys/block/nvme0n1 ] && break; sleep 0.1; done
[ -e /sys/block/nvme0n1 ] || { g_fail "no nvme0n1"; g_done; }
BDF=
for d in /sys/bus/pci/devices/*; do
	case "$(cat "$d/class")" in 0x0108*) BDF=${d##*/}; break ;; esac
done
DEV=/sys/bus/pci/devices/$BDF
echo "VUS-NVBENCH-INFO: bdf=$BDF cpus=$(grep -c ^processor /proc/cpuinfo) hz=$(getconf CLK_TCK 2>/dev/null || echo 100) kernel=$(uname -r)"

driver() { basename "$(readlink "$DEV/driver" 2>/dev/null)" 2>/dev/null; }

# Back to the kernel's nvme driver: clear driver_override, unbind, probe.
bind_nvme() {
	[ "$(driver)" = nvme ] && [ -b /dev/nvme0n1 ] && return 0
	echo >"$DEV/driver_override"
	[ -e "$DEV/driver" ] && echo "$BDF" >"$DEV/driver/unbind"
	echo "$BDF" >/sys/bus/pci/drivers_probe
	for _ in $(seq 200); do [ -b /dev/nvme0n1 ] && break; sleep 0.05; done
	[ -b /dev/nvme0n1 ] || { g_fail "rebinding $BDF to nvme: driver '$(driver)'"; g_done; }
	echo none >/sys/block/nvme0n1/queue/scheduler 2>/dev/null
	return 0
}

bind_vfio() {
	[ "$(driver)" = vfio-pci ] && return 0
	g_bind_vfio 0x0108 >/dev/null || g_done
}

# user+nice+system+irq+softirq+steal ticks of the whole guest (idle and
# iowait left out).
guest_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
# utime+stime of a process (fields 14 and 15; comm has no spaces here).
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

DPID=
start_daemon() { # LUNSPEC
	rm -f "$SOCK"
	"$DAEMON" --socket-path "$SOCK" --lun "$1" --threads 1 >/tmp/daemon.log 2>&1 &
	DPID=$!
	for _ in $(seq 200); do
		[ -S "$SOCK" ] && return 0
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.05
	done
	cat /tmp/daemon.log
	g_fail "daemon with $1 did not start"
	g_done
}
stop_daemon() {
	kill -TERM "$DPID"
	wait "$DPID"
	echo "VUS-NVBENCH-DAEMON-LOG:"
	sed 's/^/    | /' /tmp/daemon.log
	DPID=
}

point() { # CONFIG ROUND RW QD
	cfg=$1 round=$2 rw=$3 qd=$4
	common="--name=$cfg --thread --rw=$rw --bs=4k --iodepth=$qd --time_based --runtime=$SECS
		--size=${SPAN}M --norandommap --randrepeat=0 --output-format=json"
	if [ "$cfg" = kdirect ]; then
		set -- fio --filename=/dev/nvme0n1 --ioengine="$KENGINE" --direct=1
	else
		set -- fio --ioengine=external:"$ENGINE" --socket="$SOCK" --lun=0
	fi
	d0=0
	[ -n "$DPID" ] && d0=$(proc_ticks "$DPID")
	g0=$(guest_busy)
	# shellcheck disable=SC2086 # $common is a list of options
	"$@" $common >/tmp/fio.json 2>/tmp/fio.err
	rc=$?
	g1=$(guest_busy)
	d1=0
	[ -n "$DPID" ] && d1=$(proc_ticks "$DPID")
	[ "$rc" -eq 0 ] || {
		cat /tmp/fio.err
		g_fail "$cfg $rw QD $qd: fio exit $rc"
	}
	echo "VUS-NVBENCH: cfg=$cfg round=$round rw=$rw qd=$qd rc=$rc daemon_ticks=$((d1 - d0)) guest_ticks=$((g1 - g0))"
	echo "VUS-NVBENCH-JSON-BEGIN"
	cat /tmp/fio.json
	echo "VUS-NVBENCH-JSON-END"
}

run_config() { # CONFIG ROUND
	case $1 in
	vfio)
		bind_vfio
		start_daemon "type=nvme,pci=$BDF"
		;;
	kfile)
		bind_nvme
		start_daemon "type=file,path=/dev/nvme0n1,direct=on"
		;;
	kdirect) bind_nvme ;;
	esac
	for p in $POINTS; do
		point "$1" "$2" "${p%:*}" "${p#*:}"
	done
	[ -n "$DPID" ] && stop_daemon
}

# The span is written once, so reads hit data rather than holes.
bind_nvme
t0=$(awk '{ print $1 }' /proc/uptime)
g_check "prefill ${SPAN} MiB" fio --name=prefill --filename=/dev/nvme0n1 --ioengine=libaio --direct=1 \
	--rw=write --bs=1M --iodepth=4 --size="${SPAN}M" --output-format=terse
echo "VUS-NVBENCH-INFO: prefill_s=$(awk -v a="$t0" '{ printf "%.1f", $1 - a }' /proc/uptime)"

r=1
while [ "$r" -le "$ROUNDS" ]; do
	order="vfio kfile kdirect"
	[ $((r % 2)) -eq 0 ] && order="kdirect kfile vfio"
	for c in $order; do
		echo "--- round $r: $c"
		run_config "$c" "$r"
	done
	r=$((r + 1))
done
g_done
