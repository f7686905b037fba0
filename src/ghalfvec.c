/*
 * ghalfvec.c
 *	  The ghalfvec type: IEEE half-precision vectors at half the size of a
 *	  gvector.  Text and binary I/O, typmod, casts to and from gvector and
 *	  arrays, distances over the half kernels of distance.c, element-wise
 *	  arithmetic, btree/hash support.  The avg/sum aggregates share
 *	  gvector's state and live in gvector.c.
 *
 * Every element is a finite half: a value whose magnitude rounds past the
 * largest half (65504; anything from 65520 up) is an error with SQLSTATE
 * 22003, as a float4 overflow is, never an infinity.  Values too small for
 * a half round to the nearest one (down to 6e-8, then 0), as pgvector's
 * halfvec does.  Conversions use the shared codec of quantize.c.
 */
#include "compat.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/shortest_dec.h"
#include "distance.h"
#include "ghalfvec.h"
#include "gvector.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "parser/scansup.h"
#include "quantize.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#define GHALFVEC_PARSE_INITIAL 64

/* Exponent field 31: infinity or NaN, which a ghalfvec never holds. */
#define HALF_IS_FINITE(h)	(((h) & 0x7c00) != 0x7c00)

Ghalfvec
InitGhalfvec(int dim)
{
	Size		size = GHALFVEC_SIZE(dim);
	Ghalfvec	result = (Ghalfvec) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = dim;
	return result;
}

static void
CheckDim(int dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("ghalfvec must have at least 1 dimension")));
	if (dim > GHALFVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("ghalfvec cannot have more than %d dimensions",
						GHALFVEC_MAX_DIM)));
}

static void
CheckTypmod(int typmod, int dim)
{
	if (typmod != -1 && typmod != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, dim)));
}

static void
CheckSameDims(Ghalfvec a, Ghalfvec b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different ghalfvec dimensions %d and %d", a->dim, b->dim)));
}

/*
 * One float as a half: NaN and infinities are refused as gvector refuses
 * them, magnitudes a half cannot hold are out of range (22003).
 */
static uint16
FloatToHalfChecked(float value)
{
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in ghalfvec")));
	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in ghalfvec")));
	if (!(fabsf(value) < GV_HALF_LIMIT))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value %g is out of range for type ghalfvec", (double) value),
				 errdetail("A half-precision element holds magnitudes up to 65504.")));
	return GvFloatToHalf(value);
}

/* A ghalfvec of dim floats, each checked. */
Ghalfvec
GhalfvecFromFloats(const float *x, int dim)
{
	Ghalfvec	result = InitGhalfvec(dim);

	for (int i = 0; i < dim; i++)
		result->x[i] = FloatToHalfChecked(x[i]);
	return result;
}

/* ---------------------------------------------------------------------------
 * Text I/O: the gvector form, [1,2,3]
 * ---------------------------------------------------------------------------
 */

static void
pg_attribute_noreturn()
ReportBadLiteral(const char *lit, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type ghalfvec: \"%s\"", lit),
			 errdetail_internal("%s", detail)));
}

static uint16
ParseElement(const char *lit, char **pos)
{
	char	   *start = *pos;
	char	   *end;
	float		value;

	while (scanner_isspace(*start))
		start++;
	errno = 0;
	value = strtof(start, &end);
	if (end == start)
		ReportBadLiteral(lit, "Expected a number.");
	if ((errno == ERANGE && isinf(value)) ||
		(!isnan(value) && !isinf(value) && !(fabsf(value) < GV_HALF_LIMIT)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("\"%.*s\" is out of range for type ghalfvec",
						(int) (end - start), start),
				 errdetail("A half-precision element holds magnitudes up to 65504.")));
	*pos = end;
	return FloatToHalfChecked(value);
}

