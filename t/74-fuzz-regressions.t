#!/usr/bin/perl
# Every input a fuzz target ever crashed on (t/fuzz/regressions/<target>/)
# and every seed (t/fuzz/corpus/<target>/) runs once through its libFuzzer
# target, built with ASan and UBSan (t/fuzz/build.sh).  Needs clang; no
# stack.  The fuzzing itself is make fuzz (t/fuzz/run).

use strict;
use warnings;
use Test::More;
use FindBin;

my $root = $ENV{TRACES_ROOT} // "$FindBin::Bin/..";
chomp(my $clang = `command -v clang || command -v clang-14`);
plan skip_all => 'clang is not installed (make fuzz needs it)' unless $clang;

my @targets = split ' ', `$root/t/fuzz/build.sh --list`;
my $out = `$root/t/fuzz/build.sh @targets 2>&1`;
is $?, 0, 'the fuzz targets build' or diag $out;

for my $t (@targets) {
    my @inputs = (glob("$root/t/fuzz/regressions/$t/*"), glob("$root/t/fuzz/corpus/$t/*"));
    next unless @inputs;
    my $log = `$root/var/build/fuzz/fuzz_$t -runs=1 @inputs 2>&1`;
    is $?, 0, "fuzz_$t: its " . scalar(@inputs) . ' regression and seed inputs pass'
        or diag join "\n", grep { /ERROR|assertion|runtime error|#\d+ / } split /\n/, $log;
}

done_testing;
