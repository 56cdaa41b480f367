#!/bin/sh
# What a librados client's debug log (--debug-objecter 10) says about its
# OSD requests: how many it sent and how many the OSD answered, the ones
# still unanswered (the oldest first, with their object and target), and the
# OSD maps it received, and the ops it held back itself (a full pool pauses
# writes), so a hung request reads as "never answered by the OSD", "never
# sent" or "answered, then lost by the caller".
#   tests/remote/rados-ops.sh LOG
set -eu
log=${1:?usage: $0 LOG}
[ -r "$log" ] || {
	echo "rados-ops: no log $log" >&2
	exit 2
}
awk '
/objecter _op_submit oid / {
	for (i = 1; i <= NF; i++)
		if ($i == "tid") {
			tid = $(i + 1)
			if (!(tid in sent))
				nsent++
			sent[tid] = $1 " " $0
			sub(/.*_op_submit oid /, "", sent[tid])
			first[tid] = first[tid] ? first[tid] : $1
		}
}
/objecter handle_osd_op_reply [0-9]+ / {
	for (i = 1; i <= NF; i++)
		if ($i == "handle_osd_op_reply") {
			tid = $(i + 1)
			if ((tid in sent) && !(tid in answered)) {
				answered[tid] = 1
				nans++
			}
		}
}
/objecter handle_osd_map got epochs/ { maps = maps " " $1 ":" $(NF - 2) }
/objecter _maybe_request_map/ { lastreq = $1 }
/objecter  *tid [0-9]+ op .* is paused/ { npaused++ }
END {
	printf "rados ops: %d sent, %d answered\n", nsent, nans
	n = 0
	for (tid in sent)
		if (!(tid in answered)) {
			n++
			if (n <= 8)
				printf "  unanswered tid %s, first sent %s: %s\n", tid, first[tid], sent[tid]
		}
	if (n > 8)
		printf "  ... %d unanswered in all\n", n
	printf "osd maps received (time:epochs):%s\n", maps ? maps : " none"
	if (npaused)
		printf "ops held back by the client (pool or cluster full, or pause flags): %d times\n", npaused
	if (lastreq)
		printf "last osd map request: %s\n", lastreq
}' "$log"
