#!/bin/bash
# fuse-bench.sh - swapemu-fuse against a minimal in-memory libfuse3 server
# (bench/fuse-ref.c, max_background 128) and a loop device over a tmpfs
# file, all through `losetup --direct-io=on`, under fio (bench/fio/*.fio):
# 4k random reads and writes at queue depths 1, 8, 32, 128 and 128k
# sequential writes at depth 8. swapemu-fuse runs over /dev/fuse with
# crc32c ("fuse") and without a checksum ("nocsum"), and with crc32c over
# FUSE over io_uring ("uring", --transport=uring: where the kernel has it;
# the kernel's enable_uring is as it was afterwards), no delays. A
# benchmark, not a test: it never fails on a figure.
#
# usage: bench/fuse-bench.sh [--reps N] [--runtime S] [--size MIB]
#                            [--threads N] [--only REGEX] [--raw]
#
# Each repetition runs every workload once on every target, the targets'
# order rotated from one repetition to the next, so that noise from the
# rest of the machine hits all alike. Ratios are taken per repetition and
# shown as median [min..max] over the repetitions (default 5, 3 s each);
# --threads sets swapemu-fuse's capture threads (default: its default);
# --only runs the workloads whose name matches; --raw prints every sample.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
reps=5 runtime=3 size=256 threads= only=. raw=
while [ $# -gt 0 ]; do
	case $1 in
	--reps) reps=$2 ;;
	--runtime) runtime=$2 ;;
	--size) size=$2 ;;
	--threads) threads=$2 ;;
	--only) only=$2 ;;
	--raw)
		raw=1
		shift
		continue
		;;
	-h | --help)
		sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "fuse-bench: unknown option '$1' (see --help)" >&2
		exit 2
		;;
	esac
	[ $# -ge 2 ] || {
		echo "fuse-bench: $1 needs a value" >&2
		exit 2
	}
	shift 2
done
[ "$(id -u)" = 0 ] || {
	echo "fuse-bench: needs root (FUSE mounts, loop devices)" >&2
	exit 1
}
command -v fio >/dev/null || {
	echo "fuse-bench: fio not found (apt-get install fio)" >&2
	exit 1
}
build=${BUILD:-$top/build}
[ -x "$build/swapemu-fuse" ] && [ -x "$build/bench/fuse-ref" ] ||
	make -C "$top" -s bench-progs >/dev/null

