#!/bin/bash
# nbd-plugin-errors.t - start-up errors of the nbdkit plugin: every bad
# parameter, profile or resource must make nbdkit exit nonzero with exactly
# one line on stderr that names the problem.
#
# Each case runs "nbdkit --exit-with-parent PLUGIN ARGS --run true" under
# timeout: if start-up wrongly succeeded, --run makes nbdkit exit at once.
# The one long-lived server (for "control socket in use") is killed by the
# trap, by its pid. TAP; exit 0 all passed, 1 any failed, 77 skipped.
#
# Environment: SWAPEMU_NBDKIT (default nbdkit), SWAPEMU_NBD_PLUGIN
# (default build/nbdkit-swapemu-plugin.so next to this tests/ directory).
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
NBDKIT=${SWAPEMU_NBDKIT:-nbdkit}
PLUGIN=${SWAPEMU_NBD_PLUGIN:-$top/build/nbdkit-swapemu-plugin.so}

if ! command -v "$NBDKIT" >/dev/null 2>&1; then
	echo "1..0 # SKIP $NBDKIT not found (apt-get install nbdkit)"
	exit 77
fi
if [ ! -r "$PLUGIN" ]; then
	echo "1..0 # SKIP $PLUGIN not found (make build/nbdkit-swapemu-plugin.so)"
	exit 77
fi

tmp=$(mktemp -d /tmp/swapemu-nbd-errors.XXXXXX) || exit 1
server_pid=
cleanup() {
	# A background server that wrongly started (see expect_error_bg).
	if [ -s "$tmp/bg.pid" ]; then
		kill "$(cat "$tmp/bg.pid")" 2>/dev/null
	fi
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

n=0
failed=0

# expect_error DESCRIPTION REGEX ARGS... : nbdkit must fail to start, with
# one line on stderr matching REGEX (extended, case-sensitive).
expect_error() {
	local what=$1 re=$2 rc lines
	shift 2
	n=$((n + 1))
	timeout -k 5 30 "$NBDKIT" --exit-with-parent "$PLUGIN" "$@" \
		--run true >"$tmp/out" 2>"$tmp/err"
	rc=$?
	lines=$(wc -l <"$tmp/err")
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$lines" -eq 1 ] &&
		grep -Eq -- "$re" "$tmp/err"; then
		echo "ok $n - $what: $(cat "$tmp/err")"
	else
		failed=$((failed + 1))
		echo "not ok $n - $what"
		echo "# nbdkit $* exited $rc with $lines line(s) on stderr:"
		sed 's/^/#   /' "$tmp/err"
		echo "# expected one line matching: $re"
	fi
}

# expect_error_bg DESCRIPTION REGEX ARGS... : as expect_error, but for
# nbdkit started the usual way, forking into the background (no -f, no
# --run): an error found after the fork would go to syslog while nbdkit
# exits 0, so the plugin must find it before.
expect_error_bg() {
	local what=$1 re=$2 rc lines
	shift 2
	n=$((n + 1))
	rm -f "$tmp/bg.pid" "$tmp/bg.sock"
	timeout -k 5 30 "$NBDKIT" -U "$tmp/bg.sock" -P "$tmp/bg.pid" \
		"$PLUGIN" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	lines=$(wc -l <"$tmp/err")
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$lines" -eq 1 ] &&
		grep -Eq -- "$re" "$tmp/err"; then
		echo "ok $n - $what (in the background): $(cat "$tmp/err")"
	else
		failed=$((failed + 1))
		echo "not ok $n - $what (in the background)"
		echo "# nbdkit $* exited $rc with $lines line(s) on stderr:"
		sed 's/^/#   /' "$tmp/err"
		echo "# expected one line matching: $re"
	fi
	if [ -s "$tmp/bg.pid" ]; then
		kill "$(cat "$tmp/bg.pid")" 2>/dev/null
		rm -f "$tmp/bg.pid"
	fi
}

# expect_start DESCRIPTION ARGS... : a sanity check that good arguments
# do start (so the failures above are not for some unrelated reason).
expect_start() {
	local what=$1 rc
	shift
	n=$((n + 1))
	timeout -k 5 30 "$NBDKIT" --exit-with-parent "$PLUGIN" "$@" \
		--run 'nbdinfo --size "$uri"' >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ]; then
		echo "ok $n - $what (size $(cat "$tmp/out"))"
	else
		failed=$((failed + 1))
		echo "not ok $n - $what: exit $rc"
		sed 's/^/#   /' "$tmp/err"
	fi
}

printf '[device]\nsize = 64M\n' >"$tmp/good.conf"
printf '[device]\nsize = 64M\nthis is not ini\n' >"$tmp/malformed.conf"
printf '[device]\nsize = 64M\ncolour = blue\n' >"$tmp/badkey.conf"
printf '[delay]\ncompletion = uniform:9ms..1ms\n' >"$tmp/baddist.conf"
printf '[device]\nstore = file\n' >"$tmp/nopath.conf"

if command -v nbdinfo >/dev/null 2>&1; then
	expect_start "a good profile starts" profile="$tmp/good.conf" size=8M
	expect_start "a bare size is the size parameter" 16M seed=7
