-- The planner's choices at a million rows (issue 22): a real table of
-- 1,000,000 rows whose vectors are NULL but for one row in 200 (NULLs are
-- not indexed, so the indexes build in a moment), with a filter column of
-- 1,000 values; the planner sees the million rows in the table's
-- statistics, and the index sizes of 5,000 elements.  Its sequential scan
-- is cheaper than a real million rows' would be (fewer pages), so where the
-- index still wins here it wins at a million rows with vectors.
CREATE TABLE big (id int, cat int, emb gvector(8));
INSERT INTO big SELECT i, i % 1000,
	CASE WHEN i % 200 = 0 THEN (SELECT array_agg(sin(i * 1000 + j)::real ORDER BY j)
								FROM generate_series(1, 8) j)::gvector(8) END
	FROM generate_series(1, 1000000) i;
CREATE INDEX big_hnsw ON big USING gv_hnsw (emb) WITH (m = 8, ef_construction = 32);
VACUUM ANALYZE big;
SELECT reltuples >= 990000 AS planner_sees_a_million FROM pg_class WHERE relname = 'big';
-- the 10 nearest: the index
EXPLAIN (COSTS OFF) SELECT id FROM big ORDER BY emb <-> '[1,0,0,0,0,0,0,1]' LIMIT 10;
-- 100 nearest: still the index
EXPLAIN (COSTS OFF) SELECT id FROM big ORDER BY emb <-> '[1,0,0,0,0,0,0,1]' LIMIT 100;
-- 1,000 nearest: past the graph phase (8 * ef_search rows) the scan reads
-- every element in page order, about what a sequential scan and its top-N
-- sort of the million rows cost; the index still, here where its pages
-- are few
EXPLAIN (COSTS OFF) SELECT id FROM big ORDER BY emb <-> '[1,0,0,0,0,0,0,1]' LIMIT 1000;
-- ... and with ef_search raised to cover it in the graph phase
SET gigavector.hnsw_ef_search = 200;
EXPLAIN (COSTS OFF) SELECT id FROM big ORDER BY emb <-> '[1,0,0,0,0,0,0,1]' LIMIT 1000;
RESET gigavector.hnsw_ef_search;
-- an unselective filter (999 of 1,000 rows): the index, the filter on top
EXPLAIN (COSTS OFF) SELECT id FROM big WHERE cat <> 7 ORDER BY emb <-> '[1,0,0,0,0,0,0,1]' LIMIT 10;
-- a filter that keeps 1 row in 1,000, with a btree on it: the btree and a sort
CREATE INDEX big_cat ON big (cat);
EXPLAIN (COSTS OFF) SELECT id FROM big WHERE cat = 7 ORDER BY emb <-> '[1,0,0,0,0,0,0,1]' LIMIT 10;
-- ... and 1 in 10: the graph, the filter on top
EXPLAIN (COSTS OFF) SELECT id FROM big WHERE cat < 100 ORDER BY emb <-> '[1,0,0,0,0,0,0,1]' LIMIT 10;
-- the filter column inside the graph: the graph, even for 1 row in 1,000
CREATE INDEX big_hnsw_cat ON big USING gv_hnsw (emb, cat) WITH (m = 8, ef_construction = 32);
ANALYZE big;
EXPLAIN (COSTS OFF) SELECT id FROM big WHERE cat = 7 ORDER BY emb <-> '[1,0,0,0,0,0,0,1]' LIMIT 10;
DROP INDEX big_hnsw, big_hnsw_cat;
-- gv_ivfpq: the 10 nearest through the index, 1 row in 1,000 by the btree
CREATE INDEX big_ivfpq ON big USING gv_ivfpq (emb) WITH (lists = 50);
ANALYZE big;
EXPLAIN (COSTS OFF) SELECT id FROM big ORDER BY emb <-> '[1,0,0,0,0,0,0,1]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM big ORDER BY emb <-> '[1,0,0,0,0,0,0,1]' LIMIT 1000;
EXPLAIN (COSTS OFF) SELECT id FROM big WHERE cat <> 7 ORDER BY emb <-> '[1,0,0,0,0,0,0,1]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM big WHERE cat = 7 ORDER BY emb <-> '[1,0,0,0,0,0,0,1]' LIMIT 10;
DROP TABLE big;
