#!/bin/bash
# control-latency.sh - does a control client that stops reading slow the
# data path? Serves the swapemu plugin over NBD (nbdkit, Unix socket) with
# a rule that fires on every write (so every write logs an event) and an
# event-log file, fills the event log, then measures the latency of
# synchronous 4 KiB writes (libnbd) with:
#   none     no control client
#   events   "swapemu-ctl SOCK events" stopped (SIGSTOP) while the server
#            writes the log to it, so it never reads
#   follow   "swapemu-ctl SOCK events --follow" stopped the same way
# The three alternate for REPS rounds (noise hits all alike); one line per
# run: SCENARIO ROUND COUNT P50_US P99_US P999_US MAX_US. A benchmark, not
# a test.
#
# usage: bench/control-latency.sh [--writes N] [--reps N]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
writes=20000 reps=3
while [ $# -gt 0 ]; do
	case $1 in
	--writes) writes=$2 ;;
	--reps) reps=$2 ;;
	-h | --help)
		sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "control-latency.sh: unknown option '$1' (try --help)" >&2
		exit 2
		;;
	esac
	shift 2
done
plugin=$top/build/nbdkit-swapemu-plugin.so
ctl=$top/build/swapemu-ctl
bench=$top/build/bench/control-latency
make -s -C "$top" build/nbdkit-swapemu-plugin.so build/swapemu-ctl >&2
make -s -C "$top" "${bench#"$top"/}" >&2 || exit 1

tmp=$(mktemp -d /tmp/swapemu-control-latency.XXXXXX)
server= client=
cleanup() {
	if [ -n "$client" ]; then
		kill -CONT "$client" 2>/dev/null || true
		kill "$client" 2>/dev/null || true
		wait "$client" 2>/dev/null || true
	fi
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

nbdkit -f -U "$tmp/nbd.sock" "$plugin" size=128M control="$tmp/ctl" \
	events="$tmp/events.jsonl" 2>"$tmp/nbdkit.err" &
server=$!
for _ in $(seq 200); do
	[ -S "$tmp/ctl" ] && [ -S "$tmp/nbd.sock" ] && break
	sleep 0.05
done
"$ctl" "$tmp/ctl" add every op=write action=delay:1us >/dev/null
"$bench" "$tmp/nbd.sock" 5000 >/dev/null # fill the event log

# run SCENARIO ROUND
run() {
	case $1 in
	none) ;;
	events) "$ctl" "$tmp/ctl" events >"$tmp/fifo-out" & ;;
	follow) "$ctl" "$tmp/ctl" events --follow >"$tmp/fifo-out" & ;;
	esac
	if [ "$1" != none ]; then
		client=$!
		sleep 0.2
		kill -STOP "$client"
		sleep 0.3 # the server fills the socket buffer and blocks
	fi
	echo "$1 $2 $("$bench" "$tmp/nbd.sock" "$writes")"
	if [ -n "$client" ]; then
		kill -CONT "$client"
		kill "$client" 2>/dev/null || true
		wait "$client" 2>/dev/null || true
		client=
	fi
}
# A FIFO nobody reads keeps the client's stdout from draining either.
mkfifo "$tmp/fifo"
exec 3<>"$tmp/fifo"
ln -sf "$tmp/fifo" "$tmp/fifo-out"
echo "scenario round writes p50_us p99_us p999_us max_us"
for r in $(seq "$reps"); do
	for s in none events follow; do
		run "$s" "$r"
	done
done
