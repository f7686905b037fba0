# gv_kdtree and WAL: a streaming standby gives the same exact k-NN answers
# as the primary after a build (one within maintenance_work_mem, one in
# batches over it), inserts that split leaves (root leaf included), deletes
# and VACUUM (an L2 and an L1 index on one table); the primary runs with
# wal_consistency_checking = 'generic', so every GenericXLog record is
# replayed and compared page for page.  Then kill -9 during inserts: after
# recovery an index scan finds every committed row and nothing else.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $primary = gv_new_node('kd_primary', allows_streaming => 1,
	conf => "wal_consistency_checking = 'generic'\n");
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('kd_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

my $vec = random_vector_sql(6, 'i');
$primary->safe_psql('postgres', qq{
	CREATE TABLE items (id int PRIMARY KEY, emb gvector(6));
	CREATE INDEX items_kd ON items USING gv_kdtree (emb);
	CREATE INDEX items_kd_l1 ON items USING gv_kdtree (emb gvector_l1_ops);
	CREATE TABLE built (id int PRIMARY KEY, emb gvector(6));
	INSERT INTO built SELECT i, $vec FROM generate_series(1, 3000) i;
	CREATE INDEX built_kd ON built USING gv_kdtree (emb gvector_cosine_ops);
	CREATE TABLE batched (id int PRIMARY KEY, emb gvector(6));
	INSERT INTO batched SELECT i, $vec FROM generate_series(1, 50000) i;
});
# a build over maintenance_work_mem: three batches, the later two routed
# into the first one's leaves (pages rewritten before the final logging)
$primary->safe_psql('postgres', q{
	SET maintenance_work_mem = '1MB';
	CREATE INDEX batched_kd ON batched USING gv_kdtree (emb);
});

# The distances of a k-NN query's rows, rounded (ties, and the last bits of
# the SIMD kernels, may order equal-distance rows differently).
sub knn
{
	my ($node, $table, $op, $qid) = @_;
	return $node->safe_psql('postgres', qq{
		SET enable_seqscan = off;
		WITH q AS (SELECT emb FROM built WHERE id = $qid)
		SELECT string_agg(round((emb $op (SELECT emb FROM q))::numeric, 5)::text, ',') FROM (SELECT emb FROM $table
			ORDER BY emb $op (SELECT emb FROM q) LIMIT 25) s});
}

sub check_standby
{
	my ($label) = @_;
	$primary->wait_for_catchup($standby);
	for my $qid (7, 99, 1234)
	{
		is(knn($standby, 'items', '<->', $qid), knn($primary, 'items', '<->', $qid),
			"$label: standby answers like the primary (L2, query $qid)");
		is(knn($standby, 'items', '<+>', $qid), knn($primary, 'items', '<+>', $qid),
			"$label: standby answers like the primary (L1, query $qid)");
		is(knn($standby, 'built', '<=>', $qid), knn($primary, 'built', '<=>', $qid),
			"$label: standby answers like the primary (cosine, query $qid)");
		is(knn($standby, 'batched', '<->', $qid), knn($primary, 'batched', '<->', $qid),
			"$label: standby answers like the primary (batched build, query $qid)");
	}
	# the replayed trees pass the structural check, as the primary's
	for my $index (qw(items_kd items_kd_l1 built_kd batched_kd))
	{
		my $verify = "SELECT nodes || '|' || leaves || '|' || points FROM gigavector.kdtree_verify('$index')";
		is($standby->safe_psql('postgres', $verify), $primary->safe_psql('postgres', $verify),
			"$label: kdtree_verify of $index passes on the standby, with the primary's counts");
	}
}

# inserts into the empty index: root leaf, then splits
for my $batch (0 .. 9)
{
	my ($lo, $hi) = ($batch * 300 + 1, $batch * 300 + 300);
	$primary->safe_psql('postgres', qq{
		INSERT INTO items SELECT i, $vec FROM generate_series($lo, $hi) i;
		INSERT INTO built SELECT i + 3000, $vec FROM generate_series($lo, $hi) i;
		INSERT INTO batched SELECT i + 50000, $vec FROM generate_series($lo, $hi) i;});
}
check_standby('after inserts');
$primary->safe_psql('postgres', 'DELETE FROM items WHERE id % 3 = 0; DELETE FROM built WHERE id % 4 = 0; VACUUM items; VACUUM built;');
check_standby('after VACUUM');
my $order_sql = q{SET enable_seqscan = off; SELECT count(*), md5(string_agg(id::text, ',' ORDER BY id))
	FROM (SELECT id FROM items ORDER BY emb <-> (SELECT emb FROM built WHERE id = 5) LIMIT 100000) s};
is($standby->safe_psql('postgres', $order_sql),
	$primary->safe_psql('postgres', q{SELECT count(*), md5(string_agg(id::text, ',' ORDER BY id)) FROM items}),
	'a full index scan on the standby returns exactly the live rows');

# kill -9 while a transaction inserts, after committed ones
for my $batch (0 .. 9)
{
	my ($lo, $hi) = (10000 + $batch * 200, 10000 + $batch * 200 + 199);
	$primary->safe_psql('postgres', "INSERT INTO items SELECT i, $vec FROM generate_series($lo, $hi) i");
}
my $bg = $primary->background_psql('postgres');
$bg->query_safe("BEGIN; INSERT INTO items SELECT i, $vec FROM generate_series(50001, 53000) i");
$primary->stop('immediate');
$bg->quit;
$primary->start;
my $live = $primary->safe_psql('postgres', q{SELECT count(*), md5(string_agg(id::text, ',' ORDER BY id)) FROM items});
is($primary->safe_psql('postgres', $order_sql), $live,
	'after kill -9 and recovery an index scan finds every committed row and nothing else');
like($primary->safe_psql('postgres', q{SET enable_seqscan = off; EXPLAIN (COSTS OFF)
	SELECT id FROM items ORDER BY emb <-> (SELECT emb FROM built WHERE id = 5) LIMIT 10}),
	qr/Index Scan using items_kd/, 'the index is used');
$primary->safe_psql('postgres', "INSERT INTO items SELECT i, $vec FROM generate_series(60001, 61000) i");
is($primary->safe_psql('postgres', q{SET enable_seqscan = off; SELECT id FROM items ORDER BY emb <-> (SELECT emb FROM items WHERE id = 60500) LIMIT 1}),
	'60500', 'inserts after recovery are found');

$standby->stop;
$primary->stop;
done_testing();
