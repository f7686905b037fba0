# GvTest — helpers shared by gigavector's Perl TAP tests.
package GvTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More ();

our @EXPORT = qw(gv_new_node gv_primary_and_standby random_vector_sql gv_fmnist_dir gv_require_fmnist
  gv_fmnist_copy_file gv_fmnist_tables gv_ground_truth gv_recall gv_filtered_recall
  gv_found_through_index gv_every_index);

# A started node with gigavector created in database postgres.  Extra
# postgresql.conf lines may be passed in.
sub gv_new_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => $opts{allows_streaming} ? 1 : 0);
	# Tests run VACUUM themselves and count what it left; an autovacuum
	# ANALYZE holding a snapshot meanwhile would keep recently deleted rows.
	$node->append_conf('postgresql.conf', 'autovacuum = off');
	$node->append_conf('postgresql.conf', $opts{conf}) if $opts{conf};
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION gigavector');
	return $node;
}

# One index of every kind, as the crash and recovery tests (070, 072) make
# them: name => what follows USING, over a column emb (gvector) or body
# (text, for gv_bm25), and id as a filter column of ivfpq_filter.  hnsw_parallel's table is the one to give
# parallel_workers.
sub gv_every_index
{
	return (
		hnsw_float32 => 'gv_hnsw (emb) WITH (storage = float32, m = 8, ef_construction = 32)',
		hnsw_float16 => 'gv_hnsw (emb) WITH (storage = float16, m = 8, ef_construction = 32)',
		hnsw_int8 => 'gv_hnsw (emb) WITH (storage = int8, m = 8, ef_construction = 32)',
		hnsw_binary => 'gv_hnsw (emb) WITH (storage = binary, m = 8, ef_construction = 32)',
		hnsw_parallel => 'gv_hnsw (emb) WITH (m = 8, ef_construction = 32)',
		ivfpq => 'gv_ivfpq (emb) WITH (lists = 4)',
		ivfpq_filter => 'gv_ivfpq (emb, id) WITH (lists = 4)',
		kdtree => 'gv_kdtree (emb)',
		bm25 => 'gv_bm25 (body)',);
}

# A started primary (gv_new_node with allows_streaming) and a streaming
# standby made from its base backup, both with the extra conf lines (and
# with slot => 1 a replication slot for the standby).
sub gv_primary_and_standby
{
	my (%opts) = @_;
	my $primary = gv_new_node('primary', allows_streaming => 1, conf => $opts{conf});
	# slot => 1: the primary keeps its WAL until the standby has replayed it
	$primary->safe_psql('postgres', "SELECT pg_create_physical_replication_slot('standby')")
	  if $opts{slot};
	$primary->backup('base');
	my $standby = PostgreSQL::Test::Cluster->new('standby');
	$standby->init_from_backup($primary, 'base', has_streaming => 1);
	$standby->append_conf('postgresql.conf', $opts{conf}) if $opts{conf};
	$standby->append_conf('postgresql.conf', "primary_slot_name = 'standby'") if $opts{slot};
	$standby->start;
	return ($primary, $standby);
}

# SQL for a deterministic pseudo-random gvector of $dim dimensions whose
# values depend on the integer SQL expression $seed_expr.
sub random_vector_sql
{
	my ($dim, $seed_expr) = @_;
	return "(SELECT array_agg(sin(($seed_expr) * 1000 + j)::real ORDER BY j) "
	  . "FROM generate_series(1, $dim) j)::gvector($dim)";
}

# The Fashion-MNIST folder: $GIGAVECTOR_FMNIST_DIR, else where Debian's
# dataset-fashion-mnist installs it.
sub gv_fmnist_dir
{
	return $ENV{GIGAVECTOR_FMNIST_DIR} || '/usr/share/datasets/fashion-mnist';
}

# For a test file that needs Fashion-MNIST, before it plans or starts a
# node: skip the whole file, saying why, unless its four files are there;
# returns the folder.
sub gv_require_fmnist
{
	my $dir = gv_fmnist_dir();
	my @missing = grep { !-r "$dir/$_" }
	  map { ("$_-images-idx3-ubyte.gz", "$_-labels-idx1-ubyte.gz") } qw(train t10k);
	my $what = @missing == 4 ? "no Fashion-MNIST in $dir" : "$dir lacks @missing";
	Test::More::plan(skip_all =>
		  "$what: install dataset-fashion-mnist or set GIGAVECTOR_FMNIST_DIR")
	  if @missing;
	return $dir;
}

