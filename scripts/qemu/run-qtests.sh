#!/bin/bash
# Run the vhost-user-scsi qtests (stub and real daemon) and the virtio-scsi
# qtests the series touched, against the patched build.  Needs build-qemu.sh
# and the daemon (build/vhost-user-scsi, or $VUS_DAEMON) built first.
#
# qtests run QEMU with -accel qtest, but /dev/kvm is hidden anyway (a private
# mount namespace with /dev/null bound over it), so that nothing in a test
# run can reach the nested KVM device on which guests hang.
set -euo pipefail
# shellcheck source=scripts/qemu/common.sh
. "$(dirname "$0")/common.sh"

if [ -e /dev/kvm ] && [ -z "${VUS_KVM_HIDDEN:-}" ]; then
	if unshare -m true 2>/dev/null; then
		export VUS_KVM_HIDDEN=1
		# shellcheck disable=SC2016 # expanded by the inner shell
		exec unshare -m bash -c 'mount --bind /dev/null /dev/kvm && exec "$0" "$@"' "$0" "$@"
	fi
	log "warning: cannot hide /dev/kvm (no mount namespace); qtests use -accel qtest anyway"
fi

DAEMON=${VUS_DAEMON:-$ROOT/build/vhost-user-scsi}
[ -x "$DAEMON" ] || die "no daemon at $DAEMON (run make first)"
[ -x "$QEMU_WRAPPER" ] || die "no patched QEMU (run make qemu first)"

export QTEST_QEMU_BINARY=$QEMU_WRAPPER
export QTEST_VHOST_USER_SCSI_BINARY=$DAEMON
LOGDIR=$QDIR/logs
mkdir -p "$LOGDIR"
PCI=/x86_64/pc/i440FX-pcihost/pci-bus-pc/pci-bus

fail=0
# name, minimum number of tests that must have run, qos-test -r prefixes
run() {
	local name=$1 min=$2 log=$LOGDIR/qtest-$1.log rc=0 passed failed
	shift 2
	local args=()
	for p in "$@"; do
		args+=(-r "$p")
	done
	(cd "$QOBJ" && timeout --kill-after=10 600 ./tests/qtest/qos-test --tap "${args[@]}") \
		>"$log" 2>&1 || rc=$?
	passed=$(grep -c '^ok ' "$log" || true)
	failed=$(grep -c '^not ok ' "$log" || true)
	if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -lt "$min" ] ||
		grep -q '^ok .* # SKIP' "$log"; then
		grep -E '^(not ok|ok .*SKIP)|ERROR|Bail out' "$log" | head -20 >&2 || true
		log "FAIL $name: exit $rc, $passed passed, $failed failed (log: $log)"
		fail=1
	else
		log "ok   $name: $passed passed"
	fi
}

run vhost-user-scsi 16 "$PCI/vhost-user-scsi-pci" /x86_64/vhost-user-scsi
run virtio-scsi 7 "$PCI/virtio-scsi-pci"
exit $fail
