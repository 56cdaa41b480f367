#!/bin/bash
# Regenerate patches/ from build/qemu/src: every commit after "pristine"
# becomes one patch, with a cover letter whose subject and text come from
# scripts/qemu/cover-letter.txt (first line: subject; then a blank line and
# the text).  Workflow: edit and commit in build/qemu/src (git commit -s,
# git rebase -i pristine), run this, then commit patches/ in the project.
set -euo pipefail
# shellcheck source=scripts/qemu/common.sh
. "$(dirname "$0")/common.sh"

[ -d "$QSRC/.git" ] || die "no tree at $QSRC: run prepare-tree.sh first"
[ -z "$(git -C "$QSRC" status --porcelain)" ] || die "$QSRC has uncommitted changes"
count=$(git -C "$QSRC" rev-list --count pristine..HEAD)
[ "$count" -gt 0 ] || die "no commits after pristine"

git -C "$QSRC" config branch.master.description \
	"$(cat "$ROOT/scripts/qemu/cover-letter.txt")"
mkdir -p "$PATCHES"
rm -f "$PATCHES"/[0-9][0-9][0-9][0-9]-*.patch
# Fixed abbreviation and cover letter date: the same tree exports to the
# same bytes, so patches/ only changes when the series does.
GIT_COMMITTER_DATE=$(git -C "$QSRC" log -1 --format=%cI HEAD) \
	git -C "$QSRC" "${GIT_IDENT[@]}" -c core.abbrev=12 format-patch -q --cover-letter \
	--cover-from-description=subject --base=pristine --no-signature \
	-o "$PATCHES" pristine..HEAD
# Record that the tree and patches/ agree, so prepare-tree.sh keeps the tree.
series_hash >"$QSRC/.git/vus-series-hash"
log "exported $count patches and a cover letter to $PATCHES"
