#!/bin/bash
# The data and fio tests again, served by the ASan+UBSan daemon
# (make SAN=1 -> build/asan/vhost-user-scsi).  Any sanitizer report in the
# daemon's log fails the test (lib.sh checks it when the daemon stops).
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
asan=${VUS_ASAN_DAEMON:-$root/build/asan/vhost-user-scsi}
if [ "${VUS_BACKEND:-daemon}" != daemon ]; then
	echo "[asan] SKIP: needs the daemon backend" >&2
	exit 77
fi
if [ ! -x "$asan" ]; then
	echo "[asan] SKIP: no $asan (build it with make SAN=1)" >&2
	exit 77
fi
rc=0
VUS_BACKEND=daemon VUS_DAEMON=$asan VUS_TEST_NAME=asan-data "$here/test-data.sh" || rc=1
VUS_BACKEND=daemon VUS_DAEMON=$asan VUS_TEST_NAME=asan-fio "$here/test-fio.sh" || rc=1
exit $rc
