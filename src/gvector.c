/*
 * gvector.c
 *	  The gvector type: text and binary I/O, typmod, casts, distance
 *	  functions, element-wise arithmetic, btree/hash support and the
 *	  avg/sum aggregates.
 *
 * The type is stricter than a plain float4[]: every element must be finite,
 * so no NaN can ever reach a distance or an ORDER BY.  Anything a user can
 * get wrong is reported with ereport() and the SQLSTATE a client can act on:
 * 22P02 for malformed text, 22P03 for malformed binary data, 22000 for a
 * dimension that does not fit, 22003 for values out of float4 range, 54000
 * for more dimensions than the type stores.
 *
 * Distances use the shared kernels in distance.c, which accumulate in float.
 * A float sum can overflow even when the true distance fits in a double
 * (elements near 1e20 square to 1e40), and underflow for tiny vectors
 * ([1e-23] and [-1e-23] would be at distance 0); where a kernel result is
 * not finite or below FLT_MIN we recompute in double (distance.h,
 * GvSafeL2Squared), so the SQL functions are right at every magnitude the
 * type accepts.
 */
#include "compat.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "access/detoast.h"
#include "access/xact.h"
#include "common/shortest_dec.h"
#include "distance.h"
#include "ghalfvec.h"
#include "gvector.h"
#include "gvparse.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "quantize.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

/*
 * Allocate a zeroed gvector of the given dimensions.
 */
Gvector
InitGvector(int dim)
{
	Size		size = GVECTOR_SIZE(dim);
	Gvector		result = (Gvector) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = dim;
	return result;
}

/*
 * Reject a dimension count the type cannot hold.
 */
void
GvectorCheckDim(int dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("gvector must have at least 1 dimension")));
	if (dim > GVECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("gvector cannot have more than %d dimensions",
						GVECTOR_MAX_DIM)));
}

/*
 * Reject NaN and infinities: they have no place in a distance.
 */
void
GvectorCheckElement(float value)
{
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in gvector")));
	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in gvector")));
}

/*
 * Both operands of a binary operation must have the same dimensions.
 */
void
GvectorCheckSameDims(Gvector a, Gvector b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different gvector dimensions %d and %d",
						a->dim, b->dim)));
}

/*
 * Enforce a column's typmod (its declared dimensions), if it has one.
 */
static void
CheckTypmod(int typmod, int dim)
{
	if (typmod != -1 && typmod != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, dim)));
}

/*
 * Result of an arithmetic operation, checked the way float4 arithmetic is:
 * overflow to infinity and underflow of a non-zero result to zero are errors.
 */
static inline float
CheckArithmetic(float result, bool may_be_zero)
{
	if (unlikely(isinf(result)))
		float_overflow_error();
	if (unlikely(result == 0.0f && !may_be_zero))
		float_underflow_error();
	return result;
}

/* ---------------------------------------------------------------------------
 * Text I/O
 * ---------------------------------------------------------------------------
 */

/*
 * Report what GvParseText or GvParseBinary (gvparse.c) found wrong with
 * input lit (NULL for binary input) as the error a client can act on.
 */
static void
pg_attribute_noreturn()
ReportParseError(const char *lit, GvParseStatus status, GvParseError *err)
{
	switch (status)
	{
		case GV_PARSE_SYNTAX:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type gvector: \"%s\"", lit),
					 errdetail_internal("%s", err->detail)));
			break;
		case GV_PARSE_EMPTY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("gvector must have at least 1 dimension")));
			break;
		case GV_PARSE_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%.*s\" is out of range for type gvector",
							err->tokenLen, err->token)));
			break;
		case GV_PARSE_NAN:
			GvectorCheckElement(get_float4_nan());
			break;
		case GV_PARSE_INFINITE:
			GvectorCheckElement(get_float4_infinity());
			break;
		case GV_PARSE_TOO_MANY_DIMS:
			GvectorCheckDim(GVECTOR_MAX_DIM + 1);
			break;
		case GV_PARSE_NO_DIMS:
			GvectorCheckDim(0);
			break;
		case GV_PARSE_SHORT_HEADER:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("insufficient data for a gvector header")));
			break;
		case GV_PARSE_RESERVED:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid gvector header: reserved field is %d, not 0",
							err->value)));
			break;
		case GV_PARSE_SHORT_DATA:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg_plural("insufficient data for a gvector of %d dimension",
								   "insufficient data for a gvector of %d dimensions",
								   err->value, err->value)));
			break;
		case GV_PARSE_OK:
			break;
	}
	elog(ERROR, "unexpected gvector parse status %d", (int) status);
}

