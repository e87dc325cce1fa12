#!/usr/bin/perl
# The guide's access requests and their validation (sections 2 and 3), over
# real HTTP, signed in through the EU Login stand-in.

use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Traces::Test;

my $cb_ecocert = db_value(q{SELECT id FROM traces.control_bodies WHERE code = 'FR-BIO-01'});

sub new_importer {
    my (%over) = @_;
    return {
        name => "Bio Import $over{tag}", country => 'FR', region => 'Île-de-France',
        postcode => '75007', city => 'Paris', address => '1 rue de Grenelle',
        latitude => 48.85, longitude => 2.32, phone => '+33 1 23 45 67 89',
        email => 'contact@bio-import.example', web_url => 'https://bio-import.example',
        identifiers => $over{identifiers} // [ { type => 'eori', value => 'FR123456789' } ],
        activity => { activity => 'organic_importer', control_body_id => $cb_ecocert,
                      valid_from => '2026-01-01', valid_until => '2027-12-31' },
        request => { message => 'Operator n. 11111', email => 'name@youremail.com',
                     phone => '+32 4567898' },
    };
}

sub counts { my $me = (api(shift, GET => '/api/me'))[1]; return $me->{counts} }

my $operators_before = db_value('SELECT count(*) FROM traces.operators');

# --- 2.1: a fresh user creates a new importer --------------------------------

my $alice_uid = fresh_uid('alice');
my $alice = sign_in($alice_uid);
my ($code, $me) = api($alice, GET => '/api/me');
is $code, 200, 'a fresh EU Login user has a profile';
is $me->{user}{application_access}, 'none', '"Accès à l\'application : Pas d\'accès"';
is_deeply $me->{counts}, { deleted => 0, requested => 0, suspended => 0, valid => 0 },
    'no role yet';

my $tag = time;
($code, my $err) = api($alice, POST => '/api/operators', new_importer(tag => $tag, identifiers => []));
is $code, 422, 'an importer without EORI is refused';
ok((grep { $_->{field} eq 'identifiers' && $_->{message} =~ /EORI/ } @{ $err->{errors} }),
   'the problem names the identifiers and the EORI');
is db_value('SELECT count(*) FROM traces.operators'), $operators_before, 'nothing was written';

my $bad = new_importer(tag => $tag);
$bad->{email} = 'not an address';
$bad->{country} = 'France';
$bad->{identifiers} = [ { type => 'eori', value => 'FR12' } ];
delete $bad->{activity};
($code, $err) = api($alice, POST => '/api/operators', $bad);
is $code, 422, 'several faults at once';
my %fields = map { $_->{field} => 1 } @{ $err->{errors} };
ok $fields{$_}, "the 422 names $_" for qw(email country identifiers[0].value activity);

($code, my $created) = api($alice, POST => '/api/operators', new_importer(tag => $tag));
is $code, 201, 'with its EORI the new importer is created';
my $op = $created->{operator}{id};
is $created->{operator}{status}, 'new', 'the operator is new';
is $created->{request}{status}, 'requested', 'together with the creator\'s request';
ok $created->{request}{first_request}, 'the creator is the first requester';
is_deeply counts($alice), { deleted => 0, requested => 1, suspended => 0, valid => 0 },
    'me shows "0 Supprimé 1 Demandé 0 Suspendu 0 Valid"';

# --- a second fresh user requests the same operator ---------------------------

my $bob = sign_in(fresh_uid('bob'));
($code, my $found) = api($bob, GET => "/api/operators?country=FR&activity=organic_importer&name=Bio%20Import%20$tag");
is $code, 200, 'operators can be searched by country, activity and name';
is_deeply [ map { $_->{id} } @{ $found->{items} } ], [$op], 'the new operator is found';
($code, my $req) = api($bob, POST => "/api/operators/$op/requests",
                       { message => 'Je travaille ici', email => 'bob@example.eu', phone => '+33 6 00 00 00 00' });
is $code, 201, 'a second user requests the same operator';
ok !$req->{request}{first_request}, 'and is not the first requester';
my $bob_role = $req->{request}{id};
($code) = api($bob, POST => "/api/operators/$op/requests", {});
is $code, 409, 'a second active request for the same organisation is refused';

($code) = api($bob, POST => "/api/roles/$created->{request}{id}/decision", { status => 'valid' });
is $code, 403, 'the second user cannot decide anything';
is db_value('SELECT status FROM traces.roles WHERE id = ?', $created->{request}{id}), 'requested',
   'and nothing changed';

# --- INAO validates ---------------------------------------------------------

my $inao = sign_in('inao.agent');
($code, my $pending) = api($inao, GET => "/api/requests?status=requested&operator=$op");
is $code, 200, 'INAO searches the pending requests';
my %seen = map { $_->{id} => $_ } @{ $pending->{items} };
ok $seen{ $created->{request}{id} } && $seen{$bob_role}, 'and sees both';
is $seen{$bob_role}{user}{status}, 'requested', 'with the user\'s general status';
is $seen{$bob_role}{status}, 'requested', 'and the request\'s status';

