# lib/sh/common.sh - the helpers swapemu's shell scripts share (sourced,
# not run): messages, root and name checks, process handling, starting a
# target's daemon and waiting for it, and small JSON helpers.
#
# Sourcing defines functions only. The caller may set first:
#   PROG             the name messages start with (default: the script's)
#   QUIET            non-empty: note() says nothing
#   SWAPEMU_LIBEXEC  where the programs are (bin NAME)
#   DAEMON_WRAP      an array put before a started daemon, e.g.
#                    (setpriv --pdeathsig KILL) to make it die with us
# Works with and without set -euo pipefail.

: "${PROG:=${0##*/}}"

die() { echo "$PROG: $*" >&2; exit 2; }
note() { [ -n "${QUIET:-}" ] || echo "$PROG: $*" >&2; }

bin() { echo "$SWAPEMU_LIBEXEC/$1"; }

need_root() { # [WHAT [WHY]]: "PROG: WHAT needs root (WHY)" and exit 2
	[ "$(id -u)" = 0 ] ||
		die "${1:+$1 }needs root (${2:-swap, loop devices and FUSE mounts are root-only})"
}

valid_name() { # NAME: a target name, or die
	[[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$ ]] ||
		die "bad target name '$1' (letters, digits, '_', '-', '.'; at most 32)"
}

# KEY's value in an effective profile (swapemu-fuse --print-profile) on stdin.
profile_value() { awk -F' = ' -v k="$1" '$1 == k { print $2; exit }'; }

# ------------------------------------------------------------ processes

# Running, and not a zombie. A process killed while one of its threads
# waits in a FUSE request the daemon holds is a zombie whose thread stays
# in D state until the daemon answers or dies: it counts as gone.
pid_alive() { # PID
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ]
}

# The pid in FILE if that process is still PROGRAM (swapemu-fuse, nbdkit,
# nbdfuse): a stale pid file never makes us signal somebody else. Both the
# executable and argv[0] must be PROGRAM: a process that merely has the name
# in its arguments, or that set argv[0] to it, is not ours.
live_pid() { # FILE PROGRAM
	local pid exe argv0=
	[ -f "$1" ] || return 0
	pid=$(cat "$1")
	[[ $pid =~ ^[1-9][0-9]*$ ]] || return 0
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 0
	exe=${exe% (deleted)}
	IFS= read -r -d '' argv0 <"/proc/$pid/cmdline" 2>/dev/null || true
	[ "${exe##*/}" = "$2" ] && [ "${argv0##*/}" = "$2" ] && echo "$pid"
	return 0
}

