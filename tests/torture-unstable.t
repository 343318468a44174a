#!/bin/bash
# unstable.conf on the host kernel: without stable_writes the kernel lets
# the workload rewrite pages under writeback; with a 3 ms capture delay and
# 10 ms rewrites nearly every captured page is torn or modified. Nothing is
# required, so there are no violations, and no data is lost.
. "$(dirname "$0")/lib.sh"
require_swap_env
plan 6

"$SWAPEMU" attach --profile "$TOP/configs/unstable.conf" --name un >/dev/null
ok $? "attach unstable.conf"
json=$("$SWAPEMU" torture --target un --pages 512 --swapouts 2000 --seconds 120 \
	--modify-ms 10 --json --quiet)
diag "$json"
n=$(json_num swapouts <<<"$json")
t=$(json_num torn <<<"$json")
m=$(json_num modified <<<"$json")
check "swap-outs happened ($n)" test "${n:-0}" -ge 1000
check "at least 95% torn or modified ($t + $m of $n)" test $(( (t + m) * 100 )) -ge $((n * 95))
check "0 violations" test "$(json_num violations <<<"$json")" = 0
check "0 lost, 0 corrupt" test "$(json_num lost <<<"$json"):$(json_num corrupt <<<"$json")" = 0:0
check "the kernel gave no copies" test "$(json_num copied_under_writeback <<<"$json")" = 0
done_testing
