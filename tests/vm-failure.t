#!/bin/bash
# swapemu vm when things go wrong: bad input is refused with one line; a
# guest kernel that panics, a guest that hangs (its swap device stops
# completing writes), a kernel that does not boot in time and a failing
# workload each give a failed, explained result with the console log
# kept, and leave no process, mount, loop device or run directory behind.
. "$(dirname "$0")/lib.sh"
. "$TOP/vm/test-lib.sh"
require_vm_env
plan 36

# refused ARGS...: exit 2 with exactly one line, "swapemu vm: ...", that
# matches $WANT.
refused() {
	local err rc
	err=$("$VM" "$@" 2>&1 >/dev/null)
	rc=$?
	diag "swapemu vm $* -> $rc: $err"
	[ $rc = 2 ] && [ "$(wc -l <<<"$err")" = 1 ] && [[ $err == "swapemu vm: "* ]] && grep -q -- "$WANT" <<<"$err"
}
WANT="needs --kernel" check "no kernel: refused" refused
WANT="does not exist" check "a missing kernel file: refused" refused --kernel /nonexistent/bzImage
WANT="not a bzImage" check "a file that is no bzImage: refused" refused --kernel /etc/passwd
WANT="bad package name" check "a malformed package name: refused" refused --kernel-package 'linux image!'
WANT="no package 'linux-image-no-such-flavour'" check "an unknown package: refused" \
	refused --kernel-package linux-image-no-such-flavour
WANT="unknown option '--frobnicate'" check "an unknown option: refused" refused --kernel-package x --frobnicate
WANT="front-end must be" check "an unknown front end: refused" refused --kernel-package x --front-end iscsi
WANT="profile /nonexistent.conf does not exist" check "a missing profile: refused" \
	refused --kernel-package "$VM_KPKG" --profile /nonexistent.conf
printf '[device]\nsize = lots\n' >"$SWAPEMU_RUN_DIR/bad.conf"
WANT="bad.conf:2:" check "a bad profile: refused with its line" \
	refused --kernel-package "$VM_KPKG" --profile "$SWAPEMU_RUN_DIR/bad.conf"
WANT="--seconds: 'soon' is not a number" check "a bad torture option: refused" \
	refused --kernel-package "$VM_KPKG" --seconds soon
check "refusals left nothing behind" vm_leftovers
check "--help describes the command" bash -c "'$VM' --help | grep -q -- '--kernel-package'"

# failed NAME STATUS PHASE: the run failed as expected and explained itself.
failed() {
	local name=$1 status=$2 phase=$3 R=$VM_REPORT
	check "$name: exit status 1" test "$VM_RC" = 1
	check "$name: status '$status' in phase '$phase' ($(json_s status <<<"$R"), $(json_s phase <<<"$R"))" \
		test "$(json_s status <<<"$R"):$(json_s phase <<<"$R")" = "$status:$phase"
	check "$name: the reason is given ($(json_s reason <<<"$R" | cut -c1-100)...)" test -n "$(json_s reason <<<"$R")"
	check "$name: the console log is kept" test -s "$VM_OUT/$name/console.log" -o "$phase" = boot
	check "$name: nothing left behind" vm_leftovers
}

# A kernel panic while the guest swaps to the device.
vm_run panic --profile "$TOP/configs/unstable.conf" --append swapemu.fault=panic
failed panic panic run
check "panic: the reason quotes the panic" grep -q 'Kernel panic - not syncing' <<<"$(json_s reason <<<"$VM_REPORT")"
check "panic: kernel_findings has the panic message" \
	grep -q '"kernel_findings":\[[^]]*"Kernel panic - not syncing: sysrq triggered crash' <<<"$VM_REPORT"

# The swap device stops completing writes: the guest's swap I/O never
# ends, the run times out, and QEMU is killed although one of its threads
# waits in a FUSE request the daemon holds.
vm_run hang --profile "$TOP/configs/unstable.conf" --set delay.completion=1000s --run-timeout 20
failed hang hung run
check "hang: the reason names the timeout" grep -q 'within 20 s (run timeout)' <<<"$(json_s reason <<<"$VM_REPORT")"

# A kernel that does not reach /init in time.
vm_run boot --profile "$TOP/configs/stable.conf" --boot-timeout 1
failed boot hung boot

# The workload fails in the guest (a usage error it reports).
vm_run workload --profile "$TOP/configs/stable.conf" --pages 0
failed workload failed run
check "workload: the reason carries the workload's own message" \
	grep -q -- '--pages: 0 is out of range' <<<"$(json_s reason <<<"$VM_REPORT")"
done_testing
