# The TTL worker and crashes: kill -9 of the worker in the middle of a
# batch loses no row and deletes no row that had not expired (the batch's
# transaction never commits, the next worker does the work); kill -9 of a
# peer backend restarts the cluster, and the launcher and its workers come
# back with it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $node = gv_new_node('ttl_crash', conf => "shared_preload_libraries = 'gigavector'\n"
	  . "gigavector.ttl_cleanup_interval = 1\ngigavector.ttl_batch_size = 100\n"
	  . "restart_after_crash = on\n");
$node->safe_psql('postgres', q{
	-- each deletion takes a while, so that a batch is easy to catch at work
	CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_sleep(0.01); RETURN OLD; END $$;
	CREATE TABLE items (id int PRIMARY KEY, v gvector(3));
	SELECT gigavector.enable_ttl('items');
	CREATE INDEX ON items USING gv_hnsw (v);
	CREATE TRIGGER slow BEFORE DELETE ON items FOR EACH ROW EXECUTE FUNCTION slow();
	-- odd ids live a day, even ids expired an hour ago
	INSERT INTO items SELECT i, format('[%s,%s,1]', i, -i)::gvector,
		now() + CASE WHEN i % 2 = 1 THEN interval '1 day' ELSE interval '-1 hour' END
		FROM generate_series(1, 2000) i;
});

# kill -9 of the worker while it deletes a batch
ok($node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'gigavector ttl worker' "
		  . "AND state = 'active' AND query LIKE '%deleting expired rows of public.items%'"),
	'a batch is under way');
my $worker = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'gigavector ttl worker' LIMIT 1");
my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
kill 'KILL', $worker;
ok($node->poll_query_until('postgres', 'SELECT true'), 'the cluster is back after the crash');
ok($node->log_contains(qr/background worker "gigavector ttl worker" \(PID $worker\) was terminated by signal 9/),
	'the worker died of signal 9');
my $after = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
is($after % 100, 0, "the killed batch left no partial deletion ($before rows before, $after after)");
is($node->safe_psql('postgres', 'SELECT count(*) FROM items WHERE id % 2 = 1'), '1000',
	'no row that had not expired was deleted');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'gigavector ttl launcher'"),
	'the launcher is back');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 1000 FROM items'),
	'a new worker deletes every expired row');
is($node->safe_psql('postgres', 'SELECT count(*), min(id % 2) FROM items'), '1000|1',
	'exactly the rows that live on are left');
is($node->safe_psql('postgres', 'SELECT rows_deleted FROM gigavector.ttl_stats'), '1000',
	'ttl_stats counts each committed deletion once');
$node->safe_psql('postgres', 'SET enable_seqscan = off');
is($node->safe_psql('postgres',
		"SET enable_seqscan = off; SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> '[0,0,1]' LIMIT 10) s"),
	'10', 'the index answers after the crash');

# kill -9 of a peer backend: the whole cluster restarts, the worker too
my $peer = $node->background_psql('postgres');
my $peer_pid = $peer->query_safe('SELECT pg_backend_pid()');
my $log_offset = -s $node->logfile;
kill 'KILL', $peer_pid;
ok($node->wait_for_log(qr/terminating any other active server processes/, $log_offset),
	'the postmaster resets the cluster');
ok($node->wait_for_log(qr/gigavector ttl launcher started/, $log_offset), 'the launcher starts again');
ok($node->poll_query_until('postgres', 'SELECT true'), 'the cluster is back');
$node->safe_psql('postgres',
	"INSERT INTO items SELECT i, '[0,0,0]', now() - interval '1 minute' FROM generate_series(5001, 5100) i");
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM items WHERE id > 5000'),
	'after the restart the worker deletes expired rows again');
is($node->safe_psql('postgres', 'SELECT count(*) FROM items'), '1000', 'and only those');
eval { $peer->quit };

$node->stop('fast');
done_testing();
