#!/bin/bash
# swapemu compare on the host: a small matrix (unstable.conf over FUSE, the
# two loop-over-tmpfs baselines, one short run each) writes a results.json
# that matches tools/compare-schema.json, a results.md and valid SVG/PNG
# plots; the baselines show the kernel's own behaviour (stable_writes 1:
# every page faulted under writeback copied; 0: none); --from redraws,
# --baseline sets two runs side by side; every cell has the workload's
# swap-in p50/p99, drawn as plots too; bad input gets a one-line error;
# Ctrl-C still writes what was measured; nothing is left behind.
. "$(dirname "$0")/lib.sh"
require_swap_env_unlocked # compare takes the host swap lock per run
command -v gnuplot >/dev/null || skip_all "no gnuplot (apt-get install gnuplot-nox)"
plan 19

OUT=$(mktemp -d /tmp/swapemu-compare-test.XXXXXX)
trap 'cleanup; rm -rf "$OUT"' EXIT
PY=/usr/bin/python3 # what Debian gives (DEPS), not whatever python3 is first in PATH
VALIDATE=$TOP/tools/compare-validate
SCHEMA=$TOP/tools/compare-schema.json
# Loop devices (and so swap areas) and mounts under $OUT: everything compare
# makes lives there (targets in OUT/*/run, baselines' tmpfs in OUT/*/run-base).
leftovers() { echo "$(losetup -a | grep -c "$OUT") loops, $(grep -c "$OUT" /proc/mounts) mounts"; }
jq_py() { "$PY" -c "import json,sys; d=json.load(open('$1')); print($2)"; }
before="0 loops, 0 mounts"

"$SWAPEMU" compare --profile "$TOP/configs/unstable.conf" --front-end fuse --repeat 1 \
	--pages 256 --swapouts 2000 --seconds 20 --out "$OUT/a" >"$OUT/a.log" 2>&1
ok $? "compare ran a 3-cell host matrix"
diag "$(cat "$OUT/a.log")"
R=$OUT/a/results.json
check "results.json matches the schema" "$VALIDATE" "$SCHEMA" "$R"
"$PY" -c "import json; d=json.load(open('$R')); d['cells'][0]['figures']['torn']={'median':1}; del d['machine']; json.dump(d,open('$OUT/bad.json','w'))"
"$VALIDATE" "$SCHEMA" "$OUT/bad.json" >"$OUT/bad.log"
check "a damaged results.json fails the schema check" test $? = 1 -a "$(wc -l <"$OUT/bad.log")" = 2
check "3 cells, all ok" test "$(jq_py "$R" "' '.join(c['status'] for c in d['cells'])")" = "ok ok ok"
check "the FUSE cell classified captures" test "$(jq_py "$R" "d['cells'][0]['figures']['clean'] is not None and d['cells'][0]['figures']['swapouts']['median'] >= 256")" = True
sw1=$(jq_py "$R" "[(c['runs'][0]['torture']['under_writeback'], c['runs'][0]['torture']['copied_under_writeback']) for c in d['cells'] if c['label']=='loop-tmpfs-sw1'][0]")
sw0=$(jq_py "$R" "[(c['runs'][0]['torture']['under_writeback'], c['runs'][0]['torture']['copied']) for c in d['cells'] if c['label']=='loop-tmpfs-sw0'][0]")
diag "baseline stable_writes=1 (under writeback, copied): $sw1; stable_writes=0 (under writeback, copied): $sw0"
check "loop over tmpfs, stable_writes 1: every page faulted under writeback was copied" \
	"$PY" -c "u,c=$sw1; exit(not (u > 0 and c == u))"
check "loop over tmpfs, stable_writes 0: pages faulted under writeback, none copied" "$PY" -c "u,c=$sw0; exit(not (u > 0 and c == 0))"
check "baselines have no device figures (null), and the table says n/a" \
	test "$(jq_py "$R" "[c['figures']['torn'] for c in d['cells'] if c['backend']['kind']=='baseline']")" = "[None, None]" \
	-a "$(grep -c '^| loop-tmpfs-sw[01] .*| n/a |' "$OUT/a/results.md")" = 2
