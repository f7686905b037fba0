# gv_hnsw builds at their limits (issue 22), on 20,000 rows of 16
# dimensions: a build that outgrows maintenance_work_mem says so and gives
# the same answers as one that fits; the build's own memory stays within
# maintenance_work_mem (measured from /proc); pg_stat_progress_create_index
# reports the build all the way (sampled from a second session); a build
# cancelled at several points leaves nothing behind; and CREATE INDEX
# CONCURRENTLY under concurrent inserts indexes every row.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use lib 'test/perl';
use GvTest;

my $rows = 20000;
my $node = gv_new_node('build_limits',
	conf => "max_worker_processes = 8\nmax_parallel_workers = 8\n"
	  . "max_parallel_maintenance_workers = 1\n");
my $vec = random_vector_sql(16, 'i');
my $qvec = random_vector_sql(16, '-q');
$node->safe_psql('postgres', qq{
	CREATE TABLE items (id int PRIMARY KEY, emb gvector(16));
	INSERT INTO items SELECT i, $vec FROM generate_series(1, $rows) i;
	CREATE TABLE qs (q int PRIMARY KEY, emb gvector(16));
	INSERT INTO qs SELECT q, $qvec FROM generate_series(1, 50) q;
	CREATE TABLE progress_log (seq serial, phase text, blocks_total bigint, blocks_done bigint,
							   tuples_total bigint, tuples_done bigint);
	VACUUM ANALYZE items;
});
my $create = 'CREATE INDEX items_emb ON items USING gv_hnsw (emb) WITH (m = 16, ef_construction = 64)';

# Every query's 10 nearest ids, "q:id,id,..." a line: through the index
# (ef_search 400) or, with $exact, by a sequential scan.
sub top10
{
	my ($exact) = @_;
	my $scan = $exact
	  ? 'SET enable_indexscan = off; SET enable_bitmapscan = off;'
	  : 'SET enable_seqscan = off; SET gigavector.hnsw_ef_search = 400;';
	return $node->safe_psql('postgres', qq{$scan
		SELECT q.q || ':' || (SELECT string_agg(id::text, ',' ORDER BY d, id) FROM
			(SELECT x.id, x.emb <-> q.emb AS d FROM items x ORDER BY x.emb <-> q.emb LIMIT 10) s)
		FROM qs q ORDER BY q.q});
}

# The relation files of database postgres (names of base/<oid>/ that are
# relfilenodes), as a sorted string, after a checkpoint: an aborted
# transaction's new relation leaves its first segment, truncated, until the
# next checkpoint unlinks it (md.c), as every relation does.
sub relation_files
{
	return $node->safe_psql('postgres', q{
		CHECKPOINT;
		SELECT string_agg(f, ' ' ORDER BY f) FROM pg_ls_dir('base/' ||
			(SELECT oid FROM pg_database WHERE datname = current_database())) f
		WHERE f ~ '^[0-9]+(_(fsm|vm|init))?(\.[0-9]+)?$'});
}

# RssAnon (kB) of process $pid, or undef once it is gone.
sub rss_anon
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/status") or return undef;
	while (my $line = <$fh>)
	{
		return $1 if $line =~ /^RssAnon:\s+(\d+)/;
	}
	return undef;
}

# A background session about to build: (session, backend pid).
sub build_session
{
	my ($settings) = @_;
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $bg->query_safe('SELECT pg_backend_pid()');
	$bg->query_safe($settings) if $settings;
	return ($bg, $pid);
}

# Start $sql in session $bg; returns at once.
sub start_build
{
	my ($bg, $sql) = @_;
	$bg->query_until(qr/building/, "\\echo building\n$sql;\n\\echo built\n");
}

# Wait for session $bg's build; its stderr (the messages).
sub finish_build
{
	my ($bg) = @_;
	$bg->query('SELECT 1');
	my $err = $bg->{stderr};
	$bg->quit;
	return $err;
}

# Build in session $bg while sampling its backend's RssAnon every 2 ms;
# (peak kB above the backend's RssAnon before, messages).
sub build_measuring_memory
{
	my ($mwm) = @_;
	my ($bg, $pid) = build_session("SET maintenance_work_mem = '$mwm'");
	my $before = rss_anon($pid);
	my $peak = $before;
	$bg->{stdin} .= "$create;\n\\echo built\n";
	until ($bg->{stdout} =~ /built/)
	{
		$bg->{run}->pump_nb;
		my $now = rss_anon($pid);
		$peak = $now if defined $now && $now > $peak;
		usleep(2_000);
	}
	$bg->{stdout} = '';
	return ($peak - $before, finish_build($bg));
}

