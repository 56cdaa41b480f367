#!/bin/bash
# Build the test guest: an uncompressed Debian vmlinux plus a busybox
# initramfs holding the SCSI modules, the test tools and tests/guest/*.
#
#   scripts/guest/build-guest.sh [--force | --force-kernel]
#
# Output (all under build/guest/):
#   vmlinux          ELF kernel, PVH-bootable with qemu -kernel
#   initramfs.cpio   newc archive, uncompressed
#   kernel.version   the kernel release the modules belong to
#
# The kernel is downloaded once and cached; the initramfs (3 s to build) is
# rebuilt whenever a test or guest script is newer than it.  --force
# rebuilds the initramfs, --force-kernel downloads the kernel again too.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/build/guest
DEBS=$OUT/debs
STAGE=$OUT/initramfs.root
FORCE_KERNEL=0
FORCE=0
case "${1:-}" in
--force-kernel) FORCE_KERNEL=1 FORCE=1 ;;
--force) FORCE=1 ;;
esac

log() { echo "build-guest: $*" >&2; }
die() {
	echo "build-guest: error: $*" >&2
	exit 1
}

mkdir -p "$OUT" "$DEBS" "$OUT/logs"

# Serialise concurrent callers (run-all and demo may both trigger a build).
exec 9>"$OUT/.build.lock"
flock 9

# ---------------------------------------------------------------- kernel --

# The metapackage names the current ABI package; follow it rather than
# hard-coding a version so security updates are picked up automatically.
resolve_kernel_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

KPKG=$(resolve_kernel_pkg || true)
if [ -z "$KPKG" ]; then
	# No apt metadata (offline box): fall back to whatever was cached.
	cached=$(ls -1 "$DEBS"/linux-image-*-amd64_*.deb 2>/dev/null | tail -1 || true)
	[ -n "$cached" ] || die "cannot resolve linux-image-amd64 and nothing is cached"
	KPKG=$(basename "$cached" | sed 's/_.*//')
