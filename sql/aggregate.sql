-- avg and sum

SELECT avg(v), sum(v) FROM (VALUES ('[1,2,3]'::gvector), ('[3,4,5]'), (NULL)) t(v);
SELECT avg(v), sum(v) FROM (VALUES (NULL::gvector)) t(v);
SELECT avg(v) FROM (SELECT '[1,2]'::gvector WHERE false) t(v);
SELECT avg(v) FROM (VALUES ('[1,2]'::gvector), ('[1,2,3]')) t(v);
SELECT sum(v) FROM (VALUES ('[3e38]'::gvector), ('[3e38]')) t(v);
-- the average of large values does not overflow on the way
SELECT avg(v) FROM (VALUES ('[3e38]'::gvector), ('[3e38]')) t(v);

-- grouped, and parallel (partial aggregates merged by the combine function)
CREATE TABLE t_agg (g int, k int, v gvector(2));
INSERT INTO t_agg SELECT i % 3, i % 3000, ARRAY[i, -i] FROM generate_series(1, 30000) i;
ANALYZE t_agg;
SELECT g, avg(v), sum(v) FROM t_agg GROUP BY g ORDER BY g;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v) FROM t_agg;
SELECT avg(v), sum(v) FROM t_agg;
-- 3,000 groups hashed in parallel past work_mem: workers serialize their
-- states, the leader merges them, and groups spill to disk on both sides
SET work_mem = '64kB';
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT k, avg(v), sum(v) FROM t_agg GROUP BY k;
SELECT count(*) AS groups, bool_and(a::real[] = ARRAY[ai, -ai]::real[] AND s::real[] = ARRAY[si, -si]::real[]) AS matches
	FROM (SELECT k, avg(v) AS a, sum(v) AS s FROM t_agg GROUP BY k) x
	JOIN (SELECT i % 3000 AS k, avg(i) AS ai, sum(i) AS si FROM generate_series(1, 30000) i GROUP BY 1) y USING (k);
RESET ALL;
-- the same answer computed another way
SELECT avg(v)::real[] = ARRAY[avg(i), avg(-i)]::real[] AS matches
	FROM t_agg, LATERAL (SELECT (v::real[])[1]) s(i);
DROP TABLE t_agg;

-- as window functions: the final function leaves the state as it was, so
-- each row's running value is right
SELECT o, avg(v) OVER w, sum(v) OVER w
	FROM (VALUES (1, '[1,2]'::gvector), (2, '[3,4]'), (3, NULL), (4, '[-4,0]')) t(o, v)
	WINDOW w AS (ORDER BY o) ORDER BY o;
SELECT o, avg(v) OVER (ORDER BY o ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
	FROM (VALUES (1, '[1,2]'::gvector), (2, '[3,4]'), (3, '[5,0]')) t(o, v) ORDER BY o;

-- the state is internal: the support functions cannot be called from SQL,
-- so no call can make an invalid vector out of a hand-made state
SELECT gvector_avg(ARRAY[1,'NaN']::float8[]);
SELECT gvector_sum(ARRAY[1]::float8[]);
SELECT gvector_accum('{0}', '[1,2]');
