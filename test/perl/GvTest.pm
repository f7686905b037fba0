# GvTest — helpers shared by gigavector's Perl TAP tests.
package GvTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(gv_new_node random_vector_sql);

# A started node with gigavector created in database postgres.  Extra
# postgresql.conf lines may be passed in.
sub gv_new_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => $opts{allows_streaming} ? 1 : 0);
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

1;
