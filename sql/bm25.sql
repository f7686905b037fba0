-- gv_bm25: scores against an independent SQL computation, the three ways
-- to score a row, modes, filters, partial indexes, statistics under
-- INSERT/UPDATE/DELETE/VACUUM, row addresses reused after VACUUM, column
-- kinds, and every bad input with its SQLSTATE.

-- The oracle: BM25 from to_tsvector's lexemes and position counts (every
-- text here repeats a lexeme fewer than 256 times), Lucene's IDF, over the
-- rows of tab whose id passes keep; written in SQL, independently of the C.
CREATE FUNCTION bm25_oracle(tab regclass, query text, k1 float8 DEFAULT 1.2, b float8 DEFAULT 0.75,
		keep text DEFAULT 'true')
	RETURNS TABLE (id int, score float8) LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE format($q$
	WITH docs AS (SELECT t.id, to_tsvector('english', t.body) AS v FROM %s t
	               WHERE t.body IS NOT NULL AND (%s)),
	     occ AS (SELECT d.id, u.lexeme, coalesce(array_length(u.positions, 1), 1) AS tf
	               FROM docs d, unnest(d.v) u),
	     dl AS (SELECT d.id, coalesce(sum(o.tf), 0) AS dl FROM docs d LEFT JOIN occ o USING (id) GROUP BY d.id),
	     stats AS (SELECT count(*)::float8 AS n, avg(dl)::float8 AS avgdl FROM dl),
	     terms AS (SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', %L))),
	     df AS (SELECT t.lexeme, count(o.id)::float8 AS df FROM terms t LEFT JOIN occ o USING (lexeme) GROUP BY t.lexeme)
	SELECT o.id, sum(ln(1 + (s.n - df.df + 0.5) / (df.df + 0.5)) * o.tf * (%s + 1)
	               / (o.tf + %s * (1 - %s + %s * dl.dl / s.avgdl)))::float8
	  FROM occ o JOIN df USING (lexeme) JOIN dl USING (id), stats s
	 GROUP BY o.id$q$, tab, keep, query, k1, k1, b, b);
END $$;

CREATE TABLE bm25_docs (id int PRIMARY KEY, body text);
INSERT INTO bm25_docs VALUES
	(1, 'PostgreSQL is a powerful, open source object-relational database system.'),
	(2, 'Vector databases store embeddings and search them by similarity.'),
	(3, 'BM25 ranks documents by term frequency, inverse document frequency and length.'),
	(4, 'Full-text search in PostgreSQL uses tsvector and tsquery; ts_rank is not BM25.'),
	(5, 'search search search: a document that says search many times over, search'),
	(6, 'The the the and of a an'),
	(7, 'Neural networks and deep learning for vector search over text and images.'),
	(8, 'naïve café: non-ASCII words are words too'),
	(9, 'state-of-the-art e-mail filtering'),
	(10, repeat('database ', 40)),
	(11, NULL),
	(12, '');
INSERT INTO bm25_docs SELECT i, 'filler text number ' || i || ' about topic' || (i % 10)
	|| CASE WHEN i % 3 = 0 THEN ' with vector search' ELSE '' END
	|| CASE WHEN i % 5 = 0 THEN ' and a database' ELSE '' END
	FROM generate_series(100, 1099) i;
CREATE INDEX bm25_docs_body ON bm25_docs USING gv_bm25 (body) WITH (text_config = 'english');
SELECT * FROM gigavector.bm25_verify('bm25_docs_body');
ANALYZE bm25_docs;

-- the plan: an index scan ordered by <&>
EXPLAIN (COSTS OFF) SELECT id FROM bm25_docs
	ORDER BY body <&> bm25query('bm25_docs_body', 'vector search') LIMIT 10;

-- index scan results = the oracle's top k, same scores to 1e-12 relative
CREATE FUNCTION bm25_check(query text, k int, mode text DEFAULT 'or', filter text DEFAULT 'true')
	RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	got int[];
	want int[];
	bad int;
BEGIN
	SET LOCAL enable_seqscan = off;
	EXECUTE format('SELECT array_agg(id ORDER BY rn) FROM (SELECT id, row_number() OVER () rn FROM
		(SELECT id FROM bm25_docs WHERE (%s) ORDER BY body <&> bm25query(''bm25_docs_body'', %L, %L) LIMIT %s) s) s2',
		filter, query, mode, k) INTO got;
	EXECUTE format('SELECT array_agg(id ORDER BY score DESC, id) FROM (SELECT o.id, o.score FROM bm25_oracle(''bm25_docs'', %L) o
		JOIN bm25_docs d USING (id) WHERE (%s) AND (%L <> ''and'' OR d.body @@@ bm25query(''bm25_docs_body'', %L, ''and''))
		ORDER BY o.score DESC, o.id LIMIT %s) s', query, filter, mode, query, k) INTO want;
	EXECUTE format('SELECT count(*) FROM bm25_oracle(''bm25_docs'', %L) o JOIN bm25_docs d USING (id)
		WHERE o.id = ANY(%L::int[]) AND abs(-(d.body <&> bm25query(''bm25_docs_body'', %L)) - o.score) > 1e-12 * o.score',
		query, got, query) INTO bad;
	IF got IS DISTINCT FROM want THEN
		RETURN format('MISMATCH got %s want %s', got, want);
	END IF;
	RETURN format('%s rows, %s scores off', coalesce(array_length(got, 1), 0), bad);
