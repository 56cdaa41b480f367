#!/bin/bash
# Unpack the pinned release into build/qemu/src as a git tree whose first
# commit (tag "pristine") is the release as shipped, then `git am` the series
# from patches/.  Skipped when the tree already holds this base + series.
set -euo pipefail
# shellcheck source=scripts/qemu/common.sh
. "$(dirname "$0")/common.sh"

"$ROOT/scripts/qemu/install-build-deps.sh"
"$ROOT/scripts/qemu/fetch-qemu.sh"
[ -n "$(series_patches)" ] || die "no patches in $PATCHES"

hash=$(series_hash)
if [ -f "$QSRC/.git/vus-series-hash" ] &&
	[ "$(cat "$QSRC/.git/vus-series-hash")" = "$hash" ] &&
	[ -z "$(git -C "$QSRC" status --porcelain)" ]; then
	exit 0
fi

# Files the previous series touched: re-created from the tarball they would
# carry its old mtimes, older than the objects built from the patched copy.
old_changed=""
if git -C "$QSRC" rev-parse -q --verify pristine >/dev/null 2>&1; then
	old_changed=$(git -C "$QSRC" diff --name-only pristine HEAD || true)
fi

log "unpacking $QEMU_TARBALL into $QSRC"
rm -rf "$QSRC"
mkdir -p "$QSRC"
tar -xJf "$QDL/$QEMU_TARBALL" -C "$QSRC" --strip-components=1
cd "$QSRC"
git init -q -b master
# -f: QEMU's .gitignore hides the bundled subprojects (keycodemapdb,
# berkeley-softfloat-3, ...) that the release ships and the build needs.
git add -A -f
GIT_AUTHOR_DATE=$QEMU_BASE_DATE GIT_COMMITTER_DATE=$QEMU_BASE_DATE \
	git "${GIT_IDENT[@]}" commit -q -m "QEMU $QEMU_VERSION ($QEMU_TARBALL)" \
	-m "Debian's repack of the upstream release, unmodified."
git tag pristine

# Not part of QEMU: empty stand-ins for the edk2 images the +ds repack
# dropped, which pc-bios/meson.build still lists (x86 tests do not use them).
sed -n "s/^ *'\(edk2-[a-z0-9_-]*\.fd\)',$/\1/p" pc-bios/meson.build | while read -r f; do
	bzip2 -c </dev/null >"pc-bios/$f.bz2"
done
echo 'pc-bios/edk2-*.fd.bz2' >>.git/info/exclude

log "applying $(series_patches | wc -l) patches"
# shellcheck disable=SC2046
if ! git "${GIT_IDENT[@]}" am -q --committer-date-is-author-date $(series_patches); then
	git am --abort || true
	die "the series does not apply to QEMU $QEMU_VERSION"
fi

new_changed=$(git diff --name-only pristine HEAD)
printf '%s\n%s\n' "$old_changed" "$new_changed" | sort -u | while read -r f; do
	[ -n "$f" ] && [ -e "$f" ] && touch "$f"
done
echo "$hash" >.git/vus-series-hash
