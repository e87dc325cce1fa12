#!/usr/bin/perl
# nginx reloaded (SIGHUP) three times while wrk loads a gated JSON location
# and the health check: the sessions survive (every answer of /api/me stays
# 200), and no request fails beyond the keep-alive connections the old
# workers close.  About 12 s.

use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Traces::Test;

# the database layer and reloads do not depend on the sign-in protocol: once
# per make test is enough (the OpenID Connect pass)
plan skip_all => 'run in the OpenID Connect pass'
    if ($ENV{TRACES_PROTOCOL} // 'oidc') eq 'cas';
use Traces::Load;
use Time::HiRes qw(sleep);

my $log_start = length nginx_error_log();
my $ua = sign_in(fresh_uid('reload'));
is((api($ua, GET => '/api/me'))[0], 200, 'signed in');

my $master = nginx_master();

my $conns = 16;
my $me = wrk_start(path => '/api/me', seconds => 10, connections => $conns, cookie => session_cookie($ua));
my $health = wrk_start(path => '/api/health', seconds => 10, connections => $conns);
my $reloads = 0;
for (1 .. 3) {
    sleep 2.5;
    $reloads++ if kill 'HUP', $master;
}
is $reloads, 3, 'three reloads under load';
my $m = wrk_wait($me);
my $h = wrk_wait($health);

for ([ '/api/me', $m ], [ '/api/health', $h ]) {
    my ($name, $w) = @$_;
    my $summary = join ', ', map { "$_ x$w->{status}{$_}" } sort keys %{ $w->{status} };
    is_deeply [ grep { $_ != 200 } keys %{ $w->{status} } ], [], "$name: every answer 200 ($summary)";
    cmp_ok $w->{requests}, '>', 1000, "$name: under load ($w->{requests} requests)";
    # an old worker closes its idle keep-alive connections: wrk sees a read
    # error on each at most, once per reload
    cmp_ok $w->{socket_errors}, '<=', $conns * $reloads,
        "$name: connection errors ($w->{socket_errors}) within the connections the old workers closed";
    note "FIGURE reload $name: $summary; socket errors $w->{socket_errors}";
    if (my $f = $ENV{TRACES_FIGURES}) {
        open my $o, '>>', $f or die;
        print $o "reload $name: $summary; socket errors $w->{socket_errors}\n";
    }
}
is((api($ua, GET => '/api/me'))[0], 200, 'the session survived the reloads');
unlike substr(nginx_error_log(), $log_start), qr/exited on signal|\[alert\]|\[emerg\]/,
    'no worker died, no alert';

done_testing;
