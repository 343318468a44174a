#!/bin/bash
# The workload's own throughput and swap-in latency (swapin_latency_us,
# main_seconds, swapout_mib_s): the figures are there and consistent, the
# timed reads are real device reads (no more than pswpin counted), and a
# capture delay, which the FUSE daemon applies to reads too, shows in the
# swap-in latency: p50 above a 20 ms delay, below it without the delay.
. "$(dirname "$0")/lib.sh"
require_swap_env
plan 9
PY=/usr/bin/python3
DELAY_US=20000

# run_torture NAME [--set KEY=VALUE]: stable.conf attached as NAME, one
# short write run; prints the JSON report and detaches.
run_torture() {
	local name=$1
	shift
	"$SWAPEMU" attach --profile "$TOP/configs/stable.conf" --name "$name" "$@" >/dev/null || return 1
	"$SWAPEMU" torture --target "$name" --pages 256 --swapouts 512 --seconds 60 \
		--modify-ms 10 --json --quiet
	"$SWAPEMU" detach "$name" >/dev/null
}
# py JSON EXPR: evaluates EXPR with the report as t (exit status: EXPR false).
# A report that is not JSON or lacks a key fails the check, with one line.
py() {
	"$PY" -c "import json,sys
try:
    t=json.loads(sys.argv[1]); l=t['swapin_latency_us']; s=t['scenarios'][0]; r=$2
except Exception as e:
    print('# bad report:', repr(e)); r=False
exit(not r)" "$1"
}
# swapin REPORT: its swapin_latency_us, for the messages.
swapin() { "$PY" -c "import json,sys; print(json.loads(sys.argv[1])['swapin_latency_us'])" "$1" 2>/dev/null; }

fast=$(run_torture nodelay --set delay.capture=0)
ok $? "torture on stable.conf with delay.capture=0"
diag "$fast"
check "swapin_latency_us has p50, p99, max, count; main_seconds and swapout_mib_s are there" \
	py "$fast" "set(l) >= {'p50','p99','max','count'} and t['main_seconds'] > 0 and t['swapout_mib_s'] > 0"
check "some reads waited for the device ($(swapin "$fast"))" \
	py "$fast" "l['count'] > 0"
check "p50 <= p99 <= max" py "$fast" "0 < l['p50'] <= l['p99'] <= l['max']"
check "timed reads are real swap-ins: count <= pswpin delta ($(json_num swapins <<<"$fast"))" \
	py "$fast" "l['count'] <= t['swapins'] and l['count'] + l['cache_hits'] <= 256"
check "main_seconds leaves out the final check, and swapout_mib_s = swapouts x 4 KiB / main_seconds" \
	py "$fast" "t['main_seconds'] < t['seconds'] and abs(t['swapout_mib_s'] - t['swapouts'] * 4096 / 2**20 / t['main_seconds']) < 0.01 * t['swapout_mib_s']"
check "the scenario reports the same figures" \
	py "$fast" "s['swapin_latency_us'] == l and s['main_seconds'] == t['main_seconds']"
check "without a capture delay, swap-in p50 is below $DELAY_US us" py "$fast" "l['p50'] < $DELAY_US"

slow=$(run_torture delayed --set delay.capture=20ms)
diag "delay.capture=20ms: swapin_latency_us $(swapin "$slow")"
check "with delay.capture=20ms, swap-in p50 is above $DELAY_US us" py "$slow" "l['count'] > 0 and l['p50'] > $DELAY_US"
done_testing
