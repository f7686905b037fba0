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
-- category, ...).  Conditions on them are tested on each list entry's codes
-- while a scan probes its lists.  The entries store gv_hnsw's codes
-- (src/gvfilter.c), so the operator families and classes are gv_hnsw's
-- (10_hnsw.sql), made here from its catalog rather than written twice: each
-- gv_hnsw family without support functions (a filter family), with its
-- classes (their own type's operators) and its cross-type operators.
DO $$
DECLARE
	fam record;
	cls record;
	ops text;
BEGIN
	FOR fam IN SELECT f.oid, f.opfname FROM pg_opfamily f JOIN pg_am a ON a.oid = f.opfmethod
		WHERE a.amname = 'gv_hnsw'
		  AND NOT EXISTS (SELECT FROM pg_amproc p WHERE p.amprocfamily = f.oid)
		ORDER BY f.opfname
	LOOP
		EXECUTE format('CREATE OPERATOR FAMILY %I USING gv_ivfpq', fam.opfname);
		FOR cls IN SELECT c.opcname, c.opcintype, c.opcdefault FROM pg_opclass c
			WHERE c.opcfamily = fam.oid ORDER BY c.opcname
		LOOP
			SELECT string_agg(format('OPERATOR %s %s', o.amopstrategy, o.amopopr::regoperator),
							  ', ' ORDER BY o.amopstrategy) INTO ops
			FROM pg_amop o WHERE o.amopfamily = fam.oid
			  AND o.amoplefttype = cls.opcintype AND o.amoprighttype = cls.opcintype;
			EXECUTE format('CREATE OPERATOR CLASS %I %s FOR TYPE %s USING gv_ivfpq FAMILY %I AS %s',
						   cls.opcname, CASE WHEN cls.opcdefault THEN 'DEFAULT' ELSE '' END,
						   cls.opcintype::regtype, fam.opfname, ops);
		END LOOP;
		SELECT string_agg(format('OPERATOR %s %s', o.amopstrategy, o.amopopr::regoperator),
						  ', ' ORDER BY o.amopstrategy, o.amoplefttype, o.amoprighttype) INTO ops
		FROM pg_amop o WHERE o.amopfamily = fam.oid
		  AND NOT EXISTS (SELECT FROM pg_opclass c WHERE c.opcfamily = fam.oid
						  AND o.amoplefttype = c.opcintype AND o.amoprighttype = c.opcintype);
		IF ops IS NOT NULL THEN
			EXECUTE format('ALTER OPERATOR FAMILY %I USING gv_ivfpq ADD %s', fam.opfname, ops);
		END IF;
	END LOOP;
END $$;

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
