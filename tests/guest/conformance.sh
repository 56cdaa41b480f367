#!/bin/bash
# libiscsi's SCSI conformance suite (iscsi-test-cu, built with SG_IO)
# against a RAM LUN through /dev/sgN.  Records the counts, the failing and
# the skipping tests; fails the run when it broke (no VM, no summary, daemon
# crash) or on a regression against the lists below.
#
#   tests/guest/conformance.sh [TEST-REGEXP]   default: the configuration's suites
#   VUS_CONFORMANCE_CONFIG=NAME tests/guest/conformance.sh [TEST-REGEXP]
#
# NAME is the LUN configuration (a 64 MiB RAM LUN with):
#   default          nothing more; all of the suite (ALL), with --allow-sanitize,
#                    through two controllers sharing the LUN (two paths: the
#                    MultipathIO suite runs)
#   readonly         readonly=on
#   removable        removable=on
#   512n             physical-block-size=512: one logical block per physical
#                    block (the RAM LUN's default is its page: 512e)
#   write-cache-off  write-cache=off
# Each configuration but default runs by default only the suites its option
# changes (CONFIG_SUITES below), and has its own list of known skips,
# conformance-known-skips-NAME.txt, with its own strict-floor, judged when
# it runs those suites.  TEST-REGEXP is iscsi-test-cu's FAMILY.SUITE.TEST
# (e.g. ALL.ProutRegister or ALL.Sanitize.*); several: separate with +.
#
# Besides CUnit's count, the summary has the strict one: a test counts
# only when none of its steps was [SKIPPED].  A failure not listed in
# conformance-known-failures.txt, a skip not listed in
# conformance-known-skips.txt, or (on ALL) a strict count below that
# file's strict-floor (on the configuration's own suites) fails the run
# (VUS_CONFORMANCE_INFORMATIONAL=1: never).
# Full output: build/guest/logs/conformance.serial.log
if [ "$1" = guest ]; then
	. /tests/lib-guest.sh
	if [ "${4:-1}" = 2 ]; then
		# Two paths to one LUN (two controllers): the suite's multipath tests use both.
		g_wait_disks 2 || g_done
		sg=$(for d in /sys/class/scsi_device/*; do echo "/dev/$(ls "$d/device/scsi_generic/")"; done)
		[ "$(echo "$sg" | wc -l)" = 2 ] || { g_fail "not two sg nodes: $sg"; g_done; }
	else
		g_wait_disks 1 || g_done
		sg=$(g_sg_of_lun 0) || { g_fail "no sg node for LUN 0"; g_done; }
	fi
	echo "VUS-CONFORMANCE-BEGIN"
	# The kernel command line splits our arguments at commas: + stands for one.
	tests=$(echo "${2:-ALL}" | tr '+' ',')
	extra=
	if [ "${3:-}" = sanitize ]; then
		extra=--allow-sanitize
		# With it, Debian's iscsi-test-cu 1.19 dies (SIGSEGV) in
		# Sanitize.OverwriteReserved over SG_IO before it can skip as
		# iSCSI-only; the *Reserved tests (the only names ending in d)
		# are left out.  Suites are FAMILY.SUITE patterns (fnmatch).
		[ "$tests" = ALL ] && tests='ALL.[!S]*,ALL.S[!a]*,ALL.Sanitize.*[!d]'
	fi
	# shellcheck disable=SC2086 # one argument per path
	iscsi-test-cu --dataloss $extra --test="$tests" --verbose $sg 2>&1
	echo "VUS-CONFORMANCE-END rc=$?"
	# The suite's own verdict is informational; reaching here is a pass.
	g_done
fi

. "$(dirname "$0")/lib.sh"
config=${VUS_CONFORMANCE_CONFIG:-default}
logname=conformance
[ "$config" = default ] || logname=conformance-$config
vus_setup "$logname"
SUMMARY=$VUS_LOGDIR/$logname.summary.txt
VUS_VM_TIMEOUT=${VUS_CONFORMANCE_TIMEOUT:-600}
export VUS_VM_TIMEOUT
# Per configuration: the --lun keys, and the suites where the option shows.
gextra=
case "$config" in
default)
	lunopts= suites=ALL gextra=sanitize ;;
readonly)
	lunopts=,readonly=on
	suites="ALL.ReadOnly.*+ALL.Write10.WriteProtect+ALL.Write12.WriteProtect+ALL.Write16.WriteProtect+ALL.ModeSense6.*+ALL.Read10.*" ;;
removable)
	lunopts=,removable=on suites="ALL.PreventAllow.*+ALL.StartStopUnit.*+ALL.NoMedia.*+ALL.TestUnitReady.*+ALL.Inquiry.*" ;;
512n)
	lunopts=,physical-block-size=512
	suites="ALL.WriteSame10.*+ALL.WriteSame16.*+ALL.CompareAndWrite.*+ALL.ReadCapacity16.*+ALL.GetLBAStatus.*+ALL.Unmap.*+ALL.Inquiry.*" ;;
write-cache-off)
	lunopts=,write-cache=off
	suites="ALL.Read10.*+ALL.Read12.*+ALL.Read16.*+ALL.Write10.*+ALL.Write12.*+ALL.Write16.*+ALL.WriteVerify10.*+ALL.ModeSense6.*+ALL.Prefetch10.*" ;;
*)
	echo "conformance.sh: unknown VUS_CONFORMANCE_CONFIG '$config' (default, readonly, removable, 512n, write-cache-off)" >&2
	exit 2 ;;
esac
filter=${1:-$suites}
if [ "$config" = default ] && [ "$VUS_BACKEND" = daemon ]; then
	# The LUN through two controllers: MultipathIO.* have their second path.
	vus_start_two_paths "type=ram size=64M" &&
		vus_run_guest conformance "$filter,${gextra:-none},2"
else
	vus_start_backend "type=ram,size=64M,lun=0$lunopts" &&
		vus_run_guest conformance "$filter${gextra:+,$gextra}"
fi
vus_stop_backend

tr -d '\r' <"$VUS_SERIAL" | sed -n '/^VUS-CONFORMANCE-BEGIN/,/^VUS-CONFORMANCE-END/p' >"$VUS_TMP/out"
# CUnit's summary: "tests  TOTAL  RAN  PASSED  FAILED  INACTIVE".
counts=$(awk '$1 == "tests" && NF >= 5 { print $2, $3, $4, $5; exit }' "$VUS_TMP/out")
read -r c_total c_ran c_passed c_failed <<<"$counts"
# CUnit counts a test as passed when no assertion failed, and libiscsi's
# tests return early, without failing, when the target lacks what they test
# ("[SKIPPED] ... is not implemented").  Strictly, a test passes only when
# none of its steps was skipped.  Verbose mode prints "Suite: S", then
# "Test: T ..." and whatever the test logs, ending with "passed" or
# "FAILED" (on the Test line itself when it logged nothing).  One line per
# test: "Suite.Test pass|skip|fail [first skip message]".
awk 'function finish(st) {
		if (st == "pass" && skip != "") st = "skip"
		print name, st, (st == "skip" ? skip : "")
		name = ""
	}
	/^Suite: / { suite = $2; next }
	/^ *Test: / { name = suite "." $2; skip = "" }
	name != "" && /\[SKIPPED\]/ && skip == "" { skip = $0; sub(/^.*\[SKIPPED\] */, "", skip) }
	name != "" && (/^passed$/ || /\.\.\.passed$/) { finish("pass"); next }
	name != "" && (/^FAILED$/ || /\.\.\.FAILED$/) { finish("fail"); next }' "$VUS_TMP/out" >"$VUS_TMP/results"
