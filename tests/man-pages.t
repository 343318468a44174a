#!/bin/bash
# The man pages: every POD source passes podchecker (no error, no warning)
# and builds with pod2man; make built them; swapemu(1) has a section for
# every command that 'swapemu --help' lists, every long option its --help
# (and the command's own --help) shows in that section, and every inject
# control command; swapemu-fuse(8) has every option of 'swapemu-fuse --help';
# every SWAPEMU_* variable the commands read is in ENVIRONMENT. The checker
# is also run on copies with one entry removed, to show that it notices.
. "$(dirname "$0")/lib.sh"
trap 'rm -rf "$SWAPEMU_RUN_DIR"' EXIT
command -v pod2man >/dev/null || skip_all "no pod2man (perl)"
command -v podchecker >/dev/null || skip_all "no podchecker (perl)"
[ -x "$BUILD/swapemu-fuse" ] || skip_all "swapemu-fuse not built"
[ -x "$BUILD/swapemu-torture" ] || skip_all "swapemu-torture not built"
[ -f "$BUILD/swapemu.conf.pod" ] || skip_all "swapemu.conf.pod not generated (make)"
plan 13

TMP=$SWAPEMU_RUN_DIR
SW_POD=$TOP/man/swapemu.pod
FUSE_POD=$TOP/fusefs/swapemu-fuse.pod
PODS=("$SW_POD" "$FUSE_POD" "$TOP/nbdplugin/nbdkit-swapemu-plugin.pod" "$BUILD/swapemu.conf.pod")

# podchecker's verdict: its messages when it found an error or a warning.
pod_problems() {
	local out rc
	out=$(podchecker -warnings "$1" 2>&1)
	rc=$?
	case "$out" in *ERROR* | *WARNING*) rc=1 ;; esac
	[ $rc = 0 ] || echo "$out"
}

# The body of one =head2 section of a POD file, up to the next =head1/2.
pod_section() { # FILE HEADING
	awk -v h="$2" '/^=head[12] / { on = ($0 == "=head2 " h); next } on' "$1"
}

# Whether TEXT (stdin) holds OPTION as a whole word (not --json-x, --jsonx).
has_option() { grep -qE -- "(^|[^a-zA-Z0-9-])$1(\$|[^a-zA-Z0-9-])"; }

MAIN_HELP=$("$SWAPEMU" --help)
# The commands of 'swapemu --help': its lines indented by two spaces.
COMMANDS=$(sed -n 's/^  \([a-z][a-z-]*\)\( .*\)\?$/\1/p' <<<"$MAIN_HELP")
# One command's block of 'swapemu --help', up to the next command.
help_block() { awk -v c="$1" '/^  [a-z]/ { split($0, w, " "); on = (w[1] == c) } on' <<<"$MAIN_HELP"; }
# A command's long options: from its block of 'swapemu --help' and, when it
# has one of its own, from 'swapemu CMD --help'.
command_options() {
	local own
	own=$("$SWAPEMU" "$1" --help 2>&1)
	{
		help_block "$1"
		[ "$own" = "$MAIN_HELP" ] || echo "$own"
	} | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}
# The control commands of 'swapemu inject': its block's lines indented by 8.
INJECT_COMMANDS=$(help_block inject | sed -n 's/^        \([a-z]\+\)\( .*\)\?$/\1/p')

# What swapemu(1) at POD lacks, one 'COMMAND OPTION' a line: each option
# must head an =item of its command's section (a synopsis is not enough).
swapemu_missing() { # POD
	local c o sect
	for c in $COMMANDS; do
		sect=$(pod_section "$1" "swapemu $c")
		if [ -z "$sect" ]; then
			echo "$c (no '=head2 swapemu $c' section)"
			continue
		fi
		for o in $(command_options "$c"); do
			grep '^=item ' <<<"$sect" | has_option "$o" || echo "$c $o"
		done
	done
	sect=$(pod_section "$1" "swapemu inject")
	for c in $INJECT_COMMANDS; do
		grep -q "^=item B<$c>" <<<"$sect" || echo "inject $c (no '=item B<$c>')"
	done
}

# The options of 'swapemu-fuse --help': its lines that start with one.
fuse_options() { "$BUILD/swapemu-fuse" --help | grep -E '^ +-' | grep -oE -- '(^|[ ,])--?[a-zA-Z][a-z0-9-]*' | tr -d ' ,'; }

# What swapemu-fuse(8) at POD lacks of 'swapemu-fuse --help'.
fuse_missing() { # POD
	local o
	for o in $(fuse_options | sort -u); do
		grep -q "^=item .*B<$o>" "$1" || echo "$o"
	done
}