work=$(mktemp -d /tmp/swapemu-fuse-bench.XXXXXX)
pids=() loops=() mounts=()
. "$top/bench/lib.sh"
cleanup() {
	local l m p
	uring_restore
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
	for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_file() {
	for _ in $(seq 100); do [ -e "$1" ] && return 0; sleep 0.05; done
	echo "fuse-bench: $1 did not appear" >&2
	return 1
}

# attach NAME FILE: a direct-I/O loop device over FILE, filled once so that
# reads read stored data everywhere.
declare -A dev
attach() {
	local l
	l=$(losetup -f --show --direct-io=on "$2")
	loops+=("$l")
	dev[$1]=$l
	dd if=/dev/urandom of="$l" bs=1M count="$size" oflag=direct status=none
}

targets=(ref fuse nocsum tmpfs)
uring_usable && targets+=(uring) ||
	echo "fuse-bench: no FUSE over io_uring here: no uring target" >&2
for t in "${targets[@]}"; do mkdir -p "$work/$t"; done
"$build/bench/fuse-ref" -f "$size" "$work/ref" &
pids+=($!) mounts+=("$work/ref")
for t in fuse nocsum uring; do
	[[ " ${targets[*]} " == *" $t "* ]] || continue
	csum=crc32c transport=dev
	[ $t = nocsum ] && csum=none
	[ $t = uring ] && transport=uring
	"$build/swapemu-fuse" -f -p "$top/configs/unstable.conf" \
		--transport=$transport \
		--set device.size="${size}M" --set device.checksum=$csum \
		--set delay.capture=0 --set delay.completion=0 \
		${threads:+--capture-threads "$threads"} -n disk "$work/$t" &
	pids+=($!) mounts+=("$work/$t")
done
mount -t tmpfs -o size=$((size + 16))M swapemu-bench "$work/tmpfs"
mounts+=("$work/tmpfs")
truncate -s "${size}M" "$work/tmpfs/disk"
for t in "${targets[@]}"; do
	wait_file "$work/$t/disk"
	attach $t "$work/$t/disk"
done
workloads=(randread:1 randread:8 randread:32 randread:128
	randwrite:1 randwrite:8 randwrite:32 randwrite:128 seqwrite:8)

# fio's terse output: read IOPS in field 8, write IOPS in field 49.
run_fio() { # JOB QD DEV -> IOPS
	DEV=$3 QD=$2 RUNTIME=$runtime fio --minimal "$top/bench/fio/$1.fio" |
		awk -F';' -v j="$1" '{ print (j == "randread") ? $8 : $49 }'
}

samples=$work/samples
: >"$samples"
for ((r = 0; r < reps; r++)); do
	for w in "${workloads[@]}"; do
		name=${w%%:*}-qd${w##*:}
		[[ $name =~ $only ]] || continue
		for ((i = 0; i < ${#targets[@]}; i++)); do
			t=${targets[(i + r) % ${#targets[@]}]}
			iops=$(run_fio "${w%%:*}" "${w##*:}" "${dev[$t]}")
			echo "$r $name $t $iops" >>"$samples"
			[ -z "$raw" ] || echo "rep $r $name $t $iops IOPS"
		done
	done
done

# Per repetition ratios fuse/ref, nocsum/ref, fuse/tmpfs, uring/ref,
# uring/fuse; median [min..max].
echo "fuse-bench $(date -u '+%F %H:%M') UTC, $reps x ${runtime}s, ${size} MiB," \
	"capture threads ${threads:-default}, load $(cut -d' ' -f1-3 /proc/loadavg)"
awk '
function sort(a, n,   i, j, t) {
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
}
function stat(key,   n, i, a, m) {
	n = cnt[key]; if (!n) return "-"
	for (i = 0; i < n; i++) a[i] = v[key, i]
	sort(a, n)
	m = (n % 2) ? a[int(n/2)] : (a[n/2-1] + a[n/2]) / 2
	return sprintf("%.2f [%.2f..%.2f]", m, a[0], a[n-1])
}
function add(key, x) { v[key, cnt[key]++] = x }
{ s[$1, $2, $3] = $4; if (!($2 in seen)) { seen[$2] = 1; order[no++] = $2 }; if ($1 + 1 > reps) reps = $1 + 1 }
END {
	printf "%-15s %10s  %-20s %-20s %-20s %-20s %-20s\n", "workload", "ref IOPS", "fuse/ref", "nocsum/ref", "fuse/tmpfs-loop", "uring/ref", "uring/fuse"
	for (k = 0; k < no; k++) {
		w = order[k]
		for (r = 0; r < reps; r++) {
			ref = s[r, w, "ref"]; add(w "ref", ref)
			if (ref > 0) { add(w "f", s[r, w, "fuse"] / ref); add(w "n", s[r, w, "nocsum"] / ref) }
			if (s[r, w, "tmpfs"] > 0) add(w "t", s[r, w, "fuse"] / s[r, w, "tmpfs"])
			if (ref > 0 && ((r, w, "uring") in s)) add(w "u", s[r, w, "uring"] / ref)
			if (s[r, w, "fuse"] > 0 && ((r, w, "uring") in s)) add(w "uf", s[r, w, "uring"] / s[r, w, "fuse"])
		}
		split(stat(w "ref"), refm, " ")
		printf "%-15s %10d  %-20s %-20s %-20s %-20s %-20s\n", w, refm[1], stat(w "f"), stat(w "n"), stat(w "t"), stat(w "u"), stat(w "uf")
	}
}' "$samples"
