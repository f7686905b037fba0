# gv_kdtree exactness on real and adversarial data: Fashion-MNIST projected
# with PCA (computed here with numpy) to 2, 8, 16 and 32 dimensions, and
# sets built to hurt a KD-tree (duplicates, all points equal, a line, tight
# clusters, huge and tiny coordinates).  For every query the index scan must
# return the distances of a sequential scan, position by position (to 1e-6,
# as the regression test's kd_exact; cosine values are rechecked sums), with
# and without a WHERE filter, for LIMIT 10 and LIMIT 200.  The comparisons
# run inside the server (kd_cmp), one psql call per data set.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $fmnist = gv_require_fmnist();

my $node = gv_new_node('kd_exact');
use Cwd qw(abs_path);
my $dir = abs_path(PostgreSQL::Test::Utils::tempdir);
chmod 0755, $dir;

# PCA of 20,000 training images (fit on them), 15 test images as queries.
my $py = <<"PY";
import gzip, numpy as np
def load(name, off, shape):
    with gzip.open('$fmnist/' + name) as f:
        return np.frombuffer(f.read(), np.uint8, offset=off).reshape(shape)
X = load('train-images-idx3-ubyte.gz', 16, (-1, 784))[:20000].astype(np.float64)
y = load('train-labels-idx1-ubyte.gz', 8, (-1,))[:20000]
Q = load('t10k-images-idx3-ubyte.gz', 16, (-1, 784))[:15].astype(np.float64)
mu = X.mean(0)
_, _, vt = np.linalg.svd(X[::4] - mu, full_matrices=False)
def fmt(v): return '[' + ','.join(repr(float(np.float32(x))) for x in v) + ']'
for d in (2, 8, 16, 32):
    P = ((X - mu) @ vt[:d].T).astype(np.float32)
    PQ = ((Q - mu) @ vt[:d].T).astype(np.float32)
    with open('$dir/fm%d.tsv' % d, 'w') as f:
        for i, (v, l) in enumerate(zip(P, y)):
            f.write('%d\\t%d\\t%s\\n' % (i, l, fmt(v)))
    with open('$dir/q%d.txt' % d, 'w') as f:
        for v in PQ:
            f.write(fmt(v) + '\\n')
PY
system('/usr/bin/python3', '-c', $py) == 0 or die 'PCA failed';

# kd_cmp(table, op, query, filter, k): '' when the index scan returns the
# distances of a sequential scan, position by position, else what differs.
# One psql call runs every query and case of a set through it: a psql
# connection per comparison made this test take minutes.
$node->safe_psql('postgres', q{
CREATE FUNCTION kd_cmp(tbl text, op text, q text, filt text, k int) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	knn text := format('SELECT emb FROM %s %s ORDER BY emb %s %L::gvector LIMIT %s',
		tbl, filt, op, q, k);
	sql text := format('SELECT array_agg(emb %s %L::gvector ORDER BY n) FROM '
		'(SELECT emb, row_number() OVER () n FROM (%s) s) t', op, q, knn);
	plan text := '';
	line text;
	i float8[];
	s float8[];
	tol float8;
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || knn LOOP
		plan := plan || line;
	END LOOP;
	EXECUTE sql INTO i;
	PERFORM set_config('enable_seqscan', 'on', true);
	PERFORM set_config('enable_indexscan', 'off', true);
	EXECUTE sql INTO s;
	PERFORM set_config('enable_indexscan', 'on', true);
	IF plan NOT LIKE '%Index Scan%' THEN
		RETURN 'index not used';
	END IF;
	IF coalesce(cardinality(i), 0) <> coalesce(cardinality(s), 0) THEN
		RETURN format('row count %s vs %s', coalesce(cardinality(i), 0), coalesce(cardinality(s), 0));
	END IF;
	FOR j IN 1 .. coalesce(cardinality(s), 0) LOOP
		-- 1e-6: the same tolerance as the regression test's kd_exact
		tol := CASE op WHEN '<=>' THEN 1e-6 ELSE 1e-6 * abs(s[j]) + 1e-30 END;
		IF abs(i[j] - s[j]) > tol THEN
			RETURN format('position %s: %s vs %s', j - 1, i[j], s[j]);
		END IF;
	END LOOP;
	RETURN '';
END $$;
CREATE TABLE kd_queries (tbl text, n int, q text);
CREATE TABLE kd_cases (tbl text, op text, filt text, k int);
});

