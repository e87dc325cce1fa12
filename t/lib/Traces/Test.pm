package Traces::Test;

# What every test of t/ shares: the addresses of the stack that t/harness
# started, a browser-like HTTP client with its own cookie jar that signs in
# through the real EU Login redirect flow, JSON calls, and a direct
# connection to the database for checking what was (not) written.

use strict;
use warnings;

use Exporter 'import';
use LWP::UserAgent;
use HTTP::Cookies;
use HTTP::Request;
use URI;
use JSON::PP;
use DBI;
use Time::HiRes qw(sleep time);
use IO::Socket::INET;
use IO::Select;

our @EXPORT = qw(base_url eulogin_url client sign_in api api_raw dbh db_value
                 db_rows fresh_uid json_decode json_encode pg_ctl nginx_error_log
                 wait_until stand_in same_connection children_of
                 nginx_master nginx_reload cookie_value session_cookie slurp);

my $json = JSON::PP->new->utf8->canonical;

sub base_url    { $ENV{TRACES_URL} // 'http://127.0.0.1:18080' }
sub eulogin_url { $ENV{TRACES_EULOGIN} // 'http://127.0.0.1:19080' }

sub json_decode { my $t = shift; return eval { $json->decode($t) } }
sub json_encode { $json->encode(shift) }

# a client of its own: its own cookies, no shared state with other clients
sub client {
    my $ua = LWP::UserAgent->new(
        cookie_jar   => HTTP::Cookies->new,
        max_redirect => 0,
        timeout      => 30,
        agent        => 'traces-test/1',
    );
    return $ua;
}

sub fresh_uid {
    my $prefix = shift // 'user';
    return sprintf '%s.%d%04d', $prefix, time * 1000 % 1e9, int rand 10000;
}

# Follows the real redirect chain: nginx /auth/login -> stand-in ->
# nginx /auth/callback -> return_to.  Returns the client and the last
# response (the one that left EU Login).
sub sign_in {
    my ($uid, %opt) = @_;
    my $ua = $opt{client} // client();
    my $url = base_url() . '/auth/login?login_hint=' . $uid
              . '&return_to=' . ($opt{return_to} // '/');
    my ($res, @chain);
    for (1 .. 12) {
        $res = $ua->get($url);
        push @chain, $res;
        last unless $res->is_redirect;
        $url = URI->new_abs($res->header('Location'), $res->request->uri)->as_string;
        last if $opt{stop_at} && $url =~ $opt{stop_at};
    }
    return wantarray ? ($ua, $res, \@chain) : $ua;
}

# JSON call; writes carry the Origin of the site, as a browser's do
sub api {
    my ($ua, $method, $path, $body, %headers) = @_;
    my $res = api_raw($ua, $method, $path, $body, %headers);
    my $doc = json_decode($res->decoded_content // '');
    return ($res->code, $doc, $res);
}

sub api_raw {
    my ($ua, $method, $path, $body, %headers) = @_;
    my $req = HTTP::Request->new($method => base_url() . $path);
    $req->header(Accept => 'application/json');
    if ($method ne 'GET' && $method ne 'HEAD' && !exists $headers{Origin}) {
        $req->header(Origin => base_url());
    }
    if (defined $body) {
        $req->header('Content-Type' => 'application/json');
        $req->content(ref $body ? json_encode($body) : $body);
    }
    for my $h (keys %headers) {
        if (defined $headers{$h}) { $req->header($h => $headers{$h}) }
        else                      { $req->remove_header($h) }
    }
    return $ua->request($req);
}

my $dbh;
sub dbh {
    return $dbh if $dbh && $dbh->ping;
    my $dsn = $ENV{TRACES_DB} // 'host=127.0.0.1 port=54321 dbname=traces user=postgres';
    my %p = map { split /=/, $_, 2 } split ' ', $dsn;
    $dbh = DBI->connect("dbi:Pg:dbname=$p{dbname};host=$p{host};port=$p{port}",
                        $p{user}, '', { RaiseError => 1, AutoCommit => 1,
                                        PrintError => 0, pg_enable_utf8 => 1 });
    return $dbh;
}

sub db_value { my ($sql, @bind) = @_; return (dbh()->selectrow_array($sql, undef, @bind))[0] }
sub db_rows  { my ($sql, @bind) = @_; return dbh()->selectall_arrayref($sql, { Slice => {} }, @bind) }

sub pg_ctl {
    my @args = @_;
    undef $dbh;
    my $bin = ($ENV{TRACES_PGBIN} // '/usr/lib/postgresql/15/bin') . '/pg_ctl';
    my @cmd = ($bin, '-D', $ENV{TRACES_PGDATA}, @args);
    unshift @cmd, 'runuser', '-u', 'postgres', '--' if $> == 0;
    system(@cmd) == 0 or return 0;
    return 1;
}

sub slurp {
    open my $fh, '<', shift or return '';
    local $/;
    return scalar <$fh>;
}

sub nginx_error_log { slurp(($ENV{TRACES_VAR} // 'var/test') . '/nginx/logs/error.log') }

# the value of a client's cookie, and its session cookie as a Cookie header
sub cookie_value {
    my ($ua, $name) = @_;
    my $value;
    $ua->cookie_jar->scan(sub { $value = $_[2] if $_[1] eq $name });
    return $value;
}

sub session_cookie { 'traces_session=' . (cookie_value(shift, 'traces_session') // '') }

sub wait_until {
    my ($cond, $seconds) = @_;
    my $end = time + ($seconds // 10);
    while (time < $end) {
        return 1 if $cond->();
        sleep 0.05;
    }
    return 0;
}

# the processes whose parent is $pid
sub children_of {
    my ($pid) = @_;
    my @children;
    for my $p (glob '/proc/[0-9]*') {
        open my $s, '<', "$p/stat" or next;
        my @f = split ' ', scalar <$s>;
        push @children, $f[0] if $f[3] == $pid;
    }
    return sort @children;
}

# the master of the stack's nginx, or of the one whose pid file is given
sub nginx_master {
    my $f = shift // ($ENV{TRACES_VAR} // 'var/test') . '/nginx/nginx.pid';
    my $pid = slurp($f) or die "$f: no pid";
    chomp $pid;
    return $pid;
}

# HUP: nginx (the stack's, or the master given) starts new workers; true
# once every old one, its requests finished, has exited
sub nginx_reload {
    my $master = shift // nginx_master();
    my @old = children_of($master);
    kill 'HUP', $master or return 0;
    return wait_until(sub {
        my %now = map { $_ => 1 } children_of($master);
        return !grep { $now{$_} } @old;
    }, 30);
}

# a call to the EU Login stand-in's test controls
sub stand_in {
    my ($path, $body) = @_;
    my $ua = LWP::UserAgent->new(timeout => 10);
    my $res = $ua->post(eulogin_url() . $path, 'Content-Type' => 'application/json',
                        Content => json_encode($body // {}));
    return json_decode($res->decoded_content // '');
}

# GETs one path after the other on one keep-alive connection, as a browser
# does; each answer is [status, body], or undef when none came within 5 s
# (a request nginx never ended holds its connection).
sub same_connection {
    my ($ua, @paths) = @_;
    my $base = URI->new(base_url());
    my $sock = IO::Socket::INET->new(PeerAddr => $base->host_port, Timeout => 5)
        or die "connect: $!";
    my @answers;
    for my $path (@paths) {
        my $req = HTTP::Request->new(GET => base_url() . $path);
        $ua->cookie_jar->add_cookie_header($req) if $ua;
        my $cookie = $req->header('Cookie');
        print $sock "GET $path HTTP/1.1\r\nHost: " . $base->host_port . "\r\n"
                    . ($cookie ? "Cookie: $cookie\r\n" : '') . "\r\n";
        push @answers, _read_answer($sock);
        last unless $answers[-1];
    }
    close $sock;
    return @answers;
}

sub _read_answer {
    my ($sock) = @_;
    my ($buf, $head) = ('', undef);
    my $sel = IO::Select->new($sock);
    my $end = time + 5;
    while (1) {
        if (!defined $head && $buf =~ /\r\n\r\n/) {
            ($head, $buf) = split /\r\n\r\n/, $buf, 2;
        }
        if (defined $head) {
            my $body = _body($head, $buf);
            if (defined $body) {
                my ($status) = $head =~ m{^HTTP/1\.\d (\d{3})};
                return [ $status, $body ];
            }
        }
        my $left = $end - time;
        return undef if $left <= 0 || !$sel->can_read($left);
        sysread($sock, $buf, 65536, length $buf) or return undef;
    }
}

# the whole body once it is in, by Content-Length or chunks
sub _body {
    my ($head, $buf) = @_;
    if ($head =~ /^Content-Length:\s*(\d+)/mi) {
        return length $buf >= $1 ? substr($buf, 0, $1) : undef;
    }
    return undef unless $head =~ /^Transfer-Encoding:\s*chunked/mi;
    my $body = '';
    while ($buf =~ s/^([0-9a-fA-F]+)\r\n//) {
        my $n = hex $1;
        return $body if $n == 0;
        return undef if length $buf < $n + 2;
        $body .= substr($buf, 0, $n);
        substr($buf, 0, $n + 2) = '';
    }
    return undef;
}

1;