PG_FUNCTION_INFO_V1(ghalfvec_in);
Datum
ghalfvec_in(PG_FUNCTION_ARGS)
{
	char	   *lit = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			capacity = GHALFVEC_PARSE_INITIAL;
	uint16	   *values = palloc(sizeof(uint16) * capacity);
	int			dim = 0;
	char	   *pos = lit;
	Ghalfvec	result;

	while (scanner_isspace(*pos))
		pos++;
	if (*pos != '[')
		ReportBadLiteral(lit, "Ghalfvec contents must start with \"[\".");
	pos++;
	while (scanner_isspace(*pos))
		pos++;
	if (*pos == ']')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("ghalfvec must have at least 1 dimension")));
	for (;;)
	{
		if (dim == GHALFVEC_MAX_DIM)
			CheckDim(dim + 1);
		if (dim == capacity)
		{
			capacity *= 2;
			values = repalloc(values, sizeof(uint16) * capacity);
		}
		values[dim++] = ParseElement(lit, &pos);
		while (scanner_isspace(*pos))
			pos++;
		if (*pos == ',')
			pos++;
		else if (*pos == ']')
			break;
		else if (*pos == '\0')
			ReportBadLiteral(lit, "Unexpected end of input.");
		else
			ReportBadLiteral(lit, "Expected \",\" or \"]\" after a number.");
	}
	pos++;
	while (scanner_isspace(*pos))
		pos++;
	if (*pos != '\0')
		ReportBadLiteral(lit, "Junk after closing right bracket.");

	CheckTypmod(typmod, dim);
	result = InitGhalfvec(dim);
	memcpy(result->x, values, sizeof(uint16) * dim);
	pfree(values);
	PG_RETURN_GHALFVEC_P(result);
}

/* Each half as the shortest decimal that reads back as the same float. */
PG_FUNCTION_INFO_V1(ghalfvec_out);
Datum
ghalfvec_out(PG_FUNCTION_ARGS)
{
	Ghalfvec	v = PG_GETARG_GHALFVEC_P(0);
	char	   *buf = palloc(2 + (Size) v->dim * FLOAT_SHORTEST_DECIMAL_LEN);
	char	   *p = buf;

	*p++ = '[';
	for (int i = 0; i < v->dim; i++)
	{
		if (i > 0)
			*p++ = ',';
		p += float_to_shortest_decimal_bufn(GvHalfToFloat(v->x[i]), p);
	}
	*p++ = ']';
	*p = '\0';
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_CSTRING(buf);
}

PG_FUNCTION_INFO_V1(ghalfvec_typmod_in);
Datum
ghalfvec_typmod_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(GvTypmodIn(PG_GETARG_ARRAYTYPE_P(0), "ghalfvec", "dimensions", "dimensions",
							   GHALFVEC_MAX_DIM));
}

PG_FUNCTION_INFO_V1(ghalfvec_coerce);
Datum
ghalfvec_coerce(PG_FUNCTION_ARGS)
{
	Ghalfvec	v = PG_GETARG_GHALFVEC_P(0);

	CheckTypmod(PG_GETARG_INT32(1), v->dim);
	PG_RETURN_GHALFVEC_P(v);
}

