# The TTL worker (src/worker): with shared_preload_libraries it deletes
# expired rows in every database that has TTL tables and leaves the rest;
# an error in one table is logged and recorded while the others are
# cleaned; a table dropped under a round does not stop it; SIGHUP changes
# the interval; SIGTERM stops a worker between two batches and the
# launcher, which the postmaster starts again; a fast shutdown is clean.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $node = gv_new_node('ttl', conf => "shared_preload_libraries = 'gigavector'\n"
	  . "gigavector.ttl_cleanup_interval = 1\n");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'gigavector ttl launcher'"),
	'the launcher runs');

# Three databases with TTL tables, one without the extension.
my @dbs = qw(postgres db_a db_b);
for my $db (qw(db_a db_b db_none))
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
}
for my $db (@dbs)
{
	$node->safe_psql($db, q{
		CREATE EXTENSION IF NOT EXISTS gigavector;
		CREATE TABLE items (id int PRIMARY KEY, v gvector(2));
		SELECT gigavector.enable_ttl('items');
		INSERT INTO items SELECT i, format('[%s,0]', i)::gvector,
			CASE WHEN i <= 500 THEN now() - interval '1 minute'
				 WHEN i <= 1000 THEN now() + interval '1 day' END
			FROM generate_series(1, 1100) i;
	});
}
$node->safe_psql('db_none', 'CREATE TABLE items (id int)');
for my $db (@dbs)
{
	ok($node->poll_query_until($db, 'SELECT count(*) = 600 FROM items'),
		"$db: the worker deleted the expired rows");
	is($node->safe_psql($db, 'SELECT min(id), max(id), count(*) FROM items'), '501|1100|600',
		"$db: exactly the rows that had not expired are left");
	is($node->safe_psql($db, 'SELECT rows_deleted, rows_expired, last_run IS NOT NULL FROM gigavector.ttl_stats'),
		'500|0|t', "$db: ttl_stats counts the deleted rows");
}
is($node->safe_psql('db_none', "SELECT count(*) FROM pg_extension WHERE extname = 'gigavector'"), '0',
	'a database without the extension is left alone');

# An error in one table: logged and recorded; the others are still cleaned.
$node->safe_psql('postgres', q{
	CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'refusing to delete %', OLD.id; END $$;
	CREATE TABLE bad (id int PRIMARY KEY, expires_at timestamptz);
	CREATE TRIGGER refuse BEFORE DELETE ON bad FOR EACH ROW EXECUTE FUNCTION refuse();
	CREATE TABLE good (id int PRIMARY KEY, expires_at timestamptz);
	SELECT gigavector.enable_ttl('bad'), gigavector.enable_ttl('good');
	INSERT INTO bad VALUES (1, now() - interval '1 hour');
	INSERT INTO good SELECT i, now() - interval '1 hour' FROM generate_series(1, 50) i;
});
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM good'),
	'a table after a failing one is cleaned');
ok($node->poll_query_until('postgres',
		"SELECT last_error = 'refusing to delete 1' FROM gigavector.ttl_stats WHERE table_name = 'bad'::regclass"),
	'the failing table records its error');
ok($node->log_contains(qr/gigavector ttl worker could not clean up public\.bad: refusing to delete 1/),
	'the error is logged');
is($node->safe_psql('postgres', 'SELECT count(*) FROM bad'), '1', 'the failing table keeps its row');
$node->safe_psql('postgres', 'SELECT gigavector.disable_ttl(\'bad\'); DROP TABLE bad');

# The worker deletes as the table's owner: the owner's triggers never run
# as a superuser.
$node->safe_psql('postgres', q{
	CREATE ROLE ttl_owner;
	GRANT CREATE ON SCHEMA public TO ttl_owner;
	SET ROLE ttl_owner;
	CREATE TABLE owned (id int PRIMARY KEY, expires_at timestamptz);
	CREATE TABLE deleted_by (who name, read_server_file boolean);
	-- whether the trigger could do what only a superuser may
	CREATE FUNCTION note() RETURNS trigger LANGUAGE plpgsql AS $$
		DECLARE
			could boolean := true;
		BEGIN
			BEGIN
				PERFORM pg_read_file('postgresql.conf', 0, 1);
			EXCEPTION WHEN insufficient_privilege THEN
				could := false;
			END;
			INSERT INTO deleted_by VALUES (current_user, could);
			RETURN OLD;
		END $$;
	CREATE TRIGGER note AFTER DELETE ON owned FOR EACH ROW EXECUTE FUNCTION note();
	SELECT gigavector.enable_ttl('owned');
	INSERT INTO owned VALUES (1, now() - interval '1 hour'), (2, now() + interval '1 hour');
});
ok($node->poll_query_until('postgres', 'SELECT count(*) = 1 FROM owned'), 'the owned table is cleaned');
is($node->safe_psql('postgres', 'SELECT who, read_server_file FROM deleted_by'), 'ttl_owner|f',
	"the owner's trigger ran as the owner");

