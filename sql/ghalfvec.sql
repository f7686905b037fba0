-- ghalfvec: half-precision vectors
SET client_min_messages = warning;

-- text form: gvector's, each element the shortest decimal of its half
SELECT '[1,2.5,-3]'::ghalfvec, '[0.1, 65504, -6e-8]'::ghalfvec, '  [ 1 , 2 ]  '::ghalfvec;
SELECT '[1e-9]'::ghalfvec AS rounds_to_zero, '[65519]'::ghalfvec AS rounds_to_max;
SELECT '[1,2,3]'::ghalfvec(3), format_type('ghalfvec'::regtype, 768);
-- data moves from gvector (and pgvector's vector) through text
SELECT '[0.5,-1.25,3]'::gvector::text::ghalfvec;

-- every bad input an error with its SQLSTATE
SELECT regress.err($$SELECT '[65520]'::ghalfvec$$);
SELECT regress.err($$SELECT '[-1e5,1]'::ghalfvec$$);
SELECT regress.err($$SELECT '[1e39]'::ghalfvec$$);
SELECT regress.err($$SELECT '[NaN]'::ghalfvec$$);
SELECT regress.err($$SELECT '[Infinity]'::ghalfvec$$);
SELECT regress.err($$SELECT '[]'::ghalfvec$$);
SELECT regress.err($$SELECT '[1,a]'::ghalfvec$$);
SELECT regress.err($$SELECT '1,2'::ghalfvec$$);
SELECT regress.err($$SELECT '[1,2'::ghalfvec$$);
SELECT regress.err($$SELECT '[1,2]x'::ghalfvec$$);
SELECT regress.err($$SELECT ('[' || repeat('1,', 16000) || '1]')::ghalfvec$$);
SELECT regress.err($$SELECT '[1,2]'::ghalfvec(3)$$);
SELECT regress.err($$SELECT '[1]'::ghalfvec(0)$$);
SELECT regress.err($$SELECT '[1]'::ghalfvec(16001)$$);
SELECT regress.err($$SELECT '[1]'::ghalfvec(1,2)$$);
SELECT regress.err($$CREATE TEMP TABLE bad (v ghalfvec(2)); INSERT INTO bad VALUES ('[1,2,3]')$$);

-- casts
SELECT regress.err($$SELECT '[1.5,-2,70000]'::gvector::ghalfvec$$);
SELECT quantize_half('[0.333333,1e-3,-65504]'), quantize_half('[1,2]')::gvector;
SELECT regress.err($$SELECT quantize_half('[3e38]')$$);
SELECT ARRAY[1,2,3]::ghalfvec, ARRAY[1.5,2.25]::real[]::ghalfvec, '{0.1,0.2}'::float8[]::ghalfvec,
	'{1.5}'::numeric[]::ghalfvec, '[1,2.5]'::ghalfvec::real[];
SELECT regress.err($$SELECT ARRAY[70000]::ghalfvec$$);
SELECT regress.err($$SELECT ARRAY[1,NULL]::ghalfvec$$);
SELECT regress.err($$SELECT '{{1,2},{3,4}}'::real[]::ghalfvec$$);
SELECT regress.err($$SELECT ARRAY[1,2]::ghalfvec(3)$$);
-- the array cast's errors name ghalfvec
SELECT regress.err($$SELECT '{}'::real[]::ghalfvec$$);
SELECT regress.err($$SELECT array_fill(1::real, ARRAY[16001])::ghalfvec$$);
SELECT regress.err($$SELECT ARRAY['NaN'::real]::ghalfvec$$);
SELECT regress.err($$SELECT ARRAY['Infinity'::float8]::ghalfvec$$);
SELECT '[1,2,3]'::ghalfvec::gvector(3), '[1,2,3]'::gvector(3)::ghalfvec(3);
SELECT regress.err($$SELECT '[1,2,3]'::ghalfvec::gvector(2)$$);

-- distances, against the same computed in double from the halves
CREATE TABLE h (id int, v ghalfvec(3));
INSERT INTO h VALUES (1, '[1,2,3]'), (2, '[-1,0.5,4]'), (3, '[0,0,0]'), (4, '[0.1,0.2,0.3]');
SELECT a.id, b.id,
	a.v <-> b.v AS l2, a.v <#> b.v AS nip, a.v <=> b.v AS cos, a.v <+> b.v AS l1,
	l2_squared_distance(a.v, b.v) AS l2sq, inner_product(a.v, b.v) AS ip
FROM h a, h b WHERE a.id <= b.id ORDER BY 1, 2;
-- each within float rounding of the double computation over the halves
SELECT bool_and(abs((a.v <-> b.v) - sqrt(s.l2)) <= 1e-6 * sqrt(s.l2) + 1e-12
			AND abs((a.v <+> b.v) - s.l1) <= 1e-6 * s.l1 + 1e-12
			AND abs(inner_product(a.v, b.v) - s.ip) <= 1e-6 * abs(s.ip) + 1e-12) AS match_double
FROM h a, h b, LATERAL (
	SELECT sum((x - y) ^ 2) AS l2, sum(abs(x - y)) AS l1, sum(x * y) AS ip
	FROM unnest(a.v::real[]::float8[], b.v::real[]::float8[]) u(x, y)) s;
-- and over 16,000 dimensions, where the SIMD kernels' bodies run
SELECT abs(l2_squared_distance(x, y) - 16000) < 1e-2 AS l2_ok,
	abs(inner_product(x, y) - 16000 * 0.75) < 1e-2 AS ip_ok
FROM (SELECT array_fill(1.5::real, ARRAY[16000])::ghalfvec AS x,
			 array_fill(0.5::real, ARRAY[16000])::ghalfvec AS y) s;
SELECT regress.err($$SELECT '[1,2]'::ghalfvec <-> '[1,2,3]'$$);
-- a ghalfvec column against a gvector value: the gvector becomes a ghalfvec
SELECT id FROM h ORDER BY v <-> '[1,2,3]'::gvector LIMIT 1;

-- functions
SELECT vector_dims('[1,2,3]'::ghalfvec), vector_norm('[3,4]'::ghalfvec),
	l2_normalize('[3,4]'::ghalfvec), l2_normalize('[0,0]'::ghalfvec),
	subvector('[1,2,3,4]'::ghalfvec, 2, 2), subvector('[1,2,3,4]'::ghalfvec, -1, 3);
SELECT regress.err($$SELECT subvector('[1,2]'::ghalfvec, 3, 1)$$);
SELECT regress.err($$SELECT subvector('[1,2]'::ghalfvec, 1, -1)$$);

-- arithmetic, rounded to half; overflow and underflow are errors
SELECT '[1,2]'::ghalfvec + '[0.5,-2]', '[1,2]'::ghalfvec - '[0.5,-2]', '[1,2]'::ghalfvec * '[0.5,0]';
SELECT regress.err($$SELECT '[60000]'::ghalfvec + '[60000]'$$);
SELECT regress.err($$SELECT '[300]'::ghalfvec * '[300]'$$);
SELECT regress.err($$SELECT '[0.0001]'::ghalfvec * '[0.0001]'$$);
SELECT regress.err($$SELECT '[1,2]'::ghalfvec + '[1]'$$);

-- aggregates
SELECT avg(v), sum(v) FROM h;
SELECT regress.err($$SELECT sum(v) FROM (VALUES ('[60000]'::ghalfvec), ('[60000]')) t(v)$$);
SELECT regress.err($$SELECT avg(v) FROM (VALUES ('[1]'::ghalfvec), ('[1,2]')) t(v)$$);
SELECT regress.err($$SELECT sum(v) FROM (VALUES ('[1,2]'::ghalfvec), ('[1]')) t(v)$$);

-- comparison, DISTINCT, GROUP BY, hash join; -0 = 0
SELECT '[1,2]'::ghalfvec < '[1,3]', '[-0]'::ghalfvec = '[0]', '[1,2]'::ghalfvec = '[1,2,0]';
SELECT count(DISTINCT v) FROM (VALUES ('[1,2]'::ghalfvec), ('[1,2]'), ('[-0,1]'), ('[0,1]')) t(v);

-- binary COPY round-trips exactly, and corrupt binary data is refused
COPY h TO '/tmp/gigavector_ghalfvec.bin' WITH (FORMAT binary);
CREATE TABLE h2 (LIKE h);
COPY h2 FROM '/tmp/gigavector_ghalfvec.bin' WITH (FORMAT binary);
SELECT a.id, a.v = b.v AS same FROM h a JOIN h2 b USING (id) ORDER BY id;
CREATE TABLE h_raw (id int, b bytea);
INSERT INTO h_raw VALUES
	(1, '\x000200003c004000'),	-- valid: [1,2]
	(2, '\x000200013c004000'),	-- reserved field not zero
	(3, '\x00000000'),			-- zero dimensions
	(4, '\x3e810000'),			-- 16001 dimensions
	(5, '\x000200003c00'),		-- truncated body
	(6, '\x000100007c00'),		-- infinity
	(7, '\x00010000fe00');		-- NaN
CREATE TABLE h_recv (v ghalfvec);
SET client_min_messages = notice;
CALL regress.copy_binary_cases('h_raw', 'h_recv');
SET client_min_messages = warning;
SELECT * FROM h_recv;
-- half the size of a gvector
SELECT pg_column_size('[1,2,3,4,5,6,7,8]'::ghalfvec) AS half, pg_column_size('[1,2,3,4,5,6,7,8]'::gvector) AS single;
DROP TABLE h, h2, h_raw, h_recv;

-- gv_hnsw: ghalfvec_l2_ops (default), _ip_ops, _cosine_ops, _l1_ops; stored
-- as float16, exactly, so no re-ranking and expressions can be indexed
CREATE TABLE hv (id int, v ghalfvec(16));
INSERT INTO hv SELECT i, ARRAY(SELECT sin(i * (j + 1) * 0.53) * 3 + cos(i * 0.01 * j)
							   FROM generate_series(0, 15) j)::ghalfvec
	FROM generate_series(1, 3000) i;
SET gigavector.hnsw_ef_search = 100;
CREATE INDEX hv_l2 ON hv USING gv_hnsw (v);
SELECT avg(regress.recall('hv', 'v', '<->', v, 10)) >= 0.95 AS l2_recall_ok FROM (SELECT v FROM hv WHERE id % 100 = 1) q;
DROP INDEX hv_l2;
CREATE INDEX hv_ip ON hv USING gv_hnsw (v ghalfvec_ip_ops);
SELECT avg(regress.recall('hv', 'v', '<#>', v, 10)) >= 0.9 AS ip_recall_ok FROM (SELECT v FROM hv WHERE id % 100 = 2) q;
DROP INDEX hv_ip;
CREATE INDEX hv_cos ON hv USING gv_hnsw (v ghalfvec_cosine_ops);
SELECT avg(regress.recall('hv', 'v', '<=>', v, 10)) >= 0.95 AS cosine_recall_ok FROM (SELECT v FROM hv WHERE id % 100 = 3) q;
DROP INDEX hv_cos;
CREATE INDEX hv_l1 ON hv USING gv_hnsw (v ghalfvec_l1_ops);
SELECT avg(regress.recall('hv', 'v', '<+>', v, 10)) >= 0.95 AS l1_recall_ok FROM (SELECT v FROM hv WHERE id % 100 = 4) q;
-- inserts after the build, and a wrong-dimension query
INSERT INTO hv SELECT i, ARRAY(SELECT cos(i * (j + 3) * 0.21) * 2 FROM generate_series(0, 15) j)::ghalfvec
	FROM generate_series(3001, 3500) i;
SELECT avg(regress.recall('hv', 'v', '<+>', v, 10)) >= 0.95 AS l1_recall_after_inserts FROM (SELECT v FROM hv WHERE id % 50 = 7) q;
SET enable_seqscan = off;
SELECT regress.err($$SELECT id FROM hv ORDER BY v <+> '[1,2]' LIMIT 1$$);
RESET enable_seqscan;
DROP INDEX hv_l1;
-- gv_ivfpq: trained on the halves, re-ranked with the operators
SET gigavector.ivfpq_probes = 8;
CREATE INDEX hv_ivf ON hv USING gv_ivfpq (v) WITH (lists = 16, subquantizers = 8);
SELECT trained, lists, entries FROM gigavector.ivfpq_info('hv_ivf');
SELECT avg(regress.recall('hv', 'v', '<->', v, 10)) >= 0.95 AS ivfpq_l2_recall_ok FROM (SELECT v FROM hv WHERE id % 100 = 5) q;
DROP INDEX hv_ivf;
CREATE INDEX hv_ivf ON hv USING gv_ivfpq (v ghalfvec_ip_ops) WITH (lists = 16, subquantizers = 8);
SELECT avg(regress.recall('hv', 'v', '<#>', v, 10)) >= 0.9 AS ivfpq_ip_recall_ok FROM (SELECT v FROM hv WHERE id % 100 = 6) q;
DROP INDEX hv_ivf;
CREATE INDEX hv_ivf ON hv USING gv_ivfpq (v ghalfvec_cosine_ops) WITH (lists = 16, subquantizers = 8);
SELECT avg(regress.recall('hv', 'v', '<=>', v, 10)) >= 0.95 AS ivfpq_cosine_recall_ok FROM (SELECT v FROM hv WHERE id % 100 = 7) q;
SET enable_seqscan = off;
SELECT regress.err($$SELECT id FROM hv ORDER BY v <=> '[1,2]' LIMIT 1$$);
RESET enable_seqscan;
DROP INDEX hv_ivf;
RESET gigavector.ivfpq_probes;
-- the index holds halves: half the size of a gvector index of the same rows
CREATE TABLE fv AS SELECT id, v::gvector(16) AS v FROM hv;
CREATE INDEX hv_l2 ON hv USING gv_hnsw (v);
CREATE INDEX fv_l2 ON fv USING gv_hnsw (v);
SELECT pg_relation_size('hv_l2') < pg_relation_size('fv_l2') AS smaller_index;
-- quantize_half() in an expression index over a gvector column, re-ranked
-- by the exact gvector distance
CREATE INDEX fv_half ON fv USING gv_hnsw ((quantize_half(v)::ghalfvec(16)));
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
SELECT id FROM (SELECT id, v FROM fv ORDER BY quantize_half(v)::ghalfvec(16) <-> quantize_half('[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]') LIMIT 40) c
ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 10;
RESET enable_seqscan;
SELECT (SELECT array_agg(id) FROM (SELECT id FROM (SELECT id, v FROM fv
		ORDER BY quantize_half(v)::ghalfvec(16) <-> quantize_half('[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]') LIMIT 40) c
		ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 10) s) =
	(SELECT array_agg(id) FROM (SELECT id FROM fv ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 10) s)
	AS rerank_matches_exact;
DROP TABLE hv, fv;