# Run every case of kd_cases against every query of kd_queries for one
# table; returns how many comparisons ran and the failures, one per line.
sub compare_all
{
	my ($table) = @_;
	my $out = $node->safe_psql('postgres', qq{
		SELECT count(*) || E'\\n' || coalesce(string_agg(format('query %s %s %s %s: %s',
			q.n, c.op, f.filt, c.k, r.err), E'\\n' ORDER BY q.n, c.op, c.k) FILTER (WHERE r.err <> ''), '')
		FROM kd_queries q
		JOIN kd_cases c USING (tbl)
		CROSS JOIN LATERAL (SELECT replace(c.filt, 'N', (q.n % 10)::text) AS filt) f
		CROSS JOIN LATERAL (SELECT kd_cmp(q.tbl, c.op, q.q, f.filt, c.k) AS err) r
		WHERE q.tbl = '$table'});
	my ($count, @bad) = split /\n/, $out;
	return ($count, join("\n", @bad));
}

for my $d (2, 8, 16, 32)
{
	$node->safe_psql('postgres', qq{
		CREATE TABLE fm$d (id int, label int, emb gvector($d));
		COPY fm$d FROM '$dir/fm$d.tsv';
		CREATE INDEX fm${d}_kd ON fm$d USING gv_kdtree (emb);
		CREATE INDEX fm${d}_kdcos ON fm$d USING gv_kdtree (emb gvector_cosine_ops);
		ANALYZE fm$d;
	});
	like($node->safe_psql('postgres', "EXPLAIN (COSTS OFF) SELECT id FROM fm$d ORDER BY emb <-> (SELECT emb FROM fm$d LIMIT 1) LIMIT 10"),
		qr/Index Scan using fm${d}_kd/, "$d dims: the planner uses the index for ORDER BY LIMIT");
	open my $fh, '<', "$dir/q$d.txt" or die;
	my @queries = <$fh>;
	chomp @queries;
	my $values = join(', ', map { "('fm$d', $_, '$queries[$_]')" } 0 .. $#queries);
	# N in a filter becomes the query's number modulo 10
	$node->safe_psql('postgres', qq{
		INSERT INTO kd_queries VALUES $values;
		INSERT INTO kd_cases VALUES ('fm$d', '<->', '', 10), ('fm$d', '<->', 'WHERE label = N', 10),
			('fm$d', '<->', '', 200), ('fm$d', '<=>', '', 10), ('fm$d', '<=>', 'WHERE label = N', 50);
	});
	my ($count, $bad) = compare_all("fm$d");
	is($count, 75, "$d dims: 15 queries x 5 cases compared");
	is($bad, '', "$d dims: 15 queries x 5 cases exact (L2 and cosine, filtered, LIMIT 200)");
}

# adversarial sets, each built then grown by inserts
my %sets = (
	duplicates => "ARRAY[i % 7, (i % 7) * 2, 1]",
	all_equal  => "ARRAY[3, 3, 3]",
	line       => "ARRAY[i, 2 * i + 1, -i]",
	clustered  => "ARRAY[(i % 5) * 1000 + sin(i) * 1e-3, (i % 5) * 1000 + cos(i) * 1e-3, (i % 3) * 1e-4]",
	huge       => "ARRAY[sin(i) * 1e37, cos(i) * 3e38, i * 1e30]",
	tiny       => "ARRAY[sin(i) * 1e-38, cos(i) * 1e-42, i * 1e-40]",
	mixed      => "CASE i % 3 WHEN 0 THEN ARRAY[sin(i) * 1e36, 0, 1] WHEN 1 THEN ARRAY[sin(i) * 1e-36, 1e-30, 0] ELSE ARRAY[i, -i, 0] END",
);
for my $name (sort keys %sets)
{
	my $expr = $sets{$name};
	$node->safe_psql('postgres', qq{
		CREATE TABLE adv_$name (id int, emb gvector(3));
		INSERT INTO adv_$name SELECT i, ($expr)::real[]::gvector FROM generate_series(1, 3000) i;
		CREATE INDEX ON adv_$name USING gv_kdtree (emb);
		CREATE INDEX ON adv_$name USING gv_kdtree (emb gvector_cosine_ops);
		INSERT INTO adv_$name SELECT i, ($expr)::real[]::gvector FROM generate_series(3001, 6000) i;
		INSERT INTO kd_queries SELECT 'adv_$name', id, emb::text FROM adv_$name WHERE id IN (1, 2, 500, 4001);
		INSERT INTO kd_queries VALUES ('adv_$name', 10001, '[0,0,0]'), ('adv_$name', 10002, '[1e30,-1e30,5]'),
			('adv_$name', 10003, '[1e-30,2e-30,0]');
		INSERT INTO kd_cases VALUES ('adv_$name', '<->', '', 10), ('adv_$name', '<->', 'WHERE id % 2 = 0', 100),
			('adv_$name', '<=>', '', 10), ('adv_$name', '<=>', '', 300);
	});
	my ($count, $bad) = compare_all("adv_$name");
	is($count, 28, "adversarial set $name: 7 queries x 4 cases compared");
	is($bad, '', "adversarial set $name exact (L2 and cosine)");
}

$node->stop;
done_testing();
