-- gigavector: the gvector type, its functions, operators and operator
-- classes, and what the index access methods share.
--
-- The install script sql/gigavector--<version>.sql is this file followed by
-- the other files of sql/install/ in name order (the Makefile concatenates
-- them), so each access method keeps its SQL beside the others.

\echo Use "CREATE EXTENSION gigavector" to load this file. \quit

-- Management functions live here, whatever schema the type goes into.
CREATE SCHEMA gigavector;
COMMENT ON SCHEMA gigavector IS 'gigavector management functions';
-- Every role may look up the functions; what each may run is decided per
-- function (the *_verify functions are revoked from PUBLIC where they are made).
GRANT USAGE ON SCHEMA gigavector TO PUBLIC;

------------------------------------------------------------------------------
-- type
------------------------------------------------------------------------------

CREATE TYPE gvector;

CREATE FUNCTION gvector_in(cstring, oid, integer) RETURNS gvector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION gvector_out(gvector) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION gvector_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION gvector_recv(internal, oid, integer) RETURNS gvector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION gvector_send(gvector) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE gvector (
	INPUT     = gvector_in,
	OUTPUT    = gvector_out,
	TYPMOD_IN = gvector_typmod_in,
	RECEIVE   = gvector_recv,
	SEND      = gvector_send,
	STORAGE   = external,
	-- gigavector's own category (shared with ghalfvec and gbit), gvector
	-- preferred: l2_distance('[1,2]', '[3,4]') stays gvector's, not
	-- ambiguous between the types' overloads
	CATEGORY  = 'g',
	PREFERRED = true
);

COMMENT ON TYPE gvector IS 'vector of float4 values, written [1,2,3]; gvector(n) fixes the dimensions';

------------------------------------------------------------------------------
-- typmod coercion and casts
------------------------------------------------------------------------------