END $$;
SELECT q, bm25_check(q, 10) FROM unnest(ARRAY['search', 'vector search', 'postgresql database',
	'document frequency length', 'bm25 ts_rank tsvector', 'deep neural vector images', 'café',
	'e-mail art', 'topic3 vector database', 'filler', 'zebra']) q;
SELECT q, bm25_check(q, 10, 'and') FROM unnest(ARRAY['vector search', 'topic5 database', 'database search vector']) q;
-- a filter that keeps few rows still gets k rows (no result cap)
SELECT bm25_check('filler search', 10, 'or', 'id % 97 = 0');
SELECT bm25_check('vector', 25, 'or', 'id > 1000');

-- the same score three ways: index scan, sequential scan, bm25_score
CREATE TEMP TABLE via_index AS SELECT id, -(body <&> bm25query('bm25_docs_body', 'vector search database')) AS s
	FROM bm25_docs ORDER BY body <&> bm25query('bm25_docs_body', 'vector search database') LIMIT 50;
SET enable_indexscan = off;
CREATE TEMP TABLE via_seq AS SELECT id, -(body <&> bm25query('bm25_docs_body', 'vector search database')) AS s
	FROM bm25_docs ORDER BY body <&> bm25query('bm25_docs_body', 'vector search database') LIMIT 50;
RESET enable_indexscan;
SELECT count(*) AS rows, count(*) FILTER (WHERE i.s = q.s AND i.s = bm25_score(d.body, bm25query('bm25_docs_body', 'vector search database'))) AS equal
	FROM via_index i JOIN via_seq q USING (id) JOIN bm25_docs d USING (id);

-- an ordered scan hands its scores to the select list: bm25_scan_distance
-- takes the score of the row the scan just returned, else computes <&>
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, -(body <&> bm25query('bm25_docs_body', 'vector search')) AS s
	FROM bm25_docs ORDER BY body <&> bm25query('bm25_docs_body', 'vector search') LIMIT 3;
SELECT count(*) AS rows, count(*) FILTER (WHERE bm25_scan_distance(body, bm25query('bm25_docs_body', 'vector search'), '(0,1)')
	= body <&> bm25query('bm25_docs_body', 'vector search')) AS equal FROM bm25_docs WHERE body IS NOT NULL;
