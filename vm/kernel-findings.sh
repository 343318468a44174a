# vm/kernel-findings.sh - what counts as a kernel problem in a guest's
# console or kernel log, for swapemu vm (sourced; tests/vm-findings.t
# checks it on sample logs).
#
# BUG, Oops, WARNING, general protection fault, soft and hard lockups,
# hung tasks, RCU stalls, panic. Lines of /init ("swapemu-init: ...") are
# not the kernel's.
KPAT='kernel BUG at|BUG:|Oops|WARNING:|general protection fault|soft lockup|hard LOCKUP|blocked for more than [0-9]+ seconds|detected stalls? on|Kernel panic - not syncing'

# kfind FILE: the lines of FILE that report a kernel problem.
kfind() { tr -d '\r' <"$1" | grep -v '^swapemu-init:' | grep -E -- "$KPAT"; }

# ktrace FILE: the first trace: from the first such line (and the "cut
# here" line before it) to "end trace", the next line of /init, or 80
# lines.
ktrace() {
	tr -d '\r' <"$1" | awk -v pat="$KPAT" '
		/^swapemu-init:/ { if (p) exit; next }
		!p && $0 ~ pat { p = 1; if (prev ~ /cut here/) print prev }
		p { print; if (/---\[ end trace/ || ++n >= 80) exit }
		{ prev = $0 }'
}
