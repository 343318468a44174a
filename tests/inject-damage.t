#!/bin/bash
# Faults that damage data, matched page by page between what the device did
# (its event log) and what the torture workload found: read errors on a
# range, lost writes, silent read corruption. No false reports, and every
# damaged page the kernel read back is reported.
. "$(dirname "$0")/lib.sh"
require_swap_env
plan 12
S=$SWAPEMU

run() { # NAME RULE-ARGS...: attach, add the rule, run the torture; sets json, ev
	local name=$1; shift
	"$S" attach --profile "$TOP/configs/unstable.conf" --name "$name" >/dev/null 2>&1 || return 1
	"$S" inject "$name" add "$@" >/dev/null || return 1
	json=$("$S" torture --target "$name" --pages 512 --swapouts 1024 --seconds 60 --json --quiet)
	ev=$("$S" inject "$name" events)
	"$S" detach "$name"
}

# Read errors on the first MiB (swap fills the device from its start, so
# some pages are always there, and others beyond): SIGBUS exactly for the
# pages there.
run re bad op=read range=0-1M action=error:EIO
diag "$json"
dev=$(grep '"event":"fault","op":"read"' <<<"$ev" | event_pages)
got=$(damaged_pages <<<"$json")
check "the device failed reads of some pages ($(echo $dev | wc -w))" test -n "$dev"
check "the workload lost exactly those pages to SIGBUS" test "$dev" = "$got"
check "its unreadable count matches ($(json_num unreadable <<<"$json"))" \
	test "$(json_num unreadable <<<"$json")" = "$(echo $dev | wc -w)"
check "every other page verified" test $(( $(json_num verified <<<"$json") + $(echo $dev | wc -w) )) = 512

# Lost writes: the pages the kernel read back from a lost write's block.
run lw lost op=write every=10 action=lose
diag "$json"
lost=$(grep '"action":"lose"' <<<"$ev" | event_pages)
dev=$(grep '"event":"damaged-read"' <<<"$ev" | event_pages)
got=$(damaged_pages <<<"$json")
check "the device lost writes ($(echo $lost | wc -w) pages)" test -n "$lost"
check "some lost blocks were read back ($(echo $dev | wc -w))" test -n "$dev"
check "the workload reports exactly the pages read back from lost writes" test "$dev" = "$got"
check "no report of a page the device did not damage" test -z "$(comm -13 <(printf "%s\\n" $lost | sort) <(printf "%s\\n" $got | sort))"

# Silent read corruption: one bit of one read in ten.
run rc rot op=read probability=0.1 action=corrupt:1
diag "$json"
dev=$(grep '"action":"corrupt"' <<<"$ev" | event_pages)
got=$(damaged_pages <<<"$json")
check "the device corrupted reads of stamped pages ($(echo $dev | wc -w))" test -n "$dev"
check "the workload reports exactly the corrupted pages" test "$dev" = "$got"
check "as corrupt, not lost" test "$(json_num lost <<<"$json")" = 0
check "the device's own checksums saw nothing (corruption after the check)" test "$(json_num checksum_errors <<<"$json")" = 0
done_testing
