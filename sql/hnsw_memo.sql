--
-- The distance memo: when an index scan returns a row whose vector is stored
-- out of line, the executor's own evaluation of the ORDER BY distance takes
-- the distance the index computed instead of fetching the TOASTed vector.
-- It must give exactly what the operator computes from the vector, and only
-- for the row, query and kernel it was computed for.
--
SET enable_seqscan = off;
SET jit = off;
CREATE TABLE memo_items (id int PRIMARY KEY, emb gvector(600));
INSERT INTO memo_items
SELECT i, (SELECT array_agg(sin(i * 1.7 + j * 0.13)::real ORDER BY j)
           FROM generate_series(1, 600) j)::gvector
FROM generate_series(1, 300) i;
-- 2.4 kB vectors are stored out of line
SELECT pg_relation_size(reltoastrelid) > 0 AS toasted FROM pg_class WHERE relname = 'memo_items';
-- queries stored inline, so that they reach the operator as plain values
CREATE TABLE memo_queries (qid int, emb gvector(600));
ALTER TABLE memo_queries ALTER COLUMN emb SET STORAGE PLAIN;
INSERT INTO memo_queries
SELECT q, (SELECT array_agg(cos(q * 2.3 + j * 0.07)::real ORDER BY j)
           FROM generate_series(1, 600) j)::gvector
FROM generate_series(1, 4) q;
CREATE INDEX memo_l2 ON memo_items USING gv_hnsw (emb gvector_l2_ops);
-- What the operators compute from the detoasted vector (a text round trip
-- gives an inline copy, which the memo never answers for).
CREATE FUNCTION inline_copy(gvector) RETURNS gvector
  LANGUAGE sql IMMUTABLE AS 'SELECT $1::text::gvector';

-- Every query's 5 nearest through the index (a rescan per query): the
-- ordering distance, the same distance to another query, and other
-- kernels' distances to the same query, each against the operator's own.
SELECT count(*) AS rows,
       count(*) FILTER (WHERE d = inline_copy(r.emb) <-> q.emb) AS l2_same,
       count(*) FILTER (WHERE d2 = inline_copy(r.emb) <-> q2.emb) AS other_query_same,
       count(*) FILTER (WHERE sq = l2_squared_distance(inline_copy(r.emb), q.emb)) AS squared_same,
       count(*) FILTER (WHERE ip = inline_copy(r.emb) <#> q.emb) AS ip_same,
       count(*) FILTER (WHERE cd = inline_copy(r.emb) <=> q.emb) AS cosine_same
FROM memo_queries q
JOIN memo_queries q2 ON q2.qid = q.qid % 4 + 1
CROSS JOIN LATERAL (
  SELECT emb, emb <-> q.emb AS d, emb <-> q2.emb AS d2,
         l2_squared_distance(emb, q.emb) AS sq, emb <#> q.emb AS ip, emb <=> q.emb AS cd
  FROM memo_items ORDER BY emb <-> q.emb LIMIT 5) r;

-- The rows are the exact nearest, in order (300 rows: the graph is exact).
CREATE FUNCTION index_order_is_exact() RETURNS TABLE (qid int, exact_order bool)
LANGUAGE sql AS $$
SELECT q.qid,
       (SELECT array_agg(id) FROM (
          SELECT id FROM memo_items ORDER BY emb <-> q.emb LIMIT 5) r) =
       (SELECT array_agg(id) FROM (
          SELECT id FROM memo_items ORDER BY inline_copy(emb) <-> q.emb LIMIT 5) e)
FROM memo_queries q ORDER BY q.qid $$;
SELECT * FROM index_order_is_exact();

-- The memo is what saves the work: ordering by the index reads no TOAST
-- block, while a column whose kernel is not memoised (cosine) must read them.
CREATE FUNCTION toast_blocks() RETURNS bigint LANGUAGE sql AS $$
  SELECT coalesce(toast_blks_read, 0) + coalesce(toast_blks_hit, 0)
  FROM pg_statio_user_tables WHERE relname = 'memo_items' $$;
SELECT pg_stat_force_next_flush();
SELECT toast_blocks() AS before \gset
SELECT count(*) FROM memo_queries q CROSS JOIN LATERAL (
  SELECT id FROM memo_items ORDER BY emb <-> q.emb LIMIT 5) r;
SELECT pg_stat_force_next_flush();
SELECT toast_blocks() - :before AS toast_blocks_read_by_index_order;
SELECT toast_blocks() AS before \gset
SELECT count(*), sum(cd) > 0 AS used FROM memo_queries q CROSS JOIN LATERAL (
  SELECT id, emb <=> q.emb AS cd FROM memo_items ORDER BY emb <-> q.emb LIMIT 5) r;
SELECT pg_stat_force_next_flush();
SELECT toast_blocks() - :before > 0 AS cosine_column_reads_toast;

-- New TOAST values after an update (and rows inserted after the build,
-- whose TOAST ids the insert looks up in the heap).
UPDATE memo_items SET emb = (SELECT array_agg(sin(id * 0.9 + j * 0.21)::real ORDER BY j)
                             FROM generate_series(1, 600) j)::gvector
WHERE id % 3 = 0;
INSERT INTO memo_items
SELECT i, (SELECT array_agg(sin(i * 1.1 + j * 0.05)::real ORDER BY j)
           FROM generate_series(1, 600) j)::gvector
FROM generate_series(301, 400) i;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE d = inline_copy(r.emb) <-> q.emb) AS l2_same
FROM memo_queries q CROSS JOIN LATERAL (
  SELECT emb, emb <-> q.emb AS d FROM memo_items ORDER BY emb <-> q.emb LIMIT 20) r;
