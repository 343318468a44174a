#!/bin/bash
# swapemu vm killed: with SIGKILL nothing of the run outlives it for more
# than a few seconds (QEMU, daemon and bridge die with it; its watchdog
# unmounts and removes the run and work directories); when the watchdog
# is killed too, QEMU and the daemon still die, and the next run removes
# the mount and directories left; SIGTERM still gives a report marked
# interrupted, with the logs.
. "$(dirname "$0")/lib.sh"
. "$TOP/vm/test-lib.sh"
require_vm_env
plan 17

# vm_start NAME ARGS...: starts swapemu vm in the background (VM_PID) and
# waits until the guest runs; sets VM_RUN (its run directory) and VM_WORK.
vm_start() {
	local name=$1 i
	shift
	rm -rf "${VM_OUT:?}/$name"
	"$VM" --kernel-package "$VM_KPKG" --out "$VM_OUT/$name" --json "$@" \
		>"$VM_OUT/$name.stdout" 2>"$VM_OUT/$name.stderr" &
	VM_PID=$!
	for ((i = 0; i < 1800; i++)); do
		grep -q 'booted in' "$VM_OUT/$name.stderr" && break
		kill -0 "$VM_PID" 2>/dev/null || break
		sleep 0.1
	done
	VM_QEMU=$(sed -n 's/.*QEMU started (pid \([0-9]*\)).*/\1/p' "$VM_OUT/$name.stderr")
	VM_RUN=$(ls -d "$SWAPEMU_RUN_DIR"/vm-* 2>/dev/null | head -1)
	VM_WORK=$(cut -d' ' -f3 "$VM_RUN/vm-owner" 2>/dev/null)
	sleep 2 # the workload runs
	diag "$name: swapemu vm $VM_PID, QEMU ${VM_QEMU:-?}, run $VM_RUN, work $VM_WORK"
}
# within SECONDS COMMAND...: COMMAND succeeds within SECONDS (0.2 s steps).
within() {
	local n=$(($1 * 5))
	shift
	while ! "$@" 2>/dev/null; do
		((n-- > 0)) || return 1
		sleep 0.2
	done
}
# quietly kill ARGS...: kills and reaps swapemu vm without bash's "Killed"
# notice (printed on the shell's stderr when it reaps the job).
quietly() {
	exec 3>&2 2>/dev/null
	"$@"
	wait "$VM_PID"
	exec 2>&3 3>&-
}
gone() { ! kill -0 "$1" 2>/dev/null; }
# No process that names the run or work directory.
no_processes() {
	! ps -eo args= | grep -v grep | grep -qF -e "$VM_RUN/" -e "$VM_WORK/"
}
no_mount() { ! grep -qF " $VM_RUN/" /proc/mounts; }

# --- SIGKILL: the watchdog cleans up.
LONG=(--profile "$TOP/configs/unstable.conf" --seconds 120 --swapouts 100000000 --pages 512)
vm_start kill "${LONG[@]}"
check "kill: the guest was running (QEMU ${VM_QEMU:-?})" test -n "$VM_QEMU" -a -d "$VM_RUN" -a -d "$VM_WORK"
t0=$SECONDS
quietly kill -KILL "$VM_PID"
check "kill: QEMU is gone within 5 s" within 5 gone "$VM_QEMU"
check "kill: no process of the run is left within 5 s" within 5 no_processes
check "kill: the FUSE mount is gone within 5 s" within 5 no_mount
check "kill: the run and work directories are gone within 5 s" within 5 test ! -e "$VM_RUN" -a ! -e "$VM_WORK"
diag "everything was gone $((SECONDS - t0)) s after the SIGKILL"
check "kill: nothing left behind" vm_leftovers
check "kill: the console log is kept" test -s "$VM_OUT/kill/console.log"
check "kill: the report says the run was killed" \
	test "$(json_s status <"$VM_OUT/kill/report.json" 2>/dev/null)" = killed

# --- SIGKILL of the run and of its watchdog: QEMU and the daemon die with
# their parent; the next run removes the mount and the directories.
vm_start crash "${LONG[@]}"
dog=$(ps -eo pid=,args= | awk -v p="$VM_PID" '$3 ~ /reap-run$/ && $4 == "--watch" && $5 == p { print $1 }')
check "crash: the run and its watchdog (${dog:-none}) were running" test -n "$dog" -a -n "$VM_QEMU"
quietly kill -KILL "$VM_PID" $dog
check "crash: QEMU, the daemon and the bridge are gone within 5 s" within 5 no_processes
check "crash: the run directory was left (no watchdog)" test -d "$VM_RUN"
vm_run next --profile "$TOP/configs/stable.conf" --run true
check "next run: completed" test "$VM_RC:$(json_s status <<<"$VM_REPORT")" = 0:ok
check "next run: it removed the run left by the killed one" \
	grep -q "removed $VM_RUN, left by a swapemu vm run that was killed" "$VM_OUT/next.stderr"
check "next run: no mount, run or work directory of the killed run is left" \
	test ! -e "$VM_RUN" -a ! -e "$VM_WORK" -a "$(grep -cF " $VM_RUN/" /proc/mounts)" = 0

# --- SIGTERM: a report marked interrupted, with the logs.
vm_start term "${LONG[@]}"
kill -TERM "$VM_PID"
wait "$VM_PID"
rc=$?
R=$(cat "$VM_OUT/term/report.json" 2>/dev/null)
check "term: exit status 143, status interrupted ($rc, $(json_s status <<<"$R"))" \
	test "$rc:$(json_s status <<<"$R")" = 143:interrupted
check "term: the console log, the guest's and the device's logs are kept" \
	test -s "$VM_OUT/term/console.log" -a -s "$VM_OUT/term/device-stats.json" -a -e "$VM_OUT/term/qemu.log"
check "term: nothing left behind" vm_leftovers
done_testing
