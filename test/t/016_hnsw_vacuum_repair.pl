# gv_hnsw VACUUM's graph repair on points along a curve, where the
# neighbour heuristic keeps about two links an element (one each way) and a
# repair that only looks at the lost neighbours' neighbours goes wrong.
# Two VACUUMs, each of half the rows: after each, hnsw_verify counts no
# unreachable element and no link to a tombstone, every sampled live row is
# found first by its own vector, and a top-10 through the index equals a
# sequential scan's.  For each storage.
#
# Then an entry point that is a tombstone not yet free (a crash during
# VACUUM leaves one) passes hnsw_verify, routes searches, and VACUUM frees it.
#
# (The repair used to fill repaired level-0 lists with the heuristic's few
# picks only: after the second VACUUM 4,620 of 5,000 elements were
# unreachable; with spares but no search from the entry point, 60 of 200
# rows found themselves after the first.)
#
# GV_LONG=1 uses 20,000 rows instead of 6,000.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $rows = $ENV{GV_LONG} ? 20000 : 6000;
my $node = gv_new_node('vacuum_repair');

# point i of the curve t -> (t, sin 3t, cos 3t, t^2), t in (0, 1]
my $curve = "ARRAY[i::float8 / $rows, sin(i::float8 / $rows * 3), "
  . "cos(i::float8 / $rows * 3), (i::float8 / $rows) ^ 2]::real[]::gvector(4)";

# Of the sampled live rows (id % 50 = $rem): how many find themselves first,
# and how many have the same top-10 through the index as by a sequential
# scan; and the sample's size.
sub search_quality
{
	my ($rem) = @_;
	return $node->safe_psql('postgres', qq{
		SET enable_seqscan = off;
		SELECT count(*) FILTER (WHERE (SELECT c.id FROM curve c
				ORDER BY c.emb <-> q.emb LIMIT 1) = q.id)
			|| '|' || count(*) FILTER (WHERE ARRAY(SELECT c.id FROM curve c
				ORDER BY c.emb <-> q.emb LIMIT 10) = q.exact)
			|| '|' || count(*)
		FROM (SELECT q.id, q.emb, ARRAY(SELECT c.id FROM curve c
				ORDER BY (c.emb <-> q.emb) + 0 LIMIT 10) AS exact
			FROM curve q WHERE q.id % 50 = $rem) q});
}

