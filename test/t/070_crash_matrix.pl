# The crash matrix: every access method (gv_hnsw in each storage and with a
# parallel build, gv_ivfpq, gv_kdtree, gv_bm25), each on its own table,
# all under the same load when the whole server is killed with SIGKILL
# (postmaster and every backend at once, as a power cut or the OOM killer
# does), at each crash point:
#   1. during CREATE INDEX (the gv_hnsw parallel table with 2 workers),
#   2. during concurrent inserts,
#   3. during VACUUM of half the rows, then again after a full VACUUM,
#   4. torn pages: full_page_writes on, a CHECKPOINT loop and writers, and
#      pg_ctl stop -m immediate in the middle, several times.
# After each restart, for every index: its check function passes (hnsw_verify,
# ivfpq_info, bm25_verify), an index scan over the whole index returns every
# committed row once and nothing else, and the nearest 10 through the index
# equal a sequential scan's (for gv_bm25: the rows matching a term).
#
# GV_LONG=1: 20,000 rows a table (3,000) and 10 torn-page rounds (3).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use lib 'test/perl';
use GvTest;

# The sessions killed with the server are closed afterwards: their pipes are gone.
$SIG{PIPE} = 'IGNORE';

my $rows = $ENV{GV_LONG} ? 20000 : 3000;
my $torn_rounds = $ENV{GV_LONG} ? 10 : 3;
my $dim = 16;

my $node = gv_new_node('crash_matrix',
	conf => "max_worker_processes = 8\nmax_parallel_workers = 8\n"
	  . "max_parallel_maintenance_workers = 2\nmin_parallel_table_scan_size = 0\n"
	  . "full_page_writes = on\nmax_connections = 40");

# name => [ access method and options, indexed column ]
my %index = (
	hnsw_float32 => 'gv_hnsw (emb) WITH (storage = float32, m = 8, ef_construction = 32)',
	hnsw_float16 => 'gv_hnsw (emb) WITH (storage = float16, m = 8, ef_construction = 32)',
	hnsw_int8 => 'gv_hnsw (emb) WITH (storage = int8, m = 8, ef_construction = 32)',
	hnsw_parallel => 'gv_hnsw (emb) WITH (m = 8, ef_construction = 32)',
	ivfpq => 'gv_ivfpq (emb) WITH (lists = 4)',
	kdtree => 'gv_kdtree (emb)',
	bm25 => 'gv_bm25 (body)',);
my @names = sort keys %index;

my $vec = random_vector_sql($dim, 'i');
my $query = random_vector_sql($dim, '424242');
my $body = q{'w' || (i % 7) || ' w' || (i % 11) || ' doc' || i};
for my $name (@names)
{
	my $cols = $name eq 'bm25' ? 'body text' : "emb gvector($dim)";
	my $val = $name eq 'bm25' ? $body : $vec;
	$node->safe_psql('postgres', qq{
		CREATE TABLE t_$name (id int PRIMARY KEY, $cols);
		INSERT INTO t_$name SELECT i, $val FROM generate_series(1, $rows) i;
		CREATE SEQUENCE ids_$name START 1000000;
	});
}
$node->safe_psql('postgres', 'ALTER TABLE t_hnsw_parallel SET (parallel_workers = 2)');

# The processes whose parent is $pid, from /proc.
sub ChildrenOf
{
	my ($pid) = @_;
	my @children;
	for my $stat (glob '/proc/[0-9]*/stat')
	{
		open(my $fh, '<', $stat) or next;
		my $line = <$fh> // '';
		close($fh);
		# pid (comm) state ppid ...; comm may hold spaces and parentheses
		push @children, $1 if $line =~ /^(\d+) \(.*\) \S+ (\d+) / && $2 == $pid;
	}
	return @children;
}

