#!/bin/bash
# The capture delay decides what the device sees: with the workload's first
# write 2 ms after each swap-out (--write-after-us), a FUSE target on
# unstable.conf (no stable writes) with no capture delay has read every page
# before it changes (near 0 detected); with a 10 ms capture delay it reads
# them after (nearly all detected). A device that ignored its capture delay,
# or a workload that ignored --write-after-us (its first write comes at once,
# and 30-50% of captures are then caught anyway), fails here.
. "$(dirname "$0")/lib.sh"
require_swap_env_unlocked # compare takes the host swap lock per run
command -v gnuplot >/dev/null || skip_all "no gnuplot (apt-get install gnuplot-nox)"
plan 4

OUT=$(mktemp -d /tmp/swapemu-compare-sweep.XXXXXX)
trap 'cleanup; rm -rf "$OUT"' EXIT
PY=/usr/bin/python3

"$SWAPEMU" compare --profile "$TOP/configs/unstable.conf" --front-end fuse --no-baselines \
	--sweep delay.capture=0,10ms --write-after-us 2000 --repeat 1 \
	--pages 256 --swapouts 600 --seconds 30 --out "$OUT/s" --quiet >"$OUT/s.log" 2>&1
ok $? "compare ran the sweep"
diag "$(cat "$OUT/s.log")"
det() { # VALUE: detected fraction in percent, or -1
	"$PY" -c "
import json
d = json.load(open('$OUT/s/results.json'))
c = [c for c in d['cells'] if (c.get('sweep') or {}).get('value') == '$1']
f = c[0]['figures'] if c else {}
t = sum((f.get(k) or {}).get('median') or 0 for k in ('clean', 'torn', 'modified'))
b = sum((f.get(k) or {}).get('median') or 0 for k in ('torn', 'modified'))
print(int(100 * b / t) if t else -1)"
}
d0=$(det 0) d10=$(det 10ms)
check "write_after_us is recorded" test "$("$PY" -c "import json; print(json.load(open('$OUT/s/results.json'))['options']['write_after_us'])")" = 2000
check "capture delay 0: at most 20% detected ($d0%)" test "$d0" -ge 0 -a "$d0" -le 20
check "capture delay 10 ms: at least 90% detected ($d10%)" test "$d10" -ge 90
