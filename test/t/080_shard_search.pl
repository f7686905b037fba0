# Sharded collections over postgres_fdw: a coordinator and three shard
# clusters on loopback.  Fashion-MNIST rows are routed by INSERT and COPY
# to the shard their hash names; k-NN through distributed_search and
# through a plain ORDER BY ... LIMIT on the partitioned table returns what
# one server holding every row returns (exact without a vector index, at
# least its recall with gv_hnsw on every shard); filters and BM25 work
# across shards; add_shard moves the rows it should and loses none (a
# table with rows distributed: test/t/083_shard_writes.pl).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use lib 'test/perl';
use GvTest;

gv_require_fmnist();

my $conf = "maintenance_work_mem = '256MB'\nshared_buffers = '256MB'";
my $coord = gv_new_node('coord', conf => $conf);
my @shards = map { gv_new_node("shard$_", conf => $conf) } 1 .. 3;
my $dir = gv_fmnist_tables($coord);
gv_fmnist_copy_file("$dir/tail.tsv", 9000, 1000);
chmod 0644, "$dir/tail.tsv";
gv_ground_truth($coord);

for my $i (1 .. 3)
{
	my $s = $shards[ $i - 1 ];
	$coord->safe_psql('postgres', sprintf(q{SELECT gigavector.add_shard_server('s%d', 'host=%s port=%d dbname=postgres')},
		$i, $s->host, $s->port));
}

sub sql { return $coord->safe_psql('postgres', $_[0]); }

# the error message of a statement that must fail
sub error_of
{
	my ($query) = @_;
	my ($rc, $out, $err) = $coord->psql('postgres', $query);
	return $rc == 0 ? "no error" : $err;
}

# every row of each active shard of $tbl is where its hash says
sub misplaced
{
	my ($tbl) = @_;
	my $n = 0;
	for my $row (split /\n/, sql(qq{SELECT shard, modulus, remainder FROM gigavector.shards
			WHERE tbl = '$tbl'::regclass AND status = 'active'}))
	{
		my ($shard, $mod, $rem) = split /\|/, $row;
		$n += sql(qq{SELECT count(*) FROM (SELECT id FROM $shard OFFSET 0) s
			WHERE NOT satisfies_hash_partition('$tbl'::regclass, $mod, $rem, id)});
	}
	return $n;
}

# per query, the 10 nearest distances (rounded) from one server and from
# the distributed table by $how; how many queries differ
sub exact_mismatches
{
	my ($tbl, $how, $where) = @_;
	$where //= '';
	my $filter = $where ? q{, filter => '{"label": 3}'} : '';
	my $search = $how eq 'function'
	  ? "SELECT distance FROM gigavector.distributed_search('$tbl', 'emb', q.emb, 10$filter)"
	  : "SELECT emb <-> q.emb AS distance FROM $tbl $where ORDER BY emb <-> q.emb LIMIT 10";
	return sql(qq{SELECT count(*) FROM queries q WHERE
		(SELECT array_agg(round(distance::numeric, 2) ORDER BY distance) FROM ($search) d)
		IS DISTINCT FROM
		(SELECT array_agg(round(distance::numeric, 2) ORDER BY distance) FROM
			(SELECT (emb <-> q.emb) + 0 AS distance FROM items $where ORDER BY 1 LIMIT 10) s)});
}

# --- routing: INSERT and COPY -------------------------------------------
sql(q{CREATE TABLE dist (id int PRIMARY KEY, label int, emb gvector(784));
	ALTER TABLE dist ALTER COLUMN emb SET STORAGE PLAIN;
	SELECT gigavector.create_distributed_table('dist', 'id', ARRAY['s1', 's2']);});
is(sql(q{SELECT string_agg(server || ':' || modulus || '/' || remainder, ' ' ORDER BY remainder)
	FROM gigavector.shards WHERE tbl = 'dist'::regclass}), 's1:2/0 s2:2/1', 'two shards, one per server');
sql('INSERT INTO dist SELECT * FROM items WHERE id < 9000');
sql(qq{COPY dist FROM '$dir/tail.tsv'});
is(sql('SELECT count(*), sum(id) FROM dist'), sql('SELECT count(*), sum(id) FROM items'),
	'INSERT and COPY stored every row');
