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
