#!/bin/bash
# stable-missing.conf: the device requires stable pages but does not
# advertise them. Violations are reported with offsets; with
# on-violation=eio the writes fail, the kernel logs swap write errors, and
# the workload still loses no data.
. "$(dirname "$0")/lib.sh"
require_swap_env
plan 9

"$SWAPEMU" attach --profile "$TOP/configs/stable-missing.conf" --name sm >/dev/null
ok $? "attach stable-missing.conf (on-violation = log)"
json=$("$SWAPEMU" torture --target sm --pages 256 --swapouts 500 --seconds 60 \
	--modify-ms 10 --json --quiet)
diag "$json"
v=$(json_num violations <<<"$json")
check "violations reported ($v)" test "${v:-0}" -gt 0
ev=$("$SWAPEMU" inject sm events | grep -c '"event":"violation","op":"write","offset":[0-9]')
check "the event log holds them with offsets ($ev)" test "$ev" -ge "$v"
check "0 lost, 0 corrupt" test "$(json_num lost <<<"$json"):$(json_num corrupt <<<"$json")" = 0:0
"$SWAPEMU" detach sm

"$SWAPEMU" attach --profile "$TOP/configs/stable-missing.conf" --name sme \
	--set stable-writes.on-violation=eio >/dev/null
ok $? "attach with on-violation = eio"
before=$(kmsg_count "Write-error on swap-device")
json=$("$SWAPEMU" torture --target sme --pages 256 --swapouts 500 --seconds 60 \
	--modify-ms 10 --json --quiet)
diag "$json"
after=$(kmsg_count "Write-error on swap-device")
we=$(json_num write_errors <<<"$json")
check "the device failed writes ($we)" test "${we:-0}" -gt 0
check "the kernel logged swap write errors ($((after - before)) new)" test "$after" -gt "$before"
check "0 lost, 0 corrupt" test "$(json_num lost <<<"$json"):$(json_num corrupt <<<"$json")" = 0:0
check "violations counted ($(json_num violations <<<"$json"))" test "$(json_num violations <<<"$json")" -gt 0
done_testing
