#!/bin/bash
# check-vm: 'swapemu vm' boots Debian's current kernel package (the 6.1
# series on Debian 12) under QEMU with a swapemu target as its only swap
# disk, and the torture workload in the guest gets the report a host run
# gets: with stable writes advertised nothing is torn or modified, without
# them nearly every swap-out is, and with the NBD front end (QEMU's client
# or the guest's) no page is lost.
# Skips when QEMU cannot boot that kernel here or the package cannot be
# fetched.
. "$(dirname "$0")/lib.sh"
. "$TOP/vm/test-lib.sh"
T0=$SECONDS
require_vm_env
plan 38

diag "boot only: $(sed 's/,"torture":.*//' <<<"$VM_BOOT_REPORT")"
accel=$(json_s accel <<<"$VM_BOOT_REPORT")
kernel=$(json_s kernel <<<"$VM_BOOT_REPORT")
check "the report says which accelerator ran the guest ($accel: $(json_s accel_reason <<<"$VM_BOOT_REPORT"))" \
	test "$accel" = tcg -o "$accel" = kvm
if grep -q '^12\.' /etc/debian_version 2>/dev/null && [ -z "${SWAPEMU_VM_KERNEL_PACKAGE:-}" ]; then
	check "Debian 12's current kernel package is a 6.1 kernel ($kernel)" grep -q '^6\.1\.' <<<"$kernel"
else
	ok 0 "kernel $kernel # SKIP not Debian 12's default package"
fi

# --- FUSE, stable.conf: the kernel copies every page faulted under writeback.
vm_run fuse-stable --profile "$TOP/configs/stable.conf" --front-end fuse \
	--pages 512 --swapouts 2000 --seconds 120 --modify-ms 10
R=$VM_REPORT T=$VM_TORTURE
check "stable (FUSE): the run completed" test "$VM_RC:$(json_s status <<<"$R")" = 0:ok
[ "$VM_RC" = 0 ] || vm_console fuse-stable
check "stable (FUSE): the guest wrote 1 to queue/stable_writes before swapon" test "$(json_num stable_writes <<<"$R")" = 1
n=$(json_num swapouts <<<"$T")
check "stable (FUSE): at least 2000 swap-outs ($n)" test "${n:-0}" -ge 2000
check "stable (FUSE): the counters came from the host device through the shared memory" \
	test "$(json_s profile <<<"$T"):$(json_num device_idle <<<"$T")" = stable.conf:true
check "stable (FUSE): 0 torn, 0 modified, 0 violations" \
	test "$(json_num torn <<<"$T"):$(json_num modified <<<"$T"):$(json_num violations <<<"$T")" = 0:0:0
check "stable (FUSE): 0 lost, 0 corrupt" test "$(json_num lost <<<"$T"):$(json_num corrupt <<<"$T")" = 0:0
uw=$(json_num under_writeback <<<"$T") cuw=$(json_num copied_under_writeback <<<"$T")
check "stable (FUSE): the kernel copied every page faulted under writeback ($cuw of $uw)" \
	test "${uw:-0}" -gt 0 -a "$cuw" = "$uw"
check "stable (FUSE): every page came back from the device ($(json_num swapins <<<"$T") swap-ins)" \
	test "$(json_num verified <<<"$T")" = 512 -a "$(json_num swapins <<<"$T")" -gt 0
check "stable (FUSE): nothing left behind" vm_leftovers

# --- FUSE, unstable.conf, capture delay (15 ms) shorter than the rewrite
# (40 ms): the device captures pages the guest is rewriting. (The shipped
# 3 ms catch 90-95% under TCG: the emulated guest takes about 3 ms from
# submitting a batch to its first rewrite, and more when the host is
# busy; vm/README.md.)
vm_run fuse-unstable --profile "$TOP/configs/unstable.conf" --set delay.capture=15ms \
	--front-end fuse --pages 512 --swapouts 2000 --seconds 120 --modify-ms 40
R=$VM_REPORT T=$VM_TORTURE
check "unstable (FUSE): the run completed" test "$VM_RC:$(json_s status <<<"$R")" = 0:ok
[ "$VM_RC" = 0 ] || vm_console fuse-unstable
check "unstable (FUSE): the guest wrote 0 to queue/stable_writes" test "$(json_num stable_writes <<<"$R")" = 0
n=$(json_num swapouts <<<"$T") t=$(json_num torn <<<"$T") m=$(json_num modified <<<"$T")
check "unstable (FUSE): at least 2000 swap-outs ($n)" test "${n:-0}" -ge 2000
check "unstable (FUSE): at least 90% torn or modified ($t + $m of $n)" \
	test $(((${t:-0} + ${m:-0}) * 100)) -ge $((${n:-1} * 90))