fi
KVER=${KPKG#linux-image-}

deb=$(ls -1 "$DEBS/${KPKG}"_*.deb 2>/dev/null | tail -1 || true)
if [ -z "$deb" ] || [ "$FORCE_KERNEL" = 1 ]; then
	log "downloading $KPKG"
	# apt-get download writes to the cwd; _apt cannot write under /work,
	# which only costs a harmless warning.
	rc=0
	(cd "$DEBS" && apt-get download "$KPKG") >"$OUT/apt-download.log" 2>&1 || rc=$?
	grep -v '^W: Download is performed unsandboxed' "$OUT/apt-download.log" >&2 || true
	deb=$(ls -1 "$DEBS/${KPKG}"_*.deb 2>/dev/null | tail -1 || true)
	[ "$rc" = 0 ] && [ -n "$deb" ] || die "apt-get download $KPKG failed"
fi

KDIR=$OUT/kernel-$KVER
if [ ! -f "$KDIR/.unpacked" ] || [ "$deb" -nt "$KDIR/.unpacked" ]; then
	log "unpacking $(basename "$deb")"
	rm -rf "$KDIR"
	mkdir -p "$KDIR"
	dpkg -x "$deb" "$KDIR"
	touch "$KDIR/.unpacked"
fi

BZIMAGE=$KDIR/boot/vmlinuz-$KVER
MODDIR=$KDIR/lib/modules/$KVER
[ -f "$BZIMAGE" ] || die "no $BZIMAGE in $deb"

if [ ! -f "$OUT/vmlinux" ] || [ "$BZIMAGE" -nt "$OUT/vmlinux" ] ||
	[ "$(cat "$OUT/kernel.version" 2>/dev/null)" != "$KVER" ]; then
	log "extracting vmlinux from $(basename "$BZIMAGE")"
	"$ROOT/scripts/guest/extract-vmlinux" "$BZIMAGE" "$OUT/vmlinux"
	echo "$KVER" >"$OUT/kernel.version"
fi

# ------------------------------------------------------------- initramfs --

# Our own binaries for the tests that run the daemon inside the guest (the
# NVMe test: the device is bound to vfio-pci there).  Each is optional: a
# test that needs a missing one says so.  Guest path = host path under
# /opt/vus, i.e. /opt/vus/vhost-user-scsi, /opt/vus/asan/vhost-user-scsi...
OUR_BINS="$ROOT/build/vhost-user-scsi $ROOT/build/asan/vhost-user-scsi
$ROOT/build/fio-vhost-user-scsi.so $ROOT/build/nvme/vfio_smoke $ROOT/build/nvme/vus_pattern"

# Up to date when nothing that goes into the archive changed since it was
# written: the tests, these scripts, the kernel, the main tools.
if [ -f "$OUT/initramfs.cpio" ] && [ "$FORCE" = 0 ] &&
	[ -z "$(find "$ROOT/tests/guest" "$ROOT/scripts/guest" "$OUT/vmlinux" \
		/usr/bin/fio /usr/bin/iscsi-test-cu /bin/busybox $(ls -d $OUR_BINS 2>/dev/null) \
		-newer "$OUT/initramfs.cpio" -print -quit)" ]; then
	exit 0
fi

# Modules the tests need; their dependencies are added automatically.
WANT_MODULES="virtio_pci virtio_scsi sd_mod sg ext4 crc32c_generic"

find_module() {
	local name=$1 alt
	alt=$(echo "$name" | tr '_-' '-_')
	find "$MODDIR/kernel" \( -name "$name.ko*" -o -name "$alt.ko*" \) -print -quit
}

# Depth-first walk over `modinfo -F depends`: emits each module after all of
# its dependencies, i.e. a valid insmod order.
declare -A SEEN=()
ORDER=()
visit() {
	local name=$1 file dep
	[ -n "${SEEN[$name]:-}" ] && return 0
	SEEN[$name]=1
	file=$(find_module "$name")
	[ -n "$file" ] || die "module $name not found under $MODDIR"
	for dep in $(modinfo -F depends "$file" | tr ',' ' '); do
		visit "$dep"
	done
	ORDER+=("$file")
}
for m in $WANT_MODULES; do
	visit "$m"
done
# Loaded at boot: the list above.  Loaded on demand (g_load_modules in
# lib-guest.sh), so the other tests boot as before: VFIO and NVMe.
# vfio_iommu_type1 is no link-time dependency of vfio_pci (vfio asks for it
# with request_module, which needs a modprobe the initramfs does not have).
NBOOT=${#ORDER[@]}
EXTRA_MODULES="vfio vfio_iommu_type1 vfio_pci nvme"
for m in $EXTRA_MODULES; do
	visit "$m"
done

rm -rf "$STAGE"
mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,lib/modules,etc,proc,sys,dev,tmp,run,mnt,tests,root}
ln -s lib "$STAGE/lib64"
# The kernel opens /dev/console before init runs, i.e. before devtmpfs is
# mounted, so the node must already be in the archive.
mknod -m 600 "$STAGE/dev/console" c 5 1
mknod -m 666 "$STAGE/dev/null" c 1 3

# busybox first: its applets fill the gaps, real tools below override them.
cp /bin/busybox "$STAGE/bin/busybox"
for applet in $(/bin/busybox --list); do
	[ "$applet" = busybox ] && continue
	ln -sf busybox "$STAGE/bin/$applet"
done

: >"$STAGE/lib/modules/load.order"
: >"$STAGE/lib/modules/load.order.extra"
i=0
for f in "${ORDER[@]}"; do
	base=$(basename "$f")
	cp "$f" "$STAGE/lib/modules/$base"
	if [ "$i" -lt "$NBOOT" ]; then
		echo "$base" >>"$STAGE/lib/modules/load.order"
	else
		echo "$base" >>"$STAGE/lib/modules/load.order.extra"
	fi
	i=$((i + 1))
done

# Copy a binary plus every shared object ldd resolves for it, preserving the
# host paths so the dynamic loader finds them without any configuration.
copy_with_libs() {
	local bin=$1 lib
	[ -x "$bin" ] || die "missing tool $bin (run scripts/install-deps.sh)"
	mkdir -p "$STAGE$(dirname "$bin")"
	cp -L "$bin" "$STAGE$bin"
	for lib in $(ldd "$bin" 2>/dev/null | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }'); do
		if [ ! -e "$STAGE$lib" ]; then
			mkdir -p "$STAGE$(dirname "$lib")"
			cp -L "$lib" "$STAGE$lib"
		fi
	done
}

TOOLS="/usr/bin/fio /usr/bin/iscsi-test-cu /usr/bin/iscsi-inq
/usr/sbin/mke2fs /usr/sbin/e2fsck /usr/sbin/blkdiscard /usr/bin/lsblk"
for t in $TOOLS /usr/bin/sg_*; do
	copy_with_libs "$t"
done
for b in $OUR_BINS; do
	[ -e "$b" ] || continue
	copy_with_libs "$b"
	dst=$STAGE/opt/vus/${b#"$ROOT/build/"}
	mkdir -p "$(dirname "$dst")"
	mv "$STAGE$b" "$dst"
done
rm -rf "${STAGE:?}$ROOT"
ln -sf mke2fs "$STAGE/usr/sbin/mkfs.ext4"
ln -sf e2fsck "$STAGE/usr/sbin/fsck.ext4"
cp /etc/mke2fs.conf "$STAGE/etc/mke2fs.conf"

# Real tools win over busybox applets of the same name (lsblk, blkdiscard...)
# because /usr/sbin and /usr/bin come first in the init's PATH.
cp "$ROOT/scripts/guest/init" "$STAGE/init"
chmod 755 "$STAGE/init"
shopt -s nullglob
for t in "$ROOT"/tests/guest/*.sh "$ROOT"/tests/guest/*.py; do
	cp "$t" "$STAGE/tests/"
done
cp "$ROOT/scripts/guest/demo-guest.sh" "$STAGE/tests/demo.sh"
chmod -R a+rX "$STAGE/tests"
echo "root:x:0:0:root:/root:/bin/sh" >"$STAGE/etc/passwd"
echo "root:x:0:" >"$STAGE/etc/group"
ln -s /proc/mounts "$STAGE/etc/mtab"

# Uncompressed: TCG decompresses gzip slowly, while QEMU copies an
# uncompressed initrd into guest RAM almost for free.
(cd "$STAGE" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --quiet) >"$OUT/initramfs.cpio.tmp"
mv "$OUT/initramfs.cpio.tmp" "$OUT/initramfs.cpio"
log "kernel $KVER, initramfs $(du -h "$OUT/initramfs.cpio" | cut -f1), modules: $(tr '\n' ' ' <"$STAGE/lib/modules/load.order"), on demand: $(tr '\n' ' ' <"$STAGE/lib/modules/load.order.extra"), ours: $(cd "$STAGE" && ls -d opt/vus/* opt/vus/*/* 2>/dev/null | tr '\n' ' ')"
