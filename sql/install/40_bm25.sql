------------------------------------------------------------------------------
-- gv_bm25: BM25 full-text index access method (src/bm25)
------------------------------------------------------------------------------

CREATE FUNCTION gv_bm25_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE ACCESS METHOD gv_bm25 TYPE INDEX HANDLER gv_bm25_handler;
COMMENT ON ACCESS METHOD gv_bm25 IS 'gigavector BM25 full-text index: exact Lucene BM25 scores, block-max top-k';

CREATE TYPE bm25query;

CREATE FUNCTION bm25query_in(cstring) RETURNS bm25query
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bm25query_out(bm25query) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE bm25query (
	INPUT = bm25query_in,
	OUTPUT = bm25query_out,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = extended
);
COMMENT ON TYPE bm25query IS 'a BM25 query bound to a gv_bm25 index and its statistics; made by bm25query()';

CREATE FUNCTION bm25query(index regclass, query text, mode text DEFAULT 'or') RETURNS bm25query
	AS 'MODULE_PATHNAME', 'bm25query_make' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION bm25query(regclass, text, text) IS 'a BM25 query for a gv_bm25 index: its terms (the index''s text search configuration) and statistics; mode or, and, phrase';

CREATE FUNCTION bm25_text_distance(text, bm25query) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;
CREATE FUNCTION bm25_tsvector_distance(tsvector, bm25query) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 200;
CREATE FUNCTION bm25_text_match(text, bm25query) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;
CREATE FUNCTION bm25_tsvector_match(tsvector, bm25query) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 200;

-- what an ordered index scan puts in its select list for "col <&> q" (bm25planner.c)
CREATE FUNCTION bm25_scan_distance(text, bm25query, tid) RETURNS float8
	AS 'MODULE_PATHNAME', 'bm25_text_scan_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION bm25_scan_distance(text, bm25query, tid) IS 'text <&> bm25query, taken from the ordered gv_bm25 scan that just returned the row at the tid';
CREATE FUNCTION bm25_scan_distance(tsvector, bm25query, tid) RETURNS float8
	AS 'MODULE_PATHNAME', 'bm25_tsvector_scan_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 200;
COMMENT ON FUNCTION bm25_scan_distance(tsvector, bm25query, tid) IS 'tsvector <&> bm25query, taken from the ordered gv_bm25 scan that just returned the row at the tid';

CREATE FUNCTION bm25_score(text, bm25query) RETURNS float8
	AS 'MODULE_PATHNAME', 'bm25_text_score' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION bm25_score(text, bm25query) IS 'the BM25 score of a text for a query (0 when it has none of the terms)';
CREATE FUNCTION bm25_score(tsvector, bm25query) RETURNS float8
	AS 'MODULE_PATHNAME', 'bm25_tsvector_score' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 200;
COMMENT ON FUNCTION bm25_score(tsvector, bm25query) IS 'the BM25 score of a tsvector for a query (0 when it has none of the terms)';

CREATE OPERATOR <&> (LEFTARG = text, RIGHTARG = bm25query, FUNCTION = bm25_text_distance);
COMMENT ON OPERATOR <&> (text, bm25query) IS 'negative BM25 score: ORDER BY ascending is best first';
CREATE OPERATOR <&> (LEFTARG = tsvector, RIGHTARG = bm25query, FUNCTION = bm25_tsvector_distance);
COMMENT ON OPERATOR <&> (tsvector, bm25query) IS 'negative BM25 score: ORDER BY ascending is best first';
CREATE OPERATOR @@@ (LEFTARG = text, RIGHTARG = bm25query, FUNCTION = bm25_text_match,
	RESTRICT = matchingsel, JOIN = matchingjoinsel);
COMMENT ON OPERATOR @@@ (text, bm25query) IS 'the text matches the BM25 query (any term, every term, or the phrase, by its mode)';
CREATE OPERATOR @@@ (LEFTARG = tsvector, RIGHTARG = bm25query, FUNCTION = bm25_tsvector_match,
	RESTRICT = matchingsel, JOIN = matchingjoinsel);
COMMENT ON OPERATOR @@@ (tsvector, bm25query) IS 'the tsvector matches the BM25 query (any term, every term, or the phrase, by its mode)';

CREATE OPERATOR CLASS text_bm25_ops
	DEFAULT FOR TYPE text USING gv_bm25 AS
	OPERATOR 1 @@@ (text, bm25query),
	OPERATOR 2 <&> (text, bm25query) FOR ORDER BY float_ops;

CREATE OPERATOR CLASS tsvector_bm25_ops
	DEFAULT FOR TYPE tsvector USING gv_bm25 AS
	OPERATOR 1 @@@ (tsvector, bm25query),
	OPERATOR 2 <&> (tsvector, bm25query) FOR ORDER BY float_ops;

CREATE FUNCTION gigavector.bm25_verify(index regclass,
	OUT documents bigint, OUT total_length bigint, OUT terms bigint,
	OUT postings bigint, OUT pages bigint)
	AS 'MODULE_PATHNAME', 'gv_bm25_verify' LANGUAGE C STRICT;
COMMENT ON FUNCTION gigavector.bm25_verify(regclass) IS 'check the structure and statistics of a gv_bm25 index; raises an error on corruption, returns counts';
REVOKE ALL ON FUNCTION gigavector.bm25_verify(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gigavector.bm25_verify(regclass) TO pg_stat_scan_tables;
CREATE FUNCTION gigavector.bm25_verify_table(index regclass,
	OUT table_rows bigint, OUT postings bigint, OUT invisible_documents bigint)
	AS 'MODULE_PATHNAME', 'gv_bm25_verify_table' LANGUAGE C STRICT;
COMMENT ON FUNCTION gigavector.bm25_verify_table(regclass) IS 'check a gv_bm25 index against its table: every visible row indexed with its terms, term frequencies and length, no entry of a row VACUUM removed; raises an error on a mismatch, returns counts';
REVOKE ALL ON FUNCTION gigavector.bm25_verify_table(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gigavector.bm25_verify_table(regclass) TO pg_stat_scan_tables;