check "unstable (FUSE): 0 violations" test "$(json_num violations <<<"$T")" = 0
check "unstable (FUSE): 0 lost, 0 corrupt" test "$(json_num lost <<<"$T"):$(json_num corrupt <<<"$T")" = 0:0
check "unstable (FUSE): the kernel gave no copies" test "$(json_num copied_under_writeback <<<"$T")" = 0
check "unstable (FUSE): nothing left behind" vm_leftovers

# --- FUSE, unstable.conf, capture delay (20 ms) longer than the rewrite
# (2 ms): the captures are whole pages, newer than at swap-out. Only the
# generation table the guest shares with the host tells them from clean.
# More pages than swap-outs: no page is swapped out again (and its
# generation published anew) before its first write is captured.
vm_run fuse-late --profile "$TOP/configs/unstable.conf" --set delay.capture=20ms \
	--front-end fuse --pages 2048 --swapouts 1000 --seconds 120 --modify-ms 2
R=$VM_REPORT T=$VM_TORTURE
check "late capture (FUSE): the run completed" test "$VM_RC:$(json_s status <<<"$R")" = 0:ok
n=$(json_num swapouts <<<"$T") t=$(json_num torn <<<"$T") m=$(json_num modified <<<"$T")
check "late capture (FUSE): at least 90% modified after submission ($m of $n; torn $t)" \
	test $((${m:-0} * 100)) -ge $((${n:-1} * 90))
check "late capture (FUSE): 0 lost, 0 corrupt" test "$(json_num lost <<<"$T"):$(json_num corrupt <<<"$T")" = 0:0
check "late capture (FUSE): nothing left behind" vm_leftovers

# --- NBD: QEMU's NBD client sends a copy, so the capture delay cannot
# expose the guest's pages; the report says how many changes it saw.
vm_run nbd-unstable --profile "$TOP/configs/unstable.conf" --front-end nbd \
	--pages 512 --swapouts 2000 --seconds 120 --modify-ms 10
R=$VM_REPORT T=$VM_TORTURE
check "unstable (NBD): the run completed" test "$VM_RC:$(json_s status <<<"$R")" = 0:ok
[ "$VM_RC" = 0 ] || vm_console nbd-unstable
n=$(json_num swapouts <<<"$T")
check "unstable (NBD): at least 2000 swap-outs ($n)" test "${n:-0}" -ge 2000
check "unstable (NBD): 0 lost, 0 corrupt" test "$(json_num lost <<<"$T"):$(json_num corrupt <<<"$T")" = 0:0
check "unstable (NBD): every page came back from the device" test "$(json_num verified <<<"$T")" = 512
seen=$(json_num modifications_seen <<<"$R")
check "unstable (NBD): the report states the modifications it could see ($seen of $n)" \
	test -n "$seen" -a "$seen" = $(($(json_num torn <<<"$T") + $(json_num modified <<<"$T")))
check "unstable (NBD): the report says where the device captures ($(json_s capture_point <<<"$R" | cut -c1-60)...)" \
	grep -q 'NBD' <<<"$(json_s capture_point <<<"$R")"
check "unstable (NBD): the device's statistics are in the report" \
	grep -q '"device":{"profile":"unstable.conf"' <<<"$R"
check "unstable (NBD): nothing left behind" vm_leftovers

# --- NBD through the guest kernel's own NBD client (nbd0 over QEMU's
# user network): also a copy at send time.
vm_run nbd-guest --profile "$TOP/configs/unstable.conf" --front-end nbd --nbd-client guest \
	--pages 512 --swapouts 1000 --seconds 120 --modify-ms 10
R=$VM_REPORT T=$VM_TORTURE
check "unstable (guest NBD client): the run completed on nbd0" \
	test "$VM_RC:$(json_s status <<<"$R"):$(json_s swap_device <<<"$R")" = 0:ok:/dev/nbd0
[ "$VM_RC" = 0 ] || vm_console nbd-guest
check "unstable (guest NBD client): 0 lost, 0 corrupt, every page back" \
	test "$(json_num lost <<<"$T"):$(json_num corrupt <<<"$T"):$(json_num verified <<<"$T")" = 0:0:512
seen=$(json_num modifications_seen <<<"$R")
check "unstable (guest NBD client): the report states the modifications it could see ($seen of $(json_num swapouts <<<"$T"))" \
	test -n "$seen" -a "$(json_s nbd_client <<<"$R")" = guest
check "unstable (guest NBD client): nothing left behind" vm_leftovers

# The guest's kernel log comes back with every run.
check "the guest's kernel log was collected" grep -q 'Linux version' "$VM_OUT/nbd-unstable/guest-dmesg.log"
check "no kernel warnings in any guest's log ($VM_WARNINGS)" test "$VM_WARNINGS" = 0
check "check-vm took less than 10 minutes ($((SECONDS - T0)) s)" test $((SECONDS - T0)) -lt 600
done_testing
