# gv_kdtree under concurrency: several pgbench clients insert (splitting
# leaves), search and delete while VACUUM runs; afterwards an index scan
# returns exactly the live rows and k-NN answers match a sequential scan.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $node = gv_new_node('kd_concurrency');
$node->safe_psql('postgres', q{
	CREATE SEQUENCE ids;
	CREATE TABLE items (id bigint PRIMARY KEY DEFAULT nextval('ids'), emb gvector(4));
	INSERT INTO items (emb) SELECT ARRAY[random(), random(), random(), random()]::gvector
		FROM generate_series(1, 2000);
	CREATE INDEX items_kd ON items USING gv_kdtree (emb) WITH (fillfactor = 100);
});

my $ok = 1;
$node->pgbench(
	'--no-vacuum --client=6 --jobs=3 --time=12',
	0, [qr{actually processed}], [qr{^$}], 'concurrent inserts, searches, deletes and VACUUM',
	{
		'001_insert@6' => q{
			INSERT INTO items (emb) SELECT ARRAY[random(), random(), random(), random()]::gvector
				FROM generate_series(1, 20);
		},
		'002_search@6' => q{
			SELECT count(*) FROM (SELECT id FROM items
				ORDER BY emb <-> ARRAY[random(), random(), random(), random()]::gvector LIMIT 20) s;
		},
		'003_delete@2' => q{
			DELETE FROM items WHERE id IN (SELECT id FROM items ORDER BY random() LIMIT 5);
		},
		'004_vacuum@1' => q{
			VACUUM items;
		},
	});

my $live = $node->safe_psql('postgres', q{SELECT count(*), md5(string_agg(id::text, ',' ORDER BY id)) FROM items});
is($node->safe_psql('postgres', q{SET enable_seqscan = off; SELECT count(*), md5(string_agg(id::text, ',' ORDER BY id))
	FROM (SELECT id FROM items ORDER BY emb <-> '[0.5,0.5,0.5,0.5]' LIMIT 10000000) s}),
	$live, 'an index scan returns every live row exactly once');
# INDEX_CLEANUP ON: with few dead rows VACUUM may otherwise skip the
# indexes (PostgreSQL's bypass) and leave their entries for later.
$node->safe_psql('postgres', 'VACUUM (INDEX_CLEANUP ON) items');
is($node->safe_psql('postgres', q{SET enable_seqscan = off; SELECT count(*), md5(string_agg(id::text, ',' ORDER BY id))
	FROM (SELECT id FROM items ORDER BY emb <-> '[0.1,0.9,0.1,0.9]' LIMIT 10000000) s}),
	$live, 'and again after VACUUM');
# splits under concurrent inserts and scans left a sound tree: each point
# inside its cell, every leaf reached once (the dead rows are gone)
is($node->safe_psql('postgres', q{SELECT points = (SELECT count(*) FROM items) AND nodes = leaves - 1
	FROM gigavector.kdtree_verify('items_kd')}), 't', 'kdtree_verify passes, a point for each live row');
for my $q ('[0.2,0.2,0.2,0.2]', '[1,0,1,0]', '[0.5,0.1,0.9,0.3]')
{
	my $sql = "SELECT string_agg(round((emb <-> '$q')::numeric, 5)::text, ',') FROM "
	  . "(SELECT emb FROM items ORDER BY emb <-> '$q' LIMIT 50) s";
	is($node->safe_psql('postgres', "SET enable_seqscan = off; $sql"),
		$node->safe_psql('postgres', "SET enable_indexscan = off; $sql"),
		"k-NN distances equal a sequential scan's for $q");
}
$node->stop;
done_testing();
