#!/bin/bash
# Check the series itself: it applies with `git am` to the pristine release,
# gives exactly the tree that build-qemu.sh builds, every patch passes QEMU's
# scripts/checkpatch.pl with no error and no warning, and the cover letter is
# filled in.  Needs prepare-tree.sh (run here) but no build.
set -euo pipefail
# shellcheck source=scripts/qemu/common.sh
. "$(dirname "$0")/common.sh"

"$ROOT/scripts/qemu/prepare-tree.sh"

cover=$PATCHES/0000-cover-letter.patch
[ -f "$cover" ] || die "missing $cover"
if grep -q '\*\*\* \(SUBJECT\|BLURB\) HERE \*\*\*' "$cover"; then
	die "the cover letter still has format-patch's placeholders"
fi

wt=$(mktemp -d "$QDIR/check-XXXXXX")
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	git -C "$QSRC" worktree remove --force "$wt" 2>/dev/null || rm -rf "$wt"
	git -C "$QSRC" worktree prune
}
trap cleanup EXIT
rmdir "$wt"
git -C "$QSRC" worktree add -q --detach "$wt" pristine

fail=0
n=0
while read -r p; do
	n=$((n + 1))
	name=$(basename "$p")
	if ! git -C "$wt" "${GIT_IDENT[@]}" am -q --whitespace=error --committer-date-is-author-date "$p"; then
		git -C "$wt" am --abort || true
		die "$name does not apply on top of the previous patches"
	fi
	out=$(cd "$wt" && scripts/checkpatch.pl "$p" 2>&1) || true
	if ! grep -q '^total: 0 errors, 0 warnings' <<<"$out"; then
		echo "$out" >&2
		log "FAIL checkpatch: $name"
		fail=1
	else
		log "ok   checkpatch: $name"
	fi
done < <(series_patches)

if [ "$(git -C "$wt" rev-parse 'HEAD^{tree}')" != "$(git -C "$QSRC" rev-parse 'HEAD^{tree}')" ]; then
	die "build/qemu/src differs from pristine + patches/: run export-series.sh or discard the tree"
fi
log "ok   $n patches apply to QEMU $QEMU_VERSION with git am"
exit $fail
