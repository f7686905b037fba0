------------------------------------------------------------------------------
-- gv_ivfpq: inverted file index with product quantization (src/ivfpq)
------------------------------------------------------------------------------

CREATE FUNCTION gv_ivfpq_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE ACCESS METHOD gv_ivfpq TYPE INDEX HANDLER gv_ivfpq_handler;
COMMENT ON ACCESS METHOD gv_ivfpq IS 'gigavector IVF index with product quantization codes and exact re-ranking';

CREATE OPERATOR CLASS gvector_l2_ops
	DEFAULT FOR TYPE gvector USING gv_ivfpq AS
	OPERATOR 1 <-> (gvector, gvector) FOR ORDER BY float_ops,
	FUNCTION 1 gvector_l2_metric(internal);

CREATE OPERATOR CLASS gvector_cosine_ops
	FOR TYPE gvector USING gv_ivfpq AS
	OPERATOR 1 <=> (gvector, gvector) FOR ORDER BY float_ops,
	FUNCTION 1 gvector_cosine_metric(internal);

CREATE OPERATOR CLASS gvector_ip_ops
	FOR TYPE gvector USING gv_ivfpq AS
	OPERATOR 1 <#> (gvector, gvector) FOR ORDER BY float_ops,
	FUNCTION 1 gvector_ip_metric(internal);

-- Filter columns after the vector: CREATE INDEX ... USING gv_ivfpq (emb,
-- category, ...), the same operator classes as gv_hnsw's (10_hnsw.sql: the
-- same stored codes, src/gvfilter.c; "jsonb_column ->> key = value" through
-- gigavector.jsonb_field_candidates).  Conditions on them are tested on each
-- list entry's codes while a scan probes its lists.
CREATE OPERATOR FAMILY integer_ops USING gv_ivfpq;
CREATE OPERATOR CLASS int2_ops DEFAULT FOR TYPE int2 USING gv_ivfpq FAMILY integer_ops AS
	OPERATOR 1 = (int2, int2), OPERATOR 2 < (int2, int2), OPERATOR 3 <= (int2, int2),
	OPERATOR 4 >= (int2, int2), OPERATOR 5 > (int2, int2);
CREATE OPERATOR CLASS int4_ops DEFAULT FOR TYPE int4 USING gv_ivfpq FAMILY integer_ops AS
	OPERATOR 1 = (int4, int4), OPERATOR 2 < (int4, int4), OPERATOR 3 <= (int4, int4),
	OPERATOR 4 >= (int4, int4), OPERATOR 5 > (int4, int4);
CREATE OPERATOR CLASS int8_ops DEFAULT FOR TYPE int8 USING gv_ivfpq FAMILY integer_ops AS
	OPERATOR 1 = (int8, int8), OPERATOR 2 < (int8, int8), OPERATOR 3 <= (int8, int8),
	OPERATOR 4 >= (int8, int8), OPERATOR 5 > (int8, int8);
ALTER OPERATOR FAMILY integer_ops USING gv_ivfpq ADD
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
CREATE OPERATOR FAMILY float_ops USING gv_ivfpq;
CREATE OPERATOR CLASS float4_ops DEFAULT FOR TYPE float4 USING gv_ivfpq FAMILY float_ops AS
	OPERATOR 1 = (float4, float4), OPERATOR 2 < (float4, float4), OPERATOR 3 <= (float4, float4),
	OPERATOR 4 >= (float4, float4), OPERATOR 5 > (float4, float4);
CREATE OPERATOR CLASS float8_ops DEFAULT FOR TYPE float8 USING gv_ivfpq FAMILY float_ops AS
	OPERATOR 1 = (float8, float8), OPERATOR 2 < (float8, float8), OPERATOR 3 <= (float8, float8),
	OPERATOR 4 >= (float8, float8), OPERATOR 5 > (float8, float8);
ALTER OPERATOR FAMILY float_ops USING gv_ivfpq ADD
	OPERATOR 1 = (float4, float8), OPERATOR 1 = (float8, float4),
	OPERATOR 2 < (float4, float8), OPERATOR 2 < (float8, float4),
	OPERATOR 3 <= (float4, float8), OPERATOR 3 <= (float8, float4),
	OPERATOR 4 >= (float4, float8), OPERATOR 4 >= (float8, float4),
	OPERATOR 5 > (float4, float8), OPERATOR 5 > (float8, float4);