/* ---------------------------------------------------------------------------
 * Binary I/O: int16 dim, int16 unused (0), dim x uint16 half bit patterns,
 * network order (pgvector's halfvec form)
 * ---------------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(ghalfvec_recv);
Datum
ghalfvec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			dim;
	int			unused;
	Ghalfvec	result;

	if (buf->len - buf->cursor < 4)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("insufficient data for a ghalfvec header")));
	dim = (int16) pq_getmsgint(buf, sizeof(int16));
	unused = (int16) pq_getmsgint(buf, sizeof(int16));
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid ghalfvec header: reserved field is %d, not 0", unused)));
	CheckDim(dim);
	if (buf->len - buf->cursor < (int) sizeof(uint16) * dim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg_plural("insufficient data for a ghalfvec of %d dimension",
							   "insufficient data for a ghalfvec of %d dimensions",
							   dim, dim)));
	CheckTypmod(typmod, dim);
	result = InitGhalfvec(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = (uint16) pq_getmsgint(buf, sizeof(uint16));
		if (!HALF_IS_FINITE(result->x[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("ghalfvec element %d is not a finite half (bits 0x%04x)",
							i + 1, result->x[i])));
	}
	PG_RETURN_GHALFVEC_P(result);
}

PG_FUNCTION_INFO_V1(ghalfvec_send);
Datum
ghalfvec_send(PG_FUNCTION_ARGS)
{
	Ghalfvec	v = PG_GETARG_GHALFVEC_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, v->dim);
	pq_sendint16(&buf, 0);
	for (int i = 0; i < v->dim; i++)
		pq_sendint16(&buf, v->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---------------------------------------------------------------------------
 * Casts
 * ---------------------------------------------------------------------------
 */

/* gvector -> ghalfvec, also quantize_half(): every element checked. */
PG_FUNCTION_INFO_V1(gvector_to_ghalfvec);
Datum
gvector_to_ghalfvec(PG_FUNCTION_ARGS)
{
	Gvector		v = PG_GETARG_GVECTOR_P(0);
	Ghalfvec	result;

	CheckTypmod(PG_GETARG_INT32(1), v->dim);
	result = InitGhalfvec(v->dim);
	if (!GvHalfEncode(v->x, result->x, v->dim))
	{
		for (int i = 0; i < v->dim; i++)
			(void) FloatToHalfChecked(v->x[i]); /* reports the first */
	}
	PG_RETURN_GHALFVEC_P(result);
}

/* quantize_half(gvector): the cast without a typmod. */
PG_FUNCTION_INFO_V1(gvector_to_ghalfvec_untyped);
Datum
gvector_to_ghalfvec_untyped(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall3(gvector_to_ghalfvec, PG_GETARG_DATUM(0),
							   Int32GetDatum(-1), BoolGetDatum(false));
}

/* ghalfvec -> gvector: exact, every half is a float. */
PG_FUNCTION_INFO_V1(ghalfvec_to_gvector);
Datum
ghalfvec_to_gvector(PG_FUNCTION_ARGS)
{
	Ghalfvec	h = PG_GETARG_GHALFVEC_P(0);
	Gvector		result;

	CheckTypmod(PG_GETARG_INT32(1), h->dim);
	result = InitGvector(h->dim);
	GvHalfDecode(h->x, result->x, h->dim);
	PG_RETURN_GVECTOR_P(result);
}

/* An array's elements as floats, then each checked as a half. */
PG_FUNCTION_INFO_V1(array_to_ghalfvec);
Datum
array_to_ghalfvec(PG_FUNCTION_ARGS)
{
	int			n;
	float	   *x = GvArrayToFloats(PG_GETARG_ARRAYTYPE_P(0), &n);

	CheckDim(n);
	CheckTypmod(PG_GETARG_INT32(1), n);
	PG_RETURN_GHALFVEC_P(GhalfvecFromFloats(x, n));
}

PG_FUNCTION_INFO_V1(ghalfvec_to_float4);
Datum
ghalfvec_to_float4(PG_FUNCTION_ARGS)
{
	Ghalfvec	h = PG_GETARG_GHALFVEC_P(0);
	Datum	   *elems = palloc(sizeof(Datum) * h->dim);

	for (int i = 0; i < h->dim; i++)
		elems[i] = Float4GetDatum(GvHalfToFloat(h->x[i]));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, h->dim, FLOAT4OID, sizeof(float4),
										  true, TYPALIGN_INT));
}

/* ---------------------------------------------------------------------------
 * Distances: the half kernels sum in float, which no sum of halves can
 * overflow or underflow (distance.h), so they need no double fallback.
 * ---------------------------------------------------------------------------
 */