-- a HOT update: the scan returns the index's row address, ctid is the new version's
CREATE TABLE bm25_hot (id int, n int, body text) WITH (fillfactor = 50);
INSERT INTO bm25_hot SELECT i, 0, 'hot row ' || repeat('word ', i) FROM generate_series(1, 20) i;
CREATE INDEX bm25_hot_body ON bm25_hot USING gv_bm25 (body);
UPDATE bm25_hot SET n = 1 WHERE id % 2 = 0;
SET enable_seqscan = off;
SELECT count(*) AS rows, count(*) FILTER (WHERE s = bm25_score(body, bm25query('bm25_hot_body', 'word'))) AS equal
	FROM (SELECT id, body, -(body <&> bm25query('bm25_hot_body', 'word')) AS s FROM bm25_hot
		ORDER BY body <&> bm25query('bm25_hot_body', 'word') LIMIT 20) s;
RESET enable_seqscan;
DROP TABLE bm25_hot;

-- no zero-score padding: exactly the matching rows, however large the LIMIT
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM bm25_docs ORDER BY body <&> bm25query('bm25_docs_body', 'neural') LIMIT 1000) s;
SELECT count(*) FROM (SELECT id FROM bm25_docs ORDER BY body <&> bm25query('bm25_docs_body', 'vector') LIMIT 100000) s;
SELECT count(*) FROM bm25_docs WHERE body @@@ bm25query('bm25_docs_body', 'vector');
-- WHERE @@@ alone is an index scan too
EXPLAIN (COSTS OFF) SELECT id FROM bm25_docs WHERE body @@@ bm25query('bm25_docs_body', 'neural');
SELECT id FROM bm25_docs WHERE body @@@ bm25query('bm25_docs_body', 'neural');
-- phrase mode: the rows with the words in sequence
SELECT id, round(-(body <&> bm25query('bm25_docs_body', 'vector search', 'phrase'))::numeric, 6)
	FROM bm25_docs WHERE body @@@ bm25query('bm25_docs_body', 'vector search', 'phrase') AND id < 100
	ORDER BY body <&> bm25query('bm25_docs_body', 'vector search', 'phrase') LIMIT 5;
SELECT id FROM bm25_docs WHERE body @@@ bm25query('bm25_docs_body', 'search vector', 'phrase');
RESET enable_seqscan;

-- empty query, stop words only: nothing matches, no error
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM bm25_docs ORDER BY body <&> bm25query('bm25_docs_body', '') LIMIT 10) s;
SELECT count(*) FROM (SELECT id FROM bm25_docs ORDER BY body <&> bm25query('bm25_docs_body', 'the and of') LIMIT 10) s;
SELECT count(*) FROM bm25_docs WHERE body @@@ bm25query('bm25_docs_body', '   ');
RESET enable_seqscan;
SELECT bm25_score('vector', bm25query('bm25_docs_body', 'the')), bm25_score(NULL::text, bm25query('bm25_docs_body', 'vector'));
-- a query of 1,000 terms
SELECT count(*) FROM (SELECT id FROM bm25_docs ORDER BY body <&> bm25query('bm25_docs_body',
	(SELECT string_agg('word' || i, ' ') FROM generate_series(1, 999) i) || ' neural') LIMIT 10) s;

