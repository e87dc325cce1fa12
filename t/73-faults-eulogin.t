#!/usr/bin/perl
# EU Login slow (its token endpoint, or its CAS ticket validation, answers
# after the proxy timeout) or down (its process stopped) while a user signs
# in: the callback ends on a clear error page, bounded in time, with no
# session, no user and no session row created; once EU Login is back,
# signing in works.  Both protocols.  About 15 s.

use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Traces::Test;

use Time::HiRes qw(time sleep);

my $log_start = length nginx_error_log();

sub nothing_created {
    my ($name, $uid, $ua) = @_;
    ok !cookie_value($ua, 'traces_session'), "$name: no session cookie";
    is db_value('SELECT count(*) FROM traces.users WHERE uid = ?', $uid), 0, "$name: no user created";
    is((api($ua, GET => '/api/me'))[0], 401, "$name: not signed in");
}

sub clear_page {
    my ($name, $res, $seconds) = @_;
    ok $res && $res->code >= 400 && $res->code < 600 && $res->code != 500,
       "$name: the callback answers an error (" . ($res ? $res->code : 'none') . ')';
    like $res ? $res->header('Content-Type') // '' : '', qr{text/html}, "$name: as a page";
    like $res ? $res->decoded_content // '' : '', qr/Sign-in failed/, "$name: saying sign-in failed";
    cmp_ok $seconds, '<', 8, sprintf '%s: within %.1f s (proxy timeout 5 s)', $name, $seconds;
}

my $sessions_before = db_value('SELECT count(*) FROM traces.sessions');

# --- slow: the token endpoint (ticket validation) answers after 7 s, nginx waits 5 s

{
    stand_in('/__test/reset');
    my $uid = fresh_uid('slow');
    my ($ua, $last, $chain) = sign_in($uid, stop_at => qr{/auth/callback});
    my $cb = $chain->[-1]->header('Location');
    like $cb, qr{/auth/callback\?}, 'slow: EU Login sent the browser back';
    stand_in('/__test/delay', { ms => 7000 });
    my $t = time;
    my $res = $ua->get($cb);
    clear_page('slow', $res, time - $t);
    nothing_created('slow', $uid, $ua);
    stand_in('/__test/reset');
    my (undef, $again) = sign_in($uid, client => $ua);
    is((api($ua, GET => '/api/me'))[0], 200, 'slow: once EU Login answers in time, signing in works');
}

# --- down: the stand-in's process is stopped --------------------------------------

{
    my $uid = fresh_uid('down');
    my ($ua, $last, $chain) = sign_in($uid, stop_at => qr{/auth/callback});
    my $cb = $chain->[-1]->header('Location');
    open my $fh, '<', "$ENV{TRACES_VAR}/eulogin.pid" or die $!;
    chomp(my $pid = <$fh>);
    ok kill('TERM', $pid), 'down: EU Login stand-in stopped';
    ok wait_until(sub { !kill 0, $pid }, 5), 'down: and gone';
    my $t = time;
    my $res = $ua->get($cb);
    clear_page('down', $res, time - $t);
    nothing_created('down', $uid, $ua);
    my $login = client()->get(base_url() . '/auth/login?return_to=/app/');
    is $login->code, 302, 'down: /auth/login still redirects (it needs no back-channel)';

    system("$ENV{TRACES_ROOT}/t/harness", 'eulogin', $ENV{TRACES_ENV}) == 0
        or BAIL_OUT('could not restart the EU Login stand-in');
    my ($ub) = sign_in($uid);
    is((api($ub, GET => '/api/me'))[0], 200, 'down: once EU Login is back, signing in works');
}

is db_value('SELECT count(*) FROM traces.sessions') - $sessions_before, 2,
   'only the two successful sign-ins created sessions';
unlike substr(nginx_error_log(), $log_start), qr/exited on signal|\[alert\]|\[emerg\]/,
    'no worker died, no alert';

done_testing;
