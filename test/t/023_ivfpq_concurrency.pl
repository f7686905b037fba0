# gv_ivfpq under concurrency: several pgbench clients insert (extending
# lists with new pages), search and delete while VACUUM runs; afterwards a
# scan probing every list returns exactly the live rows, and k-NN answers
# with every list probed and every candidate re-ranked match a sequential
# scan.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $node = gv_new_node('ivfpq_concurrency');
$node->safe_psql('postgres', q{
	CREATE SEQUENCE ids;
	CREATE TABLE items (id bigint PRIMARY KEY DEFAULT nextval('ids'), emb gvector(8));
	INSERT INTO items (emb) SELECT array_agg(random()::real)::gvector
		FROM generate_series(1, 2000) i, generate_series(1, 8) d GROUP BY i;
	CREATE INDEX items_ivfpq ON items USING gv_ivfpq (emb) WITH (lists = 8, subquantizers = 4, bits = 6);
});

my $vec = 'ARRAY[random(), random(), random(), random(), random(), random(), random(), random()]::gvector';
$node->pgbench(
	'--no-vacuum --client=6 --jobs=3 --time=12',
	0, [qr{actually processed}], [qr{^$}], 'concurrent inserts, searches, deletes and VACUUM',
	{
		'001_insert@6' => qq{
			INSERT INTO items (emb) SELECT $vec FROM generate_series(1, 20);
		},
		'002_search@6' => qq{
			SET gigavector.ivfpq_probes = 2;
			SELECT count(*) FROM (SELECT id FROM items ORDER BY emb <-> $vec LIMIT 20) s;
		},
		'003_delete@2' => q{
			DELETE FROM items WHERE id IN (SELECT id FROM items ORDER BY random() LIMIT 5);
		},
		'004_vacuum@1' => q{
			VACUUM items;
		},
	});

my $all = q{SET enable_seqscan = off; SET gigavector.ivfpq_probes = 8; SET gigavector.ivfpq_rerank = 100000;};
my $live = $node->safe_psql('postgres', q{SELECT count(*), md5(string_agg(id::text, ',' ORDER BY id)) FROM items});
cmp_ok((split /\|/, $live)[0], '>', 2000, 'the clients inserted rows');
is($node->safe_psql('postgres', qq{$all SELECT count(*), md5(string_agg(id::text, ',' ORDER BY id))
	FROM (SELECT id FROM items ORDER BY emb <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' LIMIT 10000000) s}),
	$live, 'an index scan returns every live row exactly once');
# INDEX_CLEANUP ON: with few dead rows VACUUM may otherwise skip the
# indexes (PostgreSQL's bypass) and leave their entries for later.
$node->safe_psql('postgres', 'VACUUM (INDEX_CLEANUP ON) items');
is($node->safe_psql('postgres', qq{$all SELECT count(*), md5(string_agg(id::text, ',' ORDER BY id))
	FROM (SELECT id FROM items ORDER BY emb <-> '[0.1,0.9,0.1,0.9,0.1,0.9,0.1,0.9]' LIMIT 10000000) s}),
	$live, 'and again after VACUUM');
my $entries = $node->safe_psql('postgres', q{SELECT entries FROM gigavector.ivfpq_info('items_ivfpq')});
is($entries, (split /\|/, $live)[0], 'VACUUM left one entry per live row');
like($node->safe_psql('postgres', qq{$all EXPLAIN (COSTS OFF) SELECT id FROM items
	ORDER BY emb <-> '[0,0,0,0,0,0,0,0]' LIMIT 5}), qr/items_ivfpq/, 'the index answers');
for my $q ('[0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2]', '[1,0,1,0,1,0,1,0]', '[0.5,0.1,0.9,0.3,0.5,0.1,0.9,0.3]')
{
	my $sql = "SELECT string_agg(round((emb <-> '$q')::numeric, 5)::text, ',') FROM "
	  . "(SELECT emb FROM items ORDER BY emb <-> '$q' LIMIT 50) s";
	is($node->safe_psql('postgres', "$all $sql"),
		$node->safe_psql('postgres', "SET enable_indexscan = off; $sql"),
		"k-NN distances equal a sequential scan's for $q");
}
$node->stop;
done_testing();