# Kill the postmaster and every backend with SIGKILL, then start again.
sub kill_all_and_restart
{
	my $postmaster = $node->{_pid};
	my @children = ChildrenOf($postmaster);
	note "killing postmaster $postmaster and backends @children";
	kill 'KILL', $postmaster, @children;
	$node->{_pid} = undef;
	# Wait until none is left: backends hold the shared memory, and pg_ctl
	# takes a postmaster that is a zombie not yet reaped for a live one.
	for (1 .. 300)
	{
		last unless grep { -e "/proc/$_" } $postmaster, @children;
		usleep(100_000);
	}
	$node->start;
}

# Start one background session per table running $sql_for->($name); wait
# $ms, then crash with $crash->().
sub load_then_crash
{
	my ($ms, $crash, $sql_for) = @_;
	my @bg;
	for my $name (@names)
	{
		my $sql = $sql_for->($name) // next;
		my $bg = $node->background_psql('postgres', on_error_stop => 0);
		$bg->query_until(qr/start/, "\\echo start\n$sql\n");
		push @bg, $bg;
	}
	usleep($ms * 1000);
	$crash->();
	eval { $_->quit } for @bg;
}

my $index_scan = 'SET enable_seqscan = off; SET enable_bitmapscan = off; '
  . 'SET gigavector.hnsw_max_scan_tuples = 1000000; SET gigavector.hnsw_ef_search = 1000; '
  . 'SET gigavector.ivfpq_probes = 4; SET gigavector.ivfpq_rerank = 100000; ';
my $seq_scan = 'SET enable_indexscan = off; SET enable_bitmapscan = off; ';

# The checks after a crash, for every table's index ($todo_bm25: the known
# gv_bm25 bug after a crash during its VACUUM, see TAP 041).
sub check_all
{
	my ($when, %opt) = @_;
	for my $name (@names)
	{
		my $t = "t_$name";
		my $live = $node->safe_psql('postgres', "SELECT count(*) FROM $t");
		my $what = "$when, $name";
		if ($name eq 'bm25')
		{
			my ($rc, $out, $err) = $node->psql('postgres',
				"SELECT documents >= $live FROM gigavector.bm25_verify('i_$name')");
			TODO:
			{
				local $TODO = $opt{todo_bm25} ? 'known bug: a crash during gv_bm25 VACUUM can leave a posting without its document' : undef;
				ok($rc == 0 && $out eq 't', "$what: bm25_verify passes") or diag($err);
			}
			$node->safe_psql('postgres', "REINDEX INDEX i_$name") if $rc != 0 || $out ne 't';
			my $match = "SELECT count(*) || '|' || coalesce(sum(id), 0) FROM $t "
			  . "WHERE body @@@ bm25query('i_$name', 'w3')";
			is($node->safe_psql('postgres', $index_scan . $match),
				$node->safe_psql('postgres', $seq_scan . $match),
				"$what: the rows matching a term through the index equal a sequential scan's");
			next;
		}
		if ($name =~ /^hnsw/)
		{
			cmp_ok($node->safe_psql('postgres', "SELECT heap_tids FROM gigavector.hnsw_verify('i_$name')"),
				'>=', $live, "$what: hnsw_verify passes, a heap TID for every row");
		}
		elsif ($name eq 'ivfpq')
		{
			cmp_ok($node->safe_psql('postgres', "SELECT entries FROM gigavector.ivfpq_info('i_$name')"),
				'>=', $live, "$what: ivfpq_info reads the index, an entry for every row");
		}
		# Through quantized storage too: a row the exact pass found in a
		# later batch once came exactly nearer than rows already handed out
		# and was skipped (6 of 5,500).
		is($node->safe_psql('postgres', $index_scan . qq{
			SELECT count(*) || '|' || count(DISTINCT s.id) || '|' || count(t.id)
			FROM (SELECT id FROM $t ORDER BY emb <-> $query LIMIT 10000000) s
			LEFT JOIN $t t ON t.id = s.id}),
			"$live|$live|$live",
			"$what: a scan of the whole index returns each of the $live committed rows once");
		my $top = "SELECT string_agg(id::text, ',') FROM (SELECT id FROM $t ORDER BY emb <-> $query LIMIT 10) s";
		is($node->safe_psql('postgres', $index_scan . $top),
			$node->safe_psql('postgres', $seq_scan . $top),
			"$what: the nearest 10 through the index equal a sequential scan's");
	}
}

