# gv_bm25 parallel builds: workers are really launched, the index holds the
# same statistics as a serial build (bm25_verify, bm25_verify_table), every
# query returns the same rows with the same scores, to the bit, and those
# equal an independent SQL computation; the merge phase shows in
# pg_stat_progress_create_index; and kill -9 during a parallel build leaves
# no index and a later build works.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;
use GvBm25;

my $node = gv_new_node('bm25parallel',
	conf => "maintenance_work_mem = '256MB'\nmax_worker_processes = 8\nmax_parallel_workers = 8\n");
bm25_create_oracle($node);

my $doc = bm25_doc_sql('i');
$node->safe_psql('postgres', qq{
	CREATE TABLE docs (id int PRIMARY KEY, body text);
	INSERT INTO docs SELECT i, CASE WHEN i % 97 = 0 THEN NULL ELSE $doc END FROM generate_series(1, 30000) i;
	-- rows the build must skip: deleted, and an updated row's old version
	DELETE FROM docs WHERE id % 101 = 0;
	UPDATE docs SET body = body || ' w7 updated' WHERE id % 103 = 0;
});

my $parallel = q{
	SET max_parallel_maintenance_workers = 2;
	SET min_parallel_table_scan_size = 0;
	SET client_min_messages = debug1;
};

# CREATE INDEX with two workers asked for; returns the number launched.
sub build
{
	my ($sql, $settings) = @_;
	my ($out, $err) = ('', '');
	$node->psql('postgres', $parallel . ($settings // '') . $sql,
		stdout => \$out, stderr => \$err, on_error_die => 1);
	return $err =~ /(\d+) of \d+ parallel workers launched/ ? $1 : 0;
}

is(build('CREATE INDEX docs_serial ON docs USING gv_bm25 (body) WITH (text_config = english);',
		'SET max_parallel_maintenance_workers = 0;'),
	0, 'max_parallel_maintenance_workers = 0 builds serially');
cmp_ok(build('CREATE INDEX docs_parallel ON docs USING gv_bm25 (body) WITH (text_config = english);'),
	'>=', 1, 'a parallel build launched workers');

my $verify = sub {
	$node->safe_psql('postgres', "SELECT documents || '/' || total_length || '/' || terms || '/' || postings "
		  . "FROM gigavector.bm25_verify('$_[0]')");
};
is($verify->('docs_parallel'), $verify->('docs_serial'),
	'the parallel build has the serial build\'s documents, length, terms and postings');
is($node->safe_psql('postgres', "SELECT table_rows || '/' || invisible_documents FROM gigavector.bm25_verify_table('docs_parallel')"),
	$node->safe_psql('postgres', "SELECT table_rows || '/' || invisible_documents FROM gigavector.bm25_verify_table('docs_serial')"),
	'bm25_verify_table passes on the parallel build');

# the same top 50, bit for bit (float8 as text round-trips exactly)
for my $q ('w1', 'w7 w250', 'w3 w4 w5 w1999', 'updated', 'w2 w9 w17 w30')
{
	my $top = sub {
		$node->safe_psql('postgres', "SET enable_seqscan = off; "
			  . "SELECT string_agg(id || ':' || (-(body <&> bm25query('$_[0]', '$q')))::text, ',') FROM "
			  . "(SELECT id, body FROM docs ORDER BY body <&> bm25query('$_[0]', '$q') LIMIT 50) x");
	};
	my $serial = $top->('docs_serial');
	isnt($serial, '', "rows for '$q'");
	is($top->('docs_parallel'), $serial, "the same rows and scores for '$q' from both builds");
}
$node->safe_psql('postgres', 'DROP INDEX docs_serial');
bm25_check_top($node, 'docs', 'body', 'docs_parallel', 'after a parallel build', 'w1 w2', 'w7 updated');

# kill -9 during a parallel build, seen merging in pg_stat_progress_create_index
$node->safe_psql('postgres', qq{
	CREATE TABLE big (id int, body text);
	INSERT INTO big SELECT i, $doc FROM generate_series(1, 200000) i;
});
bm25_crash_during_build($node, $parallel, 'CREATE INDEX big_bm25 ON big USING gv_bm25 (body);', 'big_bm25',
	q{phase IN ('building index: merging the workers'' postings', 'building index: writing posting lists')},
	'a parallel build shows its merge phase in pg_stat_progress_create_index');
cmp_ok(build('CREATE INDEX big_bm25 ON big USING gv_bm25 (body);'), '>=', 1,
	'after the crash a parallel build launches workers again');
is($node->safe_psql('postgres', "SELECT documents FROM gigavector.bm25_verify('big_bm25')"),
	'200000', 'and indexes every row');

$node->stop;
done_testing();
