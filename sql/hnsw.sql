-- gv_hnsw: build, scans, planner choices, maintenance and errors.
-- Small tables and a large ef_search, so that results are exact and stable.
SET gigavector.hnsw_ef_search = 100;

-- l2
CREATE TABLE hnsw_t (id int, v gvector(3));
INSERT INTO hnsw_t SELECT i, ARRAY[i % 10, i / 100, (i * 7) % 13]::real[]::gvector(3)
	FROM generate_series(1, 3000) i;
INSERT INTO hnsw_t VALUES (0, NULL);
CREATE INDEX hnsw_t_l2 ON hnsw_t USING gv_hnsw (v gvector_l2_ops) WITH (m = 8, ef_construction = 32);
ANALYZE hnsw_t;
RESET gigavector.hnsw_ef_search;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_t ORDER BY v <-> '[3,3,3]' LIMIT 5;
-- no LIMIT, or descending order: not the index
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_t ORDER BY v <-> '[3,3,3]';
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_t ORDER BY v <-> '[3,3,3]' DESC LIMIT 5;
-- another operator than the class's: not the index
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_t ORDER BY v <=> '[3,3,3]' LIMIT 5;
-- a filter that keeps almost nothing: an exact plan
CREATE INDEX ON hnsw_t (id);
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_t WHERE id < 10 ORDER BY v <-> '[3,3,3]' LIMIT 5;
SET gigavector.hnsw_ef_search = 100;
-- the index returns the exact nearest distances here
CREATE FUNCTION hnsw_knn(q gvector, k int, f int) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(round(d::numeric, 4)::text, ',') FROM
		(SELECT v <-> q AS d FROM hnsw_t WHERE id % f = 0 ORDER BY v <-> q LIMIT k) s $$;
-- the same, never through the index
CREATE FUNCTION hnsw_exact(q gvector, k int, f int) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(round(d::numeric, 4)::text, ',') FROM
		(SELECT (v <-> q) + 0 AS d FROM hnsw_t WHERE id % f = 0 ORDER BY 1 LIMIT k) s $$;
SET enable_seqscan = off;
SET enable_sort = off;
SELECT hnsw_knn('[3,3,3]', 8, 1);
SELECT hnsw_knn('[9,29,0]', 8, 1);
-- the NULL row is not indexed; every other row comes back
SELECT count(*) FROM (SELECT id FROM hnsw_t ORDER BY v <-> '[0,0,0]' LIMIT 5000) s;
-- filtered: k rows even when the filter rejects most of the first batch
SET gigavector.hnsw_ef_search = 10;
SELECT count(*) FROM (SELECT id FROM hnsw_t WHERE id % 50 = 0 ORDER BY v <-> '[3,3,3]' LIMIT 10) s;
SELECT count(*) FROM (SELECT id FROM hnsw_t WHERE id % 50 = 0 ORDER BY v <-> '[3,3,3]' LIMIT 60) s;
SET gigavector.hnsw_ef_search = 100;
RESET enable_seqscan;
RESET enable_sort;
SELECT hnsw_knn('[3,3,3]', 8, 7) = hnsw_exact('[3,3,3]', 8, 7) AS filtered_exact;
SELECT elements, tombstones FROM gigavector.hnsw_verify('hnsw_t_l2');

-- inserts, deletes and vacuum
INSERT INTO hnsw_t SELECT i, ARRAY[i % 10, i / 100, (i * 7) % 13]::real[]::gvector(3)
	FROM generate_series(3001, 4000) i;
DELETE FROM hnsw_t WHERE id % 3 = 0;
VACUUM hnsw_t;
SELECT elements, tombstones, links_to_tombstones FROM gigavector.hnsw_verify('hnsw_t_l2');
INSERT INTO hnsw_t SELECT i, ARRAY[i % 10, i / 100, (i * 7) % 13]::real[]::gvector(3)
	FROM generate_series(4001, 5000) i;
SELECT elements FROM gigavector.hnsw_verify('hnsw_t_l2');
SET enable_seqscan = off;
SET enable_sort = off;
SELECT hnsw_knn('[3,3,3]', 8, 1) = hnsw_exact('[3,3,3]', 8, 1) AS exact_after_churn;
SELECT hnsw_knn('[5,40,6]', 8, 1) = hnsw_exact('[5,40,6]', 8, 1) AS exact_after_churn;
RESET enable_seqscan;
RESET enable_sort;
REINDEX INDEX hnsw_t_l2;
SELECT elements, tombstones FROM gigavector.hnsw_verify('hnsw_t_l2');
DROP TABLE hnsw_t CASCADE;

