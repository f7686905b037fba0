-- gv_hnsw storage: float16 and int8 vectors for dimensions that do not fit
-- on a page as float32, with exact re-ranking from the table.
SET client_min_messages = notice;
CREATE TABLE hs (id int PRIMARY KEY, v gvector(2500));
INSERT INTO hs SELECT i, (SELECT array_agg(sin(i * 0.37 + j * 1.3 + (i % 7) * j * 0.01)::real)
                          FROM generate_series(1, 2500) j)::gvector
FROM generate_series(1, 300) i;
-- auto picks float16 (2,500 float32 dimensions do not fit), and says so
CREATE INDEX hs_auto ON hs USING gv_hnsw (v);
SELECT elements, tombstones, unreachable FROM gigavector.hnsw_verify('hs_auto');
-- the same top 10, in the same order, as an exact scan, for 10 queries
SET enable_seqscan = off;
SELECT count(*) FILTER (WHERE idx = ex) AS same, count(*) AS queries
FROM (SELECT ARRAY(SELECT id FROM hs ORDER BY v <-> q.v LIMIT 10) AS idx,
             ARRAY(SELECT id FROM hs ORDER BY l2_distance(v, q.v), id LIMIT 10) AS ex
      FROM hs q WHERE q.id % 30 = 0) t;
EXPLAIN (COSTS OFF) SELECT id FROM hs ORDER BY v <-> '[1]'::gvector LIMIT 3;
-- distances come back exact and in order (re-ranked from the table)
SELECT bool_and(d >= prev) AS ordered, count(*) FROM (
  SELECT d, lag(d, 1, 0) OVER (ORDER BY n) AS prev FROM (
    SELECT row_number() OVER () AS n, d FROM (
      SELECT v <-> (SELECT v FROM hs WHERE id = 7) AS d FROM hs
      ORDER BY v <-> (SELECT v FROM hs WHERE id = 7) LIMIT 50) a) b) c;
-- inserts after the build, then a delete and VACUUM
INSERT INTO hs SELECT 1000 + i, (SELECT array_agg(cos(i * 0.11 + j * 0.7)::real)
                                 FROM generate_series(1, 2500) j)::gvector
FROM generate_series(1, 20) i;
SELECT id FROM hs ORDER BY v <-> (SELECT v FROM hs WHERE id = 1005) LIMIT 1;
DELETE FROM hs WHERE id % 3 = 0;
VACUUM hs;
SELECT elements, tombstones, links_to_tombstones, unreachable FROM gigavector.hnsw_verify('hs_auto');
SELECT count(*) FILTER (WHERE idx = ex) AS same, count(*) AS queries
FROM (SELECT ARRAY(SELECT id FROM hs ORDER BY v <-> q.v LIMIT 10) AS idx,
             ARRAY(SELECT id FROM hs ORDER BY l2_distance(v, q.v), id LIMIT 10) AS ex
      FROM hs q WHERE q.id % 29 = 1) t;
RESET enable_seqscan;
-- float16 cannot hold 65520 or more: the row is refused, nothing is stored
INSERT INTO hs SELECT 5000, array_fill(70000::real, ARRAY[2500])::gvector;
SELECT count(*) FROM hs WHERE id = 5000;
DROP INDEX hs_auto;

-- int8 chosen explicitly, cosine; a column with huge values is fine under int8
CREATE INDEX hs_i8 ON hs USING gv_hnsw (v gvector_cosine_ops) WITH (storage = int8);
INSERT INTO hs SELECT 5000, array_fill(70000::real, ARRAY[2500])::gvector;
SET enable_seqscan = off;
SELECT count(*) FILTER (WHERE idx = ex) AS same, count(*) AS queries
FROM (SELECT ARRAY(SELECT id FROM hs ORDER BY v <=> q.v LIMIT 10) AS idx,
             ARRAY(SELECT id FROM hs ORDER BY cosine_distance(v, q.v), id LIMIT 10) AS ex
      FROM hs q WHERE q.id % 29 = 1) t;
RESET enable_seqscan;
SELECT elements FROM gigavector.hnsw_verify('hs_i8');
DROP INDEX hs_i8;

-- float32 explicitly fits below about 1,900 dimensions at m = 16
CREATE TABLE hs_small (v gvector(3));
INSERT INTO hs_small VALUES ('[1,2,3]'), ('[4,5,6]');
CREATE INDEX ON hs_small USING gv_hnsw (v) WITH (storage = float16);
SET enable_seqscan = off;
SELECT v FROM hs_small ORDER BY v <-> '[4,5,6.5]' LIMIT 1;
RESET enable_seqscan;

