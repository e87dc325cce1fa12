#!/usr/bin/perl
# What someone adding the module to their nginx meets: configurations it
# refuses at nginx -t, each with a message naming the directive; and a
# second nginx sharing the database, whose session cache
# (traces_session_cache_size 32k) is far too small for the sessions in use:
# the sessions least recently seen are dropped from it and looked up again,
# and every request still gets its own user; EU Login's keys, fetched into
# the full zone, still verify a back-channel logout.

use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Traces::Test;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64url);

my $var = $ENV{TRACES_VAR} // 'var/test';
my ($module) = slurp("$var/nginx/conf/nginx.conf") =~ /^load_module (\S+);/m;
ok $module && -f $module, "the module the stack runs ($module)";

# nginx started here runs as the stack's does (sanitizer runtimes preloaded
# under make test SANITIZE=1): the harness says how
my %env = map { split /=/, $_, 2 } split /\t/, $ENV{TRACES_NGINX_ENV} // '';

my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;
mkdir "$dir/logs";

sub conf {
    my (%o) = @_;
    my $file = "$dir/nginx.conf";
    open my $fh, '>', $file or die $!;
    print $fh <<"EOF";
load_module $module;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log info;
events { worker_connections 256; }
http {
    access_log off;
    traces_db "$ENV{TRACES_DB_APP}";
    $o{http}
    server {
        listen 127.0.0.1:$o{port};
        location /api/ { traces_gate on; traces_api; }
        location = /auth/backchannel-logout { traces_auth backchannel_logout; }
        location = /_traces/jwks {
            internal;
            proxy_pass @{[ eulogin_url() ]}/jwks;
            proxy_pass_request_headers off;
            proxy_pass_request_body off;
        }
    }
}
EOF
    close $fh;
    return $file;
}

sub nginx {
    my (@args) = @_;
    my %run = (%ENV, %env);
    # nginx -t ends at once: its leak check would only list the
    # configuration it was refused
    $run{ASAN_OPTIONS} .= ':detect_leaks=0'
        if @args && $args[0] eq '-t' && $run{ASAN_OPTIONS};
    local %ENV = %run;
    my $out = `/usr/sbin/nginx @args -p $dir -c $dir/nginx.conf -e $dir/logs/error.log 2>&1`;
    return ($? >> 8, $out);
}

my $key = "traces_key_file $var/traces.key;";

for my $case (
    [ 'a session cache of one page', "$key traces_session_cache_size 4k;",
      qr/traces_session_cache_size is too small/ ],
    [ 'no database connection', "$key traces_db_connections 0;",
      qr/traces_db_connections must be between 1 and 1024/ ],
    [ 'no key for the login cookies', '',
      qr/traces_key_file is required with traces_db/ ],
    [ 'a key file that is not there', "traces_key_file $dir/missing.key;",
      qr/missing\.key/ ],
    [ 'a size that is not one', "$key traces_session_cache_size lots;",
      qr/"traces_session_cache_size" directive invalid value/ ],
) {
    my ($name, $http, $message) = @$case;
    conf(http => $http, port => 1);
    my ($rc, $out) = nginx('-t');
    isnt $rc, 0, "nginx -t refuses $name";
    like $out, $message, "$name: the message names the fault";
}

conf(http => "$key traces_session_cache_size 1m;", port => 1);
my ($rc, $out) = nginx('-t');
is $rc, 0, 'a session cache of 1m is accepted' or diag $out;

# --- a session cache too small for the sessions in use ----------------------

my $port = do {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0)
        or die $!;
    $s->sockport;
};

