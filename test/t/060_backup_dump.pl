# pg_dump / pg_restore of a database holding every gigavector index kind:
# gv_hnsw (filter columns, every storage, every distance), gv_ivfpq trained
# on its own rows and on a training table named by the training_table
# option, gv_kdtree; in plain, custom and directory formats, serial and
# parallel (-j).  Afterwards every query gives the same answer as before,
# query by query: exact scans and index scans (rebuilt indexes are
# deterministic: fixed seeds, serial builds).  A second source database keeps
# the extension in another schema, off the search_path that pg_restore
# empties.  Then the same tables as .gvb backups (server files, and the
# stream a client receives), restored into a database whose extension
# lives in another schema than the source's: the same answers again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

# Serial index builds: a parallel build is not reproducible.
my $node = gv_new_node('dump', conf => "max_parallel_maintenance_workers = 0\n");

# The fixture, in schema $s's extension: tables, data, then indexes (so
# that the source's indexes are built like the restored ones, after the
# data).
sub fixture
{
	my ($db, $s) = @_;
	my $v16 = random_vector_sql(16, 'i');
	my $t16 = random_vector_sql(16, 'i + 500000');
	$node->safe_psql($db, qq{
		SET search_path = public, $s;
		CREATE TABLE base (id int PRIMARY KEY, label int, tag text, emb $s.gvector(16));
		INSERT INTO base SELECT i, i % 10, 'tag' || (i % 3), $v16 FROM generate_series(1, 2000) i;
		CREATE TABLE qs AS SELECT id, label, emb FROM base WHERE id % 100 = 7;
		UPDATE qs SET emb = $s.gvector_add(emb, '[0.01,0.02,0,0,0,0,0,0,0,0,0,0,0,0,0,0.03]');
		CREATE TABLE h32 AS SELECT * FROM base;
		CREATE TABLE h16 AS SELECT * FROM base;
		CREATE TABLE h8 AS SELECT * FROM base;
		CREATE TABLE hbin AS SELECT * FROM base;
		CREATE TABLE ivf_self AS SELECT * FROM base;
		-- a small indexed table and a large training table: with pg_restore
		-- -j the index could be built while the training rows still load
		CREATE TABLE ivf_train (emb $s.gvector(16));
		INSERT INTO ivf_train SELECT $t16 FROM generate_series(1, 60000) i;
		CREATE TABLE ivf_named AS SELECT * FROM base WHERE id <= 400;
		CREATE TABLE kd AS SELECT id, label, $s.subvector(emb, 1, 6) AS emb FROM base;
		ALTER TABLE kd ALTER COLUMN emb TYPE $s.gvector(6);
	});
	$node->safe_psql($db, qq{
		CREATE INDEX h32_idx ON h32 USING gv_hnsw (emb, label, tag) WITH (storage = float32, m = 12);
		CREATE INDEX h16_idx ON h16 USING gv_hnsw (emb $s.gvector_cosine_ops) WITH (storage = float16);
		CREATE INDEX h8_idx ON h8 USING gv_hnsw (emb $s.gvector_ip_ops) WITH (storage = int8, ef_construction = 40);
		CREATE INDEX hbin_idx ON hbin USING gv_hnsw (emb) WITH (storage = binary);
		CREATE INDEX ivf_self_idx ON ivf_self USING gv_ivfpq (emb) WITH (lists = 16, subquantizers = 4, bits = 6);
		CREATE INDEX ivf_named_idx ON ivf_named USING gv_ivfpq (emb)
			WITH (lists = 32, subquantizers = 8, bits = 8, training_table = 'public.ivf_train(emb)');
		CREATE INDEX kd_idx ON kd USING gv_kdtree (emb);
		-- gv_bm25 (src/bm25) and TTL tables (gigavector.enable_ttl) join this
		-- fixture when they land: a text column with a gv_bm25 index and
		-- bm25query queries, a TTL table whose expired rows stay hidden.
		ANALYZE;
	});
}

# (table, operator, filter) of every query set compared.
my @cases = (
	[ 'h32', '<->', '' ], [ 'h32', '<->', 'label = 3' ], [ 'h32', '<->', "tag = 'tag1'" ],
	[ 'h16', '<=>', '' ], [ 'h8', '<#>', '' ], [ 'hbin', '<->', '' ],
	[ 'ivf_self', '<->', '' ], [ 'ivf_named', '<->', '' ], [ 'kd', '<->', '' ],
	[ 'kd', '<->', 'label = 5' ]);

