#!/bin/bash
# The scenarios fail on a broken kernel: guest kernels from
# vm/test-kernel/build, each with one check in the mm removed, make their
# scenario fail under configs/stable.conf with the check that caught it,
# exit status 1; the unbroken kernel built the same way passes (control).
# Never builds a kernel: it skips unless vm/test-kernel/build has the
# kernels cached (vm/test-kernel/README.md). Every 6.1 kernel below
# (about 10 s a run); SWAPEMU_BROKEN_KERNELS="PATCH ..." for fewer. Not
# here: fork-swap-pte-stays-exclusive (the fork scenario does not catch
# it, README) and the 6.12 large-folio kernel (another control).
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
)
sel=${SWAPEMU_BROKEN_KERNELS:-${!WANT[*]}}
names=() kernels=() scens=()
for p in $sel; do
	[ -n "${WANT[$p]:-}" ] || { echo "Bail out! no expectation for patch '$p'"; exit 1; }
	k=$("$KB" --check "$p") || continue
	names+=("$p") kernels+=("$k")
	scens+=("$(sed -n 's/^Scenario: *//p' "$TOP/vm/test-kernel/$p.patch")")
done
[ ${#names[@]} -gt 0 ] || skip_all "none of the kernels '$sel' is cached (run: vm/test-kernel/build PATCH)"
plan $((3 * ${#names[@]} + 3))

OUT=$VM_OUT
mkdir -p "$OUT"
vm() { # NAME KERNEL SCENARIOS: sets rc, rep (report.json), tj (the workload's JSON)
	timeout -k 20 580 "$TOP/swapemu" vm --kernel "$2" --name "bk-$$" --profile "$TOP/configs/stable.conf" \
		--scenario "$3" --json --quiet --out "$OUT/$1" >"$OUT/$1.stdout" 2>"$OUT/$1.stderr"
	rc=$?
	rep=$(cat "$OUT/$1/report.json" 2>/dev/null)
	tj=$(cat "$OUT/$1/torture.json" 2>/dev/null)
	diag "swapemu vm --kernel $(basename "$2") --scenario $3 -> exit $rc"
	[ -n "$tj" ] || diag "stderr: $(tail -3 "$OUT/$1.stderr")"
}

for k in "${!names[@]}"; do
	p=${names[$k]} s=${scens[$k]}
	vm "$p" "${kernels[$k]}" "$s"
	v=$(scen verdict "$s" <<<"$tj")
	r=$(scen reason "$s" <<<"$tj")
	diag "$s: $(scen_evidence "$s" <<<"$tj" | tr '\n' ' ')"
	check "$p: exit status 1 ($rc)" test "$rc" = 1
	check "$p: $s fails ($v: ${r:0:160})" test "$v" = fail
	check "$p: the reason names the check (/${WANT[$p]}/)" grep -Eq "${WANT[$p]}" <<<"$r"
done

all=$(printf '%s\n' "${scens[@]}" | sort -u | paste -sd,)
vm control "$CONTROL" "$all"
check "control kernel: exit status 0 ($rc)" test "$rc" = 0
bad=
for s in ${all//,/ }; do
	v=$(scen verdict "$s" <<<"$tj")
	diag "control $s: $v $(scen_evidence "$s" <<<"$tj" | tr '\n' ' ')"
	[ "$v" = pass ] || bad="$bad $s:$v"
done
check "control kernel: $all pass${bad:+ (not:$bad)}" test -z "$bad"
check "nothing left behind" vm_leftovers
done_testing
