#!/bin/bash
# swapemu compare reads a run's report: a run whose scenario failed
# (stable-missing's violations; the workload exits 1) is a measurement, shown
# with its verdict ("fail: violations"); a run the kernel broke (kernel-bug)
# is a failed cell with the reason. 'swapemu vm' and 'swapemu torture' are
# replaced by a script that prints a report recorded from a real run
# (tests/data/vm-report-scenario-failed.json: Debian's 6.1 over FUSE with
# stable-missing.conf), so no guest boots; the host cell attaches a real
# target (root, /dev/fuse) and only the workload is replaced.
. "$(dirname "$0")/lib.sh"
plan 6

OUT=$(mktemp -d /tmp/swapemu-compare-guest.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
PY=/usr/bin/python3
cat >"$OUT/swapemu" <<EOS
#!/bin/bash
case \$1 in vm | torture) ;; *) exec "$SWAPEMU" "\$@" ;; esac
[ "\$1" = torture ] && [ "\$2" = --help ] && exec "$SWAPEMU" "\$@"
$PY - "\$1" "\$FAKE_STATUS" <<'EOP'
import json, sys
r = json.load(open("$TOP/tests/data/vm-report-scenario-failed.json"))
if sys.argv[2] != "failed":
    r.update(status=sys.argv[2], phase="run", reason="kernel BUG at mm/memory.c:3979", failed=0)
    r["torture"]["failed"] = 0
print(json.dumps(r if sys.argv[1] == "vm" else r["torture"]))
EOP
exit 1
EOS
chmod +x "$OUT/swapemu"
cell() { # DIR: status and verdict of the one cell
	"$PY" -c "import json; c=json.load(open('$1/results.json'))['cells'][0]; print(c['status'], c['runs'][0].get('verdict'), c.get('error') or '')"
}
for st in failed kernel-bug; do
	FAKE_STATUS=$st SWAPEMU_CMD=$OUT/swapemu "$SWAPEMU" compare --kernel-package linux-image-cloud-amd64 \
		--profile "$TOP/configs/stable-missing.conf" --front-end fuse --no-baselines --repeat 1 \
		--out "$OUT/$st" --quiet >"$OUT/$st.log" 2>&1
	ok $? "compare finished with a '$st' guest report"
	diag "$(cat "$OUT/$st.log")"
done
got=$(cell "$OUT/failed")
check "a failed scenario is measured, verdict 'fail: violations' ($got)" \
	grep -q '^ok fail: violations' <<<"$got"
got=$(cell "$OUT/kernel-bug")
check "a kernel bug fails the cell, with the reason ($got)" \
	grep -q '^failed .*kernel BUG at mm/memory.c:3979' <<<"$got"

# The host: compare attaches a real target and runs the (replaced) workload.
if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ] || [ ! -x "$BUILD/swapemu-fuse" ]; then
	why="the host cell needs root, /dev/fuse and swapemu-fuse"
	skip "$why" "compare finished a host cell whose workload exited 1"
	skip "$why" "on the host too: measured, verdict 'fail: violations'"
	exit 0
fi
FAKE_STATUS=failed SWAPEMU_CMD=$OUT/swapemu "$SWAPEMU" compare --host \
	--profile "$TOP/configs/stable-missing.conf" --front-end fuse --no-baselines --repeat 1 \
	--out "$OUT/host" --quiet >"$OUT/host.log" 2>&1
ok $? "compare finished a host cell whose workload exited 1"
diag "$(cat "$OUT/host.log")"
got=$(cell "$OUT/host")
check "on the host too: measured, verdict 'fail: violations' ($got)" \
	grep -q '^ok fail: violations' <<<"$got"
