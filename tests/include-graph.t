#!/usr/bin/perl
# tests/include-graph.t - the tree's include structure stays as designed:
#  1. no include circle between modules (a module is NAME.c with NAME.h and
#     its private NAME-internal.h in one folder: control.c including inject.h while inject.c includes
#     control.h is a circle, even though no header includes itself);
#  2. a file includes only headers of its own top-level folder, of common/
#     (the shared contracts: page stamp, generation table, VM mailbox,
#     clock, hash, memory protection) and lib/'s public headers.
# Includes resolve as the compiler does: the including file's folder first,
# then the -I folders of the Makefile (lib/, common/).
use strict;
use warnings;
use File::Basename qw(dirname basename);
use File::Find;
use Cwd qw(abs_path);

my $top = abs_path(dirname(__FILE__) . '/..');
chdir $top or die "$top: $!";
my @search = ('lib', 'common');    # the Makefile's -I folders
my %shared = map { $_ => 1 } ('common', 'lib');
my @roots = grep { -d } qw(lib common fusefs nbdplugin workload ctl injector
                           vm tests bench fuzz tools);

my @files;
find({ no_chdir => 1, wanted => sub { push @files, $File::Find::name if /\.[ch]$/ } },
     @roots);
@files = sort map { s{^\./}{}r } @files;

sub topdir { my ($p) = @_; return (split m{/}, $p)[0]; }
# NAME-internal.h is NAME's private header: part of module NAME.
sub module { my ($p) = @_; return $p =~ s/\.[ch]$//r =~ s/-internal$//r; }

my (%edges, @bad, $nincl);
for my $f (@files) {
	open my $fh, '<', $f or die "$f: $!";
	while (my $line = <$fh>) {
		next unless $line =~ /^\s*#\s*include\s+"([^"]+)"/;
		my $inc = $1;
		my $path;
		for my $dir (dirname($f), @search) {
			my $cand = "$dir/$inc";
			if (-f $cand) { $path = abs_path($cand); last; }
		}
		next unless $path;    # a system header spelled with quotes
		$path =~ s{^\Q$top\E/}{};
		$nincl++;
		my ($from, $to) = (topdir($f), topdir($path));
		push @bad, "$f:$.: includes $path (folder $to/ is not $from/, common/ or lib/)"
		    if $from ne $to && !$shared{$to};
		my ($mf, $mt) = (module($f), module($path));
		$edges{$mf}{$mt} = "$f:$." if $mf ne $mt;
	}
	close $fh;
}

# Circles: depth-first search over modules, reporting each cycle once.
my (%state, @stack, %seen_cycle, @cycles);
sub visit {
	my ($m) = @_;
	$state{$m} = 1;
	push @stack, $m;
	for my $n (sort keys %{ $edges{$m} || {} }) {
		if (($state{$n} // 0) == 1) {
			my @cyc = @stack[(grep { $stack[$_] eq $n } 0 .. $#stack)[0] .. $#stack];
			my $key = join ' ', sort @cyc;
			push @cycles, join(' -> ', @cyc, $n) . " ($edges{$m}{$n})"
			    unless $seen_cycle{$key}++;
		} elsif (!$state{$n}) {
			visit($n);
		}
	}
	pop @stack;
	$state{$m} = 2;
}
visit($_) for sort keys %edges;

print "1..3\n";
print(($nincl ? "ok" : "not ok") . " 1 - read $nincl project includes in " . scalar(@files) . " files\n");
print((@cycles ? "not ok" : "ok") . " 2 - no include circle between modules\n");
print "# circle: $_\n" for @cycles;
print((@bad ? "not ok" : "ok") . " 3 - every include stays in its folder, common/ or lib/\n");
print "# $_\n" for @bad;
exit((@cycles || @bad || !$nincl) ? 1 : 0);
