# Writes on distributed tables: a coordinator and two shard clusters on
# loopback.  A table with rows is distributed: every row moves to the shard
# its key hashes to, none is lost, its sequences go on where they were and
# every search answers as before; INSERT ... ON CONFLICT DO UPDATE (and a
# conflict target) is refused with a clear error, ON CONFLICT DO NOTHING
# works, and distributed_upsert updates and inserts by the primary key in
# the caller's transaction.  BM25 across shards with global statistics
# scores as one server holding every row.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $coord = gv_new_node('coord');
my @shards = map { gv_new_node("shard$_") } 1 .. 2;
for my $i (1 .. 2)
{
	$coord->safe_psql('postgres', sprintf(q{SELECT gigavector.add_shard_server('s%d', 'host=%s port=%d dbname=postgres')},
		$i, $shards[ $i - 1 ]->host, $shards[ $i - 1 ]->port));
}

sub sql { return $coord->safe_psql('postgres', $_[0]); }

# the error message of a statement that must fail
sub error_of
{
	my ($query) = @_;
	my ($rc, $out, $err) = $coord->psql('postgres', $query);
	return $rc == 0 ? "no error" : $err;
}

my $vec = random_vector_sql(8, 'i');
my $qvec = random_vector_sql(8, 'i + 0.5');
sql(qq{CREATE TABLE items (id serial PRIMARY KEY, label int NOT NULL, twice int GENERATED ALWAYS AS (label * 2) STORED,
		emb gvector(8));
	CREATE INDEX items_label ON items (label);
	INSERT INTO items (label, emb) SELECT i % 7, $vec FROM generate_series(1, 3000) i;
	DELETE FROM items WHERE id % 10 = 0;
	CREATE TABLE q AS SELECT i AS id, $qvec AS emb FROM generate_series(1, 30) i});

# the 10 nearest ids of every query, by a plain ORDER BY ... LIMIT on the table
my $answers = q{SELECT string_agg(a, ' ' ORDER BY q.id) FROM q, LATERAL (
	SELECT string_agg(id::text, ',' ORDER BY d, id) AS a FROM
		(SELECT id, emb <-> q.emb AS d FROM items %s ORDER BY emb <-> q.emb LIMIT 10) s) x};
my $summary = 'SELECT count(*), sum(id), sum(label), sum(twice), sum(length(emb::text)) FROM items';

# --- distributing a table with rows ---------------------------------------
my $before = sql(sprintf($answers, ''));
my $before_filtered = sql(sprintf($answers, 'WHERE label = 3'));
my $before_rows = sql($summary);
is(sql(q{SELECT gigavector.create_distributed_table('items', 'id', ARRAY['s1', 's2'])}), '',
	'a table with 2,700 rows is distributed');
is(sql(q{SELECT relkind FROM pg_class WHERE oid = 'items'::regclass}), 'p', 'it is partitioned now');
is(sql($summary), $before_rows, 'every row is there, once, with the same values');
my $n1 = $shards[0]->safe_psql('postgres', 'SELECT count(*) FROM items_shard0');
my $n2 = $shards[1]->safe_psql('postgres', 'SELECT count(*) FROM items_shard1');
is($n1 + $n2, 2700, "the shards hold them ($n1 + $n2)");
cmp_ok(abs($n1 - $n2), '<', 300, 'split about evenly by the hash');
is(sql(q{SELECT count(*) FROM gigavector.shards s, LATERAL (SELECT 1) x WHERE s.tbl = 'items'::regclass}), 2, 'two shards');
is(sql(q{SELECT count(*) FROM (SELECT id FROM items_shard0 OFFSET 0) s
	WHERE NOT satisfies_hash_partition('items'::regclass, 2, 0, id)}), 0, 'every row on the shard its key hashes to');
is($shards[0]->safe_psql('postgres', q{SELECT count(*) FROM items_shard0 WHERE twice <> label * 2}), 0,
	'the generated column is generated on the shard');
like($shards[1]->safe_psql('postgres', q{SELECT string_agg(pg_get_indexdef(indexrelid), ' ') FROM pg_index
	WHERE indrelid = 'items_shard1'::regclass}), qr/PRIMARY KEY|btree \(id\).*btree \(label\)|btree \(label\).*btree \(id\)/,
	'the shard has the primary key and the index');
is(sql(sprintf($answers, '')), $before, 'ORDER BY ... LIMIT answers as before, all 30 queries');
is(sql(q{SELECT string_agg(a, ' ' ORDER BY q.id) FROM q, LATERAL (
	SELECT string_agg(key, ',' ORDER BY distance, key::int) AS a
	FROM gigavector.distributed_search('items', 'emb', q.emb, 10)) x}), $before, 'distributed_search answers as before');
is(sql(q{SELECT string_agg(a, ' ' ORDER BY q.id) FROM q, LATERAL (
	SELECT string_agg(key, ',' ORDER BY distance, key::int) AS a
	FROM gigavector.distributed_search('items', 'emb', q.emb, 10, filter => '{"label": 3}')) x}), $before_filtered,
	'and with a filter');