-- statistics: dead rows count until VACUUM removes them, then stop
SELECT * FROM gigavector.bm25_verify('bm25_docs_body');
SELECT * FROM gigavector.bm25_verify_table('bm25_docs_body');
DELETE FROM bm25_docs WHERE id % 2 = 0 AND id >= 100;
UPDATE bm25_docs SET body = 'vector search, vector search, vector search' WHERE id = 2;
SELECT documents FROM gigavector.bm25_verify('bm25_docs_body');
-- against the table: the deleted rows' and the old version's entries await VACUUM ...
SELECT * FROM gigavector.bm25_verify_table('bm25_docs_body');
VACUUM bm25_docs;
SELECT * FROM gigavector.bm25_verify('bm25_docs_body');
-- ... and are gone after it
SELECT * FROM gigavector.bm25_verify_table('bm25_docs_body');
SELECT q, bm25_check(q, 10) FROM unnest(ARRAY['search', 'vector search', 'topic3 vector database', 'filler']) q;
-- row addresses reused after VACUUM: new rows are found, old rows' words are gone
INSERT INTO bm25_docs SELECT i, 'brand new zebra row ' || i FROM generate_series(2000, 2299) i;
SELECT * FROM gigavector.bm25_verify('bm25_docs_body');
SELECT * FROM gigavector.bm25_verify_table('bm25_docs_body');
SELECT count(*) AS reused FROM bm25_docs WHERE id >= 2000 AND ctid < (SELECT max(ctid) FROM bm25_docs WHERE id < 2000);
SELECT q, bm25_check(q, 10) FROM unnest(ARRAY['zebra', 'zebra filler', 'topic4', 'filler number 102']) q;
SET enable_seqscan = off;
SELECT count(*) FROM bm25_docs WHERE body @@@ bm25query('bm25_docs_body', 'zebra');
SELECT count(*) FROM bm25_docs WHERE body @@@ bm25query('bm25_docs_body', 'topic2');
RESET enable_seqscan;
SELECT count(*) FROM bm25_docs WHERE body @@@ bm25query('bm25_docs_body', 'topic2');
-- a term whose last blocks VACUUM emptied, then rows at reused addresses before them
CREATE TABLE bm25_reuse (id int, body text);
INSERT INTO bm25_reuse SELECT i, 'common ' || CASE WHEN i > 300 THEN 'late' ELSE 'early' END FROM generate_series(1, 600) i;
CREATE INDEX bm25_reuse_i ON bm25_reuse USING gv_bm25 (body);
DELETE FROM bm25_reuse WHERE id > 300 OR id % 2 = 0;
VACUUM bm25_reuse;
INSERT INTO bm25_reuse SELECT i, 'common again' FROM generate_series(1001, 1400) i;
SELECT * FROM gigavector.bm25_verify('bm25_reuse_i');
SET enable_seqscan = off;
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM bm25_reuse ORDER BY body <&> bm25query('bm25_reuse_i', 'common') LIMIT 10000) s;
RESET enable_seqscan;
DROP TABLE bm25_reuse;

-- REINDEX gives the same statistics as the index that was kept up to date
CREATE TEMP TABLE before_reindex AS SELECT * FROM gigavector.bm25_verify('bm25_docs_body');
VACUUM bm25_docs;
REINDEX INDEX bm25_docs_body;
SELECT (SELECT documents || '/' || total_length FROM before_reindex) AS kept,
	(SELECT documents || '/' || total_length FROM gigavector.bm25_verify('bm25_docs_body')) AS rebuilt;

-- a partial index: its own statistics, scores never NULL under a filter
CREATE INDEX bm25_docs_part ON bm25_docs USING gv_bm25 (body) WITH (text_config = 'english') WHERE id < 500;
SET enable_seqscan = off;
SELECT count(*) AS rows, count(s) AS scored, bool_and(abs(s - o.score) <= 1e-12 * o.score) AS exact FROM
	(SELECT id, -(body <&> bm25query('bm25_docs_part', 'vector filler')) AS s FROM bm25_docs
	 WHERE id < 500 AND id % 3 = 0 ORDER BY body <&> bm25query('bm25_docs_part', 'vector filler') LIMIT 20) x
	JOIN bm25_oracle('bm25_docs', 'vector filler', keep => 'id < 500') o USING (id);
RESET enable_seqscan;
DROP INDEX bm25_docs_part;

-- options: k1 and b change the scores as the formula says
CREATE INDEX bm25_docs_k1 ON bm25_docs USING gv_bm25 (body) WITH (text_config = 'english', k1 = 2.0, b = 0.3);
SET enable_seqscan = off;
SELECT bool_and(abs(s - o.score) <= 1e-12 * o.score) AS exact, count(*) FROM
	(SELECT id, -(body <&> bm25query('bm25_docs_k1', 'vector search')) AS s FROM bm25_docs
	 ORDER BY body <&> bm25query('bm25_docs_k1', 'vector search') LIMIT 10) x
	JOIN bm25_oracle('bm25_docs', 'vector search', 2.0, 0.3) o USING (id);
