-- The hybrid search contract: the fixed signatures of gigavector.hybrid_search
-- and gigavector.rrf, their result columns, volatility, strictness, parallel
-- safety, comments, and that a plain role may call them.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION gigavector;

SELECT plan(13);

SELECT has_function('gigavector', 'hybrid_search',
	ARRAY['regclass', 'name', 'gvector', 'name', 'text', 'integer', 'text', 'double precision',
	      'double precision', 'text', 'integer', 'integer', 'text', 'text'],
	'hybrid_search has the fixed signature');
SELECT function_returns('gigavector', 'hybrid_search',
	ARRAY['regclass', 'name', 'gvector', 'name', 'text', 'integer', 'text', 'double precision',
	      'double precision', 'text', 'integer', 'integer', 'text', 'text'],
	'setof record', 'hybrid_search returns a set');
SELECT is((SELECT array_agg(n || ':' || format_type(t, NULL) ORDER BY o)
	FROM pg_proc p, unnest(p.proargnames, p.proallargtypes::oid[], p.proargmodes::text[]) WITH ORDINALITY u(n, t, m, o)
	WHERE p.oid = 'gigavector.hybrid_search'::regproc AND m = 't'),
	ARRAY['id:bigint', 'score:double precision', 'vector_rank:integer', 'text_rank:integer',
	      'vector_distance:double precision', 'text_score:double precision'],
	'hybrid_search result columns');
SELECT is((SELECT pronargdefaults::int FROM pg_proc WHERE oid = 'gigavector.hybrid_search'::regproc), 8,
	'hybrid_search: the last eight arguments have defaults');
SELECT ok(pg_get_function_arguments('gigavector.hybrid_search'::regproc) LIKE
	'%fusion text DEFAULT ''rrf''::text, vector_weight double precision DEFAULT 0.5, text_weight double precision DEFAULT 0.5, normalization text DEFAULT ''min_max''::text, rrf_k integer DEFAULT 60, candidates integer DEFAULT NULL::integer, filter text DEFAULT NULL::text, distance text DEFAULT NULL::text',
	'hybrid_search defaults as in the issue');
SELECT volatility_is('gigavector', 'hybrid_search',
	ARRAY['regclass', 'name', 'gvector', 'name', 'text', 'integer', 'text', 'double precision',
	      'double precision', 'text', 'integer', 'integer', 'text', 'text'], 'stable',
	'hybrid_search is STABLE (the branches only read)');
SELECT isnt_strict('gigavector', 'hybrid_search',
	ARRAY['regclass', 'name', 'gvector', 'name', 'text', 'integer', 'text', 'double precision',
	      'double precision', 'text', 'integer', 'integer', 'text', 'text'],
	'hybrid_search is not STRICT (a NULL query part runs one branch)');
SELECT is((SELECT proparallel::text FROM pg_proc WHERE oid = 'gigavector.hybrid_search'::regproc), 'r',
	'hybrid_search is PARALLEL RESTRICTED (it runs SPI statements)');
SELECT has_function('gigavector', 'rrf', ARRAY['integer', 'integer'], 'rrf(rank, k)');
SELECT volatility_is('gigavector', 'rrf', ARRAY['integer', 'integer'], 'immutable', 'rrf is IMMUTABLE');
SELECT is_strict('gigavector', 'rrf', ARRAY['integer', 'integer'], 'rrf is STRICT');
SELECT ok(obj_description('gigavector.hybrid_search'::regproc, 'pg_proc') IS NOT NULL
	AND obj_description('gigavector.rrf'::regproc, 'pg_proc') IS NOT NULL, 'both are commented');
CREATE ROLE gv_hybrid_plain;
SET ROLE gv_hybrid_plain;
SELECT ok(has_function_privilege('gigavector.hybrid_search(regclass, name, gvector, name, text, integer, text, double precision, double precision, text, integer, integer, text, text)', 'EXECUTE')
	AND gigavector.rrf(1, 1) = 0.5, 'a plain role may call them');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
