# gv_bm25 and WAL: a streaming standby answers BM25 queries through the
# index with the same top 10 and the same scores as the primary, after a
# build, inserts (new terms, new pages, postings into reused row
# addresses), updates, deletes and VACUUM; both run with
# wal_consistency_checking = 'generic', so every GenericXLog record is
# checked against the page it produces when replayed.  The scores also
# equal an independent SQL computation on both.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;
use GvBm25;

# wal_consistency_checking logs a full page image with every record: keep
# the WAL the standby has not replayed yet.
my $primary = gv_new_node('primary', allows_streaming => 1,
	conf => "wal_consistency_checking = 'generic'\nwal_keep_size = '2GB'\n");
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->append_conf('postgresql.conf', "wal_consistency_checking = 'generic'\n");
$standby->start;
bm25_create_oracle($primary);

my $doc = bm25_doc_sql('i');
$primary->safe_psql('postgres', qq{
	CREATE TABLE docs (id int PRIMARY KEY, body text);
	INSERT INTO docs SELECT i, $doc FROM generate_series(1, 2000) i;
	CREATE INDEX docs_bm25 ON docs USING gv_bm25 (body) WITH (text_config = 'english');
	CREATE TABLE empty_docs (id int, body text);
	CREATE INDEX empty_bm25 ON empty_docs USING gv_bm25 (body);
});

my @queries = ('w1 w2', 'w3', 'w17 w250 w1999', 'w5 w6 w7 w8');

sub check_same
{
	my ($what) = @_;
	$primary->wait_for_catchup($standby);
	for my $q (@queries)
	{
		my $on_primary = bm25_top($primary, 'docs', 'body', 'docs_bm25', $q);
		isnt($on_primary, '', "primary answers '$q' $what");
		is(bm25_top($standby, 'docs', 'body', 'docs_bm25', $q), $on_primary,
			"standby answers '$q' like the primary $what");
	}
	is($standby->safe_psql('postgres', "SELECT documents || '/' || total_length || '/' || postings FROM gigavector.bm25_verify('docs_bm25')"),
		$primary->safe_psql('postgres', "SELECT documents || '/' || total_length || '/' || postings FROM gigavector.bm25_verify('docs_bm25')"),
		"standby's index verifies and has the primary's statistics $what");
}

check_same('after the build');
bm25_check_top($primary, 'docs', 'body', 'docs_bm25', 'after the build', @queries);

my $doc2 = bm25_doc_sql('i + 7');
$primary->safe_psql('postgres', qq{
	INSERT INTO docs SELECT i, $doc2 || ' fresh' || (i % 50) FROM generate_series(2001, 2400) i;
	INSERT INTO empty_docs SELECT i, $doc2 FROM generate_series(1, 100) i;
	UPDATE docs SET body = body || ' w1 w1 w1' WHERE id % 97 = 0;
});
check_same('after inserts and updates');
push @queries, 'fresh7 w2';

$primary->safe_psql('postgres', qq{
	DELETE FROM docs WHERE id % 5 = 0;
	VACUUM (INDEX_CLEANUP ON) docs;
	INSERT INTO docs SELECT i, $doc || ' reused' FROM generate_series(7001, 7300) i;
});
check_same('after delete, VACUUM and inserts into reused row addresses');
$primary->safe_psql('postgres', 'VACUUM (INDEX_CLEANUP ON) docs');
check_same('after a second VACUUM');
bm25_check_top($primary, 'docs', 'body', 'docs_bm25', 'after VACUUM', @queries, 'reused w3');
bm25_check_top($standby, 'docs', 'body', 'docs_bm25', 'on the standby', @queries);

my $q = "SET enable_seqscan = off; SELECT count(*) FROM empty_docs WHERE body @@@ bm25query('empty_bm25', 'w1 w2 w3')";
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $q), $primary->safe_psql('postgres', $q),
	'index built empty: standby answers like the primary');

$standby->stop;
$primary->stop;
done_testing();