strict=$(awk '$2 == "pass"' "$VUS_TMP/results" | wc -l)
nskip=$(awk '$2 == "skip"' "$VUS_TMP/results" | wc -l)
nparsed=$(wc -l <"$VUS_TMP/results")
known_skips=$(dirname "$0")/conformance-known-skips.txt
[ "$config" = default ] || known_skips=$(dirname "$0")/conformance-known-skips-$config.txt
{
	echo "libiscsi iscsi-test-cu --dataloss${gextra:+ --allow-sanitize} -t $filter on a RAM LUN, config $config ($VUS_BACKEND backend), $(date -u +%FT%TZ)"
	if [ -n "$counts" ]; then
		echo "config $config: strictly $strict of $c_ran"
		echo "tests: total $c_total, ran $c_ran, passed $c_passed (strictly $strict: no step skipped; $nskip skipped), failed $c_failed"
	else
		echo "no CUnit summary found"
	fi
	echo "failed tests:"
	# A failed test prints "[FAILED] why" lines, or only the failed
	# assertion after its "FAILED" line.
	awk '/^Suite: / { suite = $2 }
	     pending { sub(/^ */, ""); print pending $0; pending = "" }
	     /^ *Test: .*FAILED/ {
		name = $2
		if ($0 ~ /\[FAILED\]/) {
			sub(/^.*\[FAILED\] */, ""); print "  " suite "." name ": " $0
		} else {
			pending = "  " suite "." name ": "
		}
	     }' "$VUS_TMP/out"
	echo "skipped tests (counted as passed by CUnit), with the reason recorded in $(basename "$known_skips"):"
	awk '$2 == "skip" { print $1 }' "$VUS_TMP/results" | while read -r t; do
		why=$(awk -v t="$t" '$1 == t { $1 = ""; sub(/^ /, ""); print; exit }' "$known_skips")
		echo "  $t: ${why:-NOT LISTED ($(awk -v t="$t" '$1 == t { $1 = $2 = ""; sub(/^ */, ""); print }' "$VUS_TMP/results"))}"
	done
} >"$SUMMARY"
cat "$SUMMARY" >&2
[ -n "$counts" ] || vus_fail "iscsi-test-cu produced no summary (log $VUS_SERIAL)"
# A test the parser lost (a kernel message in the middle of a line, a new
# output format) would silently leave the strict count: refuse to judge.
[ -z "$counts" ] || [ "$nparsed" = "$c_ran" ] ||
	vus_fail "parsed $nparsed test results, CUnit ran $c_ran: the strict count cannot be trusted"