StaticAssertDecl(GV_PARSE_MAX_DIM == GVECTOR_MAX_DIM,
				 "gvparse.h and gvector.h disagree on the most dimensions");

PG_FUNCTION_INFO_V1(gvector_in);
Datum
gvector_in(PG_FUNCTION_ARGS)
{
	char	   *lit = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			capacity = GvParseTextCapacity(lit);
	float	   *values = palloc(sizeof(float) * capacity);
	GvParseError err;
	GvParseStatus status;
	int			dim;
	Gvector		result;

	status = GvParseText(lit, values, capacity, &dim, &err);
	if (status != GV_PARSE_OK)
		ReportParseError(lit, status, &err);
	CheckTypmod(typmod, dim);
	result = InitGvector(dim);
	memcpy(result->x, values, sizeof(float) * dim);
	pfree(values);
	PG_RETURN_GVECTOR_P(result);
}

PG_FUNCTION_INFO_V1(gvector_out);
Datum
gvector_out(PG_FUNCTION_ARGS)
{
	Gvector		v = PG_GETARG_GVECTOR_P(0);

	/* "[", then per element up to FLOAT_SHORTEST_DECIMAL_LEN - 1 chars + "," */
	char	   *buf = palloc(2 + (Size) v->dim * FLOAT_SHORTEST_DECIMAL_LEN);
	char	   *p = buf;

	*p++ = '[';
	for (int i = 0; i < v->dim; i++)
	{
		if (i > 0)
			*p++ = ',';
		p += float_to_shortest_decimal_bufn(v->x[i], p);
	}
	*p++ = ']';
	*p = '\0';

	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_CSTRING(buf);
}

/* ---------------------------------------------------------------------------
 * Typmod
 * ---------------------------------------------------------------------------
 */

/*
 * The typmod input of every vector type: one number from 1 to maxdim, the
 * "dimensions" (or, for gbit, the "length" in "bits") of type typname.
 */
int32
GvTypmodIn(ArrayType *ta, const char *typname, const char *what, const char *unit, int maxdim)
{
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier"),
				 errhint("Write %s(n) with a single number of %s.", typname, unit)));
	if (*tl < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s for type %s must be at least 1", what, typname)));
	if (*tl > maxdim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s for type %s cannot exceed %d", what, typname, maxdim)));
	return *tl;
}

PG_FUNCTION_INFO_V1(gvector_typmod_in);
Datum
gvector_typmod_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(GvTypmodIn(PG_GETARG_ARRAYTYPE_P(0), "gvector", "dimensions", "dimensions",
							   GVECTOR_MAX_DIM));
}

/*
 * Length coercion: gvector -> gvector(n), for inserts and casts.
 */
PG_FUNCTION_INFO_V1(gvector_coerce);
Datum
gvector_coerce(PG_FUNCTION_ARGS)
{
	Gvector		v = PG_GETARG_GVECTOR_P(0);

	CheckTypmod(PG_GETARG_INT32(1), v->dim);
	PG_RETURN_GVECTOR_P(v);
}

/* ---------------------------------------------------------------------------
 * Binary I/O: int16 dim, int16 unused (0), dim x float4, network order
 * ---------------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(gvector_recv);
Datum
gvector_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	GvParseError err;
	GvParseStatus status;
	int			dim;
	size_t		used;
	int			room = Min(GVECTOR_MAX_DIM, (buf->len - buf->cursor - 4) / (int) sizeof(float));

	/* as many elements as the data can hold: all of them, if it is valid */
	Gvector		result = InitGvector(Max(room, 1));

	status = GvParseBinary((const unsigned char *) buf->data + buf->cursor,
						   buf->len - buf->cursor, result->x, &dim, &used, &err);
	if (status != GV_PARSE_OK)
		ReportParseError(NULL, status, &err);
	CheckTypmod(typmod, dim);
	buf->cursor += used;
	SET_VARSIZE(result, GVECTOR_SIZE(dim));
	result->dim = dim;
	PG_RETURN_GVECTOR_P(result);
}

