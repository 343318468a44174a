#!/bin/bash
# nbd-bench.sh - how much the swapemu device model costs over NBD: the
# swapemu plugin (crc32c checksums, no delays) against nbdkit's memory
# plugin of the same size, under the same libnbd client and load, in one
# run. A benchmark, not a test.
#
# usage: bench/nbd-bench.sh [--size SIZE] [--seconds S] [--depth N]
#                           [--reps N] [--threads N] [--bs BYTES]
#                           [--slice S] [--raw]
#
# Each repetition starts both servers (nbdkit -s, one client process,
# libnbd), fills each once, then runs sequential and random writes and
# reads of BS bytes (default 4096) with N requests in flight (default 8),
# alternating between the servers in slices of 0.25 s until each has had
# S seconds (default 3) per workload: noise from the rest of the machine
# hits both alike. The table shows medians over the repetitions (default
# 5), the ratio plugin/memory, and each server's CPU time per request
# (from /proc/PID/task/*/schedstat); --raw also prints every sample.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
size=256M seconds=3 depth=8 reps=5 threads=16 bs=4096 slice=0.25 raw=
while [ $# -gt 0 ]; do
	case $1 in
	--size) size=$2 ;;
	--seconds) seconds=$2 ;;
	--depth) depth=$2 ;;
	--reps) reps=$2 ;;
	--threads) threads=$2 ;;
	--bs) bs=$2 ;;
	--slice) slice=$2 ;;
	--raw)
		raw=1
		shift
		continue
		;;
	-h | --help)
		sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "nbd-bench: unknown option '$1' (see --help)" >&2
		exit 2
		;;
	esac
	[ $# -ge 2 ] || {
		echo "nbd-bench: $1 needs a value" >&2
		exit 2
	}
	shift 2
done

command -v nbdkit >/dev/null || {
	echo "nbd-bench: nbdkit not found (apt-get install nbdkit)" >&2
	exit 1
}
plugin=$top/build/nbdkit-swapemu-plugin.so
bench=$top/build/bench/nbd-bench
# Build what is missing or stale: the plugin through the Makefile (only
# then: its "deps" step may run apt-get), the load generator here (the
# Makefile does not build bench/).
stale=
for src in "$top"/nbdplugin/*.c "$top"/lib/*.[ch]; do
	[ "$src" -nt "$plugin" ] && stale=1
done
if [ ! -e "$plugin" ] || [ -n "$stale" ]; then
	make -s -C "$top" build/nbdkit-swapemu-plugin.so >&2
fi
make -s -C "$top" "${bench#"$top"/}" >&2 || exit 1

tmp=$(mktemp -d /tmp/swapemu-nbd-bench.XXXXXX)
child=
cleanup() {
	[ -z "$child" ] || kill "$child" 2>/dev/null || true
	[ -z "$child" ] || wait "$child" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

plugin_cmd=(nbdkit -s --exit-with-parent --threads "$threads" "$plugin"
	size="$size" device.checksum=crc32c delay.capture=0 delay.completion=0
	stable-writes.require=no)
memory_cmd=(nbdkit -s --exit-with-parent --threads "$threads" memory
	size="$size")

# run_rep REP: both servers in one client, alternating slices; which one
# goes first alternates between repetitions. Appends
# "REP SERVER WORKLOAD IOPS SERVER-CPU-US-PER-REQUEST" lines.
run_rep() {
	local rep=$1 first second
	if [ $((rep % 2)) = 1 ]; then
		first=plugin second=memory
		"$bench" -b "$bs" -q "$depth" -t "$seconds" -s "$slice" -- \
			"${plugin_cmd[@]}" :: "${memory_cmd[@]}" >"$tmp/one" &
	else
		first=memory second=plugin
		"$bench" -b "$bs" -q "$depth" -t "$seconds" -s "$slice" -- \
			"${memory_cmd[@]}" :: "${plugin_cmd[@]}" >"$tmp/one" &
	fi
	child=$!
	wait "$child"
	child=
	awk -v r="$rep" -v a="$first" -v b="$second" \
		'{ print r, ($2 == 0 ? a : b), $1, $5, $7 }' "$tmp/one" >>"$tmp/all"
}

echo "nbd-bench: $reps repetitions, size $size, ${bs}-byte requests," \
	"$depth in flight, ${seconds}s per workload and server in ${slice}s" \
	"slices, nbdkit --threads $threads, $(nproc) CPUs" >&2
for rep in $(seq "$reps"); do
	run_rep "$rep"
	echo "nbd-bench: repetition $rep of $reps done" >&2
done
[ -z "$raw" ] || sed 's/^/raw: /' "$tmp/all" >&2

# Medians over the repetitions: IOPS per server, and the ratio taken
# within each repetition (both servers saw the same moments of noise).
awk -v bs="$bs" '
function median(list,    a, n, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
	if (!(($3) in seen)) { seen[$3] = 1; order[++nw] = $3 }
	iops[$2, $3] = iops[$2, $3] " " $4
	cpu[$2, $3] = cpu[$2, $3] " " $5
	v[$1, $2, $3] = $4
	reps[$1] = 1
}
END {
	for (i = 1; i <= nw; i++) {
		w = order[i]
		for (r in reps)
			if (v[r, "memory", w] > 0)
				ratio[w] = ratio[w] " " v[r, "plugin", w] / v[r, "memory", w]
	}
	printf "%-11s %12s %8s %12s %8s %7s %11s %11s\n", "workload",
	    "plugin MiB/s", "IOPS", "memory MiB/s", "IOPS", "ratio",
	    "plugin us/r", "memory us/r"
	for (i = 1; i <= nw; i++) {
		w = order[i]
		p = median(iops["plugin", w]); m = median(iops["memory", w])
		printf "%-11s %12.1f %8.0f %12.1f %8.0f %7.3f %11.2f %11.2f\n", w,
		    p * bs / 1048576, p, m * bs / 1048576, m, median(ratio[w]),
		    median(cpu["plugin", w]), median(cpu["memory", w])
	}
	print "(medians over the repetitions; ratio = plugin/memory IOPS, the median of"
	print " the per-repetition ratios; us/r = server CPU microseconds per request)"
}' "$tmp/all"
