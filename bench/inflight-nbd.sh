#!/bin/bash
# inflight-nbd.sh - many writes in flight: the NBD plugin with a fixed
# completion delay (default 10,000 writes in flight, 5 s, no capture
# delay, crc32c) under build/bench/inflight-nbd, which keeps N 4 KiB
# random writes in flight over one connection and times each reply
# against the delay. For comparison the same load on `nbdkit memory`
# behind nbdkit's own delay filter (wdelay), the two alternating over
# REPS repetitions. Prints, per server and repetition, IOPS (the ideal is
# N/DELAY) and the timing error (reply time - send time - delay) median,
# p99 and maximum, measured by the client, so it includes the transport
# both ways. A benchmark, not a test: it never fails on a figure.
# (FUSE cannot hold this many: a loop device keeps at most max_background,
# 128, requests in flight; bench/inflight-bench.sh measures depth 64.)
#
# usage: bench/inflight-nbd.sh [--inflight N] [--delay MS] [--seconds S]
#                              [--reps N] [--no-reference]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
n=10000 delay=5000 seconds=10 reps=1 ref=1
while [ $# -gt 0 ]; do
	case $1 in
	--inflight) n=$2 ;;
	--delay) delay=$2 ;;
	--seconds) seconds=$2 ;;
	--reps) reps=$2 ;;
	--no-reference)
		ref=
		shift
		continue
		;;
	-h | --help)
		sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "inflight-nbd: unknown option '$1' (see --help)" >&2
		exit 2
		;;
	esac
	[ $# -ge 2 ] || {
		echo "inflight-nbd: $1 needs a value" >&2
		exit 2
	}
	shift 2
done
for v in "$n" "$delay" "$seconds" "$reps"; do
	[[ $v =~ ^[0-9]+$ ]] && [ "$v" -gt 0 ] || {
		echo "inflight-nbd: '$v' is not a positive whole number" >&2
		exit 2
	}
done
command -v nbdkit >/dev/null || {
	echo "inflight-nbd: nbdkit not found (apt-get install nbdkit)" >&2
	exit 1
}
build=${BUILD:-$top/build}
[ -x "$build/bench/inflight-nbd" ] && [ -e "$build/nbdkit-swapemu-plugin.so" ] ||
	make -s -C "$top" build/bench/inflight-nbd build/nbdkit-swapemu-plugin.so >&2
# One worker thread per write in flight: the plugin sleeps in it.
threads=$((n + 16))
plugin_cmd=(nbdkit -s --exit-with-parent --threads "$threads"
	"$build/nbdkit-swapemu-plugin.so" size=256M device.checksum=crc32c
	delay.capture=0 delay.completion="${delay}ms" stable-writes.require=no)
ref_cmd=(nbdkit -s --exit-with-parent --threads "$threads" --filter=delay
	memory size=256M wdelay="${delay}ms")

echo "inflight-nbd $(date -u '+%F %H:%M') UTC, $n writes in flight," \
	"completion ${delay} ms, ${seconds}s, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-18s %7s %7s %10s %10s %10s %8s\n' server IOPS ideal \
	err-p50-us err-p99-us err-max-us min-inflight
run() {
	local name=$1
	shift
	local out
	out=$("$build/bench/inflight-nbd" -n "$n" -d "$((delay * 1000))" \
		-t "$seconds" -- "$@") || {
		echo "$name: the run failed" >&2
		return 0
	}
	awk -v s="$name" -v n="$n" -v d="$delay" '{
		printf "%-18s %7d %7d %10.1f %10.1f %10.1f %8d\n",
			s, $5, n / (d / 1000), $6, $7, $8, $9 }' <<<"$out"
}
for _ in $(seq "$reps"); do
	run swapemu-plugin "${plugin_cmd[@]}"
	[ -z "$ref" ] || run memory+delay-filter "${ref_cmd[@]}"
done
