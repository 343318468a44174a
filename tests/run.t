#!/bin/bash
# swapemu run: attaches a target as the only swap of the highest priority,
# runs the command, detaches, and reports the command's status, the device
# statistics and the kernel problems logged meanwhile.
. "$(dirname "$0")/lib.sh"
require_swap_env
plan 9

out=$("$SWAPEMU" run --profile "$TOP/configs/stable.conf" -- sh -c 'exit 3')
check "the command's exit status is passed on" test $? = 3
check "the report names it" grep -q "exited with status 3" <<<"$out"
check "nothing is left attached" test -z "$(ls -A "$SWAPEMU_RUN_DIR")"

json=$("$SWAPEMU" run --profile "$TOP/configs/stable.conf" --json -- \
	"$BUILD/swapemu-torture" --pages 64 --seconds 1 --quiet --json)
rc=$?
diag "$json"
check "a torture run inside succeeds ($rc)" test "$rc" = 0
# The command's own output comes first; the report is the last line.
w=$(tail -1 <<<"$json" | perl -MJSON::PP -e 'my $j = decode_json(<STDIN>); print $j->{stats}{ops}{write}{count} // 0')
check "the device served its swap writes ($w)" test "${w:-0}" -gt 0
check "no kernel findings" grep -q '"kernel_findings":\[\]' <<<"$(tail -1 <<<"$json")"

json=$("$SWAPEMU" run --profile "$TOP/configs/stable.conf" --json -- \
	sh -c 'echo "swapemu run test: WARNING: a deliberate finding" >/dev/kmsg')
check "a kernel problem during a successful command: exit 1" test $? = 1
check "it is in kernel_findings" grep -q '"kernel_findings":\["swapemu run test: WARNING' <<<"$json"

"$SWAPEMU" run --profile "$TOP/configs/stable.conf" sh 2>/dev/null
check "no -- : usage error (2)" test $? = 2
done_testing
