#!/bin/bash
# lib/sh/common.sh, the shell library swapemu, serve.sh and the tests
# share: messages and exit status, name and root checks, stop_pid on a
# process that ignores SIGTERM, pid_alive on a zombie, live_pid, wait_ready
# (ready, daemon died, condition never true) and the JSON helpers.
# Attaches nothing.
. "$(dirname "$0")/lib.sh"
requires python3
plan 25
T=$SWAPEMU_RUN_DIR
L=$TOP/lib/sh/common.sh
pids=()
# shellcheck disable=SC2016 # expanded when the cleanup runs
on_cleanup 'kill -KILL "${pids[@]}" 2>/dev/null'

# Runs "CODE" in a fresh bash that sourced the library; prints its stderr
# and exit status as "MESSAGE|STATUS".
in_lib() { # CODE [AS-USER-ARGS...]
	local code=$1 err rc
	shift
	err=$("$@" bash -c ". '$L'; PROG=prog; $code" 2>&1 >/dev/null)
	rc=$?
	echo "$err|$rc"
}

check "die: 'PROG: message' and status 2" test "$(in_lib 'die "no such thing"')" = "prog: no such thing|2"
check "note speaks" test "$(in_lib 'note hello')" = "prog: hello|0"
check "note is silent with QUIET" test "$(in_lib 'QUIET=1 note hello')" = "|0"
check "PROG defaults to the script's name" \
	test "$(bash -c ". '$L'; echo \$PROG" my-script)" = my-script
check "valid_name takes a-z0-9_.-, 32 at most" \
	test "$(in_lib 'valid_name a-b_c.d; valid_name x2345678901234567890123456789012')" = "|0"
check "valid_name refuses 33 characters" \
	test "$(in_lib 'valid_name x23456789012345678901234567890123')" = \
	"prog: bad target name 'x23456789012345678901234567890123' (letters, digits, '_', '-', '.'; at most 32)|2"
check "valid_name refuses a leading '.' and a '/'" \
	test "$(in_lib 'valid_name .x' | cut -d'|' -f2)$(in_lib 'valid_name a/b' | cut -d'|' -f2)" = 22
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
	check "need_root WHAT names the command" test "$(in_lib 'need_root attach' "${nobody[@]}")" = \
		"prog: attach needs root (swap, loop devices and FUSE mounts are root-only)|2"
	check "need_root '' WHY" test "$(in_lib 'need_root "" "FUSE"' "${nobody[@]}")" = "prog: needs root (FUSE)|2"
	check "need_root passes root" test "$(in_lib 'need_root attach')" = "|0"
else
	for _ in 1 2 3; do ok 0 "# SKIP need_root needs root and setpriv to test"; done
fi

# stop_pid: TERM first; a process that ignores it is killed after SECONDS.
sleep 30 &
p=$!
pids+=("$p")
disown $p
t0=$EPOCHREALTIME
stop_pid "$p" 3
t=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
! pid_alive "$p"; ok $? "stop_pid stops a process that takes SIGTERM, in $t s"
bash -c 'trap "" TERM; echo ready; while :; do sleep 0.1; done' >"$T/ready" &
p=$!
pids+=("$p")
disown $p
for _ in $(seq 50); do [ -s "$T/ready" ] && break; sleep 0.1; done
t0=$EPOCHREALTIME
stop_pid "$p" 1
t=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
! pid_alive "$p"; ok $? "stop_pid kills a process that ignores SIGTERM"
check "and waits SECONDS before the KILL ($t s)" awk -v t="$t" 'BEGIN { exit !(t >= 0.9 && t < 4) }'
check "stop_pid with no pid does nothing" stop_pid ""
# A daemon's parent reaps it a moment after it died: stop_pid waits for
# that, so that its pid is gone (here the parent reaps after 1 s).
python3 -c 'import os, sys, time
pid = os.fork()
if pid == 0:
    os.execvp("sleep", ["sleep", "30"])
open(sys.argv[1], "w").write("%d\n" % pid)
time.sleep(1)
os.waitpid(pid, 0)
time.sleep(30)' "$T/rpid" &
pids+=("$!")
disown $!
for _ in $(seq 50); do [ -s "$T/rpid" ] && break; sleep 0.1; done
p=$(cat "$T/rpid")
stop_pid "$p"
! kill -0 "$p" 2>/dev/null; ok $? "stop_pid returns once the parent has reaped it"

# A zombie is not alive: the child of a process that never waits.
bash -c 'sleep 0.1 & echo $! >"$1"; exec sleep 30' sh "$T/zpid" &
pids+=("$!")
disown $!
sleep 0.5
z=$(cat "$T/zpid")
check "the child is a zombie ($(cut -d' ' -f3 "/proc/$z/stat" 2>/dev/null))" test "$(cut -d' ' -f3 "/proc/$z/stat")" = Z
! pid_alive "$z"; ok $? "pid_alive: a zombie is not alive"
pid_alive $$; ok $? "pid_alive: this shell is"

# live_pid: the pid in a file, only if the process is the program named.
sleep 30 &
pids+=("$!")
disown $!
echo $! >"$T/pidfile"
for _ in $(seq 50); do [[ $(readlink "/proc/$!/exe") == */sleep ]] && break; sleep 0.1; done
check "live_pid finds the program" test "$(live_pid "$T/pidfile" sleep)" = $!
check "live_pid ignores another program and a missing file" \
	test "$(live_pid "$T/pidfile" swapemu-fuse)$(live_pid "$T/none" sleep)" = ""

# wait_ready against a stand-in swapemu-ctl that answers, on a real socket.
mkdir -p "$T/bin" "$T/d"
printf '#!/bin/sh\nexit 0\n' >"$T/bin/swapemu-ctl"
chmod +x "$T/bin/swapemu-ctl"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/d/control.sock"
echo $$ >"$T/d/pid"
SWAPEMU_LIBEXEC=$T/bin wait_ready "$T/d" $$; ok $? "wait_ready: the control socket answers"
t0=$EPOCHREALTIME
SWAPEMU_LIBEXEC=$T/bin wait_ready "$T/d" $$ 1 false
rc=$?
t=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
check "wait_ready: a CONDITION that never holds fails after SECONDS ($t s)" \
	awk -v rc=$rc -v t="$t" 'BEGIN { exit !(rc == 1 && t >= 0.9 && t < 3) }'
sleep 0.2 &
t0=$EPOCHREALTIME
SWAPEMU_LIBEXEC=$T/bin wait_ready "$T/nowhere" $! 10
rc=$?
t=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
check "wait_ready: fails as soon as the daemon dies ($t s)" awk -v rc=$rc -v t="$t" 'BEGIN { exit !(rc == 1 && t < 2) }'

# JSON: what json_str writes, python reads back; json_num and json_s find keys.
s=$'a "quoted" \\ back\tslash\nnew line\001'
j="{\"s\":$(json_str "$s"),\"n\":-12.5,\"b\":true,\"e\":$(json_or_null ""),\"x\":$(num_or_null 1e)}"
back=$(python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(repr((d["s"], d["n"], d["b"], d["e"], d["x"])))' "$j")
check "json_str, json_or_null, num_or_null: valid JSON ($back)" \
	test "$back" = "('a \"quoted\" \\\\ back\\tslash\\nnew line', -12.5, True, None, None)"
check "json_num and json_s read it back" \
	test "$(json_num n <<<"$j"),$(json_num b <<<"$j"),$(json_s s <<<"$j")" = '-12.5,true,a \"quoted\" \\ back\tslash\nnew line'
done_testing
