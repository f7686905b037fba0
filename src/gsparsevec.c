/*
 * gsparsevec.c
 *	  The gsparsevec type: sparse vectors of up to 1,000,000 dimensions with
 *	  up to 16,000 non-zeros.  Text form pgvector's, '{1:0.5,7:2}/10000'
 *	  (1-based indices, then the dimensions), binary form pgvector's
 *	  sparsevec's; casts to and from gvector; distances over the non-zeros.
 *
 * A value is canonical: indices strictly increasing, every value finite and
 * non-zero.  Text input may list indices in any order (they are sorted) and
 * may write zeros (they are dropped); a repeated index is an error, as is an
 * index outside 1..dimensions.  Binary input must already be canonical.
 * Equal vectors therefore have equal bytes.
 *
 * Distances merge the two index lists and sum in double: exact enough at
 * every magnitude a float holds, and a sparse vector is short.
 */
#include "compat.h"

#include <float.h>
#include <math.h>

#include "common/hashfn.h"
#include "common/shortest_dec.h"
#include "gsparsevec.h"
#include "gvector.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "parser/scansup.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"

static Gsparsevec
InitGsparsevec(int dim, int nnz)
{
	Size		size = GSPARSEVEC_SIZE(nnz);
	Gsparsevec	result = (Gsparsevec) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = dim;
	result->nnz = nnz;
	return result;
}

static void
CheckDim(int64 dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("gsparsevec must have at least 1 dimension")));
	if (dim > GSPARSEVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("gsparsevec cannot have more than %d dimensions", GSPARSEVEC_MAX_DIM)));
}

static void
CheckNnz(int64 nnz)
{
	if (nnz > GSPARSEVEC_MAX_NNZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("gsparsevec cannot have more than %d non-zero elements",
						GSPARSEVEC_MAX_NNZ)));
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
CheckSameDims(Gsparsevec a, Gsparsevec b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different gsparsevec dimensions %d and %d", a->dim, b->dim)));
}

static void
CheckElement(float value)
{
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in gsparsevec")));
	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in gsparsevec")));
}

/* ---------------------------------------------------------------------------
 * Text I/O
 * ---------------------------------------------------------------------------
 */

typedef struct SparseElem
{
	int64		index;			/* 1-based, as written */
	float		value;
} SparseElem;

static int
CompareElems(const void *a, const void *b)
{
	int64		x = ((const SparseElem *) a)->index;
	int64		y = ((const SparseElem *) b)->index;

	return (x > y) - (x < y);
}

static void
pg_attribute_noreturn()
ReportBadLiteral(const char *lit, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type gsparsevec: \"%s\"", lit),
			 errdetail_internal("%s", detail),
			 errhint("Write a sparse vector as {index:value,...}/dimensions, such as '{1:0.5,7:2}/10000'.")));
}

static char *
SkipSpace(char *p)
{
	while (scanner_isspace(*p))
		p++;
	return p;
}

/* An integer at *pos (index or dimensions), in int64 to catch overflow. */
static int64
ParseInteger(const char *lit, char **pos, const char *what)
{
	char	   *start = SkipSpace(*pos);
	char	   *end;
	long long	value;

	errno = 0;
	value = strtoll(start, &end, 10);
	if (end == start)
		ReportBadLiteral(lit, psprintf("Expected %s.", what));
	if (errno == ERANGE || value > PG_INT32_MAX || value < PG_INT32_MIN)
		value = value < 0 ? PG_INT32_MIN : (int64) PG_INT32_MAX + 1;
	*pos = end;
	return value;
}

static float
ParseValue(const char *lit, char **pos)
{
	char	   *start = SkipSpace(*pos);
	char	   *end;
	float		value;

	errno = 0;
	value = strtof(start, &end);
	if (end == start)
		ReportBadLiteral(lit, "Expected a number after \":\".");
	if (errno == ERANGE && (isinf(value) || value == 0.0f))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("\"%.*s\" is out of range for type gsparsevec",
						(int) (end - start), start)));
	CheckElement(value);
	*pos = end;
	return value;
}