is(sql(q{INSERT INTO items (label, emb) VALUES (1, '[1,2,3,4,5,6,7,8]') RETURNING id}), 3001,
	'the serial goes on where it was');
like(error_of(q{SELECT gigavector.create_distributed_table('items', 'id', ARRAY['s1'])}),
	qr/ERROR:  public\.items is not an ordinary table/, 'a distributed table cannot be distributed again');

# --- INSERT ... ON CONFLICT -------------------------------------------------
# (the vector literal loads gigavector while the statement is parsed, so its check runs)
like(error_of(q{INSERT INTO items (id, label, emb) VALUES (1, 5, '[1,2,3,4,5,6,7,8]')
	ON CONFLICT (id) DO UPDATE SET label = EXCLUDED.label}),
	qr/ERROR:  INSERT \.\.\. ON CONFLICT DO UPDATE is not supported on distributed table public\.items\n.*HINT:  Upsert with gigavector\.distributed_upsert\(table, query\)\./s,
	'ON CONFLICT DO UPDATE: a clear error, and what to use instead');
like(error_of(q{INSERT INTO items (id, label, emb) VALUES (1, 5, '[1,2,3,4,5,6,7,8]') ON CONFLICT (id) DO NOTHING}),
	qr/ERROR:  INSERT \.\.\. ON CONFLICT with a conflict target is not supported on distributed table public\.items\n.*HINT:  Write ON CONFLICT DO NOTHING without a target/s,
	'a conflict target: a clear error');
is(sql(q{WITH i AS (INSERT INTO items (id, label, emb) VALUES (1, 5, '[1,2,3,4,5,6,7,8]'), (5000, 5, '[1,2,3,4,5,6,7,8]')
	ON CONFLICT DO NOTHING RETURNING id) SELECT string_agg(id::text, ',') FROM i}), '5000',
	'ON CONFLICT DO NOTHING: the shard skips the existing row, inserts the new one');
is(sql('SELECT label FROM items WHERE id = 1'), 1, 'the existing row is unchanged');

# --- distributed_upsert ----------------------------------------------------
my $count = sql('SELECT count(*) FROM items');
is(sql(q{SELECT gigavector.distributed_upsert('items',
	'SELECT id, 6, emb FROM items WHERE id BETWEEN 1 AND 10 UNION ALL SELECT 6000 + i, 4, ''[0,0,0,0,0,0,0,1]'' FROM generate_series(1, 5) i')}),
	14, 'distributed_upsert: 9 rows updated (id 10 was deleted) and 5 inserted');
is(sql('SELECT count(*) FROM items') - $count, 5, 'five more rows');
is(sql(q{SELECT string_agg(id || ':' || label || ':' || twice, ' ' ORDER BY id) FROM items WHERE id <= 10 OR id > 6000}),
	join(' ', (map { "$_:6:12" } 1 .. 9), (map { (6000 + $_) . ":4:8" } 1 .. 5)),
	'the updated rows have the new values (and their generated column), the new rows are there');
is(sql(q{SELECT count(*) FROM (SELECT id FROM items_shard1 OFFSET 0) s
	WHERE NOT satisfies_hash_partition('items'::regclass, 2, 1, id)}), 0, 'the inserted rows sit on their shards');
is(sql(q{BEGIN;
	SELECT gigavector.distributed_upsert('items', 'SELECT id, 0, emb FROM items WHERE id <= 100');
	ROLLBACK;
	SELECT count(*) FROM items WHERE id <= 100 AND label = 0}), "90\n" . sql('SELECT count(*) FROM items WHERE id <= 100 AND label = 0'),
	'in the caller\'s transaction: a rollback undoes it on the shards');
is(sql(q{SELECT gigavector.distributed_upsert('items', 'SELECT 1, 2, NULL::gvector WHERE false')}), 0, 'no rows: 0');
like(error_of(q{SELECT gigavector.distributed_upsert('items', 'SELECT 7, 1, emb FROM items WHERE id IN (1, 2)')}),
	qr/ERROR:  gigavector\.distributed_upsert cannot affect row a second time/, 'a key twice in the rows');
like(error_of(q{SELECT gigavector.distributed_upsert('q', 'SELECT 1')}),
	qr/ERROR:  table public\.q is not distributed/, 'a table that is not distributed');
like(error_of(q{SELECT gigavector.distributed_upsert('items', NULL)}),
	qr/ERROR:  the query of an upsert must not be NULL/, 'a NULL query');
like(error_of(q{CREATE TABLE nokey (id int, emb gvector(8));
	SELECT gigavector.create_distributed_table('nokey', 'id', ARRAY['s1', 's2']);
	SELECT gigavector.distributed_upsert('nokey', 'SELECT 1, NULL::gvector')}),
	qr/ERROR:  table public\.nokey has no primary key or unique constraint to upsert on/, 'a table without a key');

