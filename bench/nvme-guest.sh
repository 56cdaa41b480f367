#!/bin/bash
# The NVMe benchmark of issue 9, all inside one q35 TCG guest with an
# emulated NVMe behind intel-iommu (the rig of tests/guest/test-nvme.sh):
#   vfio     our daemon drives the NVMe through VFIO (--lun type=nvme)
#   kfile    our daemon on the kernel's nvme driver (--lun type=file,
#            path=/dev/nvme0n1,direct=on: io_uring, O_DIRECT)
#   kdirect  fio on /dev/nvme0n1 itself (io_uring, direct=1): no daemon
# fio runs in the guest (through our engine for the first two), alternating
# rounds; the guest half is bench/nvme-guest-fio.sh.  Results go to
# build/bench-nvme/STAMP/ and bench/nvme-report.py turns them into
# docs/benchmarks-nvme.md.
#
#   bench/nvme-guest.sh            (make bench-nvme)
#
# Environment: BENCH_NVME_RUNTIME [10] seconds per point, BENCH_RUNS [2]
# rounds, BENCH_NVME_POINTS [randread:1+randread:32+randwrite:32],
# BENCH_NVME_SPAN [128] MiB, BENCH_NVME_KENGINE [io_uring] (kdirect's fio
# engine), BENCH_NVME_DOC [docs/benchmarks-nvme.md] ("" = no doc), QEMU.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECS=${BENCH_NVME_RUNTIME:-10}
RUNS=${BENCH_RUNS:-2}
POINTS=${BENCH_NVME_POINTS:-randread:1+randread:32+randwrite:32}
SPAN=${BENCH_NVME_SPAN:-128}
KENGINE=${BENCH_NVME_KENGINE:-io_uring}
DOC=${BENCH_NVME_DOC-docs/benchmarks-nvme.md}
QEMU=${QEMU:-/usr/bin/qemu-system-x86_64}
GDIR=$ROOT/build/guest
OUT=$ROOT/build/bench-nvme/$(date -u +%Y%m%d-%H%M%S)
MEM=1G

log() { echo "[bench-nvme] $*" >&2; }
die() {
	echo "[bench-nvme] error: $*" >&2
	exit 1
}

for f in build/vhost-user-scsi build/fio-vhost-user-scsi.so; do
	[ -e "$f" ] || die "no $f (make all fio-engine)"
done
"$ROOT/scripts/guest/build-guest.sh" >&2 || die "scripts/guest/build-guest.sh failed"
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/vus-bench-nvme.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# The guest half rides in a small cpio appended to the test initramfs
# (later members win), so scripts/guest stays as it is.
mkdir -p "$WORK/stage/tests"
cp bench/nvme-guest-fio.sh "$WORK/stage/tests/bench-nvme.sh"
chmod 755 "$WORK/stage/tests/bench-nvme.sh"
(cd "$WORK/stage" && find . -mindepth 1 | cpio -o -H newc --quiet) >"$WORK/extra.cpio"
cat "$GDIR/initramfs.cpio" "$WORK/extra.cpio" >"$WORK/initramfs.cpio"

IMG=$WORK/nvme0.img
truncate -s 256M "$IMG"
TMO=$((RUNS * 3 * $(echo "$POINTS" | tr + ' ' | wc -w) * (SECS + 8) + 240))
CMDLINE="console=ttyS0 panic=-1 quiet loglevel=4 i8042.noaux i8042.nokbd intel_iommu=on no_timer_check"
CMDLINE="$CMDLINE vus.test=bench-nvme vus.timeout=$((TMO - 20)) vus.args=$SECS,$RUNS,$POINTS,$SPAN,$KENGINE"
# shellcheck disable=SC2054 # commas belong to QEMU's option syntax
ARGS=(-accel tcg -machine q35 -cpu max -smp 2 -m "$MEM"
	-object "memory-backend-memfd,id=mem,size=$MEM,share=on" -numa node,memdev=mem
	-kernel "$GDIR/vmlinux" -initrd "$WORK/initramfs.cpio" -append "$CMDLINE"
	-nodefaults -no-user-config -display none -serial "file:$OUT/serial.log" -no-reboot
	-device intel-iommu,intremap=on,caching-mode=on,aw-bits=48
	-drive "if=none,id=n0,file=$IMG,format=raw,discard=unmap"
	-device nvme,id=nvme0,serial=VUSNVMEBENCH,mdts=7
	-device nvme-ns,bus=nvme0,drive=n0,nsid=1)
{
	echo "# $0 (BENCH_NVME_RUNTIME=$SECS BENCH_RUNS=$RUNS BENCH_NVME_POINTS=$POINTS BENCH_NVME_SPAN=$SPAN BENCH_NVME_KENGINE=$KENGINE)"
	printf '%q ' "$QEMU" "${ARGS[@]}"
	echo
} >"$OUT/commands.log"
{
	echo "host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	echo "host_cpus=$(nproc)"
	echo "host_kernel=$(uname -r)"
	echo "host_load=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "qemu=$("$QEMU" --version | head -1)"
	echo "fio=$(fio --version 2>/dev/null)"
	echo "tree=$(git rev-parse --short HEAD 2>/dev/null) dirty=$(git status --porcelain 2>/dev/null | grep -c -v '^??' || true)"
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
} >"$OUT/machine.txt"
log "$(echo "$POINTS" | tr + ' ' | wc -w) points x 3 configurations x $RUNS rounds, ${SECS}s each; results in $OUT"
t0=$(date +%s)
rc=0
timeout --kill-after=5 "$TMO" "$QEMU" "${ARGS[@]}" </dev/null >"$OUT/qemu.log" 2>&1 || rc=$?
log "guest finished in $(($(date +%s) - t0))s (qemu exit $rc)"
echo "host_load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
echo "wall_s=$(($(date +%s) - t0))" >>"$OUT/machine.txt"
result=$(tr -d '\r' <"$OUT/serial.log" | grep -a '^VUS-TEST-RESULT: ' | tail -1 || true)
if [ "$result" != "VUS-TEST-RESULT: PASS" ]; then
	tr -d '\r' <"$OUT/serial.log" | grep -a -E '^VUS-CHECK-FAIL|^VUS-GUEST-TIMEOUT' >&2 || true
	die "guest half failed (${result:-no result marker}; log $OUT/serial.log)"
fi
python3 bench/nvme-report.py "$OUT" ${DOC:+"$DOC"}
[ -n "$DOC" ] && log "wrote $DOC"
log "raw results: $OUT/results.csv"