# 20 users, 10 sessions each: 200 cache entries of 250 bytes or more, some
# 50 KB, in a zone of 32 KB
my @sessions;
for my $i (1 .. 20) {
    my $uid = fresh_uid("cache$i");
    my ($ua) = sign_in($uid);
    is((api($ua, GET => '/api/me'))[0], 200, "$uid signed in") or next;
    my $user = db_value('SELECT id FROM traces.users WHERE uid = ?', $uid);
    for (1 .. 10) {
        my $cookie = encode_base64url(join '', map { chr int rand 256 } 1 .. 32);
        dbh()->do(q{INSERT INTO traces.sessions (hash, user_id, expires_at)
                    VALUES (encode(sha256(?::bytea), 'hex'), ?, now() + interval '1 hour')},
                  undef, $cookie, $user);
        push @sessions, [ $cookie, $uid ];
    }
}

# each session asks /api/me; how many answers were not for its own user
sub round {
    my ($base) = @_;
    my $wrong = 0;
    for my $s (@sessions) {
        my ($cookie, $uid) = @$s;
        my $res = client()->get("$base/api/me", Cookie => "traces_session=$cookie",
                                Accept => 'application/json');
        my $me = json_decode($res->decoded_content // '');
        $wrong++ unless $res->code == 200 && ($me->{user}{uid} // '') eq $uid;
    }
    return $wrong;
}

# a lookup in the database marks the session seen: how many sessions one
# round looked up there rather than found in the cache
sub looked_up {
    my ($base) = @_;
    my @cookies = map { $_->[0] } @sessions;
    my $mark = q{UPDATE traces.sessions SET last_seen = now() - interval '1 minute'
                  WHERE hash IN (SELECT encode(sha256(c::bytea), 'hex') FROM unnest(?::text[]) c)};
    dbh()->do($mark, undef, \@cookies);
    my $wrong = round($base);
    my $seen = db_value(q{SELECT count(*) FROM traces.sessions
                           WHERE hash IN (SELECT encode(sha256(c::bytea), 'hex') FROM unnest(?::text[]) c)
                             AND last_seen > now() - interval '30 seconds'}, \@cookies);
    return ($seen, $wrong);
}

my $base = "http://127.0.0.1:$port";
my $valid = 'traces_session_cache_valid 1h; traces_oidc_issuer ' . eulogin_url()
            . '; traces_oidc_client_id traces;';

conf(http => "$key $valid traces_session_cache_size 1m;", port => $port);
unlink "$dir/logs/error.log";
($rc, $out) = nginx();
is $rc, 0, 'a second nginx sharing the database starts' or diag $out;
ok wait_until(sub { client()->get("$base/api/me")->code == 401 }, 10), 'it answers';
is round($base), 0, '200 sessions: each request answered for its own user';
my ($seen, $wrong) = looked_up($base);
is $seen, 0, 'with a 1m cache every session is found in it the second time';

conf(http => "$key $valid traces_session_cache_size 32k;", port => $port);
ok nginx_reload(nginx_master("$dir/nginx.pid")),
   'reloaded with a 32k cache';
is round($base), 0, '200 sessions: each request answered for its own user';
($seen, $wrong) = looked_up($base);
cmp_ok $seen, '>', 100, "with a 32k cache most sessions were dropped from it and looked up again ($seen)";
is $wrong, 0, 'and each request was still answered for its own user';

# EU Login's keys are kept in the same zone: a full one makes room for them
my ($cookie, $uid) = @{ $sessions[-1] };
my $token = stand_in('/__test/logout-token', { sub => $uid })->{logout_token};
my $res = client()->post("$base/auth/backchannel-logout", { logout_token => $token });
is $res->code, 200, 'a back-channel logout, verified with the keys fetched into the full zone'
    or diag join "\n", (split /\n/, slurp("$dir/logs/error.log"))[-3 .. -1];
is client()->get("$base/api/me", Cookie => "traces_session=$cookie")->code, 401,
    'and the sessions it names end';

kill 'QUIT', nginx_master("$dir/nginx.pid");
ok wait_until(sub { !-f "$dir/nginx.pid" }, 10), 'the second nginx stops';
unlike slurp("$dir/logs/error.log"), qr/\[alert\]|\[emerg\]|exited on signal/,
    'no alert, no worker died';

done_testing;
