#!/bin/bash
# inflight-bench.sh - do completion delays overlap? swapemu-fuse with a
# fixed completion delay (default 5 ms, no capture delay) under fio 4 KiB
# random writes at queue depth QD (default 64) through a direct-I/O loop
# device: IOPS against the ideal QD/delay, and the daemon's own write
# latency (receipt to reply, from `stats`) against the delay. A benchmark,
# not a test.
#
# usage: bench/inflight-bench.sh [--qd N] [--delay MS] [--runtime S]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
qd=64 delay=5 runtime=3
while [ $# -gt 0 ]; do
	case $1 in
	--qd) qd=$2 ;;
	--delay) delay=$2 ;;
	--runtime) runtime=$2 ;;
	-h | --help)
		sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "inflight-bench: unknown option '$1' (see --help)" >&2
		exit 2
		;;
	esac
	[ $# -ge 2 ] || {
		echo "inflight-bench: $1 needs a value" >&2
		exit 2
	}
	shift 2
done
[ "$(id -u)" = 0 ] || {
	echo "inflight-bench: needs root (FUSE mount, loop device)" >&2
	exit 1
}
build=${BUILD:-$top/build}
work=$(mktemp -d /tmp/swapemu-inflight.XXXXXX)
pid= loop=
cleanup() {
	[ -z "$loop" ] || losetup -d "$loop" 2>/dev/null || true
	[ -z "$pid" ] || kill "$pid" 2>/dev/null || true
	for _ in $(seq 50); do grep -q " $work/mnt " /proc/mounts || break; sleep 0.1; done
	grep -q " $work/mnt " /proc/mounts && umount -l "$work/mnt"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir "$work/mnt"
"$build/swapemu-fuse" --set device.size=256M --set delay.capture=0 \
	--set delay.completion="${delay}ms" -c "$work/ctl" -n disk \
	-P "$work/pid" "$work/mnt" 2>/dev/null
pid=$(cat "$work/pid")
loop=$(losetup -f --show --direct-io=on "$work/mnt/disk")
iops=$(DEV=$loop QD=$qd RUNTIME=$runtime fio --minimal "$top/bench/fio/randwrite.fio" |
	awk -F';' '{ print $49 }')
stats=$("$build/swapemu-ctl" "$work/ctl" stats)
p99=$(grep -o '"write":{[^}]*"latency_us":{[^}]*}' <<<"$stats" |
	grep -o '"p99":[0-9.]*' | cut -d: -f2)
awk -v i="$iops" -v q="$qd" -v d="$delay" -v p="$p99" 'BEGIN {
	ideal = q / (d / 1000)
	printf "inflight-bench: qd %d, completion %d ms: %d IOPS = %.2f of %d/%dms (%d); write latency p99 %.0f us, %.0f us over the delay\n",
		q, d, i, i / ideal, q, d, ideal, p, p - d * 1000 }'
