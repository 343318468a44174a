# tests/scenarios-lib.sh - helpers for the scenario suite tests (sourced
# after lib.sh): per-scenario fields of the torture's JSON, with perl's
# core JSON::PP (perl is already needed by prove).

# scen FIELD NAME: the field of scenario NAME in the JSON on stdin.
scen() {
	perl -MJSON::PP -e '
		my $j = decode_json(join "", <STDIN>);
		for my $s (@{$j->{scenarios}}) {
			next unless $s->{name} eq $ARGV[1];
			my $v = $s->{$ARGV[0]};
			print defined $v ? $v : "null";
		}' "$1" "$2"
}

# scen_names: the scenario names in the JSON on stdin, one a line.
scen_names() {
	perl -MJSON::PP -e '
		my $j = decode_json(join "", <STDIN>);
		print "$_->{name}\n" for @{$j->{scenarios}};'
}

# scen_evidence NAME: "name=value" of every count of scenario NAME
# (everything numeric but the classification and timing).
scen_evidence() {
	perl -MJSON::PP -e '
		my $j = decode_json(join "", <STDIN>);
		for my $s (@{$j->{scenarios}}) {
			next unless $s->{name} eq $ARGV[0];
			for my $k (sort keys %$s) {
				next if $k =~ /^(name|verdict|reason|seconds|torn|modified|violations|clean|lost|corrupt|copied|kernel_findings|rounds)$/;
				next if $k =~ /^(main_seconds|swapout_mib_s|swapin_latency_us)$/; # timing
				next if $k =~ /^(leaks|pin_mismatches|missing_wp_faults|unexpected_wp_faults|writes_landed_before_fault|folios_split_at_swapout|reused_at_write|copied_at_write|child_writes_under_writeback)$/;
				print "$k=$s->{$k}\n";
			}
		}' "$1"
}

# run_suite PROFILE NAME: attach the profile as NAME and run every
# scenario on it (JSON in $json, exit status in $rc, time in $secs).
run_suite() {
	"$SWAPEMU" attach --profile "$TOP/configs/$1.conf" --name "$2" >/dev/null
	ok $? "attach $1.conf"
	local t0=$SECONDS
	json=$("$SWAPEMU" torture --target "$2" --scenario all --pages 256 \
		--swapouts 1000 --seconds 5 --json --quiet "${@:3}")
	rc=$?
	secs=$((SECONDS - t0))
	diag "$json"
}

# bad_scenarios [stable] < JSON: sets bad to " NAME:what" for every scenario
# that did not pass with all its evidence above 0 (with "stable": and 0 torn
# or modified) or skip with a reason; each scenario's verdict as a diag.
bad_scenarios() {
	local json s v r e
	json=$(cat)
	bad=
	for s in $(scen_names <<<"$json"); do
		v=$(scen verdict "$s" <<<"$json")
		r=$(scen reason "$s" <<<"$json")
		diag "$s: $v${r:+ ($r)}"
		case $v in
		pass)
			for e in $(scen_evidence "$s" <<<"$json"); do
				[ "${e#*=}" -gt 0 ] || bad+=" $s:$e"
			done
			[ "${1:-}" != stable ] ||
				[ "$(scen torn "$s" <<<"$json"):$(scen modified "$s" <<<"$json")" = 0:0 ] ||
				bad+=" $s:torn/modified"
			;;
		skip) [ -n "$r" ] || bad+=" $s:skip-without-reason" ;;
		*) bad+=" $s:$v (${r:0:300})" ;;
		esac
	done
}
