-- gbit: binary embeddings, Hamming <~> and Jaccard <%>, binary_quantize()
SET client_min_messages = warning;

-- text form as bit's
SELECT '0101'::gbit, '101010101'::gbit(9), vector_dims('0101'::gbit), format_type('gbit'::regtype, 64);
-- pgvector's bit columns move through text, or by a cast from bit
SELECT B'10110'::text::gbit, B'10110'::gbit, '10110'::gbit::varbit;
SELECT regress.err($$SELECT ''::gbit$$);
SELECT regress.err($$SELECT '0102'::gbit$$);
SELECT regress.err($$SELECT ' 01'::gbit$$);
SELECT regress.err($$SELECT '0101'::gbit(3)$$);
SELECT regress.err($$SELECT repeat('1', 64001)::gbit$$);
SELECT regress.err($$SELECT '1'::gbit(0)$$);
SELECT regress.err($$SELECT '1'::gbit(64001)$$);
SELECT regress.err($$SELECT B''::gbit$$);

-- distances, against counts made from the text forms
SELECT '0101'::gbit <~> '1100' AS hamming, '0101'::gbit <%> '0111' AS jaccard,
	hamming_distance('1111', '1111'), jaccard_distance('1111', '1111'),
	'0000'::gbit <%> '0000' AS jaccard_empty, '1000'::gbit <%> '0100' AS jaccard_disjoint;
SELECT regress.err($$SELECT '01'::gbit <~> '011'$$);
SELECT regress.err($$SELECT '01'::gbit <%> '011'$$);
CREATE TABLE bt (id int, b gbit(200));
INSERT INTO bt SELECT i, string_agg(CASE WHEN (i * 7 + j * j * 13) % 5 < 2 THEN '1' ELSE '0' END, '' ORDER BY j)::gbit
	FROM generate_series(1, 50) i, generate_series(1, 200) j GROUP BY i;
SELECT bool_and((a.b <~> c.b) = (SELECT count(*) FROM generate_series(1, 200) k
								  WHERE substr(a.b::text, k, 1) <> substr(c.b::text, k, 1)))
	AS hamming_matches_count,
	bool_and(abs((a.b <%> c.b) - (1 - (SELECT count(*) FILTER (WHERE substr(a.b::text, k, 1) = '1' AND substr(c.b::text, k, 1) = '1')::float8
		/ nullif(count(*) FILTER (WHERE substr(a.b::text, k, 1) = '1' OR substr(c.b::text, k, 1) = '1'), 0)
		FROM generate_series(1, 200) k))) < 1e-12) AS jaccard_matches_count
FROM bt a, bt c WHERE a.id < c.id AND a.id <= 10;

-- binary_quantize: a bit per positive element
SELECT binary_quantize('[1,-2,0,3,-0,0.001]'::gvector), binary_quantize('[1,-2,0,3]'::ghalfvec);

-- comparison and hashing
SELECT '0101'::gbit = '0101', '0101'::gbit < '0110', count(DISTINCT b) FROM
	(VALUES ('01'::gbit), ('01'), ('10')) t(b) GROUP BY 1, 2;

-- binary COPY round-trips; corrupt data is refused
COPY bt TO '/tmp/gigavector_gbit.bin' WITH (FORMAT binary);
CREATE TABLE bt2 (LIKE bt);
COPY bt2 FROM '/tmp/gigavector_gbit.bin' WITH (FORMAT binary);
SELECT count(*) FROM bt a JOIN bt2 c USING (id) WHERE a.b = c.b;
CREATE TABLE b_raw (id int, b bytea);
INSERT INTO b_raw VALUES
	(1, '\x00000004a0'),		-- valid: 1010
	(2, '\x00000004a1'),		-- a padding bit set
	(3, '\x00000000'),			-- no bits
	(4, '\x0000000a00'),		-- 10 bits, one byte
	(5, '\x0000fa01'),			-- 64001 bits
	(6, '\x000000');			-- truncated header
CREATE TABLE b_recv (b gbit);
SET client_min_messages = notice;
CALL regress.copy_binary_cases('b_raw', 'b_recv');
SET client_min_messages = warning;
SELECT * FROM b_recv;
DROP TABLE bt, bt2, b_raw, b_recv;

-- gv_hnsw: gbit_hamming_ops (default) and gbit_jaccard_ops, stored as
-- binary (exact); recall against the exact answer
-- 256-bit codes of 3,000 points: binary_quantize of deterministic vectors
CREATE TABLE bv (id int, v gvector(256), b gbit(256));
INSERT INTO bv SELECT i, x, binary_quantize(x) FROM generate_series(1, 3000) i,
	LATERAL (SELECT ARRAY(SELECT sin(i * (j + 1) * 0.29) + cos((i % 37) * j * 0.7) - 0.2
						  FROM generate_series(0, 255) j)::gvector AS x) s;
