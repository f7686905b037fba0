# Point-in-time recovery into the middle of an index build: a base backup,
# then one transaction building an index of every access method (gv_hnsw in
# each storage and with a parallel build, gv_ivfpq, gv_kdtree, gv_bm25),
# then inserts and deletes, all with WAL archived.  New clusters from the
# backup, each recovered to one target:
#   recovery_target_lsn   halfway through the builds' WAL: no index
#   recovery_target_name  a restore point after the builds, before their
#                         commit: no index
#   recovery_target_xid   the builds' transaction (inclusive): every index,
#                         valid, over the rows of the backup
#   recovery_target_name  a restore point after the inserts and deletes:
#                         every index, over the rows then
# In each, the rows are the ones committed by the target; an index that the
# target implies is there is valid, its check function passes, a scan of
# the whole index returns each row once and the nearest 10 through it equal
# a sequential scan's; where none is, CREATE INDEX builds one that passes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $rows = 1500;
my $dim = 16;

my $node = PostgreSQL::Test::Cluster->new('pitr_build');
$node->init(allows_streaming => 1, has_archiving => 1);
$node->append_conf('postgresql.conf', qq{
autovacuum = off
max_worker_processes = 8
max_parallel_workers = 8
max_parallel_maintenance_workers = 2
min_parallel_table_scan_size = 0
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION gigavector');

my %index = gv_every_index();
my @names = sort keys %index;

my $vec = random_vector_sql($dim, 'i');
my $query = random_vector_sql($dim, '424242');
my $body = q{'gvall w' || (i % 7) || ' w' || (i % 11) || ' doc' || i};
for my $name (@names)
{
	my ($cols, $val) = $name eq 'bm25' ? ('body text', $body) : ("emb gvector($dim)", $vec);
	$node->safe_psql('postgres', qq{
		CREATE TABLE t_$name (id int PRIMARY KEY, $cols);
		INSERT INTO t_$name SELECT i, $val FROM generate_series(1, $rows) i;
	});
}
$node->safe_psql('postgres', 'ALTER TABLE t_hnsw_parallel SET (parallel_workers = 2)');
$node->backup('base');

# The builds, in one transaction left open while the targets inside it are taken.
my $build = $node->background_psql('postgres');
$build->query_safe('BEGIN');
my $half = int(@names / 2);
$build->query_safe("CREATE INDEX i_$_ ON t_$_ USING $index{$_}") for @names[ 0 .. $half - 1 ];
my %target;
$target{lsn} = $build->query_safe('SELECT pg_current_wal_insert_lsn()');
$build->query_safe("CREATE INDEX i_$_ ON t_$_ USING $index{$_}") for @names[ $half .. $#names ];
my $xid = $build->query_safe('SELECT pg_current_xact_id()');
$node->safe_psql('postgres', "SELECT pg_create_restore_point('built_not_committed')");
$build->query_safe('COMMIT');
$build->quit;

my %after;
for my $name (@names)
{
	my $val = $name eq 'bm25' ? $body : $vec;
	$node->safe_psql('postgres', qq{
		INSERT INTO t_$name SELECT i, $val FROM generate_series($rows + 1, $rows + 300) i;
		DELETE FROM t_$name WHERE id % 5 = 0;});
	$after{$name} = $node->safe_psql('postgres', "SELECT count(*) FROM t_$name");
}
$node->safe_psql('postgres', "SELECT pg_create_restore_point('after_load')");
my $walfile = $node->safe_psql('postgres', 'SELECT pg_walfile_name(pg_current_wal_lsn())');
$node->safe_psql('postgres', 'SELECT pg_switch_wal()');
$node->poll_query_until('postgres', "SELECT last_archived_wal >= '$walfile' FROM pg_stat_archiver")
  or die 'WAL not archived';

my $index_scan = 'SET enable_seqscan = off; SET enable_bitmapscan = off; '
  . 'SET gigavector.hnsw_max_scan_tuples = 1000000; SET gigavector.hnsw_ef_search = 1000; '
  . 'SET gigavector.ivfpq_probes = 4; SET gigavector.ivfpq_rerank = 100000; ';
my $seq_scan = 'SET enable_indexscan = off; SET enable_bitmapscan = off; ';

# The index's check function: the rows it counts for the index.
sub verified_rows
{
	my ($copy, $name) = @_;
	my $sql = $name =~ /^hnsw/ ? "SELECT elements FROM gigavector.hnsw_verify('i_$name')"
	  : $name =~ /^ivfpq/ ? "SELECT entries FROM gigavector.ivfpq_info('i_$name')"
	  : $name eq 'kdtree' ? "SELECT points FROM gigavector.kdtree_verify('i_$name')"
	  : "SELECT table_rows FROM gigavector.bm25_verify_table('i_$name')";
	return $copy->safe_psql('postgres', $sql);
}

# An index on t_$name in $copy: valid, checked, and every row found through it.
sub check_index
{
	my ($copy, $what, $name, $live) = @_;
	is($copy->safe_psql('postgres', "SELECT indisvalid FROM pg_index WHERE indexrelid = 'i_$name'::regclass"),
		't', "$what: the index is valid");
	cmp_ok(verified_rows($copy, $name), '>=', $live, "$what: its check function passes, counting every row");
	my ($whole, $top) = $name eq 'bm25'
	  ? ("SELECT id FROM t_$name WHERE body @@@ bm25query('i_$name', 'gvall')",
		"SELECT count(*) || '|' || sum(id) FROM t_$name WHERE body @@@ bm25query('i_$name', 'w3')")
	  : ("SELECT id FROM t_$name ORDER BY emb <-> $query LIMIT 100000000",
		"SELECT string_agg(id::text, ',') FROM (SELECT id FROM t_$name ORDER BY emb <-> $query LIMIT 10) s");
	is($copy->safe_psql('postgres', $index_scan
		  . "SELECT count(*) || '|' || count(DISTINCT id) FROM ($whole) s"),
		"$live|$live", "$what: a scan of the whole index returns each of the $live rows once");
	is($copy->safe_psql('postgres', $index_scan . $top), $copy->safe_psql('postgres', $seq_scan . $top),
		"$what: the nearest 10 through the index equal a sequential scan's");
}

# A new cluster from the backup, recovered to the target $setting names and promoted.
sub recover_to
{
	my ($label, $setting) = @_;
	my $copy = PostgreSQL::Test::Cluster->new("pitr_$label");
	$copy->init_from_backup($node, 'base', has_restoring => 1, standby => 0);
	# archive_mode off: a promoted copy must not archive its timeline where
	# the next copy would follow it
	$copy->append_conf('postgresql.conf', "$setting\nrecovery_target_action = 'promote'\n"
		  . "archive_mode = off\nmax_worker_processes = 8\nmax_parallel_maintenance_workers = 2\n");
	$copy->start;
	$copy->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die "$label: recovery did not end";
	return $copy;
}

my @targets = (
	[ 'mid_build_lsn', "recovery_target_lsn = '$target{lsn}'", 0 ],
	[ 'built_not_committed', "recovery_target_name = 'built_not_committed'", 0 ],
	[ 'build_xid', "recovery_target_xid = '$xid'", 1 ],
	[ 'after_load', "recovery_target_name = 'after_load'", 2 ],);
for my $t (@targets)
{
	my ($label, $setting, $state) = @$t;
	my $copy = recover_to($label, $setting);
	for my $name (@names)
	{
		my $what = "$label, $name";
		my $live = $state == 2 ? $after{$name} : $rows;
		is($copy->safe_psql('postgres', "SELECT count(*) FROM t_$name"), $live,
			"$what: the rows committed by the target ($live)");
		is($copy->safe_psql('postgres', "SELECT to_regclass('i_$name') IS NOT NULL"),
			$state ? 't' : 'f', "$what: the index is " . ($state ? 'there' : 'absent, its build not committed'));
		if (!$state)
		{
			$copy->safe_psql('postgres', "CREATE INDEX i_$name ON t_$name USING $index{$name}");
			$what .= ', built after recovery';
		}
		check_index($copy, $what, $name, $live);
	}
	$copy->stop;
}

$node->stop;
done_testing();
