#!/bin/bash
# Build the patched qemu-system-x86_64 and qos-test (the qtest binary that
# holds vhost-user-scsi-test) into build/qemu/obj.  The result is cached by
# base + series hash; an unchanged series costs nothing.
#
# Output: build/qemu/bin/qemu-system-x86_64, a wrapper that adds Debian's
# firmware directories (the stripped tarball has no BIOS) to the search path.
set -euo pipefail
# shellcheck source=scripts/qemu/common.sh
. "$(dirname "$0")/common.sh"

"$ROOT/scripts/qemu/install-build-deps.sh"
"$ROOT/scripts/qemu/prepare-tree.sh"

hash=$(series_hash)
config="${QEMU_CONFIGURE_ARGS[*]}"
if [ -f "$QOBJ/vus-built-hash" ] && [ "$(cat "$QOBJ/vus-built-hash")" = "$hash" ] &&
	[ -x "$QOBJ/qemu-system-x86_64" ] && [ -x "$QOBJ/tests/qtest/qos-test" ] &&
	[ -x "$QEMU_WRAPPER" ]; then
	log "qemu-system-x86_64 is up to date ($QEMU_VERSION + series ${hash:0:12})"
	exit 0
fi

if [ ! -f "$QOBJ/build.ninja" ] || [ "$(cat "$QOBJ/vus-configure-args" 2>/dev/null)" != "$config" ]; then
	log "configuring"
	rm -rf "$QOBJ"
	mkdir -p "$QOBJ"
	(cd "$QOBJ" && "$QSRC/configure" "${QEMU_CONFIGURE_ARGS[@]}" >configure.log 2>&1) ||
		die "configure failed, see $QOBJ/configure.log"
	echo "$config" >"$QOBJ/vus-configure-args"
fi

log "building qemu-system-x86_64 and qos-test"
build_start=$(date +%s)
rm -f "$QOBJ/vus-built-hash"
ninja -C "$QOBJ" -j"$(nproc)" qemu-system-x86_64 tests/qtest/qos-test >"$QOBJ/build.log" 2>&1 ||
	{
		tail -40 "$QOBJ/build.log" >&2
		die "build failed, see $QOBJ/build.log"
	}

mkdir -p "$QBIN"
{
	echo '#!/bin/sh'
	echo '# Patched QEMU; firmware from Debian packages (the +ds tarball has none).'
	printf 'exec %s' "$QOBJ/qemu-system-x86_64"
	for d in "${QEMU_FIRMWARE_DIRS[@]}"; do
		printf ' -L %s' "$d"
	done
	echo ' "$@"'
} >"$QEMU_WRAPPER.tmp"
chmod +x "$QEMU_WRAPPER.tmp"
mv "$QEMU_WRAPPER.tmp" "$QEMU_WRAPPER"
echo "$hash" >"$QOBJ/vus-built-hash"
# The build time is worth seeing in CI logs: it dominates a cold make check.
log "built $("$QEMU_WRAPPER" --version | head -1) in $(($(date +%s) - build_start)) s"
