-- avg and sum

SELECT avg(v), sum(v) FROM (VALUES ('[1,2,3]'::gvector), ('[3,4,5]'), (NULL)) t(v);
SELECT avg(v), sum(v) FROM (VALUES (NULL::gvector)) t(v);
SELECT avg(v) FROM (SELECT '[1,2]'::gvector WHERE false) t(v);
SELECT avg(v) FROM (VALUES ('[1,2]'::gvector), ('[1,2,3]')) t(v);
SELECT sum(v) FROM (VALUES ('[3e38]'::gvector), ('[3e38]')) t(v);
-- the average of large values does not overflow on the way
SELECT avg(v) FROM (VALUES ('[3e38]'::gvector), ('[3e38]')) t(v);

-- grouped, and parallel (partial aggregates merged by the combine function)
CREATE TABLE t_agg (g int, v gvector(2));
INSERT INTO t_agg SELECT i % 3, ARRAY[i, -i] FROM generate_series(1, 30000) i;
ANALYZE t_agg;
SELECT g, avg(v), sum(v) FROM t_agg GROUP BY g ORDER BY g;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v) FROM t_agg;
SELECT avg(v), sum(v) FROM t_agg;
RESET ALL;
-- the same answer computed another way
SELECT avg(v)::real[] = ARRAY[avg(i), avg(-i)]::real[] AS matches
	FROM t_agg, LATERAL (SELECT (v::real[])[1]) s(i);
DROP TABLE t_agg;

-- direct calls of the transition functions do not modify their arguments
SELECT gvector_accum(gvector_accum('{0}', '[1,2]'), '[3,4]');
SELECT gvector_combine('{2,4,6}', '{1,3,4}');
SELECT gvector_combine('{0}', '{1,3,4}');
SELECT gvector_combine('{1,2}', '{1,3,4}');
