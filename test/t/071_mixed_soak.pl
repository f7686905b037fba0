# Mixed-load soak: pgbench on loopback, 8 clients inserting, updating,
# deleting and searching (every index type, filtered and not), and
# one session running VACUUM over the tables in a loop, for a bounded time.
# Then: no client saw an error, and for every table the live rows equal what
# the clients committed (rows at the start + inserted - deleted, logged in
# the same transactions), a scan of the whole index returns exactly the live
# rows (so none that was deleted), and after a last VACUUM each index's check
# function passes (hnsw_verify with no link to a tombstone and every element
# reachable, ivfpq_info, kdtree_verify, bm25_verify and bm25_verify_table).
# Last, a backend running 3,000 searches does not grow its memory
# (pg_backend_memory_contexts at the start and at the end).
#
# GV_SOAK_SECONDS (default 30) sets how long the load runs; GV_LONG=1 runs
# 300 seconds on 4 times the rows.  The figures go to the test's output
# (note lines): transactions, errors, rows checked.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $seconds = $ENV{GV_SOAK_SECONDS} // ($ENV{GV_LONG} ? 300 : 30);
my $rows = $ENV{GV_LONG} ? 8000 : 2000;
my $dim = 16;

my $node = gv_new_node('mixed_soak', conf => 'max_connections = 40');

my $vec = random_vector_sql($dim, 'i');
my $rand_vec = "(SELECT array_agg((random() - 0.5)::real) FROM generate_series(1, $dim))::gvector($dim)";
my %index = (
	hnsw => 'gv_hnsw (emb, cat)',
	hnsw_plain => 'gv_hnsw (emb)',
	ivfpq => 'gv_ivfpq (emb) WITH (lists = 4)',
	kdtree => 'gv_kdtree (emb)',
	bm25 => 'gv_bm25 (body)',);
my @names = sort keys %index;
for my $name (@names)
{
	my ($cols, $val) = $name eq 'bm25'
	  ? ('body text', q{'gvall w' || (i % 13) || ' doc' || i})
	  : ("emb gvector($dim), cat int", "$vec, i % 5");
	$node->safe_psql('postgres', qq{
		CREATE TABLE t_$name (id bigserial PRIMARY KEY, $cols);
		INSERT INTO t_$name SELECT i, $val FROM generate_series(1, $rows) i;
		SELECT setval('t_${name}_id_seq', $rows);
		CREATE INDEX i_$name ON t_$name USING $index{$name};
		CREATE TABLE inserted_$name (id bigint);
		CREATE TABLE deleted_$name (id bigint);
	});
}

# pgbench scripts: per table an insert, an update, a delete and a search,
# each write logging what it committed in the same transaction
my $dir = PostgreSQL::Test::Utils::tempdir();
my @client_scripts;
for my $name (@names)
{
	# the searches: one unfiltered, one filtered (for gv_hnsw (emb, cat)
	# inside the index, for the others on the rows the index hands out)
	my ($set, $new, $search) = $name eq 'bm25'
	  ? ("body = 'gvall w' || (random() * 13)::int || ' updated'",
		"VALUES ('gvall w' || (random() * 13)::int || ' inserted')",
		"SELECT id FROM t_bm25 ORDER BY body <&> bm25query('i_bm25', 'w' || :c) LIMIT 10;\n"
		  . "SELECT id FROM t_bm25 WHERE id % 5 = :c ORDER BY body <&> bm25query('i_bm25', 'w' || :c) LIMIT 10;")
	  : ("emb = $rand_vec",
		"SELECT $rand_vec, (random() * 4)::int",
		"SELECT id FROM t_$name ORDER BY emb <-> $rand_vec LIMIT 10;\n"
		  . "SELECT id FROM t_$name WHERE cat = :c ORDER BY emb <-> $rand_vec LIMIT 10;");
	my $cols = $name eq 'bm25' ? '(body)' : '(emb, cat)';
	my %scripts = (
		insert => qq{WITH i AS (INSERT INTO t_$name $cols $new RETURNING id)
INSERT INTO inserted_$name SELECT id FROM i;
},
		update => qq{\\set id random(1, $rows * 2)
UPDATE t_$name SET $set WHERE id = :id;
},
		delete => qq{\\set id random(1, $rows * 2)
WITH d AS (DELETE FROM t_$name WHERE id IN
	(SELECT id FROM t_$name WHERE id >= :id ORDER BY id LIMIT 1) RETURNING id)
INSERT INTO deleted_$name SELECT id FROM d;
},
		search => qq{\\set c random(0, 4)
$search
},);
	for my $kind (sort keys %scripts)
	{
		my $path = "$dir/${name}_$kind.sql";
		open(my $fh, '>', $path) or die "cannot write $path: $!";
		print $fh $scripts{$kind};
		close($fh);
		push @client_scripts, '-f', "$path\@1";
	}
}
open(my $fh, '>', "$dir/vacuum.sql") or die "cannot write $dir/vacuum.sql: $!";
print $fh join('', map { "VACUUM (INDEX_CLEANUP ON) t_$_;\n" } @names) . "\\sleep 200 ms\n";
close($fh);

my @conn = ('-h', $node->host, '-p', $node->port, 'postgres');
my %runs = (
	clients => [ '-c', 8, '-j', 4, @client_scripts ],
	vacuum => [ '-c', 1, '-f', "$dir/vacuum.sql" ],);
