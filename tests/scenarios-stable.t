#!/bin/bash
# The scenario suite on the host under stable.conf: every scenario passes
# or skips with a reason, each one that ran shows evidence of its path
# (every count above zero), nothing is lost, corrupt or modified under
# writeback, the kernel logs no problem, and the suite takes under a minute.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scenarios-lib.sh"
require_swap_env
[ -x "$BUILD/swapemu-torture" ] || skip_all "swapemu-torture not built"
plan 6

run_suite stable st
check "exit status 0 ($rc)" test "$rc" = 0
check "no scenario failed" test "$(json_num failed <<<"$json")" = 0
check "no kernel findings" grep -q '"kernel_findings":\[\]' <<<"$json"
check "under a minute ($secs s)" test "$secs" -lt 60
bad=
for s in $(scen_names <<<"$json"); do
	v=$(scen verdict "$s" <<<"$json")
	r=$(scen reason "$s" <<<"$json")
	diag "$s: $v${r:+ ($r)}"
	case $v in
	pass)
		for e in $(scen_evidence "$s" <<<"$json"); do
			[ "${e#*=}" -gt 0 ] || bad+=" $s:$e"
		done
		[ "$(scen torn "$s" <<<"$json"):$(scen modified "$s" <<<"$json")" = 0:0 ] || bad+=" $s:torn/modified"
		;;
	skip) [ -n "$r" ] || bad+=" $s:skip-without-reason" ;;
	*) bad+=" $s:$v" ;;
	esac
done
check "every scenario passed with evidence above 0, or skipped with a reason${bad:+ (bad:$bad)}" test -z "$bad"
done_testing
