-- hybrid_search: a labelled example whose fused orders are worked out by
-- hand below (RRF, and linear with each normalisation), the distance to
-- similarity formulas, one branch alone, the filter inside both branches,
-- the filter's safety (injection attempts), the indexes against the exact
-- fallback, and every bad input with its SQLSTATE.

-- rrf(rank, k) = 1 / (k + rank)
SELECT gigavector.rrf(1), gigavector.rrf(1) = 1.0 / 61, gigavector.rrf(3, 0) = 1.0 / 3;

-- Six documents of three lexemes each (so every length equals the average
-- and BM25 for the one-term query 'apple' is idf * tf * 2.2 / (tf + 1.2),
-- idf = ln(1 + (6 - 3 + 0.5) / (3 + 0.5)) = ln 2):
--   text branch: 1 (tf 3: 11/7 ln 2 = 1.089231), 2 (tf 2: 11/8 ln 2 = 0.953077), 3 (tf 1: ln 2)
-- L2 distances from [0,0]: 4 → 0, 5 → 1, 3 → 2, 1 → 3, 6 → 4, 2 → 5;
-- candidates 4: vector branch 4, 5, 3, 1 (similarities 1/(1+d): 1, 1/2, 1/3, 1/4).
CREATE TABLE hy_docs (id int PRIMARY KEY, emb gvector(2), body text, cat int);
INSERT INTO hy_docs VALUES
	(1, '[3,0]', 'apple apple apple', 1),
	(2, '[0,5]', 'apple apple pear', 2),
	(3, '[0,2]', 'apple pear plum', 1),
	(4, '[0,0]', 'pear plum fig', 2),
	(5, '[1,0]', 'plum fig kiwi', 1),
	(6, '[4,0]', 'fig kiwi lime', 2);
CREATE INDEX hy_docs_body ON hy_docs USING gv_bm25 (body) WITH (text_config = 'english');

-- hs(...) = the fused ids and scores as arrays; hy_match compares them with
-- the hand-made answer (scores to 1e-5)
CREATE FUNCTION hy_match(got_ids bigint[], got float8[], want_ids bigint[], want float8[]) RETURNS text
	LANGUAGE sql AS $$
	SELECT CASE WHEN got_ids IS DISTINCT FROM want_ids THEN format('ORDER got %s want %s', got_ids, want_ids)
	            WHEN EXISTS (SELECT 1 FROM unnest(got, want) u(g, w) WHERE abs(g - w) > 1e-5)
	            THEN format('SCORES got %s want %s', got, want)
	            ELSE 'ok' END $$;

-- RRF, k 60, weights 1/2: 1 = .5/64 + .5/61 = .0160092; 3 = .5/63 + .5/63 = .0158730;
-- 4 = .5/61 = .0081967; 2 and 5 tie at .5/62 = .0080645, ties go by id.
SELECT id, score, vector_rank, text_rank, vector_distance, round(text_score::numeric, 6) AS text_score
	FROM gigavector.hybrid_search('hy_docs', 'emb', '[0,0]', 'body', 'apple', 5, candidates => 4);
SELECT hy_match(array_agg(id ORDER BY score DESC, id), array_agg(score ORDER BY score DESC, id),
		'{1,3,4,2,5}', '{0.0160092,0.0158730,0.0081967,0.0080645,0.0080645}')
	FROM gigavector.hybrid_search('hy_docs', 'emb', '[0,0]', 'body', 'apple', 5, candidates => 4);
-- RRF, k 1, weights .7/.3: 4 = .7/2 = .35; 1 = .7/5 + .3/2 = .29; 3 = .7/4 + .3/4 = .25;
-- 5 = .7/3 = .233333; 2 = .3/3 = .1
SELECT hy_match(array_agg(id ORDER BY score DESC, id), array_agg(score ORDER BY score DESC, id),
		'{4,1,3,5,2}', '{0.35,0.29,0.25,0.2333333,0.1}')
	FROM gigavector.hybrid_search('hy_docs', 'emb', '[0,0]', 'body', 'apple', 5, 'rrf', 0.7, 0.3,
		rrf_k => 1, candidates => 4);
