#!/usr/bin/perl
# Certificates of Inspection: what each role sees (DESIGN.md §3), 404 for
# anything else, read-only for everyone, row-level security on its own,
# and keyset paging that neither skips nor repeats.

use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Traces::Test;
use Time::HiRes qw(sleep);

# the rule of DESIGN.md §3, computed directly (superuser: no row-level security)
my $expected_sql = q{
    SELECT c.id FROM traces.certificates c
     WHERE EXISTS (
        SELECT 1 FROM traces.roles r JOIN traces.users u ON u.id = r.user_id
          LEFT JOIN traces.competent_authorities a ON a.id = r.authority_id
         WHERE u.uid = ? AND r.status = 'valid'
           AND ((r.kind = 'control_body' AND r.control_body_id = c.issuer_id)
             OR (c.status <> 'draft' AND (
                    (r.kind = 'operator' AND r.operator_id IN
                        (c.importer_id, c.first_consignee_id, c.responsible_operator_id))
                 OR (r.kind = 'authority' AND a.country_code = c.destination_country)
                 OR (r.kind = 'point_of_entry' AND r.point_of_entry_id = c.point_of_entry_id)
                 OR r.kind = 'commission'))))
     ORDER BY c.id};

sub expected { return [ map { $_->{id} } @{ db_rows($expected_sql, shift) } ] }

