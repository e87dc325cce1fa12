#!/usr/bin/perl
# Near the end of the suite: every request the tests made has ended.  The
# workers are replaced (HUP); an old worker exits once no request holds a
# timer, and nginx names each connection it then finds still open ("open
# socket left in connection"): a request the module never ended.  Nothing
# of the whole run is logged at alert level, no worker died on a signal.
# (The harness looks once more after the final stop.)

use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Traces::Test;

ok nginx_reload(), 'reload: every old worker has finished its requests and exited';
ok wait_until(sub { (api(client(), GET => '/api/health'))[0] == 200 }, 10), 'the new workers serve';

my $log = nginx_error_log();
my @open = $log =~ /^(.*open socket .* left in connection .*)$/mg;
is scalar @open, 0, 'no request was left open when its worker exited'
    or diag join "\n", @open[0 .. ($#open < 9 ? $#open : 9)];
my @alerts = $log =~ /^(.*(?:\[alert\]|\[emerg\]|exited on signal).*)$/mg;
is scalar @alerts, 0, 'nothing at alert level, no worker died on a signal'
    or diag join "\n", @alerts[0 .. ($#alerts < 9 ? $#alerts : 9)];

done_testing;
