#!/bin/bash
# swapemu attach / status / detach on the host kernel: the loop device,
# stable_writes, swapon, refusals, crash recovery, and that detach never
# touches swap it did not create.
. "$(dirname "$0")/lib.sh"
require_swap_env
plan 22

out=$("$SWAPEMU" attach --profile "$TOP/configs/stable.conf" 2>&1)
ok $? "attach stable.conf"
dev=$(echo "$out" | head -1)
check "attach printed a loop device ($dev)" test -b "$dev"
grep -q "^$dev " /proc/swaps; ok $? "$dev is active swap"
check "stable_writes is 1 for advertise=yes" test "$(cat /sys/block/${dev#/dev/}/queue/stable_writes)" = 1
check "loop device uses direct I/O" test "$(cat /sys/block/${dev#/dev/}/loop/dio)" = 1
prio=$(awk -v d="$dev" '$1 == d { print $5 }' /proc/swaps)
check "swap priority is the profile's (32767, got $prio)" test "$prio" = 32767

err=$("$SWAPEMU" attach --profile "$TOP/configs/stable.conf" 2>&1)
rc=$?
check "a taken name is refused (rc $rc)" test $rc = 2
echo "$err" | grep -q "already attached"; ok $? "with a clear message: $err"

"$SWAPEMU" status | grep -q "^stable .*running.*$dev.*yes"; ok $? "status lists the target"
"$SWAPEMU" status --json | grep -q '"name":"stable","state":"running"'; ok $? "status --json"

# The same loop device number re-attached keeps the old stable_writes: the
# unstable profile must write 0 explicitly.
"$SWAPEMU" detach stable; ok $? "detach stable"
! grep -q "^$dev " /proc/swaps; ok $? "swap is off after detach"
check "run directory removed" test ! -e "$SWAPEMU_RUN_DIR/stable"
dev2=$("$SWAPEMU" attach --profile "$TOP/configs/unstable.conf" 2>/dev/null)
check "stable_writes is 0 for advertise=no on $dev2" test "$(cat /sys/block/${dev2#/dev/}/queue/stable_writes)" = 0

# A crashed daemon: detach still cleans up everything.
kill -9 "$(cat "$SWAPEMU_RUN_DIR/unstable/pid")"
sleep 0.2
"$SWAPEMU" status | grep -q "^unstable .*crashed"; ok $? "status shows the crash"
"$SWAPEMU" detach unstable; ok $? "detach after a daemon crash"
! losetup -a | grep -q "$SWAPEMU_RUN_DIR"; ok $? "no loop device left"
! grep -q "$SWAPEMU_RUN_DIR" /proc/mounts; ok $? "no mount left"

# Bad input leaves nothing behind.
bad=$SWAPEMU_RUN_DIR/bad.conf
printf '[delay]\ncapture = 5 parsecs\n' >"$bad"
err=$("$SWAPEMU" attach --profile "$bad" 2>&1)
echo "$err" | grep -q "bad.conf:2: bad duration"; ok $? "malformed profile refused: $err"
check "nothing left for the bad profile" test ! -e "$SWAPEMU_RUN_DIR/bad"

# Foreign swap: detach --all must leave it alone.
img=$SWAPEMU_RUN_DIR/foreign.img
truncate -s 64M "$img" && chmod 600 "$img" && mkswap "$img" >/dev/null 2>&1
floop=$(losetup --find --show "$img")
swapon -p 5 "$floop"
"$SWAPEMU" attach --profile "$TOP/configs/stable.conf" >/dev/null 2>&1
"$SWAPEMU" detach --all >/dev/null
grep -q "^$floop " /proc/swaps; ok $? "detach --all left foreign swap $floop alone"
swapoff "$floop"; losetup -d "$floop"
check "detach of an unknown target fails" bash -c "! '$SWAPEMU' detach nosuch 2>/dev/null"
done_testing