# For one case, one line per query: "qid: id=distance,..." from the index
# (index scans forced) or exactly ((d + 0) hides the order from any index).
sub answers
{
	my ($db, $s, $case, $exact) = @_;
	my ($t, $op, $filter) = @$case;
	my $where = $filter ? "WHERE $filter" : '';
	my $order = $exact ? "(x.emb OPERATOR($s.$op) q.emb) + 0, x.id" : "x.emb OPERATOR($s.$op) q.emb";
	my $emb = $t eq 'kd' ? "$s.subvector(emb, 1, 6)" : 'emb';
	my $out = $node->safe_psql($db, qq{
		SET enable_seqscan = off;
		SET gigavector.ivfpq_probes = 4;
		SELECT q.id || ': ' || (SELECT string_agg(r.id || '=' || r.d, ',' ORDER BY r.n) FROM (
			SELECT x.id, x.emb OPERATOR($s.$op) q.emb AS d, row_number() OVER () AS n
			FROM (SELECT x.id, x.emb FROM $t x $where ORDER BY $order LIMIT 10) x) r)
		FROM (SELECT id, $emb AS emb FROM qs) q ORDER BY q.id});
	return [ split /\n/, $out ];
}

# Every answer of a database, keyed by case and kind.
sub all_answers
{
	my ($db, $s) = @_;
	my %a;
	for my $c (@cases)
	{
		my $key = join(' ', grep { $_ ne '' } @$c);
		$a{"$key index"} = answers($db, $s, $c, 0);
		$a{"$key exact"} = answers($db, $s, $c, 1);
	}
	return \%a;
}

sub check_restored
{
	my ($db, $s, $before, $what) = @_;
	my $after = all_answers($db, $s);
	for my $k (sort keys %$before)
	{
		is(scalar @{ $after->{$k} }, 20, "$what: $k: 20 queries") if $k =~ /exact$/;
		is_deeply($after->{$k}, $before->{$k}, "$what: $k: same answers, query by query");
	}
	for my $t (qw(h32 h16 h8 hbin ivf_self ivf_named kd))
	{
		my ($op) = map { $_->[1] } grep { $_->[0] eq $t } @cases;
		my $emb = $t eq 'kd' ? "$s.subvector(emb, 1, 6)" : 'emb';
		like($node->safe_psql($db, qq{SET enable_seqscan = off; EXPLAIN (COSTS OFF)
			SELECT id FROM $t ORDER BY emb OPERATOR($s.$op) (SELECT $emb FROM qs LIMIT 1) LIMIT 10}),
			qr/Index Scan using ${t}_idx/, "$what: $t answers through its index");
	}
	my $hv = $node->safe_psql($db, qq{SELECT string_agg(i || ':' || elements || '/' || unreachable, ' ' ORDER BY i)
		FROM unnest(ARRAY['h32_idx', 'h16_idx', 'h8_idx', 'hbin_idx']) i, gigavector.hnsw_verify(i::regclass)});
	is($hv, 'h16_idx:2000/0 h32_idx:2000/0 h8_idx:2000/0 hbin_idx:2000/0', "$what: every gv_hnsw index is whole");
	is($node->safe_psql($db, q{SELECT string_agg(trained || ':' || lists || ':' || entries, ' ')
		FROM unnest(ARRAY['ivf_self_idx', 'ivf_named_idx']) i, gigavector.ivfpq_info(i::regclass)}),
		'true:16:2000 true:32:400', "$what: the gv_ivfpq indexes are trained, with all entries");
}

my $tempdir = PostgreSQL::Test::Utils::tempdir;