static double
CosineDistance(Ghalfvec a, Ghalfvec b)
{
	float		ab,
				aa,
				bb;
	double		similarity;

	CheckSameDims(a, b);
	GvHalfCosineParts(a->x, b->x, a->dim, &ab, &aa, &bb);
	/* as gvector: a zero vector is at distance 1 from everything */
	if (aa == 0.0f || bb == 0.0f)
		return 1.0;
	similarity = (double) ab / sqrt((double) aa * bb);
	if (similarity > 1.0)
		similarity = 1.0;
	else if (similarity < -1.0)
		similarity = -1.0;
	return 1.0 - similarity;
}

#define GHALFVEC_PAIR_FUNC(name, expr) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	Ghalfvec	a = PG_GETARG_GHALFVEC_P(0); \
	Ghalfvec	b = PG_GETARG_GHALFVEC_P(1); \
\
	CheckSameDims(a, b); \
	PG_RETURN_FLOAT8(expr); \
}

GHALFVEC_PAIR_FUNC(ghalfvec_l2_distance,
				   sqrt((double) GvHalfL2SquaredDistance(a->x, b->x, a->dim)))
GHALFVEC_PAIR_FUNC(ghalfvec_l2_squared_distance,
				   (double) GvHalfL2SquaredDistance(a->x, b->x, a->dim))
GHALFVEC_PAIR_FUNC(ghalfvec_inner_product,
				   (double) GvHalfInnerProduct(a->x, b->x, a->dim))
/* 0.0 - x: a zero product prints as 0, not -0 */
GHALFVEC_PAIR_FUNC(ghalfvec_negative_inner_product,
				   0.0 - (double) GvHalfInnerProduct(a->x, b->x, a->dim))
GHALFVEC_PAIR_FUNC(ghalfvec_l1_distance,
				   (double) GvHalfL1Distance(a->x, b->x, a->dim))
GHALFVEC_PAIR_FUNC(ghalfvec_cosine_distance, CosineDistance(a, b))

PG_FUNCTION_INFO_V1(ghalfvec_dims);
Datum
ghalfvec_dims(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_GHALFVEC_P(0)->dim);
}

PG_FUNCTION_INFO_V1(ghalfvec_norm);
Datum
ghalfvec_norm(PG_FUNCTION_ARGS)
{
	Ghalfvec	v = PG_GETARG_GHALFVEC_P(0);

	PG_RETURN_FLOAT8(sqrt((double) GvHalfInnerProduct(v->x, v->x, v->dim)));
}

/* Unit vector in the same direction (each element then at most 1). */
PG_FUNCTION_INFO_V1(ghalfvec_l2_normalize);
Datum
ghalfvec_l2_normalize(PG_FUNCTION_ARGS)
{
	Ghalfvec	v = PG_GETARG_GHALFVEC_P(0);
	Ghalfvec	result = InitGhalfvec(v->dim);
	double		norm = sqrt((double) GvHalfInnerProduct(v->x, v->x, v->dim));

	if (norm > 0.0)
		for (int i = 0; i < v->dim; i++)
			result->x[i] = GvFloatToHalf((float) (GvHalfToFloat(v->x[i]) / norm));
	PG_RETURN_GHALFVEC_P(result);
}

/* subvector(v, start, count), clipped as gvector's subvector() clips. */
PG_FUNCTION_INFO_V1(ghalfvec_subvector);
Datum
ghalfvec_subvector(PG_FUNCTION_ARGS)
{
	Ghalfvec	v = PG_GETARG_GHALFVEC_P(0);
	int64		start = PG_GETARG_INT32(1);
	int64		count = PG_GETARG_INT32(2);
	int64		end = start + count;
	Ghalfvec	result;

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
				 errmsg("ghalfvec must have at least 1 dimension"),
				 errdetail("The requested range lies outside the vector's %d dimensions.",
						   v->dim)));
	result = InitGhalfvec((int) (end - start));
	memcpy(result->x, v->x + (start - 1), sizeof(uint16) * result->dim);
	PG_RETURN_GHALFVEC_P(result);
}

