#!/bin/bash
# swap-bench.sh - swap-out and swap-in MB/s through a swapemu-fuse target
# (crc32c, no delays, direct-I/O loop) against a loop device over a tmpfs
# file, by real reclaim in a memory cgroup (see swap-bench.c): MIB (default
# 512) filled, pushed out by lowering the cgroup's limit, faulted back in.
# Where the kernel has FUSE over io_uring, swapemu-fuse also runs with
# --transport=uring ("uring"; the kernel's enable_uring is as it was
# afterwards). Repetitions alternate the targets (rotated order); ratios
# fuse/tmpfs (and uring/tmpfs, uring/fuse) per repetition, median
# [min..max]. Holds the machine's swap lock
# (/tmp/swapemu-host.lock) while swap is on. A benchmark, not a test.
#
# usage: bench/swap-bench.sh [--reps N] [--mib MIB]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
reps=3 mib=512
while [ $# -gt 0 ]; do
	case $1 in
	--reps) reps=$2 ;;
	--mib) mib=$2 ;;
	-h | --help)
		sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "swap-bench: unknown option '$1' (see --help)" >&2
		exit 2
		;;
	esac
	[ $# -ge 2 ] || {
		echo "swap-bench: $1 needs a value" >&2
		exit 2
	}
	shift 2
done
[ "$(id -u)" = 0 ] || {
	echo "swap-bench: needs root (swap, loop, cgroups)" >&2
	exit 1
}
build=${BUILD:-$top/build}
[ -x "$build/swapemu-fuse" ] && [ -x "$build/bench/swap-bench" ] ||
	make -C "$top" -s bench-progs >/dev/null
memcg=
for m in /sys/fs/cgroup/memory /sys/fs/cgroup; do
	if [ -e "$m/memory.limit_in_bytes" ] || grep -qw memory "$m/cgroup.controllers" 2>/dev/null; then
		memcg=$m
		break
	fi
done
[ -n "$memcg" ] || {
	echo "swap-bench: no memory cgroup controller found" >&2
	exit 1
}
if [ -z "${SWAPEMU_SWAP_LOCKED:-}" ]; then
	SWAPEMU_SWAP_LOCKED=1 exec flock /tmp/swapemu-host.lock "$0" --reps "$reps" --mib "$mib"
fi

size=$((mib + 128))
work=$(mktemp -d /tmp/swapemu-swap-bench.XXXXXX)
pid= loop= cg=$memcg/swapemu-swap-bench.$$
. "$top/bench/lib.sh"
cleanup() {
	uring_restore
	[ -z "$loop" ] || swapoff "$loop" 2>/dev/null || true
	[ -z "$loop" ] || losetup -d "$loop" 2>/dev/null || true
	[ -z "$pid" ] || kill "$pid" 2>/dev/null || true
	for m in "$work/mnt" "$work/tmpfs"; do
		for _ in $(seq 50); do grep -q " $m " /proc/mounts || break; sleep 0.1; done
		grep -q " $m " /proc/mounts && umount -l "$m"
	done
	rmdir "$cg" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir "$work/mnt" "$work/tmpfs" "$cg"

swap_on() { # TARGET
	if [ "$1" != tmpfs ]; then
		"$build/swapemu-fuse" --transport="$([ "$1" = uring ] && echo uring || echo dev)" \
			--set device.size=${size}M --set delay.capture=0 \
			--set delay.completion=0 -n disk -P "$work/pid" "$work/mnt" 2>/dev/null
		pid=$(cat "$work/pid")
		loop=$(losetup -f --show --direct-io=on "$work/mnt/disk")
	else
		mount -t tmpfs -o size=$((size + 16))M swapemu-swap-bench "$work/tmpfs"
		truncate -s ${size}M "$work/tmpfs/disk"
		loop=$(losetup -f --show --direct-io=on "$work/tmpfs/disk")
	fi
	echo 0 >"/sys/block/${loop#/dev/}/queue/stable_writes"
	mkswap "$loop" >/dev/null
	swapon -p 32767 "$loop"
}
swap_off() {
	swapoff "$loop"
	losetup -d "$loop"
	loop=
	if [ -n "$pid" ]; then
		kill "$pid"
		for _ in $(seq 50); do grep -q " $work/mnt " /proc/mounts || break; sleep 0.1; done
		pid=
	else
		umount "$work/tmpfs"
	fi
}

targets=(fuse tmpfs)
! uring_usable || targets+=(uring)
n=${#targets[@]}
samples=$work/samples
for ((r = 0; r < reps; r++)); do
	for ((i = 0; i < n; i++)); do
		t=${targets[(i + r) % n]}
		swap_on "$t"
		echo "$r $t $("$build/bench/swap-bench" "$cg" "$mib")" >>"$samples"
		swap_off
	done
done
echo "swap-bench $(date -u '+%F %H:%M') UTC, $reps reps, $mib MiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
awk '
function stat(key,   n, i, j, a, t, m) {
	n = cnt[key]; for (i = 0; i < n; i++) a[i] = v[key, i]
	for (i = 1; i < n; i++) for (j = i; j > 0 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	m = (n % 2) ? a[int(n/2)] : (a[n/2-1] + a[n/2]) / 2
	return sprintf("%.2f [%.2f..%.2f]", m, a[0], a[n-1])
}
{ o[$1, $2] = $3; n_[$1, $2] = $4; if ($1 + 1 > reps) reps = $1 + 1 }
END {
	for (r = 0; r < reps; r++) {
		v["out", cnt["out"]++] = o[r, "fuse"] / o[r, "tmpfs"]
		v["in", cnt["in"]++] = n_[r, "fuse"] / n_[r, "tmpfs"]
		v["fo", cnt["fo"]++] = o[r, "fuse"]; v["fi", cnt["fi"]++] = n_[r, "fuse"]
		v["to", cnt["to"]++] = o[r, "tmpfs"]; v["ti", cnt["ti"]++] = n_[r, "tmpfs"]
		if ((r, "uring") in o) {
			v["uo", cnt["uo"]++] = o[r, "uring"]; v["ui", cnt["ui"]++] = n_[r, "uring"]
			v["uot", cnt["uot"]++] = o[r, "uring"] / o[r, "tmpfs"]; v["uit", cnt["uit"]++] = n_[r, "uring"] / n_[r, "tmpfs"]
			v["uof", cnt["uof"]++] = o[r, "uring"] / o[r, "fuse"]; v["uif", cnt["uif"]++] = n_[r, "uring"] / n_[r, "fuse"]
		}
	}
	printf "%-9s %-22s %-22s %-20s\n", "", "fuse MB/s", "tmpfs-loop MB/s", "fuse/tmpfs-loop"
	printf "%-9s %-22s %-22s %-20s\n", "swap-out", stat("fo"), stat("to"), stat("out")
	printf "%-9s %-22s %-22s %-20s\n", "swap-in", stat("fi"), stat("ti"), stat("in")
	if (cnt["uo"]) {
		printf "%-9s %-22s %-22s %-20s\n", "", "uring MB/s", "uring/tmpfs-loop", "uring/fuse"
		printf "%-9s %-22s %-22s %-20s\n", "swap-out", stat("uo"), stat("uot"), stat("uof")
		printf "%-9s %-22s %-22s %-20s\n", "swap-in", stat("ui"), stat("uit"), stat("uif")
	}
}' "$samples"
