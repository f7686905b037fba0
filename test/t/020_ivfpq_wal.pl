# gv_ivfpq and WAL: a streaming standby answers k-NN queries through the
# index exactly as the primary does, after a build, inserts that extend the
# lists, deletes and VACUUM; the primary runs with
# wal_consistency_checking = 'generic', so every GenericXLog record is
# checked against the page it produces when replayed.  A ghalfvec column and
# a gsparsevec column (a third of each vector's coordinates) have their own
# indexes, and a table with filter columns (an integer and a jsonb) its
# index over both.  Then the metapage's format version: an earlier one (3,
# before packed entries) and a later one are refused with a REINDEX hint.
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
	CREATE TABLE fitems (id int, label int, meta jsonb, emb gvector(16));
	INSERT INTO fitems SELECT i, i % 7, jsonb_build_object('odd', i % 2 = 1), $vec
		FROM generate_series(1, 2000) i;
	CREATE INDEX fitems_idx ON fitems USING gv_ivfpq (emb, label, meta)
		WITH (lists = 8, subquantizers = 4);
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
	my $fsel = "SELECT string_agg(id::text, ',') FROM (SELECT id FROM fitems "
	  . "WHERE label IN (2, 3) AND meta \@> '{\"odd\": true}' "
	  . "ORDER BY emb <-> (SELECT emb FROM fitems WHERE id = 9) LIMIT 10) s";
	my $fq = "SET enable_seqscan = off; $fsel";
	my $on_primary = $primary->safe_psql('postgres', $fq);
	like($primary->safe_psql('postgres', "SET enable_seqscan = off; EXPLAIN $fsel"),
		qr/Index Cond: \(\(label = ANY/, "the filter columns are index conditions $what");
	is($on_primary, $primary->safe_psql('postgres', "SET enable_indexscan = off; SET enable_bitmapscan = off; "
		  . ($fsel =~ s/ORDER BY emb <-> \((.*?)\) LIMIT 10/ORDER BY l2_distance(emb, ($1)), id LIMIT 10/r)),
		"primary answers with filter columns as the exact scan $what");
	is($standby->safe_psql('postgres', $fq), $on_primary,
		"standby answers with filter columns like the primary $what");
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
	INSERT INTO fitems SELECT i, i % 7, jsonb_build_object('odd', i % 2 = 1), $vec2
		FROM generate_series(2001, 8000) i;
});
check_same('after inserts');

$primary->safe_psql('postgres', 'DELETE FROM items WHERE id % 4 = 0; VACUUM items; '
	  . 'DELETE FROM fitems WHERE id % 4 = 3; VACUUM fitems;');
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

# The metapage's format version, written over: 3 (line-pointer entries with
# a norm) and 5 are refused with a REINDEX hint; 4 again reads as before.
my $vq = "SET enable_seqscan = off; SELECT string_agg(id::text, ',') FROM (SELECT id FROM items "
  . "ORDER BY emb <-> (SELECT emb FROM items WHERE id = 7) LIMIT 10) s";
my $before = $primary->safe_psql('postgres', $vq);
my $path = $primary->safe_psql('postgres', q{SELECT pg_relation_filepath('items_l2')});
sub set_version
{
	my ($version) = @_;
	$primary->stop;
	open(my $fh, '+<', $primary->data_dir . "/$path") or die "open $path: $!";
	binmode $fh;
	seek($fh, 24 + 4, 0);		# the page header, then the magic number
	print $fh pack('L', $version);
	close($fh);
	$primary->start;
}
foreach my $version (3, 5)
{
	set_version($version);
	my ($rc, $out, $err) = $primary->psql('postgres', $vq);
	like($err, qr/index "items_l2" has on-disk format version $version, but this build reads version 4.*\n.*HINT:  Rebuild the index with REINDEX/s,
		"an index of format version $version is refused, with REINDEX as the hint");
}
set_version(4);
is($primary->safe_psql('postgres', $vq), $before, 'the index of format version 4 is read as before');

# A directory entry whose run of the segment reaches past it (list 0's
# segmentCount written over) is reported as corruption, with REINDEX as the
# hint, when a scan probes that list, not read as entries.
$primary->stop;
{
	open(my $fh, '+<', $primary->data_dir . "/$path") or die "open $path: $!";
	binmode $fh;
	my ($page, $blkno) = ('', 0);
	while (read($fh, $page, 8192) == 8192)
	{
		my ($flags, $page_id) = unpack('SS', substr($page, 8192 - 4, 4));
		last if $page_id == 0xFF92 && $flags == 3;    # the first directory page
		$blkno++;
	}
	seek($fh, $blkno * 8192 + 24 + 4, 0);    # page header, list 0's segmentFirst, then its segmentCount
	print $fh pack('L', 0x7FFFFFFF);
	close($fh);
}
$primary->start;
my ($rc, $out, $err) = $primary->psql('postgres',
	"SET gigavector.ivfpq_probes = 32768; SET gigavector.ivfpq_max_probes = 32768; $vq");
like($err, qr/index "items_l2" has a broken segment run in list 0.*\n.*HINT:  Rebuild the index with REINDEX/s,
	'a list run past the segment is reported as corruption');
$primary->safe_psql('postgres', 'REINDEX INDEX items_l2');
is($primary->safe_psql('postgres', $vq), $before, 'after REINDEX the index answers as before');
$primary->stop;
done_testing();