my $exact = top10(1);

# A build that fits, and its answers.
my ($fitGrowth, $err) = build_measuring_memory('64MB');
unlike($err, qr/no longer fits/, '64MB: the graph fits, no NOTICE');
note "64MB build: the backend grew by $fitGrowth kB";
my $fitting = top10(0);
is($fitting, $exact, 'the graph that fits gives the exact 10 nearest at ef_search 400');
$node->safe_psql('postgres', 'DROP INDEX items_emb');

# The graph of these rows takes about 8MB; in 2MB the build writes what it
# has after a quarter of the rows and inserts the rest through the pages.
my ($smallGrowth, $err2) = build_measuring_memory('2MB');
like($err2, qr/NOTICE:  gv_hnsw graph no longer fits into maintenance_work_mem after (\d+) tuples/,
	'2MB: NOTICE that the graph outgrew maintenance_work_mem');
my ($ingraph) = $err2 =~ /after (\d+) tuples/;
ok(defined $ingraph && $ingraph > 1000 && $ingraph < $rows / 2,
	'the graph filled part way through (' . ($ingraph // 'none') . ' rows)');
is(top10(0), $fitting, 'the build past maintenance_work_mem gives the same answers as the one that fits');
note "2MB build: the backend grew by $smallGrowth kB";
# What the build allocates beyond the graph (a row's vector, the insert
# path's candidate lists, relcache and catalog caches) is a few MB at most.
cmp_ok($smallGrowth, '<=', 2048 + 6144, 'build memory within maintenance_work_mem 2MB (+ 6MB margin)');
cmp_ok($fitGrowth, '>=', 4096, 'the measurement sees the 64MB build\'s graph (more than 4MB)');
cmp_ok($fitGrowth, '>', $smallGrowth + 2048, 'the 2MB build used less memory than the 64MB one');
$node->safe_psql('postgres', 'DROP INDEX items_emb');

# Progress, sampled from a second session every 5 ms until the build ends.
sub sample_progress
{
	my ($pid) = @_;
	$node->safe_psql('postgres', qq{
		TRUNCATE progress_log;
		DO \$\$ BEGIN
			FOR i IN 1..60000 LOOP
				PERFORM pg_stat_clear_snapshot();
				INSERT INTO progress_log (phase, blocks_total, blocks_done, tuples_total, tuples_done)
					SELECT phase, blocks_total, blocks_done, tuples_total, tuples_done
					FROM pg_stat_progress_create_index WHERE pid = $pid;
				EXIT WHEN NOT FOUND AND i > 1;
				PERFORM pg_sleep(0.005);
			END LOOP;
		END \$\$});
}

for my $case (['64MB', 'in memory'], ['2MB', 'past maintenance_work_mem'])
{
	my ($mwm, $what) = @$case;
	my ($bg, $pid) = build_session("SET maintenance_work_mem = '$mwm'");
	start_build($bg, $create);
	sample_progress($pid);
	finish_build($bg);
	my ($samples, $phases, $maxBlocks, $blocksTotal, $maxTuples, $tuplesTotal, $backwards) =
	  split /\|/, $node->safe_psql('postgres', q{
		SELECT count(*), string_agg(DISTINCT phase, ','), max(blocks_done), max(blocks_total),
			max(tuples_done), max(tuples_total),
			(SELECT count(*) FROM (SELECT tuples_done < lag(tuples_done) OVER (ORDER BY seq) AS b,
									  phase = lag(phase) OVER (ORDER BY seq) AS same
								   FROM progress_log) s WHERE b AND same)
		FROM progress_log});
	note "$what: $samples samples, phases $phases, blocks $maxBlocks/$blocksTotal, "
	  . "tuples $maxTuples/$tuplesTotal";
	cmp_ok($samples, '>=', 5, "$what: progress sampled during the build");
	like($phases, qr/building index: loading tuples/, "$what: phase 'loading tuples' reported");
	is($tuplesTotal, $rows, "$what: tuples_total is the table's rows");
	cmp_ok($maxTuples, '>=', 0.9 * $rows, "$what: tuples_done went at least 90% of the way");
	cmp_ok($blocksTotal, '>', 0, "$what: blocks_total reported");
	cmp_ok($maxBlocks, '>=', 0.9 * $blocksTotal, "$what: blocks_done went at least 90% of the way");
	is($backwards, 0, "$what: tuples_done never went backwards within a phase");
	$node->safe_psql('postgres', 'DROP INDEX items_emb');
}

# Cancelled builds leave nothing: no index, no relation file, no worker.
my $files = relation_files();
my @cancels = (
	['64MB', '', 'tuples_done >= 2000', 'early, in memory'],
	['64MB', '', 'tuples_done >= 15000', 'late, in memory'],
	['2MB', '', 'tuples_done >= 12000', 'in the on-disk insert path'],
	['64MB', 'SET min_parallel_table_scan_size = 0; SET max_parallel_maintenance_workers = 1;',
		'tuples_done >= 5000', 'parallel build'],);
for my $c (@cancels)
{
	my ($mwm, $settings, $cond, $what) = @$c;
	my ($bg, $pid) = build_session("SET maintenance_work_mem = '$mwm'; $settings");
	start_build($bg, $create);
	my $at = $node->safe_psql('postgres', qq{
		DO \$\$ DECLARE done bigint; BEGIN
			FOR i IN 1..60000 LOOP
				PERFORM pg_stat_clear_snapshot();
				SELECT tuples_done INTO done FROM pg_stat_progress_create_index
				WHERE pid = $pid AND $cond;
				IF FOUND THEN
					PERFORM pg_cancel_backend($pid);
					RAISE NOTICE 'cancelled at %', done;
					RETURN;
				END IF;
				PERFORM pg_sleep(0.002);
			END LOOP;
		END \$\$});
	my $msgs = finish_build($bg);
	like($msgs, qr/canceling statement due to user request/, "cancel $what: the build was cancelled");
	is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname = 'items_emb'}),
		0, "cancel $what: no index left");
	is(relation_files(), $files, "cancel $what: no relation file left");
	is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'parallel worker'}),
		0, "cancel $what: no parallel worker left");
}

