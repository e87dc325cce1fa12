#!/usr/bin/perl
# The schema: migrations from empty and again (no change), the module's
# least-privileged role, and the invariants the constraints carry.

use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Traces::Test;

my $root = $ENV{TRACES_ROOT} // "$FindBin::Bin/..";
my $pgbin = $ENV{TRACES_PGBIN} // '/usr/lib/postgresql/15/bin';
my $super = $ENV{TRACES_DB} // 'host=127.0.0.1 port=54321 dbname=traces user=postgres';
(my $scratch = $super) =~ s/dbname=\S+/dbname=traces_migrations/;
(my $admin = $super) =~ s/dbname=\S+/dbname=postgres/;

# --- from empty, then again -----------------------------------------------

system("$pgbin/psql", '-q', $admin, '-c', 'DROP DATABASE IF EXISTS traces_migrations') == 0
    or BAIL_OUT('cannot drop the scratch database');
system("$pgbin/psql", '-q', $admin, '-c', 'CREATE DATABASE traces_migrations') == 0
    or BAIL_OUT('cannot create the scratch database');

is system("$root/sql/migrate '$scratch' >/dev/null"), 0, 'migrations apply to an empty database';
my @files = glob "$root/sql/migrations/*.sql";
my $count = `$pgbin/psql -tAq '$scratch' -c 'SELECT count(*) FROM traces.schema_migrations'`;
chomp $count;
is $count, scalar @files, 'each migration is recorded once';

# pg_dump marks each dump with a random \restrict key: not a schema change
my $dump = sub { scalar `$pgbin/pg_dump --schema-only '$scratch'` =~ s/^\\(un)?restrict .*\n//mgr };
my $before = $dump->();
like $before, qr/CREATE TABLE traces\.certificates/, 'the schema holds the certificates';
is system("$root/sql/migrate '$scratch' >/dev/null"), 0, 'migrating again succeeds';
ok $dump->() eq $before, 'and changes nothing';
$count = `$pgbin/psql -tAq '$scratch' -c 'SELECT count(*) FROM traces.schema_migrations'`;
chomp $count;
is $count, scalar @files, 'no migration is recorded twice';

system("$pgbin/psql", '-q', $admin, '-c', 'DROP DATABASE traces_migrations');

# --- the module's role -------------------------------------------------------

my $d = dbh();
my $owner = db_value(q{SELECT tableowner FROM pg_tables WHERE schemaname = 'traces'
                        AND tablename = 'certificates'});
is $owner, 'traces_owner', 'tables belong to traces_owner';
ok !db_value(q{SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls
               FROM pg_roles WHERE rolname = 'traces_app'}), 'traces_app has no special power';
for my $priv (qw(INSERT UPDATE DELETE TRUNCATE)) {
    ok !db_value(q{SELECT has_table_privilege('traces_app', 'traces.certificates', ?)}, $priv),
       "traces_app may not $priv certificates";
}
ok !db_value(q{SELECT has_table_privilege('traces_app', 'traces.audit_log', 'UPDATE')}),
   'nor rewrite the audit log';

# --- invariants --------------------------------------------------------------

sub fails_at_commit {
    my ($name, @statements) = @_;
    $d->begin_work;
    my $ok = eval { $d->do($_) for @statements; $d->commit; 1 };
    my $err = $@;
    $d->rollback unless $ok || $d->{AutoCommit};
    ok !$ok, $name;
    return $err;
}

my $country = 'FR';
my $cb = db_value(q{SELECT id FROM traces.control_bodies WHERE code = 'FR-BIO-01'});
ok $cb, 'Ecocert FR-BIO-01 is in the demo data';

my $err = fails_at_commit('an importer without EORI is refused by the database',
    q{INSERT INTO traces.operators (id, name, country_code, city, address)
      OVERRIDING SYSTEM VALUE VALUES (990001, 'Sans EORI', 'FR', 'Paris', '1 rue')},
    qq{INSERT INTO traces.operator_activities (operator_id, activity, control_body_id)
       VALUES (990001, 'organic_importer', $cb)});
like $err, qr/EORI/i, 'naming the EORI';

fails_at_commit('a malformed French EORI is refused',
    q{INSERT INTO traces.operators (id, name, country_code, city, address)
      OVERRIDING SYSTEM VALUE VALUES (990002, 'EORI court', 'FR', 'Paris', '1 rue')},
    q{INSERT INTO traces.operator_identifiers (operator_id, type, value)
      VALUES (990002, 'eori', 'FR12345')});

ok !db_value('SELECT count(*) FROM traces.operators WHERE id IN (990001, 990002)'),
   'nothing was written';

# a second administrator candidate on one operator
$d->begin_work;
my $op = $d->selectrow_array(q{INSERT INTO traces.operators (name, country_code, city, address)
                               VALUES ('Deux premiers', 'FR', 'Lyon', '2 rue') RETURNING id});
my @users = map {
    $d->selectrow_array(q{INSERT INTO traces.users (sub, uid) VALUES (?, ?) RETURNING id},
                        undef, ("schema.$_." . $$) x 2)
} 1 .. 2;
$d->do(q{INSERT INTO traces.roles (user_id, kind, operator_id, status, first_request)
         VALUES (?, 'operator', ?, 'requested', true)}, undef, $users[0], $op);
my $second = eval {
    $d->do(q{INSERT INTO traces.roles (user_id, kind, operator_id, status, first_request)
             VALUES (?, 'operator', ?, 'requested', true)}, undef, $users[1], $op);
    1;
};
ok !$second, 'a second administrator candidate on one operator is refused';
$d->rollback;

# allowed transitions only
$d->begin_work;
my $u = $d->selectrow_array(q{INSERT INTO traces.users (sub, uid) VALUES (?, ?) RETURNING id},
                            undef, ("schema.t." . $$) x 2);
my $role = $d->selectrow_array(q{INSERT INTO traces.roles (user_id, kind, control_body_id, status)
                                 VALUES (?, 'control_body', ?, 'requested') RETURNING id},
                               undef, $u, $cb);
$d->do(q{UPDATE traces.roles SET status = 'deleted' WHERE id = ?}, undef, $role);
my $back = eval { $d->do(q{UPDATE traces.roles SET status = 'valid' WHERE id = ?}, undef, $role); 1 };
ok !$back, 'a deleted role cannot come back to valid';
$d->rollback;

done_testing;
