# pg_basebackup of a running cluster while a session inserts rows into
# tables with gv_hnsw, gv_ivfpq and gv_kdtree indexes, compressed with zstd
# by the server (plain format, the client decompresses) and by the client
# (tar format): each backup, started as a new cluster, holds every row
# committed before the backup's end (its manifest's End-LSN), nothing but a
# prefix of the load, and indexes that verify and find the rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use lib 'test/perl';
use GvTest;

my $node = gv_new_node('primary', allows_streaming => 1,
	conf => "max_parallel_maintenance_workers = 0\n");
my $vec = random_vector_sql(16, 'i');
$node->safe_psql('postgres', qq{
	CREATE FUNCTION vec(i int) RETURNS gvector(16) LANGUAGE sql IMMUTABLE
		AS \$\$ SELECT $vec \$\$;
	-- after_prev: the WAL insert position when the row's transaction
	-- began, past the commit record of the row before it
	CREATE TABLE h (id int PRIMARY KEY, emb gvector(16), after_prev pg_lsn);
	CREATE TABLE iv (id int PRIMARY KEY, emb gvector(16));
	CREATE TABLE kd (id int PRIMARY KEY, emb gvector(6));
	CREATE TABLE stop (x int);
	INSERT INTO h SELECT i, vec(i) FROM generate_series(1, 1500) i;
	INSERT INTO iv SELECT i, vec(i) FROM generate_series(1, 1500) i;
	INSERT INTO kd SELECT i, subvector(vec(i), 1, 6) FROM generate_series(1, 1500) i;
	CREATE INDEX h_idx ON h USING gv_hnsw (emb) WITH (m = 8, ef_construction = 32);
	CREATE INDEX iv_idx ON iv USING gv_ivfpq (emb) WITH (lists = 16, subquantizers = 4, bits = 6);
	CREATE INDEX kd_idx ON kd USING gv_kdtree (emb);
	-- one row per table and transaction, until told to stop
	CREATE PROCEDURE load() LANGUAGE plpgsql AS \$\$
	DECLARE
		i int := 1501;
	BEGIN
		LOOP
			EXIT WHEN EXISTS (SELECT FROM stop);
			INSERT INTO h VALUES (i, vec(i), pg_current_wal_insert_lsn());
			INSERT INTO iv VALUES (i, vec(i));
			INSERT INTO kd VALUES (i, subvector(vec(i), 1, 6));
			COMMIT;
			i := i + 1;
		END LOOP;
	END
	\$\$;
});

my ($out, $err) = ('', '');
my $loader = IPC::Run::start(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-c', 'CALL load()' ],
	'>', \$out, '2>', \$err);
$node->poll_query_until('postgres', 'SELECT count(*) > 1800 FROM h') or die 'the load did not start';

# End-LSN of a backup, from its manifest.
sub end_lsn
{
	my ($dir) = @_;
	my $manifest = slurp_file("$dir/backup_manifest");
	$manifest =~ /"End-LSN": "([0-9A-F]+\/[0-9A-F]+)"/ or die "no End-LSN in $dir/backup_manifest";
	return $1;
}

my %backups = (
	'server-zstd' => [ '--compress=server-zstd', '--format=plain' ],
	'client-zstd' => [ '--compress=client-zstd:level=3', '--format=tar' ]);
my %ends;
for my $name (sort keys %backups)
{
	my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM h');
	$node->backup($name, backup_options => $backups{$name});
	my $after = $node->safe_psql('postgres', 'SELECT count(*) FROM h');
	cmp_ok($after, '>', $before, "$name: rows were committed while the backup ran ($before, then $after)");
	$ends{$name} = end_lsn($node->backup_dir . "/$name");
}

$node->safe_psql('postgres', 'INSERT INTO stop VALUES (1)');
$loader->finish;
is($err, '', 'the load ran without error');
my $total = $node->safe_psql('postgres', 'SELECT count(*) FROM h');
note "loaded $total rows";