my $n1 = $shards[0]->safe_psql('postgres', 'SELECT count(*) FROM dist_shard0');
my $n2 = $shards[1]->safe_psql('postgres', 'SELECT count(*) FROM dist_shard1');
is($n1 + $n2, 10000, "the shards hold them all ($n1 + $n2)");
cmp_ok(abs($n1 - $n2), '<', 500, 'split about evenly by the hash');
is(misplaced('dist'), 0, 'every row is on the shard its key hashes to');
like(error_of(q{INSERT INTO dist VALUES (5, 1, (SELECT emb FROM items WHERE id = 5))}),
	qr/duplicate key value violates unique constraint/, 'the shards enforce the primary key');

# --- exact k-NN ---------------------------------------------------------
is(exact_mismatches('dist', 'function'), 0, 'distributed_search equals one server (exact scan), all 100 queries');
is(exact_mismatches('dist', 'plain'), 0, 'ORDER BY ... LIMIT on the partitioned table equals one server');
is(exact_mismatches('dist', 'function', 'WHERE label = 3'), 0, 'with a filter too (label = 3)');
is(sql(q{SELECT count(*) FROM queries q, LATERAL gigavector.distributed_search('dist', 'emb', q.emb, 10) x
	WHERE x.key::int IN (SELECT id FROM gt WHERE gt.qid = q.id)}), 1000, 'the same ids as the ground truth');
my $plan = sql(q{EXPLAIN VERBOSE SELECT id FROM dist ORDER BY emb <-> (SELECT emb FROM queries LIMIT 1) LIMIT 10});
my @remote = $plan =~ /Remote SQL: SELECT id, emb FROM public\.dist_shard\d ORDER BY \(emb OPERATOR\(public\.<->\) \$1::public\.gvector\(784\)\) ASC NULLS LAST/g;
is(scalar @remote, 2, 'EXPLAIN VERBOSE: the ORDER BY is sent to both shards') or note $plan;
like(sql(q{EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM dist WHERE label = 3}),
	qr/Async Foreign Scan on public\.dist_shard0.*Remote SQL: SELECT NULL FROM public\.dist_shard0 WHERE \(\(label = 3\)\).*Async Foreign Scan on public\.dist_shard1/s,
	'a scan without an order reads both shards at once, the filter sent along (async_capable)');

# --- ANN: gv_hnsw on every shard, recall at least one server's ----------
sql(q{CREATE INDEX items_emb ON items USING gv_hnsw (emb) WITH (m = 16, ef_construction = 64);
	CREATE TABLE dist_hnsw (id int PRIMARY KEY, label int, emb gvector(784));
	ALTER TABLE dist_hnsw ALTER COLUMN emb SET STORAGE PLAIN;
	CREATE INDEX dist_hnsw_emb ON dist_hnsw USING gv_hnsw (emb) WITH (m = 16, ef_construction = 64);
	SELECT gigavector.create_distributed_table('dist_hnsw', 'id', ARRAY['s1', 's2', 's3']);
	INSERT INTO dist_hnsw SELECT * FROM items;});
like($shards[2]->safe_psql('postgres', q{SELECT pg_get_indexdef(indexrelid) FROM pg_index
	WHERE indrelid = 'dist_hnsw_shard2'::regclass}), qr/USING gv_hnsw \(emb\) WITH \(m='16', ef_construction='64'\)/,
	'each shard has the same gv_hnsw index');
my $single = gv_recall($coord);
my $sharded = sql(q{SET gigavector.hnsw_ef_search = 40;
	SELECT round(count(*) / 1000.0, 4) FROM queries q,
		LATERAL gigavector.distributed_search('dist_hnsw', 'emb', q.emb, 10) x
	WHERE x.key::int IN (SELECT id FROM gt WHERE gt.qid = q.id)});
note "recall\@10 at ef_search 40: one server $single, 3 shards $sharded";
# Each graph is built with its own random levels, so two runs differ by a
# result or two in 1,000: allow one (0.001), no more.
cmp_ok($sharded, '>=', $single - 0.001, 'recall on 3 shards >= one server (to one result in 1,000)');
my $low = sql(q{SET gigavector.hnsw_ef_search = 10;
	SELECT round(count(*) / 1000.0, 4) FROM queries q,
		LATERAL gigavector.distributed_search('dist_hnsw', 'emb', q.emb, 10) x
	WHERE x.key::int IN (SELECT id FROM gt WHERE gt.qid = q.id)});
