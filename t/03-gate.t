#!/usr/bin/perl
# The EU Login gate: OpenID Connect sign-in through the stand-in, the
# session check, logout, back-channel logout, refused ID tokens, redirects.

use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Traces::Test;
use URI;
use Time::HiRes qw(sleep);

plan skip_all => 'OpenID Connect only: t/06-cas.t covers CAS'
    if ($ENV{TRACES_PROTOCOL} // 'oidc') eq 'cas';

sub login_cookies {
    my $ua = shift;
    my $n = 0;
    $ua->cookie_jar->scan(sub { $n++ if $_[1] =~ /^traces_login_/ });
    return $n;
}

sub me { my ($code, $doc) = api(shift, GET => '/api/me'); return $code }

# --- the whole flow ---------------------------------------------------------

my ($ua, $res, $chain) = sign_in('importer.admin', return_to => '/app/certificates');
is $chain->[0]->code, 302, '/auth/login redirects';
like $chain->[0]->header('Location'), qr{^\Q@{[eulogin_url()]}\E/auth\?},
    'to EU Login';
for my $p (qw(response_type=code code_challenge_method=S256 state= nonce=
              code_challenge= login_hint=importer.admin client_id=traces)) {
    like $chain->[0]->header('Location'), qr/[?&]\Q$p\E/, "with $p";
}
my ($callback) = grep { ($_->request->uri // '') =~ m{/auth/callback} } @$chain;
ok $callback, 'EU Login sent the browser back to /auth/callback';
is $callback->code, 302, 'the callback redirects';
is $callback->header('Location'), '/app/certificates', 'to return_to';
my $sid = cookie_value($ua, 'traces_session');
like $sid, qr/^[A-Za-z0-9_-]{43}$/, 'a session cookie of 256 random bits';
my ($set) = grep { /^traces_session=/ } $callback->header('Set-Cookie');
like $set, qr/HttpOnly/, 'HttpOnly';
like $set, qr/SameSite=Lax/, 'SameSite=Lax';
is login_cookies($ua), 0, 'the login cookie is spent';

my ($code, $me) = api($ua, GET => '/api/me');
is $code, 200, '/api/me answers with the session';
is db_value('SELECT count(*) FROM traces.sessions WHERE hash = encode(sha256(?::bytea), \'hex\')', $sid),
   1, 'only the hash of the session id is stored';
is db_value('SELECT count(*) FROM traces.sessions WHERE hash = ?', $sid), 0,
   'never the id itself';

my $uid_row = db_rows('SELECT u.uid, u.email FROM traces.users u JOIN traces.sessions s
                        ON s.user_id = u.id WHERE s.hash = encode(sha256(?::bytea), \'hex\')', $sid);
is $uid_row->[0]{uid}, 'importer.admin', 'the user comes from the ID token claims';

# a new session id at every sign-in
my ($ua2) = sign_in('importer.admin', client => $ua);
isnt cookie_value($ua2, 'traces_session'), $sid, 'signing in again gives a new session id';
$sid = cookie_value($ua, 'traces_session');

# logout ends the session for every worker
($code, my $out, $res) = api($ua, POST => '/auth/logout');
is $code, 200, 'logout answers 200';
like $out->{logout_url}, qr{^\Q@{[eulogin_url()]}\E/session/end\?}, 'with the EU Login logout URL';
like join(' ', $res->header('Set-Cookie')), qr/traces_session=;/, 'and clears the cookie';
my $old = client();
$old->cookie_jar->set_cookie(0, 'traces_session', $sid, '/', '127.0.0.1', undef, 1, 0, 3600, 0);
my @after = map { me(client_with($sid)) } 1 .. 8;
is_deeply \@after, [ (401) x 8 ], 'the old cookie gets 401 on every worker, at once';
is db_value('SELECT count(*) FROM traces.sessions WHERE hash = encode(sha256(?::bytea), \'hex\')', $sid),
   0, 'the session is gone from the database';

sub client_with {
    my $c = client();
    $c->cookie_jar->set_cookie(0, 'traces_session', shift, '/', '127.0.0.1', undef, 1, 0, 3600, 0);
    return $c;
}

# logout is refused cross-site
{
    my ($u) = sign_in('consignee.user');
    my ($c) = api($u, POST => '/auth/logout', undef, Origin => 'http://evil.example');
    is $c, 403, 'a cross-site logout is refused';
    is me($u), 200, 'and the session goes on';
}

# --- pages and JSON clients without a session ------------------------------

{
    my $anon = client();
    my $r = $anon->get(base_url() . '/app/certificates?status=issued');
    is $r->code, 302, 'a page without a session is redirected';
    is $r->header('Location'), '/auth/login?return_to=%2Fapp%2Fcertificates%3Fstatus%3Dissued',
       'to sign in, and back to the page';
    ($code, my $p, $r) = api($anon, GET => '/api/me');
    is $code, 401, '/api without a session gets 401';
    like $r->header('Content-Type'), qr{application/problem\+json}, 'as a problem document';
    for my $h ([ 'X-Requested-With' => 'XMLHttpRequest' ], [ 'Sec-Fetch-Mode' => 'cors' ],
               [ Accept => 'application/json' ]) {
        my $q = HTTP::Request->new(GET => base_url() . '/app/x');
        $q->header(@$h);
        is $anon->request($q)->code, 401, "a page asked with @$h[0] gets 401";
    }
    is client_with('A' x 43)->get(base_url() . '/app/x')->code, 302,
       'an unknown session id is no session';
}

# --- spoofed identity headers never reach a backend ------------------------

{
    my ($u) = sign_in('consignee.user');
    my $r = $u->get(base_url() . '/backend/echo', 'X-Traces-Uid' => 'inao.agent',
                    'X-Traces-Roles' => 'commission:1', 'X-Traces-Spoof' => 'yes');
    is $r->code, 200, 'the gated backend answers';
    like $r->decoded_content, qr/uid=consignee\.user /, 'it is handed the signed-in uid';
    unlike $r->decoded_content, qr/inao\.agent|commission:1/, 'never the spoofed one';
    like $r->decoded_content, qr/spoof=$/m, 'every X-Traces-* header of the client is dropped';
    like $r->decoded_content, qr/user_id=\d+ /, '$traces_user_id is set';
    my $anon = client()->get(base_url() . '/backend/echo', 'X-Traces-Uid' => 'inao.agent');
    is $anon->code, 302, 'without a session the backend is never reached';
}

# --- idle timeout and absolute lifetime ------------------------------------

{
    my ($u) = sign_in('consignee.user');
    my $s = cookie_value($u, 'traces_session');
    is me($u), 200, 'a fresh session works';
    dbh()->do(q{UPDATE traces.sessions SET last_seen = now() - interval '31 minutes'
                WHERE hash = encode(sha256(?::bytea), 'hex')}, undef, $s);
    ok wait_until(sub { me($u) == 401 }, 5), 'past the idle timeout it ends (within the cache bound)';

    my ($v) = sign_in('consignee.user');
    my $t = cookie_value($v, 'traces_session');
    dbh()->do(q{UPDATE traces.sessions SET expires_at = now() - interval '1 second'
                WHERE hash = encode(sha256(?::bytea), 'hex')}, undef, $t);
    ok wait_until(sub { me($v) == 401 }, 5), 'past the absolute lifetime it ends';
}

# --- refused sign-ins --------------------------------------------------------

sub refused_sign_in {
    my ($name, $mutation) = @_;
    stand_in('/__test/reset');
    stand_in('/__test/token-mutation', $mutation) if $mutation;
    my ($u, $last, $ch) = sign_in(fresh_uid('refused'));
    my ($cb) = grep { ($_->request->uri // '') =~ m{/auth/callback} } @$ch;
    ok $cb && $cb->code >= 400 && $cb->code < 600, "$name: the callback refuses ("
       . ($cb ? $cb->code : 'none') . ')';
    like $cb ? $cb->decoded_content : '', qr/Sign-in failed/, "$name: with a clear page";
    ok !cookie_value($u, 'traces_session'), "$name: no session cookie";
    is me($u), 401, "$name: no session";
}

my $now = time;
refused_sign_in('wrong nonce', { claims => { nonce => 'not-the-one' } });
refused_sign_in('no nonce', { remove => ['nonce'] });
refused_sign_in('expired ID token', { claims => { exp => $now - 3600, iat => $now - 7200 } });
refused_sign_in('ID token from the future', { claims => { iat => $now + 3600 } });
refused_sign_in('wrong audience', { claims => { aud => 'someone-else' } });
refused_sign_in('wrong issuer', { claims => { iss => 'http://evil.example' } });
refused_sign_in('alg none', { sign => 'none' });
refused_sign_in('HS256 with the public key', { sign => 'hs256-public' });
refused_sign_in('unknown key', { sign => 'unknown-key' });
stand_in('/__test/reset');

{
    my $users = db_value(q{SELECT count(*) FROM traces.users WHERE uid LIKE 'refused.%'});
    is $users, 0, 'no refused sign-in created a user';
}

# a rotated EU Login key is picked up (one JWKS refetch for the unknown kid)
{
    my $kid = stand_in('/__test/rotate-keys')->{kid};
    ok $kid, 'EU Login rotated its signing key';
    sleep 1.2;    # traces_oidc_jwks_refresh of the test configuration
    my ($u) = sign_in(fresh_uid('rotated'));
    is me($u), 200, 'a token signed with the new key is accepted';
}

# the user cancels at EU Login: back with an error instead of a code
{
    my ($u, $last, $ch) = sign_in(fresh_uid('cancel'), stop_at => qr{/auth/callback});
    my $cb = URI->new($ch->[-1]->header('Location'));
    my %q = $cb->query_form;
    $cb->query_form(error => 'access_denied', state => $q{state});
    my ($answer, $next) = same_connection($u, $cb->path_query, '/api/health');
    is $answer && $answer->[0], 401, 'a sign-in cancelled at EU Login is refused';
    like $answer ? $answer->[1] : '', qr/Sign-in failed/, 'with a clear page';
    # the refusal ends its request: a leaked one held the connection (and
    # a worker that exits found it open)
    is $next && $next->[0], 200, 'and the connection serves the next request';
    is me($u), 401, 'no session';
}

# tampered, missing or replayed state; reused code
{
    my ($u, $last, $ch) = sign_in(fresh_uid('state'), stop_at => qr{/auth/callback});
    my $cb = $ch->[-1]->header('Location');
    like $cb, qr{/auth/callback\?}, 'stopped before the callback';
    (my $tampered = $cb) =~ s/state=([^&])/'state=' . ($1 eq 'A' ? 'B' : 'A')/e;
    my $r = $u->get($tampered);
    is $r->code, 400, 'a tampered state is refused';
    (my $missing = $cb) =~ s/[?&]state=[^&]*//;
    is $u->get($missing)->code, 400, 'a missing state is refused';
    is login_cookies($u), 1, 'the login cookie is still there';
    my $saved;
    $u->cookie_jar->scan(sub { $saved = [ @_[1, 2] ] if $_[1] =~ /^traces_login_/ });
    is $u->get($cb)->code, 302, 'the genuine callback signs in';
    $u->cookie_jar->set_cookie(0, @$saved, '/', '127.0.0.1', undef, 1, 0, 600, 0);
    my $again = client();
    $again->cookie_jar->set_cookie(0, @$saved, '/', '127.0.0.1', undef, 1, 0, 600, 0);
    $r = $again->get($cb);
    ok $r->code >= 400, 'the same code used again is refused (' . $r->code . ')';
    ok !cookie_value($again, 'traces_session'), 'and opens no session';
}

# several sign-ins in flight from one browser, and no pile-up of cookies
{
    my $u = client();
    my $uid = fresh_uid('tabs');
    my @starts = map { $u->get(base_url() . "/auth/login?login_hint=$uid&return_to=/tab$_") } 1 .. 2;
    is login_cookies($u), 2, 'two sign-ins under way';
    my @done;
    for my $i (1, 0) {    # the second tab finishes first
        my $url = $starts[$i]->header('Location');
        my $r;
        for (1 .. 8) {
            $r = $u->get($url);
            last unless $r->is_redirect;
            $url = URI->new_abs($r->header('Location'), $r->request->uri)->as_string;
            last if $url =~ m{^/tab|/tab\d$};
        }
        push @done, $url;
    }
    like $done[0], qr{/tab2$}, 'the second tab ends on its page';
    like $done[1], qr{/tab1$}, 'and so does the first';

    my $w = client();
    $w->get(base_url() . "/auth/login?login_hint=x&return_to=/") for 1 .. 10;
    cmp_ok login_cookies($w), '<=', 4, 'ten unfinished sign-ins leave at most 4 login cookies';
}

# --- back-channel logout ----------------------------------------------------

{
    my $uid = fresh_uid('bcl');
    my ($u) = sign_in($uid);
    my ($v) = sign_in($uid);
    is me($u), 200, 'two sessions of one user';
    my $token = stand_in('/__test/logout-token', { sub => $uid })->{logout_token};
    ok $token, 'EU Login issued a logout token';
    my $r = client()->post(base_url() . '/auth/backchannel-logout', { logout_token => $token });
    is $r->code, 200, 'the back-channel logout is accepted';
    is me($u), 401, 'it ends the first session at once';
    is me($v), 401, 'and the second';
    $r = client()->post(base_url() . '/auth/backchannel-logout', { logout_token => $token });
    is $r->code, 400, 'a replayed logout token is refused';

    my ($x) = sign_in($uid);
    my $bad = stand_in('/__test/logout-token', { sub => $uid, claims => { aud => 'other' } })
              ->{logout_token};
    $r = client()->post(base_url() . '/auth/backchannel-logout', { logout_token => $bad });
    is $r->code, 400, 'a logout token for another audience is refused';
    is me($x), 200, 'and ends nothing';
    $r = client()->post(base_url() . '/auth/backchannel-logout', { logout_token => 'a.b.c' });
    is $r->code, 400, 'garbage is refused';
}

unlike nginx_error_log(), qr/exited on signal|\[alert\]/, 'no worker crashed, no alert';

done_testing;
