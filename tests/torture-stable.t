#!/bin/bash
# stable.conf on the host kernel: with stable_writes advertised, the kernel
# copies every page faulted under writeback, so the device never captures a
# torn or modified page, and no data is lost.
. "$(dirname "$0")/lib.sh"
require_swap_env
plan 8

"$SWAPEMU" attach --profile "$TOP/configs/stable.conf" --name st >/dev/null
ok $? "attach stable.conf"
json=$("$SWAPEMU" torture --target st --pages 512 --swapouts 2000 --seconds 120 \
	--modify-ms 10 --json --quiet)
diag "$json"
n=$(json_num swapouts <<<"$json")
check "at least 2000 swap-outs ($n)" test "${n:-0}" -ge 2000
check "0 torn" test "$(json_num torn <<<"$json")" = 0
check "0 modified" test "$(json_num modified <<<"$json")" = 0
check "0 violations" test "$(json_num violations <<<"$json")" = 0
check "0 lost, 0 corrupt" test "$(json_num lost <<<"$json"):$(json_num corrupt <<<"$json")" = 0:0
uw=$(json_num under_writeback <<<"$json")
cuw=$(json_num copied_under_writeback <<<"$json")
check "the kernel copied every page faulted under writeback ($cuw of $uw)" test "$cuw" = "$uw"
check "most swap-outs were faulted under writeback ($uw of $n)" test $((uw * 2)) -ge "$n"
done_testing