($code, my $decided) = api($inao, POST => "/api/roles/$created->{request}{id}/decision", { status => 'valid' });
is $code, 200, 'INAO validates the first request';
is db_value('SELECT status FROM traces.operators WHERE id = ?', $op), 'valid', 'the operator is valid too';
ok db_value('SELECT is_admin FROM traces.roles WHERE id = ?', $created->{request}{id}),
   'the first user is its administrator';

# --- the administrator validates the second user ----------------------------

($code, $pending) = api($alice, GET => '/api/requests?status=requested');
is_deeply [ map { $_->{id} } @{ $pending->{items} } ], [$bob_role],
   'the administrator sees the second user\'s pending request, only it';
($code, my $profile) = api($alice, GET => "/api/users/$pending->{items}[0]{user}{id}");
is $code, 200, 'and opens that user\'s profile';
is $profile->{user}{domain}, 'external', 'Domaine: Externe';
($code) = api($alice, POST => "/api/roles/$bob_role/decision", { status => 'valid' });
is $code, 200, 'the administrator validates it ("Enregistrer les modifications")';
is ((api($alice, GET => '/api/me'))[1]{user}{application_access}, 'granted', 'the first user has access');
is ((api($bob, GET => '/api/me'))[1]{user}{application_access}, 'granted', 'so has the second');

# administrators: admin on others, never the last one removed
($code) = api($alice, POST => "/api/roles/$created->{request}{id}/decision", { status => 'valid', admin => JSON::PP::false });
is $code, 409, 'the last administrator cannot be removed';
($code) = api($alice, POST => "/api/roles/$bob_role/decision", { status => 'valid', admin => JSON::PP::true });
is $code, 200, 'an administrator grants admin to a colleague';
($code) = api($bob, POST => "/api/roles/$created->{request}{id}/decision", { status => 'suspended' });
is $code, 200, 'who may then suspend the first one';

# --- refused transitions -------------------------------------------------------

{
    my $carol = sign_in(fresh_uid('carol'));
    my (undef, $r) = api($carol, POST => "/api/operators/$op/requests", {});
    my $role = $r->{request}{id};
    ($code) = api($inao, POST => "/api/roles/$role/decision", { status => 'suspended' });
    is $code, 409, 'requested -> suspended is refused';
    ($code) = api($inao, POST => "/api/roles/$role/decision", { status => 'deleted' });
    is $code, 200, 'requested -> deleted';
    for my $to (qw(valid suspended deleted)) {
        ($code) = api($inao, POST => "/api/roles/$role/decision", { status => $to });
        is $code, 409, "deleted -> $to is refused";
    }
    is db_value('SELECT status FROM traces.roles WHERE id = ?', $role), 'deleted', 'nothing changed';
    ($code) = api($inao, POST => "/api/roles/$role/decision", { status => 'requested' });
    is $code, 422, 'a status outside the decisions is bad input';
    ($code) = api($carol, POST => "/api/operators/$op/requests", {});
    is $code, 201, 'after a deletion, a new request may be made';
}

# --- 404s -----------------------------------------------------------------------

($code) = api($bob, POST => '/api/operators/999999999/requests', {});
is $code, 404, 'a request on an operator that does not exist is 404';
{
    my $gone = db_value(q{INSERT INTO traces.operators (name, country_code, city, address, status)
                          VALUES ('Disparu', 'FR', 'Nantes', '3 quai', 'deleted') RETURNING id});
    ($code) = api($bob, POST => "/api/operators/$gone/requests", {});
    is $code, 404, 'a request on a deleted operator is 404';
}
($code) = api($bob, GET => "/api/users/$pending->{items}[0]{user}{id}");
my $stranger = sign_in(fresh_uid('stranger'));
my $inao_id = db_value(q{SELECT id FROM traces.users WHERE uid = 'inao.agent'});
($code) = api($stranger, GET => "/api/users/$inao_id");
is $code, 404, 'a user one may not manage is 404, as if absent';

# --- 2.2: several control-body entries at once -----------------------------------

