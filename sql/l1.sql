-- <+> L1 (taxicab) distance and gvector_l1_ops for gv_hnsw and gv_kdtree
SET client_min_messages = warning;

SELECT '[1,2,3]'::gvector <+> '[4,0,3]' AS l1, l1_distance('[1,2,3]', '[4,0,3]') AS same;
SELECT '[-1e38,0]'::gvector <+> '[3e38,0]' AS past_float_max;
SELECT '[1,2]'::gvector <+> '[1,2,3]';

-- 3,000 points in 8 dimensions, deterministic
CREATE TABLE l1t (id int, emb gvector(8));
INSERT INTO l1t SELECT i, ARRAY(SELECT sin(i * (j + 1) * 0.37) * 10 + (i % (j + 3))
								 FROM generate_series(0, 7) j)::gvector
	FROM generate_series(1, 3000) i;

-- gv_kdtree: exact, so every query's recall is 1
CREATE INDEX l1t_kd ON l1t USING gv_kdtree (emb gvector_l1_ops);
SELECT min(regress.recall('l1t', 'emb', '<+>', emb, 20)) AS kdtree_min_recall
	FROM (SELECT emb FROM l1t WHERE id % 100 = 7) q;
-- the distances the index hands back are the operator's own
SET enable_seqscan = off;
SELECT id, emb <+> '[0,0,0,0,0,0,0,0]' AS d FROM l1t ORDER BY emb <+> '[0,0,0,0,0,0,0,0]' LIMIT 3;
RESET enable_seqscan;
-- and it grows by inserts
INSERT INTO l1t SELECT i, ARRAY(SELECT cos(i * (j + 2) * 0.11) * 12 FROM generate_series(0, 7) j)::gvector
	FROM generate_series(3001, 4000) i;
SELECT min(regress.recall('l1t', 'emb', '<+>', emb, 20)) AS kdtree_min_recall_after_inserts
	FROM (SELECT emb FROM l1t WHERE id % 200 = 3) q;
DROP INDEX l1t_kd;

-- gv_hnsw: approximate; averaged over 40 queries against the exact answer
CREATE INDEX l1t_hnsw ON l1t USING gv_hnsw (emb gvector_l1_ops);
SET gigavector.hnsw_ef_search = 100;
SELECT avg(regress.recall('l1t', 'emb', '<+>', emb, 10)) >= 0.95 AS hnsw_recall_ok
	FROM (SELECT emb FROM l1t WHERE id % 100 = 11) q;
-- the operator class is not the L2 one: ORDER BY <-> cannot use it
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM l1t ORDER BY emb <+> '[0,0,0,0,0,0,0,0]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM l1t ORDER BY emb <-> '[0,0,0,0,0,0,0,0]' LIMIT 3;
RESET enable_seqscan;
-- a wrong-dimension query is an error, not an empty answer
SET enable_seqscan = off;
SELECT id FROM l1t ORDER BY emb <+> '[1,2]' LIMIT 1;
RESET enable_seqscan;
DROP TABLE l1t;

-- gv_kdtree still refuses inner product, and names the L1 class in its hint
CREATE TABLE l1ip (emb gvector(2));
CREATE INDEX ON l1ip USING gv_kdtree (emb gvector_ip_ops);
DROP TABLE l1ip;