PG_FUNCTION_INFO_V1(gsparsevec_in);
Datum
gsparsevec_in(PG_FUNCTION_ARGS)
{
	char	   *lit = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			capacity = 16;
	SparseElem *elems = palloc(sizeof(SparseElem) * capacity);
	int			n = 0;
	int			nnz = 0;
	int64		dim;
	char	   *pos = SkipSpace(lit);
	Gsparsevec	result;

	if (*pos != '{')
		ReportBadLiteral(lit, "Gsparsevec contents must start with \"{\".");
	pos = SkipSpace(pos + 1);
	if (*pos == '}')
		pos++;
	else
	{
		for (;;)
		{
			int64		index = ParseInteger(lit, &pos, "an index");

			pos = SkipSpace(pos);
			if (*pos != ':')
				ReportBadLiteral(lit, "Expected \":\" after an index.");
			pos++;
			if (n == capacity)
			{
				capacity *= 2;
				elems = repalloc_huge(elems, sizeof(SparseElem) * capacity);
			}
			/* checked against the dimensions below, once they are read */
			elems[n].index = index;
			elems[n].value = ParseValue(lit, &pos);
			n++;
			CHECK_FOR_INTERRUPTS();
			pos = SkipSpace(pos);
			if (*pos == ',')
				pos++;
			else if (*pos == '}')
			{
				pos++;
				break;
			}
			else if (*pos == '\0')
				ReportBadLiteral(lit, "Unexpected end of input.");
			else
				ReportBadLiteral(lit, "Expected \",\" or \"}\" after a value.");
		}
	}
	pos = SkipSpace(pos);
	if (*pos != '/')
		ReportBadLiteral(lit, "Expected \"/\" and the dimensions after \"}\".");
	pos++;
	dim = ParseInteger(lit, &pos, "the dimensions");
	pos = SkipSpace(pos);
	if (*pos != '\0')
		ReportBadLiteral(lit, "Junk after the dimensions.");
	CheckDim(dim);
	CheckTypmod(typmod, (int) dim);

	for (int i = 0; i < n; i++)
		if (elems[i].index < 1 || elems[i].index > dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("gsparsevec index out of range"),
					 errdetail("Indices run from 1 to the dimensions, %d.", (int) dim)));
	qsort(elems, n, sizeof(SparseElem), CompareElems);
	for (int i = 1; i < n; i++)
		if (elems[i].index == elems[i - 1].index)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("gsparsevec index %d appears more than once", (int) elems[i].index)));
	for (int i = 0; i < n; i++)
		if (elems[i].value != 0.0f)
			nnz++;
	CheckNnz(nnz);

	result = InitGsparsevec((int) dim, nnz);
	nnz = 0;
	for (int i = 0; i < n; i++)
		if (elems[i].value != 0.0f)
		{
			result->indices[nnz] = (int32) elems[i].index - 1;
			GsparsevecValues(result)[nnz] = elems[i].value;
			nnz++;
		}
	pfree(elems);
	PG_RETURN_GSPARSEVEC_P(result);
}

PG_FUNCTION_INFO_V1(gsparsevec_out);
Datum
gsparsevec_out(PG_FUNCTION_ARGS)
{
	Gsparsevec	v = PG_GETARG_GSPARSEVEC_P(0);
	const float *values = GsparsevecValues(v);
	StringInfoData buf;
	char		num[FLOAT_SHORTEST_DECIMAL_LEN];

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < v->nnz; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		float_to_shortest_decimal_buf(values[i], num);
		appendStringInfo(&buf, "%d:%s", v->indices[i] + 1, num);
	}
	appendStringInfo(&buf, "}/%d", v->dim);
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_CSTRING(buf.data);
}

PG_FUNCTION_INFO_V1(gsparsevec_typmod_in);
Datum
gsparsevec_typmod_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(GvTypmodIn(PG_GETARG_ARRAYTYPE_P(0), "gsparsevec", "dimensions", "dimensions",
							   GSPARSEVEC_MAX_DIM));
}

PG_FUNCTION_INFO_V1(gsparsevec_coerce);
Datum
gsparsevec_coerce(PG_FUNCTION_ARGS)
{
	Gsparsevec	v = PG_GETARG_GSPARSEVEC_P(0);

	CheckTypmod(PG_GETARG_INT32(1), v->dim);
	PG_RETURN_GSPARSEVEC_P(v);
}

/* ---------------------------------------------------------------------------
 * Binary I/O: int32 dim, int32 nnz, int32 unused (0), nnz x int32 0-based
 * indices, nnz x float4 values (pgvector's sparsevec form); must be canonical
 * ---------------------------------------------------------------------------
 */

static void
pg_attribute_noreturn()
ReportBadBinary(const char *msg)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid binary gsparsevec: %s", msg)));
}

