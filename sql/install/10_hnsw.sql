------------------------------------------------------------------------------
-- gv_hnsw: HNSW graph index (src/hnsw)
------------------------------------------------------------------------------

CREATE FUNCTION gv_hnsw_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE ACCESS METHOD gv_hnsw TYPE INDEX HANDLER gv_hnsw_handler;
COMMENT ON ACCESS METHOD gv_hnsw IS 'gigavector HNSW graph index for approximate nearest-neighbour search';

CREATE OPERATOR CLASS gvector_l2_ops
	DEFAULT FOR TYPE gvector USING gv_hnsw AS
	OPERATOR 1 <-> (gvector, gvector) FOR ORDER BY float_ops,
	FUNCTION 1 gvector_l2_metric(internal);

CREATE OPERATOR CLASS gvector_cosine_ops
	FOR TYPE gvector USING gv_hnsw AS
	OPERATOR 1 <=> (gvector, gvector) FOR ORDER BY float_ops,
	FUNCTION 1 gvector_cosine_metric(internal);

CREATE OPERATOR CLASS gvector_ip_ops
	FOR TYPE gvector USING gv_hnsw AS
	OPERATOR 1 <#> (gvector, gvector) FOR ORDER BY float_ops,
	FUNCTION 1 gvector_ip_metric(internal);

CREATE OPERATOR CLASS gvector_l1_ops
	FOR TYPE gvector USING gv_hnsw AS
	OPERATOR 1 <+> (gvector, gvector) FOR ORDER BY float_ops,
	FUNCTION 1 gvector_l1_metric(internal);

-- ghalfvec (stored as float16 unless storage says otherwise: exact, no
-- re-ranking) and gbit (stored as binary: exact)
CREATE OPERATOR CLASS ghalfvec_l2_ops
	DEFAULT FOR TYPE ghalfvec USING gv_hnsw AS
	OPERATOR 1 <-> (ghalfvec, ghalfvec) FOR ORDER BY float_ops,
	FUNCTION 1 ghalfvec_l2_metric(internal);
CREATE OPERATOR CLASS ghalfvec_cosine_ops
	FOR TYPE ghalfvec USING gv_hnsw AS
	OPERATOR 1 <=> (ghalfvec, ghalfvec) FOR ORDER BY float_ops,
	FUNCTION 1 ghalfvec_cosine_metric(internal);
CREATE OPERATOR CLASS ghalfvec_ip_ops
	FOR TYPE ghalfvec USING gv_hnsw AS
	OPERATOR 1 <#> (ghalfvec, ghalfvec) FOR ORDER BY float_ops,
	FUNCTION 1 ghalfvec_ip_metric(internal);
CREATE OPERATOR CLASS ghalfvec_l1_ops
	FOR TYPE ghalfvec USING gv_hnsw AS
	OPERATOR 1 <+> (ghalfvec, ghalfvec) FOR ORDER BY float_ops,
	FUNCTION 1 ghalfvec_l1_metric(internal);
CREATE OPERATOR CLASS gbit_hamming_ops
	DEFAULT FOR TYPE gbit USING gv_hnsw AS
	OPERATOR 1 <~> (gbit, gbit) FOR ORDER BY float_ops,
	FUNCTION 1 gbit_hamming_metric(internal);
CREATE OPERATOR CLASS gbit_jaccard_ops
	FOR TYPE gbit USING gv_hnsw AS
	OPERATOR 1 <%> (gbit, gbit) FOR ORDER BY float_ops,
	FUNCTION 1 gbit_jaccard_metric(internal);

-- Filter columns after the vector: CREATE INDEX ... USING gv_hnsw (emb, category);
-- WHERE conditions on them are then tested inside the graph search:
-- = (strategy 1) on every kind; < <= >= > (2-5, so BETWEEN too) on the
-- ordered kinds (integers, float4/float8, date, timestamp, timestamptz),
-- whose stored codes order like the values (src/gvfilter.c); and,
-- through the access method, = ANY(array) / IN (...) and IS [NOT] NULL.
-- The integer classes share one family with the cross-type operators, so
-- that WHERE int_column = $1 uses the index whatever integer type the
-- client binds (psycopg sends a small Python int as smallint); every integer
-- is stored as its sign-extended Datum, equal across the three types.  The
-- float classes share one the same way (float4 values are stored as the
-- double they equal).
CREATE OPERATOR FAMILY integer_ops USING gv_hnsw;
CREATE OPERATOR CLASS int2_ops DEFAULT FOR TYPE int2 USING gv_hnsw FAMILY integer_ops AS
	OPERATOR 1 = (int2, int2), OPERATOR 2 < (int2, int2), OPERATOR 3 <= (int2, int2),
	OPERATOR 4 >= (int2, int2), OPERATOR 5 > (int2, int2);
