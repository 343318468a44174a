#!/bin/bash
# capture-timing.sh - when does the device see a write's data, over NBD and
# over FUSE direct I/O? A measurement, not a test (see capture-timing.c).
#
# usage: bench/capture-timing.sh [--pages N] [--start US] [--rewrite US]
#                                [--delays "0 5ms 20ms"] [--fuse-threads N]
#
# For each capture delay, N stamped pages are written one at a time while a
# second thread rewrites each page (head, body, tail over REWRITE us,
# starting START us after submission). Rows: the NBD plugin (libnbd ->
# nbdkit -s) and, if build/swapemu-fuse exists and FUSE works, the FUSE
# front end written with pwrite(O_DIRECT) (--fuse-threads: its capture
# threads, default the daemon's). Nothing is attached as swap.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
pages=200 start=0 rewrite=2000 delays="0 5ms 20ms" fuse_threads=
while [ $# -gt 0 ]; do
	case $1 in
	--pages) pages=$2 ;;
	--start) start=$2 ;;
	--rewrite) rewrite=$2 ;;
	--delays) delays=$2 ;;
	--fuse-threads) fuse_threads=$2 ;;
	-h | --help)
		sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "capture-timing: unknown option '$1' (see --help)" >&2
		exit 2
		;;
	esac
	[ $# -ge 2 ] || {
		echo "capture-timing: $1 needs a value" >&2
		exit 2
	}
	shift 2
done

plugin=$top/build/nbdkit-swapemu-plugin.so
fuse=$top/build/swapemu-fuse
prog=$top/build/bench/capture-timing
[ -e "$plugin" ] || make -s -C "$top" build/nbdkit-swapemu-plugin.so >&2
make -s -C "$top" "${prog#"$top"/}" >&2 || exit 1

tmp=$(mktemp -d /tmp/swapemu-capture-timing.XXXXXX)
fuse_pid=
cleanup() {
	if [ -n "$fuse_pid" ]; then
		kill "$fuse_pid" 2>/dev/null || true
		wait "$fuse_pid" 2>/dev/null || true
	fi
	if mountpoint -q "$tmp/mnt" 2>/dev/null; then
		fusermount3 -u "$tmp/mnt" 2>/dev/null || umount -l "$tmp/mnt" || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

args=(-n "$pages" -s "$start" -r "$rewrite" -c "$tmp/ctl" -g "$tmp/gentab")
printf '%-5s %-8s %6s %6s %9s %10s\n' front capture clean torn modified \
	"head_us"
row() {
	awk -v f="$1" -v d="$2" '{ printf "%-5s %-8s %6d %6d %9d %10d\n",
		f, d, $2, $4, $6, $10 }'
}

for d in $delays; do
	"$prog" "${args[@]}" -- nbdkit -s --exit-with-parent "$plugin" \
		size=16M control="$tmp/ctl" gentab="$tmp/gentab" \
		delay.capture="$d" | row nbd "$d"
done

if [ -x "$fuse" ] && [ -e /dev/fuse ]; then
	mkdir "$tmp/mnt"
	for d in $delays; do
		"$fuse" -f -c "$tmp/ctl" -g "$tmp/gentab" \
			${fuse_threads:+--capture-threads "$fuse_threads"} \
			--set device.size=16M --set delay.capture="$d" \
			"$tmp/mnt" 2>"$tmp/fuse.err" &
		fuse_pid=$!
		for _ in $(seq 100); do
			[ -S "$tmp/ctl" ] && [ -e "$tmp/mnt/target" ] && break
			sleep 0.05
		done
		"$prog" "${args[@]}" -f "$tmp/mnt/target" | row fuse "$d"
		kill "$fuse_pid"
		wait "$fuse_pid" 2>/dev/null || true
		fuse_pid=
	done
else
	echo "(no FUSE row: build/swapemu-fuse or /dev/fuse missing)" >&2
fi