-- the top k of it
SELECT array_agg(id) FROM gigavector.hybrid_search('hy_docs', 'emb', '[0,0]', 'body', 'apple', 2, 'rrf', 0.7, 0.3,
		rrf_k => 1, candidates => 4);

-- linear, weights .6/.4; a row one branch did not find gets that branch's
-- lowest normalised value (0 for min_max).
-- min_max: vector (s - 1/4) / (3/4): 4 → 1, 5 → 1/3, 3 → 1/9, 1 → 0;
--          text 1 → 1, 2 → (11/8 - 1) / (11/7 - 1) = 21/32, 3 → 0;
--   4 = .6; 1 = .4; 2 = .4 * 21/32 = .2625; 5 = .6/3 = .2; 3 = .6/9 = .066667
SELECT hy_match(array_agg(id ORDER BY score DESC, id), array_agg(score ORDER BY score DESC, id),
		'{4,1,2,5,3}', '{0.6,0.4,0.2625,0.2,0.0666667}')
	FROM gigavector.hybrid_search('hy_docs', 'emb', '[0,0]', 'body', 'apple', 5, 'linear', 0.6, 0.4,
		'min_max', candidates => 4);
-- z_score (population sd): vector mean .5208333, sd .2909216: z 4 → 1.647059, 5 → -.071611,
--   3 → -.644503, 1 → -.930950 (= the missing value); text mean 1.315476, sd .237051 (in units
--   of ln 2): 1 → 1.079727, 2 → .251098, 3 → -1.330825 (missing);
--   4 = .6 * 1.647059 + .4 * -1.330825 = .455905; 1 = .6 * -.930950 + .4 * 1.079727 = -.126679;
--   2 = -.558570 + .100439 = -.458131; 5 = -.042967 - .532330 = -.575297; 3 = -.386702 - .532330 = -.919032
SELECT hy_match(array_agg(id ORDER BY score DESC, id), array_agg(score ORDER BY score DESC, id),
		'{4,1,2,5,3}', '{0.455905,-0.126679,-0.458131,-0.575297,-0.919032}')
	FROM gigavector.hybrid_search('hy_docs', 'emb', '[0,0]', 'body', 'apple', 5, 'linear', 0.6, 0.4,
		'z_score', candidates => 4);
-- l2: vector / sqrt(1 + 1/4 + 1/9 + 1/16) = / 1.193152: .838116, .419058, .279372, .209529 (missing);
--     text / sqrt((11/7)² + (11/8)² + 1) = / 2.315170: 1 → .678755, 2 → .593911, 3 → .431934 (missing)
--   4 = .502870 + .172774 = .675643; 5 = .251435 + .172774 = .424208; 1 = .125718 + .271502 = .397219;
--   2 = .125718 + .237564 = .363282; 3 = .167623 + .172774 = .340397
SELECT hy_match(array_agg(id ORDER BY score DESC, id), array_agg(score ORDER BY score DESC, id),
		'{4,5,1,2,3}', '{0.675643,0.424208,0.397219,0.363282,0.340397}')
	FROM gigavector.hybrid_search('hy_docs', 'emb', '[0,0]', 'body', 'apple', 5, 'linear', 0.6, 0.4,
		'l2', candidates => 4);
-- none: raw similarities 1, .5, 1/3, .25 (missing .25) and scores 1.089231, .953077, .693147 (missing)
--   4 = .6 + .277259 = .877259; 1 = .15 + .435692 = .585692; 5 = .3 + .277259 = .577259;
--   2 = .15 + .381231 = .531231; 3 = .2 + .277259 = .477259
SELECT hy_match(array_agg(id ORDER BY score DESC, id), array_agg(score ORDER BY score DESC, id),
		'{4,1,5,2,3}', '{0.877259,0.585692,0.577259,0.531231,0.477259}')
	FROM gigavector.hybrid_search('hy_docs', 'emb', '[0,0]', 'body', 'apple', 5, 'linear', 0.6, 0.4,
		'none', candidates => 4);
-- min_max when every candidate of a branch scores the same: they all get 1
SELECT id, score FROM gigavector.hybrid_search('hy_docs', 'emb', '[0,0]', 'body', 'lime', 3, 'linear',
	0.5, 0.5, candidates => 2);

