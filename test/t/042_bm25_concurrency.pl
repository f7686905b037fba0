# gv_bm25 under concurrency: pgbench clients insert, update, search, delete
# and VACUUM at once; no client gets an error; afterwards the index returns
# exactly the live rows that match, verifies, and after a final VACUUM its
# top 10 and scores equal an independent SQL computation.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;
use GvBm25;

my $node = gv_new_node('bm25_concurrency');
bm25_create_oracle($node);
my $doc = bm25_doc_sql('i');
$node->safe_psql('postgres', qq{
	CREATE SEQUENCE ids START 3001;
	CREATE TABLE docs (id int PRIMARY KEY DEFAULT nextval('ids'), body text);
	INSERT INTO docs SELECT i, $doc || ' every' FROM generate_series(1, 3000) i;
	CREATE INDEX docs_bm25 ON docs USING gv_bm25 (body) WITH (text_config = 'english');
});

my $rdoc = bm25_doc_sql('random() * 100000');
$node->pgbench(
	'--no-vacuum --client=6 --jobs=3 --time=12',
	0, [qr{actually processed}], [qr{^$}], 'concurrent inserts, updates, searches, deletes and VACUUM',
	{
		'001_insert@6' => qq{
			INSERT INTO docs (body) SELECT $rdoc || ' every' FROM generate_series(1, 10);
		},
		'002_search@6' => q{
			SELECT count(*) FROM (SELECT id FROM docs ORDER BY body <&> bm25query('docs_bm25', 'w1 w2 w3') LIMIT 10) s;
		},
		'003_search_filter@3' => q{
			SELECT count(*) FROM (SELECT id FROM docs WHERE id % 13 = 0 AND body @@@ bm25query('docs_bm25', 'w1 w5')
				ORDER BY body <&> bm25query('docs_bm25', 'w1 w5') LIMIT 10) s;
		},
		'004_update@2' => q{
			UPDATE docs SET body = body || ' w2' WHERE id = (SELECT max(id) - (random() * 100)::int FROM docs);
		},
		'005_delete@2' => q{
			DELETE FROM docs WHERE id IN (SELECT id FROM docs ORDER BY random() LIMIT 5);
		},
		'006_vacuum@1' => q{
			VACUUM docs;
		},
	});

my $set = 'SET enable_seqscan = off; ';
my $live = $node->safe_psql('postgres', q{SELECT count(*), md5(string_agg(id::text, ',' ORDER BY id)) FROM docs});
cmp_ok((split /\|/, $live)[0], '>', 3000, 'the clients inserted rows');
is($node->safe_psql('postgres', qq{$set SELECT count(*), md5(string_agg(id::text, ',' ORDER BY id))
	FROM (SELECT id FROM docs ORDER BY body <&> bm25query('docs_bm25', 'every') LIMIT 10000000) s}),
	$live, 'an index scan returns every live row exactly once');
ok($node->safe_psql('postgres', "SELECT documents > 0 FROM gigavector.bm25_verify('docs_bm25')") eq 't',
	'the index verifies');
$node->safe_psql('postgres', 'VACUUM (INDEX_CLEANUP ON) docs');
is($node->safe_psql('postgres', "SELECT documents FROM gigavector.bm25_verify('docs_bm25')"),
	(split /\|/, $live)[0], 'after VACUUM the statistics count exactly the live rows');
bm25_check_top($node, 'docs', 'body', 'docs_bm25', 'after concurrent work and VACUUM',
	'w1 w2 w3', 'w1 w5', 'w2', 'w100 w9');
$node->stop;
done_testing();
