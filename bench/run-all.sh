#!/bin/bash
# run-all.sh - `make bench`: every benchmark in bench/, one after the
# other, each printing its own table, then one summary of the ratios
# (median [min..max] over repetitions where the benchmark gives them).
# Benchmarks, not tests: a figure never makes this fail; a benchmark that
# cannot run is reported and skipped.
#
# usage: bench/run-all.sh [--quick]   (--quick: fewer, shorter repetitions)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
fuse_args=() nbd_args=() inflight_args=()
case ${1:-} in
--quick)
	fuse_args=(--reps 3 --runtime 2) nbd_args=(--reps 3 --seconds 2)
	inflight_args=(--seconds 5)
	;;
-h | --help)
	sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
"") ;;
*)
	echo "run-all: unknown option '$1' (see --help)" >&2
	exit 2
	;;
esac
[ -x "$build/bench/model-bench" ] || make -C "$top" -s bench-progs >/dev/null
out=$(mktemp -d /tmp/swapemu-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT

section() { printf '\n== %s ==\n' "$1"; }
section "FUSE: swapemu-fuse vs a minimal libfuse3 server and loop over tmpfs"
"$top/bench/fuse-bench.sh" "${fuse_args[@]}" 2>&1 | grep -v PR_SET_IO_FLUSHER | tee "$out/fuse" ||
	echo "(fuse-bench could not run)"
section "NBD: the swapemu plugin vs nbdkit memory"
"$top/bench/nbd-bench.sh" "${nbd_args[@]}" 2>&1 | tee "$out/nbd" || echo "(nbd-bench could not run)"
section "Swap: swap-out and swap-in through the FUSE target and loop over tmpfs"
"$top/bench/swap-bench.sh" 2>&1 | tee "$out/swap" || echo "(swap-bench could not run)"
section "Device model per page"
"$build/bench/model-bench" 2>&1 | tee "$out/model" || echo "(model-bench could not run)"
section "CRC32C per 4 KiB page, every implementation"
"$build/bench/crc32c-bench" 2>&1 | tee "$out/crc" || echo "(crc32c-bench could not run)"
section "Completion delays in flight"
"$top/bench/inflight-bench.sh" 2>&1 | tee "$out/inflight" || echo "(inflight-bench could not run)"
section "10,000 writes in flight over NBD"
"$top/bench/inflight-nbd.sh" "${inflight_args[@]}" 2>&1 | tee "$out/inflight-nbd" ||
	echo "(inflight-nbd could not run)"
section "Capture timing (stamped pages rewritten during capture)"
"$top/bench/capture-timing.sh" 2>&1 | grep -v PR_SET_IO_FLUSHER || echo "(capture-timing could not run)"

section "Summary (ratios: median [min..max] over repetitions)"
awk '/^(rand|seq)[a-z]*-qd/ { printf "%-28s %s %s\n", "fuse/ref " $1, $3, $4 }' "$out/fuse"
awk '/^(rand|seq)[a-z]*-qd/ { printf "%-28s %s %s\n", "fuse/tmpfs-loop " $1, $7, $8 }' "$out/fuse"
awk '/^(seq|rand)-(read|write) / { printf "%-28s %s (median)\n", "nbd plugin/memory " $1, $6 }' "$out/nbd"
awk '/^swap-(out|in) / { printf "%-28s %s %s\n", "swap fuse/tmpfs-loop " $1, $6, $7 }' "$out/swap"
awk '$1 == "crc32c" { printf "%-28s %s ns\n", "crc32c+classify " $2, $4 }' "$out/model"
awk '$2 == 16384 { printf "%-28s %s ns (median)\n", "crc32c " $1, $4 }' "$out/crc"
sed -n 's/.* = \([0-9.]*\) of \(.*\); write latency p99 \([0-9]*\) us.*/in-flight IOPS \/ \2  \1 (p99 \3 us)/p' "$out/inflight"
awk '$1 == "swapemu-plugin" { printf "10,000 in flight (NBD): IOPS %d of %d, timing error p99 %.0f us\n", $2, $3, $5 }' "$out/inflight-nbd"
exit 0