# --- BM25 with global statistics: one server's scores -------------------------
sql(q{CREATE TABLE docs (id int PRIMARY KEY, body text);
	CREATE INDEX docs_body ON docs USING gv_bm25 (body);
	CREATE TABLE docs_one (LIKE docs);
	INSERT INTO docs_one SELECT i, (SELECT string_agg('w' || ((i * j * 7 + j * j + i) % 53), ' ')
		FROM generate_series(1, 2 + i % 13) j) FROM generate_series(1, 2000) i;
	CREATE INDEX docs_one_body ON docs_one USING gv_bm25 (body);
	INSERT INTO docs SELECT * FROM docs_one;
	SELECT gigavector.create_distributed_table('docs', 'id', ARRAY['s1', 's2']);});
for my $query ('w3 w17', 'w5', 'w8 w9 w40 nosuchword')
{
	my $one = sql(qq{SELECT string_agg(round(s::numeric, 9)::text, ' ' ORDER BY s DESC) FROM
		(SELECT -(body <&> bm25query('docs_one_body', '$query')) AS s FROM docs_one
		 WHERE body @@@ bm25query('docs_one_body', '$query')
		 ORDER BY body <&> bm25query('docs_one_body', '$query') LIMIT 10) x});
	is(sql(qq{SELECT string_agg(round(score::numeric, 9)::text, ' ' ORDER BY score DESC)
		FROM gigavector.distributed_text_search('docs', 'body', '$query', 10)}), $one,
		"global statistics: the top 10 scores of one server holding every row ($query)");
	# the ids above the 10th score (ties at the cut may be either)
	my $cut = qq{(SELECT min(s) FROM (SELECT -(body <&> bm25query('docs_one_body', '$query')) AS s FROM docs_one
		WHERE body @@@ bm25query('docs_one_body', '$query') ORDER BY 1 DESC LIMIT 10) c)};
	is(sql(qq{SELECT string_agg(key, ',' ORDER BY key::int) FROM gigavector.distributed_text_search('docs', 'body', '$query', 10)
		WHERE round(score::numeric, 9) > round(${cut}::numeric, 9)}),
		sql(qq{SELECT string_agg(id::text, ',' ORDER BY id) FROM docs_one
		WHERE body @@@ bm25query('docs_one_body', '$query')
		AND round((-(body <&> bm25query('docs_one_body', '$query')))::numeric, 9) > round(${cut}::numeric, 9)}),
		"and the same rows ($query)");
}
isnt(sql(q{SELECT string_agg(round(score::numeric, 9)::text, ' ' ORDER BY score DESC)
	FROM gigavector.distributed_text_search('docs', 'body', 'w3 w17', 10, statistics => 'shard')}),
	sql(q{SELECT string_agg(round(score::numeric, 9)::text, ' ' ORDER BY score DESC)
	FROM gigavector.distributed_text_search('docs', 'body', 'w3 w17', 10)}),
	'per-shard statistics give other scores');
is(sql(q{SELECT count(*) FROM gigavector.distributed_text_search('docs', 'body', 'w3', 500, filter => '{"id": [1, 2, 3, 4, 5, 6, 7, 8]}')}),
	sql(q{SELECT count(*) FROM docs_one WHERE id <= 8 AND body @@@ bm25query('docs_one_body', 'w3')}),
	'global statistics with a filter');
like(error_of(q{SELECT * FROM gigavector.distributed_text_search('docs', 'body', 'w3', 10, statistics => 'local')}),
	qr/ERROR:  unknown BM25 statistics "local"/, 'unknown statistics');

# bm25query_with_statistics: bad statistics are refused
my $with = q{SELECT gigavector.bm25query_with_statistics(bm25query('docs_one_body', 'w3 w5'), %s)::text};
like(sql(sprintf($with, q{10, 40, '{w3,w5}', '{2,7}'})), qr/N=10, avgdl=4, terms=\[w3:2, w5:7\]/,
	'bm25query_with_statistics: the given N, average length and document frequencies');
like(sql(sprintf($with, q{10, 40, '{w5}', '{7}'})), qr/terms=\[w3:0, w5:7\]/, 'a term not given: df 0');
for my $bad ([ q{'NaN', 40, '{w3}', '{1}'}, 'N NaN' ], [ q{-1, 40, '{w3}', '{1}'}, 'N < 0' ],
	[ q{10, -5, '{w3}', '{1}'}, 'a negative length' ], [ q{10, 40, '{w3,w5}', '{1}'}, 'fewer frequencies than terms' ])
{
	like(error_of(sprintf($with, $bad->[0])),
		qr/ERROR:  bm25 statistics need N >= 0, a total length >= 0 and as many document frequencies as terms/, $bad->[1]);
}
like(error_of(sprintf($with, q{10, 40, '{w3}', '{11}'})),
	qr/ERROR:  the document frequency of "w3" must be between 0 and N, not 11/, 'df > N');
is(sql(sprintf($with, q{10, 40, NULL, '{1}'})), '', 'NULL: NULL (strict)');

$_->stop('fast') for ($coord, @shards);
done_testing();
