
------------------------------------------------------------------------------
-- gv_kdtree: exact k-NN for low- and medium-dimensional vectors
------------------------------------------------------------------------------

CREATE FUNCTION gv_kdtree_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE ACCESS METHOD gv_kdtree TYPE INDEX HANDLER gv_kdtree_handler;
COMMENT ON ACCESS METHOD gv_kdtree IS 'exact k-NN KD-tree for gvector and ghalfvec columns of up to 128 dimensions';

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

-- ghalfvec: the halves widened to floats (exactly), so the answers are exact
CREATE OPERATOR CLASS ghalfvec_l2_ops
	DEFAULT FOR TYPE ghalfvec USING gv_kdtree AS
	OPERATOR 1 <-> (ghalfvec, ghalfvec) FOR ORDER BY float_ops,
	FUNCTION 1 ghalfvec_l2_metric(internal);
CREATE OPERATOR CLASS ghalfvec_cosine_ops
	FOR TYPE ghalfvec USING gv_kdtree AS
	OPERATOR 1 <=> (ghalfvec, ghalfvec) FOR ORDER BY float_ops,
	FUNCTION 1 ghalfvec_cosine_metric(internal);
CREATE OPERATOR CLASS ghalfvec_l1_ops
	FOR TYPE ghalfvec USING gv_kdtree AS
	OPERATOR 1 <+> (ghalfvec, ghalfvec) FOR ORDER BY float_ops,
	FUNCTION 1 ghalfvec_l1_metric(internal);

-- Exists so that CREATE INDEX can refuse it with an explanation and a hint.
CREATE OPERATOR CLASS gvector_ip_ops
	FOR TYPE gvector USING gv_kdtree AS
	OPERATOR 1 <#> (gvector, gvector) FOR ORDER BY float_ops,
	FUNCTION 1 gvector_ip_metric(internal);

CREATE FUNCTION gigavector.kdtree_verify(index regclass,
	OUT nodes bigint, OUT leaves bigint, OUT points bigint, OUT pages bigint)
	AS 'MODULE_PATHNAME', 'gv_kdtree_verify' LANGUAGE C STRICT;
COMMENT ON FUNCTION gigavector.kdtree_verify(regclass) IS 'check the structure of a gv_kdtree index: every page reached once from the root, every point inside its cell; raises an error on corruption, returns counts';
-- It reads the whole index under a lock that keeps writers out: as
-- hnsw_verify, only for superusers and members of pg_stat_scan_tables.
REVOKE ALL ON FUNCTION gigavector.kdtree_verify(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gigavector.kdtree_verify(regclass) TO pg_stat_scan_tables;
