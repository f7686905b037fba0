# gv_hnsw and WAL: every page change replays on a streaming standby, which
# answers index scans with the same rows as the primary; the primary runs
# with wal_consistency_checking = 'generic', so each GenericXLog record is
# checked against the page it was made from.  (The indexes store float16
# and int8 vectors, the cosine one with a filter column; a float32 one has
# an integer and a jsonb filter column; 011-013 cover
# float32.  Also one index per other operator class family: gvector_l1_ops,
# ghalfvec_l2_ops (float16 storage, exact), gbit_hamming_ops (binary) and
# gsparsevec_ip_ops (float32 storage of the densified vectors).)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $primary = gv_new_node('primary', allows_streaming => 1,
	conf => "wal_consistency_checking = 'generic'");
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

my $vec = random_vector_sql(32, 'i');
my $meta = "jsonb_build_object('label', i % 5, 'odd', i % 2 = 1)";
$primary->safe_psql('postgres', qq{
	-- about a third of the coordinates, a different third in each row
	CREATE FUNCTION sparsify(v gvector) RETURNS gsparsevec IMMUTABLE LANGUAGE sql
		AS \$\$ SELECT ARRAY(SELECT CASE WHEN x > 0.5 THEN x ELSE 0 END
							 FROM unnest(v::real[]) x)::gvector::gsparsevec \$\$;
	CREATE TABLE items (id int, emb gvector(32), label int GENERATED ALWAYS AS (id % 5) STORED,
		hemb ghalfvec(32) GENERATED ALWAYS AS (emb::ghalfvec(32)) STORED,
		bemb gbit(32) GENERATED ALWAYS AS (binary_quantize(emb)::gbit(32)) STORED,
		semb gsparsevec(32) GENERATED ALWAYS AS (sparsify(emb)::gsparsevec(32)) STORED,
		meta jsonb);
	INSERT INTO items (id, emb, meta) SELECT i, $vec, $meta FROM generate_series(1, 1000) i;
	CREATE INDEX items_l2 ON items USING gv_hnsw (emb)
		WITH (m = 8, ef_construction = 32, storage = float16);
	CREATE INDEX items_cos ON items USING gv_hnsw (emb gvector_cosine_ops, label)
		WITH (m = 8, ef_construction = 32, storage = int8);
	-- float32 with filter columns (a jsonb one too: keys of 8 and 32 bytes):
	-- key directory entries carry sketches
	CREATE INDEX items_key ON items USING gv_hnsw (emb, label, meta)
		WITH (m = 8, ef_construction = 32);
	CREATE INDEX items_l1 ON items USING gv_hnsw (emb gvector_l1_ops)
		WITH (m = 8, ef_construction = 32);
	CREATE INDEX items_half ON items USING gv_hnsw (hemb) WITH (m = 8, ef_construction = 32);
	CREATE INDEX items_bit ON items USING gv_hnsw (bemb) WITH (m = 8, ef_construction = 32);
	CREATE INDEX items_sparse ON items USING gv_hnsw (semb gsparsevec_ip_ops)
		WITH (m = 8, ef_construction = 32);
});