CREATE FUNCTION gvector(gvector, integer, boolean) RETURNS gvector
	AS 'MODULE_PATHNAME', 'gvector_coerce' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION array_to_gvector(integer[], integer, boolean) RETURNS gvector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION array_to_gvector(real[], integer, boolean) RETURNS gvector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION array_to_gvector(double precision[], integer, boolean) RETURNS gvector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION array_to_gvector(numeric[], integer, boolean) RETURNS gvector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION gvector_to_float4(gvector, integer, boolean) RETURNS real[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION gvector_to_float8(gvector, integer, boolean) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION gvector_to_numeric(gvector, integer, boolean) RETURNS numeric[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION gvector_to_int4(gvector, integer, boolean) RETURNS integer[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (gvector AS gvector)
	WITH FUNCTION gvector(gvector, integer, boolean) AS IMPLICIT;

-- Arrays become vectors on assignment (INSERT ... VALUES (ARRAY[1,2,3])),
-- and vectors become arrays on assignment to an array column.
CREATE CAST (integer[] AS gvector)
	WITH FUNCTION array_to_gvector(integer[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (real[] AS gvector)
	WITH FUNCTION array_to_gvector(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (double precision[] AS gvector)
	WITH FUNCTION array_to_gvector(double precision[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (numeric[] AS gvector)
	WITH FUNCTION array_to_gvector(numeric[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (gvector AS real[])
	WITH FUNCTION gvector_to_float4(gvector, integer, boolean) AS ASSIGNMENT;
CREATE CAST (gvector AS double precision[])
	WITH FUNCTION gvector_to_float8(gvector, integer, boolean) AS ASSIGNMENT;
CREATE CAST (gvector AS numeric[])
	WITH FUNCTION gvector_to_numeric(gvector, integer, boolean) AS ASSIGNMENT;
CREATE CAST (gvector AS integer[])
	WITH FUNCTION gvector_to_int4(gvector, integer, boolean) AS ASSIGNMENT;

------------------------------------------------------------------------------
-- distance and other functions
------------------------------------------------------------------------------

CREATE FUNCTION l2_distance(gvector, gvector) RETURNS double precision
	AS 'MODULE_PATHNAME', 'gvector_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_distance(gvector, gvector) IS 'Euclidean distance (operator <->)';

CREATE FUNCTION l2_squared_distance(gvector, gvector) RETURNS double precision
	AS 'MODULE_PATHNAME', 'gvector_l2_squared_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_squared_distance(gvector, gvector) IS 'squared Euclidean distance';

CREATE FUNCTION inner_product(gvector, gvector) RETURNS double precision
	AS 'MODULE_PATHNAME', 'gvector_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION inner_product(gvector, gvector) IS 'inner (dot) product';

CREATE FUNCTION negative_inner_product(gvector, gvector) RETURNS double precision
	AS 'MODULE_PATHNAME', 'gvector_negative_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION negative_inner_product(gvector, gvector) IS 'negative inner product (operator <#>), so that ascending order ranks the largest product first';

CREATE FUNCTION cosine_distance(gvector, gvector) RETURNS double precision
	AS 'MODULE_PATHNAME', 'gvector_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cosine_distance(gvector, gvector) IS '1 - cosine similarity, in [0, 2] (operator <=>); 1 when either vector is zero';

CREATE FUNCTION l1_distance(gvector, gvector) RETURNS double precision
	AS 'MODULE_PATHNAME', 'gvector_l1_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l1_distance(gvector, gvector) IS 'taxicab (L1) distance (operator <+>)';

CREATE FUNCTION vector_dims(gvector) RETURNS integer
	AS 'MODULE_PATHNAME', 'gvector_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_dims(gvector) IS 'number of dimensions';

CREATE FUNCTION vector_norm(gvector) RETURNS double precision
	AS 'MODULE_PATHNAME', 'gvector_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_norm(gvector) IS 'Euclidean norm';

CREATE FUNCTION l2_normalize(gvector) RETURNS gvector
	AS 'MODULE_PATHNAME', 'gvector_l2_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_normalize(gvector) IS 'unit vector in the same direction; a zero vector stays zero';

CREATE FUNCTION subvector(gvector, integer, integer) RETURNS gvector
	AS 'MODULE_PATHNAME', 'gvector_subvector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION subvector(gvector, integer, integer) IS 'subvector(v, start, count): count elements from 1-based position start';

------------------------------------------------------------------------------
-- arithmetic and comparison functions
------------------------------------------------------------------------------

CREATE FUNCTION gvector_add(gvector, gvector) RETURNS gvector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_sub(gvector, gvector) RETURNS gvector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_mul(gvector, gvector) RETURNS gvector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION gvector_lt(gvector, gvector) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_le(gvector, gvector) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_eq(gvector, gvector) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_ne(gvector, gvector) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_ge(gvector, gvector) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_gt(gvector, gvector) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_cmp(gvector, gvector) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_hash(gvector) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

------------------------------------------------------------------------------
-- aggregates
------------------------------------------------------------------------------

-- The state is internal (count and sums in double, see src/gvector.c): SQL
-- cannot make or pass an internal value, so these functions are reachable
-- only through avg() and sum(), and no call can hand the final functions
-- sums that would make an invalid vector.
CREATE FUNCTION gvector_accum(internal, gvector) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION gvector_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION gvector_agg_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_agg_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_avg(internal) RETURNS gvector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_sum(internal) RETURNS gvector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE avg(gvector) (
	SFUNC = gvector_accum,
	STYPE = internal,
	FINALFUNC = gvector_avg,
	COMBINEFUNC = gvector_combine,
	SERIALFUNC = gvector_agg_serialize,
	DESERIALFUNC = gvector_agg_deserialize,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE avg(gvector) IS 'element-wise mean (the centroid)';

CREATE AGGREGATE sum(gvector) (
	SFUNC = gvector_accum,
	STYPE = internal,
	FINALFUNC = gvector_sum,
	COMBINEFUNC = gvector_combine,
	SERIALFUNC = gvector_agg_serialize,
	DESERIALFUNC = gvector_agg_deserialize,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE sum(gvector) IS 'element-wise sum';

------------------------------------------------------------------------------
-- operators
------------------------------------------------------------------------------

CREATE OPERATOR <-> (
	LEFTARG = gvector, RIGHTARG = gvector, FUNCTION = l2_distance,
	COMMUTATOR = '<->'
);
COMMENT ON OPERATOR <->(gvector, gvector) IS 'Euclidean distance';

CREATE OPERATOR <#> (
	LEFTARG = gvector, RIGHTARG = gvector, FUNCTION = negative_inner_product,
	COMMUTATOR = '<#>'
);
COMMENT ON OPERATOR <#>(gvector, gvector) IS 'negative inner product';

CREATE OPERATOR <=> (
	LEFTARG = gvector, RIGHTARG = gvector, FUNCTION = cosine_distance,
	COMMUTATOR = '<=>'
);
COMMENT ON OPERATOR <=>(gvector, gvector) IS 'cosine distance';

CREATE OPERATOR <+> (
	LEFTARG = gvector, RIGHTARG = gvector, FUNCTION = l1_distance,
	COMMUTATOR = '<+>'
);
COMMENT ON OPERATOR <+>(gvector, gvector) IS 'taxicab (L1) distance';

CREATE OPERATOR + (
	LEFTARG = gvector, RIGHTARG = gvector, FUNCTION = gvector_add,
	COMMUTATOR = +
);
CREATE OPERATOR - (
	LEFTARG = gvector, RIGHTARG = gvector, FUNCTION = gvector_sub
);
CREATE OPERATOR * (
	LEFTARG = gvector, RIGHTARG = gvector, FUNCTION = gvector_mul,
	COMMUTATOR = *
);

CREATE OPERATOR < (
	LEFTARG = gvector, RIGHTARG = gvector, FUNCTION = gvector_lt,
	COMMUTATOR = > , NEGATOR = >= ,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR <= (
	LEFTARG = gvector, RIGHTARG = gvector, FUNCTION = gvector_le,
	COMMUTATOR = >= , NEGATOR = > ,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR = (
	LEFTARG = gvector, RIGHTARG = gvector, FUNCTION = gvector_eq,
	COMMUTATOR = = , NEGATOR = <> ,
	RESTRICT = eqsel, JOIN = eqjoinsel,
	HASHES, MERGES
);
CREATE OPERATOR <> (
	LEFTARG = gvector, RIGHTARG = gvector, FUNCTION = gvector_ne,
	COMMUTATOR = <> , NEGATOR = = ,
	RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR >= (
	LEFTARG = gvector, RIGHTARG = gvector, FUNCTION = gvector_ge,
	COMMUTATOR = <= , NEGATOR = < ,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
CREATE OPERATOR > (
	LEFTARG = gvector, RIGHTARG = gvector, FUNCTION = gvector_gt,
	COMMUTATOR = < , NEGATOR = <= ,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

------------------------------------------------------------------------------
-- operator classes
------------------------------------------------------------------------------

-- btree and hash, so that DISTINCT, GROUP BY, ORDER BY v, joins on v and
-- unique indexes work.
CREATE OPERATOR CLASS gvector_ops
	DEFAULT FOR TYPE gvector USING btree AS
	OPERATOR 1 < ,
	OPERATOR 2 <= ,
	OPERATOR 3 = ,
	OPERATOR 4 >= ,
	OPERATOR 5 > ,
	FUNCTION 1 gvector_cmp(gvector, gvector);

CREATE OPERATOR CLASS gvector_ops
	DEFAULT FOR TYPE gvector USING hash AS
	OPERATOR 1 = ,
	FUNCTION 1 gvector_hash(gvector);

------------------------------------------------------------------------------
-- management functions
------------------------------------------------------------------------------

CREATE FUNCTION gigavector.distance_kernel() RETURNS text
	AS 'MODULE_PATHNAME', 'gvector_distance_kernel' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION gigavector.distance_kernel() IS 'SIMD tier of the distance kernels in use: scalar, avx2, avx512 or avx512fp16';

CREATE FUNCTION gigavector.gpu_info() RETURNS text
	AS 'MODULE_PATHNAME', 'gv_gpu_info' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION gigavector.gpu_info() IS 'GPU support compiled into this build';

------------------------------------------------------------------------------
-- index support shared by the vector access methods
------------------------------------------------------------------------------

-- Support function 1 of every vector operator class: returns (as internal)
-- the metric descriptor the access method computes distances with.
CREATE FUNCTION gvector_l2_metric(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_cosine_metric(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_ip_metric(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_l1_metric(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
