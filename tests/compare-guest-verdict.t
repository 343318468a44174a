#!/bin/bash
# swapemu compare reads a guest run's report: a run whose scenario failed
# (stable-missing's violations) is a measurement, shown with its verdict
# ("fail: violations"); a run the kernel broke (kernel-bug) is a failed
# cell with the reason. 'swapemu vm' is replaced by a script that prints a
# report recorded from a real run (tests/data/vm-report-scenario-failed.json:
# Debian's 6.1 over FUSE with stable-missing.conf), so no guest boots.
. "$(dirname "$0")/lib.sh"
plan 4

OUT=$(mktemp -d /tmp/swapemu-compare-guest.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
PY=/usr/bin/python3
cat >"$OUT/swapemu" <<EOS
#!/bin/bash
[ "\$1" = vm ] || exec "$SWAPEMU" "\$@"
$PY - "\$FAKE_STATUS" <<'EOP'
import json, sys
r = json.load(open("$TOP/tests/data/vm-report-scenario-failed.json"))
if sys.argv[1] != "failed":
    r.update(status=sys.argv[1], phase="run", reason="kernel BUG at mm/memory.c:3979", failed=0)
print(json.dumps(r))
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
