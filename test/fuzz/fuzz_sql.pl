# fuzz_sql.pl TARGET CORPUS_DIR ARTIFACT_DIR
#	A mutation fuzzer for the parsers that only run inside a server (they
#	call the backend's SQL parser, text search or reloption machinery, so
#	they cannot be linked into a libFuzzer harness): each input, a
#	mutation of the corpus, goes into one statement on a live server, for
#	GV_FUZZ_SECONDS (60).  An input passes when the statement succeeds or
#	fails with a user-facing SQLSTATE; it fails when the backend dies (a
#	crash or a failed assertion) or reports an internal error (XX000,
#	XX001, XX002).  Such an input is written to ARTIFACT_DIR; add it to
#	the corpus with the fix.  Inputs that reach an outcome not seen before
#	(SQLSTATE with the reporting C function, from VERBOSITY verbose) join
#	the corpus in memory, libFuzzer-fashion; their count is the coverage
#	figure reported.
#
#	sql_bm25query       bm25query(index, TEXT, mode) in a top-k and a match,
#	                    bm25_score(TEXT, ...) over it as a document, its last
#	                    word as a mode
#	sql_hybrid_filter   hybrid_search(..., filter => TEXT)
#	sql_reloptions      EXECUTE 'CREATE INDEX ... USING ' || TEXT (access method,
#	                    columns, WITH options), rolled back
#
#	Under test/sanitize/run the server's gigavector.so is built with
#	AddressSanitizer and UndefinedBehaviorSanitizer: GV_SANITIZE_LD_PRELOAD
#	is then what the postmaster preloads (the ASan runtime), and any report
#	matching GV_SANITIZE_REPORT in the server's log fails the run too.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my ($target, $corpus_dir, $artifacts) = @ARGV;
die "usage: fuzz_sql.pl TARGET CORPUS_DIR ARTIFACT_DIR\n" unless defined $artifacts;
my $seconds = $ENV{GV_FUZZ_SECONDS} // 60;
srand($ENV{GV_FUZZ_SEED} // time);

# Each target: the statement an input goes into, and words its mutations insert.
my @modes = qw(or and phrase);
my %targets = (
	sql_bm25query => {
		statement => sub {
			my ($q, $n) = @_;
			my $mode = $modes[ $n % 3 ];
			return "SELECT count(*) FROM (SELECT id FROM docs ORDER BY body <&> "
			  . "bm25query('docs_bm25', $q, '$mode') LIMIT 10) s;\n"
			  . "SELECT count(*) FROM docs WHERE body @@@ bm25query('docs_bm25', $q, '$mode');\n"
			  # the input as a document, and its last word as the mode
			  . "SELECT bm25_score($q, bm25query('docs_bm25', 'w1 the doc7')), "
			  . "bm25_score(to_tsvector('simple', $q), bm25query('docs_bm25', 'w2', 'phrase'));\n"
			  . "SELECT bm25query('docs_bm25', 'w1 w2', substring($q from '\\S*\$'));";
		},
		words => [ qw(the w1 w2 & | ! <-> : * ( ) " ' - AND OR NOT), "\t", "\x{e9}t\x{e9}", "\x{4e2d}\x{6587}" ],
	},
	sql_hybrid_filter => {
		statement => sub {
			my ($q) = @_;
			return "SELECT count(*) FROM gigavector.hybrid_search('docs', 'emb', '[0.1,0.2,0.3]', "
			  . "'body', 'w1 w2', 5, filter => $q);";
		},
		words => [ ',', qw(cat id body tags created emb = <> < > IN ANY ALL ( ) [ ] ' AND OR NOT NULL IS
			  true false LIKE ILIKE BETWEEN SELECT FROM WHERE CASE WHEN THEN END :: int text random()
			  now() @> && || <-> ; -- /* */ 1e308 -0 NaN), "'2020-01-01'", "ARRAY['a']", "'[1,2,3]'" ],
	},
	sql_reloptions => {
		statement => sub {
			my ($q) = @_;
			return "BEGIN;\nDO \$do\$ BEGIN EXECUTE 'CREATE INDEX ON docs USING ' || $q; END \$do\$;\nROLLBACK;";
		},
		words => [ ',', qw(gv_hnsw gv_ivfpq gv_kdtree gv_bm25 emb body cat tags WITH = ( ) ' m
			  ef_construction storage float32 float16 int8 binary auto lists subquantizers bits
			  training_table docs docs(emb) fillfactor text_config simple english k1 b 0 -1
			  2147483648 1e10 NaN inf true gvector_l2_ops gvector_cosine_ops) ],
	},);
my $spec = $targets{$target} or die "unknown target $target\n";

my $node = PostgreSQL::Test::Cluster->new($target);
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\nstatement_timeout = 5s\n");
{
	# the sanitizer runtime for the postmaster (and the backends it forks) only
	local $ENV{LD_PRELOAD} = $ENV{GV_SANITIZE_LD_PRELOAD} if $ENV{GV_SANITIZE_LD_PRELOAD};
	$node->start;
}
# statement_timeout is for the fuzzed statements; the setup takes longer
# under the sanitizers on a busy machine
$node->safe_psql('postgres', q{
	SET statement_timeout = 0;
	CREATE EXTENSION gigavector;
	CREATE TABLE docs (id bigint PRIMARY KEY, emb gvector(3), body text, cat int,
		tags text[], created timestamptz);
	INSERT INTO docs SELECT i, ARRAY[sin(i), cos(i), i % 7]::real[]::gvector(3),
		'w' || (i % 5) || ' w' || (i % 3) || ' the doc' || i, i % 4,
		ARRAY['t' || (i % 3)], '2020-01-01'::timestamptz + i * interval '1 day'
		FROM generate_series(1, 200) i;
	CREATE INDEX docs_hnsw ON docs USING gv_hnsw (emb, cat);
	CREATE INDEX docs_bm25 ON docs USING gv_bm25 (body);
});

my @corpus;
for my $file (sort glob("$corpus_dir/*"))
{
	push @corpus, slurp_file($file);
}
die "empty corpus $corpus_dir\n" unless @corpus;

# One psql for all the inputs; each statement ends with markers on stdout
# and stderr that the loop waits for.
my ($in, $out, $err) = ('', '', '');
my $timer = IPC::Run::timeout(60);
my $psql;
sub start_psql
{
	$psql = IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'VERBOSITY=verbose', '-d', $node->connstr('postgres') ],
		'<', \$in, '>', \$out, '2>', \$err, $timer);
}
start_psql();

# Run one statement; its stderr, or undef when psql or the backend died.
my $marker = 0;
sub run_statement
{
	my ($sql) = @_;
	$marker++;
	($out, $err) = ('', '');
	$in .= "$sql\n\\echo 'fuzz-end $marker'\n\\warn 'fuzz-end $marker'\n";
	$timer->start(60);
	my $done = eval {
		$psql->pump while !($out =~ /fuzz-end $marker\n/ && $err =~ /fuzz-end $marker\n/);
		1;
	};
	return undef if !$done;
	return undef if $err =~ /server closed the connection|connection to server was lost|terminating connection/;
	$err =~ s/fuzz-end $marker\n//;
	return $err;
}

# Mutations: overwrite, insert a word or random bytes, delete, duplicate,
# splice with another input.
sub mutate
{
	my ($s) = @_;
	my $words = $spec->{words};
	for (1 .. 1 + int(rand(4)))
	{
		my $len = length $s;
		my $at = int(rand($len + 1));
		my $kind = int(rand(6));
		if ($kind == 0 && $len)
		{
			substr($s, int(rand($len)), 1) = chr(32 + int(rand(95)));
		}
		elsif ($kind == 1)
		{
			substr($s, $at, 0) = ' ' . $words->[ int(rand(@$words)) ] . ' ';
		}
		elsif ($kind == 2)
		{
			# characters (UTF-8 on the wire), now and then a byte that is not UTF-8
			substr($s, $at, 0) = join('', map { chr(1 + int(rand(rand() < 0.2 ? 0x2000 : 126))) } 1 .. 1 + int(rand(4)));
			substr($s, $at, 0) = chr(0x80 + int(rand(128))) if rand() < 0.05;
		}
		elsif ($kind == 3 && $len)
		{
			substr($s, $at, int(rand(8))) = '';
		}
		elsif ($kind == 4 && $len)
		{
			substr($s, $at, 0) = substr($s, int(rand($len)), 1 + int(rand(16)));
		}
		else
		{
			my $other = $corpus[ int(rand(@corpus)) ];
			$s = substr($s, 0, $at) . substr($other, int(rand(length($other) + 1)));
		}
	}
	return substr($s, 0, 4000);
}

# The input as a dollar-quoted literal whose tag it does not hold (nor the
# DO block's).
sub dollar_quote
{
	my ($s) = @_;
	$s =~ s/\$do\$/\$d o\$/g;
	my $tag = 'fz';
	$tag .= 'z' while index($s, "\$$tag\$") >= 0;
	return "\$$tag\$$s\$$tag\$";
}

# The sanitizer reports in the server's log so far (empty without them, or
# when not under test/sanitize/run).
sub sanitizer_reports
{
	my $pattern = $ENV{GV_SANITIZE_REPORT} or return '';
	my @lines = split /\n/, slurp_file($node->logfile);
	my @found = grep { $lines[$_] =~ /$pattern/ } 0 .. $#lines;
	return '' unless @found;
	my $last = $found[0] + 40 < $#lines ? $found[0] + 40 : $#lines;
	return join("\n", @lines[ $found[0] .. $last ]);
}

my %outcomes;
my ($executions, $failures) = (0, 0);
my $end = time + $seconds;
while (time < $end)
{
	my $input = $executions < @corpus ? $corpus[$executions] : mutate($corpus[ int(rand(@corpus)) ]);
	my $utf8 = $input;
	utf8::encode($utf8) if utf8::is_utf8($utf8);
	my $sql = $spec->{statement}->(dollar_quote($utf8), $executions);
	$executions++;
	my $stderr = run_statement($sql);
	my $internal = defined $stderr && $stderr =~ /ERROR:  (XX00[012]):/ ? $1 : undef;
	if (!defined $stderr || $internal)
	{
		$failures++;
		my $file = "$artifacts/$target-" . ($failures) . '.txt';
		open(my $fh, '>', $file) or die "cannot write $file: $!";
		print $fh $utf8;
		close($fh);
		diag(defined $stderr ? "internal error $internal:\n$stderr" : 'the backend or psql died');
		diag("input kept in $file; statement:\n$sql");
		diag("sanitizer report:\n" . sanitizer_reports()) if sanitizer_reports() ne '';
		last if !defined $stderr && !$node->safe_psql('postgres', 'SELECT 1');
		if (!defined $stderr)
		{
			eval { $psql->kill_kill };
			$in = '';
			start_psql();
		}
		next;
	}
	# each statement's error and where it was raised, in order
	my @errors = $stderr =~ /ERROR:  ([0-9A-Z]{5}):.*?LOCATION:  (\w+)/sg;
	my $sig = @errors ? join(' ', @errors) : 'ok';
	if (!$outcomes{$sig}++ && $executions > @corpus)
	{
		push @corpus, $input;
	}
}
$psql->finish;
my $summary = sprintf('%d executions, %d outcomes, corpus %d', $executions, scalar(keys %outcomes), scalar(@corpus));
is($failures, 0, "$target: no crash and no internal error in $summary");
is(sanitizer_reports(), '', "$target: no sanitizer report in the server log") if $ENV{GV_SANITIZE_REPORT};
note "outcomes: " . join(', ', map { "$_ ($outcomes{$_})" } sort keys %outcomes);
note "stat: $summary";
$node->stop;
done_testing();
