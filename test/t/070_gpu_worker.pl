# The GPU search worker (src/worker/gpu.c) on the CPU backend: searches
# through the worker equal the exact scan for every distance, single and
# batched, ties by id; changes reach the resident copy; a backend cancelled
# in the middle of a request leaves the worker healthy; after kill -9 the
# postmaster restarts the worker (and the cluster) and the next search
# reloads its collection; SIGTERM restarts the worker alone.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $node = gv_new_node('gpu', conf => "shared_preload_libraries = 'gigavector'\nrestart_after_crash = on\n");
my $worker_q = "SELECT pid FROM pg_stat_activity WHERE backend_type = 'gigavector gpu worker'";
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($worker_q) w"), 'the worker runs');
my $pid1 = $node->safe_psql('postgres', $worker_q);

# 2,000 pseudo-random rows and 100 exact duplicates of the first 100 (ties)
my $vec = random_vector_sql(16, 'i');
$node->safe_psql('postgres', qq{
	CREATE TABLE items (id bigint PRIMARY KEY, v gvector(16));
	INSERT INTO items SELECT i, $vec FROM generate_series(1, 2000) i;
	INSERT INTO items SELECT id + 10000, v FROM items WHERE id <= 100;
	CREATE TABLE queries (q int PRIMARY KEY, v gvector(16));
	INSERT INTO queries SELECT i, ${\ random_vector_sql(16, 'i + 5000')} FROM generate_series(1, 20) i;
	INSERT INTO queries SELECT 100 + id, v FROM items WHERE id IN (3, 77);
});
is($node->safe_psql('postgres', "SELECT gigavector.gpu_load('items', 'v')"), '2100', 'the column is loaded');
is($node->safe_psql('postgres', 'SELECT vectors, dimensions, backend, process FROM gigavector.gpu_status'),
	'2100|16|cpu|worker', 'gpu_status: resident in the worker, CPU backend');

my %op = (l2 => '<->', cosine => '<=>', ip => '<#>');


for my $dist (sort keys %op)
{
	for my $k (1, 10, 1024)
	{
		my $o = $op{$dist};
		is($node->safe_psql('postgres', qq{
			SELECT count(*) FROM queries q WHERE
				(SELECT array_agg(id ORDER BY distance, id)::text || array_agg(distance ORDER BY distance, id)::text
				 FROM gigavector.gpu_search('items', 'v', q.v, $k, '$dist'))
				IS DISTINCT FROM
				(SELECT array_agg(id ORDER BY d, id)::text || array_agg(d ORDER BY d, id)::text
				 FROM (SELECT id, i.v $o q.v AS d FROM items i ORDER BY i.v $o q.v, id LIMIT $k) s)}),
			'0', "$dist, k = $k: every query's ids and distances equal the exact scan's");
	}
}

# a duplicated row: both copies, the smaller id first
is($node->safe_psql('postgres',
	"SELECT string_agg(id::text, ',') FROM gigavector.gpu_search('items', 'v', (SELECT v FROM items WHERE id = 3), 2)"),
	'3,10003', 'a duplicate ties at distance 0, ordered by id');

# one batch of 22 queries equals 22 single searches
for my $dist (sort keys %op)
{
	is($node->safe_psql('postgres', qq{
		WITH b AS (SELECT * FROM gigavector.gpu_search_batch('items', 'v',
					(SELECT array_agg(v ORDER BY q) FROM queries), 7, '$dist')),
			 s AS (SELECT dense_rank() OVER (ORDER BY q)::int AS query_no, g.* FROM queries,
					LATERAL gigavector.gpu_search('items', 'v', queries.v, 7, '$dist') g)
		SELECT (SELECT count(*) FROM b), (SELECT count(*) FROM (SELECT * FROM b EXCEPT SELECT * FROM s) x)}),
		'154|0', "$dist: a batch equals its single searches");
}

# a change in another session reaches the next search
$node->safe_psql('postgres', "INSERT INTO items VALUES (99999, (SELECT v FROM queries WHERE q = 1))");
is($node->safe_psql('postgres',
	"SELECT id FROM gigavector.gpu_search('items', 'v', (SELECT v FROM queries WHERE q = 1), 1)"),
	'99999', 'an inserted row is found by the next search');
$node->safe_psql('postgres', "DELETE FROM items WHERE id = 99999");
isnt($node->safe_psql('postgres',
	"SELECT id FROM gigavector.gpu_search('items', 'v', (SELECT v FROM queries WHERE q = 1), 1)"),
	'99999', 'a deleted row is gone from the next search');

# a backend cancelled while the worker answers (the test delay holds the answer)
my ($stdout, $stderr);
$node->psql('postgres', q{
	SET gigavector.gpu_test_delay_ms = 3000;
	SET statement_timeout = '200ms';
	SELECT * FROM gigavector.gpu_search('items', 'v', (SELECT v FROM queries WHERE q = 1), 5);},
	stdout => \$stdout, stderr => \$stderr);
like($stderr, qr/canceling statement due to statement timeout/, 'the waiting backend is cancelled');
is($node->safe_psql('postgres', "SELECT id FROM gigavector.gpu_search('items', 'v', (SELECT v FROM items WHERE id = 5), 1)"),
	'5', 'the worker answers the next search');
is($node->safe_psql('postgres', $worker_q), $pid1, 'the same worker');
# a backend terminated while waiting
my $bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/started/, q{
	SET gigavector.gpu_test_delay_ms = 3000;
	\echo started
	SELECT * FROM gigavector.gpu_search('items', 'v', (SELECT v FROM queries WHERE q = 1), 5);
});
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE '%gpu_search%' AND wait_event = 'Extension' AND pid <> pg_backend_pid()"),
	'a backend waits on the worker');
$node->safe_psql('postgres',
	"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%gpu_search%' AND wait_event = 'Extension' AND pid <> pg_backend_pid()");
eval { $bg->quit };
is($node->safe_psql('postgres', "SELECT id FROM gigavector.gpu_search('items', 'v', (SELECT v FROM items WHERE id = 6), 1)"),
	'6', 'after a terminated backend the worker answers');

# SIGTERM: the worker alone restarts, the collection is reloaded by the next search
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid1)");
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($worker_q) w WHERE pid <> $pid1"),
	'a terminated worker is started again');
is($node->safe_psql('postgres', "SELECT id FROM gigavector.gpu_search('items', 'v', (SELECT v FROM items WHERE id = 7), 1)"),
	'7', 'the new worker reloads and answers');
is($node->safe_psql('postgres', 'SELECT vectors, current, queries_served FROM gigavector.gpu_status'),
	'2100|t|1', 'gpu_status counts from the new worker');

# kill -9: the postmaster restarts the cluster and the worker with it
my $pid2 = $node->safe_psql('postgres', $worker_q);
kill 'KILL', $pid2;
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($worker_q) w WHERE pid <> $pid2"),
	'after kill -9 the worker runs again');
is($node->safe_psql('postgres', 'SELECT vectors IS NULL, current FROM gigavector.gpu_status'),
	't|f', 'the collection is registered but no longer resident');
is($node->safe_psql('postgres', "SELECT string_agg(id::text, ',') FROM gigavector.gpu_search('items', 'v', (SELECT v FROM items WHERE id = 8), 2)"),
	'8,10008', 'the next search reloads it and answers');
ok($node->log_contains('gigavector gpu worker uses the CPU backend'), 'the log names the backend');

$node->stop;
done_testing();
