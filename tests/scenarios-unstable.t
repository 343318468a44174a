#!/bin/bash
# The scenario suite on the host under unstable.conf: the target does not
# require stable pages, so torn and modified captures are findings, not
# failures; every scenario passes or skips with a reason, with evidence,
# nothing is lost or corrupt, and the suite takes under a minute. The
# write scenario still shows that the kernel does modify pages under
# writeback here (the findings are real).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scenarios-lib.sh"
require_swap_env
[ -x "$BUILD/swapemu-torture" ] || skip_all "swapemu-torture not built"
plan 7

run_suite unstable un
check "exit status 0 ($rc)" test "$rc" = 0
check "no scenario failed" test "$(json_num failed <<<"$json")" = 0
check "under a minute ($secs s)" test "$secs" -lt 60
t=$(scen torn write <<<"$json"); m=$(scen modified write <<<"$json")
check "write: pages changed under writeback are findings ($t torn, $m modified)" \
	test $((t + m)) -gt 0
check "write: reported as a finding" grep -q "finding" <<<"$(scen reason write <<<"$json")"
bad_scenarios <<<"$json"
check "every scenario passed with evidence above 0, or skipped with a reason${bad:+ (bad:$bad)}" test -z "$bad"
done_testing
