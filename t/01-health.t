#!/usr/bin/perl
# The database layer: a real round trip, PostgreSQL going away and coming
# back under the same nginx, many concurrent requests on a small pool, a
# query slower than the timeout, and a large result.

use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Traces::Test;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

my $ua = client();

my ($code, $doc, $res) = api($ua, GET => '/api/health');
is $code, 200, 'health answers 200 after a round trip';
is_deeply [ @$doc{qw(status database)} ], [ 'ok', 'ok' ], 'status and database are ok';
ok $doc->{schema} >= 1, 'it reports the schema version it read from the database';
like $res->header('Content-Type'), qr{^application/json}, 'as JSON';

# --- PostgreSQL stopped, then started again: same nginx, no reload -------

ok pg_ctl('-m', 'fast', '-w', 'stop'), 'PostgreSQL stopped';

my $t0 = time;
($code, $doc, $res) = api($ua, GET => '/api/health');
my $took = time - $t0;
is $code, 503, 'health is 503 while the database is down';
like $res->header('Content-Type'), qr{^application/problem\+json}, 'as a problem document';
is $doc->{database}, 'unavailable', 'saying the database is unavailable';
ok defined $res->header('Retry-After'), 'with Retry-After';
cmp_ok $took, '<', 2.5, 'within the connect timeout';

# requests during the backoff are answered at once, not queued
($code) = api($ua, GET => '/api/health') for 1 .. 5;
is $code, 503, 'still 503 during the backoff';

ok pg_ctl('-w', '-l', "$ENV{TRACES_PGDATA}/../postgres.log", 'start'), 'PostgreSQL started again';
ok wait_until(sub { (api($ua, GET => '/api/health'))[0] == 200 }, 5),
   'health is ok again without touching nginx';

# --- immediate stop while requests are in flight -------------------------

my @pids;
for my $i (1 .. 20) {
    my $pid = fork // die;
    if ($pid == 0) {
        my $c = client();
        my $bad = 0;
        for (1 .. 30) {
            my ($status) = api($c, GET => '/api/health');
            $bad++ unless $status == 200 || $status == 503;
        }
        exit $bad ? 1 : 0;
    }
    push @pids, $pid;
}
sleep 0.3;
ok pg_ctl('-m', 'immediate', 'stop'), 'PostgreSQL killed (immediate stop) under load';
my $failed = 0;
for (@pids) { waitpid $_, 0; $failed++ if $? }
is $failed, 0, 'every request in flight got 200 or 503, nothing else';

ok pg_ctl('-w', '-l', "$ENV{TRACES_PGDATA}/../postgres.log", 'start'), 'PostgreSQL restarted';
# every worker has its own pool and backoff: ask each of them, on new connections
ok wait_until(sub { !grep { (api(client(), GET => '/api/health'))[0] != 200 } 1 .. 10 }, 5),
   'and the pools of every worker recovered';
unlike nginx_error_log(), qr/exited on signal/, 'no worker died';

# --- 200 concurrent requests on 2 connections per worker -----------------

{
    my $req = "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    my ($host, $port) = base_url() =~ m{//([^:/]+):(\d+)};
    my @socks = map {
        my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port) or die $!;
        $s;
    } 1 .. 200;
    print {$_} $req for @socks;
    my $ok = 0;
    for my $s (@socks) {
        local $/;
        my $answer = <$s>;
        $ok++ if $answer =~ m{^HTTP/1.1 200} && $answer =~ /"database":\s*"ok"/;
    }
    is $ok, 200, '200 concurrent requests all answered correctly by a pool of 2 per worker';
}

# --- a query slower than the query timeout --------------------------------

{
    my $locker = fork // die;
    if ($locker == 0) {
        my $d = DBI->connect(dbh()->{Name} =~ s/^/dbi:Pg:/r, 'postgres', '',
                             { RaiseError => 1, AutoCommit => 0 });
        $d->do('LOCK TABLE traces.schema_migrations IN ACCESS EXCLUSIVE MODE');
        sleep 8;
        $d->rollback;
        exit 0;
    }
    sleep 0.5;
    my $slow = fork // die;
    if ($slow == 0) {
        my ($status) = api(client(), GET => '/api/health');
        exit($status == 504 || $status == 503 ? 0 : 1);
    }
    sleep 0.5;
    # meanwhile the workers serve other requests
    my $t = time;
    my $page = client()->get(base_url() . '/bench/open.txt');
    ok $page->is_success, 'a static file is served while a query waits on a lock';
    cmp_ok time - $t, '<', 1, 'at once';
    waitpid $slow, 0;
    is $? >> 8, 0, 'the slow query is answered 504 (or 503) at the query timeout';
    waitpid $locker, 0;
    ok wait_until(sub { (api($ua, GET => '/api/health'))[0] == 200 }, 5),
       'and the pool serves again once the lock is gone';
}

# --- clients that go away mid-query leave clean connections behind ---------

{
    my $locker = fork // die;
    if ($locker == 0) {
        my $d = DBI->connect(dbh()->{Name} =~ s/^/dbi:Pg:/r, 'postgres', '',
                             { RaiseError => 1, AutoCommit => 0 });
        $d->do('LOCK TABLE traces.schema_migrations IN ACCESS EXCLUSIVE MODE');
        sleep 2;
        $d->rollback;
        exit 0;
    }
    sleep 0.3;
    my ($host, $port) = base_url() =~ m{//([^:/]+):(\d+)};
    for (1 .. 8) {
        my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port) or die $!;
        print {$s} "GET /api/health HTTP/1.1\r\nHost: $host\r\n\r\n";
        close $s;    # gone before the answer
    }
    waitpid $locker, 0;
    my @codes = map { (api(client(), GET => '/api/health'))[0] } 1 .. 20;
    is_deeply \@codes, [ (200) x 20 ], 'after clients left mid-query, every request is served';
    my $dirty = db_value(q{SELECT count(*) FROM pg_stat_activity
                           WHERE usename = 'traces_app' AND state <> 'idle'});
    is $dirty, 0, 'and every pooled connection is idle, none left in a transaction';
}

# --- a result over 64 KB is returned whole --------------------------------

{
    my $admin = sign_in('commission.agent');
    my ($status, $list, $r) = api($admin, GET => '/api/certificates?limit=100');
    is $status, 200, 'a large list is answered';
    cmp_ok length($r->content), '>', 65536, 'its body is over 64 KB';
    ok $list && @{ $list->{items} } == 100, 'and it is whole, valid JSON with its 100 items';
}

done_testing;