# Regression gates: every failure must be a known one, with its reason
# recorded in conformance-known-failures.txt; every skipped test must be
# listed with its reason in conformance-known-skips.txt; and a full run must
# pass strictly at least the floor recorded there.
known=$(dirname "$0")/conformance-known-failures.txt
# A configuration may add failures of its own (same format).
if [ "$config" != default ] && [ -f "$(dirname "$0")/conformance-known-failures-$config.txt" ]; then
	cat "$known" "$(dirname "$0")/conformance-known-failures-$config.txt" >"$VUS_TMP/known-failures"
	known=$VUS_TMP/known-failures
fi
if [ -z "${VUS_CONFORMANCE_INFORMATIONAL:-}" ]; then
	awk '$2 == "fail" { print $1 }' "$VUS_TMP/results" | while read -r t; do
		grep -qx "$t" "$known" || echo "$t"
	done >"$VUS_TMP/new-failures"
	while read -r t; do
		vus_fail "conformance test $t failed and is not a known failure"
	done <"$VUS_TMP/new-failures"
	awk '$2 == "skip" { print $1 }' "$VUS_TMP/results" | while read -r t; do
		grep -q "^$t " "$known_skips" || echo "$t"
	done >"$VUS_TMP/new-skips"
	while read -r t; do
		vus_fail "conformance test $t skipped a step and is not a known skip"
	done <"$VUS_TMP/new-skips"
	floor=$(awk '$1 == "strict-floor" { print $2 }' "$known_skips")
	if [ "$filter" = "$suites" ] && [ -n "$counts" ] && [ "$strict" -lt "${floor:-0}" ]; then
		vus_fail "strict conformance count $strict fell below the recorded floor $floor"
	fi
	# Tests now passing strictly that the list still excuses: say so, so
	# that the list (and the floor) follow the progress.
	awk '$2 == "pass" { print $1 }' "$VUS_TMP/results" | while read -r t; do
		grep -q "^$t " "$known_skips" && echo "[conformance] $t passes strictly now: remove it from $(basename "$known_skips") and raise strict-floor" >&2
	done
fi
vus_finish
