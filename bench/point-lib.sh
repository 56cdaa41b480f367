#!/bin/bash
# What bench/scaling.sh and bench/large.sh share: a work directory and a daemon
# ($DPID) that go away with the script, the command log, the CPU clock of a
# process and the header of a part's .env file.  Sourced; the caller sets
# ROOT, OUT, CMDS and PART (the work directory's name) first.

WORK=$(mktemp -d "/tmp/vus-$PART.XXXXXX")
DPID=""
cleanup() {
	if [ -n "$DPID" ]; then
		kill "$DPID" 2>/dev/null || true
		wait "$DPID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Run nothing: append the command to commands.log, quoted as a shell reads it.
logged() {
	printf '%q ' "$@" >>"$CMDS"
	echo >>"$CMDS"
}

# utime + stime of a process (all its threads), in clock ticks.
ticks() {
	local f
	read -r -a f <"/proc/$1/stat"
	echo $((f[13] + f[14]))
}

# When, how long and from which tree: the first lines of a part's .env.
part_env() {
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "runtime=$RUNTIME"
	echo "runs=$RUNS"
	echo "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)"
	echo "dirty_files=$(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l)"
}
