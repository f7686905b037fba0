------------------------------------------------------------------------------
-- ghalfvec: vectors of IEEE half floats (src/ghalfvec.c), half a gvector's size
------------------------------------------------------------------------------

CREATE TYPE ghalfvec;

CREATE FUNCTION ghalfvec_in(cstring, oid, integer) RETURNS ghalfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec_out(ghalfvec) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec_recv(internal, oid, integer) RETURNS ghalfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec_send(ghalfvec) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE ghalfvec (
	INPUT     = ghalfvec_in,
	OUTPUT    = ghalfvec_out,
	TYPMOD_IN = ghalfvec_typmod_in,
	RECEIVE   = ghalfvec_recv,
	SEND      = ghalfvec_send,
	STORAGE   = external,
	CATEGORY  = 'g'
);
COMMENT ON TYPE ghalfvec IS 'vector of IEEE half floats, written [1,2,3]; ghalfvec(n) fixes the dimensions';

-- typmod coercion and casts, as pgvector's halfvec has them: gvector becomes
-- ghalfvec implicitly (so ghalfvec_column <-> gvector_value works), back on
-- assignment; arrays on assignment
CREATE FUNCTION ghalfvec(ghalfvec, integer, boolean) RETURNS ghalfvec
	AS 'MODULE_PATHNAME', 'ghalfvec_coerce' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec(gvector, integer, boolean) RETURNS ghalfvec
	AS 'MODULE_PATHNAME', 'gvector_to_ghalfvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector(ghalfvec, integer, boolean) RETURNS gvector
	AS 'MODULE_PATHNAME', 'ghalfvec_to_gvector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_ghalfvec(integer[], integer, boolean) RETURNS ghalfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_ghalfvec(real[], integer, boolean) RETURNS ghalfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_ghalfvec(double precision[], integer, boolean) RETURNS ghalfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_ghalfvec(numeric[], integer, boolean) RETURNS ghalfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec_to_float4(ghalfvec, integer, boolean) RETURNS real[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (ghalfvec AS ghalfvec)
	WITH FUNCTION ghalfvec(ghalfvec, integer, boolean) AS IMPLICIT;
CREATE CAST (gvector AS ghalfvec)
	WITH FUNCTION ghalfvec(gvector, integer, boolean) AS IMPLICIT;
CREATE CAST (ghalfvec AS gvector)
	WITH FUNCTION gvector(ghalfvec, integer, boolean) AS ASSIGNMENT;
