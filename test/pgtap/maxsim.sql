-- The multi-vector contract: gigavector.maxsim, the @# operator and
-- gigavector.maxsim_search -- their signatures, volatility, strictness,
-- comments; scores equal to a reference computed in plain SQL from the
-- same numbers; the exact and the index-accelerated top k; every bad input
-- with its SQLSTATE and message.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION gigavector;

SELECT plan(27);

-- catalog
SELECT has_function('gigavector', 'maxsim', ARRAY['gvector[]', 'gvector[]'], 'maxsim(doc, query)');
SELECT function_returns('gigavector', 'maxsim', ARRAY['gvector[]', 'gvector[]'], 'double precision',
	'maxsim returns double precision');
SELECT volatility_is('gigavector', 'maxsim', ARRAY['gvector[]', 'gvector[]'], 'immutable', 'maxsim is IMMUTABLE');
SELECT is_strict('gigavector', 'maxsim', ARRAY['gvector[]', 'gvector[]'], 'maxsim is STRICT');
SELECT is((SELECT proparallel::text FROM pg_proc WHERE oid = 'gigavector.maxsim'::regproc), 's',
	'maxsim is PARALLEL SAFE');
SELECT has_operator('gvector[]', '@#', 'gvector[]', 'double precision', 'operator gvector[] @# gvector[]');
SELECT is((SELECT oprcom::int FROM pg_operator WHERE oprname = '@#'
	AND oprleft = 'gvector[]'::regtype AND oprright = 'gvector[]'::regtype), 0,
	'@# has no commutator (maxsim is not symmetric)');
SELECT has_function('gigavector', 'maxsim_search',
	ARRAY['regclass', 'regclass', 'gvector[]', 'integer', 'integer', 'name', 'name', 'name', 'name'],
	'maxsim_search has the fixed signature');
SELECT is(pg_get_function_arguments('gigavector.maxsim_search'::regproc),
	'documents regclass, tokens regclass, query gvector[], k integer, candidates integer DEFAULT 32, id_column name DEFAULT ''id''::name, tokens_column name DEFAULT ''tokens''::name, doc_column name DEFAULT ''doc_id''::name, token_column name DEFAULT ''token''::name',
	'maxsim_search arguments and defaults');
SELECT is(pg_get_function_result('gigavector.maxsim_search'::regproc),
	'TABLE(id bigint, score double precision)', 'maxsim_search result columns');
SELECT volatility_is('gigavector', 'maxsim_search',
	ARRAY['regclass', 'regclass', 'gvector[]', 'integer', 'integer', 'name', 'name', 'name', 'name'], 'stable',
	'maxsim_search is STABLE');
SELECT ok(obj_description('gigavector.maxsim'::regproc, 'pg_proc') IS NOT NULL
	AND obj_description('gigavector.negative_maxsim'::regproc, 'pg_proc') IS NOT NULL
	AND obj_description('gigavector.maxsim_search'::regproc, 'pg_proc') IS NOT NULL
	AND obj_description((SELECT oid FROM pg_operator WHERE oprname = '@#'
		AND oprleft = 'gvector[]'::regtype), 'pg_operator') IS NOT NULL,
	'all three and the operator are commented');

-- 60 documents of 3 tokens of 4 integer dimensions, a query of 3 tokens:
-- every product is exact in float, so the C scores must equal the SQL ones
CREATE TEMP TABLE ms_vals AS
	SELECT i, j, d, (abs(hashint4(i * 100 + j * 10 + d)) % 11 - 5)::float8 AS v
	FROM generate_series(1, 60) i, generate_series(1, 3) j, generate_series(1, 4) d;
CREATE TEMP TABLE ms_query AS
	SELECT qj, d, (((qj * 3 + d * d * 2) % 7) - 3)::float8 AS v
	FROM generate_series(1, 3) qj, generate_series(1, 4) d;
CREATE TEMP TABLE ms_docs AS
	SELECT i AS id, array_agg(tok ORDER BY j) AS tokens
	FROM (SELECT i, j, array_agg(v::real ORDER BY d)::gvector AS tok FROM ms_vals GROUP BY i, j) t
	GROUP BY i;
ALTER TABLE ms_docs ADD PRIMARY KEY (id);
CREATE TEMP TABLE ms_tokens AS SELECT id AS doc_id, unnest(tokens)::gvector(4) AS token FROM ms_docs;
CREATE INDEX ON ms_tokens USING gv_hnsw (token gvector_ip_ops);
CREATE TEMP TABLE ms_q AS
	SELECT array_agg(tok ORDER BY qj) AS q
	FROM (SELECT qj, array_agg(v::real ORDER BY d)::gvector AS tok FROM ms_query GROUP BY qj) t;
