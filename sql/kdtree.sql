-- gv_kdtree: exact k-NN index
SET client_min_messages = warning;

-- kd_exact(table, operator, query, k): the index scan returns k distinct rows
-- whose distances equal, position by position, those of a sequential scan.
-- Equal up to 1e-6 (relative for L2, absolute for cosine): the AVX-512
-- kernels round differently with the alignment of the stored vector, so even
-- a sequential scan's values move in the last bits with where a tuple sits.
CREATE FUNCTION kd_exact(tbl regclass, op text, q gvector, k int) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	sql text := format('SELECT array_agg(id ORDER BY n), array_agg(d ORDER BY n) FROM '
		'(SELECT id, emb %s %L::gvector AS d, row_number() OVER () AS n FROM '
		'(SELECT id, emb FROM %s ORDER BY emb %s %L::gvector LIMIT %s) s) t',
		op, q, tbl, op, q, k);
	iid int[]; idist float8[]; sid int[]; sdist float8[];
	used boolean := false;
	line text;
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	PERFORM set_config('enable_indexscan', 'on', true);
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) SELECT id FROM ' || tbl || ' ORDER BY emb ' || op || ' ' || quote_literal(q) || '::gvector LIMIT ' || k LOOP
		used := used OR line LIKE '%Index Scan%';
	END LOOP;
	EXECUTE sql INTO iid, idist;
	PERFORM set_config('enable_seqscan', 'on', true);
	PERFORM set_config('enable_indexscan', 'off', true);
	EXECUTE sql INTO sid, sdist;
	PERFORM set_config('enable_indexscan', 'on', true);
	IF NOT used THEN
		RAISE NOTICE 'index not used';
		RETURN false;
	END IF;
	IF cardinality(iid) IS DISTINCT FROM cardinality(sid)
		OR (SELECT count(DISTINCT x) FROM unnest(iid) x) <> cardinality(iid)
		OR EXISTS (SELECT FROM unnest(idist, sdist) u(a, b)
				   WHERE abs(a - b) > CASE op WHEN '<=>' THEN 1e-6 ELSE 1e-6 * abs(b) + 1e-30 END) THEN
		RAISE NOTICE 'index % vs seqscan %', idist, sdist;
		RETURN false;
	END IF;
	RETURN true;
END $$;

-- L2 on small 2-D data, built then grown by inserts (leaf splits)
CREATE TABLE kd (id int, emb gvector(2));
INSERT INTO kd SELECT i, ARRAY[(i * 7919) % 101, (i * 104729) % 97]::gvector
	FROM generate_series(1, 2000) i;
INSERT INTO kd VALUES (0, NULL);
CREATE INDEX kd_idx ON kd USING gv_kdtree (emb);
EXPLAIN (COSTS OFF) SELECT id FROM kd ORDER BY emb <-> '[3,4]' LIMIT 5;
SELECT id, emb, emb <-> '[3,4]' AS d FROM kd ORDER BY emb <-> '[3,4]', id LIMIT 5;
SELECT kd_exact('kd', '<->', '[3,4]', 50), kd_exact('kd', '<->', '[-10,200]', 2000),
	kd_exact('kd', '<->', '[50.5,48.5]', 7);
INSERT INTO kd SELECT i, ARRAY[(i * 31) % 113 - 5, (i * 17) % 89 + 0.5]::gvector
	FROM generate_series(2001, 6000) i;
SELECT kd_exact('kd', '<->', '[3,4]', 100), kd_exact('kd', '<->', '[60,-3]', 6000);
-- <-> rows need no recheck: LIMIT 10 fetches 10 heap tuples, not the 11th
-- and more that the executor's reorder queue would need to release the 10th
SET enable_seqscan = off;
BEGIN;
SELECT pg_stat_get_xact_tuples_fetched('kd_idx'::regclass) AS fetched_before \gset
SELECT count(*) FROM (SELECT id FROM kd ORDER BY emb <-> '[3.5,4.25]' LIMIT 10) s;
SELECT pg_stat_get_xact_tuples_fetched('kd_idx'::regclass) - :fetched_before AS heap_fetches;
COMMIT;
RESET enable_seqscan;
-- a WHERE filter stays exact: the scan goes on as long as rows are asked for
SELECT count(*) FROM (SELECT id FROM kd WHERE id % 1000 = 0 ORDER BY emb <-> '[3,4]' LIMIT 10) s;
-- NULL vectors are skipped
SELECT count(*) FROM (SELECT id FROM kd ORDER BY emb <-> '[0,0]' LIMIT 10000) s;
-- deletes through VACUUM
DELETE FROM kd WHERE id % 2 = 0;
VACUUM kd;
SELECT count(*), kd_exact('kd', '<->', '[3,4]', 100) FROM (SELECT id FROM kd ORDER BY emb <-> '[0,0]' LIMIT 10000) s;
-- query of the wrong dimensions
SELECT id FROM kd ORDER BY emb <-> '[1,2,3]' LIMIT 1;

