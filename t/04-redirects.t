#!/usr/bin/perl
# return_to only ever sends the browser to a path of this site: every one of
# the 834 published open-redirect payloads (shared/data) goes through a real
# sign-in, and the Location the callback answers is resolved the way a
# browser resolves it (WHATWG URL, by Node.js).

use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Traces::Test;
use URI;
use URI::Escape qw(uri_escape);
use File::Temp qw(tempfile);

my $shared = ($ENV{TRACES_ROOT} // "$FindBin::Bin/..") . '/../shared/data/open-redirect-payloads.txt';
open my $fh, '<:raw', $shared or BAIL_OUT("cannot read $shared: $!");
my @payloads = grep { length } map { s/\r?\n\z//r } <$fh>;
close $fh;
cmp_ok scalar @payloads, '>=', 834, 'the shared payload list is read';

# the issue's own list, each of which must fall back to "/"
my @named = ('//evil.example', '/\\evil.example', '\\\\evil.example', '%2f%2fevil.example',
             '/%2f%2fevil.example', '%5c%5cevil.example', '/%5cevil.example',
             'https://evil.example/', 'javascript:alert(1)', "/\r\nSet-Cookie:x=1",
             "/\nevil", '/' . ('a' x 3000), "/caf\xc3\xa9", "/\xff\xfe", "//\tevil.example");

# how the value travels: escaped as a query value, and raw where a request
# line can carry it (what a hand-made link would do)
sub as_query {
    my ($value, $raw) = @_;
    return uri_escape($value) unless $raw;
    return $value =~ s/([\x00-\x20\x7f-\xff#&+])/sprintf '%%%02X', ord $1/ger;
}

sub final_location {
    my ($ua, $value, $raw) = @_;
    my $url = base_url() . '/auth/login?login_hint=redirect.tester&return_to='
              . as_query($value, $raw);
    for (1 .. 8) {
        my $res = $ua->get($url);
        return undef unless $res->is_redirect;
        my $loc = $res->header('Location');
        return $loc if $res->request->uri =~ m{^\Q@{[base_url()]}\E/auth/callback};
        $url = URI->new_abs($loc, $res->request->uri)->as_string;
    }
    return undef;
}

# four browsers side by side, each with its EU Login session
my @jobs = ((map { [ $_, 0 ] } @payloads), (map { [ $_, 1 ] } @payloads),
            (map { [ $_, 0 ] } @named), (map { [ $_, 1 ] } @named));
my $workers = 4;
my ($out, $outfile) = tempfile();
close $out;
my @pids;
for my $w (0 .. $workers - 1) {
    my $pid = fork // die;
    if ($pid == 0) {
        my $ua = client();
        open my $o, '>>', "$outfile.$w" or die;
        for (my $i = $w; $i < @jobs; $i += $workers) {
            my $loc = final_location($ua, @{ $jobs[$i] });
            print {$o} json_encode({ i => $i, location => $loc }), "\n";
        }
        exit 0;
    }
    push @pids, $pid;
}
waitpid $_, 0 for @pids;

my %loc;
for my $w (0 .. $workers - 1) {
    open my $in, '<', "$outfile.$w" or die;
    while (<$in>) { my $r = json_decode($_); $loc{ $r->{i} } = $r->{location} }
    unlink "$outfile.$w";
}
is scalar(keys %loc), scalar @jobs, 'every sign-in came back to the callback';
is scalar(grep { !defined $loc{$_} } keys %loc), 0, 'and every callback answered a redirect';

# resolve each Location as a browser does
my ($js, $jsfile) = tempfile(SUFFIX => '.json');
print {$js} json_encode([ map { $loc{$_} // '' } 0 .. $#jobs ]);
close $js;
my $origin = base_url();
my $verdicts = `node -e '
    const locs = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const base = process.argv[2] + "/auth/callback";
    console.log(JSON.stringify(locs.map(l => {
        try { return new URL(l, base).origin === new URL(base).origin ? 1 : 0 }
        catch (e) { return 0 }
    })));
' '$jsfile' '$origin'`;
unlink $jsfile;
my $ok = json_decode($verdicts) // [];
my @bad = grep { !$ok->[$_] } 0 .. $#jobs;
is scalar @bad, 0, 'every redirect stays on this site'
    or diag join "\n", map { "payload: $jobs[$_][0] -> $loc{$_}" } @bad[0 .. ($#bad < 9 ? $#bad : 9)];

my $first_named = 2 * @payloads;
for my $i ($first_named .. $#jobs) {
    is $loc{$i}, '/', sprintf 'return_to %s (%s) falls back to /',
        ($jobs[$i][0] =~ s/([^\x21-\x7e])/sprintf '\\x%02x', ord $1/ger), $jobs[$i][1] ? 'raw' : 'escaped';
}

# a good local path is kept, query string included
my $ua = client();
is final_location($ua, '/app/certificates?status=issued&limit=5'),
   '/app/certificates?status=issued&limit=5', 'a local path is kept as it is';

done_testing;
