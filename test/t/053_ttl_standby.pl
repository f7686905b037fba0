# The TTL worker and streaming replication: the primary's worker deletes,
# the standby replays the same rows; a standby runs no TTL launcher (its
# expired rows stay hidden by the policy until the primary deletes them);
# after promotion the new primary's launcher starts and deletes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $primary = gv_new_node('ttl_primary', allows_streaming => 1,
	conf => "shared_preload_libraries = 'gigavector'\ngigavector.ttl_cleanup_interval = 1\n");
$primary->safe_psql('postgres', q{
	CREATE ROLE reader LOGIN;
	CREATE TABLE items (id int PRIMARY KEY, v gvector(2));
	SELECT gigavector.enable_ttl('items');
	GRANT SELECT ON items TO reader;
	INSERT INTO items SELECT i, '[1,1]', now() + CASE WHEN i <= 300 THEN interval '-1 hour' ELSE interval '1 day' END
		FROM generate_series(1, 1000) i;
});
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('ttl_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

ok($primary->poll_query_until('postgres', 'SELECT count(*) = 700 FROM items'), 'the primary deletes the expired rows');
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT count(*), min(id) FROM items'), '700|301',
	'the standby has the same rows');
is($standby->safe_psql('postgres', 'SELECT rows_deleted FROM gigavector.ttl_stats'), '300',
	'and the same statistics');
is($standby->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'gigavector ttl%'"),
	'0', 'the standby runs no TTL launcher or worker');

# stop the primary's rounds, then let rows expire
$primary->safe_psql('postgres', q{
	ALTER SYSTEM SET gigavector.ttl_cleanup_interval = 3600;
	SELECT pg_reload_conf();
});
$primary->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'gigavector ttl worker'");
sleep(2);
$primary->safe_psql('postgres',
	"INSERT INTO items SELECT i, '[1,1]', now() - interval '1 minute' FROM generate_series(2001, 2100) i");
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT count(*) FROM items WHERE id > 2000'), '100',
	'the standby holds expired rows the primary has not deleted');
is($standby->safe_psql('postgres', 'SET ROLE reader; SELECT count(*) FROM items WHERE id > 2000'), '0',
	'but its policy hides them');
is($standby->safe_psql('postgres', 'SELECT rows_expired FROM gigavector.ttl_stats'), '100',
	'ttl_stats on the standby counts them');

# promote the standby: its launcher starts and deletes
$primary->stop('fast');
$standby->promote;
ok($standby->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'gigavector ttl launcher'"),
	'the promoted standby runs the launcher');
ok($standby->poll_query_until('postgres', 'SELECT count(*) = 0 FROM items WHERE id > 2000'),
	'and its worker deletes the expired rows');
is($standby->safe_psql('postgres', 'SELECT count(*), rows_deleted FROM items, gigavector.ttl_stats GROUP BY 2'),
	'700|400', 'exactly those');

$standby->stop('fast');
done_testing();