fi

# Parameters.
expect_error "unknown key" "unknown parameter 'colour'" colour=blue
expect_error "unknown profile key" "delay.bogus=1: unknown key 'bogus' in \[delay\]" \
	delay.bogus=1
expect_error "unknown profile section" "nosuch.key=1: unknown section \[nosuch\]" \
	nosuch.key=1
expect_error "bad size" "bad size 'lots'" size=lots
expect_error "size with a fraction" "bad size '1.5M'" size=1.5M
expect_error "size not a multiple of 4096" "size '4097' must be a positive multiple of 4096" \
	size=4097
expect_error "size zero" "size '0' must be a positive multiple of 4096" size=0
expect_error "size beyond NBD" "size '8E' is larger than NBD allows" size=8E
expect_error "bad seed" "swapemu: seed=x: bad seed 'x'" seed=x
expect_error "profile given twice" "profile= given twice" \
	profile="$tmp/good.conf" profile="$tmp/good.conf"
expect_error "bad boolean" "stable-writes.require=maybe: bad require 'maybe'" \
	stable-writes.require=maybe
expect_error "bad on-violation" "bad on-violation 'panic'" \
	stable-writes.on-violation=panic

# Fault-injection rules.
expect_error "rule setting without a key" "bad rule setting 'rule.x'" rule.x=1
expect_error "unknown rule action" "rule.r.action=explode: unknown action 'explode'" \
	rule.r.action=explode
expect_error "rule without an action" "\[rule r\] has no action" rule.r.op=write

# Distributions.
expect_error "bad duration" "delay.capture=5: bad duration '5'" delay.capture=5
expect_error "bad distribution" "unknown distribution 'gauss'" \
	delay.completion=gauss:3ms
expect_error "bad uniform range" "bad uniform range '5ms..1ms': low is above high" \
	delay.completion=uniform:5ms..1ms

# Profiles.
expect_error "missing profile" "$tmp/nope.conf: cannot open profile" \
	profile="$tmp/nope.conf"
expect_error "malformed profile" "malformed.conf:3: malformed line" \
	profile="$tmp/malformed.conf"
expect_error "unknown key in a profile" "badkey.conf:3: unknown key 'colour' in \[device\]" \
	profile="$tmp/badkey.conf"
expect_error "bad distribution in a profile" "baddist.conf:2: bad uniform range" \
	profile="$tmp/baddist.conf"
expect_error "file store without a path" "store = file needs a path" \
	profile="$tmp/nopath.conf"

# Resources.
expect_error "size too large to allocate" "cannot allocate" size=1E
expect_error "store file in a missing directory" \
	"$tmp/missing/store: cannot open store file" \
	device.store=file device.path="$tmp/missing/store"
expect_error "generation table in a missing directory" \
	"$tmp/missing/gentab: cannot create generation table" \
	gentab="$tmp/missing/gentab"
expect_error "event log in a missing directory" \
	"$tmp/missing/events: cannot open event log" \
	events="$tmp/missing/events"
expect_error "control socket in a missing directory" \
	"$tmp/missing/ctl: cannot serve control socket" \
	control="$tmp/missing/ctl"

# Control paths nbdkit finds bad only after forking into the background
# unless the plugin checks them first (issue 8, findings 3 and 10).
long=$tmp/$(printf 'c%.0s' $(seq 120))
expect_error_bg "control path too long" "control socket path too long" \
	size=4M control="$long"
expect_error_bg "control socket in a missing directory" \
	"$tmp/missing/ctl: cannot serve control socket" \
	size=4M control="$tmp/missing/ctl"
printf 'keep me\n' >"$tmp/precious"
expect_error_bg "control path is a regular file" \
	"$tmp/precious: exists and is not a socket" \
	size=4M control="$tmp/precious"
n=$((n + 1))
if [ "$(cat "$tmp/precious")" = "keep me" ]; then
	echo "ok $n - the regular file is left as it was"
else
	failed=$((failed + 1))
	echo "not ok $n - the regular file at control= was changed or removed"
fi

# A control socket a running server still serves is refused.
"$NBDKIT" -f --exit-with-parent -U "$tmp/nbd.sock" "$PLUGIN" size=4M \
	control="$tmp/ctl" 2>"$tmp/server.err" &
server_pid=$!
for _ in $(seq 100); do
	[ -S "$tmp/ctl" ] && break
	kill -0 "$server_pid" 2>/dev/null || break
	sleep 0.05
done
if [ -S "$tmp/ctl" ]; then
	expect_error "control socket in use" "$tmp/ctl: control socket is in use" \
		size=4M control="$tmp/ctl"
	kill "$server_pid"
	wait "$server_pid" 2>/dev/null
	server_pid=
	n=$((n + 1))
	if [ ! -e "$tmp/ctl" ]; then
		echo "ok $n - the server removed its control socket on SIGTERM"
	else
		failed=$((failed + 1))
		echo "not ok $n - the control socket outlived its server"
	fi
else
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - a server with control= did not come up"
	sed 's/^/#   /' "$tmp/server.err"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
