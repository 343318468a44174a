#!/bin/bash
# The device dies while swap is in use: SIGKILL of swapemu-fuse, and of
# nbdkit behind 'attach --nbd', while a verifying workload in a capped
# memory cgroup has tens of MiB on the target. The processes that had pages
# there may die; the machine stays usable (a bystander process lives, new
# processes run); 'swapemu detach' recovers (no swap, loop device, mount,
# process or run directory left) and says what was lost: the swap pages in
# use at the time and the processes that held them.
#
# FUSE: the workload is stopped (SIGSTOP) before the kill, so its pages are
# certainly still on the target when detach runs; swapoff cannot read them
# back, the kernel poisons them, and the workload, continued, dies or fails
# when it touches one. NBD: the workload runs on through the kill.
. "$(dirname "$0")/lib.sh"
require_swap_env
command -v stress-ng >/dev/null || skip_all "no stress-ng (apt-get install stress-ng)"
command -v nbdkit >/dev/null && command -v nbdfuse >/dev/null &&
	[ -f "$BUILD/nbdkit-swapemu-plugin.so" ] || skip_all "no nbdkit, nbdfuse or plugin"
plan 15
S=$SWAPEMU

used_kib() { awk -v d="$1" '$1 == d { print $4 }' /proc/swaps; }
sleep 600 &
bystander=$!
wl=

one() { # FRONT-END
	local fe=$1 name=dd-$1 d=$SWAPEMU_RUN_DIR/dd-$1 dev nbd= i used pid
	[ "$fe" = nbd ] && nbd=--nbd
	dev=$("$S" attach $nbd --profile "$TOP/configs/stable.conf" --name "$name" \
		--set device.size=512M --set delay.capture=0 --set delay.completion=0 2>/dev/null)
	ok $? "$fe: attach ($dev)"
	"$TOP/workload/memcg-run" --limit 64M --cgroup-file "$SWAPEMU_RUN_DIR/cg" -- \
		stress-ng --vm 1 --vm-bytes 192M --vm-keep --verify --timeout 120s \
		>"$SWAPEMU_RUN_DIR/$fe.log" 2>&1 &
	wl=$!
	for i in $(seq 300); do
		used=$(used_kib "$dev")
		[ "${used:-0}" -ge 65536 ] && break
		sleep 0.1
	done
	check "$fe: the workload has ${used:-0} KiB on the target" test "${used:-0}" -ge 65536
	if [ "$fe" = fuse ]; then
		xargs -r kill -STOP <"$(cat "$SWAPEMU_RUN_DIR/cg")/cgroup.procs"
		used=$(used_kib "$dev")
	fi
	pid=$(cat "$d/pid")
	kill -9 "$pid"
	diag "$fe: killed the device (pid $pid) with $used KiB of swap in use"
	if [ "$fe" = nbd ]; then
		for i in $(seq 1500); do kill -0 $wl 2>/dev/null || break; sleep 0.1; done
		! kill -0 $wl 2>/dev/null
		ok $? "$fe: the workload ended (no hang) within 150 s of the kill ($(grep -c 'fail\|signal\|terminated' "$SWAPEMU_RUN_DIR/$fe.log") failure lines)"
	fi
	timeout 20 bash -c 'head -c 16M /dev/urandom | md5sum >/dev/null && ls / >/dev/null' &&
		kill -0 $bystander
	ok $? "$fe: the machine is usable: new processes run, the bystander lives"

	local t0=$(date +%s) err
	err=$(timeout 120 "$S" detach "$name" 2>&1)
	ok $? "$fe: detach succeeds after the device died ($(( $(date +%s) - t0 )) s)"
	diag "$err"
	local pages
	pages=$(sed -n 's/.*died\(; \| with \)\([0-9]*\) swap pages.*/\2/p' <<<"$err")
	if [ "$fe" = fuse ]; then
		check "$fe: detach says how many swap pages were lost (${pages:-none}; $((used / 4)) in use at the kill)" \
			test -n "$pages" -a "${pages:-0}" -gt 0
		grep -q "processes with pages on swap.*stress-ng" <<<"$err"
		ok $? "$fe: and names the processes that had pages there"
		xargs -r kill -CONT <"$(cat "$SWAPEMU_RUN_DIR/cg")/cgroup.procs" 2>/dev/null
		for i in $(seq 600); do kill -0 $wl 2>/dev/null || break; sleep 0.1; done
		! kill -0 $wl 2>/dev/null && ! wait $wl
		ok $? "$fe: continued, the workload ends with a failure (it lost pages)"
	else
		check "$fe: detach says how many swap pages were lost (${pages:-none})" test -n "$pages"
	fi
	wait $wl 2>/dev/null
	tail -4 "$SWAPEMU_RUN_DIR/$fe.log" | while read -r l; do diag "workload: $l"; done
	local left=""
	grep -q "^$dev " /proc/swaps && left+=" swap"
	grep -q " $d/mnt " /proc/mounts && left+=" mount"
	losetup -a | grep -q "$d/" && left+=" loop"
	[ -e "$d" ] && left+=" directory"
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && left+=" process($(ps -o stat=,comm= -p "$pid"))"
	[ -z "$left" ]
	ok $? "$fe: nothing left: no swap area, mount, loop device, process or run directory${left:+ (left:$left)}"
}

one fuse
one nbd
kill $bystander
done_testing
