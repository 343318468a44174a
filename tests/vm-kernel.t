#!/bin/bash
# swapemu vm watches the guest kernel and runs your own programs:
# - a hung task in the swap path (the device stops completing writes; the
#   guest's hung-task detector set to 2 s) ends the run within seconds, not
#   at the run timeout, with status kernel-bug, the message and its trace;
# - --run runs a static program of this tree (vm/memfill.c: more memory
#   than the guest has, written and verified) with the target as the only
#   swap, and reports its status and output with the device's statistics;
#   a command that fails makes the run fail with its status;
# - --scenario reaches the workload's command line in the guest;
# - bad --run/--include/--scenario input is refused with one line.
. "$(dirname "$0")/lib.sh"
. "$TOP/vm/test-lib.sh"
require_vm_env
plan 24

refused() { # ARGS...: exit 2 with one line "swapemu vm: ..." matching $WANT
	local err rc
	err=$("$VM" --kernel-package "$VM_KPKG" "$@" 2>&1 >/dev/null)
	rc=$?
	diag "swapemu vm $* -> $rc: $err"
	[ $rc = 2 ] && [ "$(wc -l <<<"$err")" = 1 ] && [[ $err == "swapemu vm: "* ]] && grep -q -- "$WANT" <<<"$err"
}
WANT="linked dynamically" check "--include of a dynamically linked program: refused" \
	refused --run ls --include /bin/ls
WANT="does not exist" check "--include of a missing file: refused" refused --run x --include /nonexistent
WANT="--include goes with --run" check "--include without --run: refused" refused --include /bin/busybox
WANT="--run replaces the torture" check "--run with torture options: refused" refused --run true --pages 10
WANT="--scenario: 'no such!' is not" check "a malformed --scenario: refused" refused --scenario 'no such!'

# --- A task hung in the swap path: the device never completes a write.
vm_run hung --profile "$TOP/configs/unstable.conf" --set delay.completion=1000s \
	--append sysctl.kernel.hung_task_timeout_secs=2 --run-timeout 120
R=$VM_REPORT
check "hung task: exit status 1, status kernel-bug ($VM_RC, $(json_s status <<<"$R"))" \
	test "$VM_RC:$(json_s status <<<"$R")" = 1:kernel-bug
check "hung task: the finding names it ($(json_s reason <<<"$R" | cut -c1-90))" \
	grep -q '"kernel_findings":\["INFO: task [^"]* blocked for more than 2 seconds' <<<"$R"
check "hung task: the trace shows the wait for writeback" \
	grep -q 'folio_wait_writeback' "$VM_OUT/hung/kernel-trace.log"
check "hung task: the trace is in the report" grep -q 'Call Trace' <<<"$(json_s kernel_trace <<<"$R")"
stop=$(json_num kernel_finding_to_stop_seconds <<<"$R")
check "hung task: the run ended within 10 s of the message (${stop:-?} s)" \
	awk -v s="${stop:-99}" 'BEGIN { exit !(s < 10) }'
check "hung task: long before the run timeout (total $(json_num total_seconds <<<"$R") s of 120)" \
	awk -v s="$(json_num total_seconds <<<"$R")" 'BEGIN { exit !(s > 0 && s < 90) }'
check "hung task: the console log is kept" grep -q 'blocked for more than' "$VM_OUT/hung/console.log"
check "hung task: nothing left behind" vm_leftovers

# --- --run: a program of ours, more memory than the guest has.
cp "$BUILD/vm/memfill.static" "$SWAPEMU_RUN_DIR/memfill" ||
	{ echo "Bail out! $BUILD/vm/memfill.static is missing: run make"; exit 1; }
vm_run memfill --profile "$TOP/configs/stable.conf" --set delay.capture=0 --set delay.completion=0 \
	--memory 80 --run 'memfill 96' --include "$SWAPEMU_RUN_DIR/memfill"
R=$VM_REPORT
check "--run: exit status 0, status ok ($VM_RC, $(json_s status <<<"$R"))" test "$VM_RC:$(json_s status <<<"$R")" = 0:ok
check "--run: the command's exit status is reported" grep -q '"run":{"command":"memfill 96","exit_status":0,' <<<"$R"
check "--run: its output is reported ($(json_s output <<<"$R" | head -c 120))" \
	grep -q 'memfill: verified' <<<"$(json_s output <<<"$R")"
check "--run: and kept in run-output.log" grep -q '0 wrong' "$VM_OUT/memfill/run-output.log"
out=$(json_num pswpout <<<"$R") w=$(grep -o '"write":{"count":[0-9]*' <<<"$R" | grep -o '[0-9]*$')
check "--run: the guest swapped to the device (pswpout $out, device writes $w)" \
	test "${out:-0}" -gt 1000 -a "${w:-0}" -gt 0
check "--run: no kernel findings" grep -q '"kernel_findings":\[\]' <<<"$R"
check "--run: nothing left behind" vm_leftovers

# A command that fails: the run fails with its status and last line.
vm_run runfail --profile "$TOP/configs/stable.conf" --run 'echo about to fail; exit 3'
R=$VM_REPORT
check "--run failing: exit status 1, status failed ($VM_RC, $(json_s status <<<"$R"))" \
	test "$VM_RC:$(json_s status <<<"$R")" = 1:failed
check "--run failing: exit status 3 reported with the output ($(json_s reason <<<"$R"))" \
	grep -q 'exited with status 3: about to fail' <<<"$(json_s reason <<<"$R")"

# --- --scenario goes to the workload in the guest (whether this tree's
# workload knows the scenario or refuses it, its command line has it).
vm_run scenario --profile "$TOP/configs/stable.conf" --scenario write --pages 64 --swapouts 64 --seconds 5
check "--scenario: the guest's workload got '--scenario write'" \
	grep -q 'torture starts: swapemu-torture .*--scenario write' "$VM_OUT/scenario/console.log"
check "--scenario: nothing left behind" vm_leftovers
done_testing
