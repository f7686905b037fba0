-- gsparsevec: sparse vectors in pgvector's text form
SET client_min_messages = warning;

-- text form: 1-based indices, sorted on input, zeros dropped
SELECT '{1:0.5,7:2}/10000'::gsparsevec, '{7:2, 1:0.5 ,3:0}/10'::gsparsevec, '{}/5'::gsparsevec,
	' { 2 : -1.5 } / 3 '::gsparsevec, '{1:1}/1000000'::gsparsevec(1000000);
SELECT vector_dims('{1:1}/30522'::gsparsevec), format_type('gsparsevec'::regtype, 30522);
-- every bad input an error with its SQLSTATE
SELECT regress.err($$SELECT '{1:1,1:2}/5'::gsparsevec$$);
SELECT regress.err($$SELECT '{0:1}/5'::gsparsevec$$);
SELECT regress.err($$SELECT '{6:1}/5'::gsparsevec$$);
SELECT regress.err($$SELECT '{-1:1}/5'::gsparsevec$$);
SELECT regress.err($$SELECT '{99999999999:1}/5'::gsparsevec$$);
SELECT regress.err($$SELECT '{1:1}/0'::gsparsevec$$);
SELECT regress.err($$SELECT '{1:1}/1000001'::gsparsevec$$);
SELECT regress.err($$SELECT '{1:NaN}/5'::gsparsevec$$);
SELECT regress.err($$SELECT '{1:Infinity}/5'::gsparsevec$$);
SELECT regress.err($$SELECT '{1:1e39}/5'::gsparsevec$$);
SELECT regress.err($$SELECT '{1:1}'::gsparsevec$$);
SELECT regress.err($$SELECT '{1:1/5'::gsparsevec$$);
SELECT regress.err($$SELECT '{1 1}/5'::gsparsevec$$);
SELECT regress.err($$SELECT '[1,2]'::gsparsevec$$);
SELECT regress.err($$SELECT '{a:1}/5'::gsparsevec$$);
SELECT regress.err($$SELECT '{1:1}/5x'::gsparsevec$$);
SELECT regress.err($$SELECT ('{' || string_agg(i || ':1', ',') || '}/20000')::gsparsevec FROM generate_series(1, 16001) i$$);
SELECT regress.err($$SELECT '{1:1}/5'::gsparsevec(4)$$);
SELECT regress.err($$SELECT '{1:1}/5'::gsparsevec(0)$$);
SELECT regress.err($$SELECT '{1:1}/5'::gsparsevec(1000001)$$);

-- casts with gvector
SELECT '[0,1.5,0,-2]'::gvector::gsparsevec, '{2:1.5,4:-2}/4'::gsparsevec::gvector,
	'{2:1.5,4:-2}/4'::gsparsevec::gvector(4)::gsparsevec(4);
SELECT regress.err($$SELECT '{1:1}/16001'::gsparsevec::gvector$$);
SELECT regress.err($$SELECT '{1:1}/4'::gsparsevec::gvector(3)$$);

