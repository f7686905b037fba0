# gv_hnsw under concurrency: pgbench clients insert, delete and search while
# another session vacuums in a loop; no errors, no lost rows, a sound graph.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $node = gv_new_node('concurrency');
my $vec = random_vector_sql(16, 'i');
$node->safe_psql('postgres', qq{
	CREATE TABLE items (id bigserial, emb gvector(16),
						grp int GENERATED ALWAYS AS ((id % 4)::int) STORED);
	INSERT INTO items (emb) SELECT $vec FROM generate_series(1, 1000) i;
	CREATE INDEX items_emb ON items USING gv_hnsw (emb) WITH (m = 8, ef_construction = 32);
	-- concurrent inserts append to its key directory's last page
	CREATE INDEX items_key ON items USING gv_hnsw (emb, grp) WITH (m = 8, ef_construction = 32);
});

my $rv = 'random(1, 1000000)';
$node->pgbench(
	'--no-vacuum --client=4 --jobs=2 --transactions=150',
	0,
	[qr{processed: 600/600}],
	[qr{^$}],
	'concurrent inserts, deletes, searches and vacuums',
	{
		'013_insert' => q{
\set s random(1, 1000000)
INSERT INTO items (emb) SELECT (SELECT array_agg(sin(:s * 1000 + j + g)::real ORDER BY j) FROM generate_series(1, 16) j)::gvector(16) FROM generate_series(1, 3) g;
},
		'013_delete' => q{
\set d random(1, 3000)
DELETE FROM items WHERE id = :d;
},
		'013_search' => q{
\set s random(1, 1000000)
SET enable_seqscan = off;
SELECT id FROM items ORDER BY emb <-> (SELECT array_agg(sin(:s * 1000 + j)::real ORDER BY j) FROM generate_series(1, 16) j)::gvector(16) LIMIT 10;
SELECT id FROM items WHERE grp = 2 ORDER BY emb <-> (SELECT array_agg(cos(:s * 1000 + j)::real ORDER BY j) FROM generate_series(1, 16) j)::gvector(16) LIMIT 10;
},
		'013_vacuum' => q{
VACUUM items;
},
	});

my ($elements, $tombstones, $unreachable) = split /\|/, $node->safe_psql('postgres',
	q{SELECT elements, tombstones, unreachable FROM gigavector.hnsw_verify('items_emb')});
note "elements $elements, tombstones $tombstones, unreachable $unreachable";
# INDEX_CLEANUP ON: with few dead rows VACUUM may otherwise skip the
# indexes (PostgreSQL's bypass) and leave their entries for later.
$node->safe_psql('postgres', 'VACUUM (INDEX_CLEANUP ON) items');
is($node->safe_psql('postgres', q{
	SET enable_seqscan = off; SET gigavector.hnsw_max_scan_tuples = 1000000;
	SELECT count(*) FROM items WHERE id NOT IN (
		SELECT id FROM (SELECT id FROM items ORDER BY emb <-> (SELECT emb FROM items LIMIT 1) LIMIT 1000000) s)}),
	0, 'an index scan over the whole graph finds every live row');
is($node->safe_psql('postgres', q{SELECT elements = (SELECT count(*) FROM items) FROM gigavector.hnsw_verify('items_emb')}),
	't', 'after vacuum the graph holds exactly the live rows');
is($node->safe_psql('postgres', q{SELECT elements = (SELECT count(*) FROM items) FROM gigavector.hnsw_verify('items_key')}),
	't', 'the filter-column index too (its key directory checked)');
is($node->safe_psql('postgres', q{
	SET enable_seqscan = off; SET gigavector.hnsw_max_scan_tuples = 1000000;
	SELECT count(*) FROM items WHERE grp = 2 AND id NOT IN (
		SELECT id FROM (SELECT id FROM items WHERE grp = 2
			ORDER BY emb <-> (SELECT emb FROM items LIMIT 1) LIMIT 1000000) s)}),
	0, 'a filtered index scan finds every live row that matches');

$node->stop;
done_testing();