RESET enable_seqscan;
DROP INDEX bm25_docs_k1;

-- term frequency is not capped at tsvector's 255 positions; a 3 MB document is indexed whole
CREATE TABLE bm25_big (id int, body text);
INSERT INTO bm25_big VALUES (1, repeat('cat ', 300)), (2, 'cat dog'), (3, repeat('word' || 'x ', 300000) || ' needle');
CREATE INDEX bm25_big_i ON bm25_big USING gv_bm25 (body) WITH (text_config = 'english');
SELECT * FROM gigavector.bm25_verify('bm25_big_i');
SET enable_seqscan = off;
SELECT id FROM bm25_big ORDER BY body <&> bm25query('bm25_big_i', 'needle') LIMIT 5;
-- tf 300 for document 1: its score from the formula by hand (N 3, df 2, dl 300, avgdl 300303/3)
SELECT round(-(body <&> bm25query('bm25_big_i', 'cat'))::numeric, 12) AS got,
	round((ln(1 + (3 - 2 + 0.5) / (2 + 0.5)) * 300 * 2.2 / (300 + 1.2 * (0.25 + 0.75 * 300 / (300303 / 3.0))))::numeric, 12) AS want
	FROM bm25_big WHERE id = 1;
RESET enable_seqscan;

-- column kinds: tsvector, varchar, an expression
CREATE TABLE bm25_kinds (id int, v varchar(1000), t tsvector);
INSERT INTO bm25_kinds SELECT id, body, to_tsvector('english', body) FROM bm25_docs WHERE id < 30 AND body IS NOT NULL;
CREATE INDEX bm25_kinds_t ON bm25_kinds USING gv_bm25 (t) WITH (text_config = 'english');
CREATE INDEX bm25_kinds_v ON bm25_kinds USING gv_bm25 (v) WITH (text_config = 'english');
CREATE INDEX bm25_kinds_e ON bm25_kinds USING gv_bm25 ((lower(v) || ' extra')) WITH (text_config = 'simple');
SET enable_seqscan = off;
SELECT id, round(-(t <&> bm25query('bm25_kinds_t', 'search vector'))::numeric, 9) AS t_score,
	round(-(v <&> bm25query('bm25_kinds_v', 'search vector'))::numeric, 9) AS v_score
	FROM bm25_kinds ORDER BY t <&> bm25query('bm25_kinds_t', 'search vector') LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM bm25_kinds ORDER BY v <&> bm25query('bm25_kinds_v', 'search') LIMIT 3;
SELECT id FROM bm25_kinds ORDER BY (lower(v) || ' extra') <&> bm25query('bm25_kinds_e', 'the') LIMIT 3;
RESET enable_seqscan;

-- an unlogged table's index
CREATE UNLOGGED TABLE bm25_unlogged (id int, body text);
CREATE INDEX ON bm25_unlogged USING gv_bm25 (body);
INSERT INTO bm25_unlogged VALUES (1, 'unlogged words'), (2, 'more words');
SELECT id FROM bm25_unlogged WHERE body @@@ bm25query('bm25_unlogged_body_idx', 'words') ORDER BY id;

