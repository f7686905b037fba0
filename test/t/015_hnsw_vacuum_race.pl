# gv_hnsw while VACUUM repairs the graph under concurrent writes: three
# writers insert, update and delete, three searchers search, and one session
# runs VACUUM, sleeps 0.5 s, and again.  Afterwards the graph must reach
# every live row (hnsw_verify: 0 unreachable elements, no link to a
# tombstone), a k = 1 lookup of each live row by its own vector must find it
# (or an exact duplicate), and the index must hold every committed row.
# (Vacuum used to let inserts overwrite tombstones it was still repairing
# around: hundreds of rows became unreachable.)
#
# GIGAVECTOR_SOAK_SECONDS (default 30) sets how long the load runs and
# GIGAVECTOR_SOAK_ROWS (default 8000) the table's size; 120 and 34000 make
# the long soak (about 10 minutes here).
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use GvTest;

my $seconds = $ENV{GIGAVECTOR_SOAK_SECONDS} // 30;
my $rows = $ENV{GIGAVECTOR_SOAK_ROWS} // 8000;
my $dim = 64;

my $node = gv_new_node('vacuum_race', conf => 'max_connections = 40');

# random_unit(): a random unit vector; inner product then ranks a row's
# own vector first (-1) and every other row near -0.1 .. -0.5.
my $unit = '(SELECT random_unit())';
$node->safe_psql('postgres', qq{
	CREATE FUNCTION random_unit() RETURNS gvector LANGUAGE sql VOLATILE
		AS 'SELECT l2_normalize(array_agg((random() - 0.5)::real)::gvector($dim))
			FROM generate_series(1, $dim)';
	CREATE TABLE items (id bigserial PRIMARY KEY, emb gvector($dim));
	INSERT INTO items (emb) SELECT random_unit() FROM generate_series(1, $rows);
	CREATE INDEX items_emb ON items USING gv_hnsw (emb gvector_ip_ops);
	-- what the writers committed: the load ends with (rows + inserted - deleted)
	CREATE TABLE inserted (id bigint);
	CREATE TABLE deleted (id bigint);
});

my $dir = PostgreSQL::Test::Utils::tempdir();
my %scripts = (
	insert => qq{
WITH i AS (INSERT INTO items (emb) VALUES ($unit) RETURNING id)
INSERT INTO inserted SELECT id FROM i;
},
	update => qq{
\\set id random(1, $rows * 2)
UPDATE items SET emb = $unit WHERE id = :id;
},
	delete => qq{
\\set id random(1, $rows * 2)
WITH d AS (DELETE FROM items WHERE id IN
	(SELECT id FROM items WHERE id >= :id ORDER BY id LIMIT 1) RETURNING id)
INSERT INTO deleted SELECT id FROM d;
},
	search => qq{
SET enable_seqscan = off;
SELECT id FROM items ORDER BY emb <#> $unit LIMIT 10;
},
	vacuum => q{
VACUUM (INDEX_CLEANUP ON) items;
\sleep 500 ms
},);
for my $name (keys %scripts)
{
	open(my $fh, '>', "$dir/$name.sql") or die "cannot write $dir/$name.sql: $!";
	print $fh $scripts{$name};
	close($fh);
}

# pgbench runs of the same length, started together: 3 writers, 3
# searchers, 1 vacuum loop.
my @conn = ('-h', $node->host, '-p', $node->port, 'postgres');
my %runs = (
	writers => [ '-c', 3, '-j', 3, '-f', "$dir/insert.sql\@1",
		'-f', "$dir/update.sql\@1", '-f', "$dir/delete.sql\@1" ],
	searchers => [ '-c', 3, '-j', 3, '-f', "$dir/search.sql" ],
	vacuum => [ '-c', 1, '-f', "$dir/vacuum.sql" ],);
my %out;
my %harness;
for my $name (sort keys %runs)
{
	$out{$name} = '';
	$harness{$name} = IPC::Run::start(
		[ 'pgbench', '--no-vacuum', '-T', $seconds, @{ $runs{$name} }, @conn ],
		'>&', \$out{$name});
}
for my $name (sort keys %runs)
{
	my $ok = $harness{$name}->finish;
	my ($done) = $out{$name} =~ /number of transactions actually processed: (\d+)/;
	ok($ok && ($done // 0) > 0, "$name ran without errors")
	  or diag($out{$name});
	note "$name: " . ($done // 0) . " transactions";
}

# hnsw_verify's counts, checked: every live element reachable and no link
# to a tombstone; returns the number of elements.
sub verify
{
	my ($when) = @_;
	my ($elements, $tombstones, $deadlinks, $unreachable) = split /\|/,
	  $node->safe_psql('postgres', q{
		SELECT elements, tombstones, links_to_tombstones, unreachable
		FROM gigavector.hnsw_verify('items_emb')});
	note "$when: elements $elements, tombstones $tombstones, "
	  . "links to tombstones $deadlinks, unreachable $unreachable";
	is($unreachable, 0, "$when every live element is reachable");
	is($deadlinks, 0, "$when no live element links to a tombstone");
	return $elements;
}

# The graph as the load left it: inserts after the last vacuum's repair
# link to no tombstone, so this holds without a vacuum at the end too.
verify('after the load');

# One more vacuum, nothing running.
$node->safe_psql('postgres', 'VACUUM (INDEX_CLEANUP ON) items');
my $elements = verify('after a last vacuum');

# Every committed row is in the table and in the index.
my $expected = $node->safe_psql('postgres', qq{
	SELECT $rows + (SELECT count(*) FROM inserted) - (SELECT count(*) FROM deleted)});
is($node->safe_psql('postgres', 'SELECT count(*) FROM items'),
	$expected, 'the table holds every committed row');
is($elements, $expected, 'the index has one element for each of them');
# (hnsw_max_scan_tuples = 1: straight to the exact pass over the index's
# pages, which must hold them all; reachability is hnsw_verify's check.  A
# graph enumeration may skip the few rows it finds only after farther ones
# were handed out, to keep exact order.)
is($node->safe_psql('postgres', q{
	SET enable_seqscan = off; SET gigavector.hnsw_max_scan_tuples = 1;
	SELECT count(DISTINCT id) FROM (SELECT id FROM items
		ORDER BY emb <#> (SELECT emb FROM items LIMIT 1) LIMIT 100000000) s}),
	$expected, 'an index scan over the whole graph returns every committed row');

# k = 1 lookup of every live row by its own vector, through the index, at
# ef_search 100.  At the default 40 a search of these vectors (uniform on
# the 64-d sphere, the hardest case for a graph) misses about 1 row in
# 15,000 that is reachable and found at 100, as in a freshly built graph.
my $lookup = q{
	SELECT count(*) FROM items x,
		LATERAL (SELECT y.id, y.emb FROM items y ORDER BY y.emb <#> x.emb LIMIT 1) n
	WHERE n.id <> x.id AND n.emb <> x.emb};
my $plan = $node->safe_psql('postgres',
	"SET enable_seqscan = off; EXPLAIN (COSTS OFF) $lookup");
like($plan, qr/Index Scan using items_emb on items y/,
	'the self-lookup searches the graph');
my $misses = $node->safe_psql('postgres',
	"SET enable_seqscan = off; SET gigavector.hnsw_ef_search = 100; $lookup");
note "self-lookup misses: $misses of $expected";
is($misses, 0, 'a k = 1 lookup of each live row by its own vector finds it');

$node->stop;
done_testing();
