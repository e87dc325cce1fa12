package Traces::Load;

# wrk under the tests: started in the background with t/load/count.lua,
# its answers counted by status; the phones PATCH /api/me confirmed.

use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempdir);
use Traces::Test;

our @EXPORT = qw(wrk_start wrk_wait);

# wrk_start(path => '/api/health', seconds => 20, connections => 16,
#           cookie => ..., patch_me => 1) -> handle
sub wrk_start {
    my %o = @_;
    my $dir = tempdir(CLEANUP => 1);
    my @cmd = ('wrk', '-t', $o{threads} // 2, '-c', $o{connections} // 16,
               '-d', ($o{seconds} // 10) . 's', '--timeout', ($o{timeout} // 15) . 's',
               '-s', ($ENV{TRACES_ROOT} // '.') . '/t/load/count.lua');
    push @cmd, '-H', "Cookie: $o{cookie}" if $o{cookie};
    if ($o{patch_me}) {
        push @cmd, '-H', 'Content-Type: application/json', '-H', 'Origin: ' . base_url();
    }
    push @cmd, base_url() . $o{path};
    my $pid = fork // die;
    if ($pid == 0) {
        $ENV{WRK_PATCH_ME} = $o{patch_me} ? 1 : 0;
        $ENV{WRK_OUT} = $dir;
        $ENV{WRK_RUN} = $o{run} // int(rand 1e6);
        open STDOUT, '>', "$dir/out" or die;
        open STDERR, '>&', \*STDOUT;
        exec @cmd or die "wrk: $!";
    }
    return { pid => $pid, dir => $dir };
}

# -> { status => {code => n}, errors => {kind => n}, ok_phones => [...], ... }
sub wrk_wait {
    my $h = shift;
    waitpid $h->{pid}, 0;
    my %r = (status => {}, errors => {}, ok_phones => []);
    open my $fh, '<', "$h->{dir}/out" or return \%r;
    while (<$fh>) {
        if (/^status (\d+) (\d+)/) { $r{status}{$1} = $2 }
        elsif (/^errors (\w+) (\d+)/) { $r{errors}{$1} = $2 }
        elsif (/^(\w+) (\d+)$/) { $r{$1} = $2 }
        $r{raw} .= $_;
    }
    for my $f (glob "$h->{dir}/ok.*") {
        open my $p, '<', $f or next;
        chomp(my @l = <$p>);
        push @{ $r{ok_phones} }, @l;
    }
    $r{socket_errors} = 0;
    $r{socket_errors} += $r{errors}{$_} // 0 for qw(connect read write timeout);
    return \%r;
}

1;
