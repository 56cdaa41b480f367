#!/bin/sh
# Run the VM-free frontend test programs against the daemon named by
# VUS_DAEMON (default build/vhost-user-scsi) and sum cmocka's per-test results;
# with VUS_FIO_ENGINE naming a built engine, its fio smoke run counts too.
# Last line: "N passed, N failed"; exit status non-zero when anything failed.
#   tests/frontend/run.sh PROGRAM...
set -u
: "${VUS_DAEMON:=build/vhost-user-scsi}"
export VUS_DAEMON
pass=0
fail=0
log=$(mktemp /tmp/vusfe-run.XXXXXX)
if [ -n "${VUS_FIO_ENGINE:-}" ] && [ -f "$VUS_FIO_ENGINE" ] && command -v fio >/dev/null; then
    set -- "$@" "tools/fio/smoke.sh $VUS_FIO_ENGINE"
else
    echo "fio engine not built: fio smoke run skipped (make fio-engine)"
fi
for t in "$@"; do
    start=$(date +%s)
    # A hung program must not hang the check: 120 s is far beyond the normal seconds.
    # shellcheck disable=SC2086
    timeout 120 $t >"$log" 2>&1
    rc=$?
    cat "$log"
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    p=${p:-0}
    f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        # Crashed, timed out or failed in a group setup: count the program as one failure.
        echo "$(basename "${t%% *}"): exit status $rc"
        f=1
    fi
    echo "== $(basename "${t%% *}"): $p passed, $f failed ($(($(date +%s) - start)) s)"
    pass=$((pass + p))
    fail=$((fail + f))
done
rm -f "$log"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