my @queries = map {
	"SET enable_seqscan = off; SET gigavector.hnsw_ef_search = 20;
	 SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY emb $_->[0] "
	  . random_vector_sql(32, $_->[1]) . " LIMIT 10) s"
} (['<->', 5001], ['<->', 5002], ['<=>', 5003], ['<=>', 5004]);
push @queries, "SET enable_seqscan = off;
	SELECT string_agg(id::text, ',') FROM (SELECT id FROM items WHERE label = 2 ORDER BY emb <=> "
  . random_vector_sql(32, 5005) . " LIMIT 10) s";
push @queries, "SET enable_seqscan = off;
	SELECT string_agg(id::text, ',') FROM (SELECT id FROM items WHERE label = 3 ORDER BY emb <-> "
  . random_vector_sql(32, 5006) . " LIMIT 10) s";
push @queries, "SET enable_seqscan = off;
	SELECT string_agg(id::text, ',') FROM (SELECT id FROM items WHERE meta @> '{\"label\": 4, \"odd\": true}'
	ORDER BY emb <-> " . random_vector_sql(32, 5010) . " LIMIT 10) s";
push @queries, "SET enable_seqscan = off; SET gigavector.hnsw_ef_search = 20;
	SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY emb <+> "
  . random_vector_sql(32, 5007) . " LIMIT 10) s";
push @queries, "SET enable_seqscan = off; SET gigavector.hnsw_ef_search = 20;
	SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY hemb <-> "
  . random_vector_sql(32, 5008) . "::ghalfvec(32) LIMIT 10) s";
push @queries, "SET enable_seqscan = off; SET gigavector.hnsw_ef_search = 20;
	SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY bemb <~> binary_quantize("
  . random_vector_sql(32, 5009) . ") LIMIT 10) s";
push @queries, "SET enable_seqscan = off; SET gigavector.hnsw_ef_search = 20;
	SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY semb <#> sparsify("
  . random_vector_sql(32, 5010) . ") LIMIT 10) s";

sub check
{
	my ($what) = @_;
	$primary->wait_for_catchup($standby);
	for my $i (0 .. $#queries)
	{
		my $p = $primary->safe_psql('postgres', $queries[$i]);
		is($standby->safe_psql('postgres', $queries[$i]), $p,
			"$what: standby answers query $i like the primary");
	}
	is($standby->safe_psql('postgres',
			q{SELECT elements FROM gigavector.hnsw_verify('items_l2')}),
		$primary->safe_psql('postgres',
			q{SELECT elements FROM gigavector.hnsw_verify('items_l2')}),
		"$what: standby's graph has the primary's elements");
	is($standby->safe_psql('postgres',
			q{SELECT elements FROM gigavector.hnsw_verify('items_key')}),
		$primary->safe_psql('postgres',
			q{SELECT elements FROM gigavector.hnsw_verify('items_key')}),
		"$what: standby's filter-column index (key directory checked) has the primary's elements");
	for my $index ('items_l1', 'items_half', 'items_bit', 'items_sparse')
	{
		is($standby->safe_psql('postgres',
				qq{SELECT elements FROM gigavector.hnsw_verify('$index')}),
			$primary->safe_psql('postgres',
				qq{SELECT elements FROM gigavector.hnsw_verify('$index')}),
			"$what: standby's $index has the primary's elements");
	}
}

check('after build');

# Inserts (new pages, back-links, entry point moves), deletes + vacuum
# (tombstones, repairs), then inserts that reuse tombstones' slots.
$primary->safe_psql('postgres', qq{
	INSERT INTO items (id, emb, meta) SELECT i, $vec, $meta FROM generate_series(1001, 1500) i;
});
check('after inserts');
$primary->safe_psql('postgres', 'DELETE FROM items WHERE id % 4 = 0');
$primary->safe_psql('postgres', 'VACUUM items');
$primary->safe_psql('postgres', qq{
	INSERT INTO items (id, emb, meta) SELECT i, $vec, $meta FROM generate_series(2001, 2300) i;
});
check('after vacuum and reuse');

# Identical vectors share an element (one heap TID in it, the others in
# overflow tuples chained from it; 5 vectors of 200 rows, the filter column
# a function of the vector): the inserts that add a TID to an element or an
# overflow tuple, append and link overflow tuples, and VACUUM removing dead
# TIDs from them, replay on the standby; every row is returned through the
# index there.
$primary->safe_psql('postgres', q{
	CREATE TABLE dups (id int, v gvector(3), label int);
	CREATE INDEX dups_l2 ON dups USING gv_hnsw (v, label);
	INSERT INTO dups SELECT i, ARRAY[i % 5, (i % 5) * 2, 1]::float8[]::gvector, i % 5 % 2
	FROM generate_series(1, 1000) i;
});
my $dups_all = q{SET enable_seqscan = off;
	SELECT count(DISTINCT id) || '|' || coalesce(sum(id), 0) FROM (SELECT id FROM dups ORDER BY v <-> '[1,2,1]' LIMIT 5000) s};
my $dups_label = q{SET enable_seqscan = off;
	SELECT count(DISTINCT id) || '|' || coalesce(sum(id), 0) FROM (SELECT id FROM dups WHERE label = 1 ORDER BY v <-> '[1,2,1]' LIMIT 5000) s};
my $dups_verify = q{SELECT elements || '|' || unreachable FROM gigavector.hnsw_verify('dups_l2')};
sub check_dups
{
	my ($what, $rows) = @_;
	$primary->wait_for_catchup($standby);
	my $expect = $primary->safe_psql('postgres', 'SELECT count(*) || \'|\' || coalesce(sum(id), 0) FROM dups');
	my $expect_label = $primary->safe_psql('postgres',
		'SELECT count(*) || \'|\' || coalesce(sum(id), 0) FROM dups WHERE label = 1');
	like($expect, qr/^$rows\|/, "$what: $rows rows of duplicates");
	for my $node ($primary, $standby)
	{
		my $name = $node->name;
		is($node->safe_psql('postgres', $dups_all), $expect,
			"$what, $name: a scan of the whole index returns every row of the duplicates once");
		is($node->safe_psql('postgres', $dups_label), $expect_label,
			"$what, $name: and every row that passes a filter column");
		like($node->safe_psql('postgres', $dups_verify), qr/^\d+\|0$/,
			"$what, $name: hnsw_verify finds every element of the duplicates reachable");
	}
	is($standby->safe_psql('postgres', $dups_verify), $primary->safe_psql('postgres', $dups_verify),
		"$what: standby's duplicates index has the primary's elements");
}
check_dups('duplicates inserted', 1000);
$primary->safe_psql('postgres', 'DELETE FROM dups WHERE id % 3 = 0');
$primary->safe_psql('postgres', 'VACUUM dups');
check_dups('duplicates deleted and vacuumed', 667);
$primary->safe_psql('postgres', q{
	INSERT INTO dups SELECT i, ARRAY[i % 5, (i % 5) * 2, 1]::float8[]::gvector, i % 5 % 2
	FROM generate_series(1, 1000) i WHERE i % 3 = 0;
});
check_dups('duplicates inserted again', 1000);

# Unlogged table: the init fork comes back empty after a crash.
$primary->safe_psql('postgres', qq{
	CREATE UNLOGGED TABLE scratch (id int, emb gvector(32));
	CREATE INDEX ON scratch USING gv_hnsw (emb);
	INSERT INTO scratch SELECT i, $vec FROM generate_series(1, 100) i;
});
$primary->stop('immediate');
$primary->start;
$primary->safe_psql('postgres', qq{
	INSERT INTO scratch SELECT i, $vec FROM generate_series(1, 10) i;
});
is($primary->safe_psql('postgres', qq{SET enable_seqscan = off;
	SELECT count(*) FROM (SELECT id FROM scratch ORDER BY emb <-> } . random_vector_sql(32, 7) . ' LIMIT 50) s'),
	10, 'unlogged index is empty after a crash and takes new rows');
check('after crash recovery');
check_dups('after crash recovery', 1000);

# An index of an older on-disk format (version 2, one heap TID an element;
# version 3, seven heap TIDs an element) is refused with a clear error, not
# misread; REINDEX makes it answer again.
foreach my $old (2, 3)
{
	my $path = $primary->safe_psql('postgres', q{SELECT pg_relation_filepath('dups_l2')});
	$primary->stop;
	open(my $fh, '+<', $primary->data_dir . "/$path") or die "open $path: $!";
	binmode $fh;
	seek($fh, 24 + 4, 0);			# the page header, then the magic number
	print $fh pack('L', $old);
	close($fh);
	$primary->start;
	my ($rc, $out, $err) = $primary->psql('postgres', $dups_all);
	like($err, qr/index "dups_l2" has on-disk format version $old, but this build reads version 4.*\n.*HINT:  Rebuild the index with REINDEX/s,
		"an index of format version $old is refused, with REINDEX as the hint");
	$primary->safe_psql('postgres', 'REINDEX INDEX dups_l2');
	is($primary->safe_psql('postgres', $dups_all),
		$primary->safe_psql('postgres', q{SELECT count(*) || '|' || sum(id) FROM dups}),
		"after REINDEX of the version $old index it answers again");
}

$standby->stop;
$primary->stop;
done_testing();
