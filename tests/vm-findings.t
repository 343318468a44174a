#!/bin/bash
# The kernel problems swapemu vm looks for on a guest's console
# (vm/kernel-findings.sh), on sample console logs in the formats Linux 6.1
# prints: every kind is found (BUG, Oops, WARNING, general protection
# fault, soft lockup, RCU stall, hung task, panic), the first trace is cut
# from its "cut here" line to its "end trace" line, and a clean boot log
# (with /init's own lines that quote such words) gives nothing.
# Needs neither root nor QEMU.
. "$(dirname "$0")/lib.sh"
. "$TOP/vm/kernel-findings.sh"
plan 14

D=$SWAPEMU_RUN_DIR
# found NAME WANT: the log $D/NAME gives exactly one finding, matching WANT.
found() {
	local f
	f=$(kfind "$D/$1")
	diag "$1: ${f:-nothing}"
	[ "$(grep -c . <<<"$f")" = 1 ] && grep -q -- "$2" <<<"$f"
}

cat >"$D/warning" <<'EOF'
[   12.340000] Adding 262140k swap on /dev/vda.  Priority:-2 extents:1 across:262140k
swapemu-init: torture starts: swapemu-torture --target vm-stable
[   12.345678] ------------[ cut here ]------------
[   12.345680] WARNING: CPU: 0 PID: 77 at mm/swapfile.c:1234 swap_free+0x10/0x20
[   12.345690] Modules linked in: virtio_blk virtio_pci
[   12.345700] Call Trace:
[   12.345701]  <TASK>
[   12.345702]  do_swap_page+0x51/0x8f0
[   12.345703]  </TASK>
[   12.345704] ---[ end trace 0000000000000000 ]---
[   12.400000] some later message
swapemu-init: torture ended with status 0
EOF
check "a WARNING is found" found warning 'WARNING: CPU: 0 PID: 77 at mm/swapfile.c:1234'
t=$(ktrace "$D/warning")
check "its trace starts at the 'cut here' line" test "$(head -1 <<<"$t" | grep -c 'cut here')" = 1
check "and ends at the 'end trace' line, with the stack in between" \
	test "$(tail -1 <<<"$t" | grep -c 'end trace'):$(grep -c do_swap_page <<<"$t"):$(wc -l <<<"$t")" = 1:1:8

printf '%s\n' '[    2.048103] kernel BUG at mm/memory.c:3831!' '[    2.048103] invalid opcode: 0000 [#1]' \
	'[    2.048103] RIP: 0010:do_swap_page+0x140/0x652' >"$D/bug"
check "a kernel BUG is found" found bug 'kernel BUG at mm/memory.c:3831!'
printf '%s\n' '[    5.1] BUG: kernel NULL pointer dereference, address: 0000000000000008' \
	'[    5.1] #PF: supervisor read access in kernel mode' '[    5.1] Oops: 0000 [#1] PREEMPT SMP NOPTI' >"$D/oops"
check "a NULL dereference and its Oops are found" \
	test "$(kfind "$D/oops" | grep -c -e 'BUG: kernel NULL pointer' -e 'Oops: 0000')" = 2
echo '[    7.2] general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] SMP NOPTI' >"$D/gpf"
check "a general protection fault is found" found gpf 'general protection fault'
echo '[   30.0] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [swapemu-tortur:80]' >"$D/lockup"
check "a soft lockup is found" found lockup 'soft lockup - CPU#0 stuck for 22s'
echo '[   40.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:' >"$D/rcu"
check "an RCU stall is found" found rcu 'rcu_preempt detected stalls'
echo '[   41.0] rcu: INFO: rcu_sched self-detected stall on CPU' >"$D/rcu2"
check "a self-detected RCU stall is found" found rcu2 'self-detected stall'
printf '%s\n' '[    6.633829] INFO: task mkswap:100 blocked for more than 2 seconds.' \
	'[    6.634096]       Not tainted 6.1.0-57-cloud-amd64 #1 Debian 6.1.192-3' >"$D/hung"
check "a hung task is found" found hung 'INFO: task mkswap:100 blocked for more than 2 seconds.'
echo '[    3.1] Kernel panic - not syncing: sysrq triggered crash' >"$D/panic"
check "a panic is found" found panic 'Kernel panic - not syncing: sysrq triggered crash'
printf '[    4.0] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2\r\n' >"$D/crlf"
no_cr() { [ "$(kfind "$D/crlf" | wc -l)" = 1 ] && ! kfind "$D/crlf" | grep -q $'\r'; }
check "a console line with CR LF is found, without the CR" no_cr

# A clean log: boot messages that mention RCU, stalls and watchdogs
# harmlessly, and /init's lines that quote a failing program.
cat >"$D/clean" <<'EOF'
[    0.000000] Linux version 6.1.0-57-cloud-amd64 (debian-kernel@lists.debian.org)
[    0.100000] rcu: Hierarchical RCU implementation.
[    0.100001] rcu: 	RCU CPU stall warnings timeout set to 100 (rcu_resched_ns).
[    0.200000] NMI watchdog: Perf NMI watchdog permanently disabled
[    0.300000] clocksource: Switched to clocksource tsc
[    1.000000] Adding 262140k swap on /dev/vda.  Priority:-2 extents:1 across:262140k
swapemu-init: FAILED: swapemu-torture exited with status 1: BUG: my own message, WARNING: mine
swapemu-init: done: fail
EOF
check "a clean log gives no finding" test -z "$(kfind "$D/clean")"
check "and no trace" test -z "$(ktrace "$D/clean")"
done_testing