PG_FUNCTION_INFO_V1(gvector_send);
Datum
gvector_send(PG_FUNCTION_ARGS)
{
	Gvector		v = PG_GETARG_GVECTOR_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, v->dim);
	pq_sendint16(&buf, 0);
	for (int i = 0; i < v->dim; i++)
		pq_sendfloat4(&buf, v->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---------------------------------------------------------------------------
 * Casts between arrays and gvector
 * ---------------------------------------------------------------------------
 */

/*
 * Convert one array element to float4 with PostgreSQL's own range checks.
 */
static float
ArrayElementToFloat(Datum d, Oid elemtype)
{
	switch (elemtype)
	{
		case INT4OID:
			return (float) DatumGetInt32(d);
		case FLOAT4OID:
			return DatumGetFloat4(d);
		case FLOAT8OID:
			return DatumGetFloat4(DirectFunctionCall1(dtof, d));
		case NUMERICOID:
			return DatumGetFloat4(DirectFunctionCall1(numeric_float4, d));
		default:
			elog(ERROR, "unsupported array element type %u", elemtype);
			return 0.0f;		/* keep compiler quiet */
	}
}

/*
 * The elements of a one-dimensional array of int4, float4, float8 or numeric
 * as palloc'd floats, and their number.  Each vector type checks the count
 * and the values itself, so that its errors name it.
 */
float *
GvArrayToFloats(ArrayType *array, int *n)
{
	Oid			elemtype = ARR_ELEMTYPE(array);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	float	   *x;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be one-dimensional")));

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign,
					  &elems, &nulls, n);
	x = palloc(sizeof(float) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("array must not contain nulls")));
		x[i] = ArrayElementToFloat(elems[i], elemtype);
	}
	return x;
}

PG_FUNCTION_INFO_V1(array_to_gvector);
Datum
array_to_gvector(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	int			n;
	float	   *x = GvArrayToFloats(array, &n);
	Gvector		result;

	GvectorCheckDim(n);
	CheckTypmod(typmod, n);
	result = InitGvector(n);
	for (int i = 0; i < n; i++)
	{
		GvectorCheckElement(x[i]);
		result->x[i] = x[i];
	}
	PG_RETURN_GVECTOR_P(result);
}

/*
 * Build an array of the given element type from a gvector, converting each
 * element with convert (a float4 -> elemtype function) or as-is if NULL.
 */
static ArrayType *
GvectorToArray(Gvector v, Oid elemtype, PGFunction convert)
{
	Datum	   *elems = palloc(sizeof(Datum) * v->dim);
	int16		typlen;
	bool		typbyval;
	char		typalign;

	for (int i = 0; i < v->dim; i++)
	{
		Datum		d = Float4GetDatum(v->x[i]);

		elems[i] = convert ? DirectFunctionCall1(convert, d) : d;
	}
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	return construct_array(elems, v->dim, elemtype, typlen, typbyval, typalign);
}

PG_FUNCTION_INFO_V1(gvector_to_float4);
Datum
gvector_to_float4(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(GvectorToArray(PG_GETARG_GVECTOR_P(0),
										 FLOAT4OID, NULL));
}

PG_FUNCTION_INFO_V1(gvector_to_float8);
Datum
gvector_to_float8(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(GvectorToArray(PG_GETARG_GVECTOR_P(0),
										 FLOAT8OID, ftod));
}

PG_FUNCTION_INFO_V1(gvector_to_numeric);
Datum
gvector_to_numeric(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(GvectorToArray(PG_GETARG_GVECTOR_P(0),
										 NUMERICOID, float4_numeric));
}

/* Rounds to nearest, and errors out of int4 range, as real::integer does. */
PG_FUNCTION_INFO_V1(gvector_to_int4);
Datum
gvector_to_int4(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(GvectorToArray(PG_GETARG_GVECTOR_P(0),
										 INT4OID, ftoi4));
}

/* ---------------------------------------------------------------------------
 * Distances
 * ---------------------------------------------------------------------------
 */

/*
 * Squared L2 distance and inner product, right at every magnitude: the float
 * kernel, or double where float would overflow or underflow (distance.h).
 * The access methods compute the same values (GvMetricDistance), which the
 * distance memo and gv_kdtree's exact keys rely on.
 */
static double
L2Squared(Gvector a, Gvector b)
{
	GvectorCheckSameDims(a, b);
	return GvSafeL2Squared(GvL2SquaredDistance, a->x, b->x, a->dim);
}