SET gigavector.hnsw_ef_search = 100;
CREATE INDEX bv_ham ON bv USING gv_hnsw (b);
SELECT avg(regress.recall('bv', 'b', '<~>', b, 10, ties => true)) >= 0.95 AS hamming_recall_ok FROM (SELECT b FROM bv WHERE id % 100 = 5) q;
DROP INDEX bv_ham;
CREATE INDEX bv_jac ON bv USING gv_hnsw (b gbit_jaccard_ops);
SELECT avg(regress.recall('bv', 'b', '<%>', b, 10, ties => true)) >= 0.95 AS jaccard_recall_ok FROM (SELECT b FROM bv WHERE id % 100 = 6) q;
DROP INDEX bv_jac;
-- scans count distances on the codes (the rows with no bit and with every
-- bit set on floats): the index orders rows as the operators do
INSERT INTO bv (id, b) VALUES (9001, repeat('0', 256)::gbit), (9002, repeat('1', 256)::gbit);
CREATE TEMP TABLE bq AS SELECT id, b FROM bv WHERE id % 300 = 7 OR id > 9000;
SET enable_indexscan = off;
CREATE TEMP TABLE bx AS SELECT q.id, op,
	ARRAY(SELECT CASE op WHEN '<~>' THEN b <~> q.b ELSE b <%> q.b END FROM bv
		  ORDER BY CASE op WHEN '<~>' THEN b <~> q.b ELSE b <%> q.b END LIMIT 20) AS d
	FROM bq q, (VALUES ('<~>'), ('<%>')) o(op);
RESET enable_indexscan;
CREATE INDEX bv_ham ON bv USING gv_hnsw (b);
CREATE INDEX bv_jac ON bv USING gv_hnsw (b gbit_jaccard_ops);
SET enable_seqscan = off;
SELECT id, b <~> repeat('1', 256)::gbit AS d FROM bv ORDER BY b <~> repeat('1', 256)::gbit LIMIT 1;
SELECT id, b <~> repeat('0', 256)::gbit AS d FROM bv ORDER BY b <~> repeat('0', 256)::gbit LIMIT 1;
-- (the graph may miss one row of a tie: all but one query find the exact
-- 20 distances, and every answer comes out in the operator's order)
SELECT op, count(*) AS queries, count(*) FILTER (WHERE d = got) >= count(*) - 1 AS exact_distances,
	bool_and(got = ARRAY(SELECT x FROM unnest(got) x ORDER BY x)) AS in_order
	FROM (SELECT bx.op, bx.d, CASE op
			WHEN '<~>' THEN ARRAY(SELECT b <~> q.b FROM bv ORDER BY b <~> q.b LIMIT 20)
			ELSE ARRAY(SELECT b <%> q.b FROM bv ORDER BY b <%> q.b LIMIT 20) END AS got
		  FROM bx JOIN bq q USING (id)) s
	GROUP BY op ORDER BY op;
RESET enable_seqscan;
DROP INDEX bv_ham, bv_jac;
DELETE FROM bv WHERE id > 9000;
-- at least 4x smaller than the float32 index of the same vectors (one bit a
-- dimension against 32; both carry the same links)
CREATE INDEX bv_ham ON bv USING gv_hnsw (b);
CREATE INDEX bv_l2 ON bv USING gv_hnsw (v);
SELECT pg_relation_size('bv_ham') * 4 <= pg_relation_size('bv_l2') AS much_smaller;
DROP INDEX bv_ham, bv_l2;
-- the re-rank pattern: binary_quantize() in an expression index picks
-- candidates by Hamming distance, the exact gvector distance orders them
CREATE INDEX bv_bq ON bv USING gv_hnsw ((binary_quantize(v)::gbit(256)) gbit_hamming_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
SELECT id FROM (SELECT id, v FROM bv ORDER BY binary_quantize(v)::gbit(256) <~> binary_quantize((SELECT v FROM bv WHERE id = 1)) LIMIT 100) c
ORDER BY v <-> (SELECT v FROM bv WHERE id = 1) LIMIT 10;
RESET enable_seqscan;
SELECT (SELECT count(*) FROM (SELECT id FROM (SELECT id, v FROM bv
		ORDER BY binary_quantize(v)::gbit(256) <~> binary_quantize(q.v) LIMIT 100) c
		ORDER BY v <-> q.v LIMIT 10) s
		WHERE id IN (SELECT id FROM bv ORDER BY v <-> q.v LIMIT 10)) >= 8 AS rerank_recall_ok
FROM bv q WHERE q.id = 1;
-- an expression gbit index must fit binary storage; wider codes are refused clearly
CREATE TABLE bwide (b gbit(64000));
SELECT regress.err($$CREATE INDEX ON bwide USING gv_hnsw (b)$$);
DROP TABLE bv, bwide;
