#!/bin/sh
# Run cmocka unit test programs; print one summary line that CI can read.
set -u
pass=0
fail=0
for t in "$@"; do
	if "$t"; then
		pass=$((pass + 1))
	else
		echo "unit: FAILED: $t" >&2
		fail=$((fail + 1))
	fi
done
echo "unit programs: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