# statement_timeout stops a build the same way.
$node->psql('postgres', "SET maintenance_work_mem = '2MB'; SET statement_timeout = '300ms'; $create",
	stderr => \$err);
like($err, qr/canceling statement due to statement timeout/, 'statement_timeout cancels the build');
is(relation_files(), $files, 'statement_timeout: no relation file left');

# The next build works, and answers as before.
$node->safe_psql('postgres', $create);
is(top10(0), $fitting, 'after the cancelled builds a build gives the same answers');
$node->safe_psql('postgres', 'DROP INDEX items_emb');

# CREATE INDEX CONCURRENTLY while another session inserts rows, one a
# transaction, until told to stop.
$node->safe_psql('postgres', 'CREATE TABLE stop_inserting (x int)');
my $ins = $node->background_psql('postgres', on_error_stop => 0);
$ins->query_until(qr/inserting/, qq{\\echo inserting
	DO \$\$ BEGIN FOR k IN 1..1000000 LOOP
		INSERT INTO items SELECT i, (SELECT array_agg(sin(i * 1000 + j)::real ORDER BY j)
			FROM generate_series(1, 16) j)::gvector(16) FROM (SELECT $rows + k AS i) s;
		COMMIT;
		EXIT WHEN EXISTS (SELECT 1 FROM stop_inserting);
		PERFORM pg_sleep(0.001);
	END LOOP; END \$\$;
});
my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
$node->safe_psql('postgres', $create =~ s/CREATE INDEX/CREATE INDEX CONCURRENTLY/r);
my $during = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
$node->safe_psql('postgres', 'INSERT INTO stop_inserting VALUES (1)');
$ins->query('SELECT 1');
is($ins->{stderr}, '', 'the inserting session saw no error');
$ins->quit;
my $total = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
note "rows: $before before CREATE INDEX CONCURRENTLY, $during when it returned, $total in all";
cmp_ok($during, '>', $before, 'rows were inserted while CREATE INDEX CONCURRENTLY ran');
is($node->safe_psql('postgres', q{SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_emb'::regclass}),
	't', 'CREATE INDEX CONCURRENTLY: the index is valid');
is($node->safe_psql('postgres', q{
	SET enable_seqscan = off; SET gigavector.hnsw_max_scan_tuples = 1000000;
	SELECT count(*), count(DISTINCT id) FROM
		(SELECT id FROM items ORDER BY emb <-> (SELECT emb FROM qs LIMIT 1) LIMIT 1000000) s}),
	"$total|$total", 'an ordering scan through the index returns every row once');
is($node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SELECT count(*) FROM items x WHERE x.id > } . $rows . q{ AND NOT EXISTS (SELECT 1 FROM
		(SELECT id, emb FROM items ORDER BY emb <-> x.emb LIMIT 1) s WHERE s.emb <-> x.emb = 0)}),
	0, 'every row inserted during the build is found through the index by its own vector');

$node->stop;
done_testing();
