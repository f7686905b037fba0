# gv_bm25 crash recovery: kill -9 (immediate shutdown) during a build,
# during inserts and during VACUUM.  After recovery every committed row is
# found through the index, nothing uncommitted is, the index verifies, and
# once VACUUM has removed the rows that never committed the scores equal
# an independent SQL computation again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use lib 'test/perl';
use GvTest;
use GvBm25;

# The sessions killed with the server are closed afterwards: their pipes are gone.
$SIG{PIPE} = 'IGNORE';

my $node = gv_new_node('bm25_crash');
bm25_create_oracle($node);
my $doc = bm25_doc_sql('i');
$node->safe_psql('postgres', qq{
	CREATE TABLE docs (id int PRIMARY KEY, body text);
	INSERT INTO docs SELECT i, $doc FROM generate_series(1, 20000) i;
});

# kill -9 during CREATE INDEX (of a larger table, watched in
# pg_stat_progress_create_index first): no index afterwards, and a new
# build works
$node->safe_psql('postgres', qq{
	CREATE TABLE big (id int, body text);
	INSERT INTO big SELECT i, $doc FROM generate_series(1, 150000) i;
});
bm25_crash_during_build($node, '', 'CREATE INDEX big_bm25 ON big USING gv_bm25 (body);', 'big_bm25',
	q{phase = 'building index: tokenizing rows' AND blocks_total > 0},
	'the build shows its phase and progress in pg_stat_progress_create_index');
$node->safe_psql('postgres', 'CREATE INDEX docs_bm25 ON docs USING gv_bm25 (body) WITH (text_config = english)');
is($node->safe_psql('postgres', "SELECT documents FROM gigavector.bm25_verify('docs_bm25')"),
	'20000', 'after a crash during a build, a new build indexes every row');
$node->safe_psql('postgres', 'DROP TABLE big');

# committed inserts, then an insert left open and one running: kill -9
for my $batch (0 .. 4)
{
	my ($lo, $hi) = (20001 + $batch * 500, 20000 + ($batch + 1) * 500);
	$node->safe_psql('postgres', "INSERT INTO docs SELECT i, $doc || ' committed' FROM generate_series($lo, $hi) i");
}
my $bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_safe("BEGIN; INSERT INTO docs SELECT i, $doc || ' uncommitted' FROM generate_series(30001, 31000) i");
my $bg2 = $node->background_psql('postgres', on_error_stop => 0);
$bg2->query_until(qr/start/, "\\echo start\nINSERT INTO docs SELECT i, $doc || ' uncommitted' FROM generate_series(40001, 60000) i;\n");
usleep(300_000);
$node->stop('immediate');
eval { $bg->quit };
eval { $bg2->quit };
$node->start;

my $set = 'SET enable_seqscan = off; ';
is($node->safe_psql('postgres', "$set SELECT count(*), min(id), max(id) FROM docs WHERE body @@@ bm25query('docs_bm25', 'committed')"),
	'2500|20001|22500', 'every committed row is found through the index after kill -9');
is($node->safe_psql('postgres', "$set SELECT count(*) FROM docs WHERE body @@@ bm25query('docs_bm25', 'uncommitted')"),
	'0', 'no uncommitted row is');
ok($node->safe_psql('postgres', "SELECT documents >= 22500 FROM gigavector.bm25_verify('docs_bm25')") eq 't',
	'the index verifies after recovery');
$node->safe_psql('postgres', 'VACUUM (INDEX_CLEANUP ON) docs');
is($node->safe_psql('postgres', "SELECT documents FROM gigavector.bm25_verify('docs_bm25')"),
	'22500', 'VACUUM removes the rows that never committed from the statistics');
bm25_check_top($node, 'docs', 'body', 'docs_bm25', 'after crash recovery and VACUUM',
	'w1 w2', 'w3 committed', 'w40 w400');

