#!/bin/bash
# The injector on a running target: load, add, remove, clear, rules, bad
# profiles refused whole, every shipped scenario loads, write errors under
# the torture workload, stall and release, load during a run, and
# events --follow.
. "$(dirname "$0")/lib.sh"
require_swap_env
plan 26
S=$SWAPEMU

"$S" attach --profile "$TOP/configs/unstable.conf" --name t >/dev/null 2>&1
ok $? "attach"
for f in "$TOP"/configs/*.conf; do
	case $(basename "$f") in stable.conf|unstable.conf|stable-missing.conf) continue ;; esac
	out=$("$S" inject t load "$f" 2>&1)
	ok $? "load $(basename "$f"): $out"
done
check "rules lists the last profile's rule" bash -c "'$S' inject t rules | grep -q '^storm matches='"
bad=$SWAPEMU_RUN_DIR/bad.conf
printf '[rule a]\naction = lose\nop = write\n[rule b]\naction = error:EWHAT\n' >"$bad"
err=$("$S" inject t load "$bad" 2>&1)
echo "$err" | grep -q "bad.conf:5: unknown errno 'EWHAT'"; ok $? "a bad profile is refused with file and line: $err"
check "and the rules in force are unchanged" bash -c "'$S' inject t rules | grep -q '^storm ' && ! '$S' inject t rules | grep -q '^a '"
printf '[device]\nsize = 1G\n' >"$bad"
err=$("$S" inject t load "$bad" 2>&1)
echo "$err" | grep -q "cannot change device.size"; ok $? "a running target keeps its size: $err"
"$S" inject t clear && test -z "$("$S" inject t rules)"; ok $? "clear"
"$S" inject t add w op=write action=error:EIO probability=0.2 >/dev/null; ok $? "add"
err=$("$S" inject t add w op=write action=lose 2>&1)
echo "$err" | grep -q "exists"; ok $? "a second rule of the same name is refused: $err"

# Write errors under the workload: the kernel logs them, no data is lost.
before=$(kmsg_count "Write-error on swap-device")
json=$("$S" torture --target t --pages 256 --swapouts 800 --seconds 60 --json --quiet)
diag "$json"
we=$(json_num write_errors <<<"$json")
check "the device failed writes ($we)" test "${we:-0}" -gt 0
check "the kernel logged write errors" test "$(kmsg_count "Write-error on swap-device")" -gt "$before"
check "no page lost or corrupt" test "$(json_num lost <<<"$json"):$(json_num corrupt <<<"$json")" = 0:0
"$S" inject t remove w; ok $? "remove"

# events --follow streams new events.
"$S" inject t events --follow >"$SWAPEMU_RUN_DIR/follow" &
fpid=$!
sleep 0.3
"$S" inject t add marker op=flush action=delay:1ms >/dev/null
for _ in $(seq 30); do grep -q '"rule-added"' "$SWAPEMU_RUN_DIR/follow" && break; sleep 0.1; done
kill $fpid 2>/dev/null; wait $fpid 2>/dev/null
grep -q '"rule-added"' "$SWAPEMU_RUN_DIR/follow"; ok $? "events --follow shows a new event"

# A stalled write holds until released.
"$S" inject t clear
"$S" inject t load "$TOP/configs/stall.conf" >/dev/null
"$S" torture --target t --pages 256 --seconds 4 --json --quiet >"$SWAPEMU_RUN_DIR/stall.json" &
tpid=$!
n=0
for _ in $(seq 100); do
	n=$("$S" inject t stats | awk '$1 == "stalled" { print $2 }')
	[ "${n:-0}" -gt 0 ] && break
	sleep 0.1
done
check "a write is stalled ($n)" test "${n:-0}" -gt 0
"$S" inject t release | grep -q "released 1"; ok $? "release lets it go"
wait $tpid
json=$(cat "$SWAPEMU_RUN_DIR/stall.json")
check "the run completes with no page lost or corrupt" test "$(json_num lost <<<"$json"):$(json_num corrupt <<<"$json")" = 0:0

# Loads while the workload runs take effect and lose no request.
"$S" inject t clear
"$S" torture --target t --pages 256 --seconds 6 --json --quiet >"$SWAPEMU_RUN_DIR/live.json" &
tpid=$!
for i in 1 2 3; do
	sleep 1; "$S" inject t load "$TOP/configs/slow-device.conf" >/dev/null
	sleep 1; "$S" inject t clear
done
wait $tpid
json=$(cat "$SWAPEMU_RUN_DIR/live.json")
diag "$json"
check "loads during a run: no page lost or corrupt" test "$(json_num lost <<<"$json"):$(json_num corrupt <<<"$json")" = 0:0
c=$("$S" inject t stats)
check "every request the device took was answered" test "$(awk '$1 == "inflight" { print $2 }' <<<"$c")" = 0
check "the loads are in the event log" test "$("$S" inject t events | grep -c '"event":"load","op":"none".*slow-device.conf')" -ge 3
done_testing