PG_FUNCTION_INFO_V1(gsparsevec_recv);
Datum
gsparsevec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int32		dim,
				nnz,
				unused;
	Gsparsevec	result;
	float	   *values;

	if (buf->len - buf->cursor < 12)
		ReportBadBinary("insufficient data for the header");
	dim = (int32) pq_getmsgint(buf, sizeof(int32));
	nnz = (int32) pq_getmsgint(buf, sizeof(int32));
	unused = (int32) pq_getmsgint(buf, sizeof(int32));
	if (unused != 0)
		ReportBadBinary("reserved field is not 0");
	CheckDim(dim);
	if (nnz < 0)
		ReportBadBinary("negative number of non-zeros");
	CheckNnz(nnz);
	if (nnz > dim)
		ReportBadBinary("more non-zeros than dimensions");
	if (buf->len - buf->cursor < 8 * nnz)
		ReportBadBinary("insufficient data for its elements");
	CheckTypmod(typmod, dim);
	result = InitGsparsevec(dim, nnz);
	values = GsparsevecValues(result);
	for (int i = 0; i < nnz; i++)
	{
		result->indices[i] = (int32) pq_getmsgint(buf, sizeof(int32));
		if (result->indices[i] < 0 || result->indices[i] >= dim)
			ReportBadBinary("index out of range");
		if (i > 0 && result->indices[i] <= result->indices[i - 1])
			ReportBadBinary("indices not strictly increasing");
	}
	for (int i = 0; i < nnz; i++)
	{
		values[i] = pq_getmsgfloat4(buf);
		CheckElement(values[i]);
		if (values[i] == 0.0f)
			ReportBadBinary("explicit zero value");
	}
	PG_RETURN_GSPARSEVEC_P(result);
}

PG_FUNCTION_INFO_V1(gsparsevec_send);
Datum
gsparsevec_send(PG_FUNCTION_ARGS)
{
	Gsparsevec	v = PG_GETARG_GSPARSEVEC_P(0);
	const float *values = GsparsevecValues(v);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, v->dim);
	pq_sendint32(&buf, v->nnz);
	pq_sendint32(&buf, 0);
	for (int i = 0; i < v->nnz; i++)
		pq_sendint32(&buf, v->indices[i]);
	for (int i = 0; i < v->nnz; i++)
		pq_sendfloat4(&buf, values[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---------------------------------------------------------------------------
 * Casts with gvector
 * ---------------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(gvector_to_gsparsevec);
Datum
gvector_to_gsparsevec(PG_FUNCTION_ARGS)
{
	Gvector		v = PG_GETARG_GVECTOR_P(0);
	int			nnz = 0;
	Gsparsevec	result;

	CheckTypmod(PG_GETARG_INT32(1), v->dim);
	for (int i = 0; i < v->dim; i++)
		if (v->x[i] != 0.0f)
			nnz++;
	CheckNnz(nnz);
	result = InitGsparsevec(v->dim, nnz);
	nnz = 0;
	for (int i = 0; i < v->dim; i++)
		if (v->x[i] != 0.0f)
		{
			result->indices[nnz] = i;
			GsparsevecValues(result)[nnz++] = v->x[i];
		}
	PG_RETURN_GSPARSEVEC_P(result);
}

PG_FUNCTION_INFO_V1(gsparsevec_to_gvector);
Datum
gsparsevec_to_gvector(PG_FUNCTION_ARGS)
{
	Gsparsevec	s = PG_GETARG_GSPARSEVEC_P(0);
	Gvector		result;

	CheckTypmod(PG_GETARG_INT32(1), s->dim);
	GvectorCheckDim(s->dim);
	result = InitGvector(s->dim);
	for (int i = 0; i < s->nnz; i++)
		result->x[s->indices[i]] = GsparsevecValues(s)[i];
	PG_RETURN_GVECTOR_P(result);
}

/* ---------------------------------------------------------------------------
 * Distances: a merge over the two index lists, summed in double
 * ---------------------------------------------------------------------------
 */

typedef struct SparseSums
{
	double		l2sq;			/* sum (a - b)^2 */
	double		ip;				/* sum a * b */
	double		l1;				/* sum |a - b| */
	double		aa;				/* sum a^2 */
	double		bb;				/* sum b^2 */
} SparseSums;

/* The sums over two index lists (sorted, unique) and their values. */
static SparseSums
SumsOf(int an, const int32 *ai, const float *av, int bn, const int32 *bi,
	   const float *bv)
{
	SparseSums	s = {0};
	int			i = 0,
				j = 0;

	while (i < an || j < bn)
	{
		double		x = 0.0,
					y = 0.0;

		if (j >= bn || (i < an && ai[i] < bi[j]))
			x = av[i++];
		else if (i >= an || bi[j] < ai[i])
			y = bv[j++];
		else
		{
			x = av[i++];
			y = bv[j++];
		}
		s.l2sq += (x - y) * (x - y);
		s.ip += x * y;
		s.l1 += fabs(x - y);
		s.aa += x * x;
		s.bb += y * y;
	}
	return s;
}

/*
 * The dot product alone: only the indices the lists share contribute, so
 * the merge skips ahead on either list (half the work of SumsOf's for an
 * inner-product or cosine index).  Summed in double, in index order, as
 * SumsOf sums its ip: the same value.
 */
static double
DotOf(int an, const int32 *ai, const float *av, int bn, const int32 *bi,
	  const float *bv)
{
	double		ip = 0.0;
	int			i = 0,
				j = 0;

	while (i < an && j < bn)
	{
		if (ai[i] < bi[j])
			i++;
		else if (bi[j] < ai[i])
			j++;
		else
			ip += (double) av[i++] * bv[j++];
	}
	return ip;
}

static SparseSums
Sums(Gsparsevec a, Gsparsevec b)
{
	CheckSameDims(a, b);
	return SumsOf(a->nnz, a->indices, GsparsevecValues(a),
				  b->nnz, b->indices, GsparsevecValues(b));
}

#define GSPARSEVEC_PAIR_FUNC(name, expr) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	SparseSums	s = Sums(PG_GETARG_GSPARSEVEC_P(0), PG_GETARG_GSPARSEVEC_P(1)); \
\
	PG_RETURN_FLOAT8(expr); \
}

static double
Cosine(SparseSums s)
{
	double		similarity;

	/* as gvector: a zero vector is at distance 1 from everything */
	if (s.aa == 0.0 || s.bb == 0.0)
		return 1.0;
	similarity = s.ip / sqrt(s.aa * s.bb);
	return 1.0 - Max(-1.0, Min(1.0, similarity));
}

GSPARSEVEC_PAIR_FUNC(gsparsevec_l2_distance, sqrt(s.l2sq))
GSPARSEVEC_PAIR_FUNC(gsparsevec_l2_squared_distance, s.l2sq)
GSPARSEVEC_PAIR_FUNC(gsparsevec_inner_product, s.ip)
/* 0.0 - x: a zero product prints as 0, not -0 */
GSPARSEVEC_PAIR_FUNC(gsparsevec_negative_inner_product, 0.0 - s.ip)
GSPARSEVEC_PAIR_FUNC(gsparsevec_cosine_distance, Cosine(s))
GSPARSEVEC_PAIR_FUNC(gsparsevec_l1_distance, s.l1)

PG_FUNCTION_INFO_V1(gsparsevec_dims);
Datum
gsparsevec_dims(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_GSPARSEVEC_P(0)->dim);
}

