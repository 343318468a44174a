#!/bin/bash
# store-fuse-bench.sh - the file store's I/O paths through swapemu-fuse:
# three daemons with `store = file` on files in DIR, one per path
# (SWAPEMU_STORE_IO=uring, pread, buffered), crc32c, no delays, each through
# `losetup --direct-io=on`, under fio (bench/fio/randread.fio and
# randwrite.fio) at several queue depths. A benchmark, not a test.
#
# usage: bench/store-fuse-bench.sh [--dir DIR] [--size MIB] [--reps N]
#                                  [--runtime S] [--depths "1 8 32"]
#
# Each repetition runs every workload on every daemon in an order rotated
# per repetition. Prints median IOPS per path and the median per-repetition
# ratios uring/pread and uring/buffered (default 3 repetitions of 3 s,
# 128 MiB stores in /var/tmp).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dir=/var/tmp size=128 reps=3 runtime=3 depths="1 8 32"
while [ $# -gt 0 ]; do
	case $1 in
	--dir) dir=$2 ;;
	--size) size=$2 ;;
	--reps) reps=$2 ;;
	--runtime) runtime=$2 ;;
	--depths) depths=$2 ;;
	-h | --help)
		sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "store-fuse-bench: unknown option '$1' (see --help)" >&2
		exit 2
		;;
	esac
	[ $# -ge 2 ] || {
		echo "store-fuse-bench: $1 needs a value" >&2
		exit 2
	}
	shift 2
done
[ "$(id -u)" = 0 ] || {
	echo "store-fuse-bench: needs root (FUSE mounts, loop devices)" >&2
	exit 1
}
command -v fio >/dev/null || {
	echo "store-fuse-bench: fio not found (apt-get install fio)" >&2
	exit 1
}
build=${BUILD:-$top/build}
[ -x "$build/swapemu-fuse" ] || make -C "$top" -s all >/dev/null

work=$(mktemp -d /tmp/swapemu-store-fuse-bench.XXXXXX)
stores=$(mktemp -d "$dir/swapemu-store-fuse-bench.XXXXXX")
pids=() loops=() mounts=()
cleanup() {
	local l m p
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
	for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	rm -rf "$work" "$stores"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

paths=(uring pread buffered)
declare -A dev
for t in "${paths[@]}"; do
	mkdir -p "$work/$t"
	SWAPEMU_STORE_IO=$t "$build/swapemu-fuse" -f -p "$top/configs/unstable.conf" \
		--set device.size="${size}M" --set device.checksum=crc32c \
		--set device.store=file --set device.path="$stores/$t.img" \
		--set delay.capture=0 --set delay.completion=0 \
		-n disk "$work/$t" &
	pids+=($!) mounts+=("$work/$t")
done
for t in "${paths[@]}"; do
	for _ in $(seq 100); do [ -e "$work/$t/disk" ] && break; sleep 0.05; done
	l=$(losetup -f --show --direct-io=on "$work/$t/disk")
	loops+=("$l") dev[$t]=$l
	dd if=/dev/urandom of="$l" bs=1M count="$size" oflag=direct status=none
done

# fio's terse output: read IOPS in field 8, write IOPS in field 49.
run_fio() { # JOB QD DEV -> IOPS
	DEV=$3 QD=$2 RUNTIME=$runtime fio --minimal "$top/bench/fio/$1.fio" |
		awk -F';' -v j="$1" '{ print (j == "randread") ? $8 : $49 }'
}

samples=$work/samples
: >"$samples"
for ((r = 0; r < reps; r++)); do
	for job in randwrite randread; do
		for qd in $depths; do
			for ((i = 0; i < 3; i++)); do
				t=${paths[(i + r) % 3]}
				echo "$r $job-qd$qd $t $(run_fio $job "$qd" "${dev[$t]}")" >>"$samples"
			done
		done
	done
done

echo "store-fuse-bench $(date -u '+%F %H:%M') UTC: $dir ($(df --output=fstype "$dir" | tail -1)), ${size} MiB," \
	"$reps x ${runtime}s, load $(cut -d' ' -f1-3 /proc/loadavg)"
awk '
function median(list,    a, n, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ v[$1, $2, $3] = $4; if (!($2 in seen)) { seen[$2] = 1; order[no++] = $2 }; reps[$1] = 1 }
END {
	printf "%-14s %11s %11s %11s %12s %15s\n", "workload", "uring IOPS", "pread IOPS", "buffered", "uring/pread", "uring/buffered"
	for (k = 0; k < no; k++) {
		w = order[k]; u = p = b = rp = rb = ""
		for (r in reps) {
			u = u " " v[r, w, "uring"]; p = p " " v[r, w, "pread"]; b = b " " v[r, w, "buffered"]
			if (v[r, w, "pread"] > 0) rp = rp " " v[r, w, "uring"] / v[r, w, "pread"]
			if (v[r, w, "buffered"] > 0) rb = rb " " v[r, w, "uring"] / v[r, w, "buffered"]
		}
		printf "%-14s %11.0f %11.0f %11.0f %12.2f %15.2f\n", w, median(u), median(p), median(b), median(rp), median(rb)
	}
}' "$samples"