CREATE OPERATOR CLASS bool_ops DEFAULT FOR TYPE bool USING gv_ivfpq AS OPERATOR 1 = (bool, bool);
CREATE OPERATOR CLASS date_ops DEFAULT FOR TYPE date USING gv_ivfpq AS
	OPERATOR 1 = (date, date), OPERATOR 2 < (date, date), OPERATOR 3 <= (date, date),
	OPERATOR 4 >= (date, date), OPERATOR 5 > (date, date);
CREATE OPERATOR CLASS timestamp_ops DEFAULT FOR TYPE timestamp USING gv_ivfpq AS
	OPERATOR 1 = (timestamp, timestamp), OPERATOR 2 < (timestamp, timestamp),
	OPERATOR 3 <= (timestamp, timestamp), OPERATOR 4 >= (timestamp, timestamp),
	OPERATOR 5 > (timestamp, timestamp);
CREATE OPERATOR CLASS timestamptz_ops DEFAULT FOR TYPE timestamptz USING gv_ivfpq AS
	OPERATOR 1 = (timestamptz, timestamptz), OPERATOR 2 < (timestamptz, timestamptz),
	OPERATOR 3 <= (timestamptz, timestamptz), OPERATOR 4 >= (timestamptz, timestamptz),
	OPERATOR 5 > (timestamptz, timestamptz);
CREATE OPERATOR CLASS text_ops DEFAULT FOR TYPE text USING gv_ivfpq AS OPERATOR 1 = (text, text);
CREATE OPERATOR CLASS uuid_ops DEFAULT FOR TYPE uuid USING gv_ivfpq AS OPERATOR 1 = (uuid, uuid);
CREATE OPERATOR CLASS jsonb_ops DEFAULT FOR TYPE jsonb USING gv_ivfpq AS
	OPERATOR 1 = (jsonb, jsonb), OPERATOR 7 @> (jsonb, jsonb), OPERATOR 9 ? (jsonb, text),
	OPERATOR 10 ?| (jsonb, text[]), OPERATOR 11 ?& (jsonb, text[]);

CREATE FUNCTION gigavector.ivfpq_info(index regclass,
	OUT trained boolean, OUT lists integer, OUT subquantizers integer,
	OUT bits integer, OUT entries bigint, OUT pages bigint)
	AS 'MODULE_PATHNAME', 'gv_ivfpq_info' LANGUAGE C STRICT;
COMMENT ON FUNCTION gigavector.ivfpq_info(regclass) IS 'trained parameters and entry count of a gv_ivfpq index; checks every list chain';

-- gsparsevec: trained and encoded densified (zeros included), re-ranked with
-- the operators from the table
CREATE OPERATOR CLASS gsparsevec_l2_ops
	DEFAULT FOR TYPE gsparsevec USING gv_ivfpq AS
	OPERATOR 1 <-> (gsparsevec, gsparsevec) FOR ORDER BY float_ops,
	FUNCTION 1 gsparsevec_l2_metric(internal);
CREATE OPERATOR CLASS gsparsevec_cosine_ops
	FOR TYPE gsparsevec USING gv_ivfpq AS
	OPERATOR 1 <=> (gsparsevec, gsparsevec) FOR ORDER BY float_ops,
	FUNCTION 1 gsparsevec_cosine_metric(internal);
CREATE OPERATOR CLASS gsparsevec_ip_ops
	FOR TYPE gsparsevec USING gv_ivfpq AS
	OPERATOR 1 <#> (gsparsevec, gsparsevec) FOR ORDER BY float_ops,
	FUNCTION 1 gsparsevec_ip_metric(internal);

-- ghalfvec: trained and encoded on the halves widened to floats (exactly)
CREATE OPERATOR CLASS ghalfvec_l2_ops
	DEFAULT FOR TYPE ghalfvec USING gv_ivfpq AS
	OPERATOR 1 <-> (ghalfvec, ghalfvec) FOR ORDER BY float_ops,
	FUNCTION 1 ghalfvec_l2_metric(internal);
CREATE OPERATOR CLASS ghalfvec_cosine_ops
	FOR TYPE ghalfvec USING gv_ivfpq AS
	OPERATOR 1 <=> (ghalfvec, ghalfvec) FOR ORDER BY float_ops,
	FUNCTION 1 ghalfvec_cosine_metric(internal);
CREATE OPERATOR CLASS ghalfvec_ip_ops
	FOR TYPE ghalfvec USING gv_ivfpq AS
	OPERATOR 1 <#> (ghalfvec, ghalfvec) FOR ORDER BY float_ops,
	FUNCTION 1 ghalfvec_ip_metric(internal);