# TERM, wait up to SECONDS (default 5) for it to die, then KILL and wait up
# to 2 s more. Then wait (up to 2 s) until its parent has reaped it, so that
# its pid is gone when this returns: a daemon's parent is init or a waiting
# shell. Not for a zombie that still has a thread (stuck in a FUSE request,
# see pid_alive): only its daemon's end frees that one. Does not reap it.
# stop_pid PID [SECONDS [noreap]]: TERM, then KILL after SECONDS (default 5);
# then, unless noreap (the caller is the parent and reaps it itself), a
# short wait for the parent to reap it.
stop_pid() { # PID [SECONDS [noreap]]
	local pid=$1 i tasks
	[ -n "$pid" ] || return 0
	if pid_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < ${2:-5} * 10; i++)); do
			pid_alive "$pid" || break
			sleep 0.1
		done
	fi
	if pid_alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 20; i++)); do
			pid_alive "$pid" || break
			sleep 0.1
		done
	fi
	[ "${3:-}" != noreap ] || return 0
	for ((i = 0; i < 20; i++)); do
		[ -d "/proc/$pid" ] || return 0
		tasks=("/proc/$pid/task"/*)
		[ ${#tasks[@]} -le 1 ] || return 0
		sleep 0.1
	done
	return 0
}

# --------------------------------------------------------------- daemons
# A target's run directory DIR holds control.sock, gentab, events.jsonl,
# pid and daemon.log; a FUSE target is mounted at DIR/mnt. Each start
# function leaves the daemon (or its waiting parent) in $!.

# swapemu-fuse in the foreground, in the background of this shell.
fuse_start() { # DIR NAME [SWAPEMU-FUSE OPTIONS...]
	local dir=$1 name=$2
	shift 2
	setsid ${DAEMON_WRAP[@]+"${DAEMON_WRAP[@]}"} "$(bin swapemu-fuse)" --foreground "$@" \
		--name "$name" --control "$dir/control.sock" --gentab "$dir/gentab" \
		--events "$dir/events.jsonl" --pidfile "$dir/pid" "$dir/mnt" \
		</dev/null >"$dir/daemon.log" 2>&1 &
}

# The swapemu plugin and its parameters for a target in DIR, into the
# array NBDKIT_PLUGIN_ARGS; PARAM=VALUE adds more (mlock=yes, profile
# overrides as SECTION.KEY=VALUE).
nbdkit_plugin_args() { # DIR PROFILE [PARAM=VALUE...]
	local dir=$1 profile=$2
	shift 2
	# shellcheck disable=SC2034 # the caller's
	NBDKIT_PLUGIN_ARGS=("$(bin nbdkit-swapemu-plugin.so)" profile="$(readlink -f "$profile")"
		control="$dir/control.sock" gentab="$dir/gentab" events="$dir/events.jsonl" "$@")
}

# Starts nbdkit ARGS in the background, its messages going to LOG, to live
# on after this script. It runs in the foreground (-f) with --log=stderr,
# because a daemonized nbdkit sends its errors to syslog, or nowhere once
# it has forked. nbdkit -f exits when its parent does (it sets
# PR_SET_PDEATHSIG), so its parent is a shell that waits for it: $! is that
# shell, alive as long as nbdkit.
nbdkit_background() { # LOG ARGS...
	local log=$1
	shift
	setsid sh -c '"$@" & wait $!' sh nbdkit -f --log=stderr "$@" </dev/null >"$log" 2>&1 &
}

# Starts nbdkit ARGS as our child, messages to LOG: it dies with us, even
# on SIGKILL (--exit-with-parent). $! is nbdkit.
nbdkit_child() { # LOG ARGS...
	local log=$1
	shift
	setsid ${DAEMON_WRAP[@]+"${DAEMON_WRAP[@]}"} nbdkit -f --log=stderr --exit-with-parent "$@" \
		</dev/null >"$log" 2>&1 &
}

# Until the daemon in DIR answers on its control socket and has written its
# pid file (and CONDITION, if given, holds), or PID died, or SECONDS
# (default 5) passed.
wait_ready() { # DIR PID [SECONDS [CONDITION...]]
	local dir=$1 pid=$2 tries=$((${3:-5} * 20)) i
	shift $(($# < 3 ? $# : 3))
	for ((i = 0; i < tries; i++)); do
		[ -S "$dir/control.sock" ] && [ -f "$dir/pid" ] &&
			"$(bin swapemu-ctl)" "$dir/control.sock" help >/dev/null 2>&1 &&
			{ [ $# = 0 ] || "$@"; } && return 0
		pid_alive "$pid" || return 1
		sleep 0.05
	done
	return 1
}

show_log() { # DIR: the daemon's messages, after it failed to start
	echo "$PROG: the daemon did not start:" >&2
	sed 's/^/  /' "$1/daemon.log" >&2
}

# ------------------------------------------------------------------ JSON

# json_num KEY: the number (or true/false/null) a flat JSON object on
# stdin gives KEY (first match).
json_num() { grep -o "\"$1\": *[-0-9.a-z]*" | head -1 | sed 's/.*: *//'; }

# json_s KEY: the string a JSON object on stdin gives KEY (first match),
# still escaped.
json_s() {
	grep -o "\"$1\":\"\([^\"\\\\]\|\\\\.\)*\"" | head -1 | sed "s/^\"$1\":\"//; s/\"\$//"
}

# STRING as a JSON string; control characters other than \n and \t go.
json_str() {
	local s=$1
	s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\r'/}; s=${s//$'\t'/\\t}; s=${s//$'\n'/\\n}
	s=$(printf '%s' "$s" | tr -d '\000-\010\013\014\016-\037')
	printf '"%s"' "$s"
}
json_or_null() { if [ -n "$1" ]; then json_str "$1"; else printf null; fi; }
num_or_null() { if [[ ${1:-} =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then printf '%s' "$1"; else printf null; fi; }
