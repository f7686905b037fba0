# Reads from a streaming standby: for every access method (gv_hnsw,
# gv_ivfpq, gv_kdtree, gv_bm25) the standby answers through its index with
# the same rows and distances as the primary, after the build, inserts,
# deletes and VACUUM, both with wal_consistency_checking; and
# gigavector.cluster_status tells each side's role and the standby's lag.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

# wal_keep_size: with full page images in every record the standby must not fall behind the kept WAL
my ($primary, $standby) = gv_primary_and_standby(
	conf => "wal_consistency_checking = 'generic'\nwal_keep_size = '1GB'\n");

my $vec = random_vector_sql(16, 'i');
my %am = (hnsw => 'gv_hnsw (emb)', ivfpq => 'gv_ivfpq (emb) WITH (lists = 16, subquantizers = 4)',
	kdtree => 'gv_kdtree (emb)');
for my $t (sort keys %am)
{
	$primary->safe_psql('postgres', qq{
		CREATE TABLE t_$t (id int PRIMARY KEY, emb gvector(16));
		INSERT INTO t_$t SELECT i, $vec FROM generate_series(1, 3000) i;
		CREATE INDEX t_${t}_emb ON t_$t USING $am{$t};});
}
$primary->safe_psql('postgres', q{
	CREATE TABLE docs (id int PRIMARY KEY, body text);
	INSERT INTO docs SELECT i, (SELECT string_agg('w' || ((i * j * 7 + j) % 60), ' ')
		FROM generate_series(1, 4 + i % 9) j) FROM generate_series(1, 3000) i;
	CREATE INDEX docs_body ON docs USING gv_bm25 (body);});

# the answers of 20 queries through each index, as one string
sub answers
{
	my ($node) = @_;
	my $out = '';
	my $q = random_vector_sql(16, 'q + 100000');
	for my $t (sort keys %am)
	{
		$out .= "$t: " . $node->safe_psql('postgres', qq{
			SET enable_seqscan = off; SET gigavector.ivfpq_probes = 4;
			SELECT string_agg(x, ' ' ORDER BY q) FROM generate_series(1, 20) q,
				LATERAL (SELECT string_agg(id || '/' || round(d::numeric, 4), ',') AS x
					FROM (SELECT id, emb <-> $q AS d FROM t_$t ORDER BY emb <-> $q LIMIT 10) s) a}) . "\n";
	}
	$out .= 'bm25: ' . $node->safe_psql('postgres', q{
		SET enable_seqscan = off;
		SELECT string_agg(x, ' ' ORDER BY w) FROM generate_series(1, 20) w,
			LATERAL (SELECT string_agg(id || '/' || round(s::numeric, 4), ',') AS x FROM (
				SELECT id, -(body <&> bm25query('docs_body', 'w' || w || ' w' || (w + 20))) AS s FROM docs
				ORDER BY body <&> bm25query('docs_body', 'w' || w || ' w' || (w + 20)) LIMIT 10) s) a});
	return $out;
}

sub same_answers
{
	my ($what) = @_;
	$primary->wait_for_catchup($standby);
	my $p = answers($primary);
	is(answers($standby), $p, "the standby answers as the primary, every index, $what");
	like($p, qr/^hnsw: \d+\/\d+\.\d{4},(\d+\/\d+\.\d{4},){8}\d+\/\d+\.\d{4} /, "$what: the answers are real")
	  if $what eq 'after the builds';
}

same_answers('after the builds');
for my $t (sort keys %am)
{
	$primary->safe_psql('postgres', "INSERT INTO t_$t SELECT i, $vec FROM generate_series(3001, 4000) i");
}
$primary->safe_psql('postgres', q{INSERT INTO docs SELECT i, 'w1 w21 w41 new' FROM generate_series(3001, 3200) i});
same_answers('after inserts');
for my $t (sort keys %am)
{
	$primary->safe_psql('postgres', "DELETE FROM t_$t WHERE id % 3 = 0");
}
$primary->safe_psql('postgres', 'DELETE FROM docs WHERE id % 3 = 0');
same_answers('after deletes');
$primary->safe_psql('postgres', 'VACUUM');
same_answers('after VACUUM');

# --- cluster_status ------------------------------------------------------
my $standby_name = $standby->name;
$primary->wait_for_catchup($standby);
is($primary->safe_psql('postgres', q{SELECT role, member, state, lag_bytes BETWEEN 0 AND 65536 FROM gigavector.cluster_status}),
	"primary|$standby_name|streaming|t", 'cluster_status on the primary: the standby streams, caught up');
is($standby->safe_psql('postgres', q{SELECT role, state, lag_bytes BETWEEN 0 AND 65536 FROM gigavector.cluster_status}),
	'standby|streaming|t', 'cluster_status on the standby');
$standby->stop('fast');
$primary->poll_query_until('postgres', 'SELECT NOT EXISTS (SELECT FROM pg_stat_replication)');
like($primary->safe_psql('postgres', q{SELECT role, coalesce(member, '-') FROM gigavector.cluster_status}),
	qr/^primary\|-$/, 'without a standby: one row, the primary');

$primary->stop('fast');
done_testing();