-- distance to similarity (linear, none, vector branch alone: score = similarity)
CREATE TABLE hy_vec (id bigint PRIMARY KEY, emb gvector(2), body text);
INSERT INTO hy_vec VALUES (1, '[1,0]', 'a'), (2, '[0,1]', 'b'), (3, '[-1,0]', 'c'), (4, '[2,0]', 'd'), (5, NULL, 'e');
-- l2: 1 / (1 + d)
SELECT id, vector_distance, score, score = 1 / (1 + vector_distance) AS formula
	FROM gigavector.hybrid_search('hy_vec', 'emb', '[1,0]', 'body', NULL, 10, 'linear', 1, 0, 'none', distance => 'l2');
-- cosine: 1 - d (the cosine similarity)
SELECT id, vector_distance, score, score = 1 - vector_distance AS formula
	FROM gigavector.hybrid_search('hy_vec', 'emb', '[1,0]', 'body', NULL, 10, 'linear', 1, 0, 'none', distance => 'cosine');
-- ip: -d (the inner product); d = -1 (a pole of 1/(1+d)) and d = -2 are fine
SELECT id, vector_distance, score, score = -vector_distance AS formula
	FROM gigavector.hybrid_search('hy_vec', 'emb', '[1,0]', 'body', NULL, 10, 'linear', 1, 0, 'none', distance => 'ip');

-- one branch alone: NULL query text or NULL query vector
SELECT id, vector_rank, text_rank FROM gigavector.hybrid_search('hy_docs', 'emb', '[0,0]', 'body', NULL, 3);
SELECT id, vector_rank, text_rank, round(score::numeric, 6) FROM gigavector.hybrid_search('hy_docs', 'emb', NULL, 'body', 'apple', 5);
-- a text that matches nothing: the vector branch alone
SELECT id, text_rank FROM gigavector.hybrid_search('hy_docs', 'emb', '[0,0]', 'body', 'zebra', 2);

-- the filter inside each branch: k rows whenever k rows match
SELECT id, vector_rank, text_rank FROM gigavector.hybrid_search('hy_docs', 'emb', '[0,0]', 'body', 'apple', 3,
	candidates => 3, filter => 'cat = 2');
SELECT id, vector_rank, text_rank FROM gigavector.hybrid_search('hy_docs', 'emb', '[0,0]', 'body', 'apple', 3,
	filter => 'id > 1 AND body NOT LIKE ''%fig%''');
SELECT count(*) FROM gigavector.hybrid_search('hy_docs', 'emb', '[0,0]', 'body', 'apple', 3, filter => 'false');

-- the filter is one condition over the table, nothing more: injection attempts
CREATE TABLE hy_secret (x int);
INSERT INTO hy_secret VALUES (42);
SELECT f, regress.err(format($s$SELECT count(*) FROM gigavector.hybrid_search('hy_docs', 'emb', '[0,0]', 'body', 'apple', 3, filter => %L)$s$, f))
	FROM unnest(ARRAY[
		'true; DROP TABLE hy_secret',
		'true) UNION SELECT 1, 1e9 FROM hy_secret --',
		'true UNION SELECT x FROM hy_secret',
		'id IN (SELECT x FROM hy_secret)',
		'EXISTS (SELECT 1)',
		'true ORDER BY 1',
		'true GROUP BY id',
		'true LIMIT 1',
		'true FOR UPDATE',
		'random() < 2',
		'pg_sleep(0) IS NULL',
		'now() > ''2000-01-01''',
		'nextval(''hy_seq'') > 0',
		'count(*) > 0',
		'generate_series(1, 2) > 0',
		'row_number() OVER () > 0',
		'hy_secret.x = 42',
		'nosuch = 1',
		'id + 1',
		'id = = 1',
		'id = 1 /* unfinished',
		'']) f;
-- the table stays, and quotes inside a filter stay inside its string constant
SELECT count(*) FROM hy_secret;
SELECT array_agg(id ORDER BY id) FROM gigavector.hybrid_search('hy_docs', 'emb', '[0,0]', 'body', 'apple', 6,
	filter => $f$body <> 'x'' OR ''1''=''1' AND cat IS NOT NULL -- a comment$f$);