check "every cell has the workload's swap-in p50 <= p99, and the table shows them" \
	test "$(jq_py "$R" "all(0 < c['figures']['swapin_p50_us']['median'] <= c['figures']['swapin_p99_us']['median'] for c in d['cells'])")" = True \
	-a "$(grep -Ec '^\| (unstable/fuse|loop-tmpfs-sw[01]) \| [01] \| [0-9.]+ \| [0-9]+/[0-9]+ \|' "$OUT/a/results.md")" = 3
svg_ok() { "$PY" -c "import sys,xml.etree.ElementTree as E; r=E.parse(sys.argv[1]).getroot(); exit(r.tag != '{http://www.w3.org/2000/svg}svg')" "$1"; }
png_ok() { "$PY" -c "import sys,struct; b=open(sys.argv[1],'rb').read(); w,h=struct.unpack('>II',b[16:24]); exit(not (b[:8]==b'\x89PNG\r\n\x1a\n' and b[12:16]==b'IHDR' and w>0 and h>0 and b[-8:-4]==b'IEND'))" "$1"; }
bad=""
for p in throughput swapin-latency swapin-latency-p99 device-write-latency copy-fraction; do
	for f in "$OUT/a/$p.svg" "$OUT/a/$p.png"; do
		case $f in *.svg) svg_ok "$f" ;; *) png_ok "$f" ;; esac 2>/dev/null || bad="$bad $(basename "$f")"
	done
done
check "every plot is a valid SVG and PNG${bad:+ (bad:$bad)}" test -z "$bad"
printf 'not a png' >"$OUT/fake.png"; echo '<svg' >"$OUT/fake.svg"
! png_ok "$OUT/fake.png" 2>/dev/null && ! svg_ok "$OUT/fake.svg" 2>/dev/null && png_ok "$OUT/a/throughput.png"
ok $? "the plot checks reject a damaged PNG and SVG"
check "no swap, loop device or mount left behind ($(leftovers) vs $before)" test "$(leftovers)" = "$before"

cp "$OUT/a/results.md" "$OUT/a.md"
rm -f "$OUT"/a/*.svg "$OUT"/a/*.png "$OUT/a/results.md"
"$SWAPEMU" compare --from "$OUT/a" >"$OUT/from.log" 2>&1
check "--from redraws the same table and the plots" \
	bash -c "cmp -s '$OUT/a.md' '$OUT/a/results.md' && test -s '$OUT/a/copy-fraction.png' -a -s '$OUT/a/throughput.svg'"
mkdir "$OUT/b" && cp "$R" "$OUT/b/"
"$SWAPEMU" compare --from "$OUT/b" --baseline "$OUT/a" >/dev/null 2>&1
check "--baseline puts two runs side by side" grep -q '^| host / host | unstable/fuse | ' "$OUT/b/results.md"

err=$("$SWAPEMU" compare --sweep nokey 2>&1); rc=$?
check "a bad --sweep is a one-line usage error ($err)" test $rc = 2 -a "$(wc -l <<<"$err")" = 1
err=$("$SWAPEMU" compare --out "$OUT/a" 2>&1); rc=$?
check "an existing results.json is never overwritten ($err)" test $rc = 2 -a -s "$R"

# Ctrl-C in the middle: what was measured is written, nothing is left behind.
"$SWAPEMU" compare --profile "$TOP/configs/stable.conf" --front-end fuse --repeat 3 --no-baselines \
	--pages 256 --swapouts 100000 --seconds 30 --out "$OUT/int" >"$OUT/int.log" 2>&1 &
pid=$!
# Once the target is attached (or after 60 s waiting for the host swap lock),
# let the workload run a little, then interrupt.
for _ in $(seq 600); do [ -d "$OUT/int/run/cmp0" ] && break; sleep 0.1; done
sleep 3
kill -INT $pid; wait $pid; rc=$?
diag "$(tail -3 "$OUT/int.log")"
check "Ctrl-C: exit 130 and results.json written, marked incomplete" \
	bash -c "test $rc = 130 && '$VALIDATE' '$SCHEMA' '$OUT/int/results.json' && grep -q '\"complete\": false' '$OUT/int/results.json'"
check "Ctrl-C: the interrupted run is recorded" test "$(jq_py "$OUT/int/results.json" "d['cells'][0]['status']")" = interrupted
check "Ctrl-C: no swap, loop device or mount left behind" test "$(leftovers)" = "$before"
done_testing
