#!/bin/bash
# Download the pinned QEMU orig tarball from Debian's archive (apt-get source
# with a private deb-src list) and check its sha256.  Does nothing when the
# verified tarball is already there.
set -euo pipefail
# shellcheck source=scripts/qemu/common.sh
. "$(dirname "$0")/common.sh"

verify() {
	echo "$QEMU_TARBALL_SHA256  $QDL/$QEMU_TARBALL" | sha256sum -c --status
}

mkdir -p "$QDL"
if [ -f "$QDL/$QEMU_TARBALL" ] && verify; then
	exit 0
fi
rm -f "$QDL/$QEMU_TARBALL"

log "downloading qemu $QEMU_DEB_VERSION sources"
apt_private_update
(cd "$QDL" && apt_private source --download-only "qemu=$QEMU_DEB_VERSION" >/dev/null)
[ -f "$QDL/$QEMU_TARBALL" ] || die "apt-get source did not produce $QEMU_TARBALL"
if ! verify; then
	mv "$QDL/$QEMU_TARBALL" "$QDL/$QEMU_TARBALL.bad"
	die "sha256 mismatch for $QEMU_TARBALL (kept as .bad); expected $QEMU_TARBALL_SHA256"
fi
log "verified $QEMU_TARBALL"
