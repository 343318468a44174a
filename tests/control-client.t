#!/bin/bash
# control-client.t - swapemu-ctl against a daemon that accepts and never
# answers (issue 8, finding 4): every command but "events --follow" gives
# up after --timeout or $SWAPEMU_CTL_TIMEOUT seconds with a one-line
# reason; bad values are refused. The fake daemon is a few lines of
# Python (skipped without python3); every wait here is bounded by timeout.
source "$(dirname "$0")/lib.sh"
CTL=$BUILD/swapemu-ctl
[ -x "$CTL" ] || skip_all "$CTL not built"
command -v python3 >/dev/null || skip_all "python3 needed for the fake daemon"

fake=$SWAPEMU_RUN_DIR/fake.sock
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(16)
held = []
while True:
    held.append(s.accept()[0])
' "$fake" &
fake_pid=$!
follow_pid=
trap 'kill $fake_pid $follow_pid 2>/dev/null; wait $fake_pid $follow_pid 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do [ -S "$fake" ] && break; sleep 0.05; done
[ -S "$fake" ] || skip_all "the fake daemon did not start"
plan 7

# gives_up DESCRIPTION ENV... -- ARGS...: exits 1 within 5 s, with one line
# on stderr naming the socket and the timeout.
gives_up() {
	local what=$1 rc t0 t1
	shift
	t0=$(date +%s.%N)
	timeout -k 2 10 env "$@" >/dev/null 2>"$SWAPEMU_RUN_DIR/err"
	rc=$?
	t1=$(date +%s.%N)
	local took
	took=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
	if [ "$rc" = 1 ] && [ "$(wc -l <"$SWAPEMU_RUN_DIR/err")" = 1 ] &&
		grep -q "$fake: no complete reply within 0.5 s" "$SWAPEMU_RUN_DIR/err" &&
		awk "BEGIN { exit !($took < 5) }"; then
		ok 0 "$what: exit 1 after $took s: $(cat "$SWAPEMU_RUN_DIR/err")"
	else
		ok 1 "$what: exit $rc after $took s"
		diag "$(cat "$SWAPEMU_RUN_DIR/err")"
	fi
}
gives_up "--timeout 0.5" "$CTL" --timeout 0.5 "$fake" help
gives_up "SWAPEMU_CTL_TIMEOUT=0.5" SWAPEMU_CTL_TIMEOUT=0.5 "$CTL" "$fake" counters

timeout 10 env SWAPEMU_CTL_TIMEOUT=soon "$CTL" "$fake" help 2>"$SWAPEMU_RUN_DIR/err"
rc=$?
ok "$([ $rc = 2 ] && grep -q "SWAPEMU_CTL_TIMEOUT: bad number of seconds 'soon'" "$SWAPEMU_RUN_DIR/err"; echo $?)" \
	"a bad SWAPEMU_CTL_TIMEOUT is refused: exit $rc: $(cat "$SWAPEMU_RUN_DIR/err")"
timeout 10 "$CTL" --timeout -1 "$fake" help 2>"$SWAPEMU_RUN_DIR/err"
rc=$?
ok "$([ $rc = 2 ] && grep -q -- "--timeout: bad number of seconds '-1'" "$SWAPEMU_RUN_DIR/err"; echo $?)" \
	"a bad --timeout is refused: exit $rc: $(cat "$SWAPEMU_RUN_DIR/err")"

# "events --follow" waits for ever, whatever the limit.
"$CTL" --timeout 0.5 "$fake" events --follow >/dev/null 2>&1 &
follow_pid=$!
sleep 1.5
ok "$(kill -0 $follow_pid 2>/dev/null; echo $?)" \
	"\"events --follow\" is not timed out (running after 1.5 s, limit 0.5 s)"
kill $follow_pid 2>/dev/null
wait $follow_pid 2>/dev/null
follow_pid=

"$CTL" --help >"$SWAPEMU_RUN_DIR/help"
ok "$(grep -q -- '--timeout SECONDS' "$SWAPEMU_RUN_DIR/help"; echo $?)" "--help documents --timeout"
# A limit of 0 waits: still running after 1 s.
"$CTL" --timeout 0 "$fake" help >/dev/null 2>&1 &
follow_pid=$!
sleep 1
ok "$(kill -0 $follow_pid 2>/dev/null; echo $?)" "--timeout 0 waits for ever"
kill $follow_pid 2>/dev/null
wait $follow_pid 2>/dev/null
follow_pid=
done_testing
