-- gsparsevec: sparse vectors in pgvector's text form
SET client_min_messages = warning;

CREATE FUNCTION err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- text form: 1-based indices, sorted on input, zeros dropped
SELECT '{1:0.5,7:2}/10000'::gsparsevec, '{7:2, 1:0.5 ,3:0}/10'::gsparsevec, '{}/5'::gsparsevec,
	' { 2 : -1.5 } / 3 '::gsparsevec, '{1:1}/1000000'::gsparsevec(1000000);
SELECT vector_dims('{1:1}/30522'::gsparsevec), format_type('gsparsevec'::regtype, 30522);
-- every bad input an error with its SQLSTATE
SELECT err($$SELECT '{1:1,1:2}/5'::gsparsevec$$);
SELECT err($$SELECT '{0:1}/5'::gsparsevec$$);
SELECT err($$SELECT '{6:1}/5'::gsparsevec$$);
SELECT err($$SELECT '{-1:1}/5'::gsparsevec$$);
SELECT err($$SELECT '{99999999999:1}/5'::gsparsevec$$);
SELECT err($$SELECT '{1:1}/0'::gsparsevec$$);
SELECT err($$SELECT '{1:1}/1000001'::gsparsevec$$);
SELECT err($$SELECT '{1:NaN}/5'::gsparsevec$$);
SELECT err($$SELECT '{1:Infinity}/5'::gsparsevec$$);
SELECT err($$SELECT '{1:1e39}/5'::gsparsevec$$);
SELECT err($$SELECT '{1:1}'::gsparsevec$$);
SELECT err($$SELECT '{1:1/5'::gsparsevec$$);
SELECT err($$SELECT '{1 1}/5'::gsparsevec$$);
SELECT err($$SELECT '[1,2]'::gsparsevec$$);
SELECT err($$SELECT '{a:1}/5'::gsparsevec$$);
SELECT err($$SELECT '{1:1}/5x'::gsparsevec$$);
SELECT err($$SELECT ('{' || string_agg(i || ':1', ',') || '}/20000')::gsparsevec FROM generate_series(1, 16001) i$$);
SELECT err($$SELECT '{1:1}/5'::gsparsevec(4)$$);
SELECT err($$SELECT '{1:1}/5'::gsparsevec(0)$$);
SELECT err($$SELECT '{1:1}/5'::gsparsevec(1000001)$$);

-- casts with gvector
SELECT '[0,1.5,0,-2]'::gvector::gsparsevec, '{2:1.5,4:-2}/4'::gsparsevec::gvector,
	'{2:1.5,4:-2}/4'::gsparsevec::gvector(4)::gsparsevec(4);
SELECT err($$SELECT '{1:1}/16001'::gsparsevec::gvector$$);
SELECT err($$SELECT '{1:1}/4'::gsparsevec::gvector(3)$$);

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
SELECT err($$SELECT '{1:1}/5'::gsparsevec <-> '{1:1}/6'$$);
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
DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT id FROM s_raw ORDER BY id LOOP
		EXECUTE format('COPY (SELECT b FROM s_raw WHERE id = %s) TO %L WITH (FORMAT binary)',
					   r.id, '/tmp/gigavector_gsparsevec_raw.bin');
		BEGIN
			COPY s_recv FROM '/tmp/gigavector_gsparsevec_raw.bin' WITH (FORMAT binary);
			RAISE NOTICE 'case %: accepted', r.id;
		EXCEPTION WHEN OTHERS THEN
			RAISE NOTICE 'case %: % (%)', r.id, SQLERRM, SQLSTATE;
		END;
	END LOOP;
END $$;
SET client_min_messages = warning;
SELECT * FROM s_recv;
-- a SPLADE-sized vector is stored by its non-zeros
SELECT pg_column_size('{1:1,500:2,30000:3}/30522'::gsparsevec) AS bytes;
DROP TABLE sv, sv2, s_raw, s_recv;
DROP FUNCTION err;