-- bad input
SELECT regress.err($$CREATE INDEX ON bm25_docs USING gv_bm25 (body) WITH (text_config = 'no_such_config')$$);
SELECT regress.err($$CREATE INDEX ON bm25_docs USING gv_bm25 (body) WITH (k1 = -1)$$);
SELECT regress.err($$CREATE INDEX ON bm25_docs USING gv_bm25 (body) WITH (b = 1.5)$$);
SELECT regress.err($$CREATE INDEX ON bm25_docs USING gv_bm25 (body) WITH (nope = 1)$$);
SELECT regress.err($$CREATE INDEX ON bm25_docs USING gv_bm25 (id)$$);
SELECT regress.err($$SELECT bm25query('bm25_docs_pkey', 'x')$$);
SELECT regress.err($$SELECT bm25query('bm25_docs', 'x')$$);
SELECT regress.err($$SELECT bm25query('bm25_docs_body', 'x', 'fuzzy')$$);
SELECT regress.err($$SELECT bm25query(0, 'x')$$);
SELECT regress.err($$SELECT 'x'::bm25query$$);
SELECT regress.err($$SELECT id FROM bm25_docs ORDER BY body <&> bm25query('bm25_docs_body', NULL) LIMIT 10$$);
SELECT regress.err($$SELECT bm25query(NULL, 'x')$$);
SELECT regress.err($$SELECT bm25query('bm25_docs_body', 'x', NULL)$$);
SELECT regress.err($$SELECT convert_from('\xc328'::bytea, 'UTF8')$$);
-- a query for another table's index: the planner does not use this index for it ...
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM bm25_docs ORDER BY body <&> bm25query('bm25_big_i', 'cat') LIMIT 3;
RESET enable_seqscan;
-- ... and a scan handed one refuses it
PREPARE other(regclass) AS SELECT id FROM bm25_docs ORDER BY body <&> bm25query($1, 'cat') LIMIT 3;
SET plan_cache_mode = force_generic_plan;
SET enable_seqscan = off;
SELECT regress.err($$EXECUTE other('bm25_big_i')$$);
RESET enable_seqscan;
RESET plan_cache_mode;
-- reading another's table through its index: refused
CREATE ROLE bm25_nobody;
SET ROLE bm25_nobody;
SELECT regress.err($$SELECT bm25query('bm25_docs_body', 'x')$$);
RESET ROLE;
DROP ROLE bm25_nobody;