-- L2 scans hand the executor the operator's own value (no recheck): the
-- distances must come out in exactly a sequential sort's order, bit for bit,
-- in 2-D (inlined distance) and 5-D (kernel), with coordinates that round
CREATE TABLE kd_bits (id int, emb gvector(2), emb5 gvector(5));
INSERT INTO kd_bits SELECT i, ARRAY[sin(i) * 97.3, cos(i * 1.7) * 0.013]::gvector,
	ARRAY[sin(i) * 1e3, cos(i) * 1e-3, i % 17, 1.0 / i, sin(i * i)]::gvector
	FROM generate_series(1, 4000) i;
CREATE INDEX kd_bits_2 ON kd_bits USING gv_kdtree (emb);
CREATE INDEX kd_bits_5 ON kd_bits USING gv_kdtree (emb5);
CREATE FUNCTION kd_bitexact(q gvector, q5 gvector) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE a float8[]; b float8[]; a5 float8[]; b5 float8[];
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	SELECT array_agg(d ORDER BY n) INTO a FROM (SELECT emb <-> q AS d, row_number() OVER () n
		FROM (SELECT emb FROM kd_bits ORDER BY emb <-> q LIMIT 4000) s) t;
	SELECT array_agg(d ORDER BY n) INTO a5 FROM (SELECT emb5 <-> q5 AS d, row_number() OVER () n
		FROM (SELECT emb5 FROM kd_bits ORDER BY emb5 <-> q5 LIMIT 4000) s) t;
	PERFORM set_config('enable_seqscan', 'on', true);
	SELECT array_agg(emb <-> q ORDER BY emb <-> q) INTO b FROM kd_bits;
	SELECT array_agg(emb5 <-> q5 ORDER BY emb5 <-> q5) INTO b5 FROM kd_bits;
	RETURN a = b AND a5 = b5;
END $$;
SELECT kd_bitexact('[0.1,0.001]', '[1,0,3,0.5,0]'), kd_bitexact('[-97.3,0.013]', '[-1000,0.001,16,1,-1]'),
	kd_bitexact('[33.3333,-0.0051]', '[0.5,0.5,0.5,0.5,0.5]');
DROP TABLE kd_bits;
DROP FUNCTION kd_bitexact;

-- a build larger than maintenance_work_mem goes in batches: the first is
-- built, the others routed into its leaves, rebuilding full ones; sorted
-- input (each batch lands on the tree's edge) and duplicates included
CREATE TABLE kd_big (id int, emb gvector(8));
INSERT INTO kd_big SELECT i, ARRAY[i, sin(i) * 100, i % 13, cos(i), 0, 1, (i * 7) % 101, i / 1000]::gvector
	FROM generate_series(1, 40000) i;
INSERT INTO kd_big SELECT i, ARRAY[5, 5, 5, 5, 5, 5, 5, 5]::gvector FROM generate_series(40001, 43000) i;
INSERT INTO kd_big SELECT i, ARRAY[sin(i) * 4e4, cos(i) * 100, i % 7, 0, 0, 0, 0, 0]::gvector
	FROM generate_series(43001, 60000) i;
SET maintenance_work_mem = '1MB';
SET client_min_messages = debug1;
CREATE INDEX kd_big_idx ON kd_big USING gv_kdtree (emb);
SET client_min_messages = warning;
CREATE INDEX kd_big_cos ON kd_big USING gv_kdtree (emb gvector_cosine_ops);
RESET maintenance_work_mem;
SELECT kd_exact('kd_big', '<->', '[5,5,5,5,5,5,5,5]', 3100), kd_exact('kd_big', '<->', '[40000,0,0,0,0,0,0,40]', 50),
	kd_exact('kd_big', '<->', '[-30000,50,3,0,0,0,0,0]', 500), kd_exact('kd_big', '<->', '[20000,-100,6,1,0,1,50,20]', 10);
SET enable_seqscan = off;
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM kd_big ORDER BY emb <-> '[0,0,0,0,0,0,0,0]') s;
RESET enable_seqscan;
-- kdtree_verify: every point inside its cell, each page reached once; a
-- binary tree has one node fewer than leaves
SELECT points, leaves > 100, nodes = leaves - 1 FROM gigavector.kdtree_verify('kd_big_idx');
SELECT points, nodes = leaves - 1 FROM gigavector.kdtree_verify('kd_big_cos');
SELECT kd_exact('kd_big', '<=>', '[5,5,5,5,5,5,5,5]', 3100), kd_exact('kd_big', '<=>', '[1,-1,0,0,0,0,0,2]', 100);
-- and it takes deletes (VACUUM) and inserts like a tree built in one go
DELETE FROM kd_big WHERE id % 3 = 0;
VACUUM kd_big;
INSERT INTO kd_big SELECT i, ARRAY[i % 50, -i, 1, 2, 3, 4, 5, i % 3]::gvector FROM generate_series(60001, 63000) i;
SELECT kd_exact('kd_big', '<->', '[5,5,5,5,5,5,5,5]', 2100), kd_exact('kd_big', '<->', '[25,-61500,1,2,3,4,5,1]', 300),
	kd_exact('kd_big', '<=>', '[1,-1,0,0,0,0,0,2]', 100);