# 1. During CREATE INDEX: each session builds its index again and again.
load_then_crash(2000, \&kill_all_and_restart, sub {
	my ($name) = @_;
	return qq{DO \$\$ BEGIN LOOP
		DROP INDEX IF EXISTS i_$name; CREATE INDEX i_$name ON t_$name USING $index{$name};
		COMMIT; END LOOP; END \$\$;};
});
my @missing;
for my $name (@names)
{
	next if $node->safe_psql('postgres', "SELECT to_regclass('i_$name') IS NOT NULL") eq 't';
	push @missing, $name;
	$node->safe_psql('postgres', "CREATE INDEX i_$name ON t_$name USING $index{$name}");
}
note 'indexes the crash during CREATE INDEX left uncommitted (built again): ' . join(', ', @missing);
check_all('after a crash during CREATE INDEX');
like($node->safe_psql('postgres', $index_scan
	  . "EXPLAIN (COSTS OFF) SELECT id FROM t_kdtree ORDER BY emb <-> $query LIMIT 10"),
	qr/Index Scan using i_kdtree/, 'the checks scan through the index');

# 2. During concurrent inserts, committed 20 rows at a time.
load_then_crash(2000, \&kill_all_and_restart, sub {
	my ($name) = @_;
	my $val = $name eq 'bm25' ? $body : $vec;
	return qq{DO \$\$ BEGIN LOOP
		INSERT INTO t_$name SELECT i, $val
			FROM (SELECT nextval('ids_$name')::int AS i FROM generate_series(1, 20)) s;
		COMMIT; END LOOP; END \$\$;};
});
check_all('after a crash during inserts');

# 3. During VACUUM of half the rows.
$node->safe_psql('postgres', "DELETE FROM t_$_ WHERE id % 2 = 0") for @names;
load_then_crash(700, \&kill_all_and_restart, sub {
	my ($name) = @_;
	return "VACUUM (INDEX_CLEANUP ON) t_$name;";
});
check_all('after a crash during VACUUM', todo_bm25 => 1);
$node->safe_psql('postgres', "VACUUM (INDEX_CLEANUP ON) t_$_") for @names;
check_all('after a crash during VACUUM and a VACUUM to the end');
for my $name (grep { /^hnsw/ } @names)
{
	is($node->safe_psql('postgres', "SELECT links_to_tombstones || '|' || unreachable
		FROM gigavector.hnsw_verify('i_$name')"), '0|0',
		"$name: after the second VACUUM no link to a tombstone, every element reachable");
}

# 4. Torn pages: writers (insert, delete, VACUUM) and a CHECKPOINT loop,
# then an immediate stop; full-page images must repair what the stop tore.
for my $round (1 .. $torn_rounds)
{
	my $started = 0;
	load_then_crash(1500, sub { $node->stop('immediate'); $node->start; }, sub {
		my ($name) = @_;
		my $val = $name eq 'bm25' ? $body : $vec;
		my $sql = qq{DO \$\$ BEGIN LOOP
			INSERT INTO t_$name SELECT i, $val
				FROM (SELECT nextval('ids_$name')::int AS i FROM generate_series(1, 20)) s;
			DELETE FROM t_$name WHERE id IN (SELECT id FROM t_$name ORDER BY random() LIMIT 10);
			COMMIT;
			CHECKPOINT;
		END LOOP; END \$\$;};
		return $sql;
	});
	check_all("torn pages round $round");
}

$node->stop;
done_testing();
