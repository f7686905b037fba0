# GvTest — helpers shared by gigavector's Perl TAP tests.
package GvTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(gv_new_node random_vector_sql gv_fmnist_copy_file);

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

# SQL for a deterministic pseudo-random gvector of $dim dimensions whose
# values depend on the integer SQL expression $seed_expr.
sub random_vector_sql
{
	my ($dim, $seed_expr) = @_;
	return "(SELECT array_agg(sin(($seed_expr) * 1000 + j)::real ORDER BY j) "
	  . "FROM generate_series(1, $dim) j)::gvector($dim)";
}

# Write rows "id<TAB>label<TAB>[v1,...]" of Fashion-MNIST images $first ..
# $first + $count - 1 (from the training set, or the test set when $set is
# 't10k') to $path, for a server-side COPY; ids start at $first_id.
sub gv_fmnist_copy_file
{
	my ($path, $first, $count, %opts) = @_;
	require IO::Uncompress::Gunzip;
	my $set = $opts{set} // 'train';
	my $dir = $ENV{GIGAVECTOR_FMNIST_DIR} // '/usr/share/datasets/fashion-mnist';
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

1;
