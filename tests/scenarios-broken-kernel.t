#!/bin/bash
# The scenarios fail on a broken kernel: guest kernels from
# vm/test-kernel/build, each with one check in the mm removed, make their
# scenario fail under configs/stable.conf with the check that caught it,
# exit status 1; the unbroken kernel built the same way passes (control).
# Never builds a kernel: it skips unless vm/test-kernel/build has the
# kernels cached (vm/test-kernel/README.md). Every 6.1 kernel below
# (about 10 s a run); SWAPEMU_BROKEN_KERNELS="PATCH ..." for fewer. Not
# here: the 6.12 large-folio kernel (another series, another control).
# A patch's "Swapemu-vm:" and "Swapemu-vm-broken:" options apply to its
# own run; the control runs the profile as shipped (none of the 6.1
# patches has a "Swapemu-vm:" line for both).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scenarios-lib.sh"
. "$TOP/vm/test-lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root"
command -v qemu-system-x86_64 >/dev/null || skip_all "qemu-system-x86_64 is missing"
[ -x "$BUILD/swapemu-fuse" ] && [ -x "$BUILD/vm/swapemu-torture.static" ] || skip_all "swapemu is not built"
[ -c /dev/fuse ] || skip_all "no /dev/fuse"
KB=$TOP/vm/test-kernel/build
CONTROL=$("$KB" --check none) || skip_all "no cached test kernel (run: vm/test-kernel/build none)"

# What each patch's scenario must say (the check that caught it; ERE).
declare -A WANT=(
	[write-stable-writes-ignored]="stable-write violations"
	[read-write-reuse-under-writeback]="stable-write violations"
	[uffd-wp-bit-dropped-at-swapin]="raised no write-protect fault"
	[ksm-page-reused]="showed in page [0-9]* of its KSM pair"
	[mprotect-shared-pte-made-writable]="stable-write violations"
	[pin-gup-writes-readonly-pte]="differs between the pin and the mapping|stable-write violations"
	# The kernel's own check in do_swap_page() stops it: status kernel-bug.
	[fork-swap-pte-stays-exclusive]="kernel BUG at mm/memory.c|leak"
)
sel=${SWAPEMU_BROKEN_KERNELS:-${!WANT[*]}}
names=() kernels=() scens=() vmargs=()
for p in $sel; do
	[ -n "${WANT[$p]:-}" ] || { echo "Bail out! no expectation for patch '$p'"; exit 1; }
	k=$("$KB" --check "$p") || continue
	names+=("$p") kernels+=("$k")
	scens+=("$(sed -n 's/^Scenario: *//p' "$TOP/vm/test-kernel/$p.patch")")
	vmargs+=("$(sed -n 's/^Swapemu-vm\(-broken\)\?: *//p' "$TOP/vm/test-kernel/$p.patch" | paste -sd' ')")
done
[ ${#names[@]} -gt 0 ] || skip_all "none of the kernels '$sel' is cached (run: vm/test-kernel/build PATCH)"
plan $((3 * ${#names[@]} + 3))

OUT=$VM_OUT
mkdir -p "$OUT"
vm() { # NAME KERNEL SCENARIOS [VM-ARGS]: sets rc, rep (report.json), tj (the workload's JSON)
	# shellcheck disable=SC2086
	timeout -k 20 580 "$TOP/swapemu" vm --kernel "$2" --name "bk-$$" --profile "$TOP/configs/stable.conf" \
		--scenario "$3" --json --quiet --out "$OUT/$1" ${4:-} >"$OUT/$1.stdout" 2>"$OUT/$1.stderr"
	rc=$?
	rep=$(cat "$OUT/$1/report.json" 2>/dev/null)
	tj=$(cat "$OUT/$1/torture.json" 2>/dev/null)
	diag "swapemu vm --kernel $(basename "$2") --scenario $3 ${4:-}-> exit $rc"
	[ -n "$tj" ] || diag "stderr: $(tail -3 "$OUT/$1.stderr")"
}

for k in "${!names[@]}"; do
	p=${names[$k]} s=${scens[$k]}
	vm "$p" "${kernels[$k]}" "$s" "${vmargs[$k]}"
	v=$(scen verdict "$s" <<<"$tj" 2>/dev/null)
	r=$(scen reason "$s" <<<"$tj" 2>/dev/null)
	st=$(json_s status <<<"$rep")
	# No verdict when the kernel stopped the run: then the run's reason.
	[ -n "$v" ] || r=$(json_s reason <<<"$rep")
	diag "$s: $(scen_evidence "$s" <<<"$tj" 2>/dev/null | tr '\n' ' ')"
	check "$p: exit status 1 ($rc)" test "$rc" = 1
	check "$p: $s fails ($st, ${v:-no verdict}: ${r:0:160})" test "$v" = fail -o "$st" = kernel-bug
	check "$p: the reason names the check (/${WANT[$p]}/)" grep -Eq "${WANT[$p]}" <<<"$r"
done

# The control: the unbroken kernel, the profile as shipped.
all=$(printf '%s\n' "${scens[@]}" | sort -u | paste -sd,)
vm control "$CONTROL" "$all"
check "control kernel: exit status 0 ($rc)" test "$rc" = 0
bad=
for s in ${all//,/ }; do
	v=$(scen verdict "$s" <<<"$tj" 2>/dev/null)
	diag "control $s: $v $(scen_evidence "$s" <<<"$tj" 2>/dev/null | tr '\n' ' ')"
	[ "$v" = pass ] || bad="$bad $s:$v"
done
check "control kernel: $all pass${bad:+ (not:$bad)}" test -z "$bad"
check "nothing left behind" vm_leftovers
done_testing
