-- gv_hnsw filter columns: CREATE INDEX ... (emb, label, ...) tests
-- WHERE label = value inside the graph search.
-- (no autovacuum: one between the UPDATEs and the INSERT below would let the
-- inserts reuse the updated rows' tombstones, changing the count checked)
CREATE TABLE hf (id int PRIMARY KEY, label int, tag text, flag bool, day date, u uuid,
                 emb gvector(4)) WITH (autovacuum_enabled = off);
INSERT INTO hf SELECT i, CASE WHEN i % 97 = 0 THEN NULL ELSE i % 10 END, 'tag' || (i % 3),
       i % 2 = 0, date '2026-01-01' + i % 5, md5((i % 4)::text)::uuid,
       ARRAY[sin(i), cos(i * 1.7), sin(i * 0.3), cos(i * 2.9)]::real[]::gvector
FROM generate_series(1, 3000) i;
-- a label only three rows carry
UPDATE hf SET label = 42 WHERE id IN (5, 1500, 2999);
CREATE INDEX hf_idx ON hf USING gv_hnsw (emb, label, tag, flag, day, u);
ANALYZE hf;
SELECT elements, unreachable FROM gigavector.hnsw_verify('hf_idx');
-- filtered top 10 equals the exact answer, for 10 queries and 3 filters each
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM hf WHERE label = 3 ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
SELECT regress.agree('hf', 'label = 3');
SELECT regress.agree('hf', 'label = 7 AND tag = ''tag1''');
SELECT regress.agree('hf', 'flag AND day = date ''2026-01-03'' AND u = md5(''2'')::uuid');
-- k rows whenever k rows match: three rows carry label 42, all come back
SELECT id FROM hf WHERE label = 42 ORDER BY emb <-> '[1,0,0,0]' LIMIT 10;
-- nothing equals NULL; rows with a NULL label are found without the filter
SELECT count(*) FROM (SELECT id FROM hf WHERE label = NULL ORDER BY emb <-> '[1,0,0,0]' LIMIT 10) s;
SELECT count(*) FROM (SELECT id FROM hf WHERE label IS NULL ORDER BY emb <-> '[1,0,0,0]' LIMIT 40) s;
-- a value of another integer type (as drivers bind parameters: psycopg
-- sends small ints as smallint) is an index condition too, negatives included
EXPLAIN (COSTS OFF) SELECT id FROM hf WHERE label = 3::smallint ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM hf WHERE label = 3::bigint ORDER BY emb <-> '[1,0,0,0]' LIMIT 5;
SELECT regress.agree('hf', 'label = 3::smallint');
SELECT regress.agree('hf', 'label = 7::bigint');
UPDATE hf SET label = -5 WHERE id IN (10, 20, 30);
SELECT id FROM hf WHERE label = (-5)::smallint ORDER BY emb <-> '[1,0,0,0]', id LIMIT 10;
SELECT id FROM hf WHERE label = (-5)::bigint ORDER BY emb <-> '[1,0,0,0]', id LIMIT 10;
UPDATE hf SET label = id % 10 WHERE id IN (10, 20, 30);
-- a condition on a column the index does not hold is applied by the executor
SELECT regress.agree('hf', 'label = 4 AND id % 2 = 0');
-- a selective filter is ranked exactly, a part at a time (256): all 600
-- rows in exact order (distances, as rows at equal distance may come in any
-- order)
EXPLAIN (COSTS OFF) SELECT id FROM hf WHERE day = date '2026-01-03' ORDER BY emb <-> '[0.5,0.5,0,0]' LIMIT 700;
SELECT ARRAY(SELECT l2_distance(emb, '[0.5,0.5,0,0]') FROM hf WHERE day = date '2026-01-03' ORDER BY emb <-> '[0.5,0.5,0,0]' LIMIT 700) =
       ARRAY(SELECT l2_distance(emb, '[0.5,0.5,0,0]') FROM hf WHERE day = date '2026-01-03' ORDER BY 1 LIMIT 700) AS same;
-- a filter that matches many rows is searched in the graph (the key
-- directory lists few enough matches only for selective filters; with
-- ef_search 10 the limit is sqrt(32 * 10 * 3000) = 979 < 1000 rows)
SET gigavector.hnsw_ef_search = 10;
SELECT regress.agree('hf', 'tag = ''tag1''');
SELECT regress.agree('hf', 'label = 3');
RESET gigavector.hnsw_ef_search;
-- inserts after the build carry their filter values; deletes and VACUUM
INSERT INTO hf SELECT 5000 + i, 77, 'new', true, date '2026-02-01', NULL,
       ARRAY[i, 0, 0, 0]::real[]::gvector FROM generate_series(1, 30) i;
SELECT id FROM hf WHERE label = 77 AND tag = 'new' ORDER BY emb <-> '[3.1,0,0,0]' LIMIT 3;
DELETE FROM hf WHERE label = 3 AND id % 2 = 1;
VACUUM hf;
SELECT elements, tombstones, links_to_tombstones, unreachable FROM gigavector.hnsw_verify('hf_idx');
SELECT regress.agree('hf', 'label = 3');
-- past the graph bound (hnsw_max_scan_tuples) the scan goes exact, reading
-- the index's pages: the same rows as an exact plan, HOT-updated rows
-- (label 42) included ...
SET gigavector.hnsw_max_scan_tuples = 30;
SELECT id FROM hf WHERE label = 42 ORDER BY emb <-> '[1,0,0,0]' LIMIT 10;
SELECT regress.agree('hf', 'label = 3');
SELECT regress.agree('hf', 'label = 7 AND tag = ''tag1''');
SELECT regress.agree('hf', 'true');
-- ... also for an expression index
CREATE INDEX hf_expr ON hf USING gv_hnsw (((emb + emb)::gvector(4)), label);
DROP INDEX hf_idx;
SELECT count(*) FILTER (WHERE idx = ex) AS same, count(*) AS queries
FROM (SELECT ARRAY(SELECT id FROM hf WHERE label = 5 ORDER BY (emb + emb)::gvector(4) <-> q.v LIMIT 10) AS idx,
             ARRAY(SELECT id FROM hf WHERE label = 5 ORDER BY l2_distance((emb + emb)::gvector(4), q.v), id LIMIT 10) AS ex
      FROM (SELECT (emb + emb)::gvector(4) AS v FROM hf WHERE id % 300 = 1) q) t;
EXPLAIN (COSTS OFF) SELECT id FROM hf WHERE label = 5 ORDER BY (emb + emb)::gvector(4) <-> '[1,1,1,1]' LIMIT 10;
RESET gigavector.hnsw_max_scan_tuples;
RESET enable_seqscan;

-- with more dimensions than the sketches hold (16), the bounds are loose:
-- elements are read in bound order and handed out only when no unread one
-- can be nearer -- exact results for L2 and cosine (bounds halved for
-- cosine), and for inner product (no sketches: every match is read)
CREATE TABLE hp (id int, label int, emb gvector(40));
INSERT INTO hp SELECT i, i % 7, (SELECT array_agg(sin(i * 0.37 + j * 1.3) * (1 + (i % 5)) + cos(i * j * 0.011)
                                  ORDER BY j)::real[]::gvector(40) FROM generate_series(1, 40) j)
FROM generate_series(1, 2500) i;
CREATE INDEX hp_l2 ON hp USING gv_hnsw (emb, label);
SET enable_seqscan = off;
SELECT count(*) FILTER (WHERE a = b) AS same, count(*) AS queries FROM (
  SELECT ARRAY(SELECT l2_distance(emb, q.emb) FROM hp WHERE label = 3 ORDER BY emb <-> q.emb LIMIT 25) a,
         ARRAY(SELECT l2_distance(emb, q.emb) FROM hp WHERE label = 3 ORDER BY 1 LIMIT 25) b
  FROM hp q WHERE q.id % 100 = 1) s;
DROP INDEX hp_l2;
CREATE INDEX hp_cos ON hp USING gv_hnsw (emb gvector_cosine_ops, label);
SELECT count(*) FILTER (WHERE a = b) AS same, count(*) AS queries FROM (
  SELECT ARRAY(SELECT round(cosine_distance(emb, q.emb)::numeric, 5) FROM hp WHERE label = 3 ORDER BY emb <=> q.emb LIMIT 25) a,
         ARRAY(SELECT round(cosine_distance(emb, q.emb)::numeric, 5) FROM hp WHERE label = 3 ORDER BY 1 LIMIT 25) b
  FROM hp q WHERE q.id % 100 = 1) s;
DROP INDEX hp_cos;
CREATE INDEX hp_ip ON hp USING gv_hnsw (emb gvector_ip_ops, label);
SELECT count(*) FILTER (WHERE a = b) AS same, count(*) AS queries FROM (
  SELECT ARRAY(SELECT round(inner_product(emb, q.emb)::numeric, 3) FROM hp WHERE label = 3 ORDER BY emb <#> q.emb LIMIT 25) a,
         ARRAY(SELECT round(inner_product(emb, q.emb)::numeric, 3) FROM hp WHERE label = 3 ORDER BY 1 DESC LIMIT 25) b
  FROM hp q WHERE q.id % 100 = 1) s;
RESET enable_seqscan;
DROP TABLE hp;

-- the key directory of an index built empty grows with inserts (several
-- pages); deletes and VACUUM drop entries; hnsw_verify checks that every
-- live element is listed once
CREATE TABLE hk (id int, label int, emb gvector(2));
SET enable_seqscan = off;
CREATE INDEX hk_idx ON hk USING gv_hnsw (emb, label);
SELECT id FROM hk WHERE label = 1 ORDER BY emb <-> '[0,0]' LIMIT 3;
INSERT INTO hk SELECT i, i % 50, ARRAY[i % 37, i % 41]::real[]::gvector FROM generate_series(1, 1000) i;
SELECT elements FROM gigavector.hnsw_verify('hk_idx');
SELECT ARRAY(SELECT l2_distance(emb, '[3,5]') FROM hk WHERE label = 7 ORDER BY emb <-> '[3,5]' LIMIT 8) =
       ARRAY(SELECT l2_distance(emb, '[3,5]') FROM hk WHERE label = 7 ORDER BY 1 LIMIT 8) AS same;
SELECT count(*) FROM (SELECT id FROM hk WHERE label = 7 ORDER BY emb <-> '[3,5]' LIMIT 100) s;
DELETE FROM hk WHERE id % 3 = 0;
VACUUM (INDEX_CLEANUP ON) hk;
INSERT INTO hk SELECT i, i % 50, ARRAY[i % 29, i % 31]::real[]::gvector FROM generate_series(3001, 3200) i;
SELECT elements FROM gigavector.hnsw_verify('hk_idx');
SELECT count(*) FROM (SELECT id FROM hk WHERE label = 7 ORDER BY emb <-> '[3,5]' LIMIT 100) s;
SELECT ARRAY(SELECT l2_distance(emb, '[3,5]') FROM hk WHERE label = 7 ORDER BY emb <-> '[3,5]' LIMIT 8) =
       ARRAY(SELECT l2_distance(emb, '[3,5]') FROM hk WHERE label = 7 ORDER BY 1 LIMIT 8) AS same;
RESET enable_seqscan;
DROP TABLE hk;

-- errors
CREATE INDEX ON hf USING gv_hnsw (label, emb);
CREATE INDEX ON hf USING gv_hnsw (emb, emb gvector_cosine_ops);
CREATE INDEX ON hf USING gv_hnsw (emb, id, label, tag, flag, day, u, id, label, tag);
CREATE INDEX ON hf USING gv_hnsw (emb, (id::numeric));
CREATE COLLATION hf_nd (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE INDEX ON hf USING gv_hnsw (emb, tag COLLATE hf_nd);
DROP TABLE hf;
DROP COLLATION hf_nd;