cmp_ok($low, '<', $sharded, "the session's ef_search reaches the shards ($low at 10)");

# --- BM25 across shards: each shard's own statistics (global ones: 083) ----
sql(q{CREATE TABLE docs (id int PRIMARY KEY, body text);
	CREATE INDEX docs_body ON docs USING gv_bm25 (body);
	CREATE TABLE docs_one (LIKE docs);
	SELECT gigavector.create_distributed_table('docs', 'id', ARRAY['s1', 's2', 's3']);
	INSERT INTO docs_one SELECT i, (SELECT string_agg('w' || ((i * j * 7 + j * j) % 40), ' ')
		FROM generate_series(1, 3 + i % 11) j) FROM generate_series(1, 3000) i;
	CREATE INDEX docs_one_body ON docs_one USING gv_bm25 (body);
	INSERT INTO docs SELECT * FROM docs_one;});
my $merged = sql(q{SELECT string_agg(key || ':' || round(score::numeric, 6), ' ' ORDER BY score DESC, key)
	FROM gigavector.distributed_text_search('docs', 'body', 'w3 w17', 10, statistics => 'shard')});
my @own;
for my $i (0 .. 2)
{
	push @own, split /\n/, $shards[$i]->safe_psql('postgres', qq{
		SELECT id || ':' || round((-(body <&> bm25query(i.indexrelid::regclass, 'w3 w17')))::numeric, 6)
		FROM docs_shard$i, (SELECT indexrelid FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
			JOIN pg_am a ON a.oid = c.relam WHERE indrelid = 'docs_shard$i'::regclass AND amname = 'gv_bm25') i
		WHERE body @@@ bm25query(i.indexrelid::regclass, 'w3 w17')
		ORDER BY body <&> bm25query(i.indexrelid::regclass, 'w3 w17') LIMIT 10});
}
my @best = (sort { (split /:/, $b)[1] <=> (split /:/, $a)[1] or (split /:/, $a)[0] cmp (split /:/, $b)[0] } @own)[ 0 .. 9 ];
is($merged, join(' ', @best), 'distributed_text_search: the best 10 of the shards\' own top 10s, with their own scores');
my $overlap = sql(q{SELECT count(*) FROM gigavector.distributed_text_search('docs', 'body', 'w3 w17', 10, statistics => 'shard') d
	WHERE d.key::int IN (SELECT id FROM docs_one ORDER BY body <&> bm25query('docs_one_body', 'w3 w17') LIMIT 10)});
note "top-10 overlap with one server's BM25: $overlap / 10";
cmp_ok($overlap, '>=', 7, 'per-shard statistics rank close to global ones');
is(sql(q{SELECT count(*) FROM gigavector.distributed_text_search('docs', 'body', 'w3', 50, filter => '{"id": [1, 2, 3, 4, 5, 6, 7, 8]}')}),
	sql(q{SELECT count(*) FROM docs_one WHERE id <= 8 AND body @@@ bm25query('docs_one_body', 'w3')}),
	'a filter on a BM25 search');

# --- add_shard on a live collection --------------------------------------
# a writer adds 300 rows, one a transaction, before, during and after the move
my $before = sql(q{SELECT count(*) + 300, sum(id) + (SELECT sum(200000 + id) FROM items WHERE id BETWEEN 1 AND 300),
	sum(label) + (SELECT sum(label) FROM items WHERE id BETWEEN 1 AND 300) FROM dist});
my ($in, $out, $err) = ('', '', '');
my $writer = IPC::Run::start([ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $coord->connstr('postgres'), '-c',
	q{DO $$ BEGIN FOR i IN 1 .. 300 LOOP
		INSERT INTO dist SELECT 200000 + id, label, emb FROM items WHERE id = i; COMMIT; PERFORM pg_sleep(0.01);
	END LOOP; END $$} ], \$in, \$out, \$err);