my (%out, %harness);
for my $run (sort keys %runs)
{
	$out{$run} = '';
	$harness{$run} = IPC::Run::start(
		[ 'pgbench', '--no-vacuum', '-T', $seconds, @{ $runs{$run} }, @conn ],
		'>&', \$out{$run});
}
my $transactions = 0;
for my $run (sort keys %runs)
{
	my $ok = $harness{$run}->finish;
	my ($done) = $out{$run} =~ /number of transactions actually processed: (\d+)/;
	my ($failed) = $out{$run} =~ /number of failed transactions: (\d+)/;
	ok($ok && ($done // 0) > 0 && ($failed // 0) == 0, "$run: pgbench ran without an error")
	  or diag($out{$run});
	note "soak $run: " . ($done // 0) . ' transactions, ' . ($failed // 0) . ' failed';
	$transactions += $done // 0;
}

# The final consistency checks, after a last VACUUM.
$node->safe_psql('postgres', "VACUUM (INDEX_CLEANUP ON) t_$_") for @names;
my $index_scan = 'SET enable_seqscan = off; SET enable_bitmapscan = off; '
  . 'SET gigavector.hnsw_max_scan_tuples = 1000000; SET gigavector.hnsw_ef_search = 1000; '
  . 'SET gigavector.ivfpq_probes = 4; SET gigavector.ivfpq_rerank = 100000; ';
my $checked = 0;
for my $name (@names)
{
	my $t = "t_$name";
	my ($live, $expected) = split /\|/, $node->safe_psql('postgres', qq{
		SELECT (SELECT count(*) FROM $t) || '|' || ($rows + (SELECT count(*) FROM inserted_$name)
			- (SELECT count(*) FROM deleted_$name))});
	is($live, $expected, "$name: the live rows are the rows at the start + inserted - deleted ($live)");
	my $scan = $name eq 'bm25'
	  ? "SELECT id FROM $t WHERE body @@@ bm25query('i_bm25', 'gvall')"
	  : "SELECT id FROM $t ORDER BY emb <-> $rand_vec LIMIT 100000000";
	is($node->safe_psql('postgres', $index_scan . qq{
		SELECT count(*) || '|' || count(DISTINCT s.id) || '|' || count(t.id)
		FROM ($scan) s LEFT JOIN $t t ON t.id = s.id}),
		"$live|$live|$live", "$name: a scan of the whole index returns each live row once, no deleted one");
	$checked += $live;
	if ($name =~ /^hnsw/)
	{
		is($node->safe_psql('postgres', "SELECT elements || '|' || links_to_tombstones || '|' || unreachable
			FROM gigavector.hnsw_verify('i_$name')"), "$live|0|0",
			"$name: hnsw_verify passes, an element for each live row, none unreachable");
	}
	elsif ($name eq 'kdtree')
	{
		is($node->safe_psql('postgres', "SELECT points FROM gigavector.kdtree_verify('i_kdtree')"),
			$live, 'kdtree: kdtree_verify passes, a point for each live row');
	}
	elsif ($name eq 'ivfpq')
	{
		is($node->safe_psql('postgres', "SELECT entries >= $live FROM gigavector.ivfpq_info('i_ivfpq')"),
			't', 'ivfpq: ivfpq_info checks every list chain, an entry for each live row');
	}
	elsif ($name eq 'bm25')
	{
		is($node->safe_psql('postgres', "SELECT documents FROM gigavector.bm25_verify('i_bm25')"),
			$live, 'bm25: bm25_verify passes, a document for each live row');
		is($node->safe_psql('postgres', "SELECT table_rows FROM gigavector.bm25_verify_table('i_bm25')"),
			$live, 'bm25: bm25_verify_table finds every live row indexed with its terms');
	}
}
note "soak: $transactions transactions in $seconds s, 0 errors, $checked rows checked";

# Memory: 3,000 searches (600 of each kind) in one backend, after 100 to
# warm its caches; its memory contexts must not grow by more than 64 kB.
my $searches = join("\n", map { "PERFORM id FROM ($_) s;" }
	"SELECT id FROM t_hnsw WHERE cat = 1 ORDER BY emb <-> $rand_vec LIMIT 10",
	"SELECT id FROM t_hnsw_plain ORDER BY emb <-> $rand_vec LIMIT 10",
	"SELECT id FROM t_ivfpq ORDER BY emb <-> $rand_vec LIMIT 10",
	"SELECT id FROM t_kdtree ORDER BY emb <-> $rand_vec LIMIT 10",
	"SELECT id FROM t_bm25 ORDER BY body <&> bm25query('i_bm25', 'w3') LIMIT 10");
my $mem = q{SELECT sum(total_bytes) FROM pg_backend_memory_contexts};
my ($before, $after) = split /\n/, $node->safe_psql('postgres', qq{
	SET enable_seqscan = off;
	DO \$\$ BEGIN FOR i IN 1..20 LOOP $searches END LOOP; END \$\$;
	$mem;
	DO \$\$ BEGIN FOR i IN 1..600 LOOP $searches END LOOP; END \$\$;
	$mem;});
note "backend memory: $before bytes after 100 searches, $after after 3,000 more";
cmp_ok($after - $before, '<=', 65536, 'a backend running 3,000 searches does not grow its memory');

$node->stop;
done_testing();