static double
InnerProduct(Gvector a, Gvector b)
{
	GvectorCheckSameDims(a, b);
	return GvSafeInnerProduct(GvInnerProduct, a->x, b->x, a->dim);
}

/*
 * Cosine distance, 1 - cos(a, b), in [0, 2].
 *
 * A zero vector has no direction.  pgvector returns NaN here, which sorts
 * after every number and silently reorders results; we define the distance
 * as 1, the value for orthogonal vectors (what scikit-learn's
 * cosine_distances gives), so a zero vector is "unrelated" to everything.
 */
static double
CosineDistance(Gvector a, Gvector b)
{
	double		dab,
				daa,
				dbb;
	double		similarity;

	GvectorCheckSameDims(a, b);
	GvSafeCosineParts(a->x, b->x, a->dim, &dab, &daa, &dbb);

	if (daa == 0.0 || dbb == 0.0)
		return 1.0;

	/*
	 * daa * dbb cannot overflow or underflow double, and for a == b it is
	 * daa^2 rounded once, whose square root is daa again: the cosine distance
	 * of a vector with itself is exactly 0.
	 */
	similarity = dab / sqrt(daa * dbb);
	/* rounding can push |similarity| a hair past 1 */
	if (similarity > 1.0)
		similarity = 1.0;
	else if (similarity < -1.0)
		similarity = -1.0;
	return 1.0 - similarity;
}

/* the operators the memo serves (GvOperatorFromKernel), defined below */
extern Datum gvector_l2_distance(PG_FUNCTION_ARGS);
extern Datum gvector_l2_squared_distance(PG_FUNCTION_ARGS);
extern Datum gvector_inner_product(PG_FUNCTION_ARGS);
extern Datum gvector_negative_inner_product(PG_FUNCTION_ARGS);

/*
 * What operator function op returns for a pair whose kernel result is value,
 * when op is one the memo serves (the same arithmetic as its body below);
 * false otherwise.  A caller that already has the kernel result (gv_ivfpq's
 * re-ranking) then need not compute the distance a second time.
 */
bool
GvOperatorFromKernel(PGFunction op, GvMemoKernel kernel, double value, double *result)
{
	if (kernel == GV_MEMO_L2SQ && op == gvector_l2_distance)
		*result = sqrt(value);
	else if (kernel == GV_MEMO_L2SQ && op == gvector_l2_squared_distance)
		*result = value;
	else if (kernel == GV_MEMO_IP && op == gvector_negative_inner_product)
		*result = 0.0 - value;
	else if (kernel == GV_MEMO_IP && op == gvector_inner_product)
		*result = value;
	else
		return false;
	return true;
}

PG_FUNCTION_INFO_V1(gvector_l2_distance);
Datum
gvector_l2_distance(PG_FUNCTION_ARGS)
{
	double		memoised;

	if (GvDistanceMemoGet(fcinfo, GV_MEMO_L2SQ, &memoised))
		PG_RETURN_FLOAT8(sqrt(memoised));
	PG_RETURN_FLOAT8(sqrt(L2Squared(PG_GETARG_GVECTOR_P(0),
									PG_GETARG_GVECTOR_P(1))));
}

PG_FUNCTION_INFO_V1(gvector_l2_squared_distance);
Datum
gvector_l2_squared_distance(PG_FUNCTION_ARGS)
{
	double		memoised;

	if (GvDistanceMemoGet(fcinfo, GV_MEMO_L2SQ, &memoised))
		PG_RETURN_FLOAT8(memoised);
	PG_RETURN_FLOAT8(L2Squared(PG_GETARG_GVECTOR_P(0),
							   PG_GETARG_GVECTOR_P(1)));
}

PG_FUNCTION_INFO_V1(gvector_inner_product);
Datum
gvector_inner_product(PG_FUNCTION_ARGS)
{
	double		memoised;

	if (GvDistanceMemoGet(fcinfo, GV_MEMO_IP, &memoised))
		PG_RETURN_FLOAT8(memoised);
	PG_RETURN_FLOAT8(InnerProduct(PG_GETARG_GVECTOR_P(0),
								  PG_GETARG_GVECTOR_P(1)));
}

