-- Every magnitude a float holds, in every operator and access method.
--
-- Vectors of 4 dimensions at magnitudes from 1e-45 (subnormal floats) to
-- 3.4e38 (FLT_MAX), where float sums of squares and products overflow or
-- underflow.  Each index's top 10 are compared with a reference computed
-- here in double precision over the elements as float8[] (not by our
-- operators), by their reference distances (so that ties, which the
-- subnormal magnitudes have plenty of, cannot make a right answer look
-- wrong); a scan with a LIMIT above the row count must return every row
-- exactly once; gv_hnsw graphs must have every element reachable (under
-- inner product: nearly every, see the end).

-- A random element at magnitude m, uniform in [-m, m]; below 1e-30 a
-- whole multiple of the least subnormal float (2^-149), since a float
-- cannot hold anything in between.
CREATE FUNCTION mag_random(m float8) RETURNS float8 LANGUAGE sql AS $$
	SELECT CASE WHEN m < 1e-30 THEN round((random() - 0.5) * 2 * m / 2 ^ -149::float8) * 2 ^ -149::float8
		ELSE (random() - 0.5) * 2 * m END $$;
SELECT setseed(0.23);

-- The case that was reported: 3,000 vectors of magnitude 1e20.  The graph
-- had 2,891 of its 3,000 elements unreachable, the top 10 was wrong, and
-- an inner-product scan returned 2,000,000 rows (1,059 distinct).
SELECT setseed(0.42);
CREATE TABLE big20 (id int PRIMARY KEY, v gvector(4));
INSERT INTO big20 SELECT i, ARRAY[(random()-0.5)*2e20, (random()-0.5)*2e20, (random()-0.5)*2e20,
	(random()-0.5)*2e20]::float8[]::gvector FROM generate_series(1, 3000) i;
CREATE INDEX big20_l2 ON big20 USING gv_hnsw (v gvector_l2_ops);
CREATE INDEX big20_ip ON big20 USING gv_hnsw (v gvector_ip_ops);
SELECT elements, unreachable FROM gigavector.hnsw_verify('big20_l2');
SET enable_seqscan = off;
SELECT array_agg(id) AS top10 FROM (SELECT id FROM big20 ORDER BY v <-> '[3e19,-4e19,5e19,1e19]' LIMIT 10) s;
-- A LIMIT above the row count: the scan ends, returns each row at most
-- once and in exact order; rows the graph finds only after farther ones
-- were handed out are skipped (an inner-product graph of 4-d random
-- vectors misses some 2% in a full enumeration; README, gv_hnsw filtered
-- queries).
SELECT count(*) = count(DISTINCT id) AS each_once, count(*) BETWEEN 2900 AND 3000 AS nearly_all,
	bool_and(d >= prev) AS in_order
