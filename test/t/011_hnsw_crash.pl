# gv_hnsw crash safety: kill -9 the server while sessions insert into an
# indexed table; after recovery the graph is structurally sound and an index
# scan that reads the whole graph finds every live heap row.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use lib 'test/perl';
use GvTest;

my $node = gv_new_node('crash');
my $vec = random_vector_sql(16, 'i');
$node->safe_psql('postgres', qq{
	CREATE TABLE items (id int, emb gvector(16), grp int GENERATED ALWAYS AS (id % 7) STORED);
	INSERT INTO items SELECT i, $vec FROM generate_series(1, 500) i;
	CREATE INDEX items_emb ON items USING gv_hnsw (emb) WITH (m = 8, ef_construction = 32);
	-- a filter column: its key directory (with sketches) must list every row too
	CREATE INDEX items_key ON items USING gv_hnsw (emb, grp) WITH (m = 8, ef_construction = 32);
	CREATE SEQUENCE ids START 100000;
});

# Two sessions insert in small committed transactions until the crash.
my @bg;
for my $s (1 .. 2)
{
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	$bg->query_until(qr/go/, q{\echo go
		DO $$ BEGIN FOR k IN 1..100000 LOOP
			INSERT INTO items SELECT i, (SELECT array_agg(sin(i * 1000 + j)::real ORDER BY j)
				FROM generate_series(1, 16) j)::gvector(16)
				FROM (SELECT nextval('ids') AS i FROM generate_series(1, 5)) s;
			COMMIT;
		END LOOP; END $$;
});
	push @bg, $bg;
}
usleep(3_000_000);
$node->stop('immediate');
eval { $_->quit } for @bg;
$node->start;

my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
cmp_ok($rows, '>', 500, "inserts committed before the crash ($rows rows)");
my $elements = $node->safe_psql('postgres',
	q{SELECT elements FROM gigavector.hnsw_verify('items_emb')});
cmp_ok($elements, '>=', $rows, 'hnsw_verify passes; an element for every row');
is($node->safe_psql('postgres', q{
	SET enable_seqscan = off; SET gigavector.hnsw_max_scan_tuples = 1000000;
	SELECT count(*) FROM items WHERE id NOT IN (
		SELECT id FROM (SELECT id FROM items ORDER BY emb <-> (SELECT emb FROM items LIMIT 1) LIMIT 1000000) s)}),
	0, 'an index scan over the whole graph finds every live heap row');
cmp_ok($node->safe_psql('postgres', q{SELECT elements FROM gigavector.hnsw_verify('items_key')}),
	'>=', $rows, 'hnsw_verify passes on the filter-column index (key directory: every visible row listed)');
# ef_search 40: ~1,700 matches are more than sqrt(32 * 40 * 500 rows at
# build) = 800, so the graph is searched; ef_search 400 raises the limit to
# 2,529 and the matches are read from the key directory
for my $ef (40, 400)
{
	is($node->safe_psql('postgres', qq{
		SET enable_seqscan = off; SET gigavector.hnsw_max_scan_tuples = 1000000;
		SET gigavector.hnsw_ef_search = $ef;
		SELECT count(*) FROM items WHERE grp = 1 AND id NOT IN (
			SELECT id FROM (SELECT id FROM items WHERE grp = 1
				ORDER BY emb <-> (SELECT emb FROM items LIMIT 1) LIMIT 1000000) s)}),
		0, "a filtered index scan (ef_search $ef) finds every live row that matches");
}

# The index keeps working after recovery.  An element whose insert the
# crash cut short (written, but not yet linked from its neighbours) belongs
# to a row whose transaction never committed: unreachable, but dead, and
# VACUUM turns it into a tombstone (INDEX_CLEANUP ON: with so few dead rows
# VACUUM would otherwise skip the indexes, PostgreSQL's bypass).  After
# VACUUM every live element is reachable.
$node->safe_psql('postgres', "INSERT INTO items SELECT i, $vec FROM generate_series(200001, 200100) i");
$node->safe_psql('postgres', 'VACUUM (INDEX_CLEANUP ON) items');
my $state = $node->safe_psql('postgres', q{SELECT links_to_tombstones || '|' || unreachable
	FROM gigavector.hnsw_verify('items_emb')});
is($state, '0|0', 'vacuum after recovery repairs the graph; every live element is reachable');

$node->stop;
done_testing();