PG_FUNCTION_INFO_V1(gsparsevec_norm);
Datum
gsparsevec_norm(PG_FUNCTION_ARGS)
{
	Gsparsevec	v = PG_GETARG_GSPARSEVEC_P(0);
	const float *values = GsparsevecValues(v);
	double		sum = 0.0;

	for (int i = 0; i < v->nnz; i++)
		sum += (double) values[i] * values[i];
	PG_RETURN_FLOAT8(sqrt(sum));
}

/* Unit vector; an element that underflows to zero is dropped. */
PG_FUNCTION_INFO_V1(gsparsevec_l2_normalize);
Datum
gsparsevec_l2_normalize(PG_FUNCTION_ARGS)
{
	Gsparsevec	v = PG_GETARG_GSPARSEVEC_P(0);
	const float *values = GsparsevecValues(v);
	double		norm = 0.0;
	Gsparsevec	result;
	int			nnz = 0;

	for (int i = 0; i < v->nnz; i++)
		norm += (double) values[i] * values[i];
	norm = sqrt(norm);
	result = InitGsparsevec(v->dim, v->nnz);
	for (int i = 0; i < v->nnz; i++)
	{
		float		x = (float) (values[i] / norm);

		if (x != 0.0f)
		{
			result->indices[nnz] = v->indices[i];
			GsparsevecValues(result)[nnz++] = x;
		}
	}
	if (nnz < v->nnz)
	{
		/* close the gap between the indices and the values */
		memmove(result->indices + nnz, GsparsevecValues(result), sizeof(float) * nnz);
		result->nnz = nnz;
		SET_VARSIZE(result, GSPARSEVEC_SIZE(nnz));
	}
	PG_RETURN_GSPARSEVEC_P(result);
}

/* ---------------------------------------------------------------------------
 * btree and hash: canonical values, so equal vectors have equal bytes; the
 * order (dimensions, non-zeros, then the bytes) is arbitrary but total
 * ---------------------------------------------------------------------------
 */