-- a build whose postings outgrow maintenance_work_mem sorts them in
-- temporary files (the DEBUG line says so) and writes the same index, to
-- the byte (past each page's LSN and checksum), as a build in memory
CREATE TABLE bm25_spill AS SELECT i AS id,
	(SELECT string_agg('w' || ((i * 7 + j * 13) % 500), ' ') FROM generate_series(1, 12 + i % 5) j) AS body
	FROM generate_series(1, 20000) i;
SET maintenance_work_mem = '1MB';
SET client_min_messages = debug1;
CREATE INDEX bm25_spill_small ON bm25_spill USING gv_bm25 (body) WITH (text_config = 'english');
RESET client_min_messages;
SET maintenance_work_mem = '256MB';
CREATE INDEX bm25_spill_big ON bm25_spill USING gv_bm25 (body) WITH (text_config = 'english');
RESET maintenance_work_mem;
SELECT * FROM gigavector.bm25_verify('bm25_spill_small');
SELECT * FROM gigavector.bm25_verify('bm25_spill_big');
SELECT table_rows, postings FROM gigavector.bm25_verify_table('bm25_spill_small');
CHECKPOINT;
SELECT length(a) / 8192 AS pages, length(a) = length(b) AS same_length,
	bool_and(substring(a FROM p * 8192 + 11 FOR 8182) = substring(b FROM p * 8192 + 11 FOR 8182)) AS same_pages
	FROM (SELECT pg_read_binary_file(pg_relation_filepath('bm25_spill_small')) AS a,
				 pg_read_binary_file(pg_relation_filepath('bm25_spill_big')) AS b) f,
		 generate_series(0, length(a) / 8192 - 1) p
	GROUP BY a, b;
-- and the same scores, to the bit
SET enable_seqscan = off;
SELECT q, count(*) AS rows, bool_and(s.id = b.id AND s.score = b.score) AS same FROM unnest(ARRAY['w1', 'w7 w250', 'w3 w4 w5 w499']) q,
	LATERAL (SELECT row_number() OVER () AS rn, id, -(body <&> bm25query('bm25_spill_small', q)) AS score FROM
		(SELECT * FROM bm25_spill ORDER BY body <&> bm25query('bm25_spill_small', q), id LIMIT 50) x) s
	JOIN LATERAL (SELECT row_number() OVER () AS rn, id, -(body <&> bm25query('bm25_spill_big', q)) AS score FROM
		(SELECT * FROM bm25_spill ORDER BY body <&> bm25query('bm25_spill_big', q), id LIMIT 50) y) b USING (rn)
	GROUP BY q ORDER BY q;
RESET enable_seqscan;
DROP TABLE bm25_spill;

-- bm25_verify_table finds an index that does not match its table.  The
-- mismatches are made on purpose: rows written while the index is marked
-- not ready (so neither INSERT nor VACUUM maintains it), and a text search
-- configuration changed after the build (the rows now tokenise otherwise).
CREATE TABLE bm25_mismatch (id int, body text);
INSERT INTO bm25_mismatch SELECT i, 'cat cats dog ' || i FROM generate_series(1, 20) i;
CREATE TEXT SEARCH CONFIGURATION bm25_cfg (COPY = english);
CREATE INDEX bm25_mismatch_i ON bm25_mismatch USING gv_bm25 (body) WITH (text_config = 'bm25_cfg');
SELECT * FROM gigavector.bm25_verify_table('bm25_mismatch_i');
-- a row the index never saw
UPDATE pg_index SET indisready = false WHERE indexrelid = 'bm25_mismatch_i'::regclass;
INSERT INTO bm25_mismatch VALUES (21, 'unseen');
UPDATE pg_index SET indisready = true WHERE indexrelid = 'bm25_mismatch_i'::regclass;
SELECT regress.err($$SELECT * FROM gigavector.bm25_verify_table('bm25_mismatch_i')$$);
SELECT * FROM gigavector.bm25_verify_table('bm25_mismatch_i');
SELECT * FROM gigavector.bm25_verify('bm25_mismatch_i');
REINDEX INDEX bm25_mismatch_i;
SELECT * FROM gigavector.bm25_verify_table('bm25_mismatch_i');
-- entries of rows a VACUUM removed without telling the index
UPDATE pg_index SET indisready = false WHERE indexrelid = 'bm25_mismatch_i'::regclass;
DELETE FROM bm25_mismatch WHERE id > 15;
VACUUM bm25_mismatch;
UPDATE pg_index SET indisready = true WHERE indexrelid = 'bm25_mismatch_i'::regclass;
SELECT regress.err($$SELECT * FROM gigavector.bm25_verify_table('bm25_mismatch_i')$$);
REINDEX INDEX bm25_mismatch_i;
SELECT * FROM gigavector.bm25_verify_table('bm25_mismatch_i');
-- the configuration changed: "cat cats" gave cat twice, now cat and cats once each
ALTER TEXT SEARCH CONFIGURATION bm25_cfg ALTER MAPPING FOR asciiword WITH simple;
SELECT regress.err($$SELECT * FROM gigavector.bm25_verify_table('bm25_mismatch_i')$$);
-- ... and keeps stop words: the lengths differ
UPDATE bm25_mismatch SET body = 'the dog ' || id;
ALTER TEXT SEARCH CONFIGURATION bm25_cfg ALTER MAPPING FOR asciiword WITH english_stem;
REINDEX INDEX bm25_mismatch_i;
ALTER TEXT SEARCH CONFIGURATION bm25_cfg ALTER MAPPING FOR asciiword WITH simple;
SELECT regress.err($$SELECT * FROM gigavector.bm25_verify_table('bm25_mismatch_i')$$);
-- errors: not a gv_bm25 index
SELECT regress.err($$SELECT * FROM gigavector.bm25_verify_table('bm25_mismatch')$$);
DROP TABLE bm25_mismatch;
DROP TEXT SEARCH CONFIGURATION bm25_cfg;

DROP TABLE bm25_docs, bm25_big, bm25_kinds, bm25_unlogged;
DROP FUNCTION bm25_check, bm25_oracle;
