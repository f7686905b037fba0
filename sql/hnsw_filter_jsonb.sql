-- gv_hnsw jsonb filter columns: @>, ?, ?|, ?& and = tested in the graph on
-- a signature of each row's top-level pairs (src/gvfilterjsonb.c), then
-- rechecked by the executor.  Every answer is compared with the exact one
-- of a sequential scan, on rows of every shape: objects with scalars,
-- arrays and nested objects, numbers written two ways, json null, SQL NULL,
-- and jsonb that is not an object.
CREATE TABLE fj (id int PRIMARY KEY, meta jsonb, emb gvector(4)) WITH (autovacuum_enabled = off);
INSERT INTO fj SELECT i,
	CASE WHEN i % 97 = 0 THEN NULL
	     WHEN i % 89 = 0 THEN to_jsonb(ARRAY['A', 'B'])
	     WHEN i % 83 = 0 THEN to_jsonb('A'::text)
	     ELSE jsonb_build_object('category', chr(65 + i % 5), 'n', i % 10,
	                             'price', CASE WHEN i % 2 = 0 THEN (i % 7)::numeric ELSE (i % 7) + 0.0 END,
	                             'tags', jsonb_build_array('t' || (i % 3), 't' || (i % 4)),
	                             'rare', CASE WHEN i % 500 = 0 THEN 'yes' END,
	                             'nested', jsonb_build_object('x', i % 2))
	          || CASE WHEN i % 11 = 0 THEN '{"flag": true}'::jsonb ELSE '{}' END
	END,
	ARRAY[sin(i), cos(i * 1.7), sin(i * 0.3), cos(i * 2.9)]::real[]::gvector
FROM generate_series(1, 3000) i;
CREATE INDEX fj_idx ON fj USING gv_hnsw (emb, meta);
ANALYZE fj;
SELECT elements, unreachable FROM gigavector.hnsw_verify('fj_idx');
SET enable_seqscan = off;
-- the conditions the index tests itself
EXPLAIN (COSTS OFF) SELECT id FROM fj WHERE meta @> '{"category": "A"}'
	ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM fj WHERE meta ? 'flag' AND meta ?| '{rare,x}' AND meta ?& '{n,tags}'
	ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM fj WHERE meta @> ANY(ARRAY['{"n": 1}', '{"n": 2}']::jsonb[])
	ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
PREPARE fj_c(jsonb) AS SELECT id FROM fj WHERE meta @> $1 ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE fj_c('{"category": "B"}');
EXECUTE fj_c('{"category": "B"}');
SELECT id FROM fj WHERE meta @> '{"category": "B"}' ORDER BY l2_distance(emb, '[1,0,0,0]'), id LIMIT 5;
DEALLOCATE fj_c;
RESET plan_cache_mode;
-- ->> = becomes a lossy condition on the jsonb column (the planner hook of
-- src/gvplanner.c), the executor rechecks the clause itself; not under a
-- nondeterministic collation, nor for a value that depends on the row
EXPLAIN (COSTS OFF) SELECT id FROM fj WHERE meta ->> 'category' = 'A' ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
PREPARE fj_f(text, text) AS SELECT id FROM fj WHERE $2 = meta ->> $1 ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE fj_f('category', 'B');
EXECUTE fj_f('category', 'B');
DEALLOCATE fj_f;
RESET plan_cache_mode;
EXPLAIN (COSTS OFF) SELECT id FROM fj WHERE meta ->> 'category' = id::text ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
CREATE COLLATION fj_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
EXPLAIN (COSTS OFF) SELECT id FROM fj WHERE meta ->> 'category' = 'a' COLLATE fj_ci ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
SELECT count(*) FROM (SELECT id FROM fj WHERE meta ->> 'category' = 'a' COLLATE fj_ci ORDER BY emb <-> '[1,0,0,0]' LIMIT 1000) s;
DROP COLLATION fj_ci;
SELECT gigavector.jsonb_field_candidates('k', 'A'), gigavector.jsonb_field_candidates('k', '-1.50'),
	gigavector.jsonb_field_candidates('k', '[1, 2]'), gigavector.jsonb_field_candidates('k', '1e5');