SELECT v.points = (SELECT count(*) FROM kd_big), v.nodes = v.leaves - 1
	FROM gigavector.kdtree_verify('kd_big_idx') v;
DROP TABLE kd_big;

-- L2 scans cache the root node in rd_amcache: TRUNCATE and REINDEX (new
-- relfilenode, relcache flush) must not leave a scan on the old root
CREATE TABLE kd_cache (id int, emb gvector(2));
INSERT INTO kd_cache SELECT i, ARRAY[i % 97, i % 89]::gvector FROM generate_series(1, 3000) i;
CREATE INDEX kd_cache_idx ON kd_cache USING gv_kdtree (emb);
SELECT kd_exact('kd_cache', '<->', '[3,4]', 20);
TRUNCATE kd_cache;
INSERT INTO kd_cache VALUES (1, '[1,1]'), (2, '[2,2]'), (3, '[3,3]');
SELECT kd_exact('kd_cache', '<->', '[3,4]', 3);
INSERT INTO kd_cache SELECT i, ARRAY[i % 53, -i % 61]::gvector FROM generate_series(4, 3000) i;
SELECT kd_exact('kd_cache', '<->', '[3,4]', 3000);
REINDEX INDEX kd_cache_idx;
SELECT kd_exact('kd_cache', '<->', '[30,-40]', 3000);
DROP TABLE kd_cache;

-- adversarial: all points equal, duplicates, a line
CREATE TABLE kd_adv (id int, emb gvector(3));
INSERT INTO kd_adv SELECT i, '[1,1,1]' FROM generate_series(1, 1500) i;
CREATE INDEX kd_adv_idx ON kd_adv USING gv_kdtree (emb);
INSERT INTO kd_adv SELECT i, ARRAY[i % 3, i % 3, 0]::gvector FROM generate_series(1501, 3000) i;
INSERT INTO kd_adv SELECT i, ARRAY[i, 2 * i, -i]::gvector FROM generate_series(3001, 4000) i;
SELECT kd_exact('kd_adv', '<->', '[1,1,1]', 1600), kd_exact('kd_adv', '<->', '[3500,7000,-3500]', 20),
	kd_exact('kd_adv', '<->', '[0,0,0]', 4000);

-- huge and tiny coordinates: float sums overflow or underflow
CREATE TABLE kd_ext (id int, emb gvector(2));
INSERT INTO kd_ext SELECT i, ARRAY[i * 1e36, -i * 1e36]::gvector FROM generate_series(1, 300) i;
INSERT INTO kd_ext SELECT i, ARRAY[i * 1e-40, i * 1e-41]::gvector FROM generate_series(301, 600) i;
INSERT INTO kd_ext SELECT i, ARRAY[i, i]::gvector FROM generate_series(601, 900) i;
CREATE INDEX ON kd_ext USING gv_kdtree (emb);
SELECT kd_exact('kd_ext', '<->', '[0,0]', 900), kd_exact('kd_ext', '<->', '[3e38,-3e38]', 900),
	kd_exact('kd_ext', '<->', '[1e-39,0]', 400);

-- cosine, with zero and near-zero vectors
CREATE TABLE kd_cos (id int, emb gvector(3));
INSERT INTO kd_cos SELECT i, ARRAY[sin(i), cos(i), sin(2 * i)]::gvector FROM generate_series(1, 3000) i;
INSERT INTO kd_cos VALUES (3001, '[0,0,0]'), (3002, '[0,0,0]');
CREATE INDEX kd_cos_idx ON kd_cos USING gv_kdtree (emb gvector_cosine_ops);
EXPLAIN (COSTS OFF) SELECT id FROM kd_cos ORDER BY emb <=> '[1,2,3]' LIMIT 5;
SELECT kd_exact('kd_cos', '<=>', '[1,2,3]', 10), kd_exact('kd_cos', '<=>', '[-1,0,0]', 3002),
	kd_exact('kd_cos', '<=>', '[0,0,0]', 3002);
INSERT INTO kd_cos VALUES (3003, '[1e-20,2e-20,0]');
SELECT kd_exact('kd_cos', '<=>', '[1,2,3]', 10), kd_exact('kd_cos', '<=>', '[1e30,1e30,1e30]', 3003);

