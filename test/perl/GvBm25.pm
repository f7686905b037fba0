# GvBm25 — helpers of the gv_bm25 TAP tests: deterministic documents, and
# BM25 computed in SQL from to_tsvector's lexemes (independently of the
# access method's C code) to check the index's top 10 and scores against.
package GvBm25;

use strict;
use warnings;
use Exporter 'import';
use Test::More ();

our @EXPORT = qw(bm25_doc_sql bm25_create_oracle bm25_top bm25_oracle_top bm25_check_top
  bm25_crash_during_build);

# SQL for a pseudo-random document of 3 to 40 words from a Zipf-like
# vocabulary of about 2,000 words, a function of the integer expression $seed.
sub bm25_doc_sql
{
	my ($seed) = @_;
	return "(SELECT string_agg('w' || floor(pow(2000, abs(sin(($seed) * 7919 + j * 104729))))::int, ' ') "
	  . "FROM generate_series(1, 3 + (abs(sin(($seed) * 31)) * 37)::int) j)";
}

# bm25_oracle(table, column, query) in database postgres: (id, score) of
# every row matching a term, over the table's rows with a non-NULL column.
sub bm25_create_oracle
{
	my ($node) = @_;
	$node->safe_psql('postgres', q{
	CREATE OR REPLACE FUNCTION bm25_oracle(tab regclass, col text, query text, k1 float8 DEFAULT 1.2, b float8 DEFAULT 0.75)
		RETURNS TABLE (id int, score float8) LANGUAGE plpgsql AS $f$
	BEGIN
		RETURN QUERY EXECUTE format($q$
		WITH docs AS (SELECT t.id, to_tsvector('english', t.%I) AS v FROM %s t WHERE t.%I IS NOT NULL),
		     occ AS (SELECT d.id, u.lexeme, coalesce(array_length(u.positions, 1), 1) AS tf
		               FROM docs d, unnest(d.v) u),
		     dl AS (SELECT d.id, coalesce(sum(o.tf), 0) AS dl FROM docs d LEFT JOIN occ o USING (id) GROUP BY d.id),
		     stats AS (SELECT count(*)::float8 AS n, avg(dl)::float8 AS avgdl FROM dl),
		     terms AS (SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', %L))),
		     df AS (SELECT t.lexeme, count(o.id)::float8 AS df FROM terms t LEFT JOIN occ o USING (lexeme) GROUP BY t.lexeme)
		SELECT o.id, sum(ln(1 + (s.n - df.df + 0.5) / (df.df + 0.5)) * o.tf * (%s + 1)
		               / (o.tf + %s * (1 - %s + %s * dl.dl / s.avgdl)))::float8
		  FROM occ o JOIN df USING (lexeme) JOIN dl USING (id), stats s
		 GROUP BY o.id$q$, col, tab, col, query, k1, k1, b, b);
	END $f$;
	});
}

# The index's top 10 for query: "id:score,..." with scores to 9 digits.
sub bm25_top
{
	my ($node, $table, $col, $index, $query) = @_;
	return $node->safe_psql('postgres', "SET enable_seqscan = off; "
		  . "SELECT string_agg(id || ':' || round(s::numeric, 9), ',' ORDER BY rn) FROM "
		  . "(SELECT id, -($col <&> bm25query('$index', '$query')) AS s, "
		  . "row_number() OVER (ORDER BY $col <&> bm25query('$index', '$query')) rn FROM "
		  . "(SELECT * FROM $table ORDER BY $col <&> bm25query('$index', '$query') LIMIT 10) x) y");
}

sub bm25_oracle_top
{
	my ($node, $table, $col, $query) = @_;
	return $node->safe_psql('postgres',
		"SELECT string_agg(id || ':' || round(score::numeric, 9), ',' ORDER BY score DESC, id) FROM "
		  . "(SELECT * FROM bm25_oracle('$table', '$col', '$query') ORDER BY score DESC, id LIMIT 10) x");
}

# The index's top 10 and scores equal the oracle's for each query: the
# same list of scores (so the same rows up to ties), and each row returned
# has the oracle's score.
sub bm25_check_top
{
	my ($node, $table, $col, $index, $what, @queries) = @_;
	for my $q (@queries)
	{
		my $want = bm25_oracle_top($node, $table, $col, $q);
		my $got = bm25_top($node, $table, $col, $index, $q);
		Test::More::isnt($want, '', "the oracle finds rows for '$q' $what");
		my $scores = sub { join ',', map { (split /:/)[1] } split /,/, $_[0] };
		Test::More::is($scores->($got), $scores->($want), "top 10 scores equal the oracle's for '$q' $what");
		my $ids = join ',', map { (split /:/)[0] } split /,/, $got;
		$ids = '0' if $ids eq '';
		my $theirs = $node->safe_psql('postgres',
			"SELECT string_agg(o.id || ':' || round(o.score::numeric, 9), ',' ORDER BY array_position(ARRAY[$ids], o.id)) "
			  . "FROM bm25_oracle('$table', '$col', '$q') o WHERE o.id = ANY(ARRAY[$ids])");
		Test::More::is($got, $theirs, "each row of the top 10 has the oracle's score for '$q' $what");
	}
}

# kill -9 (an immediate stop) during CREATE INDEX $name (the statement
# $create, after $settings, in a background session), once
# pg_stat_progress_create_index shows a row where $progress holds; then
# the server is restarted and no index $name is left.
sub bm25_crash_during_build
{
	my ($node, $settings, $create, $name, $progress, $what) = @_;
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	$bg->query_until(qr/start/, "$settings\n\\echo start\n$create\n");
	Test::More::ok($node->poll_query_until('postgres',
			"SELECT count(*) > 0 FROM pg_stat_progress_create_index WHERE $progress"), $what);
	$node->stop('immediate');
	eval { $bg->quit };
	$node->start;
	Test::More::is($node->safe_psql('postgres', "SELECT count(*) FROM pg_class WHERE relname = '$name'"),
		'0', 'a build killed midway leaves no index');
}

1;
