------------------------------------------------------------------------------
-- hybrid search: vector + BM25 rank fusion (src/hybrid.c)
------------------------------------------------------------------------------

CREATE FUNCTION gigavector.rrf(rank int, k int DEFAULT 60) RETURNS float8
	AS 'MODULE_PATHNAME', 'gv_rrf' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION gigavector.rrf(int, int) IS 'one reciprocal-rank-fusion term: 1 / (k + rank), ranks from 1';

-- Not STRICT: a NULL query_vector or query_text runs the other branch alone.
-- STABLE: the branches only read, under the caller's snapshot.
CREATE FUNCTION gigavector.hybrid_search(tbl regclass, vector_column name, query_vector gvector,
		text_column name, query_text text, k int,
		fusion text DEFAULT 'rrf',
		vector_weight float8 DEFAULT 0.5, text_weight float8 DEFAULT 0.5,
		normalization text DEFAULT 'min_max',
		rrf_k int DEFAULT 60, candidates int DEFAULT NULL,
		filter text DEFAULT NULL,
		distance text DEFAULT NULL)
	RETURNS TABLE (id bigint, score float8, vector_rank int, text_rank int,
	               vector_distance float8, text_score float8)
	AS 'MODULE_PATHNAME', 'gv_hybrid_search' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION gigavector.hybrid_search(regclass, name, gvector, name, text, int, text, float8, float8, text, int, int, text, text)
	IS 'the k best rows by rank fusion (rrf or linear) of a vector index search and a gv_bm25 search, each candidates deep with the filter inside';