FROM (SELECT id, d, lag(d, 1, '-Infinity') OVER (ORDER BY n) AS prev
	FROM (SELECT id, v <#> '[3e19,-4e19,5e19,1e19]' AS d, row_number() OVER () AS n
		FROM (SELECT id, v FROM big20 ORDER BY v <#> '[3e19,-4e19,5e19,1e19]' LIMIT 2000000) s) t) u;
RESET enable_seqscan;
-- the exact top 10, computed in double
SELECT array_agg(id) AS exact_top10 FROM (SELECT id FROM big20 ORDER BY
	(SELECT sum((x - q) ^ 2) FROM unnest(v::float8[], '{3e19,-4e19,5e19,1e19}'::float8[]) AS u(x, q))
	LIMIT 10) s;
DROP TABLE big20;

-- The operators on tiny and huge values: exact answers.
SELECT '[1e-23]'::gvector <-> '[-1e-23]' AS l2_tiny,
	vector_norm('[1e-23,0]') AS norm_tiny,
	'[1e-23,0]'::gvector <=> '[-1e-23,0]' AS cos_tiny_opposite,
	'[1e-23,0]'::gvector <=> '[1e-23,0]' AS cos_tiny_self,
	'[3e-23,4e-23]'::gvector <=> '[6e-23,8e-23]' AS cos_tiny_parallel;
-- (s = 2^-149, the least subnormal float; h = 3e38 as a float)
WITH c(s, h) AS (SELECT 2 ^ -149::float8, 3e38::float4::float8)
SELECT '[1e-45]'::gvector <-> '[0]' = s AS l2_subnormal,
	l2_squared_distance('[1e-45,1e-45]', '[0,0]') = 2 * s * s AS l2sq_subnormal,
	inner_product('[1e-45,2.8e-45]', '[1e-45,-1e-45]') = -s * s AS ip_subnormal,
	'[1e-45,1e-45]'::gvector <#> '[1e-45,1e-45]' = -2 * s * s AS negip_subnormal,
	vector_norm('[1e-45,1e-45,1e-45,1e-45]') = 2 * s AS norm_subnormal,
	l1_distance('[1e-45]', '[-1e-45]') = 2 * s AS l1_subnormal
FROM c;
WITH c(h, t) AS (SELECT 3e38::float4::float8, 2e38::float4::float8)
SELECT '[3e38,-3e38]'::gvector <-> '[-3e38,3e38]' = sqrt(8 * h * h) AS l2_huge,
	l2_squared_distance('[3e38]', '[-3e38]') = 4 * h * h AS l2sq_huge,
	inner_product('[3e38,3e38]', '[3e38,-2e38]') = h * h - h * t AS ip_huge,
	vector_norm('[3e38,3e38]') = sqrt(2 * h * h) AS norm_huge,
	l1_distance('[3e38,3e38]', '[-3e38,-3e38]') = 4 * h AS l1_huge,
	'[3e38,1]'::gvector <=> '[-3e38,1]' AS cos_huge_opposite,
	'[1e30,1e30]'::gvector <=> '[1e30,-1e30]' AS cos_huge_orthogonal
FROM c;
-- the cosine distance of a non-zero vector with itself is 0, at any magnitude
SELECT count(*) FILTER (WHERE v <=> v <> 0) AS self_not_zero, count(*) AS vectors
FROM (SELECT ARRAY[mag_random(m), mag_random(m), mag_random(m)]::gvector AS v
	FROM (VALUES (1e-44), (1e-40), (1e-30), (1e-20), (1), (1e20), (1e30), (1e38)) AS ms(m),
		generate_series(1, 100)) s
WHERE v <> '[0,0,0]';
-- l2_normalize keeps the direction of tiny and huge vectors
SELECT l2_normalize('[1e-45,0,1e-45]') <-> '[0.70710677,0,0.70710677]' < 1e-7 AS unit_tiny,
	l2_normalize('[3e38,3e38,0]') <-> '[0.70710677,0.70710677,0]' < 1e-7 AS unit_huge;

-- The reference: distances in double over the exact elements (float8[]).
CREATE FUNCTION mag_ref(op text, x float8[], q float8[]) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT CASE op
		WHEN '<->' THEN sqrt((x[1] - q[1]) ^ 2 + (x[2] - q[2]) ^ 2 + (x[3] - q[3]) ^ 2 + (x[4] - q[4]) ^ 2)
		WHEN '<#>' THEN -(x[1] * q[1] + x[2] * q[2] + x[3] * q[3] + x[4] * q[4])
		ELSE 1 - (x[1] * q[1] + x[2] * q[2] + x[3] * q[3] + x[4] * q[4]) /
			(sqrt(x[1] ^ 2 + x[2] ^ 2 + x[3] ^ 2 + x[4] ^ 2) * sqrt(q[1] ^ 2 + q[2] ^ 2 + q[3] ^ 2 + q[4] ^ 2))
	END $$;

-- Two sorted lists of reference distances agree, to float precision: the
-- indexes rank by float distances where those are exact to float, so
-- near-ties may come in either order (relative 1e-6; cosine, whose
-- distances are 1 - cos, absolute 1e-6).
CREATE FUNCTION mag_same(got float8[], want float8[], op text) RETURNS bool
LANGUAGE sql IMMUTABLE AS $$
	SELECT cardinality(got) = cardinality(want) AND
		bool_and(abs(g - w) <= 1e-6 * CASE op WHEN '<=>' THEN 1 ELSE abs(w) END)
	FROM unnest(got, want) AS u(g, w) $$;

-- Tables: 500 vectors and 5 queries per magnitude (1e-45: elements from
-- -30 to 30 times the least subnormal, 1.4e-45).
CREATE TABLE mag_scale (name text PRIMARY KEY, m float8);
INSERT INTO mag_scale VALUES ('1', 1), ('1e18', 1e18), ('1e20', 1e20), ('1e30', 1e30),
	('1e38', 1e38), ('3.4e38', 3.4e38), ('1e-38', 1e-38), ('1e-40', 1e-40),
	('1e-45', 30 * 2 ^ -149::float8);
CREATE TABLE mag_data (name text, id int, v gvector(4), x float8[], PRIMARY KEY (name, id));
INSERT INTO mag_data (name, id, v)
	SELECT s.name, i, ARRAY[mag_random(m), mag_random(m), mag_random(m), mag_random(m)]::gvector
	FROM mag_scale s, generate_series(1, 505) i ORDER BY s.name, i;
UPDATE mag_data SET x = v::float8[];
-- ids 501..505 are the queries; a query that is the zero vector has no
-- cosine direction, so keep none
SELECT count(*) AS zero_queries FROM mag_data WHERE id > 500 AND x = '{0,0,0,0}';

-- The reference top 10 of each query, by its distances: of all rows, and
-- of the rows a filter keeps (id % 10 = 3, for gv_hnsw's filter columns).
CREATE TABLE mag_want AS
SELECT q.name, o.op, f.filtered, q.id AS qid, q.v AS qv, q.x AS qx,
	(SELECT array_agg(r ORDER BY r) FROM
		(SELECT mag_ref(o.op, d.x, q.x) AS r FROM mag_data d
		 WHERE d.name = q.name AND d.id <= 500 AND (NOT f.filtered OR d.id % 10 = 3)
		 ORDER BY 1 LIMIT 10) s) AS want
FROM mag_data q, (VALUES ('<->'), ('<=>'), ('<#>')) AS o(op), (VALUES (false), (true)) AS f(filtered)
WHERE q.id > 500;

-- For one magnitude and one operator, with its index in place: how many
-- of the 5 queries get a wrong top 10, and whether a LIMIT above the row
-- count returns every row exactly once (with the filter: every row it
-- keeps).
CREATE FUNCTION mag_check(name text, op text, filtered bool, OUT wrong int, OUT all_rows bool)
LANGUAGE plpgsql AS $$
DECLARE
	q record;
	got float8[];
	n bigint;
	nd bigint;
	cond text := CASE WHEN filtered THEN 'WHERE c = 3' ELSE '' END;
BEGIN
	wrong := 0;
	FOR q IN SELECT * FROM mag_want w WHERE w.name = mag_check.name AND w.op = mag_check.op
			AND w.filtered = mag_check.filtered LOOP
		EXECUTE format('SELECT array_agg(mag_ref(%L, x, $2) ORDER BY mag_ref(%L, x, $2)) FROM
			(SELECT x FROM mag_t %s ORDER BY v %s $1 LIMIT 10) s', op, op, cond, op)
			INTO got USING q.qv, q.qx;
		IF NOT coalesce(mag_same(got, q.want, op), false) THEN
			wrong := wrong + 1;
		END IF;
	END LOOP;
	EXECUTE format('SELECT count(*), count(DISTINCT id) FROM
		(SELECT id FROM mag_t %s ORDER BY v %s $1 LIMIT 1000) s', cond, op)
		INTO n, nd USING (SELECT v FROM mag_data d WHERE d.name = mag_check.name AND id = 501);
	all_rows := n = CASE WHEN filtered THEN 50 ELSE 500 END AND nd = n;
END $$;

-- Every access method (gv_hnsw with its float32 and int8 storage, and
-- with a filter column, whose key directory's sketches bound distances),
-- every operator class it has, every magnitude.
CREATE TABLE mag_result (name text, am text, op text, wrong int, all_rows bool, unreachable bigint);
CREATE FUNCTION mag_run(am text, opts text, ops text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	s record;
	op text;
	r record;
	unreachable bigint;
BEGIN
	FOR s IN SELECT name FROM mag_scale ORDER BY m DESC LOOP
		DROP TABLE IF EXISTS mag_t;
		CREATE TABLE mag_t AS SELECT id, v, x, id % 10 AS c FROM mag_data d
			WHERE d.name = s.name AND id <= 500;
		FOREACH op IN ARRAY ops LOOP
			EXECUTE format('CREATE INDEX mag_i ON mag_t USING %s (v %s%s) %s', split_part(am, ' ', 1),
				CASE op WHEN '<->' THEN 'gvector_l2_ops' WHEN '<=>' THEN 'gvector_cosine_ops'
					ELSE 'gvector_ip_ops' END,
				CASE WHEN am LIKE '%filter' THEN ', c' ELSE '' END, opts);
			unreachable := NULL;
			IF am LIKE 'gv_hnsw%' THEN
				SELECT v.unreachable INTO unreachable FROM gigavector.hnsw_verify('mag_i') v;
			END IF;
			r := mag_check(s.name, op, am LIKE '%filter');
			INSERT INTO mag_result VALUES (s.name, am, op, r.wrong, r.all_rows, unreachable);
			DROP INDEX mag_i;
		END LOOP;
	END LOOP;
END $$;
SET enable_seqscan = off;
SET enable_sort = off;
SET client_min_messages = warning;
SELECT mag_run('gv_hnsw', '', ARRAY['<->', '<=>', '<#>']);
SELECT mag_run('gv_hnsw int8', 'WITH (storage = int8)', ARRAY['<->', '<=>', '<#>']);
SELECT mag_run('gv_hnsw filter', '', ARRAY['<->', '<=>']);
SELECT mag_run('gv_ivfpq', 'WITH (lists = 10, subquantizers = 4, bits = 8)', ARRAY['<->', '<=>', '<#>']);
SELECT mag_run('gv_kdtree', '', ARRAY['<->', '<=>']);
RESET client_min_messages;
RESET enable_seqscan;
RESET enable_sort;
-- Per access method and operator: the magnitudes where a top 10 was wrong,
-- where a scan did not return every row exactly once, and where a gv_hnsw
-- graph had unreachable elements (inner product aside: see below).
SELECT am, op, count(*) AS magnitudes,
	coalesce(string_agg(name || ':' || wrong, ' ' ORDER BY m DESC) FILTER (WHERE wrong > 0), '') AS wrong,
	coalesce(string_agg(name, ' ' ORDER BY m DESC) FILTER (WHERE NOT all_rows), '') AS rows_missing,
	coalesce(string_agg(name || ':' || unreachable, ' ' ORDER BY m DESC)
		FILTER (WHERE unreachable > 0 AND op <> '<#>'), '') AS unreachable
FROM mag_result r JOIN mag_scale USING (name) GROUP BY am, op ORDER BY am, op;
-- Under inner product, which is not a metric, an element whose every
-- neighbour has nearer ones of its own may get no back-link, at any
-- magnitude; scans still return it (all_rows above).  But the graph must
-- not fall apart at extreme magnitudes: at most 5% unreachable.
SELECT am, max(unreachable) <= 25 AS few_unreachable
FROM mag_result WHERE op = '<#>' AND am LIKE 'gv_hnsw%' GROUP BY am ORDER BY am;