# Every SWAPEMU_* variable the user-facing commands read with a default.
ENV_VARS=$(cat "$TOP/swapemu" "$TOP/vm/swapemu-vm" "$TOP"/tools/compare "$TOP"/tools/serve.sh \
	"$TOP"/lib/*.c "$TOP"/ctl/*.c 2>/dev/null |
	grep -oE '\$\{SWAPEMU_[A-Z_]+:-|environ\.get\("SWAPEMU_[A-Z_]+"|getenv\("SWAPEMU_[A-Z_]+"\)' |
	grep -oE 'SWAPEMU_[A-Z_]+' | sort -u)
env_missing() { # POD
	local v env
	env=$(awk '/^=head1 / { on = ($0 == "=head1 ENVIRONMENT"); next } on' "$1")
	for v in $ENV_VARS; do
		grep -q "^=item B<$v>" <<<"$env" || echo "$v"
	done
}

# 1: podchecker clean
bad=""
for p in "${PODS[@]}"; do
	out=$(pod_problems "$p")
	[ -z "$out" ] || { bad+=" $(basename "$p")"; diag "$out"; }
done
ok "$([ -z "$bad" ] && echo 0 || echo 1)" "podchecker finds no error or warning in ${#PODS[@]} pages${bad:+ (bad:$bad)}"

# 2: pod2man builds each, and the page renders with its NAME
bad=""
for p in "${PODS[@]}"; do
	n=$(basename "$p" .pod)
	pod2man --section=1 --name="$n" "$p" "$TMP/$n.man" 2>"$TMP/err" && [ -s "$TMP/$n.man" ] &&
		grep -q '^\.SH "\?NAME' "$TMP/$n.man" || { bad+=" $n"; diag "$(cat "$TMP/err")"; }
done
ok "$([ -z "$bad" ] && echo 0 || echo 1)" "pod2man builds every page${bad:+ (failed:$bad)}"

# 3: make built them
missing=""
for m in swapemu.1 swapemu-fuse.8 swapemu.conf.5 nbdkit-swapemu-plugin.1; do
	[ -s "$BUILD/$m" ] || missing+=" $m"
done
ok "$([ -z "$missing" ] && echo 0 || echo 1)" "make built the man pages${missing:+ (missing:$missing)}"

# 4: the commands were found (a parser that finds nothing would pass 5-8)
n=$(wc -w <<<"$COMMANDS")
ok "$([ "$n" -ge 9 ] && [ -n "$(command_options torture)" ] && [ "$(wc -w <<<"$INJECT_COMMANDS")" -ge 10 ] &&
	echo 0 || echo 1)" "swapemu --help lists $n commands ($(echo $COMMANDS)), inject $(wc -w <<<"$INJECT_COMMANDS") control commands"

# 5: swapemu(1) documents every command, option and control command
out=$(swapemu_missing "$SW_POD")
[ -z "$out" ] || diag "swapemu(1) lacks: $(echo $out)"
ok "$([ -z "$out" ] && echo 0 || echo 1)" "swapemu(1): every command, each option of its --help in its section, every inject command"

# 6: the check notices a removed option (torture --rounds), though the
# synopsis still names it
sed 's/^=item B<--rounds> R$/=item B<--ROUNDS> R/' "$SW_POD" >"$TMP/no-rounds.pod"
out=$(swapemu_missing "$TMP/no-rounds.pod")
ok "$([ "$out" = "torture --rounds" ] && echo 0 || echo 1)" "without torture's --rounds item, the check reports exactly: $(echo ${out:-nothing})"

# 7: ... an option documented only in another command's section (vm --include)
awk '/^=item B<--include>/ { skip = 1; next } skip && /^=item|^=back/ { skip = 0 } !skip' "$SW_POD" |
	sed '/^=head2 swapemu vm/,/^=head2 /{/--include/d}' >"$TMP/no-include.pod"
out=$(swapemu_missing "$TMP/no-include.pod")
ok "$([ "$out" = "vm --include" ] && echo 0 || echo 1)" "without vm's --include, the check reports exactly: $(echo ${out:-nothing})"

# 8: ... a removed command section and a removed inject command
sed -e 's/^=head2 swapemu serve$/=head2 swapemu serving/' -e 's/^=item B<release>$/=item release/' \
	"$SW_POD" >"$TMP/no-serve.pod"
out=$(swapemu_missing "$TMP/no-serve.pod" | tr '\n' ';')
ok "$([ "$out" = "serve (no '=head2 swapemu serve' section);inject release (no '=item B<release>');" ] &&
	echo 0 || echo 1)" "without the serve section and inject's release, the check reports both: ${out:-nothing}"

# 9: swapemu-fuse(8) documents every option of swapemu-fuse --help
opts=$(fuse_options | sort -u | wc -l)
out=$(fuse_missing "$FUSE_POD")
[ -z "$out" ] || diag "swapemu-fuse(8) lacks: $(echo $out)"
ok "$([ -z "$out" ] && [ "$opts" -ge 20 ] && echo 0 || echo 1)" "swapemu-fuse(8): all $opts short and long options of its --help"

# 10: ... and the check notices a removed one
sed 's/^=item B<-t>, B<--capture-threads> N$/=item B<-t> N/' "$FUSE_POD" >"$TMP/fuse.pod"
out=$(fuse_missing "$TMP/fuse.pod")
ok "$([ "$out" = "--capture-threads" ] && echo 0 || echo 1)" "without --capture-threads, the check reports exactly: $(echo ${out:-nothing})"

# 11: every SWAPEMU_* variable read by the commands is in ENVIRONMENT
out=$(env_missing "$SW_POD")
[ -z "$out" ] || diag "swapemu(1) ENVIRONMENT lacks: $(echo $out)"
ok "$([ -z "$out" ] && [ "$(wc -w <<<"$ENV_VARS")" -ge 5 ] && echo 0 || echo 1)" \
	"swapemu(1) ENVIRONMENT: $(echo $ENV_VARS)"

# 12: ... and the check notices a removed one
sed 's/^=item B<SWAPEMU_CTL_TIMEOUT>$/=item SWAPEMU_CTL_TIMEOUT/' "$SW_POD" >"$TMP/env.pod"
out=$(env_missing "$TMP/env.pod")
ok "$([ "$out" = SWAPEMU_CTL_TIMEOUT ] && echo 0 || echo 1)" "without SWAPEMU_CTL_TIMEOUT, the check reports exactly: $(echo ${out:-nothing})"

# 13: podchecker's verdict fails a broken page (an =over without =back)
sed '0,/^=back$/{/^=back$/d}' "$SW_POD" >"$TMP/broken.pod"
out=$(pod_problems "$TMP/broken.pod")
ok "$([ -n "$out" ] && echo 0 || echo 1)" "podchecker fails a page with an =over and no =back: $(head -1 <<<"$out")"

done_testing
