#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run the libFuzzer targets built by `make fuzz-build` (see fuzz.mk).
#
#   fuzz/run.sh SECONDS TARGET...
#
# For each target: replay every input in fuzz/regressions/TARGET/ (crashes
# found earlier, which must stay fixed), then fuzz for SECONDS on a fresh copy
# of fuzz/corpus/TARGET/ (the committed corpus is never modified).  Any
# crash, leak, timeout or out-of-memory fails the target; its input is kept in
# build/fuzz/artifacts/TARGET/ and the end of the log is printed.  Prints one
# line per target and a final "N passed, N failed"; exits 1 if any failed.
set -u

FUZZ_DIR=${FUZZ_DIR:-build/fuzz}
seconds=$1
shift

passed=0
failed=0
for t in "$@"; do
	bin=$FUZZ_DIR/fuzz_$t
	work=$FUZZ_DIR/work/$t
	art=$FUZZ_DIR/artifacts/$t/
	log=$FUZZ_DIR/logs/$t.log
	rm -rf "$work"
	mkdir -p "$work" "$art" "$(dirname "$log")"
	: >"$log"
	ok=1

	if [ ! -x "$bin" ]; then
		echo "fuzz_$t: not built (run make fuzz-build)" >>"$log"
		ok=0
	fi

	# Regressions first: a fuzzing run that happens not to reach them would hide a relapse.
	nreg=0
	if [ $ok = 1 ] && [ -d "fuzz/regressions/$t" ]; then
		for f in fuzz/regressions/"$t"/*; do
			[ -f "$f" ] || continue
			nreg=$((nreg + 1))
			echo "== replay $f" >>"$log"
			if ! "$bin" -timeout=10 -rss_limit_mb=2048 "$f" >>"$log" 2>&1; then
				echo "regression input $f fails again" >>"$log"
				ok=0
			fi
		done
	fi

	if [ $ok = 1 ]; then
		cp -r "fuzz/corpus/$t" "$work/corpus"
		echo "== fuzz $seconds s" >>"$log"
		# -timeout: a single input running 10 s is a hang (a guest-controlled loop).
		if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix="$art" -print_final_stats=1 "$work/corpus" >>"$log" 2>&1; then
			ok=0
		fi
	fi

	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	if [ $ok = 1 ]; then
		passed=$((passed + 1))
		echo "fuzz_$t: passed (${execs:-0} runs, $nreg regression inputs)"
	else
		failed=$((failed + 1))
		echo "fuzz_$t: FAILED (log: $log, inputs: $art)"
		tail -n 40 "$log" | sed 's/^/    /'
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
