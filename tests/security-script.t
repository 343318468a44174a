#!/bin/bash
# The swapemu script's process handling: a pid file never makes it signal a
# process that is not the daemon (decoys with the daemon's name in their
# arguments or as argv[0] are left alone, a real daemon is found), and an
# error nbdkit reports after it started (a control socket path too long
# for a Unix socket) reaches the user and daemon.log instead of syslog.
# Neither attaches swap.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root"
[ -c /dev/fuse ] || skip_all "no /dev/fuse"
[ -x "$BUILD/swapemu-fuse" ] || skip_all "swapemu-fuse not built"
plan 10
R=$SWAPEMU_RUN_DIR
decoys=()
long=$(mktemp -d /tmp/swapemu-long.XXXXXX)
trap 'for p in "${decoys[@]}"; do pkill -P "$p"; kill "$p"; done 2>/dev/null; cleanup; rm -rf "$long"' EXIT

# A run directory as a crashed target leaves it, its pid file naming PID.
fake_target() { # NAME PID
	mkdir -p "$R/$1/mnt"
	echo fuse >"$R/$1/front-end"
	echo "$2" >"$R/$1/pid"
}

# Their output goes nowhere, so that a leftover sleep cannot hold prove's
# pipe open after the test ends.
bash -c 'sleep 300; :' swapemu-fuse >/dev/null 2>&1 </dev/null &
decoys+=($!)
(exec -a swapemu-fuse sleep 300) >/dev/null 2>&1 </dev/null &
decoys+=($!)
sleep 0.2
for i in 0 1; do
	fake_target "d$i" "${decoys[$i]}"
	"$SWAPEMU" status "d$i" | grep -q "^d$i  *crashed"
	ok $? "a decoy ($(tr '\0' ' ' </proc/"${decoys[$i]}"/cmdline)) is not taken for the daemon"
	"$SWAPEMU" detach "d$i" >/dev/null 2>&1
	kill -0 "${decoys[$i]}" 2>/dev/null
	ok $? "detach d$i leaves the decoy running"
done

# The real daemon is still recognised and stopped.
mkdir -p "$R/real/mnt"
echo fuse >"$R/real/front-end"
"$BUILD/swapemu-fuse" --profile "$TOP/configs/stable.conf" --pidfile "$R/real/pid" \
	--name real "$R/real/mnt" 2>/dev/null
ok $? "a real swapemu-fuse started"
"$SWAPEMU" status real | grep -q "^real  *running"
ok $? "status finds it running"
pid=$(cat "$R/real/pid")
"$SWAPEMU" detach real >/dev/null 2>&1
! kill -0 "$pid" 2>/dev/null && ! grep -q " $R/real/mnt " /proc/mounts
ok $? "detach stopped it and unmounted"

if command -v nbdkit >/dev/null && [ -f "$BUILD/nbdkit-swapemu-plugin.so" ]; then
	# A run directory whose nbd.sock fits a Unix socket address (108
	# bytes) but whose control.sock does not: nbdkit starts, then the
	# plugin fails after nbdkit forked.
	export SWAPEMU_RUN_DIR=$long/$(printf 'x%.0s' $(seq $((94 - ${#long} - 1))))
	out=$("$SWAPEMU" attach --nbd --profile "$TOP/configs/stable.conf" --name nb 2>&1)
	rc=$?
	diag "run directory $((${#SWAPEMU_RUN_DIR} + 3)) bytes; $out"
	check "attach --nbd fails (rc $rc)" test "$rc" != 0
	echo "$out" | grep -q "control.sock: control socket path too long"
	ok $? "nbdkit's error reaches the user"
	check "nothing is left" test ! -e "$SWAPEMU_RUN_DIR/nb"
	ls -la "$SWAPEMU_RUN_DIR/nb" 2>/dev/null | diag "$(cat)"
	export SWAPEMU_RUN_DIR=$R
else
	for i in 1 2 3; do echo "ok $((_tap_n + i)) # SKIP no nbdkit or plugin"; done
fi
done_testing