-- cosine (zero vectors are not indexed) and inner product
CREATE TABLE hnsw_c (id int, v gvector(2));
INSERT INTO hnsw_c VALUES (1, '[1,0]'), (2, '[0,1]'), (3, '[1,1]'), (4, '[0,0]'), (5, '[-1,0]');
CREATE INDEX ON hnsw_c USING gv_hnsw (v gvector_cosine_ops);
CREATE INDEX ON hnsw_c USING gv_hnsw (v gvector_ip_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_c ORDER BY v <=> '[2,1]' LIMIT 3;
SELECT id FROM hnsw_c ORDER BY v <=> '[2,1]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_c ORDER BY v <#> '[2,1]' LIMIT 3;
SELECT id FROM hnsw_c ORDER BY v <#> '[2,1]' LIMIT 3;
RESET enable_seqscan;
DROP TABLE hnsw_c;

-- a build that outgrows maintenance_work_mem goes on through the on-disk
-- path (its NOTICE gives a row count that depends on random levels)
CREATE TABLE hnsw_m (id int, v gvector(64));
INSERT INTO hnsw_m SELECT i, (SELECT array_agg(sin(i * 100 + j)::real) FROM generate_series(1, 64) j)
	FROM generate_series(1, 3000) i;
SET maintenance_work_mem = '1MB';
SET client_min_messages = warning;
CREATE INDEX hnsw_m_idx ON hnsw_m USING gv_hnsw (v) WITH (m = 8, ef_construction = 32);
RESET client_min_messages;
RESET maintenance_work_mem;
SELECT elements FROM gigavector.hnsw_verify('hnsw_m_idx');
SET enable_seqscan = off;
SELECT id FROM hnsw_m ORDER BY v <-> (SELECT v FROM hnsw_m WHERE id = 2999) LIMIT 1;
RESET enable_seqscan;
DROP TABLE hnsw_m;

-- a serial build reserves address space for all of maintenance_work_mem
-- (hnswbuild.c, ReserveArena); one that fails gives it back
CREATE FUNCTION hnsw_vmsize_kb() RETURNS bigint LANGUAGE sql
	AS $$ SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmSize:\s+(\d+)'))[1]::bigint $$;
CREATE TABLE hnsw_bad (v gvector);
INSERT INTO hnsw_bad VALUES ('[1,2,3]'), ('[4,5,6]'), ('[1,2]');
SET maintenance_work_mem = '4GB';
SELECT hnsw_vmsize_kb() AS vm_before \gset
CREATE INDEX ON hnsw_bad USING gv_hnsw ((v::gvector(3)));
SELECT hnsw_vmsize_kb() - :vm_before < 1024 * 1024 AS released;
RESET maintenance_work_mem;
DROP TABLE hnsw_bad;
DROP FUNCTION hnsw_vmsize_kb();

-- empty table, then inserts; unlogged table
CREATE TABLE hnsw_e (id int, v gvector(2));
CREATE INDEX hnsw_e_idx ON hnsw_e USING gv_hnsw (v);
SET enable_seqscan = off;
SELECT id FROM hnsw_e ORDER BY v <-> '[1,1]' LIMIT 3;
INSERT INTO hnsw_e VALUES (1, '[1,1]'), (2, '[2,2]'), (3, NULL);
SELECT id FROM hnsw_e ORDER BY v <-> '[1,1]' LIMIT 3;
RESET enable_seqscan;
SELECT elements FROM gigavector.hnsw_verify('hnsw_e_idx');
DROP TABLE hnsw_e;
CREATE UNLOGGED TABLE hnsw_u (id int, v gvector(2));
INSERT INTO hnsw_u VALUES (1, '[1,1]'), (2, '[5,5]');
CREATE INDEX ON hnsw_u USING gv_hnsw (v gvector_l2_ops);
SET enable_seqscan = off;
SELECT id FROM hnsw_u ORDER BY v <-> '[4,4]' LIMIT 1;
RESET enable_seqscan;
DROP TABLE hnsw_u;

-- searches remember which buffer held each page, per relfilenode and
-- backend: a temporary index next to a permanent one and an index rebuilt
-- between queries still give the exact answer
SET gigavector.hnsw_ef_search = 100;
CREATE TABLE hnsw_r (id int, v gvector(3));
INSERT INTO hnsw_r SELECT i, ARRAY[i % 10, i / 100, (i * 7) % 13]::real[]::gvector(3)
	FROM generate_series(1, 2000) i;
CREATE TEMP TABLE hnsw_rt (id int, v gvector(3));
INSERT INTO hnsw_rt SELECT i, ARRAY[i % 7, i / 50, (i * 3) % 11]::real[]::gvector(3)
	FROM generate_series(1, 2000) i;
CREATE INDEX hnsw_r_idx ON hnsw_r USING gv_hnsw (v) WITH (m = 8, ef_construction = 32);
CREATE INDEX hnsw_rt_idx ON hnsw_rt USING gv_hnsw (v) WITH (m = 8, ef_construction = 32);
CREATE FUNCTION hnsw_r_check(tab regclass, q gvector) RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
	idx text;
	ex text;
BEGIN
	SET LOCAL enable_seqscan = off;
	SET LOCAL enable_sort = off;
	EXECUTE format('SELECT string_agg(round(d::numeric, 4)::text, '','') FROM
		(SELECT v <-> $1 AS d FROM %s ORDER BY v <-> $1 LIMIT 8) s', tab) INTO idx USING q;
	EXECUTE format('SELECT string_agg(round(d::numeric, 4)::text, '','') FROM
		(SELECT (v <-> $1) + 0 AS d FROM %s ORDER BY 1 LIMIT 8) s', tab) INTO ex USING q;
	RETURN idx = ex;
END $$;
SELECT hnsw_r_check('hnsw_r', '[3,3,3]') AS permanent,
	hnsw_r_check('hnsw_rt', '[3,3,3]') AS temporary,
	hnsw_r_check('hnsw_r', '[5,12,6]') AS permanent_again,
	hnsw_r_check('hnsw_rt', '[5,12,6]') AS temporary_again;
REINDEX INDEX hnsw_r_idx;
DELETE FROM hnsw_r WHERE id % 2 = 0;
VACUUM hnsw_r;
SELECT hnsw_r_check('hnsw_r', '[3,3,3]') AS after_reindex_and_vacuum;
DROP TABLE hnsw_r, hnsw_rt;
DROP FUNCTION hnsw_r_check;

-- errors
CREATE TABLE hnsw_x (id int, v gvector(3), w gvector);
INSERT INTO hnsw_x VALUES (1, '[1,2,3]', '[1,2]');
CREATE INDEX ON hnsw_x USING gv_hnsw (v) WITH (m = 1);
CREATE INDEX ON hnsw_x USING gv_hnsw (v) WITH (m = 101);
CREATE INDEX ON hnsw_x USING gv_hnsw (v) WITH (ef_construction = 3);
CREATE INDEX ON hnsw_x USING gv_hnsw (v) WITH (ef_construction = 1001);
CREATE INDEX ON hnsw_x USING gv_hnsw (v) WITH (m = 40, ef_construction = 64);
CREATE INDEX ON hnsw_x USING gv_hnsw (v gvector_cosine_ops, v gvector_l2_ops);
CREATE INDEX ON hnsw_x USING gv_hnsw (v) WITH (lists = 3);
CREATE INDEX ON hnsw_x USING gv_hnsw (w);
CREATE INDEX ON hnsw_x USING gv_hnsw (v gvector_ops);
CREATE INDEX ON hnsw_x USING gv_hnsw (id);
SET gigavector.hnsw_ef_search = 0;
SET gigavector.hnsw_max_scan_tuples = 0;
CREATE INDEX hnsw_x_idx ON hnsw_x USING gv_hnsw (v);
SET enable_seqscan = off;
SELECT id FROM hnsw_x ORDER BY v <-> '[1,2]' LIMIT 1;
-- a NULL query is folded away by the planner: no index scan, no error
SELECT id FROM hnsw_x ORDER BY v <-> NULL LIMIT 1;
SELECT id FROM hnsw_x ORDER BY v <-> '[1,NaN,3]' LIMIT 1;
RESET enable_seqscan;
INSERT INTO hnsw_x VALUES (2, '[1,2]');
SELECT * FROM gigavector.hnsw_verify('hnsw_x');
SELECT elements FROM gigavector.hnsw_verify('hnsw_x_idx');
-- a CREATE INDEX CONCURRENTLY whose build fails leaves an invalid index
-- without a page: hnsw_verify says so, and so it does for an index that
-- is invalid with all its pages (a CIC cancelled after its build)
CREATE INDEX CONCURRENTLY hnsw_x_cic ON hnsw_x USING gv_hnsw (w);
SELECT indisvalid, pg_relation_size(indexrelid) FROM pg_index
	WHERE indexrelid = 'hnsw_x_cic'::regclass;
SELECT * FROM gigavector.hnsw_verify('hnsw_x_cic');
DROP INDEX hnsw_x_cic;
UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'hnsw_x_idx'::regclass;
SELECT * FROM gigavector.hnsw_verify('hnsw_x_idx');
REINDEX INDEX CONCURRENTLY hnsw_x_idx;
SELECT elements FROM gigavector.hnsw_verify('hnsw_x_idx');
-- what is not a gv_hnsw index with pages of its own
CREATE TABLE hnsw_parted (id int, v gvector(3)) PARTITION BY RANGE (id);
CREATE INDEX hnsw_parted_idx ON hnsw_parted USING gv_hnsw (v);
SELECT * FROM gigavector.hnsw_verify('hnsw_parted_idx');
DROP TABLE hnsw_parted;
SELECT * FROM gigavector.hnsw_verify(0);
DROP TABLE hnsw_x;
RESET gigavector.hnsw_ef_search;
-- identical vectors: rows whose vector and filter columns the index stores
-- as the same bytes share one graph element (7 heap TIDs in its tuple, the
-- rest in overflow tuples chained from it).  5 vectors of 200 rows each:
-- 5 elements, all reachable, every row comes back, and the nearest 200 are
-- at the exact nearest 200 distances, in order, through inserts, VACUUM,
-- reinserts and builds.
CREATE TABLE hnsw_dup (id int, v gvector(3), label int) WITH (autovacuum_enabled = off);
CREATE FUNCTION hnsw_dup_check(idx text)
RETURNS TABLE (elements bigint, unreachable bigint, tids_are_rows bool, every_row bool, filtered bool,
               nearest_200 bool)
LANGUAGE plpgsql AS $$
BEGIN
  SET LOCAL enable_seqscan = off;
  RETURN QUERY SELECT e, u, t = (SELECT count(*) FROM hnsw_dup),
    (SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM hnsw_dup ORDER BY v <-> '[1,2,1]' LIMIT 5000) s)
      IS NOT DISTINCT FROM (SELECT array_agg(id ORDER BY id) FROM hnsw_dup),
    (SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM hnsw_dup WHERE label = 1 ORDER BY v <-> '[1,2,1]' LIMIT 5000) s)
      IS NOT DISTINCT FROM (SELECT array_agg(id ORDER BY id) FROM hnsw_dup WHERE label = 1),
    (SELECT array_agg(d) FROM (SELECT v <-> '[2,4,1]' AS d FROM hnsw_dup ORDER BY v <-> '[2,4,1]' LIMIT 200) s)
      IS NOT DISTINCT FROM (SELECT array_agg(d ORDER BY d) FROM (SELECT v <-> '[2,4,1]' AS d FROM hnsw_dup ORDER BY 1 LIMIT 200) x)
  FROM (SELECT v.elements AS e, v.unreachable AS u, v.heap_tids AS t
        FROM gigavector.hnsw_verify(idx::regclass) v) x;
END $$;
-- rows i of 1..1000 that pass cond: vector i % 5, filter column a function of it
CREATE FUNCTION hnsw_dup_insert(cond text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'INSERT INTO hnsw_dup SELECT i, ARRAY[i % 5, (i % 5) * 2, 1]::float8[]::gvector, i % 5 % 2 '
    || 'FROM generate_series(1, 1000) i WHERE ' || cond;
END $$;
CREATE INDEX hnsw_dup_idx ON hnsw_dup USING gv_hnsw (v, label);
SELECT hnsw_dup_insert('true');
SELECT * FROM hnsw_dup_check('hnsw_dup_idx');
DELETE FROM hnsw_dup WHERE id % 3 = 0;
VACUUM hnsw_dup;
SELECT * FROM hnsw_dup_check('hnsw_dup_idx');
SELECT hnsw_dup_insert('i % 3 = 0');
SELECT * FROM hnsw_dup_check('hnsw_dup_idx');
-- every row of one vector gone: its element stays (empty, its overflow
-- chain kept for rows of that vector to fill again)
DELETE FROM hnsw_dup WHERE id % 5 = 0;
VACUUM hnsw_dup;
SELECT * FROM hnsw_dup_check('hnsw_dup_idx');
SELECT hnsw_dup_insert('i % 5 = 0');
SELECT * FROM hnsw_dup_check('hnsw_dup_idx');
DROP INDEX hnsw_dup_idx;
-- a build merges them the same way; int8 storage merges equal codes
CREATE INDEX hnsw_dup_idx ON hnsw_dup USING gv_hnsw (v, label);
SELECT * FROM hnsw_dup_check('hnsw_dup_idx');
DROP INDEX hnsw_dup_idx;
CREATE INDEX hnsw_dup_idx ON hnsw_dup USING gv_hnsw (v, label) WITH (storage = int8);
SELECT * FROM hnsw_dup_check('hnsw_dup_idx');
-- An element whose own row died is returned through the rows of its
-- overflow chain, also when it is the entry point: here every element's own
-- row dies (the first row of each vector, the one that made the element:
-- through inserts ids 1-5, through a build the first of each in the heap).
-- The scan took the entry point for a tombstone when its own heap TID was
-- gone, and returned none of its rows.
DROP INDEX hnsw_dup_idx;
TRUNCATE hnsw_dup;
CREATE INDEX hnsw_dup_idx ON hnsw_dup USING gv_hnsw (v, label);
SELECT hnsw_dup_insert('true');
DELETE FROM hnsw_dup WHERE id <= 5;
VACUUM hnsw_dup;
SELECT * FROM hnsw_dup_check('hnsw_dup_idx');
REINDEX INDEX hnsw_dup_idx;
DELETE FROM hnsw_dup WHERE id <= 10;
VACUUM hnsw_dup;
SELECT * FROM hnsw_dup_check('hnsw_dup_idx');
DROP TABLE hnsw_dup;
DROP FUNCTION hnsw_dup_check, hnsw_dup_insert;
-- 8,000 rows of one vector: one element of one heap TID, the others in
-- overflow tuples, each with room for as many TIDs as its chain held before
-- it: a few pages (seven TIDs a tuple took 56), every row returned; VACUUM
-- empties them and rows of the vector fill them again.
CREATE TABLE hnsw_dup1 (id int, v gvector(3)) WITH (autovacuum_enabled = off);
INSERT INTO hnsw_dup1 SELECT i, '[1,2,3]' FROM generate_series(1, 4000) i;
CREATE INDEX hnsw_dup1_idx ON hnsw_dup1 USING gv_hnsw (v);
INSERT INTO hnsw_dup1 SELECT i, '[1,2,3]' FROM generate_series(4001, 8000) i;
CREATE FUNCTION hnsw_dup1_check()
RETURNS TABLE (elements bigint, unreachable bigint, heap_tids bigint, pages_at_most_12 bool,
               every_row bool)
LANGUAGE plpgsql AS $$
BEGIN
  SET LOCAL enable_seqscan = off;
  RETURN QUERY SELECT v.elements, v.unreachable, v.heap_tids,
    pg_relation_size('hnsw_dup1_idx') <= 12 * 8192,
    (SELECT count(*) || '|' || sum(id) FROM (SELECT id FROM hnsw_dup1 ORDER BY v <-> '[1,2,3]' LIMIT 10000) s)
      = (SELECT count(*) || '|' || sum(id) FROM hnsw_dup1)
  FROM gigavector.hnsw_verify('hnsw_dup1_idx') v;
END $$;
SELECT * FROM hnsw_dup1_check();
DELETE FROM hnsw_dup1 WHERE id % 2 = 0;
VACUUM hnsw_dup1;
SELECT * FROM hnsw_dup1_check();
INSERT INTO hnsw_dup1 SELECT i, '[1,2,3]' FROM generate_series(2, 8000, 2) i;
SELECT * FROM hnsw_dup1_check();
DROP TABLE hnsw_dup1;
DROP FUNCTION hnsw_dup1_check;
