# pg_dump / pg_restore round trip: gvector columns, typmods, btree indexes
# and values come back bit for bit, in both dump formats.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $node = gv_new_node('dump');
my $vec = random_vector_sql(300, 'i');
$node->safe_psql('postgres', qq{
	CREATE TABLE items (id int PRIMARY KEY, emb gvector(300), small gvector);
	INSERT INTO items SELECT i, $vec, ARRAY[i, -i, 0.1 * i]::gvector
		FROM generate_series(1, 500) i;
	INSERT INTO items VALUES (501, NULL, '[1e-45,3.4028235e38,-0]');
	CREATE UNIQUE INDEX items_small ON items (small);
});
my $checksum_sql = 'SELECT md5(string_agg(id || emb::text || small::text, \',\' ORDER BY id)) FROM items';
my $before = $node->safe_psql('postgres', $checksum_sql);

my $tempdir = PostgreSQL::Test::Utils::tempdir;
for my $format ('custom', 'plain')
{
	my $file = "$tempdir/dump.$format";
	my $db = "restored_$format";
	$node->command_ok(
		[ 'pg_dump', '--format', $format, '--file', $file, '--dbname', $node->connstr('postgres') ],
		"pg_dump --format=$format");
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	if ($format eq 'custom')
	{
		$node->command_ok([ 'pg_restore', '--dbname', $node->connstr($db), $file ], 'pg_restore');
	}
	else
	{
		$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr($db), '-f', $file ],
			'psql restores the plain dump');
	}
	is($node->safe_psql($db, $checksum_sql), $before, "$format: every value identical");
	is($node->safe_psql($db, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'emb'"),
		'gvector(300)', "$format: typmod kept");
	my ($ret, $stdout, $stderr) = $node->psql($db, "INSERT INTO items VALUES (999, NULL, '[1e-45,3.4028235e38,-0]')");
	like($stderr, qr/duplicate key value violates unique constraint "items_small"/, "$format: unique btree index on gvector restored");
}

$node->stop;
done_testing();
