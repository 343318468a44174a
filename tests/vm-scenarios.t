#!/bin/bash
# check-vm: the whole scenario suite in a guest (Debian's current kernel
# package, the 6.1 series on Debian 12) under stable.conf: every scenario
# the workload offers is in the report and passes with every evidence
# count above zero, or skips with a reason; nothing torn, modified, lost
# or corrupt; no kernel finding; under 3 minutes under TCG. Then a run
# broken on purpose (--test-break fork-leak) must come back as status
# failed, exit 1, naming the fork scenario, with the report kept.
# Skips when QEMU cannot boot that kernel here.
. "$(dirname "$0")/lib.sh"
. "$TOP/vm/test-lib.sh"
. "$(dirname "$0")/scenarios-lib.sh"
require_vm_env
[ -x "$BUILD/vm/swapemu-torture.static" ] || skip_all "the guest workload is not built (make)"
plan 13

# The scenarios the workload offers, from its --help.
names=$("$BUILD/swapemu-torture" --help | awk '/--scenario S/ { p = 1; next } /^  --/ { p = 0 } p && NF { print $1 }')

t0=$SECONDS
vm_run suite --profile "$TOP/configs/stable.conf" --scenario all
secs=$((SECONDS - t0))
R=$VM_REPORT
check "suite: exit 0, status ok ($VM_RC, $(json_s status <<<"$R"): $(json_s reason <<<"$R"))" \
	test "$VM_RC:$(json_s status <<<"$R")" = 0:ok
[ "$VM_RC" = 0 ] || vm_console suite
check "suite: the whole suite took under 3 minutes ($secs s, accel $(json_s accel <<<"$R"))" test "$secs" -lt 180
check "suite: 'failed' is 0 and 'kernel_findings' is empty at the top of the report" \
	test "$(json_num failed <<<"$R"):$(grep -c '"kernel_findings":\[\]' <<<"$R")" = 0:1
got=$(scen_names <<<"$R" | paste -sd' ')
check "suite: the report's 'scenarios' are the workload's ($got)" \
	test -n "$names" -a "$got" = "$(paste -sd' ' <<<"$names")"
bad="" ran=0
for s in $names; do
	v=$(scen verdict "$s" <<<"$R")
	r=$(scen reason "$s" <<<"$R")
	diag "$s: $v${r:+ ($r)} $(scen_evidence "$s" <<<"$R" | paste -sd' ')"
	case $v in
	pass)
		ran=$((ran + 1))
		for e in $(scen_evidence "$s" <<<"$R"); do
			[ "${e#*=}" -gt 0 ] || bad+=" $s:$e"
		done
		;;
	skip) [ -n "$r" ] || bad+=" $s:skip-without-reason" ;;
	*) bad+=" $s:$v" ;;
	esac
	t=$(scen torn "$s" <<<"$R"):$(scen modified "$s" <<<"$R"):$(scen lost "$s" <<<"$R"):$(scen corrupt "$s" <<<"$R")
	[ "$v" = skip ] || [ "$t" = 0:0:0:0 ] || bad+=" $s:torn/modified/lost/corrupt=$t"
done
check "suite: every scenario passed with evidence above 0, or skipped with a reason${bad:+ (bad:$bad)}" test -z "$bad"
check "suite: most scenarios ran in the guest ($ran passed)" test "$ran" -ge 6
check "suite: the workload's report is kept (torture.json)" test -s "$VM_OUT/suite/torture.json"
check "suite: nothing left behind" vm_leftovers

# --- A broken run: the fork scenario sees a leak (test-only damage).
vm_run broken --profile "$TOP/configs/stable.conf" --scenario write,fork --pages 64 --seconds 2 \
	--test-break fork-leak
R=$VM_REPORT
check "broken: exit 1, status failed ($VM_RC, $(json_s status <<<"$R"))" \
	test "$VM_RC:$(json_s status <<<"$R")" = 1:failed
check "broken: the reason names the fork scenario ($(json_s reason <<<"$R"))" \
	grep -q "^1 scenario(s) failed: fork (.*leak" <<<"$(json_s reason <<<"$R")"
check "broken: fork fails, write passes, failed is 1 in the report" \
	test "$(scen verdict fork <<<"$R"):$(scen verdict write <<<"$R"):$(json_num failed <<<"$R")" = fail:pass:1
check "broken: the workload's report is kept (torture.json)" test -s "$VM_OUT/broken/torture.json"
check "broken: nothing left behind" vm_leftovers
done_testing