SELECT pg_stat_force_next_flush();
SELECT toast_blocks() AS before \gset
SELECT count(*) FROM memo_queries q CROSS JOIN LATERAL (
  SELECT id FROM memo_items WHERE id + 0 > 300 ORDER BY emb <-> q.emb LIMIT 5) r;
SELECT pg_stat_force_next_flush();
SELECT toast_blocks() - :before AS toast_blocks_read_for_inserted_rows;

-- Inner product: the index's kernel is memoised too.
DROP INDEX memo_l2;
CREATE INDEX memo_ip ON memo_items USING gv_hnsw (emb gvector_ip_ops);
SELECT count(*) AS rows,
       count(*) FILTER (WHERE d = inline_copy(r.emb) <#> q.emb) AS ip_same,
       count(*) FILTER (WHERE p = inner_product(inline_copy(r.emb), q.emb)) AS product_same,
       count(*) FILTER (WHERE l2 = inline_copy(r.emb) <-> q.emb) AS l2_same
FROM memo_queries q CROSS JOIN LATERAL (
  SELECT emb, emb <#> q.emb AS d, inner_product(emb, q.emb) AS p, emb <-> q.emb AS l2
  FROM memo_items ORDER BY emb <#> q.emb LIMIT 5) r;

-- Cosine ranks normalised copies: not memoised, still exact.
DROP INDEX memo_ip;
CREATE INDEX memo_cos ON memo_items USING gv_hnsw (emb gvector_cosine_ops);
SELECT count(*) AS rows,
       count(*) FILTER (WHERE d = inline_copy(r.emb) <=> q.emb) AS cosine_same
FROM memo_queries q CROSS JOIN LATERAL (
  SELECT emb, emb <=> q.emb AS d FROM memo_items ORDER BY emb <=> q.emb LIMIT 5) r;

-- gv_ivfpq leaves the exact distances of its re-ranking in the memo.
DROP INDEX memo_cos;
CREATE INDEX memo_pq ON memo_items USING gv_ivfpq (emb gvector_l2_ops)
  WITH (lists = 4, subquantizers = 10, bits = 4);
SET gigavector.ivfpq_probes = 4;  -- every list, every row re-ranked: exact order
SET gigavector.ivfpq_rerank = 1000;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE d = inline_copy(r.emb) <-> q.emb) AS l2_same,
       count(*) FILTER (WHERE d2 = inline_copy(r.emb) <-> q2.emb) AS other_query_same,
       count(*) FILTER (WHERE ip = inline_copy(r.emb) <#> q.emb) AS ip_same
FROM memo_queries q
JOIN memo_queries q2 ON q2.qid = q.qid % 4 + 1
CROSS JOIN LATERAL (
  SELECT emb, emb <-> q.emb AS d, emb <-> q2.emb AS d2, emb <#> q.emb AS ip
  FROM memo_items ORDER BY emb <-> q.emb LIMIT 5) r;
SELECT * FROM index_order_is_exact();

DROP TABLE memo_items, memo_queries;
DROP FUNCTION inline_copy(gvector), toast_blocks(), index_order_is_exact();
