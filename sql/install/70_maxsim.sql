------------------------------------------------------------------------------
-- multi-vector MaxSim over gvector[] (src/maxsim.c)
------------------------------------------------------------------------------

CREATE FUNCTION gigavector.maxsim(doc gvector[], query gvector[]) RETURNS float8
	AS 'MODULE_PATHNAME', 'gvector_maxsim' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION gigavector.maxsim(gvector[], gvector[])
	IS 'late-interaction score: the sum over query tokens of the largest inner product with a document token';

CREATE FUNCTION gigavector.negative_maxsim(doc gvector[], query gvector[]) RETURNS float8
	AS 'MODULE_PATHNAME', 'gvector_negative_maxsim' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION gigavector.negative_maxsim(gvector[], gvector[])
	IS '-maxsim(doc, query) (operator @#), so that ascending order is best first';

-- No commutator: maxsim is not symmetric in its arguments.
CREATE OPERATOR @# (
	LEFTARG = gvector[], RIGHTARG = gvector[], FUNCTION = gigavector.negative_maxsim
);
COMMENT ON OPERATOR @# (gvector[], gvector[]) IS '-maxsim(doc, query): ORDER BY doc @# query lists the best documents first';

-- The index-accelerated search.  Each query token takes its candidates
-- nearest token vectors (by inner product) from a gv_hnsw index on the
-- tokens table; the documents they belong to are then scored exactly by
-- maxsim and the k best returned.  An exact scan is ORDER BY doc @# query.
--
-- gigavector.hnsw_ef_search is raised to candidates (at most 1000) for the
-- gathering and put back afterwards, so each token's list is as good as the
-- graph gives at that depth.  Not STRICT: a NULL query is an error, not an
-- empty answer.  STABLE: it only reads, under the caller's snapshot.
CREATE FUNCTION gigavector.maxsim_search(documents regclass, tokens regclass,
		query gvector[], k int, candidates int DEFAULT 32,
		id_column name DEFAULT 'id', tokens_column name DEFAULT 'tokens',
		doc_column name DEFAULT 'doc_id', token_column name DEFAULT 'token')
	RETURNS TABLE (id bigint, score float8)
	LANGUAGE plpgsql STABLE ROWS 10
AS $$
DECLARE
	old_ef text;
BEGIN
	IF documents IS NULL OR tokens IS NULL OR id_column IS NULL OR tokens_column IS NULL
			OR doc_column IS NULL OR token_column IS NULL THEN
		RAISE EXCEPTION 'maxsim_search tables and columns must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF query IS NULL THEN
		RAISE EXCEPTION 'maxsim query must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF k IS NULL OR k < 1 THEN
		RAISE EXCEPTION 'maxsim_search k must be at least 1' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF candidates IS NULL OR candidates < 1 THEN
		RAISE EXCEPTION 'maxsim_search candidates must be at least 1'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- the query's own checks (empty, null tokens, mixed dimensions), with
	-- maxsim's messages, before any index is asked
	PERFORM gigavector.maxsim(query, query);

	-- read only now: maxsim above has loaded the library that defines it
	old_ef := current_setting('gigavector.hnsw_ef_search');
	PERFORM set_config('gigavector.hnsw_ef_search',
		least(1000, greatest(old_ef::int, candidates))::text, true);
	RETURN QUERY EXECUTE format(
		'SELECT d.%1$I::bigint, gigavector.maxsim(d.%2$I, $1)
		   FROM %3$s d
		  WHERE d.%1$I IN (SELECT c.doc
		                     FROM unnest($1) AS q(v),
		                          LATERAL (SELECT t.%4$I AS doc FROM %5$s t
		                                    ORDER BY t.%6$I <#> q.v LIMIT $3) c)
		  ORDER BY 2 DESC, 1
		  LIMIT $2',
		id_column, tokens_column, documents, doc_column, tokens, token_column)
		USING query, k, candidates;
	PERFORM set_config('gigavector.hnsw_ef_search', old_ef, true);
END
$$;
COMMENT ON FUNCTION gigavector.maxsim_search(regclass, regclass, gvector[], int, int, name, name, name, name)
	IS 'the k best documents by exact maxsim among those whose tokens are among each query token''s candidates nearest in a gv_hnsw index';