-- top 10 through the index = the exact top 10, for 11 queries a condition
-- the query vectors: every 300th row, and the last
\set queries 'id % 300 = 1 OR id = 2999'
SELECT cond, regress.agree('fj', cond, :'queries') FROM unnest(ARRAY[
	'meta @> ''{"category": "A"}''', 'meta @> ''{"category": "A", "n": 5}''',
	'meta @> ''{"n": 3, "tags": ["t1"]}''', 'meta @> ''{"tags": ["t0", "t3"]}''',
	'meta @> ''{"price": 3}''', 'meta @> ''{"price": 3.00}''', 'meta @> ''{"flag": true}''',
	'meta @> ''{"rare": "yes"}''', 'meta @> ''{"rare": null}''', 'meta @> ''{"nested": {"x": 1}}''',
	'meta @> ''{"nested": {}}''', 'meta @> ''{}''', 'meta @> ''{"category": "Z"}''',
	'meta @> ''["A"]''', 'meta @> ''"A"''', 'meta @> ''{"tags": "t1"}''',
	'meta = ''"A"''', 'meta = ''["A", "B"]''',
	'meta ? ''flag''', 'meta ? ''A''', 'meta ? ''missing''', 'meta ?| ''{rare,flag}''', 'meta ?& ''{rare,flag}''',
	'meta ?| ''{}''', 'meta ?& ''{}''', 'meta ?& ''{n,NULL}''',
	'meta @> ANY(ARRAY[''{"n": 1}'', ''{"category": "C", "n": 2}'']::jsonb[])',
	'meta @> ANY(ARRAY[''{"n": 1}'', NULL]::jsonb[])', 'meta ? ANY(''{flag,rare}'')',
	'meta IS NULL', 'meta IS NOT NULL AND meta @> ''{"n": 9}''',
	'meta ->> ''category'' = ''A''', '''C'' = meta ->> ''category''', 'meta ->> ''price'' = ''3''',
	'meta ->> ''price'' = ''3.0''', 'meta ->> ''flag'' = ''true''', 'meta ->> ''rare'' = ''yes''',
	'meta ->> ''nested'' = ''{"x": 1}''', 'meta ->> ''tags'' = ''["t1", "t2"]''',
	'meta ->> ''n'' = ''7'' AND meta @> ''{"category": "C"}''', 'meta ->> ''0'' = ''A''']) cond;
-- how many rows each selective condition leaves, all of them through the index
SELECT count(*) FROM (SELECT id FROM fj WHERE meta @> '{"rare": "yes"}' ORDER BY emb <-> '[1,0,0,0]' LIMIT 100) s;
SELECT count(*) FROM (SELECT id FROM fj WHERE meta @> '["A"]' ORDER BY emb <-> '[1,0,0,0]' LIMIT 100) s;
SELECT count(*) FROM (SELECT id FROM fj WHERE meta ? 'A' ORDER BY emb <-> '[1,0,0,0]' LIMIT 100) s;
SELECT count(*) FROM (SELECT id FROM fj WHERE meta IS NULL ORDER BY emb <-> '[1,0,0,0]' LIMIT 100) s;
-- the signature rejects most rows that do not match: those the executor
-- removes are the rows that are not objects (they pass every condition)
-- and a few false positives
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
	SELECT id FROM fj WHERE meta @> '{"rare": "yes"}' ORDER BY emb <-> '[1,0,0,0]' LIMIT 100;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
	SELECT id FROM fj WHERE meta @> '{"category": "A", "n": 5}' ORDER BY emb <-> '[1,0,0,0]' LIMIT 1000;
-- conditions no row meets: no rows, no error
SELECT count(*) FROM (SELECT id FROM fj WHERE meta @> NULL ORDER BY emb <-> '[1,0,0,0]' LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM fj WHERE meta @> ANY('{}'::jsonb[]) ORDER BY emb <-> '[1,0,0,0]' LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM fj WHERE meta @> ANY('{NULL}'::jsonb[]) ORDER BY emb <-> '[1,0,0,0]' LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM fj WHERE meta ?| '{}' ORDER BY emb <-> '[1,0,0,0]' LIMIT 5) s;
-- a value that is not jsonb is the parser's error, as for any jsonb column
SELECT id FROM fj WHERE meta @> '{"category": ' ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
-- rows inserted after the build carry their signatures too
INSERT INTO fj SELECT i, jsonb_build_object('category', 'new', 'n', i), ARRAY[cos(i), sin(i), 0.1, 0.2]::real[]::gvector
	FROM generate_series(4001, 4020) i;
SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM fj WHERE meta @> '{"category": "new"}'
	ORDER BY emb <-> '[1,0,0,0]' LIMIT 50) s;
SELECT regress.agree('fj', 'meta @> ''{"category": "new", "n": 4007}''', :'queries'),
	regress.agree('fj', 'meta ? ''category''', :'queries');
-- after VACUUM (tombstones, repaired links, key directory entries removed)
DELETE FROM fj WHERE id % 3 = 0;
VACUUM fj;
SELECT elements, unreachable FROM gigavector.hnsw_verify('fj_idx');
SELECT regress.agree('fj', 'meta @> ''{"category": "C"}''', :'queries'),
	regress.agree('fj', 'meta @> ''{"rare": "yes"}''', :'queries'),
	regress.agree('fj', 'meta ?| ''{flag,category}''', :'queries');
-- an expression column makes ->> an index condition (a hashed text code)
CREATE INDEX fj_expr ON fj USING gv_hnsw (emb, (meta ->> 'category'));
DROP INDEX fj_idx;
EXPLAIN (COSTS OFF) SELECT id FROM fj WHERE meta ->> 'category' = 'A' ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
SELECT regress.agree('fj', 'meta ->> ''category'' = ''A''', :'queries'),
	regress.agree('fj', 'meta ->> ''category'' IN (''B'', ''new'')', :'queries');
RESET enable_seqscan;
DROP TABLE fj;
