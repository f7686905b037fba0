# gv_kdtree exactness on real and adversarial data: Fashion-MNIST projected
# with PCA (computed here with numpy) to 2, 8, 16 and 32 dimensions, and
# sets built to hurt a KD-tree (duplicates, all points equal, a line, tight
# clusters, huge and tiny coordinates).  For every query the index scan must
# return the distances of a sequential scan, position by position (to 1e-6:
# the SIMD kernels' last bits depend on a vector's memory alignment), with
# and without a WHERE filter, for LIMIT 10 and LIMIT 200.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $fmnist = '/usr/share/datasets/fashion-mnist';
plan skip_all => 'dataset-fashion-mnist is not installed' unless -f "$fmnist/train-images-idx3-ubyte.gz";

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

my $failures = 0;

# Compare one query's index and sequential answers; returns a message or ''.
sub compare
{
	my ($table, $op, $q, $where, $k) = @_;
	my $sql = "SELECT string_agg((emb $op '$q')::text, ' ' ORDER BY n) FROM "
	  . "(SELECT emb, row_number() OVER () n FROM (SELECT emb FROM $table $where ORDER BY emb $op '$q' LIMIT $k) s) t";
	my @i = split / /, $node->safe_psql('postgres', "SET enable_seqscan = off; $sql");
	my @s = split / /, $node->safe_psql('postgres', "SET enable_indexscan = off; $sql");
	return "row count " . scalar(@i) . " vs " . scalar(@s) if @i != @s;
	for my $j (0 .. $#s)
	{
		my $tol = $op eq '<=>' ? 1e-6 : 1e-6 * abs($s[$j]) + 1e-30;
		return "position $j: $i[$j] vs $s[$j]" if abs($i[$j] - $s[$j]) > $tol;
	}
	return '';
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
	my @bad;
	for my $n (0 .. $#queries)
	{
		my $q = $queries[$n];
		for my $case (['<->', '', 10], ['<->', 'WHERE label = ' . ($n % 10), 10],
			['<->', '', 200], ['<=>', '', 10], ['<=>', 'WHERE label = ' . ($n % 10), 50])
		{
			my $err = compare("fm$d", @$case[0], $q, @$case[1], @$case[2]);
			push @bad, "query $n @$case: $err" if $err;
		}
	}
	is(join("\n", @bad), '', "$d dims: 15 queries x 5 cases exact (L2 and cosine, filtered, LIMIT 200)");
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
	});
	my @bad;
	my @qs = split /\n/, $node->safe_psql('postgres', "SELECT emb FROM adv_$name WHERE id IN (1, 2, 500, 4001) ORDER BY id");
	push @qs, '[0,0,0]', '[1e30,-1e30,5]', '[1e-30,2e-30,0]';
	for my $q (@qs)
	{
		for my $case (['<->', '', 10], ['<->', 'WHERE id % 2 = 0', 100], ['<=>', '', 10], ['<=>', '', 300])
		{
			my $err = compare("adv_$name", @$case[0], $q, @$case[1], @$case[2]);
			push @bad, "$q @$case: $err" if $err;
		}
	}
	is(join("\n", @bad), '', "adversarial set $name exact (L2 and cosine)");
}

$node->stop;
done_testing();