PG_FUNCTION_INFO_V1(gvector_negative_inner_product);
Datum
gvector_negative_inner_product(PG_FUNCTION_ARGS)
{
	double		memoised;

	/* 0.0 - x, not -x: a zero product should print as 0, not -0 */
	if (GvDistanceMemoGet(fcinfo, GV_MEMO_IP, &memoised))
		PG_RETURN_FLOAT8(0.0 - memoised);
	PG_RETURN_FLOAT8(0.0 - InnerProduct(PG_GETARG_GVECTOR_P(0),
										PG_GETARG_GVECTOR_P(1)));
}

PG_FUNCTION_INFO_V1(gvector_cosine_distance);
Datum
gvector_cosine_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(CosineDistance(PG_GETARG_GVECTOR_P(0),
									PG_GETARG_GVECTOR_P(1)));
}

PG_FUNCTION_INFO_V1(gvector_l1_distance);
Datum
gvector_l1_distance(PG_FUNCTION_ARGS)
{
	Gvector		a = PG_GETARG_GVECTOR_P(0);
	Gvector		b = PG_GETARG_GVECTOR_P(1);

	GvectorCheckSameDims(a, b);
	PG_RETURN_FLOAT8(GvSafeL1(a->x, b->x, a->dim));
}

/* ---------------------------------------------------------------------------
 * Other functions
 * ---------------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(gvector_dims);
Datum
gvector_dims(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_GVECTOR_P(0)->dim);
}

PG_FUNCTION_INFO_V1(gvector_norm);
Datum
gvector_norm(PG_FUNCTION_ARGS)
{
	Gvector		v = PG_GETARG_GVECTOR_P(0);

	PG_RETURN_FLOAT8(sqrt(InnerProduct(v, v)));
}

/* Unit vector in the same direction; a zero vector stays zero. */
PG_FUNCTION_INFO_V1(gvector_l2_normalize);
Datum
gvector_l2_normalize(PG_FUNCTION_ARGS)
{
	Gvector		v = PG_GETARG_GVECTOR_P(0);
	Gvector		result = InitGvector(v->dim);
	double		norm = sqrt(GvInnerProductDouble(v->x, v->x, v->dim));

	if (norm > 0.0)
	{
		for (int i = 0; i < v->dim; i++)
			result->x[i] = (float) (v->x[i] / norm);
	}
	PG_RETURN_GVECTOR_P(result);
}

/*
 * subvector(v, start, count): count elements from 1-based position start,
 * clipped to the vector like substring() clips to a string.
 */
PG_FUNCTION_INFO_V1(gvector_subvector);
Datum
gvector_subvector(PG_FUNCTION_ARGS)
{
	Gvector		v = PG_GETARG_GVECTOR_P(0);
	int64		start = PG_GETARG_INT32(1);
	int64		count = PG_GETARG_INT32(2);
	int64		end = start + count;	/* exclusive, 1-based */
	Gvector		result;

	if (count < 0)
		ereport(ERROR,
				(errcode(ERRCODE_SUBSTRING_ERROR),
				 errmsg("negative subvector length not allowed")));
	if (start < 1)
		start = 1;
	if (end > v->dim + 1)
		end = v->dim + 1;
	if (end <= start)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("gvector must have at least 1 dimension"),
				 errdetail("The requested range lies outside the vector's %d dimensions.",
						   v->dim)));

	result = InitGvector((int) (end - start));
	memcpy(result->x, v->x + (start - 1), sizeof(float) * result->dim);
	PG_RETURN_GVECTOR_P(result);
}

/* Element-wise arithmetic, with float4's overflow and underflow errors. */
PG_FUNCTION_INFO_V1(gvector_add);
Datum
gvector_add(PG_FUNCTION_ARGS)
{
	Gvector		a = PG_GETARG_GVECTOR_P(0);
	Gvector		b = PG_GETARG_GVECTOR_P(1);
	Gvector		result;

	GvectorCheckSameDims(a, b);
	result = InitGvector(a->dim);
	for (int i = 0; i < a->dim; i++)
		result->x[i] = CheckArithmetic(a->x[i] + b->x[i], true);
	PG_RETURN_GVECTOR_P(result);
}

PG_FUNCTION_INFO_V1(gvector_sub);
Datum
gvector_sub(PG_FUNCTION_ARGS)
{
	Gvector		a = PG_GETARG_GVECTOR_P(0);
	Gvector		b = PG_GETARG_GVECTOR_P(1);
	Gvector		result;

	GvectorCheckSameDims(a, b);
	result = InitGvector(a->dim);
	for (int i = 0; i < a->dim; i++)
		result->x[i] = CheckArithmetic(a->x[i] - b->x[i], true);
	PG_RETURN_GVECTOR_P(result);
}

