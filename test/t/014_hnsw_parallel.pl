# gv_hnsw parallel builds (a Fashion-MNIST subset): workers are really
# launched, the graph passes hnsw_verify, and recall against exact ground
# truth matches what the serial tests ask; with a filter column; and with a
# shared graph that fills maintenance_work_mem halfway through.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

gv_require_fmnist();

my $node = gv_new_node('parallel',
	conf => "maintenance_work_mem = '256MB'\nshared_buffers = '256MB'\n"
	  . "max_worker_processes = 8\nmax_parallel_workers = 8");
gv_fmnist_tables($node);
gv_ground_truth($node);

my $parallel = q{
	SET max_parallel_maintenance_workers = 2;
	SET min_parallel_table_scan_size = 0;
	SET client_min_messages = debug1;
};

# CREATE INDEX with two workers asked for; returns its messages.
sub build_parallel
{
	my ($sql, $settings) = @_;
	my ($out, $err) = ('', '');
	$node->psql('postgres', $parallel . ($settings // '') . $sql,
		stdout => \$out, stderr => \$err, on_error_die => 1);
	return $err;
}

sub launched
{
	my ($err) = @_;
	return $err =~ /(\d+) of \d+ parallel workers launched/ ? $1 : 0;
}

sub recall { return gv_recall($node); }

# elements, unreachable and links_to_tombstones from hnsw_verify, checked:
# at most 10 more unreachable elements than the serial build left, unless
# told otherwise.
my $serialUnreachable;
sub verify
{
	my ($what, $maxUnreachable) = @_;
	$maxUnreachable //= $serialUnreachable + 10;
	my ($elements, $unreachable, $tomb) = split /\|/, $node->safe_psql('postgres',
		q{SELECT elements, unreachable, links_to_tombstones FROM gigavector.hnsw_verify('items_emb')});
	note "$what: $unreachable unreachable";
	is($elements, 10000, "$what: hnsw_verify, every row is an element");
	cmp_ok($unreachable, '<=', $maxUnreachable,
		"$what: at most $maxUnreachable elements unreachable");
	is($tomb, 0, "$what: no links to tombstones");
}

# Serially first, for comparison: no workers asked for.  A serial build
# leaves a few elements unreachable too (7 of these 10,000).
my $t0 = time;
my $err = build_parallel('CREATE INDEX items_emb ON items USING gv_hnsw (emb)',
	'SET max_parallel_maintenance_workers = 0;');
note 'serial build took ' . (time - $t0) . ' s';
is(launched($err), 0, 'max_parallel_maintenance_workers = 0 builds serially');
$serialUnreachable = $node->safe_psql('postgres',
	q{SELECT unreachable FROM gigavector.hnsw_verify('items_emb')});
note "serial build: recall\@10 " . recall() . ", $serialUnreachable unreachable";
$node->safe_psql('postgres', 'DROP INDEX items_emb');

# Plain: two workers and the leader.
$t0 = time;
$err = build_parallel('CREATE INDEX items_emb ON items USING gv_hnsw (emb) WITH (m = 16, ef_construction = 64)');
note 'parallel build took ' . (time - $t0) . ' s';
cmp_ok(launched($err), '>=', 1, 'parallel build launched workers');
unlike($err, qr/no longer fits/, 'the shared graph fit maintenance_work_mem');
verify('parallel');
my $recall = recall();
note "parallel build: recall\@10 at ef_search 40: $recall";
cmp_ok($recall, '>=', 0.95, 'parallel build: recall@10 >= 0.95 at ef_search 40');

# A filter column.
$node->safe_psql('postgres', 'DROP INDEX items_emb');
$err = build_parallel('CREATE INDEX items_emb ON items USING gv_hnsw (emb, label)');
cmp_ok(launched($err), '>=', 1, 'parallel build with a filter column launched workers');
verify('parallel, filter column');
my ($rows, $frecall) = gv_filtered_recall($node);
note "parallel build, filtered recall\@10: $frecall";
is($rows, 10, 'every filtered query returns k = 10 rows');
cmp_ok($frecall, '>=', 0.95, 'parallel build: filtered recall@10 >= 0.95');

# CREATE INDEX CONCURRENTLY: the workers scan with the leader's MVCC snapshot.
$node->safe_psql('postgres', 'DROP INDEX items_emb');
$err = build_parallel('CREATE INDEX CONCURRENTLY items_emb ON items USING gv_hnsw (emb)');
cmp_ok(launched($err), '>=', 1, 'parallel CREATE INDEX CONCURRENTLY launched workers');
verify('parallel, concurrently');
cmp_ok(recall(), '>=', 0.95, 'parallel CREATE INDEX CONCURRENTLY: recall@10 >= 0.95');

# The shared graph fills maintenance_work_mem: about 4,700 elements of
# 784 dimensions fit in 16MB; the leader writes them and inserts the rest.
$node->safe_psql('postgres', 'DROP INDEX items_emb');
$t0 = time;
$err = build_parallel('CREATE INDEX items_emb ON items USING gv_hnsw (emb)',
	"SET maintenance_work_mem = '16MB';");
note 'parallel build past maintenance_work_mem took ' . (time - $t0) . ' s';
cmp_ok(launched($err), '>=', 1, 'parallel build in 16MB launched workers');
like($err, qr/gv_hnsw graph no longer fits into maintenance_work_mem after (\d+) tuples/,
	'NOTICE when the shared graph fills');
my ($ingraph) = $err =~ /no longer fits into maintenance_work_mem after (\d+) tuples/;
ok(defined $ingraph && $ingraph > 1000 && $ingraph < 9000,
	'the graph filled part way through (' . ($ingraph // 'none') . ' rows)');
# Rows inserted through the on-disk path leave more elements unreachable: a
# serial build in 16MB leaves 34 of these 10,000 too.
verify('parallel, graph filled', 100);
$recall = recall();
note "parallel build past maintenance_work_mem: recall\@10: $recall";
cmp_ok($recall, '>=', 0.95, 'graph filled: recall@10 >= 0.95 at ef_search 40');

# Random 64-d unit vectors and four workers: many inserts race near an
# element that is still being linked.  Elements used to be linked from their
# top level down, so an insert nearby could descend to one whose level-0
# list was still empty, link only to it and to its own neighbour, and then
# be pruned from that list when it was set: an island of two or three
# elements that no search reaches (3 to 11 of these 20,000 in every build;
# a serial build leaves none).
$node->safe_psql('postgres', q{
	CREATE TABLE rnd (id int, emb gvector(64));
	INSERT INTO rnd SELECT i,
		(SELECT l2_normalize(array_agg((random() - 0.5)::real)::gvector(64))
		 FROM generate_series(1, 64) WHERE i > 0)
	FROM generate_series(1, 20000) i;
});
$err = build_parallel('CREATE INDEX rnd_emb ON rnd USING gv_hnsw (emb gvector_ip_ops)',
	'SET max_parallel_maintenance_workers = 4;');
cmp_ok(launched($err), '>=', 2, 'parallel build of random vectors launched workers');
is($node->safe_psql('postgres', q{
	SELECT elements || ' ' || unreachable FROM gigavector.hnsw_verify('rnd_emb')}),
	'20000 0', 'parallel build of random vectors: every element is reachable');

# Duplicates, 5 vectors of 4,000 rows: the workers add rows to the element
# of their vector while it has room (7 a tuple), and the leader inserts the
# rest into its overflow chain once the graph is written: 5 elements,
# every row held once, every row returned.
$node->safe_psql('postgres', q{
	CREATE TABLE dup (id int, emb gvector(3));
	INSERT INTO dup SELECT i, ARRAY[i % 5, (i % 5) * 2, 1]::float8[]::gvector FROM generate_series(1, 20000) i;
});
$err = build_parallel('CREATE INDEX dup_emb ON dup USING gv_hnsw (emb)');
cmp_ok(launched($err), '>=', 1, 'parallel build of duplicates launched workers');
is($node->safe_psql('postgres', q{
	SELECT elements || ' ' || unreachable || ' ' || heap_tids FROM gigavector.hnsw_verify('dup_emb')}),
	'5 0 20000', 'parallel build of duplicates: one element a vector, reachable, a heap TID a row');
is($node->safe_psql('postgres', q{SET enable_seqscan = off;
	SELECT (SELECT count(DISTINCT id) FROM (SELECT id FROM dup ORDER BY emb <-> '[1,2,1]' LIMIT 30000) s)
	  || ' ' || (SELECT count(*) FILTER (WHERE id % 5 = 1)
	             FROM (SELECT id FROM dup ORDER BY emb <-> '[1,2,1]' LIMIT 4000) s)}),
	'20000 4000', 'every row of the duplicates comes back once, the 4,000 at distance 0 first');

$node->stop;
done_testing();