# A table dropped while a round is under way (the round is slow on the
# table before it).
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET gigavector.ttl_batch_size = 10;
	SELECT pg_reload_conf();
	CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_sleep(0.02); RETURN OLD; END $$;
	CREATE TABLE a_slow (id int PRIMARY KEY, expires_at timestamptz);
	CREATE TRIGGER slow BEFORE DELETE ON a_slow FOR EACH ROW EXECUTE FUNCTION slow();
	CREATE TABLE b_victim (id int PRIMARY KEY, expires_at timestamptz);
	SELECT gigavector.enable_ttl('a_slow'), gigavector.enable_ttl('b_victim');
	INSERT INTO b_victim SELECT i, now() - interval '1 hour' FROM generate_series(1, 10) i;
	INSERT INTO a_slow SELECT i, now() - interval '1 hour' FROM generate_series(1, 200) i;
});
ok($node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'gigavector ttl worker' AND query LIKE '%a_slow%'"),
	'a round works on the slow table');
$node->safe_psql('postgres', 'DROP TABLE b_victim');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM a_slow'), 'the slow table is cleaned');
$node->safe_psql('postgres', "INSERT INTO good VALUES (100, now() - interval '1 hour')");
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM good'),
	'rounds go on after a table was dropped under one');

# SIGHUP: a long interval stops the rounds, a short one brings them back.
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET gigavector.ttl_cleanup_interval = 3600;
	SELECT pg_reload_conf();
});
# let a round that began before the reload end
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'gigavector ttl worker'");
sleep(2);
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'gigavector ttl worker'");
$node->safe_psql('db_a', "INSERT INTO items SELECT i, '[0,0]', now() - interval '1 hour' FROM generate_series(2001, 2100) i");
sleep(3);
is($node->safe_psql('db_a', 'SELECT count(*) FROM items WHERE id > 2000'), '100',
	'with an interval of an hour no round ran');
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET gigavector.ttl_cleanup_interval = 1;
	SELECT pg_reload_conf();
});
ok($node->poll_query_until('db_a', 'SELECT count(*) = 0 FROM items WHERE id > 2000'),
	'after SIGHUP with an interval of a second the rows go');

# SIGTERM to a worker in the middle of a round: it stops between batches.
$node->safe_psql('postgres', "INSERT INTO a_slow SELECT i, now() - interval '1 hour' FROM generate_series(1, 300) i");
ok($node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'gigavector ttl worker' AND query LIKE '%a_slow%'"),
	'a round works on the slow table again');
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres',
	"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'gigavector ttl worker' AND query LIKE '%a_slow%'");
ok($node->wait_for_log(qr/gigavector ttl worker shutting down/, $log_offset), 'the worker says it stops');
my $left = $node->safe_psql('postgres', 'SELECT count(*) FROM a_slow');
cmp_ok($left, '>', 0, "it stopped before the table was clean ($left rows left)");
is($left % 10, 0, 'it stopped between two batches of 10');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM a_slow'), 'a later worker finishes the table');

# SIGTERM to the launcher: it stops, the postmaster starts it again.
my $launcher = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'gigavector ttl launcher'");
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', "SELECT pg_terminate_backend($launcher)");
ok($node->wait_for_log(qr/gigavector ttl launcher shutting down/, $log_offset), 'the launcher says it stops');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'gigavector ttl launcher' AND pid <> $launcher"),
	'a new launcher runs');
$node->safe_psql('db_b', "INSERT INTO items VALUES (3000, '[0,0]', now() - interval '1 hour')");
ok($node->poll_query_until('db_b', 'SELECT count(*) = 0 FROM items WHERE id = 3000'), 'and its workers delete');

# A fast shutdown stops everything cleanly.
$node->stop('fast');
ok(!$node->log_contains(qr/terminated by signal|was terminated|exited with exit code [2-9]/),
	'no process died badly');
ok($node->log_contains(qr/database system is shut down/), 'the server shut down');

done_testing();
