#!/bin/bash
# Install what building QEMU 10.2.2 and its qtests needs on Debian 12.
# meson >= 1.5 and pycotap come from bookworm-backports, through a private
# sources list: the system's apt configuration is not touched.  Idempotent.
set -euo pipefail
# shellcheck source=scripts/qemu/common.sh
. "$(dirname "$0")/common.sh"

PKGS=(build-essential pkg-config ninja-build python3-venv git bzip2 xz-utils
	libglib2.0-dev libpixman-1-dev libfdt-dev device-tree-compiler flex bison
	seabios ipxe-qemu qemu-system-data)

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"
}

meson_ok() {
	command -v meson >/dev/null &&
		dpkg --compare-versions "$(meson --version)" ge 1.5
}

missing=()
for p in "${PKGS[@]}"; do
	installed "$p" || missing+=("$p")
done
bp=()
meson_ok || bp+=("meson/bookworm-backports")
installed python3-pycotap || bp+=("python3-pycotap/bookworm-backports")

if [ ${#missing[@]} -eq 0 ] && [ ${#bp[@]} -eq 0 ]; then
	exit 0
fi
[ "$(id -u)" -eq 0 ] || die "missing packages: ${missing[*]} ${bp[*]} (run as root)"

log "installing: ${missing[*]} ${bp[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_private update >/dev/null
apt_private install -y -qq --no-install-recommends "${missing[@]}" "${bp[@]}"
meson_ok || die "meson >= 1.5 is still missing"
