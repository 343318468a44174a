# bench/lib.sh - sourced by the benchmarks that run FUSE targets: FUSE over
# io_uring, the kernel's switch as found and whether the target can run.
ENABLE_URING=/sys/module/fuse/parameters/enable_uring
uring_was=$(cat "$ENABLE_URING" 2>/dev/null || true)

# The kernel has FUSE over io_uring and io_uring is not switched off.
uring_usable() {
	[ -n "$uring_was" ] &&
		[ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" != 2 ]
}

# enable_uring as found: swapemu-fuse --transport=uring restores it itself
# once mounted; this covers a run stopped before that.
uring_restore() {
	[ -z "$uring_was" ] || [ "$(cat "$ENABLE_URING")" = "$uring_was" ] ||
		echo "$uring_was" >"$ENABLE_URING" || true
}
