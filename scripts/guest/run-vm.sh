#!/bin/bash
# Boot the test guest under TCG and wait for its result marker.
#
#   scripts/guest/run-vm.sh [options] [-- extra qemu args...]
#     --test NAME     test to run in the guest (tests/guest/NAME.sh guest)
#     --args A,B      arguments for the guest half of the test
#     --log FILE      serial log (default build/guest/logs/NAME.serial.log)
#     --timeout SEC   wall-clock limit for QEMU (default $VUS_VM_TIMEOUT or 90)
#     --console       also copy the serial output to stdout
#     --append STR    extra kernel command line
#
# Environment: QEMU (default /usr/bin/qemu-system-x86_64), VUS_SMP (2),
# VUS_MEM (512M), VUS_KCMDLINE (extra kernel command line, e.g. loglevel=7),
# VUS_MACHINE (pc; the NVMe test needs q35 for intel-iommu).
#
# Exit status: 0 when the guest printed "VUS-TEST-RESULT: PASS", 124 on
# timeout, 1 on a FAIL marker, 3 when QEMU ended without any marker.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/build/guest
QEMU=${QEMU:-/usr/bin/qemu-system-x86_64}
SMP=${VUS_SMP:-2}
MEM=${VUS_MEM:-512M}
MACHINE=${VUS_MACHINE:-pc}

TEST=shell
ARGS=
LOG=
TIMEOUT=${VUS_VM_TIMEOUT:-90}
CONSOLE=0
APPEND=
while [ $# -gt 0 ]; do
	case "$1" in
	--test) TEST=$2; shift 2 ;;
	--args) ARGS=$2; shift 2 ;;
	--log) LOG=$2; shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	--console) CONSOLE=1; shift ;;
	--append) APPEND=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "run-vm: unknown option $1" >&2; exit 2 ;;
	esac
done

[ -n "$LOG" ] || LOG=$OUT/logs/$TEST.serial.log
mkdir -p "$(dirname "$LOG")"

# Cheap when nothing changed; picks up edited tests otherwise.
"$ROOT/scripts/guest/build-guest.sh" || exit 1

# The guest RAM must be a shareable memfd: a vhost-user backend maps it from
# the fds QEMU passes in SET_MEM_TABLE.  It costs nothing for emulated disks.
#
# -accel tcg is explicit and mandatory: the /dev/kvm on these hosts is a
# nested device on which Debian kernels hang, and QEMU would pause forever.
CMDLINE="console=ttyS0 panic=-1 quiet loglevel=4 i8042.noaux i8042.nokbd"
# The guest watchdog fires first so the log says where the guest was stuck.
GTMO=$((TIMEOUT > 60 ? TIMEOUT - 20 : TIMEOUT * 2 / 3))
CMDLINE="$CMDLINE vus.test=$TEST vus.timeout=$GTMO"
[ -n "${VUS_KCMDLINE:-}" ] && CMDLINE="$CMDLINE $VUS_KCMDLINE"
[ -n "$ARGS" ] && CMDLINE="$CMDLINE vus.args=$ARGS"
[ -n "$APPEND" ] && CMDLINE="$CMDLINE $APPEND"

QARGS=(
	-accel tcg
	-machine "$MACHINE"
	-cpu max
	-smp "$SMP"
	-m "$MEM"
	-object "memory-backend-memfd,id=mem,size=$MEM,share=on"
	-numa node,memdev=mem
	-kernel "$OUT/vmlinux"
	-initrd "$OUT/initramfs.cpio"
	-append "$CMDLINE"
	-nodefaults
	-no-user-config
	-display none
	-serial stdio
	-no-reboot
	"$@"
)

echo "# $QEMU ${QARGS[*]}" >"$LOG"
start=$(date +%s.%N)
if [ "$CONSOLE" = 1 ]; then
	timeout --kill-after=5 "$TIMEOUT" "$QEMU" "${QARGS[@]}" </dev/null 2>&1 | tee -a "$LOG"
	rc=${PIPESTATUS[0]}
else
	timeout --kill-after=5 "$TIMEOUT" "$QEMU" "${QARGS[@]}" </dev/null >>"$LOG" 2>&1
	rc=$?
fi
end=$(date +%s.%N)
elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
echo "# qemu exit $rc after ${elapsed}s" >>"$LOG"

if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "run-vm: $TEST: timeout after ${TIMEOUT}s (log $LOG)" >&2
	exit 124
fi
# The marker is printed by the guest's init; tr strips the CRs that the
# serial console adds so the match works on the raw log.
result=$(tr -d '\r' <"$LOG" | grep -a '^VUS-TEST-RESULT: ' | tail -1)
case "$result" in
"VUS-TEST-RESULT: PASS") exit 0 ;;
"VUS-TEST-RESULT: FAIL"*)
	echo "run-vm: $TEST: ${result#VUS-TEST-RESULT: } (log $LOG)" >&2
	exit 1
	;;
*)
	echo "run-vm: $TEST: no result marker, qemu exit $rc (log $LOG)" >&2
	exit 3
	;;
esac
