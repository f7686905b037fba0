
------------------------------------------------------------------------------
-- gv_kdtree: exact k-NN for low- and medium-dimensional vectors
------------------------------------------------------------------------------

CREATE FUNCTION gv_kdtree_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE ACCESS METHOD gv_kdtree TYPE INDEX HANDLER gv_kdtree_handler;
COMMENT ON ACCESS METHOD gv_kdtree IS 'exact k-NN KD-tree for gvector columns of up to 128 dimensions';

CREATE OPERATOR CLASS gvector_l2_ops
	DEFAULT FOR TYPE gvector USING gv_kdtree AS
	OPERATOR 1 <-> (gvector, gvector) FOR ORDER BY float_ops,
	FUNCTION 1 gvector_l2_metric(internal);

CREATE OPERATOR CLASS gvector_cosine_ops
	FOR TYPE gvector USING gv_kdtree AS
	OPERATOR 1 <=> (gvector, gvector) FOR ORDER BY float_ops,
	FUNCTION 1 gvector_cosine_metric(internal);

CREATE OPERATOR CLASS gvector_l1_ops
	FOR TYPE gvector USING gv_kdtree AS
	OPERATOR 1 <+> (gvector, gvector) FOR ORDER BY float_ops,
	FUNCTION 1 gvector_l1_metric(internal);

-- Exists so that CREATE INDEX can refuse it with an explanation and a hint.
CREATE OPERATOR CLASS gvector_ip_ops
	FOR TYPE gvector USING gv_kdtree AS
	OPERATOR 1 <#> (gvector, gvector) FOR ORDER BY float_ops,
	FUNCTION 1 gvector_ip_metric(internal);
