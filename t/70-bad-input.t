#!/usr/bin/perl
# Bad input: every kind of malformed, oversized or unexpected request is
# answered 4xx with a problem document (never 500, never HTML), and nothing
# is written to the database.
#
# Decision on unknown fields: they are refused (422 naming each of them),
# at every depth, so that a misspelt field never silently drops a value.

use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Traces::Test;
use IO::Socket::INET;
use Encode qw(encode);

my $log_start = length nginx_error_log();
my $uid = fresh_uid('bad');
my $ua = sign_in($uid);
my ($code, $me) = api($ua, GET => '/api/me');
is $code, 200, 'signed in';
my $user_id = $me->{user}{id};
my ($set_code) = api($ua, PATCH => '/api/me', { phone => '+33 1 00 00 00 00', fax => '+33 1 00 00 00 01' });
is $set_code, 200, 'a good PATCH /api/me works';

my $cb = db_value(q{SELECT id FROM traces.control_bodies WHERE code = 'FR-BIO-01'});

# what any bad request could have written
sub fingerprint {
    return join ',', map { db_value($_) // 'null' }
        'SELECT count(*) FROM traces.operators',
        'SELECT count(*) FROM traces.operator_identifiers',
        'SELECT count(*) FROM traces.operator_activities',
        'SELECT count(*) FROM traces.roles',
        'SELECT count(*) FROM traces.audit_log',
        'SELECT count(*) FROM traces.users',
        "SELECT coalesce(phone, '') || '|' || coalesce(fax, '') || '|' || updated_at FROM traces.users WHERE id = $user_id";
}
my $before = fingerprint();

my $count = 0;
my %seen_status;

# one bad request: 4xx, problem+json whose status is the HTTP status, and
# (when given) the 422 names the fields
sub bad {
    my ($name, $res, %want) = @_;
    $count++;
    my $c = $res->code;
    $seen_status{$c}++;
    my $ct = $res->header('Content-Type') // '';
    my $doc = json_decode($res->decoded_content // '');
    my $ok = $c >= 400 && $c < 500 && $ct =~ m{^application/problem\+json}
             && ref $doc eq 'HASH' && ($doc->{status} // 0) == $c;
    $ok &&= $c == $want{status} if $want{status};
    if ($ok && $want{fields}) {
        my %f = map { $_->{field} => $_->{message} } @{ $doc->{errors} // [] };
        for my $field (@{ $want{fields} }) {
            $ok = 0, diag "no error for $field: " . json_encode($doc) unless exists $f{$field};
        }
    }
    ok $ok, "$name: $c " . ($want{status} ? "(want $want{status}) " : '') . $ct
        or diag substr($res->decoded_content // '', 0, 400);
}

sub req {
    my ($method, $path, $body, %headers) = @_;
    return api_raw($ua, $method, $path, $body, %headers);
}

sub patch_me { req(PATCH => '/api/me', @_) }

my $good_operator = sub {
    return {
        name => 'Bad Input SARL', country => 'FR', city => 'Lyon', address => '1 quai',
        identifiers => [ { type => 'eori', value => 'FR123456789' } ],
        activity => { activity => 'organic_importer', control_body_id => $cb + 0 },
        @_,
    };
};

# --- bodies over the configured limit (client_max_body_size 64k) ------------

bad 'body over the limit (Content-Length)',
    patch_me('{"phone":"' . ('1' x 70000) . '"}'), status => 413;

{
    # chunked, so that nginx only finds out while reading it
    my ($host, $port) = base_url() =~ m{//([^:/]+):(\d+)};
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Timeout => 10) or die $!;
    my $cookie = session_cookie($ua);
    print $s "PATCH /api/me HTTP/1.1\r\nHost: $host:$port\r\nOrigin: " . base_url()
        . "\r\nCookie: $cookie\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        . "Connection: close\r\n\r\n";
    my $chunk = 'a' x 8192;
    for (1 .. 10) { last unless print $s sprintf("%x\r\n%s\r\n", length $chunk, $chunk) }
    print $s "0\r\n\r\n";
    local $/;
    my $raw = <$s> // '';
    my $res = HTTP::Response->parse($raw);
    bad 'chunked body over the limit', $res, status => 413;
}

# --- not JSON, not an object, not UTF-8 --------------------------------------

bad 'no Content-Type', req(PATCH => '/api/me', '{"phone":"+33 1"}', 'Content-Type' => undef), status => 415;
bad 'text/plain', patch_me('{"phone":"+33 1"}', 'Content-Type' => 'text/plain'), status => 415;
bad 'form-encoded', patch_me('phone=1', 'Content-Type' => 'application/x-www-form-urlencoded'), status => 415;
bad 'empty body', patch_me(''), status => 400;
bad 'truncated JSON', patch_me('{"phone":"+33 1"'), status => 400;
bad 'trailing garbage', patch_me('{"phone":"+33 1"} x'), status => 400;
bad 'a JSON array', patch_me('[]'), status => 400;
bad 'a JSON string', patch_me('"phone"'), status => 400;
bad 'a JSON number', patch_me('42'), status => 400;
bad 'null', patch_me('null'), status => 400;
bad 'duplicate keys', patch_me('{"phone":"+33 1 11","phone":"+33 1 22"}'), status => 400;
bad 'invalid UTF-8 in a string', patch_me(qq({"phone":"+33 \xff\xfe"})), status => 400;
bad 'overlong UTF-8 encoding', patch_me(qq({"phone":"\xc0\xaf"})), status => 400;
bad 'UTF-16 surrogate escaped alone', patch_me('{"phone":"\ud800"}'), status => 400;
bad 'escaped NUL in a string', patch_me('{"phone":"+33\u0000 1"}'), status => 400;
bad 'raw NUL byte in a string', patch_me(qq({"phone":"+33\x00 1"})), status => 400;
bad 'raw NUL byte after the object', patch_me(qq({"phone":"+33 1"}\x00)), status => 400;
bad 'escaped NUL in a key', patch_me('{"pho\u0000ne":"+33 1"}'), status => 400;
bad 'BOM before the object', patch_me("\xef\xbb\xbf" . '{"phone":"+33 1"}'), status => 400;
bad 'NaN', patch_me('{"phone":NaN}'), status => 400;

# --- deeply nested, huge ------------------------------------------------------

bad 'nesting 60 000 deep', patch_me('[' x 60_000), status => 400;
bad 'objects nested 5 000 deep', patch_me(('{"a":' x 5000) . '1' . ('}' x 5000)), status => 400;
bad 'nesting 1 000 deep in a field', patch_me('{"phone":' . ('[' x 1000) . (']' x 1000) . '}'),
    status => 422, fields => ['phone'];
bad 'nesting 1 000 deep in an object field',
    req(POST => '/api/operators', json_encode($good_operator->())
        =~ s/\}$/,"request":@{['{"message":' x 1000]}1@{['}' x 1000]}}/r),
    status => 422;
bad '60 KB array in a string field', patch_me('{"phone":[' . join(',', (1) x 30000) . ']}'),
    status => 422, fields => ['phone'];
bad '30 000 unknown keys', patch_me('{' . join(',', map { qq("k$_":1) } 1 .. 5000) . '}'), status => 422;
bad '60 KB string', patch_me('{"phone":"' . ('1' x 60000) . '"}'), status => 422, fields => ['phone'];

# --- wrong types ----------------------------------------------------------------

bad 'phone as a number', patch_me('{"phone":33123456}'), status => 422, fields => ['phone'];
bad 'phone as true', patch_me('{"phone":true}'), status => 422, fields => ['phone'];
bad 'phone as an object', patch_me('{"phone":{}}'), status => 422, fields => ['phone'];
bad 'fax as a list', patch_me('{"fax":["+33 1"]}'), status => 422, fields => ['fax'];
bad 'phone as letters', patch_me('{"phone":"call me"}'), status => 422, fields => ['phone'];
bad 'control character in phone', patch_me(qq({"phone":"+33\\n1 23"})), status => 422, fields => ['phone'];
bad 'decision status as a number', req(POST => '/api/roles/1/decision', { status => 1 }),
    status => 422, fields => ['status'];
bad 'decision admin as a string', req(POST => '/api/roles/1/decision', { status => 'valid', admin => 'yes' }),
    status => 422, fields => ['admin'];
bad 'control_body_ids as an object', req(POST => '/api/control-bodies/requests', { control_body_ids => {} }),
    status => 422, fields => ['control_body_ids'];
bad 'control_body_ids items as strings',
    req(POST => '/api/control-bodies/requests', { control_body_ids => [ "$cb" ] }),
    status => 422, fields => ['control_body_ids[0]'];
bad 'control_body_ids items as objects',
    req(POST => '/api/control-bodies/requests', { control_body_ids => [ { id => $cb + 0 } ] }),
    status => 422, fields => ['control_body_ids[0]'];
bad 'operator: every field wrong at once',
    req(POST => '/api/operators', {
        name => [], country => 'fr', city => 1, address => undef, latitude => 'north',
        longitude => {}, email => 'x@', web_url => 'javascript:alert(1)',
        identifiers => [ 'FR123' ], activity => [] }),
    status => 422,
    fields => [qw(name country city address latitude longitude email web_url identifiers[0] activity)];

# --- over-long fields ----------------------------------------------------------

bad 'phone of 33 characters', patch_me({ phone => '+' . ('1' x 32) }), status => 422, fields => ['phone'];
bad 'operator name of 201 characters (multibyte)',
    req(POST => '/api/operators', $good_operator->(name => 'é' x 201)), status => 422, fields => ['name'];
bad 'request message of 2001 characters',
    req(POST => '/api/operators', $good_operator->(request => { message => 'x' x 2001 })),
    status => 422, fields => ['request.message'];
bad 'seven identifiers (six at most)',
    req(POST => '/api/operators', $good_operator->(identifiers => [ ({ type => 'duns', value => '1' }) x 7 ])),
    status => 422, fields => ['identifiers'];
bad '51 control bodies (fifty at most)',
    req(POST => '/api/control-bodies/requests', { control_body_ids => [ 1 .. 51 ] }),
    status => 422, fields => ['control_body_ids'];

# --- numbers out of range ------------------------------------------------------

bad 'latitude 90.5', req(POST => '/api/operators', $good_operator->(latitude => 90.5)),
    status => 422, fields => ['latitude'];
bad 'longitude -180.01', req(POST => '/api/operators', $good_operator->(longitude => -180.01)),
    status => 422, fields => ['longitude'];
bad 'control body id 0',
    req(POST => '/api/operators', $good_operator->(activity => { activity => 'organic_operator', control_body_id => 0 })),
    status => 422, fields => ['activity.control_body_id'];
bad 'control body id -1',
    req(POST => '/api/control-bodies/requests', { control_body_ids => [ -1 ] }),
    status => 422, fields => ['control_body_ids[0]'];
bad 'id over 2^53', req(POST => '/api/control-bodies/requests', '{"control_body_ids":[9007199254740993]}'),
    status => 422, fields => ['control_body_ids[0]'];
bad 'id over 2^63 (not representable)',
    req(POST => '/api/control-bodies/requests', '{"control_body_ids":[99999999999999999999]}'), status => 400;
bad 'latitude 1e400 (not representable)',
    req(POST => '/api/operators', json_encode($good_operator->()) =~ s/\}$/,"latitude":1e400}/r), status => 400;
bad 'id as a real number', req(POST => '/api/control-bodies/requests', '{"control_body_ids":[1.0]}'),
    status => 422, fields => ['control_body_ids[0]'];
bad 'a date that does not exist',
    req(POST => '/api/operators', $good_operator->(activity => { activity => 'organic_operator',
        control_body_id => $cb + 0, valid_from => '2026-02-30' })),
    status => 422, fields => ['activity.valid_from'];
bad 'path id of 16 digits', req(GET => '/api/operators/1234567890123456'), status => 404;
bad 'path id 0', req(GET => '/api/operators/0'), status => 404;

# --- unknown fields: refused, named, at every depth -------------------------------

bad 'an unknown field next to a good one', patch_me({ phone => '+33 1 99 99 99 99', role => 'admin' }),
    status => 422, fields => ['role'];
bad 'a misspelt field', patch_me({ phnoe => '+33 1 99 99 99 99' }), status => 422, fields => ['phnoe'];
bad 'user_id smuggled in', patch_me({ phone => '+33 1 99 99 99 99', user_id => 1 }),
    status => 422, fields => ['user_id'];
bad 'id smuggled into a body (the path gives it)',
    req(POST => '/api/roles/1/decision', { status => 'valid', id => 2 }), status => 422, fields => ['id'];
bad 'unknown nested fields',
    req(POST => '/api/operators', $good_operator->(
        activity => { activity => 'organic_importer', control_body_id => $cb + 0, status => 'valid' },
        identifiers => [ { type => 'eori', value => 'FR123456789', verified => JSON::PP::true } ])),
    status => 422, fields => ['activity.status', 'identifiers[0].verified'];
bad 'a 300-byte multibyte unknown key',
    patch_me(encode('UTF-8', '{"phone":"+33 1 99 99 99 99","' . ('é' x 150) . 'x":1}')), status => 422;
bad 'a 1000-byte unknown key in a nested object',
    req(POST => '/api/operators', $good_operator->(request => { ('€' x 333) => 1 })), status => 422;

# --- query strings ---------------------------------------------------------------

bad 'limit 0', req(GET => '/api/certificates?limit=0'), status => 422, fields => ['limit'];
bad 'limit 101', req(GET => '/api/certificates?limit=101'), status => 422, fields => ['limit'];
bad 'limit of 20 digits', req(GET => '/api/certificates?limit=99999999999999999999'), status => 422, fields => ['limit'];
bad 'limit -1', req(GET => '/api/certificates?limit=-1'), status => 422, fields => ['limit'];
bad 'a bad percent escape', req(GET => '/api/certificates?q=%ZZ'), status => 422, fields => ['q'];
bad 'a truncated percent escape', req(GET => '/api/certificates?q=abc%4'), status => 422, fields => ['q'];
bad 'an escaped NUL', req(GET => '/api/certificates?q=a%00b'), status => 422, fields => ['q'];
bad 'invalid UTF-8 escaped', req(GET => '/api/certificates?q=%ff%fe'), status => 422, fields => ['q'];
bad 'an unknown parameter', req(GET => '/api/certificates?sort=id'), status => 422;
bad 'a parameter given twice', req(GET => '/api/certificates?status=new&status=issued'),
    status => 422, fields => ['status'];
bad 'an unknown status', req(GET => '/api/certificates?status=stolen'), status => 422, fields => ['status'];
bad 'a date out of the calendar', req(GET => '/api/certificates?from=2026-13-01'), status => 422, fields => ['from'];
bad 'a bad cursor', req(GET => '/api/certificates?after=%22%3B--'), status => 422, fields => ['after'];
bad 'a query over 4 KB', req(GET => '/api/certificates?q=' . ('a' x 4000)), status => 422, fields => ['q'];

# --- headers and cookies ------------------------------------------------------------

bad 'a 20 KB header', req(GET => '/api/me', undef, 'X-Big' => 'x' x 20000), status => 400;
bad 'a 20 KB cookie', req(GET => '/api/me', undef, Cookie => 'big=' . ('x' x 20000)), status => 400;
bad 'a URI of 10 KB', req(GET => '/api/certificates?q=' . ('a' x 10000)), status => 414;
bad '3 000 cookies in one header',
    req(GET => '/api/me', undef, Cookie => join '; ', map { "c$_=$_" } 1 .. 3000), status => 400;
{
    # many cookies that fit: the session one is still found among them
    my $session = cookie_value($ua, 'traces_session');
    my $c = client();
    my $res = api_raw($c, GET => '/api/me', undef,
                      Cookie => join('; ', (map { "c$_=v" } 1 .. 900), "traces_session=$session"));
    is $res->code, 200, '900 small cookies before the session one: still signed in';
    $res = api_raw($c, GET => '/api/me', undef,
                   Cookie => join('; ', (map { "traces_login_$_=v" } 1 .. 300)));
    bad '300 login-state cookies and no session', $res, status => 401;
    $res = $c->get(base_url() . '/auth/callback?code=x&state=y',
                   Cookie => join('; ', map { "traces_login_$_=" . ('A' x 8) } 1 .. 250));
    ok $res->code >= 400 && $res->code < 500, '250 garbage login-state cookies at the callback: '
       . $res->code;
    $res = api_raw($c, GET => '/api/me', undef, Cookie => 'traces_session=' . ('A' x 5000));
    bad 'a 5 KB session cookie', $res, status => 401;
    $res = api_raw($c, GET => '/api/me', undef, Cookie => "traces_session=\"$session");
    bad 'a session cookie with one quote', $res, status => 401;
    $res = api_raw($c, GET => '/api/me', undef, Cookie => "traces_session=\x01$session");
    bad 'a session cookie with a control byte', $res, status => 401;
}

# --- nothing written, nothing crashed --------------------------------------------------

is fingerprint(), $before, "none of the $count bad requests wrote anything";
ok !$seen_status{500}, 'never a 500';
note 'statuses: ' . join ', ', map { "$_ x$seen_status{$_}" } sort keys %seen_status;
is((api($ua, GET => '/api/me'))[0], 200, 'the session still works');
unlike substr(nginx_error_log(), $log_start), qr/exited on signal|\[alert\]|\[emerg\]/,
    'no worker crashed, no alert';

done_testing;
