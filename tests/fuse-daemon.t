#!/bin/bash
# swapemu-fuse on its own: options and errors, daemon mode, the file's
# reads, writes, trims and fixed size, and a clean SIGTERM shutdown.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root"
[ -c /dev/fuse ] || skip_all "no /dev/fuse"
FUSE=$BUILD/swapemu-fuse
[ -x "$FUSE" ] || skip_all "swapemu-fuse not built"
plan 17
d=$SWAPEMU_RUN_DIR
mkdir -p "$d/mnt"
stop_daemon() { stop_fuse_daemon "$d"; }
trap 'stop_daemon; cleanup' EXIT

"$FUSE" --help | grep -q "usage: swapemu-fuse"; ok $? "--help"
err=$("$FUSE" --bogus "$d/mnt" 2>&1); rc=$?
check "unknown option refused: $err" test $rc = 2 -a "$err" = "swapemu-fuse: unknown option '--bogus' (see --help)"
err=$("$FUSE" "$d/nowhere" 2>&1)
check "missing mount point named: $err" test "$err" = "swapemu-fuse: mount point $d/nowhere does not exist"
err=$("$FUSE" --profile "$d/none.conf" "$d/mnt" 2>&1)
echo "$err" | grep -q "none.conf: cannot open profile"; ok $? "missing profile named: $err"
err=$("$FUSE" --set device.size=1000 "$d/mnt" 2>&1)
echo "$err" | grep -q "not a multiple of 4096"; ok $? "bad --set named: $err"
"$FUSE" --print-profile --set delay.capture=uniform:1ms..2ms | grep -q "^capture = uniform:1ms..2ms$"
ok $? "--print-profile shows the effective profile"

# Daemon mode: returns once mounted, writes its pid.
"$FUSE" --set device.size=16M --name disk --pidfile "$d/pid" --control "$d/ctl" "$d/mnt"
ok $? "daemon mode starts"
check "the target file has the profile's size" test "$(stat -c %s "$d/mnt/disk")" = 16777216
check "the directory lists only the target" test "$(ls "$d/mnt")" = disk
head -c 65536 /dev/urandom >"$d/data"
dd if="$d/data" of="$d/mnt/disk" bs=4096 seek=100 oflag=direct conv=notrunc status=none
dd if="$d/mnt/disk" of="$d/back" bs=4096 skip=100 count=16 iflag=direct status=none
cmp -s "$d/data" "$d/back"; ok $? "direct I/O write and read back"
fallocate --punch-hole --keep-size -o $((100 * 4096)) -l 8192 "$d/mnt/disk"
dd if="$d/mnt/disk" of="$d/back" bs=4096 skip=100 count=2 iflag=direct status=none
check "punched blocks read as zeros" test "$(tr -d '\0' <"$d/back" | wc -c)" = 0
! truncate -s 1M "$d/mnt/disk" 2>/dev/null; ok $? "the size cannot be changed"
err=$(dd if="$d/data" of="$d/mnt/disk" bs=4096 seek=4096 oflag=direct conv=notrunc status=none 2>&1)
check "a write past the end fails with ENOSPC: $err" grep -q "No space left on device" <<<"$err"
# A rule's error is the device's own, as over NBD (tests/nbd-rules.c).
"$BUILD/swapemu-ctl" "$d/ctl" add inval op=write range=1M-2M action=error:EINVAL >/dev/null
err=$(dd if="$d/data" of="$d/mnt/disk" bs=4096 seek=256 count=1 oflag=direct conv=notrunc status=none 2>&1)
check "a rule's error:EINVAL fails the write with EINVAL: $err" grep -q "Invalid argument" <<<"$err"
"$BUILD/swapemu-ctl" "$d/ctl" remove inval >/dev/null
c=$("$BUILD/swapemu-ctl" "$d/ctl" counters)
check "counters saw the trim" test "$(awk '$1 == "trim.count" { print $2 }' <<<"$c")" = 1
pid=$(cat "$d/pid")
kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$pid" 2>/dev/null; ok $? "SIGTERM stops the daemon"
! grep -q " $d/mnt " /proc/mounts; ok $? "and unmounts"
done_testing
