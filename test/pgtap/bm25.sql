-- gv_bm25's catalog surface (the names other code relies on) and its
-- errors: each bad input's SQLSTATE and exact message.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION gigavector;

SELECT plan(36);

-- the SQL surface
SELECT is((SELECT amtype::text FROM pg_am WHERE amname = 'gv_bm25'), 'i', 'access method gv_bm25 exists');
SELECT has_type('bm25query');
SELECT has_function('bm25query', ARRAY['regclass', 'text', 'text']);
SELECT has_function('bm25_score', ARRAY['text', 'bm25query']);
SELECT has_function('bm25_score', ARRAY['tsvector', 'bm25query']);
SELECT has_operator('text', '<&>', 'bm25query', 'double precision', 'operator text <&> bm25query');
SELECT has_operator('tsvector', '<&>', 'bm25query', 'double precision', 'operator tsvector <&> bm25query');
SELECT has_operator('text', '@@@', 'bm25query', 'boolean', 'operator text @@@ bm25query');
SELECT has_operator('tsvector', '@@@', 'bm25query', 'boolean', 'operator tsvector @@@ bm25query');
SELECT is((SELECT array_agg(format_type(c.opcintype, NULL) || ':' || c.opcname || ':' || c.opcdefault ORDER BY c.opcname)
		   FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod WHERE a.amname = 'gv_bm25'),
		  ARRAY['text:text_bm25_ops:true', 'tsvector:tsvector_bm25_ops:true'],
		  'default operator classes for text and tsvector');
SELECT is((SELECT array_agg(o.amopstrategy || ':' || o.amopopr::regoperator::text || ':' || o.amoppurpose::text ORDER BY o.amopstrategy)
		   FROM pg_amop o JOIN pg_opclass c ON c.opcfamily = o.amopfamily
		   WHERE c.opcname = 'text_bm25_ops'),
		  ARRAY['1:@@@(text,bm25query):s', '2:<&>(text,bm25query):o'],
		  '@@@ searches, <&> orders');
SELECT is((SELECT provolatile::text || proisstrict::text FROM pg_proc WHERE oid = 'bm25query(regclass,text,text)'::regprocedure),
		  'sfalse', 'bm25query is stable (it reads the index) and refuses NULLs itself');
SELECT is((SELECT pg_get_function_arguments('bm25query(regclass,text,text)'::regprocedure)),
		  'index regclass, query text, mode text DEFAULT ''or''::text', 'bm25query arguments and the default mode');
SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc p
	WHERE p.proname IN ('bm25_score', 'bm25_text_distance', 'bm25_tsvector_distance', 'bm25_text_match', 'bm25_tsvector_match')
	  AND (p.provolatile <> 'i' OR NOT p.proisstrict OR p.proparallel <> 's')$$,
	'score and match functions are immutable, strict and parallel safe');
SELECT ok(NOT has_function_privilege('public', 'gigavector.bm25_verify(regclass)', 'EXECUTE'),
		  'PUBLIC may not run bm25_verify');
SELECT ok(has_function_privilege('pg_stat_scan_tables', 'gigavector.bm25_verify(regclass)', 'EXECUTE'),
		  'pg_stat_scan_tables may run bm25_verify');
SELECT ok(NOT has_function_privilege('public', 'gigavector.bm25_verify_table(regclass)', 'EXECUTE'),
		  'PUBLIC may not run bm25_verify_table');
SELECT ok(has_function_privilege('pg_stat_scan_tables', 'gigavector.bm25_verify_table(regclass)', 'EXECUTE'),
		  'pg_stat_scan_tables may run bm25_verify_table');
SELECT is((SELECT amvalidate(c.oid) FROM pg_opclass c WHERE c.opcname = 'text_bm25_ops'), true, 'amvalidate');

CREATE TABLE t (id int, body text);
INSERT INTO t VALUES (1, 'vector search'), (2, 'neural search'), (3, NULL);
CREATE INDEX t_bm25 ON t USING gv_bm25 (body) WITH (text_config = 'english');
CREATE INDEX t_btree ON t (id);
CREATE TABLE u (body text);
CREATE INDEX u_bm25 ON u USING gv_bm25 (body);

-- errors
SELECT throws_ok($$CREATE INDEX ON t USING gv_bm25 (body) WITH (text_config = 'no_such_config')$$,
	'42704', 'text search configuration "no_such_config" does not exist', 'unknown configuration at CREATE INDEX');
SELECT throws_ok($$CREATE INDEX ON t USING gv_bm25 (body) WITH (k1 = -0.5)$$,
	'22023', 'value -0.5 out of bounds for option "k1"', 'k1 below 0');
SELECT throws_ok($$CREATE INDEX ON t USING gv_bm25 (body) WITH (b = 1.01)$$,
	'22023', 'value 1.01 out of bounds for option "b"', 'b above 1');
SELECT throws_ok($$CREATE INDEX ON t USING gv_bm25 (id)$$,
	'42704', 'data type integer has no default operator class for access method "gv_bm25"', 'a column that is not text');
SELECT throws_ok($$SELECT bm25query('t_btree', 'x')$$, '42809', '"t_btree" is not a gv_bm25 index', 'an index of another type');
SELECT throws_ok($$SELECT bm25query('t', 'x')$$, '42809', '"t" is not a gv_bm25 index', 'a table');
SELECT throws_ok($$SELECT bm25query(0, 'x')$$, '42704', 'relation with OID 0 does not exist', 'no such relation');
SELECT throws_ok($$SELECT bm25query('t_bm25', 'x', 'fuzzy')$$, '22023', 'invalid bm25query mode "fuzzy"', 'an unknown mode');
SELECT throws_ok($$SELECT bm25query('t_bm25', NULL)$$, '22004', 'the query text of a bm25query must not be NULL', 'a NULL query');
SELECT throws_ok($$SELECT bm25query(NULL, 'x')$$, '22004', 'the index of a bm25query must not be NULL', 'a NULL index');
SELECT throws_ok($$SELECT bm25query('t_bm25', 'x', NULL)$$, '22004', 'the mode of a bm25query must not be NULL', 'a NULL mode');
SELECT throws_ok($$SELECT 'x'::bm25query$$, '0A000', 'a bm25query cannot be written as a literal', 'a literal');
SET LOCAL enable_seqscan = off;
SET LOCAL plan_cache_mode = force_generic_plan;
PREPARE other(regclass) AS SELECT id FROM t ORDER BY body <&> bm25query($1, 'search') LIMIT 3;
SELECT throws_ok($$EXECUTE other('u_bm25')$$, '22023',
	'the bm25query is for index "u_bm25", but the scan uses index "t_bm25"', 'a query for another table''s index');

-- documented empty results
SELECT is((SELECT count(*)::int FROM t WHERE body @@@ bm25query('t_bm25', '')), 0, 'an empty query matches nothing');
SELECT is((SELECT count(*)::int FROM t WHERE body @@@ bm25query('t_bm25', 'the of and')), 0, 'stop words only match nothing');
SELECT is((SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM t ORDER BY body <&> bm25query('t_bm25', 'search') LIMIT 100) s),
		  ARRAY[1, 2], 'no padding rows, no NULL row');
SELECT is(bm25_score(NULL::text, bm25query('t_bm25', 'search')), NULL, 'a NULL text has a NULL score');

SELECT * FROM finish();
ROLLBACK;
