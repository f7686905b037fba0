# The TTL worker under concurrent writers: two sessions insert rows that
# live and rows that expire a moment later, one row per transaction, into
# a table with a gv_hnsw index, while the worker deletes in small batches
# and a third session holds row locks on expired rows.  No insert fails,
# every row that lives is there at the end, every expired row goes, and a
# locked expired row is skipped (not waited for) until its lock is gone.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use lib 'test/perl';
use GvTest;

my $node = gv_new_node('ttl_conc', conf => "shared_preload_libraries = 'gigavector'\n"
	  . "gigavector.ttl_cleanup_interval = 1\ngigavector.ttl_batch_size = 25\n");
my $vec = random_vector_sql(8, 'i');
$node->safe_psql('postgres', qq{
	CREATE FUNCTION vec(i int) RETURNS gvector(8) LANGUAGE sql IMMUTABLE AS \$\$ SELECT $vec \$\$;
	CREATE TABLE items (id int PRIMARY KEY, v gvector(8), lives boolean NOT NULL);
	SELECT gigavector.enable_ttl('items');
	CREATE INDEX ON items USING gv_hnsw (v) WITH (m = 8, ef_construction = 32);
	-- rows that must survive, written in the same transaction as each one
	CREATE TABLE lived (id int PRIMARY KEY);
	-- a row that expires while a session holds its lock
	INSERT INTO items VALUES (0, vec(0), false, now() + interval '3 seconds');
	CREATE PROCEDURE load(first int, n int) LANGUAGE plpgsql AS \$\$
	BEGIN
		FOR i IN first .. first + n - 1 LOOP
			IF i % 2 = 0 THEN
				INSERT INTO items VALUES (i, vec(i), true, now() + interval '1 day');
				INSERT INTO lived VALUES (i);
			ELSE
				INSERT INTO items VALUES (i, vec(i), false, now() + interval '200 milliseconds');
			END IF;
			COMMIT;
		END LOOP;
	END
	\$\$;
});

# hold a row lock on the expired row 0 while the load runs
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN');
is($locker->query_safe('SELECT id FROM items WHERE id = 0 FOR UPDATE'), '0', 'a session locks row 0');

my @loaders;
for my $first (1, 100001)
{
	my ($out, $err) = ('', '');
	push @loaders, [ IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
		  '-c', "CALL load($first, 1500)" ], '>', \$out, '2>', \$err), \$err ];
}
ok($node->poll_query_until('postgres',
		"SELECT rows_deleted > 100 FROM gigavector.ttl_stats"), 'the worker deletes while the load runs');
for my $l (@loaders)
{
	$l->[0]->finish;
	is($l->[0]->result(0), 0, 'a loader finished without an error');
	is(${ $l->[1] }, '', 'and printed nothing');
}
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM items WHERE NOT lives AND id > 0'),
	'every expired row was deleted');
ok($node->poll_query_until('postgres', 'SELECT expires_at < now() FROM items WHERE id = 0'),
	'row 0 has expired');
# two rounds after it expired
sleep(3);
is($node->safe_psql('postgres', 'SELECT count(*) FROM items WHERE id = 0'), '1',
	'the locked expired row was skipped');
is($node->safe_psql('postgres', 'SELECT count(*) FROM lived l LEFT JOIN items i USING (id) WHERE i.id IS NULL'),
	'0', 'no row that lives was lost');
is($node->safe_psql('postgres', 'SELECT count(*) FROM items WHERE lives'), '1500', 'all 1500 of them');
$locker->query_safe('COMMIT');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM items WHERE id = 0'),
	'once unlocked it goes too');
is($node->safe_psql('postgres', 'SELECT rows_deleted FROM gigavector.ttl_stats'), '1501',
	'ttl_stats counts every deleted row once');
$node->safe_psql('postgres', 'VACUUM items');
is($node->safe_psql('postgres',
		"SET enable_seqscan = off; SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> vec(2) LIMIT 10) s"),
	'10', 'the index finds k rows after the deletions and VACUUM');
$locker->quit;
$node->stop('fast');
done_testing();
