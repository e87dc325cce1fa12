#!/usr/bin/perl
# The three ways the module authenticates to EU Login's token endpoint, and
# a required assurance level (acr): nginx is reconfigured and reloaded for
# each, then put back as it was.

use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Traces::Test;
use Time::HiRes qw(sleep);

my $var = $ENV{TRACES_VAR} or plan skip_all => 'needs the harness (TRACES_VAR)';
plan skip_all => 'OpenID Connect only' if ($ENV{TRACES_PROTOCOL} // 'oidc') eq 'cas';
my $conf = "$var/nginx/conf/nginx.conf";
open my $fh, '<', $conf or die "$conf: $!";
my $original = do { local $/; <$fh> };
close $fh;

sub reload_with {
    my (%set) = @_;
    my $text = $original;
    for my $directive (keys %set) {
        $text =~ s/^(\s*)\Q$directive\E [^;]*;/$1$directive $set{$directive};/m
            or $text =~ s/^(\s*)(traces_oidc_issuer [^;]*;)/$1$2\n$1$directive $set{$directive};/m;
    }
    open my $out, '>', $conf or die;
    print {$out} $text;
    close $out;
    my $pid = do { open my $p, '<', "$var/nginx/nginx.pid" or die; local $/; <$p> };
    chomp $pid;
    kill 'HUP', $pid;
    # the new workers answer once the old ones are gone
    sleep 1.5;
    return 1;
}

sub signs_in {
    my ($ua) = sign_in(fresh_uid('auth'));
    my ($code) = api($ua, GET => '/api/me');
    return $code == 200;
}

for my $method (qw(client_secret_basic client_secret_post private_key_jwt)) {
    reload_with(traces_oidc_client_auth => $method);
    ok signs_in(), "$method: the sign-in works";
    reload_with(traces_oidc_client_auth => $method, traces_oidc_client_secret => 'wrong-secret');
    if ($method eq 'private_key_jwt') {
        ok signs_in(), "$method: the client secret plays no part (a signed assertion does)";
    } else {
        ok !signs_in(), "$method: a wrong client secret is refused by EU Login";
    }
}

# a required assurance level
reload_with(traces_oidc_acr_values => '"http://eulogin.europa.eu/assurance/high"');
{
    my ($ua, $res, $chain) = sign_in(fresh_uid('acr'));
    like $chain->[0]->header('Location'), qr/acr_values=http%3A%2F%2Feulogin\.europa\.eu%2Fassurance%2Fhigh/,
        'the required acr is asked for';
    is((api($ua, GET => '/api/me'))[0], 200, 'an ID token with that acr is accepted');
    stand_in('/__test/token-mutation', { claims => { acr => 'http://eulogin.europa.eu/assurance/low' } });
    ($ua) = sign_in(fresh_uid('acr'));
    is((api($ua, GET => '/api/me'))[0], 401, 'an ID token with a lower acr is refused');
    stand_in('/__test/reset');
}

# back as it was
open my $out, '>', $conf or die;
print {$out} $original;
close $out;
reload_with();
ok signs_in(), 'the original configuration is back';

done_testing;