CREATE OPERATOR CLASS int4_ops DEFAULT FOR TYPE int4 USING gv_hnsw FAMILY integer_ops AS
	OPERATOR 1 = (int4, int4), OPERATOR 2 < (int4, int4), OPERATOR 3 <= (int4, int4),
	OPERATOR 4 >= (int4, int4), OPERATOR 5 > (int4, int4);
CREATE OPERATOR CLASS int8_ops DEFAULT FOR TYPE int8 USING gv_hnsw FAMILY integer_ops AS
	OPERATOR 1 = (int8, int8), OPERATOR 2 < (int8, int8), OPERATOR 3 <= (int8, int8),
	OPERATOR 4 >= (int8, int8), OPERATOR 5 > (int8, int8);
ALTER OPERATOR FAMILY integer_ops USING gv_hnsw ADD
	OPERATOR 1 = (int2, int4), OPERATOR 1 = (int2, int8),
	OPERATOR 1 = (int4, int2), OPERATOR 1 = (int4, int8),
	OPERATOR 1 = (int8, int2), OPERATOR 1 = (int8, int4),
	OPERATOR 2 < (int2, int4), OPERATOR 2 < (int2, int8),
	OPERATOR 2 < (int4, int2), OPERATOR 2 < (int4, int8),
	OPERATOR 2 < (int8, int2), OPERATOR 2 < (int8, int4),
	OPERATOR 3 <= (int2, int4), OPERATOR 3 <= (int2, int8),
	OPERATOR 3 <= (int4, int2), OPERATOR 3 <= (int4, int8),
	OPERATOR 3 <= (int8, int2), OPERATOR 3 <= (int8, int4),
	OPERATOR 4 >= (int2, int4), OPERATOR 4 >= (int2, int8),
	OPERATOR 4 >= (int4, int2), OPERATOR 4 >= (int4, int8),
	OPERATOR 4 >= (int8, int2), OPERATOR 4 >= (int8, int4),
	OPERATOR 5 > (int2, int4), OPERATOR 5 > (int2, int8),
	OPERATOR 5 > (int4, int2), OPERATOR 5 > (int4, int8),
	OPERATOR 5 > (int8, int2), OPERATOR 5 > (int8, int4);
CREATE OPERATOR FAMILY float_ops USING gv_hnsw;
CREATE OPERATOR CLASS float4_ops DEFAULT FOR TYPE float4 USING gv_hnsw FAMILY float_ops AS
	OPERATOR 1 = (float4, float4), OPERATOR 2 < (float4, float4), OPERATOR 3 <= (float4, float4),
	OPERATOR 4 >= (float4, float4), OPERATOR 5 > (float4, float4);
CREATE OPERATOR CLASS float8_ops DEFAULT FOR TYPE float8 USING gv_hnsw FAMILY float_ops AS
	OPERATOR 1 = (float8, float8), OPERATOR 2 < (float8, float8), OPERATOR 3 <= (float8, float8),
	OPERATOR 4 >= (float8, float8), OPERATOR 5 > (float8, float8);
ALTER OPERATOR FAMILY float_ops USING gv_hnsw ADD
	OPERATOR 1 = (float4, float8), OPERATOR 1 = (float8, float4),
	OPERATOR 2 < (float4, float8), OPERATOR 2 < (float8, float4),
	OPERATOR 3 <= (float4, float8), OPERATOR 3 <= (float8, float4),
	OPERATOR 4 >= (float4, float8), OPERATOR 4 >= (float8, float4),
	OPERATOR 5 > (float4, float8), OPERATOR 5 > (float8, float4);
CREATE OPERATOR CLASS bool_ops DEFAULT FOR TYPE bool USING gv_hnsw AS OPERATOR 1 = (bool, bool);
CREATE OPERATOR CLASS date_ops DEFAULT FOR TYPE date USING gv_hnsw AS
	OPERATOR 1 = (date, date), OPERATOR 2 < (date, date), OPERATOR 3 <= (date, date),
	OPERATOR 4 >= (date, date), OPERATOR 5 > (date, date);
CREATE OPERATOR CLASS timestamp_ops DEFAULT FOR TYPE timestamp USING gv_hnsw AS
	OPERATOR 1 = (timestamp, timestamp), OPERATOR 2 < (timestamp, timestamp),
	OPERATOR 3 <= (timestamp, timestamp), OPERATOR 4 >= (timestamp, timestamp),
	OPERATOR 5 > (timestamp, timestamp);
CREATE OPERATOR CLASS timestamptz_ops DEFAULT FOR TYPE timestamptz USING gv_hnsw AS
	OPERATOR 1 = (timestamptz, timestamptz), OPERATOR 2 < (timestamptz, timestamptz),
	OPERATOR 3 <= (timestamptz, timestamptz), OPERATOR 4 >= (timestamptz, timestamptz),
	OPERATOR 5 > (timestamptz, timestamptz);