# restore FORMAT FILE DB [JOBS]: dump database src (in FORMAT) and restore
# it into new database DB.
sub dump_and_restore
{
	my ($src, $format, $db, $jobs) = @_;
	my $file = "$tempdir/$db.$format";
	my @j = $jobs ? ('--jobs', $jobs) : ();
	$node->command_ok([ 'pg_dump', '--format', $format, ($format eq 'directory' ? @j : ()),
		'--file', $file, '--dbname', $node->connstr($src) ], "pg_dump --format=$format of $src");
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	if ($format eq 'plain')
	{
		$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr($db), '-f', $file ],
			"psql restores the plain dump into $db");
	}
	else
	{
		$node->command_ok([ 'pg_restore', '--exit-on-error', @j, '--dbname', $node->connstr($db), $file ],
			"pg_restore @j of the $format dump into $db");
	}
}

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', 'CREATE EXTENSION gigavector');
fixture('src', 'public');
my $before = all_answers('src', 'public');
is(scalar @{ $before->{'h32 <-> index'} }, 20, 'the source answers 20 queries per case');

dump_and_restore('src', 'plain', 'r_plain');
check_restored('r_plain', 'public', $before, 'plain');
dump_and_restore('src', 'custom', 'r_custom');
check_restored('r_custom', 'public', $before, 'custom');
dump_and_restore('src', 'directory', 'r_dir', 4);
check_restored('r_dir', 'public', $before, 'directory -j 4');
is($node->safe_psql('r_dir', q{SELECT count(*) FROM pg_depend
	WHERE objid = 'ivf_named_idx'::regclass AND refobjid = 'ivf_train'::regclass}), '1',
	'the gv_ivfpq index depends on its training table (so pg_restore -j loads that first)');

# The extension in schema vec, which pg_restore's empty search_path hides.
$node->safe_psql('postgres', 'CREATE DATABASE srcvec');
$node->safe_psql('srcvec', 'CREATE SCHEMA vec; CREATE EXTENSION gigavector SCHEMA vec');
fixture('srcvec', 'vec');
my $before_vec = all_answers('srcvec', 'vec');
is_deeply($before_vec, $before, 'the source with the extension in schema vec answers the same');
dump_and_restore('srcvec', 'custom', 'r_vec', 4);
is($node->safe_psql('r_vec', q{SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'gigavector'}),
	'vec', 'restored: the extension is in schema vec');
check_restored('r_vec', 'vec', $before, 'schema vec, custom -j 4');

# .gvb: every table of src into database r_gvb, whose extension lives in
# schema vec; the training table before the index that names it; h32 and kd
# through the stream a client receives and sends back, the others through
# server files.
$node->safe_psql('postgres', 'CREATE DATABASE r_gvb');
$node->safe_psql('r_gvb', 'CREATE SCHEMA vec; CREATE EXTENSION gigavector SCHEMA vec');
my $gvbdir = PostgreSQL::Test::Utils::tempdir;
for my $t (qw(base qs ivf_train h32 h16 h8 hbin ivf_self ivf_named kd))
{
	my $rows = $node->safe_psql('src', "SELECT count(*) FROM $t");
	my $restored;
	if ($t eq 'h32' || $t eq 'kd')
	{
		my $chunks = $node->safe_psql('src',
			"COPY (SELECT row_number() OVER (), c FROM gigavector.backup('$t') c) TO STDOUT");
		$restored = $node->safe_psql('r_gvb', "CREATE TEMP TABLE chunks (n int, c bytea);\n"
			  . "COPY chunks FROM STDIN;\n$chunks\n\\.\n"
			  . "SELECT gigavector.restore(c, NULL, false ORDER BY n) FROM chunks;");
	}
	else
	{
		$node->safe_psql('src', "SELECT count(*) FROM gigavector.backup('$t', '$gvbdir/$t.gvb')");
		is($node->safe_psql('src', "SELECT valid FROM gigavector.backup_verify('$gvbdir/$t.gvb')"), 't',
			".gvb: the file of $t verifies");
		$restored = $node->safe_psql('r_gvb', "SELECT gigavector.restore('$gvbdir/$t.gvb')");
	}
	is($restored, $rows, ".gvb: $t restored, $rows rows");
}
check_restored('r_gvb', 'vec', $before, '.gvb into schema vec');
like($node->safe_psql('r_gvb', q{SELECT reloptions FROM pg_class WHERE oid = 'ivf_named_idx'::regclass}),
	qr/training_table=public\.ivf_train\(emb\)/, '.gvb: the gv_ivfpq index kept its training table');

$node->stop;
done_testing();
