# tests/lib.sh - shared helpers for the shell tests (sourced, not run).
# TAP output; exit 0 pass, 1 fail, 77 skip. Each test gets its own run
# directory, so it only ever sees and detaches its own targets.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SWAPEMU=$TOP/swapemu
BUILD=${BUILD:-$TOP/build}
# The helpers the scripts share: json_num, stop_pid, live_pid, ...
. "$TOP/lib/sh/common.sh"
export SWAPEMU_RUN_DIR=$(mktemp -d /tmp/swapemu-test.XXXXXX)
_tap_n=0
_tap_fail=0

skip_all() { echo "1..0 # SKIP $*"; rm -rf "$SWAPEMU_RUN_DIR"; exit 77; }
plan() { echo "1..$1"; }
skip() { # WHY DESCRIPTION: one test point that could not run here
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $2 # SKIP $1"
}
ok() { # CONDITION-STATUS DESCRIPTION
	_tap_n=$((_tap_n + 1))
	if [ "$1" = 0 ]; then echo "ok $_tap_n - $2"; else
		echo "not ok $_tap_n - $2"
		# prove shows stderr, not TAP comments: a failure names itself
		# in a CI log without -v.
		echo "$(basename "$0"): not ok $_tap_n - $2" >&2
		_tap_fail=1
	fi
}
check() { # DESCRIPTION COMMAND... : ok if the command succeeds
	local d=$1; shift
	if "$@"; then ok 0 "$d"; else ok 1 "$d"; fi
}
diag() { echo "$*" | sed 's/^/# /'; }
done_testing() { exit $_tap_fail; }

# Skips unless this machine can do what the swap tests need.
require_swap_env() {
	require_swap_env_unlocked
	host_swap_lock
}

# stop_fuse_daemon DIR: stops a swapemu-fuse a test started with
# --pidfile DIR/pid on DIR/mnt, and waits for the unmount (lazy after 5 s).
stop_fuse_daemon() {
	[ -f "$1/pid" ] && kill "$(cat "$1/pid")" 2>/dev/null
	for _ in $(seq 50); do grep -q " $1/mnt " /proc/mounts || break; sleep 0.1; done
	grep -q " $1/mnt " /proc/mounts && umount -l "$1/mnt"
	rm -f "$1/pid"
	return 0
}

# The same checks without taking the host swap lock, for tests of commands
# that take it themselves around each run (swapemu compare): a lock held by
# the test would deadlock them.
require_swap_env_unlocked() {
	[ "$(id -u)" = 0 ] || skip_all "needs root"
	[ -c /dev/fuse ] || skip_all "no /dev/fuse"
	[ -e /dev/loop-control ] || skip_all "no loop devices"
	[ -r /proc/swaps ] || skip_all "no swap support"
	command -v swapon >/dev/null || skip_all "no swapon"
	[ -x "$BUILD/swapemu-fuse" ] || skip_all "swapemu-fuse not built"
}

# Host swap is one shared resource: two tests (or two checkouts) swapping at
# once would share pages between their targets and disturb each other's
# timing. Hold a machine-wide lock for the rest of the test.
host_swap_lock() {
	exec 9>"${SWAPEMU_HOST_LOCK:-/tmp/swapemu-host.lock}"
	flock -w "${SWAPEMU_LOCK_WAIT:-1200}" 9 || { echo "Bail out! host swap lock busy for ${SWAPEMU_LOCK_WAIT:-1200} s"; exit 1; }
}

# requires PROG [ARGS...]: skip the whole test unless PROG exists and, given
# ARGS, runs successfully (e.g. "requires nbdkit --version",
# "requires qemu-img --help").
requires() {
	command -v "$1" >/dev/null 2>&1 || skip_all "$1 is not installed"
	[ $# -eq 1 ] || "$@" >/dev/null 2>&1 || skip_all "'$*' failed"
}

# A stack of cleanups, run last-registered first when the test exits for
# any reason (as nbdkit's tests/functions.sh): on_cleanup 'COMMAND ...'.
_cleanups=()
on_cleanup() { _cleanups+=("$1"); }

# Tear down everything this test made or attached, whatever happened.
cleanup() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_cleanups[$i]}" || true
	done
	_cleanups=()
	"$SWAPEMU" detach --all >/dev/null 2>&1 || "$SWAPEMU" detach --all || true
	rm -rf "$SWAPEMU_RUN_DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Page numbers, sorted and unique, from the "pages":[...] of the device
# events on stdin.
event_pages() { grep -o '"pages":\[[0-9,]*\]' | grep -o '[0-9]\+' | sort -un; }
# Page numbers of the torture report's "damaged" list on stdin.
damaged_pages() { grep -o '"damaged":\[[^]]*\]' | grep -o '"page":[0-9]*' | cut -d: -f2 | sort -un; }
# Count of lines of a kernel message in dmesg.
# kmsg_count TEXT: lines of the kernel log with TEXT since the test began
# (by timestamp: the ring is shared and full, so counting lines before and
# after can see no change while new ones came in).
_t0=$(cut -d' ' -f1 /proc/uptime)
kmsg_count() {
	dmesg 2>/dev/null | awk -v t0="$_t0" -v pat="$1" '
		match($0, /^\[ *[0-9.]+\]/) && substr($0, 2, RLENGTH - 2) + 0 >= t0 &&
		index($0, pat) { n++ } END { print n + 0 }'
}
