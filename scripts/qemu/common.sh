# shellcheck shell=bash disable=SC2034
# Shared settings for the QEMU scripts; sourced, not run.
#
# Everything lives under build/qemu/ (ignored by git):
#   dl/     the pinned orig tarball
#   apt/    a private apt setup (lists, sources) that leaves the system's alone
#   src/    git tree: commit 1 is the pristine release, then the series
#   obj/    meson build directory (out of tree, so re-creating src/ keeps it)
#   bin/    qemu-system-x86_64 wrapper that adds the firmware search path
#   series-check/   worktree + build dir for the per-patch build check

# The base: Debian's repack of QEMU 10.2.2 (bundled wheels/firmware removed).
QEMU_VERSION=10.2.2
QEMU_DEB_VERSION=1:10.2.2+ds-1
QEMU_TARBALL=qemu_10.2.2+ds.orig.tar.xz
QEMU_TARBALL_SHA256=be05230fe47a6937cd29f28f562932c8125f9c93c2a82c625198f7a4aa601dfb
# The pristine commit gets fixed metadata so its id, and the ids of the
# series on top of it (applied with --committer-date-is-author-date), are
# the same on every machine.
QEMU_BASE_DATE="2026-01-01T00:00:00Z"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PATCHES=$ROOT/patches
QDIR=$ROOT/build/qemu
QDL=$QDIR/dl
QAPT=$QDIR/apt
QSRC=$QDIR/src
QOBJ=$QDIR/obj
QBIN=$QDIR/bin
QEMU_WRAPPER=$QBIN/qemu-system-x86_64

GIT_IDENT=(-c "user.name=vhost-user-scsi developers"
	-c "user.email=dev@vhost-user-scsi.invalid")

# A small build: one target, vhost-user, TCG; no UI, docs, tools or Rust.
QEMU_CONFIGURE_ARGS=(--target-list=x86_64-softmmu --python=/usr/bin/python3
	--without-default-features --enable-vhost-user --enable-vhost-kernel
	--enable-tcg --disable-docs --disable-rust --disable-install-blobs)

# Firmware the stripped tarball lacks comes from Debian's packages.
QEMU_FIRMWARE_DIRS=(/usr/share/seabios /usr/share/qemu /usr/lib/ipxe/qemu)

log() { echo "[qemu] $*" >&2; }
die() {
	echo "[qemu] error: $*" >&2
	exit 1
}

# Patch files of the series, in order, without the cover letter.
series_patches() {
	find "$PATCHES" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' \
		! -name '0000-*' | sort
}

# Identifies base + series: a change to either invalidates the caches.
series_hash() {
	{
		# Bump when the way the tree is built from them changes.
		echo "tree-layout 2"
		echo "$QEMU_TARBALL_SHA256"
		series_patches | while read -r p; do
			sha256sum <"$p"
		done
	} | sha256sum | cut -d' ' -f1
}

# apt-get with a private sources list, lists and cache: deb-src for sid
# (where 10.2.2 lives) and bookworm-backports for meson and pycotap.
apt_private() {
	mkdir -p "$QAPT/lists/partial" "$QAPT/cache/archives/partial"
	local kr=/usr/share/keyrings/debian-archive-keyring.gpg
	cat >"$QAPT/sources.list" <<EOS
deb-src [signed-by=$kr] http://deb.debian.org/debian sid main
deb [signed-by=$kr] http://deb.debian.org/debian bookworm main
deb [signed-by=$kr] http://deb.debian.org/debian bookworm-backports main
EOS
	apt-get -q -o Dir::Etc::SourceList="$QAPT/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$QAPT/lists" \
		-o Dir::Cache="$QAPT/cache" \
		-o DPkg::Lock::Timeout=600 -o APT::Sandbox::User=root "$@"
}

# The lists are refreshed at most once a day.
apt_private_update() {
	if [ -z "$(find "$QAPT/lists" -maxdepth 1 -name '*Sources*' -mtime -1 2>/dev/null)" ]; then
		apt_private update >/dev/null
	fi
}
