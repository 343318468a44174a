#!/bin/bash
# An unprivileged user (uid 65534, no groups) can open, read or write none
# of a target: not the FUSE or NBD target file, not its loop device, not a
# socket, not any file of the run directory. It stays so when an admin opens
# the directories up (the files' own modes and the FUSE mount's permission
# checks hold), and the target files stay closed even to uid 65534 holding
# CAP_DAC_OVERRIDE (swapemu-fuse checks the caller's uid in open; nbdfuse
# mounts without allow_other).
. "$(dirname "$0")/lib.sh"
require_swap_env
command -v setpriv >/dev/null || skip_all "no setpriv"
nbd=
command -v nbdkit >/dev/null && command -v nbdfuse >/dev/null &&
	[ -f "$BUILD/nbdkit-swapemu-plugin.so" ] && nbd=1

# swapemu must make its run directories private by itself: start from a
# world-readable base and an ordinary umask, as with /run.
umask 022
base=$SWAPEMU_RUN_DIR
chmod 755 "$base"
export SWAPEMU_RUN_DIR=$base/run
trap 'cleanup; rm -rf "$base"' EXIT

nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
nobody_dac() {
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		--inh-caps=+dac_override --ambient-caps=+dac_override -- "$@"
}

targets=() # the target files (FUSE and nbdfuse) and their loop devices
is_target() { local t; for t in "${targets[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }

# What the user AS (a function) managed to do with PATH: "" if nothing.
# Target files and loop devices are read and written with O_DIRECT, in
# their last 4 KiB (not in use by swap here), as the audit did.
probe() { # AS PATH
	local as=$1 f=$2 got='' last
	if [ -d "$f" ]; then
		"$as" ls "$f" >/dev/null 2>&1 && got+=" list"
		"$as" sh -c ': >"$1/.probe"' sh "$f" 2>/dev/null && got+=" create" && rm -f "$f/.probe"
	elif [ -S "$f" ]; then
		"$as" perl -MIO::Socket::UNIX -e \
			'IO::Socket::UNIX->new(Peer => $ARGV[0]) or exit 1' "$f" 2>/dev/null && got+=" connect"
	elif is_target "$f"; then
		last=$(( $(blockdev --getsize64 "$f" 2>/dev/null || stat -L -c %s "$f") / 4096 - 1 ))
		"$as" dd if="$f" of=/dev/null bs=4096 count=1 skip="$last" iflag=direct status=none 2>/dev/null &&
			got+=" read"
		"$as" dd if=/dev/zero of="$f" bs=4096 count=1 seek="$last" oflag=direct conv=notrunc \
			status=none 2>/dev/null && got+=" write"
	else
		"$as" cat "$f" >/dev/null 2>&1 && got+=" read"
		"$as" sh -c ': >>"$1"' sh "$f" 2>/dev/null && got+=" write"
	fi
	echo "$got"
}

# Every path of the run directory, the mounts' contents included.
run_paths() {
	find "$SWAPEMU_RUN_DIR" -mindepth 0
	printf '%s\n' "${targets[@]}"
}

probe_all() { # AS WHAT [SKIP-DIR...]: the directories given are not probed
	local as=$1 what=$2 f got s
	shift 2
	while IFS= read -r f; do
		for s in "$@"; do [ "${f%/}" = "${s%/}" ] && continue 2; done
		got=$(probe "$as" "$f")
		ok "$([ -z "$got" ] && echo 0 || echo 1)" "$what: ${f#"$base"/} ${got:+(could:$got)}"
	done < <(run_paths | sort -u)
}

dev=$("$SWAPEMU" attach --profile "$TOP/configs/stable.conf" --name f 2>/dev/null)
ok $? "attach a FUSE target ($dev)"
targets+=("$SWAPEMU_RUN_DIR/f/mnt/f" "$dev")
if [ -n "$nbd" ]; then
	ndev=$("$SWAPEMU" attach --nbd --profile "$TOP/configs/stable.conf" --name n 2>/dev/null)
	ok $? "attach an NBD target ($ndev)"
	targets+=("$SWAPEMU_RUN_DIR/n/mnt/n" "$ndev")
else
	diag "nbdkit, nbdfuse or the plugin missing: NBD target not checked"
fi
# Root can do everything the probes try (so a refusal below means a refusal).
got=$(probe command "$SWAPEMU_RUN_DIR/f/mnt/f")
check "root reads and writes the FUSE target file ($got)" test "$got" = " read write"
if [ -n "$nbd" ]; then
	got=$(probe command "$SWAPEMU_RUN_DIR/n/mnt/n")
	check "root reads and writes the NBD target file ($got)" test "$got" = " read write"
fi
got=$(probe command "$SWAPEMU_RUN_DIR/f/control.sock")
check "root connects to the control socket ($got)" test "$got" = " connect"

# The probing users are what they should be: a refusal below is not
# setpriv failing.
check "setpriv makes uid 65534 without groups" test "$(nobody id -u):$(nobody id -G)" = 65534:65534
got=$(probe nobody_dac "$SWAPEMU_RUN_DIR/f/effective.conf")
check "uid 65534 with CAP_DAC_OVERRIDE reads a root-only run file ($got)" test "$got" = " read write"

probe_all nobody "uid 65534 cannot reach"

bad=$(find "$SWAPEMU_RUN_DIR" -mindepth 0 -maxdepth 2 -perm /077 -printf '%m %p\n')
ok "$([ -z "$bad" ] && echo 0 || echo 1)" "no run directory, file or socket has group or other permissions"
[ -z "$bad" ] || diag "$bad"

# An admin opens the directories up: the files' modes still keep the user
# out, and default_permissions makes the kernel enforce the FUSE mount's.
opened=("$SWAPEMU_RUN_DIR" "$SWAPEMU_RUN_DIR"/*/)
chmod 755 "${opened[@]}"
probe_all nobody "with the run directories 0755, uid 65534 cannot reach" "${opened[@]}"
chmod 700 "$SWAPEMU_RUN_DIR" "$SWAPEMU_RUN_DIR"/*/

# With CAP_DAC_OVERRIDE the kernel's mode checks pass; the target files
# must still refuse a caller that is not root.
for t in "$SWAPEMU_RUN_DIR/f/mnt/f" ${nbd:+"$SWAPEMU_RUN_DIR/n/mnt/n"}; do
	got=$(probe nobody_dac "$t")
	ok "$([ -z "$got" ] && echo 0 || echo 1)" \
		"uid 65534 with CAP_DAC_OVERRIDE cannot open ${t#"$base"/} ${got:+(could:$got)}"
done

"$SWAPEMU" detach --all
ok $? "detach"
plan $_tap_n
done_testing