for my $name (sort keys %backups)
{
	my $dir = $node->backup_dir . "/$name";
	my %tar;
	if ($name eq 'client-zstd')
	{
		ok(-f "$dir/base.tar.zst", 'client-zstd: the base backup is a zstd-compressed tar file');
		for my $f ('base.tar', 'pg_wal.tar')
		{
			system_or_bail('zstd', '-q', '-d', '--rm', "$dir/$f.zst", '-o', "$dir/$f")
			  if -f "$dir/$f.zst";
		}
		%tar = (tar_program => 'tar');
	}
	# Every row whose transaction began with the WAL insert position at or
	# before End-LSN follows a commit within the backup.
	my $required = $node->safe_psql('postgres',
		"SELECT coalesce(max(id) - 1, 1500) FROM h WHERE after_prev <= '$ends{$name}'");
	my $copy = PostgreSQL::Test::Cluster->new("from_$name");
	$copy->init_from_backup($node, $name, %tar);
	$copy->start;
	for my $t (qw(h iv kd))
	{
		my ($n, $max, $below) = split /\|/, $copy->safe_psql('postgres',
			"SELECT count(*), max(id), count(*) FILTER (WHERE id <= $required) FROM $t");
		is($below, $required, "$name: $t holds all $required rows committed before the backup's end");
		is($max, $n, "$name: $t holds a prefix of the load ($n rows)");
	}
	my $n = $copy->safe_psql('postgres', 'SELECT count(*) FROM h');
	my ($elements, $unreachable) = split /\|/, $copy->safe_psql('postgres',
		'SELECT elements, unreachable FROM gigavector.hnsw_verify(\'h_idx\')');
	ok($elements >= $n && $elements <= $n + 1, "$name: hnsw_verify counts $elements elements for $n rows");
	# An insert in flight at the backup's end may have written its element
	# but not yet the links to it (its row never committed): that one
	# element, and no other, may be unreachable until VACUUM frees it.
	ok($unreachable <= $elements - $n,
		"$name: no gv_hnsw element is unreachable but an unfinished insert's ($unreachable)");
	$copy->safe_psql('postgres', 'VACUUM h');
	is($copy->safe_psql('postgres',
		q{SELECT elements || ' ' || unreachable FROM gigavector.hnsw_verify('h_idx')}),
		"$n 0", "$name: after VACUUM every gv_hnsw element is a row's, and reachable");
	my ($trained, $entries) = split /\|/, $copy->safe_psql('postgres',
		'SELECT trained, entries FROM gigavector.ivfpq_info(\'iv_idx\')');
	ok($trained eq 't' && $entries >= $n && $entries <= $n + 1, "$name: ivfpq_info: trained, $entries entries");
	# The last 20 committed rows, searched for through each index, are
	# found first at distance 0; gv_kdtree answers exactly.
	my $lo = $required - 19;
	$copy->safe_psql('postgres', 'CREATE TABLE qs AS SELECT id, emb FROM h WHERE id BETWEEN ' . "$lo AND $required");
	for my $t (qw(h iv kd))
	{
		my $emb = $t eq 'kd' ? 'subvector(q.emb, 1, 6)' : 'q.emb';
		is(gv_found_through_index($copy, $t, $emb), 20,
			"$name: the last 20 rows committed before the end are found through $t\'s index");
	}
	is($copy->safe_psql('postgres', q{
		SET enable_seqscan = off;
		SELECT count(*) FROM qs q WHERE
			ARRAY(SELECT id FROM kd ORDER BY emb <-> subvector(q.emb, 1, 6) LIMIT 10) =
			ARRAY(SELECT id FROM kd ORDER BY (emb <-> subvector(q.emb, 1, 6)) + 0, id LIMIT 10)}),
		20, "$name: gv_kdtree gives the exact 10 nearest");
	# Writable: a new cluster, not a standby.
	$copy->safe_psql('postgres', 'INSERT INTO h VALUES (-1, vec(-1))');
	is($copy->safe_psql('postgres', q{SET enable_seqscan = off;
		SELECT id FROM h ORDER BY emb <-> vec(-1) LIMIT 1}), -1, "$name: the restored cluster takes inserts");
	$copy->stop;
}

$node->stop;
done_testing();
