#!/bin/bash
# install.t - `make install DESTDIR=SCRATCH` gives a working swapemu outside
# the tree: the installed `swapemu attach`, `torture` and `detach` on the
# host kernel, `swapemu vm --boot-only` (where QEMU can boot here), the
# shipped profiles, and `man swapemu` with the other man pages. The
# installed copy is told where DESTDIR put it (SWAPEMU_LIBEXEC,
# SWAPEMU_SHARE), and runs from another directory, so nothing of the
# source tree can stand in for what was not installed.
. "$(dirname "$0")/lib.sh"
require_swap_env
requires make --version
requires man --version
plan 14

dest=$SWAPEMU_RUN_DIR/dest
prefix=/usr/local
make -s -C "$TOP" install DESTDIR="$dest" PREFIX="$prefix" >"$SWAPEMU_RUN_DIR/install.log" 2>&1
ok $? "make install DESTDIR=$dest"
[ -s "$SWAPEMU_RUN_DIR/install.log" ] && diag "$(tail -3 "$SWAPEMU_RUN_DIR/install.log")"

root=$dest$prefix
export SWAPEMU_LIBEXEC=$root/libexec/swapemu SWAPEMU_SHARE=$root/share/swapemu
unset SWAPEMU_CMD
S=$root/bin/swapemu
check "the command, programs, guest tools, VM runner and profiles are installed" \
	test -x "$S" -a -x "$SWAPEMU_LIBEXEC/swapemu-fuse" -a -x "$SWAPEMU_LIBEXEC/swapemu-torture" \
	-a -x "$SWAPEMU_LIBEXEC/vm/swapemu-torture.static" -a -x "$SWAPEMU_SHARE/vm/swapemu-vm" \
	-a -f "$SWAPEMU_SHARE/configs/stable.conf" -a -f "$SWAPEMU_SHARE/lib/sh/common.sh"
check "the installed command names the installed paths" \
	grep -q "^SWAPEMU_LIBEXEC=\${SWAPEMU_LIBEXEC:-$prefix/libexec/swapemu}" "$S"

cd "$SWAPEMU_RUN_DIR" || exit 1
out=$("$S" attach --profile "$SWAPEMU_SHARE/configs/stable.conf" --name inst 2>&1)
ok $? "installed swapemu attach: $out"
dev=$(awk '$1 ~ /^\/dev\/loop/ { print $1 }' /proc/swaps | while read -r d; do
	[ "$(losetup -n -O BACK-FILE "$d" 2>/dev/null)" = "$SWAPEMU_RUN_DIR/inst/mnt/inst" ] && echo "$d"; done)
check "the target is swap on its loop device (${dev:-none})" test -n "$dev"
json=$("$S" torture --target inst --pages 128 --swapouts 256 --modify-ms 2 --json --quiet 2>"$SWAPEMU_RUN_DIR/torture.err")
ok $? "installed swapemu torture runs"
check "torture swapped out and saw no damage ($(json_num swapouts <<<"$json") swap-outs, $(json_num lost <<<"$json") lost)" \
	test "$(json_num swapouts <<<"$json")" -ge 256 -a "$(json_num lost <<<"$json")" = 0 -a "$(json_num corrupt <<<"$json")" = 0
"$S" status inst | grep -q "^inst  *running"
ok $? "installed swapemu status"
"$S" detach inst >/dev/null 2>&1
ok $? "installed swapemu detach"
! grep -q "$SWAPEMU_RUN_DIR/inst" /proc/mounts /proc/swaps
ok $? "nothing of the target is left"

MANPATH=$root/share/man man -P cat swapemu 2>/dev/null | grep -q "swapemu attach"
ok $? "man swapemu shows the installed page"
for m in "8 swapemu-fuse" "5 swapemu.conf" "1 nbdkit-swapemu-plugin"; do
	# shellcheck disable=SC2086
	MANPATH=$root/share/man man -w $m >/dev/null 2>&1 || { diag "no man page $m"; false; } || break
done
ok $? "swapemu-fuse(8), swapemu.conf(5) and nbdkit-swapemu-plugin(1) are installed"

if [ -x /bin/busybox ] && command -v qemu-system-x86_64 >/dev/null; then
	out=$(timeout -k 10 300 "$S" vm --kernel-package "${SWAPEMU_VM_KERNEL_PACKAGE:-linux-image-cloud-amd64}" \
		--boot-only --quiet --json --out "$SWAPEMU_RUN_DIR/vm" 2>&1)
	rc=$?
	case $rc in
	0) ok 0 "installed swapemu vm --boot-only boots the guest" ;;
	2) skip "cannot prepare the kernel: $(tail -1 <<<"$out")" "installed swapemu vm --boot-only" ;;
	*) ok 1 "installed swapemu vm --boot-only (exit $rc: $(tail -1 <<<"$out"))" ;;
	esac
else
	skip "no QEMU or busybox-static" "installed swapemu vm --boot-only"
fi
"$S" help >/dev/null 2>&1
ok $? "installed swapemu help"
done_testing
