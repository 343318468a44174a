#!/bin/bash
# The NBD front end as host swap: nbdkit with the swapemu plugin, nbdfuse,
# loop with direct I/O, swapon; the torture workload loses nothing; detach
# leaves no process, mount or loop device, also after nbdkit crashes.
. "$(dirname "$0")/lib.sh"
require_swap_env
command -v nbdkit >/dev/null || skip_all "no nbdkit"
command -v nbdfuse >/dev/null || skip_all "no nbdfuse"
[ -f "$BUILD/nbdkit-swapemu-plugin.so" ] || skip_all "the nbdkit plugin is not built"
plan 10
S=$SWAPEMU
d=$SWAPEMU_RUN_DIR/nb

dev=$("$S" attach --nbd --profile "$TOP/configs/stable.conf" --name nb 2>/dev/null)
ok $? "attach --nbd stable.conf ($dev)"
grep -q "^$dev " /proc/swaps; ok $? "it is swap"
check "stable_writes is 1" test "$(cat /sys/block/${dev#/dev/}/queue/stable_writes)" = 1
json=$("$S" torture --target nb --pages 512 --swapouts 2000 --seconds 60 --json --quiet)
diag "$json"
check "swap-outs over NBD ($(json_num swapouts <<<"$json"))" test "$(json_num swapouts <<<"$json")" -ge 2000
check "no page lost or corrupt" test "$(json_num lost <<<"$json"):$(json_num corrupt <<<"$json")" = 0:0
check "nothing torn or modified with stable writes" test "$(json_num torn <<<"$json"):$(json_num modified <<<"$json")" = 0:0
check "every page read back verified" test "$(json_num verified <<<"$json")" = 512
nbdkit_pid=$(cat "$d/pid"); nbdfuse_pid=$(cat "$d/nbdfuse.pid")
"$S" detach nb
ok $? "detach"
# Gone = exited: a zombie not yet reaped by whoever adopted it counts as
# gone (kill -0 still succeeds on one, which made this check flaky).
for _ in $(seq 50); do
	pid_alive "$nbdkit_pid" || pid_alive "$nbdfuse_pid" || break
	sleep 0.1
done
! pid_alive "$nbdkit_pid" && ! pid_alive "$nbdfuse_pid"
ok $? "nbdkit and nbdfuse are gone ($(ps -o pid=,stat=,comm= -p "$nbdkit_pid,$nbdfuse_pid" | tr -s ' \n' ' '))"

"$S" attach --nbd --profile "$TOP/configs/unstable.conf" --name nb >/dev/null 2>&1
kill -9 "$(cat "$d/pid")"
"$S" detach nb 2>/dev/null
! grep -q "$SWAPEMU_RUN_DIR" /proc/mounts && ! losetup -a | grep -q "$SWAPEMU_RUN_DIR" && [ ! -e "$d" ]
ok $? "detach after nbdkit crashed leaves no mount, loop device or directory"
done_testing
