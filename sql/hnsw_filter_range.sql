-- gv_hnsw filter columns beyond "=": ranges (< <= >= > BETWEEN) on
-- integers, floats, dates and timestamps, IS [NOT] NULL, and = ANY / IN
-- (through the planner hook of hnswplanner.c).  Every answer is compared
-- with the exact one of a sequential scan.
CREATE TABLE fr (id int PRIMARY KEY, price float8, qty int, day date, ts timestamptz,
                 tag text, f4 real, emb gvector(4)) WITH (autovacuum_enabled = off);
INSERT INTO fr SELECT i, CASE WHEN i % 50 = 0 THEN NULL ELSE (i % 100) / 4.0 - 5 END,
       i % 37 - 10, date '2026-01-01' + i % 30,
       timestamptz '2026-01-01 00:00+00' + (i % 48) * interval '1 hour',
       'tag' || (i % 7), ((i % 20) - 10) / 3.0,
       ARRAY[sin(i), cos(i * 1.7), sin(i * 0.3), cos(i * 2.9)]::real[]::gvector
FROM generate_series(1, 3000) i;
-- special floats: NaN sorts above everything and equals itself; -0 = 0
INSERT INTO fr VALUES (3001, 'NaN', 0, '2026-02-01', '2026-01-01 00:00+00', 'x', 'NaN', '[0.5,0.5,0.5,0.5]'),
                      (3002, '-0', 0, '2026-02-01', '2026-01-01 00:00+00', 'x', '-0', '[0.5,0.5,0.5,-0.4]'),
                      (3003, 'Infinity', 0, '2026-02-01', '2026-01-01 00:00+00', 'x', '-Infinity', '[0.5,-0.3,0.5,0.5]');
CREATE INDEX fr_idx ON fr USING gv_hnsw (emb, price, qty, day, ts, tag, f4);
ANALYZE fr;
SELECT elements, unreachable FROM gigavector.hnsw_verify('fr_idx');
SET enable_seqscan = off;
-- the conditions the index tests itself
EXPLAIN (COSTS OFF) SELECT id FROM fr WHERE price < 3 AND qty BETWEEN 0 AND 5
	ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM fr WHERE day >= '2026-01-05' AND ts < '2026-01-02 00:00+00'
	AND f4 > 0.5::float8 ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM fr WHERE price IS NULL ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM fr WHERE price IS NOT NULL AND qty > -3::smallint
	ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
-- IN and = ANY, on integers and on hashed text (rechecked), as bound
-- parameters too (a generic plan), and op ANY for the ranges
EXPLAIN (COSTS OFF) SELECT id FROM fr WHERE qty IN (1, 2, 3) ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM fr WHERE tag = ANY('{tag1,tag2}') AND qty < ANY('{0,5}')
	ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
PREPARE fr_in(int[]) AS SELECT id FROM fr WHERE qty = ANY($1) ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE fr_in('{1,2}');
EXECUTE fr_in('{1,2}');
SELECT id FROM fr WHERE qty = ANY('{1,2}') ORDER BY l2_distance(emb, '[1,0,0,0]'), id LIMIT 5;
DEALLOCATE fr_in;
RESET plan_cache_mode;
-- <> ALL (NOT IN) is not an index condition: the executor applies it
EXPLAIN (COSTS OFF) SELECT id FROM fr WHERE qty NOT IN (1, 2, 3) ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
-- no index holds NULL vectors: "emb IS NULL" is never an index scan
EXPLAIN (COSTS OFF) SELECT id FROM fr WHERE emb IS NULL ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
-- top 10 through the index = the exact top 10, for 11 queries a condition
-- the query vectors: every 300th row, and the last
\set queries 'id % 300 = 1 OR id = 3001'
SELECT cond, regress.agree('fr', cond, :'queries') FROM unnest(ARRAY[
	'price < 3', 'price <= -4.75', 'price > 19', 'price >= 19.75 OR price IS NULL',
	'price BETWEEN -1.25 AND 2.5', 'price > 1e308', 'price = ''NaN''', 'price = 0',
	'price < ''-Infinity''', 'price IS NULL', 'price IS NOT NULL AND qty = 3',
	'qty >= 20', 'qty < -9', 'qty > -3::smallint', 'qty <= 5::bigint AND qty > 4',
	'qty IN (1, 2, 3)', 'qty = ANY(ARRAY[-10, 26]::bigint[])', 'qty IN (1, NULL)',
	'qty IN (-10) AND price IN (-5, -4.75, 19.75)', 'qty > ANY(''{25, 20}'')', 'qty <= ANY(''{-9, -10}'')',
	'f4 IN (-1, 1, ''NaN'')', 'day IN (''2026-01-02'', ''2026-02-01'')', 'tag IN (''tag3'') AND qty IN (4, 5, 6)',
	'qty NOT IN (1, 2, 3)',
	'day BETWEEN ''2026-01-05'' AND ''2026-01-07''', 'day > ''2026-01-31''',
	'ts >= ''2026-01-02 20:00+00''', 'ts < ''2026-01-01 02:00+00'' AND day < ''2026-01-03''',
	'tag IN (''tag1'', ''tag5'')', 'f4 < -2.5', 'f4 = 1', 'f4 > 0.5::float8',
	'f4 = ''NaN''', 'f4 < -1e30', 'f4 = 0']) cond;
-- how many rows each selective condition leaves, all of them through the index
SELECT count(*) FROM (SELECT id FROM fr WHERE price <= -4.75 ORDER BY emb <-> '[1,0,0,0]' LIMIT 100) s;
SELECT count(*) FROM (SELECT id FROM fr WHERE price > 1e308 ORDER BY emb <-> '[1,0,0,0]' LIMIT 100) s;
SELECT count(*) FROM (SELECT id FROM fr WHERE price IS NULL ORDER BY emb <-> '[1,0,0,0]' LIMIT 100) s;
SELECT count(*) FROM (SELECT id FROM fr WHERE price = 0 ORDER BY emb <-> '[1,0,0,0]' LIMIT 100) s;
-- conditions no row meets: no rows, no error
SELECT count(*) FROM (SELECT id FROM fr WHERE qty < NULL ORDER BY emb <-> '[1,0,0,0]' LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM fr WHERE qty = ANY('{}'::int[]) ORDER BY emb <-> '[1,0,0,0]' LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM fr WHERE qty = ANY('{NULL}'::int[]) ORDER BY emb <-> '[1,0,0,0]' LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM fr WHERE qty = ANY(NULL::int[]) ORDER BY emb <-> '[1,0,0,0]' LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM fr WHERE qty > 5 AND qty < 3 ORDER BY emb <-> '[1,0,0,0]' LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM fr WHERE emb IS NULL ORDER BY emb <-> '[1,0,0,0]' LIMIT 5) s;
-- rows inserted after the build carry their codes too
INSERT INTO fr SELECT i, -100 - i, 500, '2027-01-01', '2027-01-01 00:00+00', 'new', -50,
	ARRAY[cos(i), sin(i), 0.1, 0.2]::real[]::gvector FROM generate_series(4001, 4020) i;
SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM fr WHERE price < -100 AND qty >= 500
	ORDER BY emb <-> '[1,0,0,0]' LIMIT 50) s;
SELECT regress.agree('fr', 'price BETWEEN -110 AND -105', :'queries'),
	regress.agree('fr', 'day >= ''2027-01-01''', :'queries'), regress.agree('fr', 'f4 <= -50', :'queries');
RESET enable_seqscan;
DROP TABLE fr;