-- beyond float16 (about 3,900 dimensions at m = 16) auto picks int8 (up to
-- about 7,900), then binary
CREATE TABLE hs_wide (id int, v gvector(6000));
INSERT INTO hs_wide SELECT i, (SELECT array_agg(sin(i * 0.5 + j * 0.9)::real)
                               FROM generate_series(1, 6000) j)::gvector
FROM generate_series(1, 40) i;
CREATE INDEX hs_wide_idx ON hs_wide USING gv_hnsw (v);
SET enable_seqscan = off;
SELECT id FROM hs_wide ORDER BY v <-> (SELECT v FROM hs_wide WHERE id = 33) LIMIT 2;
RESET enable_seqscan;

-- errors
CREATE INDEX ON hs USING gv_hnsw (v) WITH (storage = float32);
CREATE INDEX ON hs_wide USING gv_hnsw (v) WITH (storage = float16);
CREATE INDEX ON hs USING gv_hnsw (v) WITH (storage = bogus);
CREATE INDEX ON hs USING gv_hnsw (v) WITH (storage = float);
CREATE INDEX ON hs USING gv_hnsw (((v + v)::gvector(2500)));
CREATE TABLE hs_huge (v gvector(9000));
CREATE INDEX ON hs_huge USING gv_hnsw (v) WITH (storage = int8, m = 4);
DROP TABLE hs, hs_small, hs_wide, hs_huge;

-- 16,000 dimensions (gvector's limit): auto picks binary (one bit a dimension,
-- two levels per vector); the re-rank keeps answers exact at this size
CREATE TABLE hs_max (id int, v gvector(16000));
INSERT INTO hs_max SELECT i, (SELECT array_agg((sin(i * 0.7 + j * 0.013) + i % 3)::real)
                              FROM generate_series(1, 16000) j)::gvector
FROM generate_series(1, 30) i;
CREATE INDEX hs_max_idx ON hs_max USING gv_hnsw (v);
SELECT elements, unreachable FROM gigavector.hnsw_verify('hs_max_idx');
SET enable_seqscan = off;
SELECT count(*) FILTER (WHERE idx = ex) AS same, count(*) AS queries
FROM (SELECT ARRAY(SELECT id FROM hs_max ORDER BY v <-> q.v LIMIT 5) AS idx,
             ARRAY(SELECT id FROM hs_max ORDER BY l2_distance(v, q.v), id LIMIT 5) AS ex
      FROM hs_max q WHERE q.id % 5 = 0) t;
RESET enable_seqscan;
INSERT INTO hs_max SELECT 100, array_fill(1::real, ARRAY[16000])::gvector;
DROP TABLE hs_max;

-- a scan of the whole index through quantized storage returns every row, in
-- exact order: the exact pass (here two passes, as reltuples counts only the
-- rows of the build) ranks by exact distances, so no row of a later pass is
-- nearer than one already handed out
CREATE TABLE hs_all (id int, v gvector(16));
INSERT INTO hs_all SELECT i, (SELECT array_agg(sin(i * 1000 + j)::real ORDER BY j)
                              FROM generate_series(1, 16) j)::gvector
FROM generate_series(1, 3000) i;
CREATE FUNCTION hs_all_scan(storage text) RETURNS TABLE (returned bigint, distinct_rows bigint, out_of_order bigint)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE INDEX hs_all_idx ON hs_all USING gv_hnsw (v) WITH (storage = %s, m = 8, ef_construction = 32)', storage);
  INSERT INTO hs_all SELECT i, (SELECT array_agg(sin(i * 1000 + j)::real ORDER BY j)
                                FROM generate_series(1, 16) j)::gvector
  FROM generate_series(3001, 5500) i;
  SET LOCAL enable_seqscan = off;
  SET LOCAL gigavector.hnsw_ef_search = 1000;
  RETURN QUERY
  SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE d < prev)
  FROM (SELECT id, d, lag(d) OVER (ORDER BY n) AS prev
        FROM (SELECT id, v <-> '[1,0,-1,0,1,0,-1,0,1,0,-1,0,1,0,-1,0]' AS d, row_number() OVER () AS n
              FROM (SELECT id, v FROM hs_all ORDER BY v <-> '[1,0,-1,0,1,0,-1,0,1,0,-1,0,1,0,-1,0]'
                    LIMIT 100000) s) r) o;
  DROP INDEX hs_all_idx;
  DELETE FROM hs_all WHERE id > 3000;
END $$;
SELECT 'float16' AS storage, * FROM hs_all_scan('float16');
SELECT 'int8' AS storage, * FROM hs_all_scan('int8');
SELECT 'binary' AS storage, * FROM hs_all_scan('binary');
DROP FUNCTION hs_all_scan;
DROP TABLE hs_all;
