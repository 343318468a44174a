# vm/test-lib.sh - helpers for the tests of 'swapemu vm' (tests/vm*.t);
# sourced after tests/lib.sh.
#
# SWAPEMU_VM_KERNEL_PACKAGE chooses the kernel the tests boot: by default
# Debian's cloud flavour of the current kernel (on Debian 12, the 6.1
# series), which boots twice as fast under TCG as the generic flavour.

VM=$TOP/vm/swapemu-vm
VM_KPKG=${SWAPEMU_VM_KERNEL_PACKAGE:-linux-image-cloud-amd64}
VM_OUT=$SWAPEMU_RUN_DIR/out
export SWAPEMU_LIBEXEC=$BUILD

# After a failure, keep the runs' results (console logs, reports) where
# they survive the test's clean-up.
vm_keep_failed() {
	[ "$_tap_fail" = 1 ] && [ -d "$VM_OUT" ] || return 0
	local d
	d=$(mktemp -d /tmp/swapemu-vm-failed.XXXXXX) && cp -a "$VM_OUT/." "$d/" &&
		echo "# the failed runs' results are kept in $d"
}
trap 'vm_keep_failed; cleanup' EXIT

# Skips unless swapemu vm can boot the test kernel here; fetches it on the
# way (cached). Sets VM_BOOT_REPORT.
require_vm_env() {
	[ "$(id -u)" = 0 ] || skip_all "needs root"
	command -v qemu-system-x86_64 >/dev/null || skip_all "qemu-system-x86_64 is missing (apt-get install qemu-system-x86)"
	[ -x /bin/busybox ] || skip_all "busybox is missing (apt-get install busybox-static)"
	command -v gcc >/dev/null || skip_all "gcc is missing"
	[ -x "$BUILD/swapemu-fuse" ] && [ -x "$BUILD/swapemu-ctl" ] || skip_all "swapemu is not built"
	[ -c /dev/fuse ] || skip_all "no /dev/fuse"
	local out rc
	out=$(timeout -k 10 300 "$VM" --kernel-package "$VM_KPKG" --boot-only --quiet --json \
		--out "$VM_OUT/boot" 2>&1)
	rc=$?
	case $rc in
	0) VM_BOOT_REPORT=$out ;;
	2) skip_all "cannot prepare $VM_KPKG: $(tail -1 <<<"$out" | sed 's/^swapemu vm: //')" ;;
	*)
		local why
		why=$(json_s reason <<<"$out")
		skip_all "QEMU cannot boot $VM_KPKG here: ${why:-$(tail -1 <<<"$out")}"
		;;
	esac
}

# vm_run NAME ARGS...: runs swapemu vm with its results in $VM_OUT/NAME;
# sets VM_RC, VM_REPORT (report.json) and VM_TORTURE (the workload's JSON).
vm_run() {
	local name=$1
	shift
	rm -rf "${VM_OUT:?}/$name"
	timeout -k 20 580 "$VM" --kernel-package "$VM_KPKG" --out "$VM_OUT/$name" --json --quiet "$@" \
		>"$VM_OUT/$name.stdout" 2>"$VM_OUT/$name.stderr"
	VM_RC=$?
	VM_REPORT=$(cat "$VM_OUT/$name/report.json" 2>/dev/null)
	VM_TORTURE=$(cat "$VM_OUT/$name/torture.json" 2>/dev/null)
	local w
	w=$(json_num kernel_warnings <<<"$VM_REPORT")
	VM_WARNINGS=$((${VM_WARNINGS:-0} + ${w:-0}))
	diag "swapemu vm $* -> exit $VM_RC"
	[ -z "$VM_REPORT" ] || diag "$(sed 's/,"torture":.*//' <<<"$VM_REPORT")"
	[ -z "$VM_TORTURE" ] || diag "torture: $VM_TORTURE"
	[ -s "$VM_OUT/$name.stderr" ] && diag "stderr: $(tail -5 "$VM_OUT/$name.stderr")"
	return 0
}

# Shows the end of a run's console log (after a failure).
vm_console() { [ -f "$VM_OUT/$1/console.log" ] && diag "console: $(tail -${2:-15} "$VM_OUT/$1/console.log")"; }

# Nothing of swapemu vm is left on the host: no process that names the
# run directory (daemon, nbdkit, bridge, QEMU), no mount under it, no loop
# device backed by a file in it, no target directory.
vm_leftovers() {
	local left="" p
	p=$(ps -eo pid=,args= | grep -F "$SWAPEMU_RUN_DIR/" | grep -v grep |
		grep -E 'swapemu-fuse|nbdkit|swapemu-vm-bridge|qemu-system' | head -3)
	[ -z "$p" ] || left+="processes: $p; "
	grep -qF " $SWAPEMU_RUN_DIR/" /proc/mounts && left+="mounts: $(grep -F " $SWAPEMU_RUN_DIR/" /proc/mounts); "
	if command -v losetup >/dev/null; then
		p=$(losetup -l -n -O NAME,BACK-FILE 2>/dev/null | grep -F "$SWAPEMU_RUN_DIR/")
		[ -z "$p" ] || left+="loop devices: $p; "
	fi
	for p in "$SWAPEMU_RUN_DIR"/*/; do
		[ "$p" = "$VM_OUT/" ] || left+="target directory ${p%/}; "
	done
	[ -z "$left" ] || { diag "left behind: $left"; return 1; }
}