-- distances, against the same over the dense vectors
CREATE TABLE sv (id int, v gsparsevec(6));
INSERT INTO sv VALUES (1, '{1:1,3:2,6:-1}/6'), (2, '{3:0.5,4:4}/6'), (3, '{}/6'), (4, '{1:1,3:2,6:-1}/6');
SELECT a.id, b.id, a.v <-> b.v AS l2, a.v <#> b.v AS nip, a.v <=> b.v AS cos, a.v <+> b.v AS l1
FROM sv a, sv b WHERE a.id <= b.id ORDER BY 1, 2;
SELECT bool_and(abs((a.v <-> b.v) - (a.v::gvector <-> b.v::gvector)) < 1e-9
			AND abs((a.v <#> b.v) - (a.v::gvector <#> b.v::gvector)) < 1e-9
			AND abs((a.v <=> b.v) - (a.v::gvector <=> b.v::gvector)) < 1e-9
			AND abs((a.v <+> b.v) - (a.v::gvector <+> b.v::gvector)) < 1e-9
			AND abs(l2_squared_distance(a.v, b.v) - l2_squared_distance(a.v::gvector, b.v::gvector)) < 1e-9
			AND abs(inner_product(a.v, b.v) - inner_product(a.v::gvector, b.v::gvector)) < 1e-9) AS match_dense
FROM sv a, sv b;
SELECT regress.err($$SELECT '{1:1}/5'::gsparsevec <-> '{1:1}/6'$$);
SELECT vector_norm('{1:3,9:4}/10'::gsparsevec), l2_normalize('{1:3,9:4}/10'::gsparsevec),
	l2_normalize('{}/3'::gsparsevec);
-- at magnitudes past float's squares
SELECT '{1:3e38}/2'::gsparsevec <-> '{2:3e38}/2' AS huge, '{1:1e-30}/2'::gsparsevec <-> '{1:-1e-30}/2' AS tiny;

-- equality, DISTINCT, ORDER BY
SELECT '{1:1,3:2}/5'::gsparsevec = '{3:2,1:1,2:0}/5', '{1:1}/5'::gsparsevec = '{1:1}/6',
	count(DISTINCT v) FROM sv GROUP BY 1, 2;

-- binary COPY round-trips; non-canonical or corrupt binary data is refused
COPY sv TO '/tmp/gigavector_gsparsevec.bin' WITH (FORMAT binary);
CREATE TABLE sv2 (LIKE sv);
COPY sv2 FROM '/tmp/gigavector_gsparsevec.bin' WITH (FORMAT binary);
SELECT a.id, a.v = b.v AS same FROM sv a JOIN sv2 b USING (id) ORDER BY id;
CREATE TABLE s_raw (id int, b bytea);
INSERT INTO s_raw VALUES
	(1, '\x000000050000000100000000000000023f800000'),	-- valid: {3:1}/5
	(2, '\x000000050000000100000001000000023f800000'),	-- reserved field
	(3, '\x000000050000000100000000000000053f800000'),	-- index out of range
	(4, '\x00000005000000020000000000000002000000013f8000003f800000'),	-- not increasing
	(5, '\x0000000500000001000000000000000200000000'),	-- explicit zero
	(6, '\x000000050000000100000000000000027fc00000'),	-- NaN
	(7, '\x000000050000000100000000'),	-- truncated
	(8, '\x00000005ffffffff00000000'),	-- negative count
	(9, '\x000f42410000000000000000');	-- 1000001 dimensions
CREATE TABLE s_recv (v gsparsevec);
SET client_min_messages = notice;
CALL regress.copy_binary_cases('s_raw', 's_recv');
SET client_min_messages = warning;
SELECT * FROM s_recv;
-- a SPLADE-sized vector is stored by its non-zeros
SELECT pg_column_size('{1:1,500:2,30000:3}/30522'::gsparsevec) AS bytes;
-- gv_hnsw: recall of each operator class against the exact answers
-- 3000 vectors of 256 dimensions, about 16 non-zeros each
CREATE TABLE hs (id int, v gsparsevec(256));
INSERT INTO hs SELECT i, ARRAY(SELECT CASE WHEN hashint4(i * 1000 + j) % 16 = 0
									   THEN sin(i * 0.37 + j * 1.3) * 2 + 0.5 ELSE 0 END
							   FROM generate_series(1, 256) j)::gvector::gsparsevec
	FROM generate_series(1, 3000) i;
SELECT avg(cardinality(regexp_split_to_array(v::text, ','))) BETWEEN 10 AND 22 AS sparse FROM hs;
SET gigavector.hnsw_ef_search = 100;
CREATE INDEX hs_l2 ON hs USING gv_hnsw (v);
SELECT avg(regress.recall('hs', 'v', '<->', v, 10)) >= 0.95 AS l2_recall_ok FROM (SELECT v FROM hs WHERE id % 100 = 1) q;
-- the distances an index scan orders by are the operator's
SET enable_seqscan = off;
SELECT id, round((v <-> '{1:1,2:1,3:1}/256')::numeric, 6) AS d FROM hs
	ORDER BY v <-> '{1:1,2:1,3:1}/256' LIMIT 3;
RESET enable_seqscan;
SELECT id, round((v <-> '{1:1,2:1,3:1}/256')::numeric, 6) AS d FROM hs
	ORDER BY v <-> '{1:1,2:1,3:1}/256', id LIMIT 3;
DROP INDEX hs_l2;
CREATE INDEX hs_ip ON hs USING gv_hnsw (v gsparsevec_ip_ops);
SELECT avg(regress.recall('hs', 'v', '<#>', v, 10)) >= 0.9 AS ip_recall_ok FROM (SELECT v FROM hs WHERE id % 100 = 2) q;
DROP INDEX hs_ip;
CREATE INDEX hs_cos ON hs USING gv_hnsw (v gsparsevec_cosine_ops);
SELECT avg(regress.recall('hs', 'v', '<=>', v, 10)) >= 0.95 AS cosine_recall_ok FROM (SELECT v FROM hs WHERE id % 100 = 3) q;
DROP INDEX hs_cos;
-- L1 over vectors that share few non-zeros is the hardest for a graph:
-- about 0.93 here with ef_search = 100
CREATE INDEX hs_l1 ON hs USING gv_hnsw (v gsparsevec_l1_ops);
SELECT avg(regress.recall('hs', 'v', '<+>', v, 10)) >= 0.85 AS l1_recall_ok FROM (SELECT v FROM hs WHERE id % 100 = 4) q;
-- inserts after the build, an empty vector, and a wrong-dimension query
INSERT INTO hs SELECT i, ARRAY(SELECT CASE WHEN hashint4(i * 1000 + j) % 16 = 0
									   THEN cos(i * 0.21 + j) * 2 ELSE 0 END
							   FROM generate_series(1, 256) j)::gvector::gsparsevec
	FROM generate_series(3001, 3500) i;
INSERT INTO hs VALUES (0, '{}/256');
SELECT avg(regress.recall('hs', 'v', '<+>', v, 10)) >= 0.85 AS l1_recall_after_inserts FROM (SELECT v FROM hs WHERE id % 50 = 7) q;
SET enable_seqscan = off;
SELECT regress.err($$SELECT id FROM hs ORDER BY v <+> '{1:1}/100' LIMIT 1$$);
RESET enable_seqscan;
DROP INDEX hs_l1;
-- gv_ivfpq: trained on the densified vectors, re-ranked with the operators
SET gigavector.ivfpq_probes = 8;
CREATE INDEX hs_ivf ON hs USING gv_ivfpq (v gsparsevec_l2_ops) WITH (lists = 16, subquantizers = 16);
SELECT trained, lists, entries FROM gigavector.ivfpq_info('hs_ivf');
SELECT avg(regress.recall('hs', 'v', '<->', v, 10)) >= 0.95 AS ivfpq_l2_recall_ok FROM (SELECT v FROM hs WHERE id % 100 = 5) q;
DROP INDEX hs_ivf;
CREATE INDEX hs_ivf ON hs USING gv_ivfpq (v gsparsevec_ip_ops) WITH (lists = 16, subquantizers = 16);
SELECT avg(regress.recall('hs', 'v', '<#>', v, 10)) >= 0.95 AS ivfpq_ip_recall_ok FROM (SELECT v FROM hs WHERE id % 100 = 6) q;
-- rows inserted after training are encoded the same way
INSERT INTO hs VALUES (4001, '{7:30,9:30}/256');
SET enable_seqscan = off;
SELECT id FROM hs ORDER BY v <#> '{7:1,9:1}/256' LIMIT 1;
SELECT regress.err($$SELECT id FROM hs ORDER BY v <#> '{1:1}/100' LIMIT 1$$);
RESET enable_seqscan;
DROP INDEX hs_ivf;
CREATE INDEX hs_ivf ON hs USING gv_ivfpq (v gsparsevec_cosine_ops) WITH (lists = 16, subquantizers = 16);
SELECT avg(regress.recall('hs', 'v', '<=>', v, 10)) >= 0.95 AS ivfpq_cosine_recall_ok FROM (SELECT v FROM hs WHERE id % 100 = 7) q;
DROP INDEX hs_ivf;
RESET gigavector.ivfpq_probes;
-- the dimensions must be declared
CREATE TABLE hs_nodim (v gsparsevec);
SELECT regress.err($$CREATE INDEX ON hs_nodim USING gv_hnsw (v)$$);
-- a SPLADE-width column is stored by its non-zeros, and its distances are
-- computed over them: 3000 rows of 50 to 150 non-zeros, indices drawn
-- log-uniformly (a Zipf-like spread: low indices are common), positive values
CREATE TABLE hs_wide (id int, v gsparsevec(30522));
INSERT INTO hs_wide
SELECT i, ('{' || string_agg((idx + 1) || ':' || val, ',' ORDER BY idx) || '}/30522')::gsparsevec
FROM (SELECT i, idx, max(val) AS val
	  FROM (SELECT i, j,
				   floor(exp((hashint4(i * 7919 + j)::float8 + 2147483648) / 4294967296 * ln(30522)))::int - 1 AS idx,
				   round((0.1 + (hashint4(i * 104729 + j)::float8 + 2147483648) / 4294967296 * 2)::numeric, 3) AS val
			FROM generate_series(1, 3000) i,
				 LATERAL generate_series(1, 50 + abs(hashint4(i)) % 101) j) d
	  GROUP BY i, idx) e
GROUP BY i;
SELECT min(n) >= 30 AND max(n) <= 150 AND avg(n) BETWEEN 60 AND 110 AS splade_like
	FROM (SELECT cardinality(regexp_split_to_array(v::text, ',')) AS n FROM hs_wide) c;
SET client_min_messages = notice;
CREATE INDEX hs_wide_l2 ON hs_wide USING gv_hnsw (v);
SET client_min_messages = warning;
-- one page an element, not 30522 * 4 bytes
SELECT pg_relation_size('hs_wide_l2') / 8192 BETWEEN 3000 AND 3100 AS pages_ok;
SELECT avg(regress.recall('hs_wide', 'v', '<->', v, 10)) >= 0.9 AS wide_l2_recall_ok
	FROM (SELECT v FROM hs_wide WHERE id % 150 = 1) q;
-- a row needs room for its non-zeros: about 900 at m = 16
INSERT INTO hs_wide VALUES (3001, '{1:1,30522:2}/30522');
SELECT regress.err($$INSERT INTO hs_wide SELECT 0, ('{' || string_agg(j || ':1', ',') || '}/30522')::gsparsevec
	FROM generate_series(1, 1000) j$$);
-- a query may have more non-zeros than a row may
SET enable_seqscan = off;
SELECT id FROM hs_wide ORDER BY v <#> ('{' || (SELECT string_agg(j || ':1', ',') FROM generate_series(1, 1000) j)
	|| ',30522:1000}/30522')::gsparsevec LIMIT 1;
RESET enable_seqscan;
-- (under L2 the short vectors are near everything and gather the links:
-- about 1,800 elements are unreachable from the entry point, as when the
-- same data is stored densified; the exact pass after the graph finds them)
SELECT elements, tombstones, heap_tids FROM gigavector.hnsw_verify('hs_wide_l2');
DROP INDEX hs_wide_l2;
CREATE INDEX hs_wide_ip ON hs_wide USING gv_hnsw (v gsparsevec_ip_ops);
SELECT avg(regress.recall('hs_wide', 'v', '<#>', v, 10)) >= 0.9 AS wide_ip_recall_ok
	FROM (SELECT v FROM hs_wide WHERE id % 150 = 2) q;
DROP INDEX hs_wide_ip;
CREATE INDEX hs_wide_cos ON hs_wide USING gv_hnsw (v gsparsevec_cosine_ops);
SELECT avg(regress.recall('hs_wide', 'v', '<=>', v, 10)) >= 0.9 AS wide_cosine_recall_ok
	FROM (SELECT v FROM hs_wide WHERE id % 150 = 3) q;
SELECT unreachable <= 30 AS cosine_graph_connected FROM gigavector.hnsw_verify('hs_wide_cos');
-- scans order by the operator's distances: a row is its own nearest
SET enable_seqscan = off;
SELECT id, round((v <=> (SELECT v FROM hs_wide WHERE id = 7))::numeric, 6) AS d FROM hs_wide
	ORDER BY v <=> (SELECT v FROM hs_wide WHERE id = 7) LIMIT 1;
RESET enable_seqscan;
-- VACUUM repairs the graph of a sparse index as of a dense one
DELETE FROM hs_wide WHERE id % 3 = 0;
VACUUM hs_wide;
SELECT avg(regress.recall('hs_wide', 'v', '<=>', v, 10)) >= 0.9 AS wide_cosine_recall_after_vacuum
	FROM (SELECT v FROM hs_wide WHERE id % 150 = 4) q;
SELECT tombstones, links_to_tombstones FROM gigavector.hnsw_verify('hs_wide_cos');
DROP INDEX hs_wide_cos;
-- m bounds the non-zeros a row may have: fewer with more links
CREATE TABLE hs_wide_m (v gsparsevec(30522));
CREATE INDEX hs_wide_m_idx ON hs_wide_m USING gv_hnsw (v) WITH (m = 100, ef_construction = 200);
SELECT regress.err($$INSERT INTO hs_wide_m SELECT ('{' || string_agg(j || ':1', ',') || '}/30522')::gsparsevec
	FROM generate_series(1, 400) j$$);
DROP TABLE hs_wide_m;
-- past float32's room it is stored by its non-zeros (float16 or int8 only if asked)
CREATE TABLE hs_mid (v gsparsevec(5000));
INSERT INTO hs_mid VALUES ('{1:1,4000:2}/5000'), ('{2:1}/5000');
SET client_min_messages = notice;
CREATE INDEX ON hs_mid USING gv_hnsw (v);
SET client_min_messages = warning;
SET enable_seqscan = off;
SELECT v FROM hs_mid ORDER BY v <-> '{4000:2}/5000' LIMIT 1;
RESET enable_seqscan;
DROP TABLE hs, hs_nodim, hs_wide, hs_mid;
DROP TABLE sv, sv2, s_raw, s_recv;