PG_FUNCTION_INFO_V1(gvector_mul);
Datum
gvector_mul(PG_FUNCTION_ARGS)
{
	Gvector		a = PG_GETARG_GVECTOR_P(0);
	Gvector		b = PG_GETARG_GVECTOR_P(1);
	Gvector		result;

	GvectorCheckSameDims(a, b);
	result = InitGvector(a->dim);
	for (int i = 0; i < a->dim; i++)
		result->x[i] = CheckArithmetic(a->x[i] * b->x[i],
									   a->x[i] == 0.0f || b->x[i] == 0.0f);
	PG_RETURN_GVECTOR_P(result);
}

/* ---------------------------------------------------------------------------
 * btree and hash support
 * ---------------------------------------------------------------------------
 */

/*
 * Total order: element by element, then the shorter vector first.  -0 and 0
 * compare equal, as they do for float4.
 */
static int
GvectorCompare(Gvector a, Gvector b)
{
	int			n = Min(a->dim, b->dim);

	for (int i = 0; i < n; i++)
	{
		if (a->x[i] < b->x[i])
			return -1;
		if (a->x[i] > b->x[i])
			return 1;
	}
	return (a->dim > b->dim) - (a->dim < b->dim);
}

#define GVECTOR_CMP_FUNC(name, expr) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	int			c = GvectorCompare(PG_GETARG_GVECTOR_P(0), PG_GETARG_GVECTOR_P(1)); \
	PG_RETURN_BOOL(expr); \
}

GVECTOR_CMP_FUNC(gvector_lt, c < 0)
GVECTOR_CMP_FUNC(gvector_le, c <= 0)
GVECTOR_CMP_FUNC(gvector_eq, c == 0)
GVECTOR_CMP_FUNC(gvector_ne, c != 0)
GVECTOR_CMP_FUNC(gvector_ge, c >= 0)
GVECTOR_CMP_FUNC(gvector_gt, c > 0)

PG_FUNCTION_INFO_V1(gvector_cmp);
Datum
gvector_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(GvectorCompare(PG_GETARG_GVECTOR_P(0),
								   PG_GETARG_GVECTOR_P(1)));
}

/* Hash consistent with equality: -0 hashes like 0. */
PG_FUNCTION_INFO_V1(gvector_hash);
Datum
gvector_hash(PG_FUNCTION_ARGS)
{
	Gvector		v = PG_GETARG_GVECTOR_P(0);
	uint32		h = hash_bytes_uint32((uint32) v->dim);

	for (int i = 0; i < v->dim; i++)
	{
		float		x = v->x[i] == 0.0f ? 0.0f : v->x[i];
		uint32		bits;

		memcpy(&bits, &x, sizeof(bits));
		h = hash_combine(h, hash_bytes_uint32(bits));
	}
	PG_RETURN_UINT32(h);
}

/* ---------------------------------------------------------------------------
 * Aggregates: avg and sum
 *
 * The transition state is of type internal: a GvectorAggStateData in the
 * aggregate's memory context, holding the count and the running sums in
 * double.  SQL has no way to make or pass a value of type internal, so the
 * transition, combine, serial and final functions below are reachable only
 * through avg() and sum(), whose inputs are valid gvectors (and only a
 * superuser may build another aggregate over them).  A state SQL could
 * write, such as a float8[], would let any caller hand the final function
 * NaN, infinite or missing sums and make an invalid vector from them.
 * Parallel workers pass their states to the leader through
 * gvector_agg_serialize / gvector_agg_deserialize.
 * ---------------------------------------------------------------------------
 */

typedef struct GvectorAggStateData
{
	int64		count;			/* vectors added, at least 1 */
	int32		dim;			/* their dimensions */
	bool		half;			/* of ghalfvec values, not gvector (for the
								 * messages) */
	double		sums[FLEXIBLE_ARRAY_MEMBER];	/* element-wise sums */
} GvectorAggStateData;

typedef GvectorAggStateData *GvectorAggState;

#define GVECTOR_AGG_STATE_SIZE(_dim) \
	(offsetof(GvectorAggStateData, sums) + sizeof(double) * (_dim))

/*
 * The aggregate's memory context.  Only the aggregate machinery can call
 * us (our arguments are internal), so being called otherwise cannot happen.
 */
