#!/bin/bash
# The scenario suite on the host under stable.conf: every scenario passes
# or skips with a reason, each one that ran shows evidence of its path
# (every count above zero), nothing is lost, corrupt or modified under
# writeback, the kernel logs no problem, and the suite takes under a minute.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scenarios-lib.sh"
require_swap_env
[ -x "$BUILD/swapemu-torture" ] || skip_all "swapemu-torture not built"
plan 9

run_suite stable st
check "exit status 0 ($rc)" test "$rc" = 0
check "no scenario failed" test "$(json_num failed <<<"$json")" = 0
check "no kernel findings" grep -q '"kernel_findings":\[\]' <<<"$json"
check "under a minute ($secs s)" test "$secs" -lt 60
bad_scenarios stable <<<"$json"
check "every scenario passed with evidence above 0, or skipped with a reason${bad:+ (bad:$bad)}" test -z "$bad"

ktap=$("$SWAPEMU" torture --target st --scenario write,mprotect --pages 64 --swapouts 200 --ktap --quiet)
diag "$ktap"
check "KTAP: header and plan" test "$(head -3 <<<"$ktap" | sed -n '1p;3p' | tr '\n' ' ')" = "KTAP version 1 1..2 "
check "KTAP: one result per scenario" test "$(grep -c '^ok [12] \(write\|mprotect\)$' <<<"$ktap")" = 2
err=$("$SWAPEMU" torture --target st --scenario write,nosuch 2>&1 >/dev/null)
rc=$?
check "an unknown scenario is a usage error (exit $rc) naming it" \
	test "$rc:$(grep -c "unknown scenario 'nosuch'" <<<"$err")" = 2:1
done_testing
