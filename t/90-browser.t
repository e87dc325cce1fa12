#!/usr/bin/perl
# The guide's whole path in a real browser: Debian's Chromium driven by
# playwright-core (t/browser/guide.test.mjs, which prints TAP itself)
# against the stack t/harness started (TRACES_URL), signing in through the
# EU Login stand-in. Screenshots: t/browser/screenshots/.
#
# Needs: /usr/bin/chromium (or TRACES_CHROMIUM), node, `npm ci` in
# t/browser (t/harness deps does it), the ECL copy in html/vendor/
# (cd html && npm ci && ./build).

use strict;
use warnings;
use FindBin;

my $dir      = "$FindBin::Bin/browser";
my $chromium = $ENV{TRACES_CHROMIUM} // '/usr/bin/chromium';

sub skip_all {
    print "1..0 # SKIP $_[0]\n";
    exit 0;
}

skip_all("no Chromium at $chromium (apt-get install chromium)") unless -x $chromium;
skip_all('no node') unless grep { -x "$_/node" } split /:/, $ENV{PATH} // '';
skip_all('playwright-core is not installed (cd t/browser && npm ci)')
    unless -d "$dir/node_modules/playwright-core";

$ENV{TRACES_URL} //= 'http://127.0.0.1:18080';

exec 'node', "$dir/guide.test.mjs" or die "cannot run node: $!\n";
