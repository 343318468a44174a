#!/bin/bash
# vm-baseline: the kernel-native guest baselines of 'swapemu vm' (no
# swapemu device): swap on a virtio disk backed by a plain tmpfs file on
# the host shows the guest kernel's own stable-writes behaviour (with
# stable_writes 1 it copies every page written under writeback, with 0
# none), and zram runs where the guest kernel has it; a kernel without it
# fails with one line. Skips when QEMU cannot boot the kernel here.
. "$(dirname "$0")/lib.sh"
. "$TOP/vm/test-lib.sh"
T0=$SECONDS
require_vm_env
plan 20

TARGS=(--pages 512 --swapouts 2000 --seconds 60 --modify-ms 10)

# --- virtio disk over a tmpfs file, stable_writes 1: the kernel copies.
vm_run virtio-sw1 --baseline virtio --stable-writes 1 "${TARGS[@]}"
R=$VM_REPORT T=$VM_TORTURE
check "virtio, stable_writes 1: the run completed on /dev/vda" \
	test "$VM_RC:$(json_s status <<<"$R"):$(json_s swap_device <<<"$R")" = 0:ok:/dev/vda
[ "$VM_RC" = 0 ] || vm_console virtio-sw1
check "virtio, stable_writes 1: the guest read 1 back from queue/stable_writes" \
	test "$(json_num stable_writes <<<"$R")" = 1
uw=$(json_num under_writeback <<<"$T") cuw=$(json_num copied_under_writeback <<<"$T")
check "virtio, stable_writes 1: the kernel copied every page written under writeback ($cuw of $uw)" \
	test "${uw:-0}" -gt 0 -a "$cuw" = "$uw"
check "virtio, stable_writes 1: 0 lost, 0 corrupt, every page back" \
	test "$(json_num lost <<<"$T"):$(json_num corrupt <<<"$T"):$(json_num verified <<<"$T")" = 0:0:512
check "virtio, stable_writes 1: no device, so nothing is classified (torn, device null)" \
	test "$(json_num torn <<<"$T"):$(json_num modifications_seen <<<"$R"):$(json_num device <<<"$R")" = null:null:null
check "virtio, stable_writes 1: the report names the baseline" test "$(json_s baseline <<<"$R")" = virtio
check "virtio, stable_writes 1: nothing left behind (tmpfs, QEMU, run directory)" vm_leftovers

# --- the same with stable_writes 0: the kernel copies none.
vm_run virtio-sw0 --baseline virtio --stable-writes 0 "${TARGS[@]}"
R=$VM_REPORT T=$VM_TORTURE
check "virtio, stable_writes 0: the run completed" test "$VM_RC:$(json_s status <<<"$R")" = 0:ok
[ "$VM_RC" = 0 ] || vm_console virtio-sw0
check "virtio, stable_writes 0: the guest read 0 back from queue/stable_writes" \
	test "$(json_num stable_writes <<<"$R")" = 0
uw=$(json_num under_writeback <<<"$T") cuw=$(json_num copied_under_writeback <<<"$T")
check "virtio, stable_writes 0: pages were written under writeback and none was copied ($cuw of $uw)" \
	test "${uw:-0}" -gt 0 -a "$cuw" = 0
check "virtio, stable_writes 0: 0 lost, 0 corrupt" \
	test "$(json_num lost <<<"$T"):$(json_num corrupt <<<"$T")" = 0:0
check "virtio, stable_writes 0: nothing left behind" vm_leftovers

# --- zram in the guest, where the kernel has it.
vm_run zram --baseline zram "${TARGS[@]}"
R=$VM_REPORT T=$VM_TORTURE
why=$(json_s reason <<<"$R")
if [ "$VM_RC" != 0 ] && grep -q 'has no zram' <<<"$why$(cat "$VM_OUT/zram.stderr")"; then
	for d in "on /dev/zram0" "0 lost, 0 corrupt" "stable_writes and compressor reported"; do
		ok 0 "zram: $d # SKIP ${why:-$(tail -1 "$VM_OUT/zram.stderr")}"
	done
else
	check "zram: the run completed on /dev/zram0" \
		test "$VM_RC:$(json_s status <<<"$R"):$(json_s swap_device <<<"$R")" = 0:ok:/dev/zram0
	[ "$VM_RC" = 0 ] || vm_console zram
	check "zram: 0 lost, 0 corrupt, every page back" \
		test "$(json_num lost <<<"$T"):$(json_num corrupt <<<"$T"):$(json_num verified <<<"$T")" = 0:0:512
	sw=$(json_num stable_writes <<<"$R") comp=$(json_s zram_compressor <<<"$R")
	check "zram: the driver's stable_writes ($sw) and compressor ($comp) are reported" \
		test -n "$comp" -a \( "$sw" = 0 -o "$sw" = 1 \)
fi
check "zram: nothing left behind" vm_leftovers

# --- a kernel without zram (the same bzImage without its modules): one line.
kimg=$(json_s kernel_image <<<"$VM_BOOT_REPORT")
timeout -k 20 300 "$VM" --kernel "$kimg" --baseline zram --pages 64 --json --quiet \
	--out "$VM_OUT/nozram" >"$VM_OUT/nozram.stdout" 2>"$VM_OUT/nozram.stderr"
rc=$?
R=$(cat "$VM_OUT/nozram/report.json" 2>/dev/null)
check "zram without zram in the kernel: exit 1, status failed, one reason ($(json_s reason <<<"$R"))" \
	test "$rc:$(json_s status <<<"$R")" = 1:failed -a -n "$(json_s reason <<<"$R" | grep 'this kernel has no zram')"
check "zram without zram in the kernel: nothing left behind" vm_leftovers

# --- usage: one line.
out=$("$VM" --kernel "$kimg" --baseline virtio 2>&1)
rc=$?
check "--baseline virtio without --stable-writes is refused with one line ($out)" \
	test "$rc" = 2 -a "$(wc -l <<<"$out")" = 1 -a -n "$(grep -- '--stable-writes' <<<"$out")"

check "no kernel warnings in any guest's log (${VM_WARNINGS:-0})" test "${VM_WARNINGS:-0}" = 0
diag "took $((SECONDS - T0)) s"
done_testing