static int
GsparsevecCompare(Gsparsevec a, Gsparsevec b)
{
	if (a->dim != b->dim)
		return a->dim < b->dim ? -1 : 1;
	if (a->nnz != b->nnz)
		return a->nnz < b->nnz ? -1 : 1;
	return memcmp(a->indices, b->indices, (sizeof(int32) + sizeof(float)) * a->nnz);
}

#define GSPARSEVEC_CMP_FUNC(name, expr) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	int			c = GsparsevecCompare(PG_GETARG_GSPARSEVEC_P(0), PG_GETARG_GSPARSEVEC_P(1)); \
	PG_RETURN_BOOL(expr); \
}

GSPARSEVEC_CMP_FUNC(gsparsevec_lt, c < 0)
GSPARSEVEC_CMP_FUNC(gsparsevec_le, c <= 0)
GSPARSEVEC_CMP_FUNC(gsparsevec_eq, c == 0)
GSPARSEVEC_CMP_FUNC(gsparsevec_ne, c != 0)
GSPARSEVEC_CMP_FUNC(gsparsevec_ge, c >= 0)
GSPARSEVEC_CMP_FUNC(gsparsevec_gt, c > 0)

PG_FUNCTION_INFO_V1(gsparsevec_cmp);
Datum
gsparsevec_cmp(PG_FUNCTION_ARGS)
{
	int			c = GsparsevecCompare(PG_GETARG_GSPARSEVEC_P(0), PG_GETARG_GSPARSEVEC_P(1));

	PG_RETURN_INT32(c < 0 ? -1 : c > 0);
}

PG_FUNCTION_INFO_V1(gsparsevec_hash);
Datum
gsparsevec_hash(PG_FUNCTION_ARGS)
{
	Gsparsevec	v = PG_GETARG_GSPARSEVEC_P(0);

	return hash_any((const unsigned char *) &v->dim,
					(int) (3 * sizeof(int32) + (sizeof(int32) + sizeof(float)) * v->nnz));
}

/* ---------------------------------------------------------------------------
 * The packed form gv_hnsw keeps (gsparsevec.h)
 * ---------------------------------------------------------------------------
 */

/*
 * Pack a gsparsevec's non-zeros into dst (GV_SPARSE_PACKED_WORDS(cap)
 * words, the unused ones zeroed).  False, writing nothing, when it has more
 * than cap non-zeros.
 */
bool
GvSparsePack(Datum value, float *dst, int cap)
{
	Gsparsevec	s = DatumGetGsparsevec(value);
	int32	   *words = (int32 *) dst;

	if (s->nnz > cap)
		return false;
	memset(dst, 0, sizeof(float) * GV_SPARSE_PACKED_WORDS(cap));
	words[0] = s->nnz;
	memcpy(words + 1, s->indices, sizeof(int32) * s->nnz);
	memcpy(dst + 1 + s->nnz, GsparsevecValues(s), sizeof(float) * s->nnz);
	return true;
}

/* The non-zeros of a packed vector. */
int
GvSparsePackedNnz(const float *x)
{
	return *(const int32 *) x;
}

/*
 * Scale a packed vector's values to unit length (cosine's index space).
 * False for a vector with no non-zero.
 */
bool
GvSparsePackedNormalize(float *x)
{
	int			nnz = GvSparsePackedNnz(x);

	return GvNormalizeFloats(x + 1 + nnz, nnz);
}

/*
 * The distance of two packed vectors in the metric's index space (as
 * GvMetricDistance: L2^2, 1 - dot of unit vectors, -dot, L1), over their
 * non-zeros only, summed in double.
 */
double
GvSparsePackedDistance(GvMetricKind kind, const float *a, const float *b)
{
	int			an = GvSparsePackedNnz(a);
	int			bn = GvSparsePackedNnz(b);
	const int32 *ai = (const int32 *) a + 1;
	const int32 *bi = (const int32 *) b + 1;

	switch (kind)
	{
		case GV_METRIC_L2:
			return SumsOf(an, ai, a + 1 + an, bn, bi, b + 1 + bn).l2sq;
		case GV_METRIC_COSINE:
			return 1.0 - DotOf(an, ai, a + 1 + an, bn, bi, b + 1 + bn);
		case GV_METRIC_IP:
			return -DotOf(an, ai, a + 1 + an, bn, bi, b + 1 + bn);
		case GV_METRIC_L1:
			return SumsOf(an, ai, a + 1 + an, bn, bi, b + 1 + bn).l1;
		default:
			elog(ERROR, "gsparsevec has no metric %d", (int) kind);
	}
	return 0.0;					/* keep the compiler quiet */
}
