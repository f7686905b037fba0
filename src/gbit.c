/*
 * gbit.c
 *	  The gbit type: binary embeddings.  Text form '0101' (as PostgreSQL's
 *	  bit type writes it, so pgvector's bit columns move through text),
 *	  binary form identical to bit's, Hamming (<~>) and Jaccard (<%>)
 *	  distances, binary_quantize(), btree/hash support.
 *
 * Bit i of a value is bit 7 - i % 8 of byte i / 8 (most significant first,
 * as in bit), and the unused bits of the last byte are always zero, so
 * equal values have equal bytes and a distance can work on whole words.
 */
#include "compat.h"

#include "common/hashfn.h"
#include "ghalfvec.h"
#include "gbit.h"
#include "gvector.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "port/pg_bitutils.h"
#include "quantize.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/varbit.h"

Gbit
InitGbit(int dim)
{
	Size		size = GBIT_SIZE(dim);
	Gbit		result = (Gbit) palloc0(size);

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
				 errmsg("gbit must have at least 1 bit")));
	if (dim > GBIT_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("gbit cannot have more than %d bits", GBIT_MAX_DIM)));
}

/* As bit(n) does: a value of another length does not fit the column. */
static void
CheckTypmod(int typmod, int dim)
{
	if (typmod != -1 && typmod != dim)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_LENGTH_MISMATCH),
				 errmsg("bit string length %d does not match type gbit(%d)", dim, typmod)));
}

static void
CheckSameDims(Gbit a, Gbit b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different gbit lengths %d and %d", a->dim, b->dim)));
}

static inline void
SetBit(Gbit v, int i)
{
	v->data[i >> 3] |= (uint8) (0x80 >> (i & 7));
}

/* Unused bits of the last byte: must be zero. */
static inline uint8
PadMask(int dim)
{
	return dim % 8 == 0 ? 0 : (uint8) (0xFF >> (dim % 8));
}

/* ---------------------------------------------------------------------------
 * I/O
 * ---------------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(gbit_in);
Datum
gbit_in(PG_FUNCTION_ARGS)
{
	char	   *lit = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			dim = strlen(lit);
	Gbit		result;

	if (dim == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("gbit must have at least 1 bit"),
				 errhint("Write the bits as a string of 0s and 1s, such as '0101'.")));
	CheckDim(dim);
	result = InitGbit(dim);
	for (int i = 0; i < dim; i++)
	{
		if (lit[i] == '1')
			SetBit(result, i);
		else if (lit[i] != '0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type gbit: \"%s\"", lit),
					 errdetail("\"%.*s\" at position %d is not a binary digit.",
							   pg_mblen(lit + i), lit + i, i + 1)));
	}
	CheckTypmod(typmod, dim);
	PG_RETURN_GBIT_P(result);
}

PG_FUNCTION_INFO_V1(gbit_out);
Datum
gbit_out(PG_FUNCTION_ARGS)
{
	Gbit		v = PG_GETARG_GBIT_P(0);
	char	   *buf = palloc(v->dim + 1);

	for (int i = 0; i < v->dim; i++)
		buf[i] = GbitGetBit(v, i) ? '1' : '0';
	buf[v->dim] = '\0';
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_CSTRING(buf);
}

PG_FUNCTION_INFO_V1(gbit_typmod_in);
Datum
gbit_typmod_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(GvTypmodIn(PG_GETARG_ARRAYTYPE_P(0), "gbit", "length", "bits", GBIT_MAX_DIM));
}

PG_FUNCTION_INFO_V1(gbit_coerce);
Datum
gbit_coerce(PG_FUNCTION_ARGS)
{
	Gbit		v = PG_GETARG_GBIT_P(0);

	CheckTypmod(PG_GETARG_INT32(1), v->dim);
	PG_RETURN_GBIT_P(v);
}

/* Binary form, as bit's: int32 length, then the bytes. */
PG_FUNCTION_INFO_V1(gbit_recv);
Datum
gbit_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			dim;
	Gbit		result;

	if (buf->len - buf->cursor < 4)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("insufficient data for a gbit header")));
	dim = (int32) pq_getmsgint(buf, sizeof(int32));
	CheckDim(dim);
	if (buf->len - buf->cursor < GBIT_BYTES(dim))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("insufficient data for a gbit of %d bits", dim)));
	CheckTypmod(typmod, dim);
	result = InitGbit(dim);
	pq_copymsgbytes(buf, (char *) result->data, GBIT_BYTES(dim));
	if (result->data[GBIT_BYTES(dim) - 1] & PadMask(dim))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid gbit: the unused bits of the last byte are not zero")));
	PG_RETURN_GBIT_P(result);
}

PG_FUNCTION_INFO_V1(gbit_send);
Datum
gbit_send(PG_FUNCTION_ARGS)
{
	Gbit		v = PG_GETARG_GBIT_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, v->dim);
	pq_sendbytes(&buf, (char *) v->data, GBIT_BYTES(v->dim));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Casts with PostgreSQL's bit varying: the same bytes. */
PG_FUNCTION_INFO_V1(varbit_to_gbit);
Datum
varbit_to_gbit(PG_FUNCTION_ARGS)
{
	VarBit	   *b = PG_GETARG_VARBIT_P(0);
	int			dim = VARBITLEN(b);
	Gbit		result;

	CheckDim(dim);
	CheckTypmod(PG_GETARG_INT32(1), dim);
	result = InitGbit(dim);
	memcpy(result->data, VARBITS(b), GBIT_BYTES(dim));
	result->data[GBIT_BYTES(dim) - 1] &= (uint8) ~PadMask(dim);
	PG_RETURN_GBIT_P(result);
}

