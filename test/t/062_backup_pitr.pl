# Point-in-time recovery: a base backup, then a load of rows (one
# transaction each) into tables with gv_hnsw, gv_ivfpq and gv_kdtree
# indexes with WAL archived; a new cluster from the backup, recovered to a
# timestamp in the middle of the load, holds exactly the rows whose
# transactions committed by then (their commit timestamps, from
# track_commit_timestamp), and its indexes verify and find them.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init(allows_streaming => 1, has_archiving => 1);
$node->append_conf('postgresql.conf', qq{
autovacuum = off
track_commit_timestamp = on
max_parallel_maintenance_workers = 0
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION gigavector');
my $vec = random_vector_sql(16, 'i');
$node->safe_psql('postgres', qq{
	CREATE FUNCTION vec(i int) RETURNS gvector(16) LANGUAGE sql IMMUTABLE
		AS \$\$ SELECT $vec \$\$;
	CREATE TABLE h (id int PRIMARY KEY, emb gvector(16));
	CREATE TABLE iv (id int PRIMARY KEY, emb gvector(16));
	CREATE TABLE kd (id int PRIMARY KEY, emb gvector(6));
	INSERT INTO h SELECT i, vec(i) FROM generate_series(1, 1000) i;
	INSERT INTO iv SELECT i, vec(i) FROM generate_series(1, 1000) i;
	INSERT INTO kd SELECT i, subvector(vec(i), 1, 6) FROM generate_series(1, 1000) i;
	CREATE INDEX h_idx ON h USING gv_hnsw (emb) WITH (m = 8, ef_construction = 32);
	CREATE INDEX iv_idx ON iv USING gv_ivfpq (emb) WITH (lists = 16, subquantizers = 4, bits = 6);
	CREATE INDEX kd_idx ON kd USING gv_kdtree (emb);
	CREATE PROCEDURE load(first int, last int) LANGUAGE plpgsql AS \$\$
	BEGIN
		FOR i IN first .. last LOOP
			INSERT INTO h VALUES (i, vec(i));
			INSERT INTO iv VALUES (i, vec(i));
			INSERT INTO kd VALUES (i, subvector(vec(i), 1, 6));
			COMMIT;
		END LOOP;
	END
	\$\$;
});
$node->backup('base');
$node->safe_psql('postgres', 'CALL load(1001, 3000)');
# The target: the commit time of the 1,000th row of the load; recovery
# stops after the last commit at or before it (recovery_target_inclusive).
my $target = $node->safe_psql('postgres',
	'SELECT pg_xact_commit_timestamp(xmin) FROM h WHERE id = 2000');
my $expected = $node->safe_psql('postgres',
	"SELECT count(*) FROM h WHERE pg_xact_commit_timestamp(xmin) <= '$target'");
cmp_ok($expected, '>=', 2000, "rows committed by the target: $expected");
cmp_ok($expected, '<', 3000, 'the target is in the middle of the load');
my $walfile = $node->safe_psql('postgres', 'SELECT pg_walfile_name(pg_current_wal_lsn())');
$node->safe_psql('postgres', 'SELECT pg_switch_wal()');
$node->poll_query_until('postgres',
	"SELECT last_archived_wal >= '$walfile' FROM pg_stat_archiver") or die 'WAL not archived';

my $copy = PostgreSQL::Test::Cluster->new('pitr');
$copy->init_from_backup($node, 'base', has_restoring => 1, standby => 0);
$copy->append_conf('postgresql.conf', qq{
recovery_target_time = '$target'
recovery_target_action = 'promote'
});
$copy->start;
$copy->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die 'recovery did not end';

my $ids = $node->safe_psql('postgres',
	"SELECT string_agg(id::text, ',' ORDER BY id) FROM h WHERE pg_xact_commit_timestamp(xmin) <= '$target'");
for my $t (qw(h iv kd))
{
	is($copy->safe_psql('postgres', "SELECT string_agg(id::text, ',' ORDER BY id) FROM $t"), $ids,
		"$t: exactly the $expected rows committed by the target");
}
# The transaction after the target wrote index entries before recovery
# stopped at its commit record: at most one entry more than rows.
my ($elements, $unreachable) = split /\|/, $copy->safe_psql('postgres',
	'SELECT elements, unreachable FROM gigavector.hnsw_verify(\'h_idx\')');
ok($elements == $expected || $elements == $expected + 1,
	"gv_hnsw: $elements elements for $expected rows");
is($unreachable, 0, 'gv_hnsw: every element is reachable');
my ($trained, $entries) = split /\|/, $copy->safe_psql('postgres',
	'SELECT trained, entries FROM gigavector.ivfpq_info(\'iv_idx\')');
ok($trained eq 't' && ($entries == $expected || $entries == $expected + 1),
	"gv_ivfpq: trained, $entries entries for $expected rows");
$copy->safe_psql('postgres', "CREATE TABLE qs AS SELECT id, emb FROM h WHERE id > $expected - 20");
for my $t (qw(h iv kd))
{
	my $emb = $t eq 'kd' ? 'subvector(q.emb, 1, 6)' : 'q.emb';
	is(gv_found_through_index($copy, $t, $emb), 20,
		"the last 20 recovered rows are found through $t\'s index");
}
is($copy->safe_psql('postgres', "SELECT count(*) FROM h WHERE id > $expected"), 0,
	'no row committed after the target');

$copy->stop;
$node->stop;
done_testing();
