#!/bin/bash
# Each scenario can fail: on a broken setup the suite reports the failure
# with the check that caught it, and exits 1.
#  - stable-missing.conf (require = yes, advertise = no): the kernel
#    modifies pages under writeback; every scenario that writes a page
#    under writeback in place fails with stable-write violations (all but
#    fork, where the kernel copies every page since the swap entries are
#    shared).
#  - --test-break (test-only damage): corrupt (a word of a page changed
#    behind the kernel's back), lose (a page back to its previous
#    generation), kmsg (a WARNING written to /dev/kmsg), fork-leak (a page
#    copied between parent and child), uffd-no-wp (the pages are not
#    write-protected, so the expected faults do not come), pin-stale (the
#    pinned view compared with the wrong generation), ksm-unmergeable (no
#    MADV_MERGEABLE: nothing merged, the path not exercised).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scenarios-lib.sh"
require_swap_env
[ -x "$BUILD/swapemu-torture" ] || skip_all "swapemu-torture not built"
plan 17

run_suite stable-missing sm
check "stable-missing: exit status 1 ($rc)" test "$rc" = 1
# fork is not here: after fork() the swap entries are shared, so the
# kernel copies every page written anyway (measured: 0 torn, 0 modified).
for s in write read-write mprotect pin ksm uffd-wp large-folio; do
	r=$(scen reason "$s" <<<"$json")
	v=$(scen verdict "$s" <<<"$json")
	check "stable-missing: $s fails with violations, or skips ($v: $r)" \
		test "$v" = skip -o "$(grep -c "stable-write violations" <<<"$r")" = 1
done
"$SWAPEMU" detach sm

run_suite stable br --test-break corrupt,lose,kmsg,fork-leak,uffd-no-wp,pin-stale,ksm-unmergeable
check "broken: exit status 1 ($rc)" test "$rc" = 1
check "broken: the kernel finding is reported" grep -q '"kernel_findings":\["swapemu-torture test-break: WARNING' <<<"$json"
r=$(scen reason write <<<"$json")
check "write: lost and corrupt pages found ($r)" grep -q "1 lost, 1 corrupt" <<<"$r"
check "fork: leaks found" grep -q "leak child to parent" <<<"$(scen reason fork <<<"$json")"
check "uffd-wp: missing write-protect faults" grep -q "raised no write-protect fault" <<<"$(scen reason uffd-wp <<<"$json")"
check "pin: the pin disagrees with the mapping" grep -q "differs between the pin and the mapping" <<<"$(scen reason pin <<<"$json")"
check "ksm: nothing merged is a failure" grep -q "pages_merged is 0" <<<"$(scen reason ksm <<<"$json")"
done_testing
