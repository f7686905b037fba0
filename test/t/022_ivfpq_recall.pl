# gv_ivfpq recall on real data: 20,000 Fashion-MNIST images (784
# dimensions), 50 test-set queries, recall@10 against exact ground truth
# from a sequential scan; filtered queries (by the query's label, by another
# label for every query, by 1% of rows, by fewer rows than k) return k rows
# (or all that match) in exact distance order; the index stays small.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Cwd ();
use POSIX ();
use lib 'test/perl';
use GvTest;

gv_require_fmnist();

my $node = gv_new_node('recall', conf => "maintenance_work_mem = '256MB'\n");
my $dir = Cwd::abs_path(PostgreSQL::Test::Utils::tempdir());
chmod 0755, $dir;
my $rows = gv_fmnist_copy_file("$dir/train.tsv", 0, 20000);
gv_fmnist_copy_file("$dir/test.tsv", 0, 50, set => 't10k');
$node->safe_psql('postgres', qq{
	CREATE TABLE items (id int, label int, emb gvector(784));
	CREATE TABLE queries (id int, label int, emb gvector(784));
	COPY items FROM '$dir/train.tsv';
	COPY queries FROM '$dir/test.tsv';
	ANALYZE items;
});

# Exact ground truth, never through an index.
$node->safe_psql('postgres', q{
	CREATE TABLE truth AS SELECT q.id AS qid, t.id FROM queries q,
		LATERAL (SELECT id FROM items ORDER BY (emb <-> q.emb) + 0 LIMIT 10) t;
	CREATE TABLE truth_f AS SELECT q.id AS qid, t.id, t.rank FROM queries q,
		LATERAL (SELECT id, row_number() OVER () AS rank FROM
			(SELECT id FROM items WHERE label = q.label ORDER BY (emb <-> q.emb) + 0 LIMIT 10) s) t;
});

$node->safe_psql('postgres',
	'CREATE INDEX items_idx ON items USING gv_ivfpq (emb) WITH (lists = 100, subquantizers = 49, bits = 8)');

sub recall
{
	my ($settings) = @_;
	return $node->safe_psql('postgres', qq{
		$settings
		SELECT round(count(*) / 500.0, 3) FROM queries q,
			LATERAL (SELECT id FROM items ORDER BY emb <-> q.emb LIMIT 10) r, truth t
			WHERE t.qid = q.id AND t.id = r.id});
}

like($node->safe_psql('postgres',
	'EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY emb <-> (SELECT emb FROM queries LIMIT 1) LIMIT 10'),
	qr/Index Scan using items_idx/, 'the k-NN query uses the index');

my $r1 = recall('SET gigavector.ivfpq_probes = 1; SET gigavector.ivfpq_rerank = 10;');
my $r8 = recall('SET gigavector.ivfpq_probes = 8; SET gigavector.ivfpq_rerank = 100;');
my $r16 = recall('SET gigavector.ivfpq_probes = 16; SET gigavector.ivfpq_rerank = 200;');
diag("recall\@10: probes 1 rerank 10: $r1; probes 8 rerank 100: $r8; probes 16 rerank 200: $r16");
cmp_ok($r1, '>=', 0.40, 'recall@10 with one list and no re-rank depth is above 0.40');
cmp_ok($r8, '>=', 0.93, 'recall@10 at probes 8, rerank 100 is at least 0.93');
cmp_ok($r16, '>=', 0.97, 'recall@10 at probes 16, rerank 200 is at least 0.97');

# Filtered by the query's label (a tenth of the rows): k rows come back,
# in exact order, and mostly the true ones.
my $filtered = $node->safe_psql('postgres', q{
	SET enable_seqscan = off; SET gigavector.ivfpq_probes = 4; SET gigavector.ivfpq_rerank = 100;
	SELECT min(n), sum(hits), bool_and(ordered) FROM (
		SELECT q.id, count(*) AS n,
			count(*) FILTER (WHERE EXISTS (SELECT 1 FROM truth_f t WHERE t.qid = q.id AND t.id = r.id)) AS hits,
			bool_and(r.d >= r.prev) AS ordered
		FROM queries q, LATERAL (SELECT id, d, lag(d, 1, 0::float8) OVER () AS prev FROM
			(SELECT id, emb <-> q.emb AS d FROM items WHERE label = q.label
			 ORDER BY emb <-> q.emb LIMIT 10) s) r
		GROUP BY q.id) x});
