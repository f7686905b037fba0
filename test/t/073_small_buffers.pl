# Builds with far more pages than shared_buffers: every index kind is built
# on a server with 128 buffers (1MB), so that a page a build reserves early and
# fills in late (gv_ivfpq's metapage and directory once were) is evicted in
# between.  After a crash (immediate stop) and on a streaming standby, every
# index passes its check and answers as a sequential scan.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

# gv_ivfpq's entries are small: its tables need more rows for a build to
# write twice as many pages as there are buffers
my %rows = map { $_ => /^ivfpq/ ? 100000 : 20000 } keys %{ { gv_every_index() } };
my $dim = 16;
my ($node, $standby) = gv_primary_and_standby(slot => 1,
	conf => "shared_buffers = 1MB\nwal_consistency_checking = 'all'\n");

my %index = gv_every_index();
my @names = sort keys %index;
my $vec = random_vector_sql($dim, 'i');
my $body = q{'w' || (i % 7) || ' w' || (i % 11) || ' doc' || i};
for my $name (@names)
{
	my $cols = $name eq 'bm25' ? 'body text' : "emb gvector($dim)";
	my $val = $name eq 'bm25' ? $body : $vec;
	$node->safe_psql('postgres', qq{
		CREATE TABLE t_$name (id int PRIMARY KEY, $cols);
		INSERT INTO t_$name SELECT i, $val FROM generate_series(1, $rows{$name}) i;
		CREATE INDEX i_$name ON t_$name USING $index{$name};
	});
}

my $index_scan = 'SET enable_seqscan = off; SET enable_bitmapscan = off; '
  . 'SET gigavector.hnsw_ef_search = 400; SET gigavector.ivfpq_probes = 4; '
  . 'SET gigavector.ivfpq_rerank = 100000; ';
my $seq_scan = 'SET enable_indexscan = off; SET enable_bitmapscan = off; ';
my $query = random_vector_sql($dim, '424242');

sub answer_sql
{
	my ($name) = @_;
	return "SELECT count(*) FROM t_$name WHERE body @@@ bm25query('i_$name', 'w3')"
	  if $name eq 'bm25';
	return "SELECT string_agg(id::text, ',') FROM "
	  . "(SELECT id FROM t_$name ORDER BY emb <-> $query LIMIT 10) s";
}

sub check_sql
{
	my ($name) = @_;
	return "SELECT documents FROM gigavector.bm25_verify('i_$name')" if $name eq 'bm25';
	return "SELECT heap_tids FROM gigavector.hnsw_verify('i_$name')" if $name =~ /^hnsw/;
	return "SELECT points FROM gigavector.kdtree_verify('i_$name')" if $name eq 'kdtree';
	return "SELECT entries FROM gigavector.ivfpq_info('i_$name')";
}

sub check_all
{
	my ($server, $when) = @_;
	for my $name (@names)
	{
		my ($rc, $out, $err) = $server->psql('postgres', check_sql($name));
		ok($rc == 0 && $out >= $rows{$name}, "$when, $name: its check reads the index, every row in it")
		  or diag("rc $rc, '$out': $err");
		my $answer = answer_sql($name);
		is($server->safe_psql('postgres', $index_scan . $answer),
			$node->safe_psql('postgres', $seq_scan . $answer),
			"$when, $name: the index answers as a sequential scan");
	}
}

$node->wait_for_catchup($standby, 'replay', $node->lsn('insert'));
check_all($standby, 'on the standby');
$node->stop('immediate');
$node->start;
check_all($node, 'after a crash');
unlike(slurp_file($standby->logfile), qr/inconsistent page found/,
	'the standby found no inconsistent page in the WAL it replayed');

done_testing();
