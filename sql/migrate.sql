-- Coming from pgvector: its text forms read as the gigavector types, every
-- type's text form reads back as itself, and the gigavector side of the
-- README's migration table runs as written.
SET client_min_messages = warning;

-- literals as pgvector writes vector, halfvec, sparsevec and bit values
SELECT '[1,2.5,-3,1e-07]'::gvector AS vector, '[1,2.5,-3,0.099975586]'::ghalfvec AS halfvec,
	'{1:0.5,3:-2}/5'::gsparsevec AS sparsevec, '0101'::gbit AS bit;

-- text round trips: each type through text to itself, and across types
CREATE TABLE rt (id int, v gvector(4));
INSERT INTO rt VALUES (1, '[1,2.5,-3,0]'), (2, '[0.1,-0.2,1e-30,3.4028235e38]'),
	(3, '[0,0,0,0]'), (4, '[1.5,-0,65504,-65504]');
SELECT id, v::text::gvector = v AS gvector_text,
	v::gsparsevec::text::gsparsevec = v::gsparsevec AS gsparsevec_text,
	v::gsparsevec::text::gsparsevec::gvector = v AS via_gsparsevec,
	binary_quantize(v)::text::gbit = binary_quantize(v) AS gbit_text
FROM rt ORDER BY id;
-- ghalfvec holds halves: exact for values a half holds, and its text reads
-- back as the same halves
SELECT id, v::text::ghalfvec::gvector = v AS exact_in_half,
	quantize_half(v)::text::ghalfvec = quantize_half(v) AS ghalfvec_text
FROM rt WHERE id <> 2 ORDER BY id;
SELECT '[0.1,-0.2,1e-30,3]'::gvector::text::ghalfvec AS rounded_to_halves;
-- bit and varbit move to gbit and back as PostgreSQL writes them
SELECT B'10110'::gbit::text::bit(5) AS bit_text, B'10110'::varbit::gbit::varbit AS varbit;

-- the gigavector column of the migration table
CREATE TABLE items (
	id bigint PRIMARY KEY,
	embedding gvector(3),
	half ghalfvec(3),
	code gbit(3),
	sparse gsparsevec(5)
);
INSERT INTO items SELECT i, ARRAY[i, i % 7, -i % 5], ARRAY[i % 3, i % 5, 1], B'101' # (i % 8)::bit(3),
	format('{%s:%s,5:1}/5', 1 + i % 4, i)::gsparsevec
	FROM generate_series(1, 200) i;
CREATE INDEX ON items USING gv_hnsw (embedding gvector_l2_ops) WITH (m = 16, ef_construction = 64);
CREATE INDEX ON items USING gv_hnsw (embedding gvector_cosine_ops);
CREATE INDEX ON items USING gv_hnsw (embedding gvector_ip_ops);
CREATE INDEX ON items USING gv_hnsw (embedding gvector_l1_ops);
CREATE INDEX ON items USING gv_hnsw (half ghalfvec_cosine_ops);
CREATE INDEX ON items USING gv_hnsw (code gbit_hamming_ops);
CREATE INDEX ON items USING gv_hnsw (code gbit_jaccard_ops);
CREATE INDEX ON items USING gv_hnsw (sparse gsparsevec_ip_ops);
CREATE INDEX ON items USING gv_hnsw ((binary_quantize(embedding)::gbit(3)) gbit_hamming_ops);
CREATE INDEX ON items USING gv_hnsw ((quantize_half(embedding)::ghalfvec(3)) ghalfvec_l2_ops);
CREATE INDEX ON items USING gv_hnsw (embedding) WITH (storage = float16);
CREATE INDEX ON items USING gv_ivfpq (embedding gvector_l2_ops) WITH (lists = 4);
CREATE INDEX ON items USING gv_ivfpq (half ghalfvec_l2_ops) WITH (lists = 4);
SET gigavector.hnsw_ef_search = 100;
SET gigavector.ivfpq_probes = 4;
SELECT count(*) AS indexes FROM pg_index WHERE indrelid = 'items'::regclass;
-- the same operators and function names, each answered by an index
SET enable_seqscan = off;
SELECT id FROM items ORDER BY embedding <-> '[3,3,3]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY sparse <#> '{2:1,5:1}/5' LIMIT 3;
SELECT id FROM items ORDER BY sparse <#> '{2:1,5:1}/5' LIMIT 3;
SELECT count(*) FILTER (WHERE code = B'101'::gbit) AS nearest_all_equal
	FROM (SELECT code FROM items ORDER BY code <~> B'101'::gbit LIMIT 25) s;
RESET enable_seqscan;
SELECT l2_distance('[1,2,3]'::gvector, '[3,2,1]'), cosine_distance('[1,2,3]'::gvector, '[3,2,1]'),
	inner_product('[1,2,3]'::gvector, '[3,2,1]'), l1_distance('[1,2,3]'::gvector, '[3,2,1]'),
	vector_dims('[1,2,3]'::gvector), vector_norm('[3,4]'::gvector), l2_normalize('[3,4]'::gvector),
	subvector('[1,2,3]'::gvector, 2, 2), hamming_distance('101'::gbit, '011'),
	jaccard_distance('101'::gbit, '011'), binary_quantize('[1,-2,3]'::gvector);
SELECT avg(embedding), sum(embedding) FROM items WHERE id <= 2;
SELECT vector_norm('[3,4]'::ghalfvec), vector_norm('{1:3,2:4}/5'::gsparsevec);
DROP TABLE rt, items;