-- the reference: sum over query tokens of the max over document tokens of sum(v * w)
CREATE TEMP TABLE ms_ref AS
	SELECT i AS id, sum(best) AS score
	FROM (SELECT i, qj, max(ip) AS best
	      FROM (SELECT t.i, t.j, q.qj, sum(t.v * q.v) AS ip
	            FROM ms_vals t JOIN ms_query q USING (d) GROUP BY 1, 2, 3) p
	      GROUP BY 1, 2) b
	GROUP BY 1;

SELECT is((SELECT count(*)::int FROM ms_ref), 60, 'the reference scores all 60 documents');
SELECT results_eq(
	$$SELECT d.id, gigavector.maxsim(d.tokens, (SELECT q FROM ms_q)) FROM ms_docs d ORDER BY 1$$,
	$$SELECT id, score FROM ms_ref ORDER BY 1$$,
	'maxsim equals the SQL reference on every document');
SELECT results_eq(
	$$SELECT d.id FROM ms_docs d ORDER BY d.tokens @# (SELECT q FROM ms_q), d.id LIMIT 10$$,
	$$SELECT id FROM ms_ref ORDER BY score DESC, id LIMIT 10$$,
	'ORDER BY @# gives the exact top 10');
SELECT results_eq(
	$$SELECT id::int, score FROM gigavector.maxsim_search('ms_docs', 'ms_tokens', (SELECT q FROM ms_q), 10, 180)$$,
	$$SELECT id, score FROM ms_ref ORDER BY score DESC, id LIMIT 10$$,
	'maxsim_search with every token a candidate gives the exact top 10 with exact scores');
SELECT ok((SELECT bool_and(s.score = r.score) AND count(*) BETWEEN 1 AND 5
	FROM gigavector.maxsim_search('ms_docs', 'ms_tokens', (SELECT q FROM ms_q), 5, 2) s
	JOIN ms_ref r ON r.id = s.id),
	'maxsim_search with few candidates scores what it returns exactly');

-- bad inputs
SELECT throws_ok($$SELECT gigavector.maxsim('{}', '{"[1,1]"}')$$, '22023',
	'maxsim document must have at least one token vector', 'empty document');
SELECT throws_ok($$SELECT gigavector.maxsim('{"[1,1]"}', '{}')$$, '22023',
	'maxsim query must have at least one token vector', 'empty query');
SELECT throws_ok($$SELECT gigavector.maxsim(ARRAY['[1,1]', NULL]::gvector[], '{"[1,1]"}')$$, '22004',
	'maxsim document must not contain a null token vector', 'null document token');
SELECT throws_ok($$SELECT gigavector.maxsim('{"[1,1]"}', ARRAY[NULL]::gvector[])$$, '22004',
	'maxsim query must not contain a null token vector', 'null query token');
SELECT throws_ok($$SELECT gigavector.maxsim('{"[1,1]","[1,2,3]"}', '{"[1,1]"}')$$, '22000',
	'different gvector dimensions 2 and 3', 'mixed dimensions');
SELECT throws_ok($$SELECT gigavector.maxsim('{{"[1,1]"}}', '{"[1,1]"}')$$, '2202E',
	'maxsim document must be a one-dimensional gvector array', 'two-dimensional array');
SELECT throws_ok($$SELECT gigavector.maxsim('{"[NaN,1]"}', '{"[1,1]"}')$$, '22000',
	'NaN not allowed in gvector', 'NaN');
SELECT throws_ok($$SELECT * FROM gigavector.maxsim_search('ms_docs', 'ms_tokens', NULL, 3)$$, '22004',
	'maxsim query must not be null', 'maxsim_search: null query');
SELECT throws_ok($$SELECT * FROM gigavector.maxsim_search('ms_docs', 'ms_tokens', '{"[1,1,1,1]"}', 0)$$, '22023',
	'maxsim_search k must be at least 1', 'maxsim_search: k 0');
SELECT throws_ok($$SELECT * FROM gigavector.maxsim_search('ms_docs', 'ms_tokens', '{"[1,1,1,1]"}', 3, -1)$$, '22023',
	'maxsim_search candidates must be at least 1', 'maxsim_search: negative candidates');

SELECT * FROM finish();
ROLLBACK;