static MemoryContext
AggMemoryContext(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "%s called in non-aggregate context", fname);
	return aggcontext;
}

/* A zeroed state for vectors of dim dimensions, allocated in cxt. */
static GvectorAggState
NewAggState(MemoryContext cxt, int dim)
{
	GvectorAggState state = MemoryContextAllocZero(cxt, GVECTOR_AGG_STATE_SIZE(dim));

	state->dim = dim;
	return state;
}

/* The argument state, or NULL (no vector added yet). */
static inline GvectorAggState
AggStateArg(FunctionCallInfo fcinfo, int argno)
{
	return PG_ARGISNULL(argno) ? NULL : (GvectorAggState) PG_GETARG_POINTER(argno);
}

/* Return a state, NULL (SQL NULL) while no vector has been added. */
static Datum
AggStateResult(FunctionCallInfo fcinfo, GvectorAggState state)
{
	if (state == NULL)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(state);
}

/*
 * Both states, or a state and a vector, must have the same dimensions; the
 * message names the type the state sums.
 */
static void
CheckAggDims(GvectorAggState state, int dim2)
{
	if (state->dim != dim2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different %s dimensions %d and %d",
						state->half ? "ghalfvec" : "gvector", state->dim, dim2)));
}

/*
 * Add one vector to the state, in place (the state is ours, in the
 * aggregate's context); the first vector creates the state.  NULL vectors
 * are skipped, as a strict transition function would skip them.
 */
PG_FUNCTION_INFO_V1(gvector_accum);
Datum
gvector_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = AggMemoryContext(fcinfo, "gvector_accum");
	GvectorAggState state = AggStateArg(fcinfo, 0);
	Gvector		v;

	if (PG_ARGISNULL(1))
		return AggStateResult(fcinfo, state);
	v = PG_GETARG_GVECTOR_P(1);
	if (state == NULL)
		state = NewAggState(aggcontext, v->dim);
	else
		CheckAggDims(state, v->dim);

	state->count++;
	for (int i = 0; i < v->dim; i++)
		state->sums[i] += v->x[i];
	PG_RETURN_POINTER(state);
}

/*
 * Merge two partial states (parallel aggregation) into the first.  The
 * second may live in a short-lived context (a deserialized state), so when
 * the first is missing we keep a copy of the second, not the second.
 */
PG_FUNCTION_INFO_V1(gvector_combine);
Datum
gvector_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = AggMemoryContext(fcinfo, "gvector_combine");
	GvectorAggState s1 = AggStateArg(fcinfo, 0);
	GvectorAggState s2 = AggStateArg(fcinfo, 1);

	if (s2 == NULL)
		return AggStateResult(fcinfo, s1);
	if (s1 == NULL)
	{
		s1 = NewAggState(aggcontext, s2->dim);
		memcpy(s1, s2, GVECTOR_AGG_STATE_SIZE(s2->dim));
		PG_RETURN_POINTER(s1);
	}
	CheckAggDims(s1, s2->dim);

	s1->count += s2->count;
	for (int i = 0; i < s1->dim; i++)
		s1->sums[i] += s2->sums[i];
	PG_RETURN_POINTER(s1);
}

/*
 * A worker's state for the leader: int64 count, int32 dim, int8 half, dim x
 * float8.
 */
PG_FUNCTION_INFO_V1(gvector_agg_serialize);
Datum
gvector_agg_serialize(PG_FUNCTION_ARGS)
{
	GvectorAggState state;
	StringInfoData buf;

	(void) AggMemoryContext(fcinfo, "gvector_agg_serialize");
	state = (GvectorAggState) PG_GETARG_POINTER(0);
	pq_begintypsend(&buf);
	pq_sendint64(&buf, state->count);
	pq_sendint32(&buf, state->dim);
	pq_sendbyte(&buf, state->half);
	for (int i = 0; i < state->dim; i++)
		pq_sendfloat8(&buf, state->sums[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * The leader's copy of a worker's state, in the current (short-lived)
 * context; gvector_combine copies it into the aggregate's.  The bytes come
 * from gvector_agg_serialize in the same build, so a bad header cannot
 * happen.
 */
PG_FUNCTION_INFO_V1(gvector_agg_deserialize);
Datum
gvector_agg_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *bytes;
	StringInfoData buf;
	int64		count;
	int32		dim;
	GvectorAggState state;

	(void) AggMemoryContext(fcinfo, "gvector_agg_deserialize");
	bytes = PG_GETARG_BYTEA_PP(0);
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes));
	count = pq_getmsgint64(&buf);
	dim = pq_getmsgint(&buf, sizeof(int32));
	if (count < 1 || dim < 1 || dim > GVECTOR_MAX_DIM)
		elog(ERROR, "gvector aggregate: malformed serialized state");
	state = NewAggState(CurrentMemoryContext, dim);
	state->count = count;
	state->half = pq_getmsgbyte(&buf) != 0;
	for (int i = 0; i < dim; i++)
		state->sums[i] = pq_getmsgfloat8(&buf);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(state);
}

