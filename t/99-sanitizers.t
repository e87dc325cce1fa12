#!/usr/bin/perl
# Last of the suite: under make test SANITIZE=1 (nginx loading the module
# built with AddressSanitizer and UBSan), no sanitizer report at all.
# The workers are replaced (HUP) first so that their exit-time leak checks
# run; the master's runs when the harness stops the stack, and the harness
# checks the reports once more then (t/sanitizers/check).

use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Traces::Test;
use Time::HiRes qw(sleep);

my $dir = $ENV{TRACES_SANITIZER_LOGS};
plan skip_all => 'not a sanitized run (make test SANITIZE=1)'
    unless $dir && -d $dir && ($ENV{TRACES_SANITIZE} // '') eq '1';

ok nginx_reload(), 'reload: every old worker has exited and run its leak check';
ok wait_until(sub { (api(client(), GET => '/api/health'))[0] == 200 }, 10), 'the new workers serve';
sleep 1;

my $out = `$ENV{TRACES_ROOT}/t/sanitizers/check $dir 2>&1`;
my $rc = $? >> 8;
my ($files, $mine) = $out =~ /(\d+) report file\(s\), (\d+) mentioning the module/;
is $mine, 0, 'no sanitizer report mentions the module';
is $rc, 0, 'no sanitizer report at all (unsuppressed)' or diag $out;

done_testing;
