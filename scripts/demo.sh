#!/bin/bash
# `make demo`: start the daemon with one RAM and one file LUN, boot a TCG
# guest on it and show lsblk, sg_inq of each disk and a short fio run.
#
# VUS_BACKEND=qemu runs the same guest on QEMU's emulated virtio-scsi
# instead (handy to compare, or before the daemon is built).
# VUS_DEMO_THREADS sets the daemon's --threads (default 1: with 2 the LUN
# scan sometimes stalls, see tests/guest/test-fio.sh).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export VUS_BACKEND=${VUS_BACKEND:-daemon}
if [ "$VUS_BACKEND" = daemon ] && [ ! -x "${VUS_DAEMON:-$ROOT/build/vhost-user-scsi}" ]; then
	echo "demo: ${VUS_DAEMON:-$ROOT/build/vhost-user-scsi} is missing: run make first" >&2
	exit 1
fi
"$ROOT/scripts/guest/build-guest.sh" || exit 1

. "$ROOT/tests/guest/lib.sh"
vus_setup demo
truncate -s 128M "$VUS_TMP/disk.img"
vus_log "LUN 0: RAM, 64 MiB; LUN 1: file $VUS_TMP/disk.img, 128 MiB, 4 KiB blocks"
VUS_CONSOLE=1
if vus_start_backend --threads "${VUS_DEMO_THREADS:-1}" --queues 2 \
	"type=ram,size=64M,lun=0,serial=demo-ram" \
	"type=file,path=$VUS_TMP/disk.img,lun=1,block-size=4096,serial=demo-file"; then
	vus_run_guest demo
fi
vus_stop_backend
vus_log "serial log: $VUS_SERIAL; daemon log: $VUS_DLOG"
vus_finish
