#!/bin/bash
# store-bench.sh - the file store's I/O paths against each other through
# the NBD plugin: SWAPEMU_STORE_IO=uring (io_uring, O_DIRECT) against pread
# (pread/pwrite, O_DIRECT) and against buffered (pread/pwrite through the
# page cache), `store = file` on a file in DIR, crc32c, no delays, under
# build/bench/nbd-bench (4 KiB random writes and reads, alternating between
# the two servers in short slices). A benchmark, not a test.
#
# usage: bench/store-bench.sh [--dir DIR] [--size SIZE] [--seconds S]
#                             [--reps N] [--depths "1 8 32"]
#                             [--against "pread buffered"]
#
# DIR (default /var/tmp) must be on the file system to measure: on tmpfs
# O_DIRECT goes through the page cache anyway. Prints one line per
# comparison, workload and depth: median IOPS of each path over the
# repetitions (default 3, 2 s each) and the median per-repetition ratio
# uring/other.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dir=/var/tmp size=128M seconds=2 reps=3 depths="1 8 32" against="pread buffered"
while [ $# -gt 0 ]; do
	case $1 in
	--dir) dir=$2 ;;
	--size) size=$2 ;;
	--seconds) seconds=$2 ;;
	--reps) reps=$2 ;;
	--depths) depths=$2 ;;
	--against) against=$2 ;;
	-h | --help)
		sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "store-bench: unknown option '$1' (see --help)" >&2
		exit 2
		;;
	esac
	[ $# -ge 2 ] || {
		echo "store-bench: $1 needs a value" >&2
		exit 2
	}
	shift 2
done
command -v nbdkit >/dev/null || {
	echo "store-bench: nbdkit not found (apt-get install nbdkit)" >&2
	exit 1
}
plugin=$top/build/nbdkit-swapemu-plugin.so
bench=$top/build/bench/nbd-bench
[ -e "$plugin" ] && [ -x "$bench" ] || make -s -C "$top" bench-progs >&2

work=$(mktemp -d "$dir/swapemu-store-bench.XXXXXX")
tmp=$(mktemp -d /tmp/swapemu-store-bench.XXXXXX)
trap 'rm -rf "$work" "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

server() { # IO FILE -> the server command's words
	echo env SWAPEMU_STORE_IO="$1" nbdkit -s --exit-with-parent \
		--threads 64 "$plugin" size="$size" device.store=file \
		device.path="$2" device.checksum=crc32c delay.capture=0 \
		delay.completion=0 stable-writes.require=no
}

echo "store-bench $(date -u '+%F %H:%M') UTC: $dir ($(df --output=fstype "$dir" | tail -1)), $size," \
	"$reps x ${seconds}s, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %-10s %5s %11s %11s %7s\n' other workload depth "uring IOPS" \
	"other IOPS" ratio
for other in $against; do
	for qd in $depths; do
		: >"$tmp/all"
		for rep in $(seq "$reps"); do
			# Fresh files each repetition: the first server fills
			# its file, so both start from fully written files.
			rm -f "$work"/*.img
			# shellcheck disable=SC2046
			"$bench" -b 4096 -q "$qd" -t "$seconds" -s 0.25 \
				-w rand-write,rand-read -- \
				$(server uring "$work/u.img") :: \
				$(server "$other" "$work/o.img") |
				awk -v r="$rep" '{ print r, $2, $1, $5 }' >>"$tmp/all"
		done
		awk -v other="$other" -v qd="$qd" '
		function median(list,    a, n, i, j, t) {
			n = split(list, a, " ")
			for (i = 2; i <= n; i++)
				for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) {
					t = a[j]; a[j] = a[j-1]; a[j-1] = t
				}
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		{ v[$1, $2, $3] = $4; ws[$3] = 1; reps[$1] = 1 }
		END {
			for (w in ws) {
				u = o = ra = ""
				for (r in reps) {
					u = u " " v[r, 0, w]; o = o " " v[r, 1, w]
					if (v[r, 1, w] > 0) ra = ra " " v[r, 0, w] / v[r, 1, w]
				}
				printf "%-9s %-10s %5d %11.0f %11.0f %7.2f\n", other, w,
				    qd, median(u), median(o), median(ra)
			}
		}' "$tmp/all"
	done
done