$coord->poll_query_until('postgres', 'SELECT count(*) >= 20 FROM dist WHERE id > 200000');
is(sql(q{SELECT gigavector.add_shard('dist', 's3')}), 'dist_shard3', 'add_shard returns the new shard');
ok($writer->finish, 'the writer went on through the move') or note $err;
cmp_ok(sql('SELECT count(*) FROM dist_shard3 WHERE id > 200000'), '>', 0, 'some of its rows are on the new shard');
is(sql(q{SELECT string_agg(shard || '@' || server || ':' || coalesce(modulus || '/' || remainder, status), ' ' ORDER BY shard::text)
	FROM gigavector.shards WHERE tbl = 'dist'::regclass}),
	'dist_shard0@s1:retired dist_shard1@s2:2/1 dist_shard2@s1:4/0 dist_shard3@s3:4/2',
	'the largest shard is split in two: one half stays, one moves');
is(sql('SELECT count(*), sum(id), sum(label) FROM dist'), $before, 'no row lost or doubled, the writer\'s all there');
is(misplaced('dist'), 0, 'every row on the shard its hash names');
cmp_ok($shards[2]->safe_psql('postgres', 'SELECT count(*) FROM dist_shard3'), '>', 2000, 'the new shard holds its quarter');
cmp_ok($shards[0]->safe_psql('postgres', 'SELECT count(*) FROM dist_shard0'), '>=', $n1, 'the retired shard keeps its rows');
sql('DELETE FROM dist WHERE id > 200000');
is(exact_mismatches('dist', 'function'), 0, 'distributed_search still equals one server');
sql(q{INSERT INTO dist SELECT id + 100000, label, emb FROM items WHERE id < 100});
is(sql('SELECT count(*) FROM dist'), 10100, 'inserts route to the new layout');
is(misplaced('dist'), 0, 'to the right shards');
is(sql(q{SELECT gigavector.drop_retired_shards('dist')}), 1, 'drop_retired_shards drops one');
is($shards[0]->safe_psql('postgres', q{SELECT to_regclass('dist_shard0') IS NULL}), 't', 'and its remote table');

# --- errors ----------------------------------------------------------------
like(error_of(q{CREATE TABLE e (id int); SELECT gigavector.create_distributed_table('e', 'id', ARRAY['nosuch'])}),
	qr/ERROR:  shard server "nosuch" does not exist/, 'an unknown server');
like(error_of(q{CREATE TABLE e2 (id int); SELECT gigavector.create_distributed_table('e2', 'nope', ARRAY['s1'])}),
	qr/ERROR:  column "nope" of table public.e2 does not exist/, 'an unknown shard key');
like(error_of(q{SELECT gigavector.add_shard_server('s1', 'host=x')}),
	qr/ERROR:  shard server "s1" already exists/, 'a server name twice');
like(error_of(q{SELECT gigavector.add_shard_server('u', 'postgresql://x/y')}),
	qr/ERROR:  a shard server's connection string must be key=value pairs, not a URI/, 'a URI');
like(error_of(q{SELECT * FROM gigavector.distributed_search('items', 'emb', '[1]', 10)}),
	qr/ERROR:  table public.items is not distributed/, 'distributed_search on a local table');
like(error_of(q{SELECT * FROM gigavector.distributed_search('dist', 'emb', (SELECT emb FROM items LIMIT 1), 10, '<<')}),
	qr/ERROR:  unknown distance operator "<<"/, 'an unknown operator');
like(error_of(q{SELECT * FROM gigavector.distributed_search('dist', 'emb', (SELECT emb FROM items LIMIT 1), 0)}),
	qr/ERROR:  k must be at least 1, not 0/, 'k = 0');
like(error_of(q{SELECT * FROM gigavector.distributed_search('dist', 'emb', (SELECT emb FROM items LIMIT 1), 10, filter => '[1]')}),
	qr/ERROR:  a shard filter must be a JSON object/, 'a filter that is not an object');
$shards[2]->stop('fast');
like(error_of(q{SELECT * FROM gigavector.distributed_search('dist', 'emb', (SELECT emb FROM items LIMIT 1), 10)}),
	qr/ERROR:  could not establish connection/, 'a shard that is down: a clear error');
$shards[2]->start;
is(sql(q{SELECT count(*) FROM gigavector.distributed_search('dist', 'emb', (SELECT emb FROM items LIMIT 1), 10)}),
	10, 'and answers again when it is back');

$_->stop('fast') for ($coord, @shards[ 0 .. 2 ]);
done_testing();