PG_FUNCTION_INFO_V1(gbit_to_varbit);
Datum
gbit_to_varbit(PG_FUNCTION_ARGS)
{
	Gbit		v = PG_GETARG_GBIT_P(0);
	int			size = VARBITTOTALLEN(v->dim);
	VarBit	   *result = (VarBit *) palloc0(size);

	SET_VARSIZE(result, size);
	VARBITLEN(result) = v->dim;
	memcpy(VARBITS(result), v->data, GBIT_BYTES(v->dim));
	PG_RETURN_VARBIT_P(result);
}

/* ---------------------------------------------------------------------------
 * Distances, over whole 64-bit words (pg_popcount64: POPCNT where the CPU
 * has it); the padding bits are zero in both operands
 * ---------------------------------------------------------------------------
 */

/* The bits set in a op b, over bytes bytes (gv_hnsw's binary codes too). */
uint64
GvCountBits(const uint8 *a, const uint8 *b, int bytes, GvBitOp op)
{
	uint64		count = 0;
	int			i = 0;

	for (; i + 8 <= bytes; i += 8)
	{
		uint64		x,
					y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		count += pg_popcount64(op == COUNT_XOR ? x ^ y : op == COUNT_AND ? x & y : x | y);
	}
	for (; i < bytes; i++)
	{
		uint8		x = a[i];
		uint8		y = b[i];

		count += pg_popcount32(op == COUNT_XOR ? x ^ y : op == COUNT_AND ? x & y : x | y);
	}
	return count;
}

static uint64
CountBits(Gbit a, Gbit b, GvBitOp op)
{
	return GvCountBits(a->data, b->data, GBIT_BYTES(a->dim), op);
}

/* Number of positions where the bits differ. */
PG_FUNCTION_INFO_V1(gbit_hamming_distance);
Datum
gbit_hamming_distance(PG_FUNCTION_ARGS)
{
	Gbit		a = PG_GETARG_GBIT_P(0);
	Gbit		b = PG_GETARG_GBIT_P(1);

	CheckSameDims(a, b);
	PG_RETURN_FLOAT8((double) CountBits(a, b, COUNT_XOR));
}

/*
 * 1 - |a and b| / |a or b|, in [0, 1]; 1 when no bit is set in both (two
 * all-zero values included), as pgvector's jaccard_distance.
 */
PG_FUNCTION_INFO_V1(gbit_jaccard_distance);
Datum
gbit_jaccard_distance(PG_FUNCTION_ARGS)
{
	Gbit		a = PG_GETARG_GBIT_P(0);
	Gbit		b = PG_GETARG_GBIT_P(1);
	uint64		both;

	CheckSameDims(a, b);
	both = CountBits(a, b, COUNT_AND);
	if (both == 0)
		PG_RETURN_FLOAT8(1.0);
	PG_RETURN_FLOAT8(1.0 - (double) both / (double) CountBits(a, b, COUNT_OR));
}

PG_FUNCTION_INFO_V1(gbit_length);
Datum
gbit_length(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_GBIT_P(0)->dim);
}

/* binary_quantize: bit i is set where element i is positive. */
PG_FUNCTION_INFO_V1(gvector_binary_quantize);
Datum
gvector_binary_quantize(PG_FUNCTION_ARGS)
{
	Gvector		v = PG_GETARG_GVECTOR_P(0);
	Gbit		result = InitGbit(v->dim);

	for (int i = 0; i < v->dim; i++)
		if (v->x[i] > 0.0f)
			SetBit(result, i);
	PG_RETURN_GBIT_P(result);
}

PG_FUNCTION_INFO_V1(ghalfvec_binary_quantize);
Datum
ghalfvec_binary_quantize(PG_FUNCTION_ARGS)
{
	Ghalfvec	v = PG_GETARG_GHALFVEC_P(0);
	Gbit		result = InitGbit(v->dim);

	/* a positive half: sign bit clear and not +0 */
	for (int i = 0; i < v->dim; i++)
		if (!(v->x[i] & 0x8000) && v->x[i] != 0)
			SetBit(result, i);
	PG_RETURN_GBIT_P(result);
}

/* ---------------------------------------------------------------------------
 * btree and hash support: a total order (by length, then the bytes), and
 * equality of the bits
 * ---------------------------------------------------------------------------
 */

static int
GbitCompare(Gbit a, Gbit b)
{
	if (a->dim != b->dim)
		return a->dim < b->dim ? -1 : 1;
	return memcmp(a->data, b->data, GBIT_BYTES(a->dim));
}

#define GBIT_CMP_FUNC(name, expr) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	int			c = GbitCompare(PG_GETARG_GBIT_P(0), PG_GETARG_GBIT_P(1)); \
	PG_RETURN_BOOL(expr); \
}

GBIT_CMP_FUNC(gbit_lt, c < 0)
GBIT_CMP_FUNC(gbit_le, c <= 0)
GBIT_CMP_FUNC(gbit_eq, c == 0)
GBIT_CMP_FUNC(gbit_ne, c != 0)
GBIT_CMP_FUNC(gbit_ge, c >= 0)
GBIT_CMP_FUNC(gbit_gt, c > 0)

PG_FUNCTION_INFO_V1(gbit_cmp);
Datum
gbit_cmp(PG_FUNCTION_ARGS)
{
	int			c = GbitCompare(PG_GETARG_GBIT_P(0), PG_GETARG_GBIT_P(1));

	PG_RETURN_INT32(c < 0 ? -1 : c > 0);
}

PG_FUNCTION_INFO_V1(gbit_hash);
Datum
gbit_hash(PG_FUNCTION_ARGS)
{
	Gbit		v = PG_GETARG_GBIT_P(0);

	return hash_any((const unsigned char *) &v->dim,
					(int) (sizeof(int32) + GBIT_BYTES(v->dim)));
}