# Write rows "id<TAB>label<TAB>[v1,...]" of Fashion-MNIST images $first ..
# $first + $count - 1 (from the training set, or the test set when $set is
# 't10k') to $path, for a server-side COPY; ids start at $first_id.
sub gv_fmnist_copy_file
{
	my ($path, $first, $count, %opts) = @_;
	require IO::Uncompress::Gunzip;
	my $set = $opts{set} // 'train';
	my $dir = gv_fmnist_dir();
	my $first_id = $opts{first_id} // $first;
	my ($images, $labels);
	IO::Uncompress::Gunzip::gunzip("$dir/$set-images-idx3-ubyte.gz" => \$images)
	  or die "cannot read $dir/$set-images-idx3-ubyte.gz";
	IO::Uncompress::Gunzip::gunzip("$dir/$set-labels-idx1-ubyte.gz" => \$labels)
	  or die "cannot read $dir/$set-labels-idx1-ubyte.gz";
	my (undef, $n, $rows, $cols) = unpack('N4', $images);
	my $dim = $rows * $cols;
	$count = $n - $first if $first + $count > $n;
	open(my $fh, '>', $path) or die "cannot write $path: $!";
	for my $i ($first .. $first + $count - 1)
	{
		my @v = unpack('C*', substr($images, 16 + $i * $dim, $dim));
		my $label = unpack('C', substr($labels, 8 + $i, 1));
		print $fh ($first_id + $i - $first), "\t$label\t[", join(',', @v), "]\n";
	}
	close($fh);
	return $count;
}

# Tables items (10,000 Fashion-MNIST training images, vectors in the row)
# and queries (100 test images), each (id, label, emb gvector(784)),
# loaded through files in a new directory the server can read; returns
# that directory.
sub gv_fmnist_tables
{
	my ($node) = @_;
	require Cwd;
	my $dir = Cwd::abs_path(PostgreSQL::Test::Utils::tempdir());
	chmod 0755, $dir;
	gv_fmnist_copy_file("$dir/base.tsv", 0, 10000);
	gv_fmnist_copy_file("$dir/queries.tsv", 0, 100, set => 't10k');
	chmod 0644, glob("$dir/*.tsv");
	$node->safe_psql('postgres', qq{
		CREATE TABLE items (id int PRIMARY KEY, label int, emb gvector(784));
		ALTER TABLE items ALTER COLUMN emb SET STORAGE PLAIN;
		COPY items FROM '$dir/base.tsv';
		CREATE TABLE queries (id int, label int, emb gvector(784));
		COPY queries FROM '$dir/queries.tsv';
		ANALYZE;
	});
	return $dir;
}

# Exact nearest 10 of every row of queries among items, into gt, and among
# the items with label 3, into gt3: a sequential scan ((d + 0) hides the
# order from any index).
sub gv_ground_truth
{
	my ($node) = @_;
	$node->safe_psql('postgres', q{
		DROP TABLE IF EXISTS gt, gt3;
		CREATE TABLE gt AS SELECT q.id AS qid, x.id FROM queries q,
			LATERAL (SELECT id FROM items ORDER BY (emb <-> q.emb) + 0 LIMIT 10) x;
		CREATE TABLE gt3 AS SELECT q.id AS qid, x.id FROM queries q,
			LATERAL (SELECT id FROM items WHERE label = 3 ORDER BY (emb <-> q.emb) + 0 LIMIT 10) x;
	});
}

# recall@10 of ORDER BY emb <-> q LIMIT 10 on items against gt, at
# gigavector.hnsw_ef_search 40.
sub gv_recall
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{
		SET gigavector.hnsw_ef_search = 40;
		SELECT round(count(*) / (10.0 * (SELECT count(*) FROM queries)), 4) FROM queries q,
			LATERAL (SELECT id FROM items ORDER BY emb <-> q.emb LIMIT 10) x
			WHERE x.id IN (SELECT id FROM gt WHERE gt.qid = q.id)});
}

# (fewest rows any query returned, recall@10 against gt3) of WHERE label = 3
# ORDER BY emb <-> q LIMIT 10 through an index, at ef_search 40.
sub gv_filtered_recall
{
	my ($node) = @_;
	return split /\|/, $node->safe_psql('postgres', q{
		SET gigavector.hnsw_ef_search = 40;
		SET enable_seqscan = off;
		SELECT min(n), round(sum(hits) / (10.0 * count(*)), 4) FROM (
			SELECT q.id, count(*) AS n,
				count(*) FILTER (WHERE x.id IN (SELECT id FROM gt3 WHERE gt3.qid = q.id)) AS hits
			FROM queries q,
				LATERAL (SELECT id FROM items WHERE label = 3 ORDER BY emb <-> q.emb LIMIT 10) x
			GROUP BY q.id) s});
}

# How many rows of table qs (id, emb) find themselves first, searched for
# through the index of table $t (vectors $emb, an expression over q.emb;
# index scans forced, gv_ivfpq probing 4 lists).
sub gv_found_through_index
{
	my ($node, $t, $emb) = @_;
	return $node->safe_psql('postgres', qq{
		SET enable_seqscan = off;
		SET gigavector.ivfpq_probes = 4;
		SELECT count(*) FROM qs q WHERE (SELECT x.id FROM $t x ORDER BY x.emb <-> $emb LIMIT 1) = q.id});
}

1;
