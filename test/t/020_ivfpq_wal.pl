# gv_ivfpq and WAL: a streaming standby answers k-NN queries through the
# index exactly as the primary does, after a build, inserts that extend the
# lists, deletes and VACUUM; the primary runs with
# wal_consistency_checking = 'generic', so every GenericXLog record is
# checked against the page it produces when replayed.  A ghalfvec column and
# a gsparsevec column (a third of each vector's coordinates) have their own
# indexes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $primary = gv_new_node('primary', allows_streaming => 1,
	conf => "wal_consistency_checking = 'generic'\n");
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->append_conf('postgresql.conf', "wal_consistency_checking = 'generic'\n");
$standby->start;

my $vec = random_vector_sql(16, 'i');
$primary->safe_psql('postgres', qq{
	CREATE FUNCTION sparsify(v gvector) RETURNS gsparsevec IMMUTABLE LANGUAGE sql
		AS \$\$ SELECT ARRAY(SELECT CASE WHEN x > 0.5 THEN x ELSE 0 END
							 FROM unnest(v::real[]) x)::gvector::gsparsevec \$\$;
	CREATE TABLE items (id int, emb gvector(16),
		hemb ghalfvec(16) GENERATED ALWAYS AS (emb::ghalfvec(16)) STORED,
		semb gsparsevec(16) GENERATED ALWAYS AS (sparsify(emb)::gsparsevec(16)) STORED);
	INSERT INTO items SELECT i, $vec FROM generate_series(1, 2000) i;
	CREATE INDEX items_l2 ON items USING gv_ivfpq (emb) WITH (lists = 16, subquantizers = 4);
	CREATE INDEX items_cos ON items USING gv_ivfpq (emb gvector_cosine_ops) WITH (lists = 8);
	CREATE INDEX items_sparse ON items USING gv_ivfpq (semb gsparsevec_ip_ops)
		WITH (lists = 8, subquantizers = 4);
	CREATE INDEX items_half ON items USING gv_ivfpq (hemb) WITH (lists = 8, subquantizers = 4);
	CREATE TABLE empty_items (id int, emb gvector(16));
	CREATE INDEX ON empty_items USING gv_ivfpq (emb);
});

sub check_same
{
	my ($what) = @_;
	$primary->wait_for_catchup($standby);
	for my $op ('<->', '<=>')
	{
		my $q = "SET enable_seqscan = off; SET gigavector.ivfpq_probes = 4; "
		  . "SELECT string_agg(id::text, ',') FROM (SELECT id FROM items "
		  . "ORDER BY emb $op (SELECT emb FROM items WHERE id = 7) LIMIT 10) s";
		my $on_primary = $primary->safe_psql('postgres', $q);
		isnt($on_primary, '', "primary answers $op $what");
		is($standby->safe_psql('postgres', $q), $on_primary, "standby answers $op like the primary $what");
	}
	for my $col ('semb <#>', 'hemb <->')
	{
		my ($c) = split / /, $col;
		my $q = "SET enable_seqscan = off; SET gigavector.ivfpq_probes = 4; "
		  . "SELECT string_agg(id::text, ',') FROM (SELECT id FROM items "
		  . "ORDER BY $col (SELECT $c FROM items WHERE id = 7) LIMIT 10) s";
		my $on_primary = $primary->safe_psql('postgres', $q);
		isnt($on_primary, '', "primary answers $col $what");
		is($standby->safe_psql('postgres', $q), $on_primary,
			"standby answers $col like the primary $what");
	}
}

check_same('after the build');

# Inserts: enough to add pages to every list (GenericXLog with new pages).
my $vec2 = random_vector_sql(16, 'i');
$primary->safe_psql('postgres', qq{
	INSERT INTO items SELECT i, $vec2 FROM generate_series(2001, 8000) i;
	INSERT INTO empty_items SELECT i, $vec2 FROM generate_series(1, 300) i;
});
check_same('after inserts');

$primary->safe_psql('postgres', 'DELETE FROM items WHERE id % 4 = 0; VACUUM items;');
check_same('after delete and vacuum');

my $q = "SET enable_seqscan = off; SELECT string_agg(id::text, ',') FROM "
  . "(SELECT id FROM empty_items ORDER BY emb <-> (SELECT emb FROM empty_items WHERE id = 3) LIMIT 5) s";
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $q), $primary->safe_psql('postgres', $q),
	'untrained index: standby answers like the primary');

is($standby->safe_psql('postgres', "SELECT entries FROM gigavector.ivfpq_info('items_l2')"),
	'6000', 'standby index holds every live row');
is($standby->safe_psql('postgres', "SELECT entries FROM gigavector.ivfpq_info('items_sparse')"),
	'6000', 'standby gsparsevec index holds every live row');

$standby->stop;
$primary->stop;
done_testing();
