#!/bin/bash
# FUSE over io_uring (swapemu-fuse --transport=uring): a target served
# through the kernel's ring queues keeps data intact (dd and cmp in mixed
# sizes, fio with verify at depth 32, through losetup --direct-io=on) with
# replies both at once and from the completer (a completion delay); it
# serves swap under the torture workload; stats names the transport; a
# capture delay is refused at start and live; the kernel's enable_uring is
# as it was before, whatever the daemon set for its mount.
. "$(dirname "$0")/lib.sh"
require_swap_env
PARAM=/sys/module/fuse/parameters/enable_uring
[ -e "$PARAM" ] || skip_all "this kernel has no FUSE over io_uring ($PARAM is missing: Linux 6.14+ with CONFIG_FUSE_IO_URING)"
[ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" != 2 ] ||
	skip_all "io_uring is disabled here (kernel.io_uring_disabled = 2)"
[ -x "$BUILD/swapemu-torture" ] || skip_all "swapemu-torture not built"
requires fio --version
was=$(cat "$PARAM")
# Whatever happens, the switch ends as it was.
on_cleanup "echo '$was' >'$PARAM'"
CTL=$BUILD/swapemu-ctl
plan 16

d=$SWAPEMU_RUN_DIR/io
mkdir -p "$d/mnt"
loop=
stop_io() {
	[ -z "$loop" ] || losetup -d "$loop" 2>/dev/null
	loop=
	stop_fuse_daemon "$d"
}
on_cleanup stop_io

# 1. Data through the ring: a 1 ms completion delay, so that replies come
# both from the ring's threads (reads) and from the completer (writes).
"$BUILD/swapemu-fuse" --transport=uring --set device.size=64M \
	--set delay.completion=1ms --name disk --control "$d/ctl" \
	--pidfile "$d/pid" "$d/mnt" 2>"$d/log"
ok $? "swapemu-fuse --transport=uring starts"
diag "$(cat "$d/log")"
# The daemon returns once mounted; it answers INIT (and restores the
# switch) a moment later: the first stat waits for INIT.
stat "$d/mnt/disk" >/dev/null
for _ in $(seq 50); do [ "$(cat "$PARAM")" = "$was" ] && break; sleep 0.1; done
check "enable_uring is back to $was once the mount is up" test "$(cat "$PARAM")" = "$was"
if [ "$was" = N ]; then
	check "it said it set enable_uring for its mount" grep -q "set $PARAM to Y for this mount" "$d/log"
else
	skip "enable_uring was already Y" "it said it set enable_uring for its mount"
fi
"$CTL" "$d/ctl" counters | grep -qx "transport uring"; ok $? "counters name the transport: uring"
"$CTL" "$d/ctl" stats | grep -q '"transport":"uring"'; ok $? "stats JSON too"
loop=$(losetup -f --show --direct-io=on "$d/mnt/disk")
head -c $((8 << 20)) /dev/urandom >"$d/data"
dd if="$d/data" of="$loop" bs=4k count=512 oflag=direct status=none &&
	dd if="$d/data" of="$loop" bs=128k skip=16 seek=16 oflag=direct status=none &&
	dd if="$d/data" of="$loop" bs=1M skip=4 seek=4 count=2 oflag=direct status=none
ok $? "writes of 4 KiB, 128 KiB and 1 MiB"
dd if="$loop" of="$d/back" bs=64k count=128 iflag=direct status=none
cmp -s "$d/data" "$d/back"; ok $? "read back, the data is intact"
fio --name=verify --filename="$loop" --direct=1 --ioengine=libaio --iodepth=32 \
	--rw=randwrite --bs=4k --size=32M --offset=16M --verify=crc32c \
	--verify_fatal=1 --do_verify=1 --verify_state_save=0 --output="$d/fio.out" >/dev/null 2>&1
ok $? "fio randwrite at depth 32 with crc32c verify"
grep -qE "err= *0" "$d/fio.out" || diag "$(cat "$d/fio.out")"
w=$("$CTL" "$d/ctl" counters | awk '$1 == "write.count" { print $2 }')
check "the device counted the writes ($w)" test "${w:-0}" -ge 8192

# 2. A capture delay cannot be had over io_uring: refused live and at start.
printf '[delay]\ncapture = 5ms\n' >"$d/capture.conf"
err=$("$CTL" "$d/ctl" load "$d/capture.conf" 2>&1)
rc=$?
[ $rc != 0 ] && grep -q "no capture delay over uring" <<<"$err"
ok $? "a live capture delay is refused: $err"
stop_io
err=$("$BUILD/swapemu-fuse" --transport=uring --set delay.capture=5ms "$d/mnt" 2>&1)
rc=$?
[ $rc = 2 ] && [ "$(wc -l <<<"$err")" = 1 ] && grep -q "needs delay.capture=0" <<<"$err"
ok $? "--transport=uring with a capture delay: one line, status 2 ($err)"

# 3. Swap through it: the torture workload on a target attached with the
# io_uring transport (stable.conf without its capture delay).
dev=$("$SWAPEMU" attach --profile "$TOP/configs/stable.conf" --set delay.capture=0 \
	--transport uring 2>"$SWAPEMU_RUN_DIR/attach.log")
ok $? "swapemu attach --transport uring ($dev)"
"$SWAPEMU" inject stable stats | grep -qx "transport uring"; ok $? "its stats name the transport"
json=$("$BUILD/swapemu-torture" --pages 256 --seconds 4 --quiet --json)
rc=$?
diag "$json"
check "the torture workload passes over io_uring ($rc)" test $rc = 0
w=$("$SWAPEMU" inject stable stats | awk '$1 == "write.count" { print $2 }')
r=$("$SWAPEMU" inject stable stats | awk '$1 == "read.count" { print $2 }')
check "the device served swap writes ($w) and reads ($r)" test "${w:-0}" -gt 0 -a "${r:-0}" -gt 0
"$SWAPEMU" detach stable
check "detached; enable_uring is still $was" test "$(cat "$PARAM")" = "$was"
done_testing