{
    my $dave = sign_in(fresh_uid('dave'));
    ($code, my $list) = api($dave, GET => '/api/control-bodies?name=Control%20Union&limit=100');
    is $code, 200, 'control bodies are searched by name';
    my %by_code = map { $_->{code} => $_ } @{ $list->{items} };
    my @ids = map { $by_code{$_}{id} } qw(AE-BIO-149 AF-BIO-149 AL-BIO-149);
    is scalar(grep { defined } @ids), 3, 'the three Control Union entries are listed';
    is_deeply $by_code{'AE-BIO-149'}{categories}, [qw(A B C D E F)], 'with their product categories';
    ($code, my $r) = api($dave, POST => '/api/control-bodies/requests',
                         { control_body_ids => \@ids, message => 'Test demonstration',
                           email => 'name@domain.com', phone => '+32 02 123456' });
    is $code, 201, 'one request for three entries';
    is scalar @{ $r->{requests} }, 3, 'makes three role requests';
    ($code) = api($dave, POST => '/api/control-bodies/requests', { control_body_ids => [ $ids[0], 999999 ] });
    ok $code == 409 || $code == 422, 'a request with an active and an unknown entry is refused';
    is db_value('SELECT count(*) FROM traces.roles r JOIN traces.users u ON u.id = r.user_id
                 WHERE u.uid = ?', (api($dave, GET => '/api/me'))[1]{user}{uid}), 3,
       'all or none: still three requests';
    for (@{ $r->{requests} }) {
        ($code) = api($inao, POST => "/api/roles/$_->{id}/decision", { status => 'valid' });
        is $code, 200, "INAO validates the request for $_->{organisation}{code}";
    }
    is counts($dave)->{valid}, 3, 'three valid roles';
}

# --- 2.3: responsible for the load -------------------------------------------------

{
    my $fwd_uid = fresh_uid('forwarder');
    sign_in($fwd_uid);
    my $lehavre = db_value(q{SELECT id FROM traces.points_of_entry WHERE name ILIKE 'Le Havre%' LIMIT 1});
    for my $who (qw(importer.admin inao.agent)) {
        ($code) = api(scalar sign_in($who), POST => '/api/responsible-for-load',
                      { user => $fwd_uid, point_of_entry => $lehavre });
        is $code, 403, "$who may not assign responsible for the load";
    }
    my $commission = sign_in('commission.agent');
    ($code, my $r) = api($commission, POST => '/api/responsible-for-load',
                         { user => $fwd_uid, point_of_entry => $lehavre });
    is $code, 201, 'the Commission assigns it';
    is $r->{role}{status}, 'valid', 'valid at once';
    is $r->{role}{kind}, 'point_of_entry', 'for the point of entry';
    ($code) = api($commission, POST => '/api/responsible-for-load',
                  { user => $fwd_uid, point_of_entry => $lehavre });
    is $code, 409, 'not twice';
}

# --- audit ------------------------------------------------------------------------

{
    ($code, my $audit) = api($inao, GET => '/api/audit?limit=100');
    is $code, 200, 'INAO reads the audit log of its country';
    ok((grep { ($_->{role_id} // 0) == $created->{request}{id} && $_->{after_status} eq 'valid' }
        @{ $audit->{items} }), 'its validation is there, with the status after');
    ($code) = api($bob, GET => '/api/audit');
    is $code, 403, 'an operator user may not read it';
}

# --- cross-site requests change nothing -------------------------------------------

{
    my $count = db_value('SELECT count(*) FROM traces.roles');
    my $eve = sign_in(fresh_uid('eve'));
    my $res = api_raw($eve, POST => "/api/operators/$op/requests", 'message=hi',
                      'Content-Type' => 'application/x-www-form-urlencoded',
                      Origin => 'http://evil.example');
    is $res->code, 403, 'a cross-site form post is refused';
    $res = api_raw($eve, POST => "/api/operators/$op/requests", {}, Origin => undef);
    is $res->code, 403, 'a request without Origin is refused';
    $res = api_raw($eve, POST => "/api/operators/$op/requests", {}, Origin => 'http://127.0.0.1:1');
    is $res->code, 403, 'a request from another origin is refused';
    $res = api_raw($eve, POST => "/api/operators/$op/requests", 'message=hi',
                   'Content-Type' => 'text/plain');
    is $res->code, 415, 'a body that is not JSON is refused';
    is db_value('SELECT count(*) FROM traces.roles'), $count, 'nothing was written'
        or diag explain db_rows('SELECT r.id, r.kind, r.status, u.uid FROM traces.roles r
                                 JOIN traces.users u ON u.id = r.user_id ORDER BY r.id DESC LIMIT 3');
}

# --- 50 concurrent first requests on a new operator --------------------------------

{
    my $fresh = db_value(q{INSERT INTO traces.operators (name, country_code, city, address)
                           VALUES ('Course au premier', 'FR', 'Rennes', '5 place') RETURNING id});
    my @clients = map { scalar sign_in(fresh_uid("race$_")) } 1 .. 50;
    my @pids;
    for my $c (@clients) {
        my $pid = fork // die;
        if ($pid == 0) {
            my ($status) = api($c, POST => "/api/operators/$fresh/requests", {});
            exit($status == 201 ? 0 : 1);
        }
        push @pids, $pid;
    }
    my $created_n = 0;
    for (@pids) { waitpid $_, 0; $created_n++ if $? == 0 }
    is $created_n, 50, '50 concurrent requests are all recorded';
    is db_value('SELECT count(*) FROM traces.roles WHERE operator_id = ? AND first_request', $fresh), 1,
       'exactly one of them is the first, the administrator candidate';
}

done_testing;