my ($minrows, $hits, $ordered) = split /\|/, $filtered;
is($minrows, '10', 'every filtered query returns 10 rows');
is($ordered, 't', 'filtered results come in exact distance order');
cmp_ok($hits / 500.0, '>=', 0.9, 'filtered recall@10 is at least 0.9');

# The hard case, at default settings: WHERE label = 3 for every query (a
# tenth of the rows, mostly far from queries of other classes), so the
# 10 rows need many re-rank batches and lists.  The distances returned are
# in non-decreasing order for every query and mostly the exact ones.
sub filtered
{
	my ($where, $k) = @_;
	return $node->safe_psql('postgres', qq{
		SET enable_seqscan = off;
		SELECT min(n), max(n), sum(hits), bool_and(ordered), count(*) FILTER (WHERE same)
		FROM (
			SELECT q.id, cardinality(r.ds) AS n,
				(SELECT count(*) FROM unnest(r.ds) d WHERE d <= e.ds[cardinality(e.ds)]) AS hits,
				r.ds = (SELECT array_agg(d ORDER BY d) FROM unnest(r.ds) d) AS ordered,
				r.ds = e.ds AS same
			FROM queries q,
			LATERAL (SELECT coalesce(array_agg(d), '{}') AS ds FROM
				(SELECT emb <-> q.emb AS d FROM items WHERE $where
				 ORDER BY emb <-> q.emb LIMIT $k) s) r,
			LATERAL (SELECT coalesce(array_agg(d), '{}') AS ds FROM
				(SELECT (emb <-> q.emb) + 0 AS d FROM items WHERE $where
				 ORDER BY 1 LIMIT $k) s) e) x});
}

my ($fmin, $fmax, $fhits, $fordered, $fsame) = split /\|/, filtered('label = 3', 10);
diag("WHERE label = 3: recall\@10 " . ($fhits / 500.0) . ", $fsame of 50 queries exactly right");
is($fmin, '10', 'label = 3: every query returns 10 rows');
is($fordered, 't', 'label = 3: every result is in non-decreasing distance order');
cmp_ok($fhits / 500.0, '>=', 0.9, 'label = 3: recall@10 is at least 0.9');
cmp_ok($fsame, '>=', 45, 'label = 3: the distances equal the exact ones for at least 45 of 50 queries');

# 1% of the rows
($fmin, $fmax, $fhits, $fordered, $fsame) = split /\|/, filtered('id % 100 = 7', 10);
diag("WHERE id % 100 = 7: recall\@10 " . ($fhits / 500.0) . ", $fsame of 50 exactly right");
is($fmin, '10', '1% filter: every query returns 10 rows');
is($fordered, 't', '1% filter: in non-decreasing distance order');
cmp_ok($fhits / 500.0, '>=', 0.9, '1% filter: recall@10 is at least 0.9');

# fewer rows match than the LIMIT: all of them, in exact order
my $few = $node->safe_psql('postgres', 'SELECT count(*) FROM items WHERE id % 4000 = 1');
like($node->safe_psql('postgres', q{SET enable_seqscan = off;
	EXPLAIN (COSTS OFF) SELECT id FROM items WHERE id % 4000 = 1
	ORDER BY emb <-> (SELECT emb FROM queries LIMIT 1) LIMIT 10}),
	qr/Index Scan using items_idx/, '... a query the index answers');
($fmin, $fmax, $fhits, $fordered, $fsame) = split /\|/, filtered('id % 4000 = 1', 10);
is($fmin, $few, "a filter matching $few rows returns all of them for every query");
is($fsame, '50', '... in the exact order');

# Size: codes, not vectors.
my $bpr = $node->safe_psql('postgres', "SELECT pg_relation_size('items_idx') / $rows");
diag("index bytes per row: $bpr");
cmp_ok($bpr, '<=', 200, 'the index takes at most 200 bytes per row (a vector is 3,136)');

# Exactly the pages the layout needs (src/ivfpq/README): the metapage, the
# centroids and codebooks as one stream, the directory (16 bytes a list),
# and the segment, entries of 6 + m bytes packed 8,160 bytes a page with no
# partly filled page per list.
my ($lists, $m, $pages) = split /\|/,
  $node->safe_psql('postgres', "SELECT lists, subquantizers, pages FROM gigavector.ivfpq_info('items_idx')");
my $space = 8192 - 24 - 8;
my $expect = 1 + POSIX::ceil(($lists + 256) * 784 * 4 / $space) + POSIX::ceil($lists * 16 / $space)
  + POSIX::ceil($rows / int($space / (6 + $m)));
is($pages, $expect, "the index has the layout's $expect pages ($lists lists, $m code bytes a row)");

$node->stop;
done_testing();