for my $storage (qw(float32 float16 int8))
{
	$node->safe_psql('postgres', qq{
		DROP TABLE IF EXISTS curve;
		CREATE TABLE curve (id int PRIMARY KEY, emb gvector(4));
		INSERT INTO curve SELECT i, $curve FROM generate_series(1, $rows) i;
		CREATE INDEX curve_emb ON curve USING gv_hnsw (emb) WITH (storage = $storage);
	});
	my $n = $rows / 50;
	is(search_quality(1), "$n|$n|$n", "$storage: every sampled row found, top-10 exact, after the build");

	# VACUUM 1: every second row; VACUUM 2: every second of the rest
	# (rows deleted, sample, live elements left, live rows in the sample)
	my @rounds = ([ 'id % 2 = 0', 1, $rows / 2, $rows / 50 ],
		[ 'id % 4 = 1', 3, $rows / 4, $rows / 100 ]);
	for my $round (0 .. $#rounds)
	{
		my ($where, $rem, $left, $sample) = @{ $rounds[$round] };
		$node->safe_psql('postgres', "DELETE FROM curve WHERE $where; VACUUM curve");
		my $state = $node->safe_psql('postgres', q{
			SELECT elements || '|' || links_to_tombstones || '|' || unreachable
			FROM gigavector.hnsw_verify('curve_emb')});
		my $vac = $round + 1;
		is($state, "$left|0|0", "$storage: after VACUUM $vac, $left live elements, "
			  . 'none links to a tombstone, all reachable');
		is(search_quality($rem), "$sample|$sample|$sample",
			"$storage: after VACUUM $vac, every sampled row found first by its own vector, top-10 exact");
	}
}

# The entry point as a tombstone not yet free: what a crash leaves when it
# comes after VACUUM marked the entry point's row dead and before it moved
# the entry point (hnsw_verify used to call that corruption).  The state is
# made by hand: the entry point's element is marked a tombstone in the index
# file of the stopped server (read with pageinspect; no data checksums).
$node->safe_psql('postgres', qq{
	CREATE EXTENSION pageinspect;
	DROP TABLE curve;
	CREATE TABLE curve (id int PRIMARY KEY, emb gvector(4));
	INSERT INTO curve SELECT i, $curve FROM generate_series(1, 1000) i;
	CREATE INDEX curve_emb ON curve USING gv_hnsw (emb);
});
# metapage: page header (24 bytes), GvMetaHeaderData (12), m, ef_construction,
# maxLevel, entryLevel (2 each), then the entry point's ItemPointerData
my ($hi, $lo, $pos) = unpack('v3', pack('H*', $node->safe_psql('postgres',
	q{SELECT encode(substring(get_raw_page('curve_emb', 0) from 45 for 6), 'hex')})));
my $blk = $hi << 16 | $lo;
# its line pointer: lp_off is the low 15 bits; the element: flags, level,
# capLevel, keyNulls, then the heap TID
my $lp = unpack('V', pack('H*', $node->safe_psql('postgres',
	"SELECT encode(substring(get_raw_page('curve_emb', $blk) from " . (25 + 4 * ($pos - 1)) . " for 4), 'hex')")));
my $at = $lp & 0x7fff;
my ($flags, $hhi, $hlo, $hpos) = unpack('C x3 v3', pack('H*', $node->safe_psql('postgres',
	"SELECT encode(substring(get_raw_page('curve_emb', $blk) from " . ($at + 1) . " for 10), 'hex')")));
my $entry_id = $node->safe_psql('postgres',
	"SELECT id FROM curve WHERE ctid = '(" . ($hhi << 16 | $hlo) . ",$hpos)'");
ok($entry_id ne '', "the entry point (element ($blk,$pos)) is the element of row $entry_id");
$node->safe_psql('postgres', "DELETE FROM curve WHERE id = $entry_id");
my $file = $node->data_dir . '/' . $node->safe_psql('postgres', q{SELECT pg_relation_filepath('curve_emb')});
$node->stop;
open(my $fh, '+<:raw', $file) or die "cannot open $file: $!";
seek($fh, $blk * 8192 + $at, 0);
print $fh pack('C', $flags | 1);				# HNSW_ELEMENT_DELETED
seek($fh, $blk * 8192 + $at + 4, 0);
print $fh pack('v3', 0xffff, 0xffff, 0);		# heap TID invalid
seek($fh, $blk * 8192 + $at + 16, 0);			# after spares and toastid:
print $fh pack('v', 0);							# ntids, no heap TIDs
close($fh);
$node->start;

is($node->safe_psql('postgres', q{SELECT elements || '|' || tombstones || '|' || unreachable
	FROM gigavector.hnsw_verify('curve_emb')}), '999|1|0',
	'hnsw_verify accepts an entry point that is a tombstone not yet free');
is($node->safe_psql('postgres', q{SET enable_seqscan = off;
	SELECT count(*) FILTER (WHERE (SELECT c.id FROM curve c ORDER BY c.emb <-> q.emb LIMIT 1) = q.id)
	FROM curve q WHERE q.id % 10 = 3}), '100', 'searches route through it: every sampled row finds itself');
$node->safe_psql('postgres', 'VACUUM curve');
is($node->safe_psql('postgres', q{SELECT elements || '|' || tombstones || '|' || links_to_tombstones || '|' || unreachable
	FROM gigavector.hnsw_verify('curve_emb')}), '999|1|0|0',
	'VACUUM moves the entry point off it and frees it');

done_testing();
