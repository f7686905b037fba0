------------------------------------------------------------------------------
-- gsparsevec: sparse vectors (src/gsparsevec.c), written {1:0.5,7:2}/10000
------------------------------------------------------------------------------

CREATE TYPE gsparsevec;

CREATE FUNCTION gsparsevec_in(cstring, oid, integer) RETURNS gsparsevec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gsparsevec_out(gsparsevec) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gsparsevec_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gsparsevec_recv(internal, oid, integer) RETURNS gsparsevec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gsparsevec_send(gsparsevec) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE gsparsevec (
	INPUT     = gsparsevec_in,
	OUTPUT    = gsparsevec_out,
	TYPMOD_IN = gsparsevec_typmod_in,
	RECEIVE   = gsparsevec_recv,
	SEND      = gsparsevec_send,
	STORAGE   = external,
	CATEGORY  = 'g'
);
COMMENT ON TYPE gsparsevec IS 'sparse vector, written {index:value,...}/dimensions (1-based indices); gsparsevec(n) fixes the dimensions';

CREATE FUNCTION gsparsevec(gsparsevec, integer, boolean) RETURNS gsparsevec
	AS 'MODULE_PATHNAME', 'gsparsevec_coerce' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gsparsevec(gvector, integer, boolean) RETURNS gsparsevec
	AS 'MODULE_PATHNAME', 'gvector_to_gsparsevec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector(gsparsevec, integer, boolean) RETURNS gvector
	AS 'MODULE_PATHNAME', 'gsparsevec_to_gvector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (gsparsevec AS gsparsevec)
	WITH FUNCTION gsparsevec(gsparsevec, integer, boolean) AS IMPLICIT;
CREATE CAST (gvector AS gsparsevec)
	WITH FUNCTION gsparsevec(gvector, integer, boolean) AS ASSIGNMENT;
CREATE CAST (gsparsevec AS gvector)
	WITH FUNCTION gvector(gsparsevec, integer, boolean) AS ASSIGNMENT;

CREATE FUNCTION l2_distance(gsparsevec, gsparsevec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'gsparsevec_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_distance(gsparsevec, gsparsevec) IS 'Euclidean distance (operator <->)';
CREATE FUNCTION l2_squared_distance(gsparsevec, gsparsevec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'gsparsevec_l2_squared_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_squared_distance(gsparsevec, gsparsevec) IS 'squared Euclidean distance';
CREATE FUNCTION inner_product(gsparsevec, gsparsevec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'gsparsevec_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION inner_product(gsparsevec, gsparsevec) IS 'inner (dot) product';
CREATE FUNCTION negative_inner_product(gsparsevec, gsparsevec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'gsparsevec_negative_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION negative_inner_product(gsparsevec, gsparsevec) IS 'negative inner product (operator <#>)';
CREATE FUNCTION cosine_distance(gsparsevec, gsparsevec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'gsparsevec_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cosine_distance(gsparsevec, gsparsevec) IS '1 - cosine similarity, in [0, 2] (operator <=>); 1 when either vector is zero';
CREATE FUNCTION l1_distance(gsparsevec, gsparsevec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'gsparsevec_l1_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l1_distance(gsparsevec, gsparsevec) IS 'taxicab (L1) distance (operator <+>)';
CREATE FUNCTION vector_dims(gsparsevec) RETURNS integer
	AS 'MODULE_PATHNAME', 'gsparsevec_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_dims(gsparsevec) IS 'number of dimensions';
CREATE FUNCTION vector_norm(gsparsevec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'gsparsevec_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_norm(gsparsevec) IS 'Euclidean norm';
CREATE FUNCTION l2_normalize(gsparsevec) RETURNS gsparsevec
	AS 'MODULE_PATHNAME', 'gsparsevec_l2_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_normalize(gsparsevec) IS 'unit vector in the same direction; a zero vector stays zero';

CREATE OPERATOR <-> (
	LEFTARG = gsparsevec, RIGHTARG = gsparsevec, FUNCTION = l2_distance, COMMUTATOR = '<->'
);
COMMENT ON OPERATOR <->(gsparsevec, gsparsevec) IS 'Euclidean distance';
CREATE OPERATOR <#> (
	LEFTARG = gsparsevec, RIGHTARG = gsparsevec, FUNCTION = negative_inner_product, COMMUTATOR = '<#>'
);
COMMENT ON OPERATOR <#>(gsparsevec, gsparsevec) IS 'negative inner product';
CREATE OPERATOR <=> (
	LEFTARG = gsparsevec, RIGHTARG = gsparsevec, FUNCTION = cosine_distance, COMMUTATOR = '<=>'
);
COMMENT ON OPERATOR <=>(gsparsevec, gsparsevec) IS 'cosine distance';
CREATE OPERATOR <+> (
	LEFTARG = gsparsevec, RIGHTARG = gsparsevec, FUNCTION = l1_distance, COMMUTATOR = '<+>'
);
COMMENT ON OPERATOR <+>(gsparsevec, gsparsevec) IS 'taxicab (L1) distance';

CREATE FUNCTION gsparsevec_lt(gsparsevec, gsparsevec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gsparsevec_le(gsparsevec, gsparsevec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gsparsevec_eq(gsparsevec, gsparsevec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gsparsevec_ne(gsparsevec, gsparsevec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gsparsevec_ge(gsparsevec, gsparsevec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gsparsevec_gt(gsparsevec, gsparsevec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gsparsevec_cmp(gsparsevec, gsparsevec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gsparsevec_hash(gsparsevec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR < (
	LEFTARG = gsparsevec, RIGHTARG = gsparsevec, FUNCTION = gsparsevec_lt,
	COMMUTATOR = > , NEGATOR = >= , RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR <= (
	LEFTARG = gsparsevec, RIGHTARG = gsparsevec, FUNCTION = gsparsevec_le,
	COMMUTATOR = >= , NEGATOR = > , RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR = (
	LEFTARG = gsparsevec, RIGHTARG = gsparsevec, FUNCTION = gsparsevec_eq,
	COMMUTATOR = = , NEGATOR = <> , RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
CREATE OPERATOR <> (
	LEFTARG = gsparsevec, RIGHTARG = gsparsevec, FUNCTION = gsparsevec_ne,
	COMMUTATOR = <> , NEGATOR = = , RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR >= (
	LEFTARG = gsparsevec, RIGHTARG = gsparsevec, FUNCTION = gsparsevec_ge,
	COMMUTATOR = <= , NEGATOR = < , RESTRICT = scalargesel, JOIN = scalargejoinsel
);
CREATE OPERATOR > (
	LEFTARG = gsparsevec, RIGHTARG = gsparsevec, FUNCTION = gsparsevec_gt,
	COMMUTATOR = < , NEGATOR = <= , RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
CREATE OPERATOR CLASS gsparsevec_ops
	DEFAULT FOR TYPE gsparsevec USING btree AS
	OPERATOR 1 < , OPERATOR 2 <= , OPERATOR 3 = , OPERATOR 4 >= , OPERATOR 5 > ,
	FUNCTION 1 gsparsevec_cmp(gsparsevec, gsparsevec);
CREATE OPERATOR CLASS gsparsevec_ops
	DEFAULT FOR TYPE gsparsevec USING hash AS
	OPERATOR 1 = ,
	FUNCTION 1 gsparsevec_hash(gsparsevec);

-- support function 1 of the index operator classes (see 00_gvector.sql)
CREATE FUNCTION gsparsevec_l2_metric(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gsparsevec_cosine_metric(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gsparsevec_ip_metric(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gsparsevec_l1_metric(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
