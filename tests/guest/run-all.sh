#!/bin/bash
# Run every guest test (each boots its own TCG VM against its own daemon),
# then libiscsi's conformance suite (failures beyond the known ones fail):
# all of it on the default LUN, the suites that differ on the other LUN
# configurations (conformance.sh).
#
#   tests/guest/run-all.sh [TEST...]     e.g. run-all.sh inquiry fio
#
# Environment: VUS_BACKEND=daemon|qemu (lib.sh), QEMU=path,
# VUS_SKIP_CONFORMANCE=1 to leave out the conformance run.
#
# The last line of output is "N passed, N failed"; the exit status is
# non-zero when any test failed.  A test that cannot run in this setup
# (e.g. the ASan test without build/asan) is reported as skipped.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LOGDIR=$ROOT/build/guest/logs

# nvme boots a q35 guest with an emulated NVMe and runs our daemon inside
# it, plain and then ASan+UBSan (one boot for both; test-nvme.sh).
# hotplug drives the daemon's RPC socket while the guest runs (plain, then
# ASan daemon; test-hotplug.sh).
# pr: two controllers on one named bdev, sg_persist from one guest, APTPL
# across a daemon restart (test-pr.sh).
# migration moves a guest under fio verify between two QEMUs, each with its
# own daemon (plain, then ASan daemon; test-migration.sh).
ALL="inquiry data ext4 fio packed discard badlun badfrontend sockact reconnect asan nvme hotplug restart migration pr iscsi rbd"
TESTS=${*:-$ALL}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Decide the backend once so every test agrees (same rule as lib.sh).
if [ -z "${VUS_BACKEND:-}" ]; then
	if [ -x "${VUS_DAEMON:-$ROOT/build/vhost-user-scsi}" ]; then
		VUS_BACKEND=daemon
	else
		VUS_BACKEND=qemu
		echo "run-all: no daemon binary: using QEMU's emulated virtio-scsi (daemon-only tests skip)"
	fi
fi
export VUS_BACKEND

T0=$(now)
mkdir -p "$LOGDIR"
# One whole run at a time per tree (the per-test logs have fixed names).
exec 7>"$ROOT/build/guest/.run-all.lock"
if ! flock -n 7; then
	echo "run-all: waiting for another run-all in this tree to finish"
	flock 7
fi
if ! "$ROOT/scripts/guest/build-guest.sh"; then
	echo "run-all: building the guest failed"
	echo "0 passed, 1 failed"
	exit 1
fi

touch "$LOGDIR/.run-all.start"
pass=0
fail=0
skip=0
results=()
for t in $TESTS; do
	script=$HERE/test-$t.sh
	if [ ! -x "$script" ]; then
		results+=("FAIL  $t (no $script)")
		fail=$((fail + 1))
		continue
	fi
	echo "=== $t"
	t1=$(now)
	"$script" 2>&1 7>&- | tee "$LOGDIR/$t.run.log"
	rc=${PIPESTATUS[0]}
	dt=$(since "$t1")
	case "$rc" in
	0)
		results+=("PASS  $t (${dt}s)")
		pass=$((pass + 1))
		;;
	77)
		results+=("SKIP  $t (${dt}s): $(grep -m1 'SKIP:' "$LOGDIR/$t.run.log" | sed 's/.*SKIP: //')")
		skip=$((skip + 1))
		;;
	*)
		results+=("FAIL  $t (${dt}s, rc=$rc; logs $LOGDIR/$t.*)")
		# CI shows only the tail of a run: the reasons go into the summary too.
		while IFS= read -r why; do
			results+=("        $why")
		done < <(tr -d '\r' <"$LOGDIR/$t.run.log" | grep -a -E 'FAIL:|^VUS-CHECK-FAIL' | head -6 | cut -c1-200)
		fail=$((fail + 1))
		;;
	esac
done

conf=
if [ "${VUS_SKIP_CONFORMANCE:-0}" != 1 ] && [ -z "${*:-}" ]; then
	# A gate: any failure not listed in conformance-known-failures.txt fails the run.
	echo "=== conformance"
	t1=$(now)
	if "$HERE/conformance.sh" >"$LOGDIR/conformance.run.log" 2>&1 7>&-; then
		results+=("PASS  conformance ($(since "$t1")s): $(sed -n 's/^tests: //p' "$LOGDIR/conformance.summary.txt")")
		pass=$((pass + 1))
	else
		results+=("FAIL  conformance ($(since "$t1")s): see $LOGDIR/conformance.run.log")
		fail=$((fail + 1))
		grep 'FAIL' "$LOGDIR/conformance.run.log" | head -20
	fi
	# Counts and the first failing tests; the summary file has them all.
	sed -n '2,13p' "$LOGDIR/conformance.summary.txt" 2>/dev/null
	echo "    full output: $LOGDIR/conformance.serial.log, failures: $LOGDIR/conformance.summary.txt"
	# The other LUN configurations, each on the suites its option changes
	# (conformance.sh), with its own known skips: about 2 minutes together.
	for cfg in removable readonly 512n write-cache-off; do
		echo "=== conformance ($cfg)"
		t1=$(now)
		if VUS_CONFORMANCE_CONFIG=$cfg "$HERE/conformance.sh" >"$LOGDIR/conformance-$cfg.run.log" 2>&1 7>&-; then
			results+=("PASS  conformance $cfg ($(since "$t1")s): $(sed -n 's/^config [^:]*: //p' "$LOGDIR/conformance-$cfg.summary.txt")")
			pass=$((pass + 1))
		else
			results+=("FAIL  conformance $cfg ($(since "$t1")s): see $LOGDIR/conformance-$cfg.run.log")
			fail=$((fail + 1))
			grep 'FAIL' "$LOGDIR/conformance-$cfg.run.log" | head -20
		fi
	done
fi

echo
echo "=== summary (backend: $VUS_BACKEND, QEMU ${QEMU:-/usr/bin/qemu-system-x86_64}, total $(since "$T0")s)"
for r in "${results[@]}"; do
	echo "  $r"
done
# Time from QEMU start to the guest's init, as the guest's clock saw it.
boots=$(find "$LOGDIR" -name '*.serial.log' -newer "$LOGDIR/.run-all.start" -exec cat {} + | tr -d '\r' |
	sed -n 's/^VUS-BOOT: userspace at \([0-9.]*\)s$/\1/p' | sort -n)
if [ -n "$boots" ]; then
	echo "  guest boot to userspace: $(echo "$boots" | awk '{ v[NR] = $1 } END {
		printf "min %.2fs, median %.2fs, max %.2fs over %d boots", v[1], v[int((NR + 1) / 2)], v[NR], NR }')"
fi
[ "$skip" -gt 0 ] && echo "$skip skipped"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