-- the query text is a bound value
SELECT count(*) FROM gigavector.hybrid_search('hy_docs', 'emb', '[0,0]', 'body', $q$apple'); DROP TABLE hy_secret; --$q$, 3);
SELECT count(*) FROM hy_secret;
-- immutable functions and operators are fine
SELECT array_agg(id ORDER BY id) FROM gigavector.hybrid_search('hy_docs', 'emb', '[0,0]', 'body', 'apple', 6,
	filter => 'lower(body) LIKE ''apple%'' AND abs(cat) = 1');
-- the caller's privileges apply to the branches
CREATE ROLE hy_nobody;
GRANT USAGE ON SCHEMA gigavector TO hy_nobody;
SET ROLE hy_nobody;
SELECT regress.err($s$SELECT count(*) FROM gigavector.hybrid_search('hy_docs', 'emb', '[0,0]', 'body', NULL, 3)$s$);
RESET ROLE;
DROP OWNED BY hy_nobody;
DROP ROLE hy_nobody;

-- through the indexes: the same answers as the exact scans above (the
-- tables are small enough for gv_hnsw to be exact)
CREATE TEMP TABLE hy_exact AS SELECT * FROM gigavector.hybrid_search('hy_docs', 'emb', '[0.5,0.5]', 'body', 'apple pear', 6,
	'linear', candidates => 6);
CREATE INDEX hy_docs_emb ON hy_docs USING gv_hnsw (emb gvector_l2_ops);
SET enable_seqscan = off;
SELECT count(*) AS rows, bool_and(e.id = i.id AND e.score = i.score) AS same
	FROM (SELECT row_number() OVER () n, * FROM hy_exact) e
	JOIN (SELECT row_number() OVER () n, * FROM gigavector.hybrid_search('hy_docs', 'emb', '[0.5,0.5]', 'body',
		'apple pear', 6, 'linear', candidates => 6)) i USING (n);
RESET enable_seqscan;
-- the distance defaults to the vector index's: a cosine index makes it cosine
DROP INDEX hy_docs_emb;
CREATE INDEX hy_docs_emb ON hy_docs USING gv_hnsw (emb gvector_cosine_ops);
SELECT id, vector_distance = (emb <=> '[1,1]') AS cosine
	FROM gigavector.hybrid_search('hy_docs', 'emb', '[1,1]', 'body', NULL, 3) JOIN hy_docs d USING (id) ORDER BY vector_rank;
DROP INDEX hy_docs_emb;

-- bad input, each with its SQLSTATE
CREATE TABLE hy_nopk (id int, emb gvector(2), body text);
CREATE TABLE hy_textpk (id text PRIMARY KEY, emb gvector(2), body text);
CREATE TABLE hy_twopk (a int, b int, emb gvector(2), body text, PRIMARY KEY (a, b));
CREATE TABLE hy_nobm25 (id int PRIMARY KEY, emb gvector(2), body text);
INSERT INTO hy_nobm25 VALUES (1, '[1,1]', 'apple');
CREATE VIEW hy_view AS SELECT * FROM hy_docs;
SELECT s, regress.err('SELECT count(*) FROM gigavector.hybrid_search(' || s || ')') FROM unnest(ARRAY[
	$$'hy_docs', 'emb', '[0,0]', 'body', 'apple', 0$$,
	$$'hy_docs', 'emb', '[0,0]', 'body', 'apple', -1$$,
	$$'hy_docs', 'emb', '[0,0]', 'body', 'apple', NULL$$,
	$$'hy_docs', 'emb', NULL, 'body', NULL, 3$$,
	$$NULL, 'emb', '[0,0]', 'body', 'apple', 3$$,
	$$'hy_docs', NULL, '[0,0]', 'body', 'apple', 3$$,
	$$'hy_docs', 'emb', '[0,0]', 'body', 'apple', 3, fusion => 'borda'$$,
	$$'hy_docs', 'emb', '[0,0]', 'body', 'apple', 3, fusion => NULL$$,
	$$'hy_docs', 'emb', '[0,0]', 'body', 'apple', 3, vector_weight => -0.1$$,
	$$'hy_docs', 'emb', '[0,0]', 'body', 'apple', 3, text_weight => 'NaN'$$,
	$$'hy_docs', 'emb', '[0,0]', 'body', 'apple', 3, text_weight => 'Infinity'$$,
	$$'hy_docs', 'emb', '[0,0]', 'body', 'apple', 3, vector_weight => 0, text_weight => 0$$,
	$$'hy_docs', 'emb', '[0,0]', 'body', 'apple', 3, 'linear', normalization => 'softmax'$$,
	$$'hy_docs', 'emb', '[0,0]', 'body', 'apple', 3, rrf_k => -1$$,
	$$'hy_docs', 'emb', '[0,0]', 'body', 'apple', 3, candidates => 0$$,
	$$'hy_docs', 'emb', '[0,0]', 'body', 'apple', 3, candidates => 2000000$$,
	$$'hy_docs', 'emb', '[0,0]', 'body', 'apple', 3, distance => 'manhattan'$$,
	$$'hy_docs', 'emb', '[0,0,0]', 'body', 'apple', 3$$,
	$$'hy_docs', 'nosuch', '[0,0]', 'body', 'apple', 3$$,
	$$'hy_docs', 'body', '[0,0]', 'body', 'apple', 3$$,
	$$'hy_docs', 'emb', '[0,0]', 'cat', 'apple', 3$$,
	$$'hy_docs', 'emb', '[0,0]', 'nosuch', 'apple', 3$$,
	$$'hy_docs', 'emb', '[0,0]', 'emb', 'apple', 3$$,
	$$'hy_nopk', 'emb', '[0,0]', 'body', 'apple', 3$$,
	$$'hy_textpk', 'emb', '[0,0]', 'body', 'apple', 3$$,
	$$'hy_twopk', 'emb', '[0,0]', 'body', 'apple', 3$$,
	$$'hy_view', 'emb', '[0,0]', 'body', 'apple', 3$$,
	$$'no_such_table', 'emb', '[0,0]', 'body', 'apple', 3$$]) s;
SELECT regress.err('SELECT gigavector.rrf(0)'), regress.err('SELECT gigavector.rrf(1, -1)');
-- no gv_bm25 index is no error when there is no query text: the vector branch alone
SELECT id, vector_rank FROM gigavector.hybrid_search('hy_nobm25', 'emb', '[0,0]', 'body', NULL, 3);

-- No index at all: both branches exact.  The text branch is scored with
-- statistics counted from the table (N, average length, df), which are the
-- index's: the same scores, row for row, as a gv_bm25 index built now with
-- the defaults (default_text_search_config, k1 1.2, b 0.75).  hy_fb_idx has
-- the indexes, hy_fb has none; the same rows, among them a NULL text (in
-- neither N) and an empty one (in both).
SET default_text_search_config = 'english';
CREATE TABLE hy_fb_idx (id int PRIMARY KEY, emb gvector(2), body text, cat int, tsv tsvector);
INSERT INTO hy_fb_idx SELECT id, emb, body, cat, to_tsvector('english', body) FROM hy_docs;
INSERT INTO hy_fb_idx VALUES (7, '[2,2]', NULL, 1, NULL), (8, '[3,3]', '', 2, ''),
	(9, '[5,5]', 'Apple kiwi kiwi kiwi limes', 1, to_tsvector('english', 'Apple kiwi kiwi kiwi limes'));
CREATE TABLE hy_fb (LIKE hy_fb_idx INCLUDING CONSTRAINTS);
ALTER TABLE hy_fb ADD PRIMARY KEY (id);
INSERT INTO hy_fb SELECT * FROM hy_fb_idx;
CREATE INDEX hy_fb_idx_body ON hy_fb_idx USING gv_bm25 (body);
CREATE INDEX hy_fb_idx_tsv ON hy_fb_idx USING gv_bm25 (tsv);
-- the hand-worked RRF answer above, from hy_docs without its index
CREATE TABLE hy_docs_plain (id int PRIMARY KEY, emb gvector(2), body text, cat int);
INSERT INTO hy_docs_plain SELECT * FROM hy_docs;
SELECT hy_match(array_agg(id ORDER BY score DESC, id), array_agg(score ORDER BY score DESC, id),
		'{1,3,4,2,5}', '{0.0160092,0.0158730,0.0081967,0.0080645,0.0080645}')
	FROM gigavector.hybrid_search('hy_docs_plain', 'emb', '[0,0]', 'body', 'apple', 5, candidates => 4);
SELECT id, round(text_score::numeric, 6) AS text_score, text_rank
	FROM gigavector.hybrid_search('hy_docs_plain', 'emb', NULL, 'body', 'apple', 5);
-- hy_fb_same(column, query, fusion, normalization, filter): does hy_fb give
-- exactly (=, not within a tolerance) hy_fb_idx's rows, ranks, distances,
-- text scores and fused scores?  (No two rows are as far from [0.3,1.1],
-- so an index and a sort cannot order ties differently.)
CREATE FUNCTION hy_fb_same(col name, q text, fusion text, norm text, filt text DEFAULT NULL) RETURNS text
	LANGUAGE sql AS $$
	WITH i AS (SELECT row_number() OVER () n, * FROM gigavector.hybrid_search('hy_fb_idx', 'emb', '[0.3,1.1]', col, q, 9,
			fusion, 0.6, 0.4, norm, candidates => 5, filter => filt)),
		 e AS (SELECT row_number() OVER () n, * FROM gigavector.hybrid_search('hy_fb', 'emb', '[0.3,1.1]', col, q, 9,
			fusion, 0.6, 0.4, norm, candidates => 5, filter => filt))
	SELECT CASE WHEN (SELECT count(*) FROM i) <> (SELECT count(*) FROM e) THEN 'ROWS differ'
		WHEN EXISTS (SELECT 1 FROM i JOIN e USING (n) WHERE (i.id, i.score, i.vector_rank, i.text_rank,
				i.vector_distance, i.text_score) IS DISTINCT FROM (e.id, e.score, e.vector_rank, e.text_rank,
				e.vector_distance, e.text_score)) THEN 'DIFFER'
		ELSE 'same ' || (SELECT count(*) FROM e) || ' rows, ' || (SELECT count(text_rank) FROM e) || ' by text' END $$;
SELECT c, q, f, hy_fb_same(c, q, f, nm)
	FROM unnest(ARRAY['body', 'tsv']::name[]) c,
		 unnest(ARRAY['apple', 'kiwi lime apple', 'pear plum fig', 'zebra']) q,
		 (VALUES ('rrf', 'min_max'), ('linear', 'min_max'), ('linear', 'z_score'), ('linear', 'l2'), ('linear', 'none')) v(f, nm)
	ORDER BY 1, 2, 3, 4;
-- the filter inside the exact text branch too
SELECT hy_fb_same('body', 'apple kiwi', 'rrf', 'min_max', 'cat = 1'), hy_fb_same('tsv', 'fig', 'linear', 'l2', 'id > 4');
-- text scores are bm25_score's with the index's statistics
SELECT bool_and(h.text_score = bm25_score(d.body, bm25query('hy_fb_idx_body', 'kiwi apple'))) AS same, count(*)
	FROM gigavector.hybrid_search('hy_fb', 'emb', NULL, 'body', 'kiwi apple', 9) h JOIN hy_fb_idx d USING (id);
-- the statistics follow the table: after a DELETE and VACUUM, still the same
DELETE FROM hy_fb_idx WHERE id IN (2, 9);
DELETE FROM hy_fb WHERE id IN (2, 9);
VACUUM hy_fb_idx;
VACUUM hy_fb;
SELECT hy_fb_same('body', 'apple kiwi', 'linear', 'min_max'), hy_fb_same('tsv', 'apple kiwi', 'rrf', 'min_max');
-- and with a vector index on one side only (small enough for gv_hnsw to be exact)
CREATE INDEX ON hy_fb_idx USING gv_hnsw (emb);
SET enable_seqscan = off;
SELECT hy_fb_same('body', 'pear plum', 'linear', 'z_score'), hy_fb_same('body', 'pear plum', 'rrf', 'min_max');
RESET enable_seqscan;
-- a partitioned table: the statistics count every partition
CREATE TABLE hy_fb_part (id int PRIMARY KEY, emb gvector(2), body text, cat int, tsv tsvector) PARTITION BY RANGE (id);
CREATE TABLE hy_fb_part1 PARTITION OF hy_fb_part FOR VALUES FROM (1) TO (5);
CREATE TABLE hy_fb_part2 PARTITION OF hy_fb_part FOR VALUES FROM (5) TO (100);
INSERT INTO hy_fb_part SELECT * FROM hy_fb;
SELECT count(*) AS rows, bool_and((p.id, p.score, p.text_score) = (e.id, e.score, e.text_score)) AS same
	FROM (SELECT row_number() OVER () n, * FROM gigavector.hybrid_search('hy_fb_part', 'emb', '[1,1]', 'body', 'apple fig', 7, 'linear')) p
	JOIN (SELECT row_number() OVER () n, * FROM gigavector.hybrid_search('hy_fb', 'emb', '[1,1]', 'body', 'apple fig', 7, 'linear')) e
	USING (n);
-- counting reads the whole table: it needs the right to read the text column first
CREATE ROLE hy_reader;
GRANT USAGE ON SCHEMA gigavector TO hy_reader;
GRANT SELECT (id, emb) ON hy_fb TO hy_reader;
SET ROLE hy_reader;
SELECT regress.err($s$SELECT count(*) FROM gigavector.hybrid_search('hy_fb', 'emb', '[0,0]', 'body', 'apple', 3)$s$);
RESET ROLE;
GRANT SELECT (body) ON hy_fb TO hy_reader;
SET ROLE hy_reader;
SELECT count(*) FROM gigavector.hybrid_search('hy_fb', 'emb', '[0,0]', 'body', 'apple', 3);
RESET ROLE;
DROP OWNED BY hy_reader;
DROP ROLE hy_reader;
RESET default_text_search_config;

-- TTL (gigavector.enable_ttl): expired rows are never returned, to anyone
-- (the row-level security policy does not bind a superuser, hybrid_search
-- adds the condition itself), by either branch, indexed or exact.
CREATE TABLE hy_ttl (id int PRIMARY KEY, emb gvector(2), body text);
INSERT INTO hy_ttl SELECT id, emb, body FROM hy_docs;
SELECT gigavector.enable_ttl('hy_ttl');
CREATE TABLE hy_ttl_idx (LIKE hy_ttl);
ALTER TABLE hy_ttl_idx ADD PRIMARY KEY (id);
INSERT INTO hy_ttl_idx SELECT * FROM hy_ttl;
SELECT gigavector.enable_ttl('hy_ttl_idx');
CREATE INDEX ON hy_ttl_idx USING gv_bm25 (body) WITH (text_config = 'english');
CREATE INDEX ON hy_ttl_idx USING gv_hnsw (emb);
-- 1 (the best text row) and 4 (the nearest) expire; 3 expires in an hour
UPDATE hy_ttl SET expires_at = now() - interval '1 second' WHERE id IN (1, 4);
UPDATE hy_ttl SET expires_at = now() + interval '1 hour' WHERE id = 3;
UPDATE hy_ttl_idx h SET expires_at = t.expires_at FROM hy_ttl t WHERE h.id = t.id;
SELECT current_setting('is_superuser') AS superuser, count(*) AS rows_seen FROM hy_ttl;
SELECT id, vector_rank, text_rank FROM gigavector.hybrid_search('hy_ttl', 'emb', '[0,0]', 'body', 'apple', 6,
	candidates => 6, distance => 'l2');
SET enable_seqscan = off;
SELECT id, vector_rank, text_rank FROM gigavector.hybrid_search('hy_ttl_idx', 'emb', '[0,0]', 'body', 'apple', 6,
	candidates => 6);
-- k rows come back while k rows live, the filter beside the expiry
SELECT array_agg(id) FROM gigavector.hybrid_search('hy_ttl_idx', 'emb', '[0,0]', 'body', NULL, 4, candidates => 4);
SELECT array_agg(id) FROM gigavector.hybrid_search('hy_ttl_idx', 'emb', NULL, 'body', 'apple pear', 4,
	filter => 'id < 3');
RESET enable_seqscan;
-- without TTL they are back
SELECT gigavector.disable_ttl('hy_ttl_idx');
SELECT array_agg(id) FROM gigavector.hybrid_search('hy_ttl_idx', 'emb', '[0,0]', 'body', 'apple', 6, candidates => 6);
-- leave no TTL table behind for the tests after this one (ttl.sql counts them)
DROP TABLE hy_ttl, hy_ttl_idx;
SELECT count(*) FROM gigavector.ttl_tables;