sub walk {
    my ($ua, $query) = @_;
    my (@items, $after, $pages);
    while (1) {
        my $url = '/api/certificates?limit=100' . ($query // '')
                  . (defined $after ? "&after=$after" : '');
        my ($code, $page) = api($ua, GET => $url);
        return (undef, $code) unless $code == 200;
        push @items, @{ $page->{items} };
        $pages++;
        last unless defined $page->{next};
        $after = $page->{next};
        last if $pages > 1000;
    }
    return \@items;
}

my %ua;
my %visible;
my $all = db_value('SELECT count(*) FROM traces.certificates');
cmp_ok $all, '>=', 300, "the demo holds $all certificates";

for my $uid (qw(inao.agent commission.agent importer.admin consignee.user ocb.ecocert forwarder.lehavre)) {
    $ua{$uid} = sign_in($uid);
    my $want = expected($uid);
    cmp_ok scalar @$want, '>', 0, "$uid may see some certificates (" . scalar(@$want) . ')';
    my ($items) = walk($ua{$uid});
    my @got = sort { $a <=> $b } map { $_->{id} } @$items;
    is_deeply \@got, $want, "$uid sees exactly its certificates, each once, over every page";
    $visible{$uid} = { map { $_ => 1 } @got };

    # newest first
    my @keys = map { ($_->{issued_at} // $_->{created_at} // '') } @$items;
    my $sorted = !grep { $keys[$_] lt $keys[$_ + 1] } 0 .. $#keys - 1;
    ok $sorted, "$uid: newest first";

    # list and detail agree
    for my $item (@$items[0, int($#$items / 2), $#$items]) {
        my ($code, $detail) = api($ua{$uid}, GET => "/api/certificates/$item->{id}");
        is $code, 200, "$uid opens certificate $item->{id}";
        is $detail->{reference}, $item->{reference}, 'with the same reference as in the list';
    }
}
isnt scalar keys %{ $visible{'importer.admin'} }, scalar keys %{ $visible{'commission.agent'} },
    'roles see different sets';

# --- detail: every box ---------------------------------------------------------

{
    my ($id) = sort { $a <=> $b } keys %{ $visible{'importer.admin'} };
    my ($code, $c) = api($ua{'importer.admin'}, GET => "/api/certificates/$id");
    is $code, 200, 'a certificate in detail';
    ok $c->{reference}, 'box 3, reference';
    ok ref $c->{lines} eq 'ARRAY' && @{ $c->{lines} } >= 1, 'box 13, product lines';
    ok ref $c->{status_history} eq 'ARRAY' && @{ $c->{status_history} } >= 1, 'and its status history';
    ok !$c->{can_edit}, 'not editable';
}

# --- IDOR: what one may not see answers exactly like what does not exist ----------

my ($none_code, $none_body) = do {
    my $r = api_raw($ua{'importer.admin'}, GET => '/api/certificates/999999999');
    ($r->code, $r->decoded_content);
};
is $none_code, 404, 'a certificate that does not exist is 404';

for my $uid (sort keys %ua) {
    my @hidden = grep { !$visible{$uid}{$_} } map { $_->{id} }
                 @{ db_rows('SELECT id FROM traces.certificates ORDER BY id') };
    my @scope_samples;
    for my $other (sort keys %visible) {
        my ($one) = grep { !$visible{$uid}{$_} } sort { $a <=> $b } keys %{ $visible{$other} };
        push @scope_samples, $one if $one;
    }
    my $leaks = 0;
    for my $id (@scope_samples, grep { $_ <= 120 } @hidden) {    # ids guessed in sequence
        my $r = api_raw($ua{$uid}, GET => "/api/certificates/$id");
        $leaks++ unless $r->code == 404 && $r->decoded_content eq $none_body;
    }
    is $leaks, 0, "$uid: every certificate of another scope is 404, same body as a missing one";
}

# --- the forwarder: Le Havre only, and nothing can be written ---------------------

{
    my $fwd = $ua{'forwarder.lehavre'};
    my ($items) = walk($fwd);
    my %poe = map { $_->{point_of_entry}{code} => 1 } @$items;
    is_deeply [ keys %poe ], ['FRLEH4'], 'forwarder.lehavre sees Le Havre certificates only';
    my ($id) = keys %{ $visible{'forwarder.lehavre'} };
    my $before = db_value(q{SELECT md5(string_agg(c::text, '' ORDER BY id)) FROM traces.certificates c});
    for my $method (qw(POST PUT PATCH DELETE)) {
        for my $path ('/api/certificates', "/api/certificates/$id") {
            for my $who ('forwarder.lehavre', 'commission.agent') {
                my $r = api_raw($ua{$who}, $method => $path, { status => 'cancelled' });
                ok $r->code == 403 || $r->code == 405, "$who: $method $path is refused (" . $r->code . ')';
            }
        }
    }
    is db_value(q{SELECT md5(string_agg(c::text, '' ORDER BY id)) FROM traces.certificates c}), $before,
       'no certificate changed';
}

# --- no valid role: 403, saying why -------------------------------------------------

{
    my $new = sign_in(fresh_uid('nobody'));
    my ($code, $p) = api($new, GET => '/api/certificates');
    is $code, 403, 'a user without a valid role gets 403';
    like $p->{detail}, qr/no access|pending/i, 'with a clear problem';
    ($code) = api($new, GET => "/api/certificates/" . (keys %{ $visible{'commission.agent'} })[0]);
    is $code, 403, 'also for a detail';
}

# --- suspension removes access within the cache bound ---------------------------------

{
    my $uid = fresh_uid('fwd');
    my $fwd = sign_in($uid);
    my $lehavre = db_value(q{SELECT id FROM traces.points_of_entry WHERE code = 'FRLEH4'});
    my ($code, $r) = api($ua{'commission.agent'}, POST => '/api/responsible-for-load',
                         { user => $uid, point_of_entry => $lehavre });
    is $code, 201, 'the Commission makes a new forwarder responsible for the load at Le Havre';
    ok wait_until(sub { (api($fwd, GET => '/api/certificates'))[0] == 200 }, 5),
       'who then sees certificates (within the cache bound)';
    ($code) = api($ua{'commission.agent'}, POST => "/api/roles/$r->{role}{id}/decision", { status => 'suspended' });
    is $code, 200, 'the Commission suspends the role';
    ok wait_until(sub { (api($fwd, GET => '/api/certificates'))[0] == 403 }, 5),
       'and within the cache bound the forwarder sees nothing';
}

# --- row-level security alone hides the rows ------------------------------------------

{
    my $d = DBI->connect('dbi:Pg:' . (dbh()->{Name}), 'traces_app', '',
                         { RaiseError => 1, AutoCommit => 0, PrintError => 0 });
    my $id_of = sub { db_value('SELECT id FROM traces.users WHERE uid = ?', shift) };
    $d->do(q{SELECT set_config('traces.user_id', ?, true)}, undef, $id_of->('consignee.user'));
    my $n = $d->selectrow_array('SELECT count(*) FROM traces.certificates');
    is $n, scalar keys %{ $visible{'consignee.user'} },
       'as traces_app, with consignee.user\'s setting, a plain SELECT sees only its certificates';
    my ($one) = grep { !$visible{'consignee.user'}{$_} } keys %{ $visible{'importer.admin'} };
    is $d->selectrow_array('SELECT count(*) FROM traces.certificates WHERE id = ?', undef, $one), 0,
       'another operator\'s certificate is hidden';
    is $d->selectrow_array('SELECT count(*) FROM traces.certificate_lines WHERE certificate_id = ?', undef, $one), 0,
       'and so are its product lines';
    $d->rollback;
    $d->do(q{SELECT set_config('traces.user_id', '', true)});
    is $d->selectrow_array('SELECT count(*) FROM traces.certificates'), 0, 'without a user, nothing';
    $d->rollback;
    $d->disconnect;
}

# --- paging while certificates are added ----------------------------------------------

{
    my $ua = $ua{'commission.agent'};
    my %seen;
    my $dupes = 0;
    my ($after, $pages) = (undef, 0);
    my %before = %{ $visible{'commission.agent'} };
    my $copy = db_value(q{SELECT string_agg(column_name, ', ') FROM information_schema.columns
                           WHERE table_schema = 'traces' AND table_name = 'certificates'
                             AND is_generated = 'NEVER' AND column_default IS DISTINCT FROM
                                 'nextval(''traces.certificates_id_seq''::regclass)'
                             AND column_name NOT IN ('id', 'reference', 'issued_at', 'created_at')});
    while (1) {
        my ($code, $page) = api($ua, GET => '/api/certificates?limit=25' . (defined $after ? "&after=$after" : ''));
        last unless $code == 200;
        $dupes += $seen{ $_->{id} }++ ? 1 : 0 for @{ $page->{items} };
        # a new certificate arrives between two pages
        dbh()->do(qq{INSERT INTO traces.certificates ($copy, reference, issued_at, created_at)
                     SELECT $copy, 'COI.PAGING.' || ? , now(), now()
                       FROM traces.certificates WHERE status = 'issued' ORDER BY id LIMIT 1},
                  undef, "$$.$pages");
        $pages++;
        last unless defined $page->{next};
        $after = $page->{next};
    }
    is $dupes, 0, 'walking every page returns each certificate once, while new ones are inserted';
    is scalar(grep { !$seen{$_} } keys %before), 0, 'and misses none that was there';
}

done_testing;
