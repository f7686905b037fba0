# Durability of gvector data: kill -9 the server during inserts and check
# every committed row (including TOASTed 16,000-dimensional vectors) is there
# after recovery; a streaming standby answers an exact k-NN query with the
# same rows and distances as the primary.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $primary = gv_new_node('primary', allows_streaming => 1);
$primary->safe_psql('postgres', q{
	CREATE TABLE items (id int PRIMARY KEY, emb gvector(64), big gvector(16000));
});
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# Commit 2,000 rows in 20 transactions, then start a transaction that never
# commits and kill the server under it.
my $vec = random_vector_sql(64, 'i');
my $big = random_vector_sql(16000, 'i');
for my $batch (0 .. 19)
{
	my ($lo, $hi) = ($batch * 100 + 1, $batch * 100 + 100);
	$primary->safe_psql('postgres', qq{
		INSERT INTO items SELECT i, $vec, CASE WHEN i % 100 = 0 THEN $big END
			FROM generate_series($lo, $hi) i});
}
my $expected = $primary->safe_psql('postgres',
	'SELECT count(*), md5(string_agg(emb::text || coalesce(big::text, \'\'), \',\' ORDER BY id)) FROM items');

my $bg = $primary->background_psql('postgres');
$bg->query_safe(qq{BEGIN; INSERT INTO items SELECT i, $vec, NULL FROM generate_series(5001, 6000) i});
$primary->stop('immediate');
$bg->quit;
$primary->start;

is($primary->safe_psql('postgres',
	'SELECT count(*), md5(string_agg(emb::text || coalesce(big::text, \'\'), \',\' ORDER BY id)) FROM items'),
	$expected, 'after kill -9 and recovery every committed row is intact, nothing uncommitted');
is($primary->safe_psql('postgres', 'SELECT vector_dims(big) FROM items WHERE id = 2000'),
	'16000', '16,000-dimensional vector survived recovery');

# Standby: same answers for exact k-NN queries under each distance.
$primary->wait_for_catchup($standby);
for my $op ('<->', '<=>', '<#>')
{
	my $q = "SELECT string_agg(id || ':' || round(d::numeric, 6), ',') FROM "
	  . "(SELECT id, emb $op (SELECT emb FROM items WHERE id = 7) AS d FROM items ORDER BY d, id LIMIT 10) s";
	my $on_primary = $primary->safe_psql('postgres', $q);
	is($standby->safe_psql('postgres', $q), $on_primary, "standby returns the same k-NN rows for $op");
}
like($primary->safe_psql('postgres', 'SELECT id FROM items ORDER BY emb <-> (SELECT emb FROM items WHERE id = 7) LIMIT 1'),
	qr/^7$/, 'nearest neighbour of a stored vector is itself');

$standby->stop;
$primary->stop;
done_testing();
