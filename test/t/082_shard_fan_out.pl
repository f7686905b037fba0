# The connections of a distributed search (shard_fan_out, src/shard.c): a
# coordinator and two shard clusters on loopback.  Answers equal the exact
# ones of one table holding every row (gvector and ghalfvec columns); a
# connection a shard closed is opened again on the next search; a cancelled
# search cancels what its shards still run and leaves no connection busy; a
# shard's error reaches the caller with its SQLSTATE.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use lib 'test/perl';
use GvTest;

my $coord = gv_new_node('coord');
my @shards = map { gv_new_node("shard$_") } 1 .. 2;
for my $i (1 .. 2)
{
	$coord->safe_psql('postgres', sprintf(q{SELECT gigavector.add_shard_server('s%d', 'host=%s port=%d dbname=postgres')},
		$i, $shards[ $i - 1 ]->host, $shards[ $i - 1 ]->port));
}
my $vec = random_vector_sql(8, 'i');
$coord->safe_psql('postgres', qq{
	CREATE TABLE t (id int PRIMARY KEY, emb gvector(8));
	SELECT gigavector.create_distributed_table('t', 'id', ARRAY['s1', 's2']);
	INSERT INTO t SELECT i, $vec FROM generate_series(1, 2000) i;
	CREATE TABLE one AS SELECT * FROM t;
	CREATE TABLE q AS SELECT i AS id, emb FROM (SELECT i, $vec FROM generate_series(5001, 5020) i) s(i, emb)});

sub sql { return $coord->safe_psql('postgres', $_[0]); }

my $search = q{SELECT string_agg(key || ':' || round(distance::numeric, 9), ' ' ORDER BY distance, key)
	FROM gigavector.distributed_search('t', 'emb', (SELECT emb FROM q WHERE id = 5001), 10)};
is(sql(q{SELECT count(*) FROM q, LATERAL (
		SELECT string_agg(key, ' ' ORDER BY distance, key::int) AS got FROM gigavector.distributed_search('t', 'emb', q.emb, 10)) d,
		LATERAL (SELECT string_agg(id::text, ' ' ORDER BY d, id) AS want
			FROM (SELECT id, emb <-> q.emb AS d FROM one ORDER BY 2, 1 LIMIT 10) o) w
	WHERE got IS DISTINCT FROM want}), 0, 'every answer equals one table\'s exact one');
is(sql(q{SELECT count(*) FROM gigavector.distributed_search('t', 'emb', (SELECT emb FROM q LIMIT 1), 3000)}),
	2000, 'k larger than the table: every row once');

# a ghalfvec column: the query goes as text, parsed there as ghalfvec
sql(q{CREATE TABLE h (id int PRIMARY KEY, emb ghalfvec(8));
	SELECT gigavector.create_distributed_table('h', 'id', ARRAY['s1', 's2']);
	INSERT INTO h SELECT id, emb::ghalfvec FROM one});
is(sql(q{SELECT string_agg(key, ' ' ORDER BY distance, key::int) FROM gigavector.distributed_search('h', 'emb', (SELECT emb FROM q LIMIT 1), 10)}),
	sql(q{SELECT string_agg(id::text, ' ' ORDER BY d, id) FROM (SELECT id, emb::ghalfvec <-> (SELECT emb FROM q LIMIT 1)::ghalfvec AS d
		FROM one ORDER BY 2, 1 LIMIT 10) o}), 'a ghalfvec column: the exact answer');

# a shard closes the session's connection: the next search in that session opens another
my $conn1 = sprintf('host=%s port=%d dbname=postgres', $shards[0]->host, $shards[0]->port);
my $out = sql(qq{$search;
	SELECT count(*) FROM gigavector_remote.dblink('$conn1',
		\$\$SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'gigavector'\$\$) AS r(ok bool);
	SELECT pg_sleep(0.3);
	$search});
my @lines = split /\n/, $out;
is($lines[3], $lines[0], 'after its connection was closed the shard answers the same again');
is($lines[1], 1, 'the connection was closed');

# a cancel: a shard waits on a lock, statement_timeout cancels the search
my ($in, $lout, $lerr) = ('', '', '');
my $locker = IPC::Run::start([ 'psql', '-XAtq', '-d', $shards[0]->connstr('postgres'), '-c',
	'BEGIN; LOCK TABLE t_shard0 IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT' ], \$in, \$lout, \$lerr);
$shards[0]->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 't_shard0'::regclass});
my ($rc, $o, $err) = $coord->psql('postgres', "SET statement_timeout = '500ms'; $search");
like($err, qr/ERROR:  canceling statement due to statement timeout/, 'a search is cancelled');
is($shards[0]->safe_psql('postgres', qq{SELECT pg_sleep(0.3); SELECT count(*) FROM pg_stat_activity
	WHERE application_name = 'gigavector' AND wait_event_type = 'Lock'}), "\n0", 'and so is what its shard ran');
$locker->finish;
like(sql($search), qr/^\d+:/, 'a search after a cancel answers');

# a shard's error: its SQLSTATE and message, and the shard named
($rc, $o, $err) = $coord->psql('postgres',
	q{\set VERBOSITY verbose
	SELECT * FROM gigavector.distributed_search('t', 'emb', (SELECT emb FROM q LIMIT 1), 10, filter => '{"nosuch": 1}')});
like($err, qr/ERROR:  42703: column "nosuch" does not exist/, 'an unknown filter column: the shard\'s error');
like($err, qr/CONTEXT:  on shard public\.t_shard\d/, 'naming the shard');
like(sql($search), qr/^\d+:/, 'and the next search answers');

$_->stop('fast') for ($coord, @shards);
done_testing();
