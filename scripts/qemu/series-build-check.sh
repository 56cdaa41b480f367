#!/bin/bash
# Build qemu-system-x86_64 and qos-test after each patch of the series, in a
# separate worktree and build directory (build/qemu/series-check), so that
# every patch is known to build on its own.  The first step is a full build
# (several minutes on 2 cores); the later ones are incremental.
set -euo pipefail
# shellcheck source=scripts/qemu/common.sh
. "$(dirname "$0")/common.sh"

"$ROOT/scripts/qemu/install-build-deps.sh"
"$ROOT/scripts/qemu/prepare-tree.sh"

SC=$QDIR/series-check
wt=$SC/src
obj=$SC/obj
mkdir -p "$SC"
# Reuse the worktree when it belongs to this tree: going back to pristine
# then only touches the files the series changes, so the build stays
# incremental.  prepare-tree.sh re-creates src/, which orphans it.
if [ -d "$wt" ] && git -C "$wt" rev-parse -q --verify pristine >/dev/null 2>&1 &&
	[ "$(git -C "$wt" rev-parse pristine)" = "$(git -C "$QSRC" rev-parse pristine)" ]; then
	git -C "$wt" am --abort >/dev/null 2>&1 || true
	git -C "$wt" checkout -q -f --detach pristine
	git -C "$wt" clean -fdq
else
	git -C "$QSRC" worktree remove --force "$wt" 2>/dev/null || rm -rf "$wt"
	git -C "$QSRC" worktree prune
	git -C "$QSRC" worktree add -q --detach "$wt" pristine
fi
# The edk2 stand-ins are untracked: copy them into the worktree.
cp "$QSRC"/pc-bios/edk2-*.fd.bz2 "$wt/pc-bios/"

if [ ! -f "$obj/build.ninja" ]; then
	mkdir -p "$obj"
	(cd "$obj" && "$wt/configure" "${QEMU_CONFIGURE_ARGS[@]}" >configure.log 2>&1) ||
		die "configure failed, see $obj/configure.log"
fi

while read -r p; do
	name=$(basename "$p")
	git -C "$wt" "${GIT_IDENT[@]}" am -q --committer-date-is-author-date "$p" ||
		die "$name does not apply"
	t0=$(date +%s)
	if ! ninja -C "$obj" -j"$(nproc)" qemu-system-x86_64 tests/qtest/qos-test \
		>"$SC/build-$name.log" 2>&1; then
		tail -30 "$SC/build-$name.log" >&2
		die "the tree does not build after $name (log: $SC/build-$name.log)"
	fi
	log "ok   builds after $name ($(($(date +%s) - t0)) s)"
done < <(series_patches)