-- empty table, then inserts into it
CREATE TABLE kd_empty (id int, emb gvector(4));
CREATE INDEX ON kd_empty USING gv_kdtree (emb) WITH (fillfactor = 50);
SELECT id FROM kd_empty ORDER BY emb <-> '[1,2,3,4]' LIMIT 3;
SELECT * FROM gigavector.kdtree_verify('kd_empty_emb_idx');
INSERT INTO kd_empty SELECT i, ARRAY[i, -i, i % 7, 1]::gvector FROM generate_series(1, 500) i;
SELECT kd_exact('kd_empty', '<->', '[10,-10,3,1]', 20);
-- the inserts split the first leaf, and again
SELECT points, leaves > 2, nodes = leaves - 1 FROM gigavector.kdtree_verify('kd_empty_emb_idx');

-- typmod-less column: one dimension per index
CREATE TABLE kd_any (id int, emb gvector);
INSERT INTO kd_any VALUES (1, '[1,2]'), (2, '[1,2,3]');
CREATE INDEX ON kd_any USING gv_kdtree (emb);
DELETE FROM kd_any WHERE id = 2;
CREATE INDEX kd_any_idx ON kd_any USING gv_kdtree (emb);
INSERT INTO kd_any VALUES (3, '[1,2,3]');
INSERT INTO kd_any VALUES (4, '[5,6]');
SELECT id FROM kd_any ORDER BY emb <-> '[5,5]' LIMIT 2;

-- errors
SELECT * FROM gigavector.kdtree_verify('kd');
CREATE INDEX kd_id_btree ON kd (id);
SELECT * FROM gigavector.kdtree_verify('kd_id_btree');
DROP INDEX kd_id_btree;
CREATE INDEX ON kd USING gv_kdtree (emb gvector_ip_ops);
CREATE TABLE kd_wide (emb gvector(129));
CREATE INDEX ON kd_wide USING gv_kdtree (emb);
SET client_min_messages = notice;
CREATE TABLE kd_high (emb gvector(40));
CREATE INDEX ON kd_high USING gv_kdtree (emb);
CREATE INDEX ON kd USING gv_kdtree (emb) WITH (fillfactor = 5);
-- without ORDER BY the index is not used
EXPLAIN (COSTS OFF) SELECT id FROM kd WHERE id = 3;

-- ghalfvec: the halves widened to floats exactly, so the answers are exact
-- (L2, cosine and L1; ties on the coarse grid count as right answers)
SET client_min_messages = warning;
CREATE TABLE kdh (id int, emb ghalfvec(8));
INSERT INTO kdh SELECT i, (SELECT array_agg(((i * 7919 + j * 104729) % 1009) / 16.0 - 30 ORDER BY j)
	FROM generate_series(1, 8) j)::real[]::ghalfvec FROM generate_series(1, 3000) i;
INSERT INTO kdh VALUES (0, '[0,0,0,0,0,0,0,0]'), (-1, NULL);
CREATE INDEX kdh_l2 ON kdh USING gv_kdtree (emb);
INSERT INTO kdh SELECT i, (SELECT array_agg(((i * 31 + j * 17) % 499) / 8.0 - 25 ORDER BY j)
	FROM generate_series(1, 8) j)::real[]::ghalfvec FROM generate_series(3001, 4000) i;
SELECT min(regress.recall('kdh', 'emb', '<->', emb, 10, true)) AS l2_recall,
	count(*) AS queries FROM kdh WHERE id % 200 = 1;
SELECT points FROM gigavector.kdtree_verify('kdh_l2');
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM kdh ORDER BY emb <-> '[1,2,3,4,5,6,7,8]' LIMIT 3;
SELECT regress.err($$SELECT id FROM kdh ORDER BY emb <-> '[1,2]'::ghalfvec LIMIT 1$$);
RESET enable_seqscan;
DROP INDEX kdh_l2;
CREATE INDEX kdh_cos ON kdh USING gv_kdtree (emb ghalfvec_cosine_ops);
SELECT min(regress.recall('kdh', 'emb', '<=>', emb, 10, true)) AS cosine_recall
	FROM kdh WHERE id % 200 = 2;
DROP INDEX kdh_cos;
CREATE INDEX kdh_l1 ON kdh USING gv_kdtree (emb ghalfvec_l1_ops);
SELECT min(regress.recall('kdh', 'emb', '<+>', emb, 10, true)) AS l1_recall
	FROM kdh WHERE id % 200 = 3;
-- no inner product class for ghalfvec, as for gvector there is only a refusal
SELECT regress.err($$CREATE INDEX ON kdh USING gv_kdtree (emb ghalfvec_ip_ops)$$);

DROP TABLE kd, kd_adv, kd_ext, kd_cos, kd_empty, kd_any, kd_wide, kd_high, kdh;
DROP FUNCTION kd_exact;