/*
 * Element-wise arithmetic in float, rounded to half: a result past the
 * half range is an overflow error, a product of non-zeros that rounds to
 * zero an underflow error, as for float4.
 */
static inline uint16
HalfResult(float r, bool may_be_zero)
{
	uint16		h;

	if (!(fabsf(r) < GV_HALF_LIMIT))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value out of range for type ghalfvec: overflow")));
	h = GvFloatToHalf(r);
	if ((h & 0x7fff) == 0 && !may_be_zero)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value out of range for type ghalfvec: underflow")));
	return h;
}

#define GHALFVEC_ARITH_FUNC(name, op, zero_ok) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	Ghalfvec	a = PG_GETARG_GHALFVEC_P(0); \
	Ghalfvec	b = PG_GETARG_GHALFVEC_P(1); \
	Ghalfvec	result; \
\
	CheckSameDims(a, b); \
	result = InitGhalfvec(a->dim); \
	for (int i = 0; i < a->dim; i++) \
	{ \
		float		x = GvHalfToFloat(a->x[i]); \
		float		y = GvHalfToFloat(b->x[i]); \
\
		result->x[i] = HalfResult(x op y, zero_ok); \
	} \
	PG_RETURN_GHALFVEC_P(result); \
}

GHALFVEC_ARITH_FUNC(ghalfvec_add, +, true)
GHALFVEC_ARITH_FUNC(ghalfvec_sub, -, true)
GHALFVEC_ARITH_FUNC(ghalfvec_mul, *, x == 0.0f || y == 0.0f)

/* ---------------------------------------------------------------------------
 * btree and hash support: element by element, then the shorter first; -0
 * equals 0
 * ---------------------------------------------------------------------------
 */

static int
GhalfvecCompare(Ghalfvec a, Ghalfvec b)
{
	int			n = Min(a->dim, b->dim);

	for (int i = 0; i < n; i++)
	{
		float		x = GvHalfToFloat(a->x[i]);
		float		y = GvHalfToFloat(b->x[i]);

		if (x < y)
			return -1;
		if (x > y)
			return 1;
	}
	return (a->dim > b->dim) - (a->dim < b->dim);
}

#define GHALFVEC_CMP_FUNC(name, expr) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	int			c = GhalfvecCompare(PG_GETARG_GHALFVEC_P(0), PG_GETARG_GHALFVEC_P(1)); \
	PG_RETURN_BOOL(expr); \
}

GHALFVEC_CMP_FUNC(ghalfvec_lt, c < 0)
GHALFVEC_CMP_FUNC(ghalfvec_le, c <= 0)
GHALFVEC_CMP_FUNC(ghalfvec_eq, c == 0)
GHALFVEC_CMP_FUNC(ghalfvec_ne, c != 0)
GHALFVEC_CMP_FUNC(ghalfvec_ge, c >= 0)
GHALFVEC_CMP_FUNC(ghalfvec_gt, c > 0)

PG_FUNCTION_INFO_V1(ghalfvec_cmp);
Datum
ghalfvec_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(GhalfvecCompare(PG_GETARG_GHALFVEC_P(0), PG_GETARG_GHALFVEC_P(1)));
}

PG_FUNCTION_INFO_V1(ghalfvec_hash);
Datum
ghalfvec_hash(PG_FUNCTION_ARGS)
{
	Ghalfvec	v = PG_GETARG_GHALFVEC_P(0);
	uint32		h = hash_bytes_uint32((uint32) v->dim);

	for (int i = 0; i < v->dim; i++)
	{
		uint16		bits = v->x[i] == 0x8000 ? 0 : v->x[i];

		h = hash_combine(h, hash_bytes_uint32(bits));
	}
	PG_RETURN_UINT32(h);
}