CREATE OPERATOR CLASS text_ops DEFAULT FOR TYPE text USING gv_hnsw AS OPERATOR 1 = (text, text);
CREATE OPERATOR CLASS uuid_ops DEFAULT FOR TYPE uuid USING gv_hnsw AS OPERATOR 1 = (uuid, uuid);
-- jsonb: each row's top-level keys and key/value pairs as a 64-bit
-- signature (src/gvfilterjsonb.c), so that @> (7), ? (9), ?| (10) and ?&
-- (11) -- the numbers of GIN's jsonb_ops -- and = are tested in the graph;
-- the executor rechecks, so results are exact.
CREATE OPERATOR CLASS jsonb_ops DEFAULT FOR TYPE jsonb USING gv_hnsw AS
	OPERATOR 1 = (jsonb, jsonb), OPERATOR 7 @> (jsonb, jsonb), OPERATOR 9 ? (jsonb, text),
	OPERATOR 10 ?| (jsonb, text[]), OPERATOR 11 ?& (jsonb, text[]);
-- "column ->> key = value" becomes the index condition
-- "column @> ANY(gigavector.jsonb_field_candidates(key, value))" (planner
-- hook, src/gvplanner.c; the executor rechecks the ->> clause): the
-- objects one of which a row must contain for ->> to give value (the
-- executor rechecks this condition too, so it must hold for every such row):
-- value as a string; as a number or a boolean when it is written as jsonb
-- writes those; an empty object or array (any object or array) when it is
-- written as one.
CREATE FUNCTION gigavector.jsonb_field_candidates(key text, value text) RETURNS jsonb[]
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN ARRAY[jsonb_build_object(key, value)]
		|| CASE WHEN value ~ '^-?[0-9]+(\.[0-9]+)?$' AND length(value) < 1000
			THEN ARRAY[jsonb_build_object(key, value::numeric)] ELSE '{}' END
		|| CASE WHEN value IN ('true', 'false') THEN ARRAY[jsonb_build_object(key, value::boolean)]
			ELSE '{}' END
		|| CASE left(value, 1) WHEN '{' THEN ARRAY[jsonb_build_object(key, '{}'::jsonb)]
			WHEN '[' THEN ARRAY[jsonb_build_object(key, '[]'::jsonb)] ELSE '{}' END;
COMMENT ON FUNCTION gigavector.jsonb_field_candidates(text, text) IS 'jsonb objects one of which a row must contain for row ->> key to be value (gv_hnsw jsonb filter columns)';

CREATE FUNCTION gigavector.hnsw_verify(index regclass,
	OUT elements bigint, OUT tombstones bigint, OUT links bigint,
	OUT links_to_tombstones bigint, OUT unreachable bigint, OUT heap_tids bigint)
	AS 'MODULE_PATHNAME', 'gv_hnsw_verify' LANGUAGE C STRICT;
COMMENT ON FUNCTION gigavector.hnsw_verify(regclass) IS 'check the structure of a gv_hnsw index; raises an error on corruption, returns counts';
-- It reads the whole index under a lock: like pgstattuple's functions, only
-- for superusers and members of pg_stat_scan_tables (or whom they grant it).
REVOKE ALL ON FUNCTION gigavector.hnsw_verify(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gigavector.hnsw_verify(regclass) TO pg_stat_scan_tables;

-- gsparsevec: element tuples hold the vector densified (its non-zeros in
-- place, zeros elsewhere) in the storage the build chooses, so the
-- dimensions (the column's typmod) must fit on a page as for gvector
CREATE OPERATOR CLASS gsparsevec_l2_ops
	DEFAULT FOR TYPE gsparsevec USING gv_hnsw AS
	OPERATOR 1 <-> (gsparsevec, gsparsevec) FOR ORDER BY float_ops,
	FUNCTION 1 gsparsevec_l2_metric(internal);
CREATE OPERATOR CLASS gsparsevec_cosine_ops
	FOR TYPE gsparsevec USING gv_hnsw AS
	OPERATOR 1 <=> (gsparsevec, gsparsevec) FOR ORDER BY float_ops,
	FUNCTION 1 gsparsevec_cosine_metric(internal);
CREATE OPERATOR CLASS gsparsevec_ip_ops
	FOR TYPE gsparsevec USING gv_hnsw AS
	OPERATOR 1 <#> (gsparsevec, gsparsevec) FOR ORDER BY float_ops,
	FUNCTION 1 gsparsevec_ip_metric(internal);
CREATE OPERATOR CLASS gsparsevec_l1_ops
	FOR TYPE gsparsevec USING gv_hnsw AS
	OPERATOR 1 <+> (gsparsevec, gsparsevec) FOR ORDER BY float_ops,
	FUNCTION 1 gsparsevec_l1_metric(internal);
