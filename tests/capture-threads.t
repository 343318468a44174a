#!/bin/bash
# swapemu-fuse's capture threads: with a capture delay, requests in flight
# at once are still captured one delay apart (each waits its delay from
# when the daemon could first see it), however many threads read; with no
# delay, all threads read at once and data is intact; threads blocked in
# read() still stop on SIGTERM and on an unmount.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root"
[ -c /dev/fuse ] || skip_all "no /dev/fuse"
FUSE=$BUILD/swapemu-fuse
[ -x "$FUSE" ] || skip_all "swapemu-fuse not built"
plan 8
d=$SWAPEMU_RUN_DIR
mkdir -p "$d/mnt"
stop_daemon() { stop_fuse_daemon "$d"; }
trap 'stop_daemon; cleanup' EXIT
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# WRITERS x COUNT direct 4 KiB writes, in parallel, to distinct blocks.
parallel_writes() {
	local w
	for ((w = 0; w < $1; w++)); do
		dd if="$d/data" of="$d/mnt/disk" bs=4096 count="$2" skip=$((w * $2)) seek=$((w * $2)) \
			oflag=direct conv=notrunc status=none &
	done
	wait
}
head -c $((4 * 25 * 4096)) /dev/urandom >"$d/data"

# 4 threads, 5 ms capture delay, 4 writers x 25: 100 captures one delay
# apart take at least 0.5 s (threads that each waited from the same poll
# would take about a quarter of it).
"$FUSE" --set device.size=16M --set delay.capture=5ms --capture-threads 4 \
	--name disk --pidfile "$d/pid" "$d/mnt"
ok $? "daemon with 4 capture threads and a 5 ms capture delay"
t0=$(now_ms)
parallel_writes 4 25
ms=$(($(now_ms) - t0))
diag "100 writes from 4 writers took $ms ms (serial captures: >= 500 ms)"
check "delayed captures stay one delay apart with 4 threads ($ms ms)" test "$ms" -ge 475
stop_daemon

# No delay: 4 threads read blocking; data intact; SIGTERM ends them all.
"$FUSE" --set device.size=16M --capture-threads 4 --name disk \
	--pidfile "$d/pid" "$d/mnt"
ok $? "daemon with 4 capture threads and no delay"
t0=$(now_ms)
parallel_writes 4 25
diag "100 writes from 4 writers, no delay: $(($(now_ms) - t0)) ms"
dd if="$d/mnt/disk" of="$d/back" bs=4096 count=100 iflag=direct status=none
cmp -s "$d/data" "$d/back"; ok $? "parallel writes read back intact"
pid=$(cat "$d/pid")
kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$pid" 2>/dev/null; ok $? "SIGTERM stops threads blocked in read"
! grep -q " $d/mnt " /proc/mounts; ok $? "and unmounts"
rm -f "$d/pid"

# An unmount from outside ends the daemon too.
"$FUSE" --set device.size=16M --capture-threads 4 --name disk \
	--pidfile "$d/pid" "$d/mnt"
pid=$(cat "$d/pid")
umount "$d/mnt"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$pid" 2>/dev/null; ok $? "an unmount stops the daemon"
check "and it left no mount" test -z "$(grep " $d/mnt " /proc/mounts)"
done_testing