CREATE CAST (integer[] AS ghalfvec)
	WITH FUNCTION array_to_ghalfvec(integer[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (real[] AS ghalfvec)
	WITH FUNCTION array_to_ghalfvec(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (double precision[] AS ghalfvec)
	WITH FUNCTION array_to_ghalfvec(double precision[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (numeric[] AS ghalfvec)
	WITH FUNCTION array_to_ghalfvec(numeric[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (ghalfvec AS real[])
	WITH FUNCTION ghalfvec_to_float4(ghalfvec, integer, boolean) AS ASSIGNMENT;

CREATE FUNCTION quantize_half(gvector) RETURNS ghalfvec
	AS 'MODULE_PATHNAME', 'gvector_to_ghalfvec_untyped' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quantize_half(gvector) IS 'the vector in half precision (an error for magnitudes past 65504); index it with an expression index and re-rank by the gvector';

-- distances and other functions, under gvector's names
CREATE FUNCTION l2_distance(ghalfvec, ghalfvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'ghalfvec_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_distance(ghalfvec, ghalfvec) IS 'Euclidean distance (operator <->)';
CREATE FUNCTION l2_squared_distance(ghalfvec, ghalfvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'ghalfvec_l2_squared_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_squared_distance(ghalfvec, ghalfvec) IS 'squared Euclidean distance';
CREATE FUNCTION inner_product(ghalfvec, ghalfvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'ghalfvec_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION inner_product(ghalfvec, ghalfvec) IS 'inner (dot) product';
CREATE FUNCTION negative_inner_product(ghalfvec, ghalfvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'ghalfvec_negative_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION negative_inner_product(ghalfvec, ghalfvec) IS 'negative inner product (operator <#>)';
CREATE FUNCTION cosine_distance(ghalfvec, ghalfvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'ghalfvec_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cosine_distance(ghalfvec, ghalfvec) IS '1 - cosine similarity, in [0, 2] (operator <=>); 1 when either vector is zero';
CREATE FUNCTION l1_distance(ghalfvec, ghalfvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'ghalfvec_l1_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l1_distance(ghalfvec, ghalfvec) IS 'taxicab (L1) distance (operator <+>)';
CREATE FUNCTION vector_dims(ghalfvec) RETURNS integer
	AS 'MODULE_PATHNAME', 'ghalfvec_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_dims(ghalfvec) IS 'number of dimensions';
CREATE FUNCTION vector_norm(ghalfvec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'ghalfvec_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_norm(ghalfvec) IS 'Euclidean norm';
CREATE FUNCTION l2_normalize(ghalfvec) RETURNS ghalfvec
	AS 'MODULE_PATHNAME', 'ghalfvec_l2_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_normalize(ghalfvec) IS 'unit vector in the same direction; a zero vector stays zero';
CREATE FUNCTION subvector(ghalfvec, integer, integer) RETURNS ghalfvec
	AS 'MODULE_PATHNAME', 'ghalfvec_subvector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION subvector(ghalfvec, integer, integer) IS 'subvector(v, start, count): count elements from 1-based position start';

CREATE FUNCTION ghalfvec_add(ghalfvec, ghalfvec) RETURNS ghalfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec_sub(ghalfvec, ghalfvec) RETURNS ghalfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec_mul(ghalfvec, ghalfvec) RETURNS ghalfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec_lt(ghalfvec, ghalfvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec_le(ghalfvec, ghalfvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec_eq(ghalfvec, ghalfvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec_ne(ghalfvec, ghalfvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec_ge(ghalfvec, ghalfvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec_gt(ghalfvec, ghalfvec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec_cmp(ghalfvec, ghalfvec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec_hash(ghalfvec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- avg and sum: gvector's internal state (see 00_gvector.sql)
CREATE FUNCTION ghalfvec_accum(internal, ghalfvec) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION ghalfvec_avg(internal) RETURNS ghalfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec_sum(internal) RETURNS ghalfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE avg(ghalfvec) (
	SFUNC = ghalfvec_accum, STYPE = internal, FINALFUNC = ghalfvec_avg,
	COMBINEFUNC = gvector_combine, SERIALFUNC = gvector_agg_serialize,
	DESERIALFUNC = gvector_agg_deserialize, PARALLEL = SAFE
);
COMMENT ON AGGREGATE avg(ghalfvec) IS 'element-wise mean (the centroid)';
CREATE AGGREGATE sum(ghalfvec) (
	SFUNC = ghalfvec_accum, STYPE = internal, FINALFUNC = ghalfvec_sum,
	COMBINEFUNC = gvector_combine, SERIALFUNC = gvector_agg_serialize,
	DESERIALFUNC = gvector_agg_deserialize, PARALLEL = SAFE
);
COMMENT ON AGGREGATE sum(ghalfvec) IS 'element-wise sum (an error past 65504)';

CREATE OPERATOR <-> (
	LEFTARG = ghalfvec, RIGHTARG = ghalfvec, FUNCTION = l2_distance, COMMUTATOR = '<->'
);
COMMENT ON OPERATOR <->(ghalfvec, ghalfvec) IS 'Euclidean distance';
CREATE OPERATOR <#> (
	LEFTARG = ghalfvec, RIGHTARG = ghalfvec, FUNCTION = negative_inner_product, COMMUTATOR = '<#>'
);
COMMENT ON OPERATOR <#>(ghalfvec, ghalfvec) IS 'negative inner product';
CREATE OPERATOR <=> (
	LEFTARG = ghalfvec, RIGHTARG = ghalfvec, FUNCTION = cosine_distance, COMMUTATOR = '<=>'
);
COMMENT ON OPERATOR <=>(ghalfvec, ghalfvec) IS 'cosine distance';
CREATE OPERATOR <+> (
	LEFTARG = ghalfvec, RIGHTARG = ghalfvec, FUNCTION = l1_distance, COMMUTATOR = '<+>'
);
COMMENT ON OPERATOR <+>(ghalfvec, ghalfvec) IS 'taxicab (L1) distance';
CREATE OPERATOR + (LEFTARG = ghalfvec, RIGHTARG = ghalfvec, FUNCTION = ghalfvec_add, COMMUTATOR = +);
CREATE OPERATOR - (LEFTARG = ghalfvec, RIGHTARG = ghalfvec, FUNCTION = ghalfvec_sub);
CREATE OPERATOR * (LEFTARG = ghalfvec, RIGHTARG = ghalfvec, FUNCTION = ghalfvec_mul, COMMUTATOR = *);

CREATE OPERATOR < (
	LEFTARG = ghalfvec, RIGHTARG = ghalfvec, FUNCTION = ghalfvec_lt,
	COMMUTATOR = > , NEGATOR = >= , RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR <= (
	LEFTARG = ghalfvec, RIGHTARG = ghalfvec, FUNCTION = ghalfvec_le,
	COMMUTATOR = >= , NEGATOR = > , RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR = (
	LEFTARG = ghalfvec, RIGHTARG = ghalfvec, FUNCTION = ghalfvec_eq,
	COMMUTATOR = = , NEGATOR = <> , RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
CREATE OPERATOR <> (
	LEFTARG = ghalfvec, RIGHTARG = ghalfvec, FUNCTION = ghalfvec_ne,
	COMMUTATOR = <> , NEGATOR = = , RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR >= (
	LEFTARG = ghalfvec, RIGHTARG = ghalfvec, FUNCTION = ghalfvec_ge,
	COMMUTATOR = <= , NEGATOR = < , RESTRICT = scalargesel, JOIN = scalargejoinsel
);
CREATE OPERATOR > (
	LEFTARG = ghalfvec, RIGHTARG = ghalfvec, FUNCTION = ghalfvec_gt,
	COMMUTATOR = < , NEGATOR = <= , RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

CREATE OPERATOR CLASS ghalfvec_ops
	DEFAULT FOR TYPE ghalfvec USING btree AS
	OPERATOR 1 < , OPERATOR 2 <= , OPERATOR 3 = , OPERATOR 4 >= , OPERATOR 5 > ,
	FUNCTION 1 ghalfvec_cmp(ghalfvec, ghalfvec);
CREATE OPERATOR CLASS ghalfvec_ops
	DEFAULT FOR TYPE ghalfvec USING hash AS
	OPERATOR 1 = ,
	FUNCTION 1 ghalfvec_hash(ghalfvec);

-- support function 1 of the index operator classes (see 00_gvector.sql)
CREATE FUNCTION ghalfvec_l2_metric(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec_cosine_metric(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec_ip_metric(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ghalfvec_l1_metric(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
