# gv_ivfpq crash recovery: kill -9 the server while inserts are extending
# the lists; after recovery every committed row is found through the index
# (with every list probed and a re-rank depth covering the table, the index
# scan returns every row), and the index structure is intact.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $node = gv_new_node('crash');
my $vec = random_vector_sql(32, 'i');
$node->safe_psql('postgres', qq{
	CREATE TABLE items (id int PRIMARY KEY, emb gvector(32));
	INSERT INTO items SELECT i, $vec FROM generate_series(1, 1000) i;
	CREATE INDEX items_idx ON items USING gv_ivfpq (emb) WITH (lists = 10, subquantizers = 8);
});

# Committed inserts in several transactions, then one left open, then kill -9.
for my $batch (0 .. 9)
{
	my ($lo, $hi) = (1001 + $batch * 300, 1000 + ($batch + 1) * 300);
	$node->safe_psql('postgres', "INSERT INTO items SELECT i, $vec FROM generate_series($lo, $hi) i");
}
my $bg = $node->background_psql('postgres');
$bg->query_safe("BEGIN; INSERT INTO items SELECT i, $vec FROM generate_series(10001, 12000) i");
$node->stop('immediate');
$bg->quit;
$node->start;

my $set = "SET enable_seqscan = off; SET enable_bitmapscan = off; "
  . "SET gigavector.ivfpq_probes = 10; SET gigavector.ivfpq_rerank = 100000; ";
my $all = "SELECT count(*), count(DISTINCT id), max(id) FROM (SELECT id FROM items "
  . "ORDER BY emb <-> (SELECT emb FROM items WHERE id = 1) LIMIT 100000) s";
is($node->safe_psql('postgres', $set . $all), '4000|4000|4000',
	'every committed row is found through the index after kill -9, nothing uncommitted');
like($node->safe_psql('postgres', "$set EXPLAIN (COSTS OFF) $all"), qr/items_idx/, 'the query used the index');
is($node->safe_psql('postgres', "SELECT entries >= 4000 FROM gigavector.ivfpq_info('items_idx')"),
	't', 'index lists are intact');

# The index still takes inserts and finds them.
$node->safe_psql('postgres', "INSERT INTO items SELECT i, $vec FROM generate_series(20001, 20100) i");
is($node->safe_psql('postgres', "SET enable_seqscan = off; SELECT id FROM items "
	  . "ORDER BY emb <-> (SELECT emb FROM items WHERE id = 20050) LIMIT 1"),
	'20050', 'a row inserted after recovery is its own nearest neighbour');

$node->stop;
done_testing();
