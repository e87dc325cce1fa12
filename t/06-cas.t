#!/usr/bin/perl
# EU Login's CAS protocol (make test runs the whole suite a second time with
# TRACES_PROTOCOL=cas): ticket validation, assurance level and strengths,
# single logout.

use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Traces::Test;
use URI;
use URI::Escape qw(uri_unescape);

plan skip_all => 'the gate speaks OpenID Connect in this run'
    unless ($ENV{TRACES_PROTOCOL} // '') eq 'cas';

sub me { (api(shift, GET => '/api/me'))[0] }

# --- the whole flow -----------------------------------------------------------

my ($ua, $res, $chain) = sign_in('importer.admin', return_to => '/app/certificates');
my $login = $chain->[0]->header('Location');
like $login, qr{^\Q@{[eulogin_url()]}\E/cas/login\?service=}, '/auth/login sends to {cas}/login?service=';
my ($service) = $login =~ /service=([^&]+)/;
like uri_unescape($service), qr{^\Q@{[base_url()]}\E/auth/callback\?state=[A-Za-z0-9_-]{32}$},
    'the service is the callback, marked with the state of this sign-in';
like $login, qr/acceptStrengths=PASSWORD_MOBILE_APP%2CPASSWORD_SOFTWARE_TOKEN%2CPASSWORD_SMS/,
    'the accepted strengths are asked for';
my ($cb) = grep { ($_->request->uri // '') =~ m{/auth/callback\?state=.*ticket=ST-} } @$chain;
ok $cb, 'EU Login sends the browser back with a ticket';
is $cb->code, 302, 'the ticket is validated';
is $cb->header('Location'), '/app/certificates', 'back to return_to';
is me($ua), 200, 'the session works';
my $me = (api($ua, GET => '/api/me'))[1];
is $me->{user}{uid}, 'importer.admin', 'for the user EU Login named';

{
    my $uid = fresh_uid('cas');
    my ($u) = sign_in($uid);
    is me($u), 200, 'a fresh EU Login account signs in';
    my $row = db_rows('SELECT email, sub FROM traces.users WHERE uid = ?', $uid)->[0];
    is $row->{email}, "$uid\@example.eu", 'its email comes from the user details';
    is $row->{sub}, $uid, 'its subject is its EU Login uid';
}

# logout: EU Login's CAS logout
{
    my ($u) = sign_in('consignee.user');
    my ($code, $out) = api($u, POST => '/auth/logout');
    is $code, 200, 'logout';
    like $out->{logout_url}, qr{^\Q@{[eulogin_url()]}\E/cas/logout\?service=}, 'answers EU Login\'s CAS logout';
    is me($u), 401, 'and the session is over';
}

# --- refused tickets -----------------------------------------------------------

sub until_callback {
    my ($uid) = @_;
    my ($u, $last, $ch) = sign_in($uid, stop_at => qr{/auth/callback\?});
    return ($u, $ch->[-1]->header('Location'));
}

{
    my ($u, $cb_url) = until_callback(fresh_uid('tamper'));
    (my $tampered = $cb_url) =~ s/ticket=ST-(.)/'ticket=ST-' . ($1 eq 'A' ? 'B' : 'A')/e;
    my $r = $u->get($tampered);
    is $r->code, 401, 'a tampered ticket is refused (INVALID_TICKET)';
    like $r->decoded_content, qr/Sign-in failed/, 'with a clear page';
    ok !cookie_value($u, 'traces_session'), 'and no session';

    ($u, $cb_url) = until_callback(fresh_uid('replay'));
    my $saved;
    $u->cookie_jar->scan(sub { $saved = [ @_[1, 2] ] if $_[1] =~ /^traces_login_/ });
    is $u->get($cb_url)->code, 302, 'a genuine ticket signs in';
    my $again = client();
    $again->cookie_jar->set_cookie(0, @$saved, '/', '127.0.0.1', undef, 1, 0, 600, 0);
    $r = $again->get($cb_url);
    is $r->code, 401, 'the same ticket used again is refused';
    ok !cookie_value($again, 'traces_session'), 'and opens no session';

    # a ticket arrives for another sign-in (another state): its service differs
    ($u, $cb_url) = until_callback(fresh_uid('service'));
    my ($v, $cb2) = until_callback(fresh_uid('service2'));
    my ($ticket) = $cb_url =~ /ticket=([^&]+)/;
    (my $mixed = $cb2) =~ s/ticket=[^&]+/ticket=$ticket/;
    $r = $v->get($mixed);
    is $r->code, 401, 'a ticket issued for another service is refused (INVALID_SERVICE)';

    for my $bad ('ST-', 'XX-123', 'ST-a"b', 'ST-' . ('a' x 300)) {
        my ($w, $cbw) = until_callback(fresh_uid('bad'));
        (my $u2 = $cbw) =~ s/ticket=[^&]+/'ticket=' . URI::Escape::uri_escape($bad)/e;
        is $w->get($u2)->code, 401, "a malformed ticket is refused before EU Login is asked";
    }

    # the refusal ends its request: a leaked one held the connection (and a
    # worker that exits found it open)
    my ($w, $cbw) = until_callback(fresh_uid('bad'));
    $cbw =~ s/ticket=[^&]+/ticket=XX-1/;
    my ($answer, $next) = same_connection($w, URI->new($cbw)->path_query, '/api/health');
    is $answer && $answer->[0], 401, 'a malformed ticket on a keep-alive connection is refused';
    is $next && $next->[0], 200, 'and the connection serves the next request';
}

# --- what EU Login's answer says -------------------------------------------------

{
    stand_in('/__test/cas-next', { assuranceLevel => '10' });
    my ($u, $last, $ch) = sign_in(fresh_uid('low'));
    my ($cb) = grep { ($_->request->uri // '') =~ m{/auth/callback\?} } @$ch;
    is $cb->code, 403, 'an assurance level below the required one is refused';
    like $cb->decoded_content, qr/stronger EU Login sign-in/, 'with a clear page';
    is me($u), 401, 'and no session';

    stand_in('/__test/cas-next', { strengths => ['PASSWORD'] });
    ($u, $last, $ch) = sign_in(fresh_uid('weak'));
    ($cb) = grep { ($_->request->uri // '') =~ m{/auth/callback\?} } @$ch;
    is $cb->code, 403, 'a sign-in without an accepted strength (password only) is refused';
    is me($u), 401, 'and no session';

    stand_in('/__test/cas-next', { assuranceLevel => '30', strengths => ['PASSWORD_SOFTWARE_TOKEN'] });
    ($u) = sign_in(fresh_uid('strong'));
    is me($u), 200, 'a high assurance with a token is accepted';

    my $uid = fresh_uid('inject');
    stand_in('/__test/cas-next', { attributes => { firstName => 'x"},"user":"inao.agent',
                                                    lastName => "</cas:user><cas:user>inao.agent" } });
    ($u) = sign_in($uid);
    my ($code, $me) = api($u, GET => '/api/me');
    is $code, 200, 'attributes with JSON and XML in them sign in';
    is $me->{user}{uid}, $uid, 'as the user EU Login named, never an injected one';
    is $me->{user}{given_name}, 'x"},"user":"inao.agent', 'the attribute is kept as text';

    stand_in('/__test/cas-next', { raw => '{"serviceResponse":{"authenticationSuccess":{}}}' });
    ($u, $last, $ch) = sign_in(fresh_uid('raw'));
    is me($u), 401, 'a success that names nobody is refused';
    stand_in('/__test/cas-next', { raw => 'not json' });
    ($u) = sign_in(fresh_uid('raw'));
    is me($u), 401, 'an answer that is not JSON is refused';
    stand_in('/__test/reset');
}

# --- single logout ------------------------------------------------------------------

{
    my ($u, $cb_url) = until_callback(fresh_uid('slo'));
    my ($ticket) = $cb_url =~ /ticket=([^&]+)/;
    is $u->get($cb_url)->code, 302, 'signed in';
    is me($u), 200, 'the session works';
    my $slo = stand_in('/__test/cas-logout-request', { ticket => $ticket });
    ok $slo->{body}, 'EU Login prepares the single logout request';
    my $post = client()->post(base_url() . '/auth/callback?state=x',
                              'Content-Type' => 'application/x-www-form-urlencoded',
                              Content => $slo->{body});
    is $post->code, 200, 'the logout request is accepted';
    is me($u), 401, 'and ends that session at once';
    $post = client()->post(base_url() . '/auth/callback?state=x',
                           'Content-Type' => 'application/x-www-form-urlencoded',
                           Content => $slo->{body});
    is $post->code, 400, 'the same logout request twice is refused';
    $post = client()->post(base_url() . '/auth/callback',
                           'Content-Type' => 'application/x-www-form-urlencoded',
                           Content => 'logoutRequest=%3Cfoo%2F%3E');
    is $post->code, 400, 'a logout request naming no session is refused';
}

done_testing;
