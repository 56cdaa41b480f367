#!/bin/sh
# Install the Debian packages the build, the tests and the demo need;
# "install-deps.sh bench" adds those only a benchmark needs.  Idempotent: packages already present are left alone; apt-get update runs
# only when something is missing.  Must run as root on Debian 12.
set -eu

PKGS="build-essential pkg-config liburing-dev libjansson-dev libcmocka-dev
clang-format qemu-system-x86 qemu-utils fio sg3-utils e2fsprogs
busybox-static libiscsi-bin cpio util-linux kmod xz-utils zstd file strace
python3 clang libclang-rt-14-dev
tgt libiscsi-dev libglib2.0-dev gnuplot-nox qemu-system-common
libfuse3-dev"
# RBD LUNs and the single-node Ceph cluster their tests start.  The build
# needs only librbd-dev's headers (the daemon dlopen()s librbd at run time);
# librbd-dev pulls in librbd1 and librados2, which the RBD tests load.
PKGS="$PKGS librbd-dev ceph-mon ceph-osd ceph-common"
# make bench-remote: QEMU's iscsi and rbd block drivers, which
# qemu-storage-daemon loads as modules.
[ "${1:-}" = bench ] && PKGS="$PKGS qemu-block-extra"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing (run this script as root)" >&2
	exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
