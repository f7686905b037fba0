------------------------------------------------------------------------------
-- gbit: binary embeddings (src/gbit.c), written '0101' as bit is
------------------------------------------------------------------------------

CREATE TYPE gbit;

CREATE FUNCTION gbit_in(cstring, oid, integer) RETURNS gbit
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gbit_out(gbit) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gbit_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gbit_recv(internal, oid, integer) RETURNS gbit
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gbit_send(gbit) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE gbit (
	INPUT     = gbit_in,
	OUTPUT    = gbit_out,
	TYPMOD_IN = gbit_typmod_in,
	RECEIVE   = gbit_recv,
	SEND      = gbit_send,
	STORAGE   = extended,
	CATEGORY  = 'g'
);
COMMENT ON TYPE gbit IS 'binary embedding, written 0101; gbit(n) fixes the number of bits';

CREATE FUNCTION gbit(gbit, integer, boolean) RETURNS gbit
	AS 'MODULE_PATHNAME', 'gbit_coerce' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gbit(bit varying, integer, boolean) RETURNS gbit
	AS 'MODULE_PATHNAME', 'varbit_to_gbit' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gbit_to_varbit(gbit, integer, boolean) RETURNS bit varying
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (gbit AS gbit) WITH FUNCTION gbit(gbit, integer, boolean) AS IMPLICIT;
-- bit and bit varying (pgvector's binary vectors) on assignment, and back
CREATE CAST (bit varying AS gbit) WITH FUNCTION gbit(bit varying, integer, boolean) AS ASSIGNMENT;
CREATE CAST (bit AS gbit) WITH FUNCTION gbit(bit varying, integer, boolean) AS ASSIGNMENT;
CREATE CAST (gbit AS bit varying) WITH FUNCTION gbit_to_varbit(gbit, integer, boolean) AS ASSIGNMENT;

CREATE FUNCTION hamming_distance(gbit, gbit) RETURNS double precision
	AS 'MODULE_PATHNAME', 'gbit_hamming_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hamming_distance(gbit, gbit) IS 'number of differing bits (operator <~>)';
CREATE FUNCTION jaccard_distance(gbit, gbit) RETURNS double precision
	AS 'MODULE_PATHNAME', 'gbit_jaccard_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION jaccard_distance(gbit, gbit) IS '1 - |a and b| / |a or b| (operator <%>); 1 when no bit is set in both';
CREATE FUNCTION vector_dims(gbit) RETURNS integer
	AS 'MODULE_PATHNAME', 'gbit_length' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vector_dims(gbit) IS 'number of bits';

CREATE FUNCTION binary_quantize(gvector) RETURNS gbit
	AS 'MODULE_PATHNAME', 'gvector_binary_quantize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION binary_quantize(gvector) IS 'one bit per dimension, set where the element is positive; index it with an expression index and re-rank by the gvector';
CREATE FUNCTION binary_quantize(ghalfvec) RETURNS gbit
	AS 'MODULE_PATHNAME', 'ghalfvec_binary_quantize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION binary_quantize(ghalfvec) IS 'one bit per dimension, set where the element is positive';

CREATE OPERATOR <~> (
	LEFTARG = gbit, RIGHTARG = gbit, FUNCTION = hamming_distance, COMMUTATOR = '<~>'
);
COMMENT ON OPERATOR <~>(gbit, gbit) IS 'Hamming distance';
CREATE OPERATOR <%> (
	LEFTARG = gbit, RIGHTARG = gbit, FUNCTION = jaccard_distance, COMMUTATOR = '<%>'
);
COMMENT ON OPERATOR <%>(gbit, gbit) IS 'Jaccard distance';

CREATE FUNCTION gbit_lt(gbit, gbit) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gbit_le(gbit, gbit) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gbit_eq(gbit, gbit) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gbit_ne(gbit, gbit) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gbit_ge(gbit, gbit) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gbit_gt(gbit, gbit) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gbit_cmp(gbit, gbit) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gbit_hash(gbit) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR < (
	LEFTARG = gbit, RIGHTARG = gbit, FUNCTION = gbit_lt,
	COMMUTATOR = > , NEGATOR = >= , RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR <= (
	LEFTARG = gbit, RIGHTARG = gbit, FUNCTION = gbit_le,
	COMMUTATOR = >= , NEGATOR = > , RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR = (
	LEFTARG = gbit, RIGHTARG = gbit, FUNCTION = gbit_eq,
	COMMUTATOR = = , NEGATOR = <> , RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
CREATE OPERATOR <> (
	LEFTARG = gbit, RIGHTARG = gbit, FUNCTION = gbit_ne,
	COMMUTATOR = <> , NEGATOR = = , RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR >= (
	LEFTARG = gbit, RIGHTARG = gbit, FUNCTION = gbit_ge,
	COMMUTATOR = <= , NEGATOR = < , RESTRICT = scalargesel, JOIN = scalargejoinsel
);
CREATE OPERATOR > (
	LEFTARG = gbit, RIGHTARG = gbit, FUNCTION = gbit_gt,
	COMMUTATOR = < , NEGATOR = <= , RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
CREATE OPERATOR CLASS gbit_ops
	DEFAULT FOR TYPE gbit USING btree AS
	OPERATOR 1 < , OPERATOR 2 <= , OPERATOR 3 = , OPERATOR 4 >= , OPERATOR 5 > ,
	FUNCTION 1 gbit_cmp(gbit, gbit);
CREATE OPERATOR CLASS gbit_ops
	DEFAULT FOR TYPE gbit USING hash AS
	OPERATOR 1 = ,
	FUNCTION 1 gbit_hash(gbit);

CREATE FUNCTION gbit_hamming_metric(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gbit_jaccard_metric(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