/*
 * Final step shared by avg and sum: divide the sums by divisor and check
 * the results fit in float4 (a sum can overflow; a mean of float4 values
 * cannot).  The state is left as it is: a window aggregate finalizes the
 * same state again after adding more rows.
 */
static Gvector
AggStateToGvector(FunctionCallInfo fcinfo, const char *fname, bool mean)
{
	GvectorAggState state;
	double		divisor;
	Gvector		result;

	(void) AggMemoryContext(fcinfo, fname);
	state = (GvectorAggState) PG_GETARG_POINTER(0);
	Assert(state->count >= 1 && state->dim >= 1 && state->dim <= GVECTOR_MAX_DIM);
	divisor = mean ? (double) state->count : 1.0;
	result = InitGvector(state->dim);
	for (int i = 0; i < state->dim; i++)
	{
		double		x = state->sums[i] / divisor;

		if (fabs(x) > FLT_MAX)
			float_overflow_error();
		result->x[i] = (float) x;
	}
	return result;
}

/* avg's final function: the element-wise mean. */
PG_FUNCTION_INFO_V1(gvector_avg);
Datum
gvector_avg(PG_FUNCTION_ARGS)
{
	PG_RETURN_GVECTOR_P(AggStateToGvector(fcinfo, "gvector_avg", true));
}

/* sum's final function: the element-wise sum. */
PG_FUNCTION_INFO_V1(gvector_sum);
Datum
gvector_sum(PG_FUNCTION_ARGS)
{
	PG_RETURN_GVECTOR_P(AggStateToGvector(fcinfo, "gvector_sum", false));
}

/*
 * ghalfvec's avg and sum: the same state, fed with the halves widened
 * (exactly) to floats; the final functions round the results to halves,
 * where a sum past 65504 is an overflow error.
 */
PG_FUNCTION_INFO_V1(ghalfvec_accum);
Datum
ghalfvec_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = AggMemoryContext(fcinfo, "ghalfvec_accum");
	GvectorAggState state = AggStateArg(fcinfo, 0);
	Ghalfvec	v;

	if (PG_ARGISNULL(1))
		return AggStateResult(fcinfo, state);
	v = PG_GETARG_GHALFVEC_P(1);
	if (state == NULL)
	{
		state = NewAggState(aggcontext, v->dim);
		state->half = true;
	}
	else
		CheckAggDims(state, v->dim);
	state->count++;
	for (int i = 0; i < v->dim; i++)
		state->sums[i] += GvHalfToFloat(v->x[i]);
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(ghalfvec_avg);
Datum
ghalfvec_avg(PG_FUNCTION_ARGS)
{
	Gvector		v = AggStateToGvector(fcinfo, "ghalfvec_avg", true);

	PG_RETURN_GHALFVEC_P(GhalfvecFromFloats(v->x, v->dim));
}

PG_FUNCTION_INFO_V1(ghalfvec_sum);
Datum
ghalfvec_sum(PG_FUNCTION_ARGS)
{
	Gvector		v = AggStateToGvector(fcinfo, "ghalfvec_sum", false);

	PG_RETURN_GHALFVEC_P(GhalfvecFromFloats(v->x, v->dim));
}

/* ---------------------------------------------------------------------------
 * Introspection
 * ---------------------------------------------------------------------------
 */

/* The SIMD tier the distance kernels use in this backend. */
PG_FUNCTION_INFO_V1(gvector_distance_kernel);
Datum
gvector_distance_kernel(FunctionCallInfo fcinfo pg_attribute_unused())
{
	PG_RETURN_TEXT_P(cstring_to_text(GvDistanceKernelName()));
}

/*
 * Called once from _PG_init.
 */
void
GvectorInit(void)
{
	GvDistanceInit();
	GvDistanceMemoInit();
}
