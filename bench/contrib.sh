#!/bin/bash
# Build QEMU's contrib/vhost-user-scsi (the reference backend the benchmark
# compares against) without meson: only its own file and libvhost-user are
# needed, so they are taken from the same pinned, sha256-checked QEMU tarball
# that scripts/qemu/ uses and compiled with gcc into build/bench/contrib/.
# The QEMU build tree of scripts/qemu/ (build/qemu/src, obj) is never touched.
#
#   bench/contrib.sh        -> build/bench/contrib/vhost-user-scsi
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/qemu/common.sh
. "$ROOT/scripts/qemu/common.sh"
OUT=$ROOT/build/bench/contrib
BIN=$OUT/vhost-user-scsi

if [ -x "$BIN" ] && [ "$BIN" -nt "$0" ]; then
	exit 0
fi
"$ROOT/scripts/qemu/fetch-qemu.sh"

rm -rf "$OUT"
mkdir -p "$OUT"
top=qemu-$QEMU_VERSION
# include/ must come along: libvhost-user reaches atomic.h, compiler.h and the
# standard-headers through symlinks into it.
tar -xJf "$QDL/$QEMU_TARBALL" -C "$OUT" \
	"$top/contrib/vhost-user-scsi" "$top/subprojects/libvhost-user" \
	"$top/include/qemu/atomic.h" "$top/include/qemu/compiler.h" \
	"$top/include/standard-headers/linux"
src=$OUT/$top

# The sample only needs libc and GLib from qemu/osdep.h; the real one drags in
# the generated config-host.h of a configured tree.
mkdir -p "$OUT/shim/qemu"
cat >"$OUT/shim/qemu/osdep.h" <<'EOS'
/* Stand-in for QEMU's osdep.h: what contrib/vhost-user-scsi uses of it. */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/uio.h>
#include <glib.h>
#include "qemu/compiler.h"

/* Bytes the device may have written: response header plus data-in. */
static inline unsigned int vus_bench_in_len(const struct iovec *iov, unsigned int n)
{
    size_t len = 0;

    while (n--)
        len += iov[n].iov_len;
    return (unsigned int)len;
}
EOS

# The sample sends every command to iSCSI LUN 0, and tgt reserves LUN 0 for
# its controller device (it can be neither deleted nor replaced), so the data
# LUN (1) is made a build-time constant. Fail loudly if the line moved.
f=$src/contrib/vhost-user-scsi/vhost-user-scsi.c
grep -q 'iscsi_scsi_command_sync(ctx, 0, task' "$f" ||
	die "contrib/vhost-user-scsi: the LUN 0 call site changed; update bench/contrib.sh"
sed -i 's/iscsi_scsi_command_sync(ctx, 0, task/iscsi_scsi_command_sync(ctx, VUS_BENCH_ISCSI_LUN, task/' "$f"
# It also completes every request with a used length of 0, which the virtio
# spec forbids for a request that wrote its response, and which our fio engine
# (rightly) treats as a failed request; report the whole device-writable part.
grep -q 'vu_queue_push(vu_dev, vq, elem, 0);' "$f" ||
	die "contrib/vhost-user-scsi: the vu_queue_push call site changed; update bench/contrib.sh"
sed -i 's/vu_queue_push(vu_dev, vq, elem, 0);/vu_queue_push(vu_dev, vq, elem, vus_bench_in_len(elem->in_sg, elem->in_num));/' "$f"

lvu=$src/subprojects/libvhost-user
# shellcheck disable=SC2046
gcc -O2 -g -std=gnu11 -D_GNU_SOURCE -DVUS_BENCH_ISCSI_LUN=1 -w \
	-I"$OUT/shim" -I"$src/include" -I"$lvu" \
	"$f" "$lvu/libvhost-user.c" "$lvu/libvhost-user-glib.c" \
	$(pkg-config --cflags --libs glib-2.0 libiscsi) -lpthread -o "$BIN.tmp"
mv "$BIN.tmp" "$BIN"
log "built $BIN (QEMU $QEMU_VERSION contrib/vhost-user-scsi, iSCSI LUN 1)"