# kill -9 during VACUUM, at three points of its pass over the index:
# after the first of some frequent terms lost postings, halfway through
# those terms, and once the document list has begun to shrink (VACUUM
# removes postings first, documents last: see bm25vacuum.c).  A session
# polls the statistics bm25query() reads (N and the watched terms' df) and,
# when the point is reached, flushes the WAL written so far
# (pg_switch_wal), so the crash keeps at least that much; the server is
# then stopped at once.  Each round deletes more rows.  After each crash
# the index verifies and returns no deleted row, a second VACUUM finishes,
# and the counts before and after show the crash really was midway.
my $watch = join ' ', map { "w$_" } 1 .. 40;
my $verify = "SELECT documents, postings FROM gigavector.bm25_verify('docs_bm25')";
my %live = map { $_ => 1 } 1 .. 22500;
for my $round (['terms', 1, 2], ['terms', 20, 3], ['documents', 0, 5])
{
	my ($stage, $k, $mod) = @$round;
	my $what = $stage eq 'terms' ? "once $k of 40 terms lost postings" : 'once documents went';
	$node->safe_psql('postgres', "DELETE FROM docs WHERE id % $mod = 0");
	delete $live{$_} for grep { $_ % $mod == 0 } keys %live;
	my ($docs0, $postings0) = split /\|/, $node->safe_psql('postgres', $verify);
	my $q0 = $node->safe_psql('postgres', "SELECT bm25query('docs_bm25', '$watch')::text");
	my $dfs = q{ARRAY(SELECT m[1]::int FROM regexp_matches(%s, ':(\d+)', 'g') m)};
	my $reached = $stage eq 'documents'
	  ? "substring(q from 'N=(\\d+)')::bigint < $docs0"
	  : "(SELECT count(*) FROM unnest(" . sprintf($dfs, 'q') . ', ' . sprintf($dfs, "'$q0'")
	  . ") u(df, df0) WHERE df < df0) >= $k";
	# on_error_stop: a poll that fails must not look like one that reached its point
	my $poll = $node->background_psql('postgres', on_error_stop => 1);
	$poll->query_until(qr/polling/, "\\echo polling\n"
		  . "DO \$\$DECLARE q text; BEGIN LOOP q := bm25query('docs_bm25', '$watch')::text; "
		  . "EXIT WHEN $reached; PERFORM pg_sleep(0.001); END LOOP; PERFORM pg_switch_wal(); END\$\$;\n"
		  . "\\echo reached\n");
	$bg = $node->background_psql('postgres', on_error_stop => 0);
	$bg->query_until(qr/start/, "\\echo start\nSET vacuum_cost_delay = '1ms';\nVACUUM (INDEX_CLEANUP ON) docs;\n");
	$poll->query_until(qr/reached/, '');
	$node->stop('immediate');
	eval { $poll->quit };
	eval { $bg->quit };
	$node->start;
	my ($verify_rc, $verify_out, $verify_err) = $node->psql('postgres', $verify);
	is($verify_rc, 0, "the index verifies after a crash during VACUUM $what") or diag($verify_err);
	my ($docs1, $postings1) = split /\|/, $verify_out;
	is($node->safe_psql('postgres', "$set SELECT count(*) FROM docs WHERE body @@@ bm25query('docs_bm25', 'committed')"),
		scalar(grep { $live{$_} } 20001 .. 22500), "after it, no deleted row is returned ($what)");
	$node->safe_psql('postgres', 'VACUUM (INDEX_CLEANUP ON) docs');
	my ($docs2, $postings2) = split /\|/, $node->safe_psql('postgres', $verify);
	is($docs2, scalar(keys %live), "a second VACUUM finishes the job ($what)");
	is($node->safe_psql('postgres', "SELECT table_rows, invisible_documents FROM gigavector.bm25_verify_table('docs_bm25')"),
		scalar(keys %live) . '|0', "the index matches the table, no entry of a removed row left ($what)");
	if ($stage eq 'terms')
	{
		ok($docs1 == $docs0 && $postings0 > $postings1 && $postings1 > $postings2,
			"the crash came while VACUUM was removing postings, before any document ($what)")
		  or diag("documents $docs0 -> $docs1 -> $docs2, postings $postings0 -> $postings1 -> $postings2");
	}
	else
	{
		ok($docs1 < $docs0 && $postings1 == $postings2,
			"the crash came after VACUUM removed every posting, once documents went ($what)")
		  or diag("documents $docs0 -> $docs1 -> $docs2, postings $postings0 -> $postings1 -> $postings2");
	}
}
bm25_check_top($node, 'docs', 'body', 'docs_bm25', 'after crashes during VACUUM and second VACUUMs',
	'w1 w2', 'w3 committed', 'w7');

# the index still takes inserts and finds them
$node->safe_psql('postgres', "INSERT INTO docs VALUES (99999, 'a brand new afterwards row')");
is($node->safe_psql('postgres', "$set SELECT id FROM docs ORDER BY body <&> bm25query('docs_bm25', 'afterwards') LIMIT 5"),
	'99999', 'a row inserted after recovery is found');
$node->stop;
done_testing();
