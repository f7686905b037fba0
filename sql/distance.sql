-- distances and the functions built on them

-- L2
SELECT '[1,2,3]'::gvector <-> '[4,6,3]'::gvector;
SELECT l2_distance('[1,2,3]', '[4,6,3]');
SELECT l2_squared_distance('[1,2,3]', '[4,6,3]');
SELECT '[1,1]'::gvector <-> '[1,1]'::gvector;
-- float accumulation would overflow; the result is still exact
SELECT '[1e20,0]'::gvector <-> '[-1e20,0]'::gvector;

-- inner product
SELECT inner_product('[1,2,3]', '[4,5,6]');
SELECT '[1,2,3]'::gvector <#> '[4,5,6]'::gvector;
SELECT inner_product('[1e30,1e30]', '[1e30,-1e30]');

-- cosine
SELECT '[1,0]'::gvector <=> '[0,1]'::gvector;
SELECT '[1,0]'::gvector <=> '[-2,0]'::gvector;
SELECT '[3,4]'::gvector <=> '[6,8]'::gvector;
SELECT round(cosine_distance('[1,2]', '[2,1]')::numeric, 6);
-- a zero vector has no direction: distance 1, never NaN
SELECT '[0,0]'::gvector <=> '[1,2]'::gvector;
SELECT '[0,0]'::gvector <=> '[0,0]'::gvector;
SELECT cosine_distance('[1e30,1e30]', '[1e30,1e30]');

-- L1
SELECT l1_distance('[1,2,3]', '[4,6,-3]');

-- dimension mismatch, for every distance
SELECT '[1,2]'::gvector <-> '[1,2,3]'::gvector;
SELECT '[1,2]'::gvector <#> '[1,2,3]'::gvector;
SELECT '[1,2]'::gvector <=> '[1,2,3]'::gvector;
SELECT l1_distance('[1,2]', '[1,2,3]');
SELECT l2_squared_distance('[1,2]', '[1,2,3]');

-- norms and normalisation
SELECT vector_dims('[1,2,3]'::gvector);
SELECT vector_norm('[3,4]');
SELECT vector_norm('[0,0]');
SELECT l2_normalize('[3,4]'::gvector);
SELECT l2_normalize('[0,0]'::gvector);
SELECT vector_norm(l2_normalize('[1e-30,1e-30]'::gvector)) BETWEEN 0.999999 AND 1.000001 AS unit;

-- subvector
SELECT subvector('[1,2,3,4,5]'::gvector, 2, 3);
SELECT subvector('[1,2,3,4,5]'::gvector, 4, 10);
SELECT subvector('[1,2,3,4,5]'::gvector, -1, 3);
SELECT subvector('[1,2,3,4,5]'::gvector, 6, 1);
SELECT subvector('[1,2,3,4,5]'::gvector, 1, 0);
SELECT subvector('[1,2,3,4,5]'::gvector, 1, -1);
SELECT subvector('[1,2,3,4,5]'::gvector, 2147483647, 2147483647);

-- every distance agrees with an independent computation in SQL, on vectors
-- long enough to use every SIMD lane and tail (dimensions 1..67)
WITH v AS (
	SELECT d, array_agg(((i * 37 + d) % 19 - 9) / 4.0::float8 ORDER BY i) AS a,
			  array_agg(((i * 11 + 3 * d) % 23 - 11) / 8.0::float8 ORDER BY i) AS b
	FROM generate_series(1, 67) d, generate_series(1, d) i
	WHERE i <= d
	GROUP BY d
), ref AS (
	SELECT d, a::gvector AS ga, b::gvector AS gb,
		(SELECT sqrt(sum((x - y) ^ 2)) FROM unnest(a, b) u(x, y)) AS l2,
		(SELECT sum(x * y) FROM unnest(a, b) u(x, y)) AS ip,
		(SELECT sum(abs(x - y)) FROM unnest(a, b) u(x, y)) AS l1,
		(SELECT sqrt(sum(x * x)) FROM unnest(a) u(x)) AS na,
		(SELECT sqrt(sum(y * y)) FROM unnest(b) u(y)) AS nb
	FROM v
)
SELECT count(*) AS dims_checked,
	count(*) FILTER (WHERE abs((ga <-> gb) - l2) > 1e-5 * (1 + l2)) AS l2_wrong,
	count(*) FILTER (WHERE abs((ga <#> gb) + ip) > 1e-5 * (1 + abs(ip))) AS ip_wrong,
	count(*) FILTER (WHERE abs(l1_distance(ga, gb) - l1) > 1e-5 * (1 + l1)) AS l1_wrong,
	count(*) FILTER (WHERE abs((ga <=> gb) - CASE WHEN na = 0 OR nb = 0 THEN 1 ELSE 1 - ip / (na * nb) END) > 1e-5) AS cos_wrong
FROM ref;

-- ORDER BY distance is a plain sort
CREATE TABLE t_dist (id int, v gvector(2));
INSERT INTO t_dist VALUES (1, '[0,0]'), (2, '[1,1]'), (3, '[-3,0]'), (4, '[2,2]'), (5, NULL);
SELECT id, v <-> '[1,1]' AS l2 FROM t_dist ORDER BY v <-> '[1,1]', id;
SELECT id, v <=> '[1,1]' AS cos FROM t_dist ORDER BY v <=> '[1,1]', id;
SELECT id, v <#> '[1,1]' AS nip FROM t_dist ORDER BY v <#> '[1,1]', id;
DROP TABLE t_dist;
