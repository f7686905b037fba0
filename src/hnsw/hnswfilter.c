/*
 * hnswfilter.c
 *	  Filter columns of a gv_hnsw index: how their values are stored as
 *	  64-bit codes, and how a scan's conditions on them (=, <, <=, >=, >,
 *	  BETWEEN, IN / = ANY, IS NULL, IS NOT NULL; jsonb's @>, ?, ?|, ?&) are
 *	  turned into tests on those codes.
 *
 * Codes of the ordered kinds order like the values, so a range is a range
 * of codes and no recheck is needed.  Integers, dates and timestamps are
 * their sign-extended Datum (equal across int2, int4 and int8, which is
 * what lets the integer family hold cross-type operators).  float4 and
 * float8 become an order key of the value as a double: the bits of a
 * non-negative double order like signed integers, and flipping every bit
 * but the sign of a negative one reverses its order; -0 is stored as 0 and
 * every NaN as the one positive NaN, which sorts above +Infinity, so the
 * codes agree with float8's =, < and > (NaN = NaN, NaN above all).  Hashed
 * kinds (text, uuid) test equality only, and the executor rechecks.
 */
#include "compat.h"

#include <math.h>

#include "access/skey.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "hnsw.h"
#include "utils/array.h"
#include "utils/float.h"
#include "utils/lsyscache.h"

/* The order key of a double (see the file header). */
static int64
FloatOrderCode(double d)
{
	int64		bits;

	if (isnan(d))
		d = get_float8_nan();
	else if (d == 0.0)
		d = 0.0;				/* -0 and 0 are equal */
	memcpy(&bits, &d, sizeof(bits));
	return bits >= 0 ? bits : bits ^ PG_INT64_MAX;
}

/* The code of a value of type typid (the column's type, or a cross type's). */
static uint64
KeyCodeOfType(GvHnswInfo info, int col, Datum value, Oid typid)
{
	struct varlena *v;
	uint64		code;

	switch (info->keyKind[col])
	{
		case HNSW_KEY_INTEGER:
			return (uint64) value;
		case HNSW_KEY_FLOAT:
			return (uint64) FloatOrderCode(typid == FLOAT4OID ?
										   (double) DatumGetFloat4(value) :
										   DatumGetFloat8(value));
		default:
			break;
	}
	if (info->keyLen[col] > 0)	/* fixed length, by reference (uuid) */
		return DatumGetUInt64(hash_any_extended((const unsigned char *) DatumGetPointer(value),
												info->keyLen[col], 0));
	v = PG_DETOAST_DATUM_PACKED(value);
	code = DatumGetUInt64(hash_any_extended((const unsigned char *) VARDATA_ANY(v),
											VARSIZE_ANY_EXHDR(v), 0));
	if ((Pointer) v != DatumGetPointer(value))
		pfree(v);
	return code;
}

/* A filter column value as stored. */
uint64
GvHnswKeyCode(GvHnswInfo info, int col, Datum value)
{
	return KeyCodeOfType(info, col, value, info->keyType[col]);
}

/*
 * Encode the filter columns values[1..nkeys] into dst (at their
 * keyOffset: 8 bytes each, a jsonb's signature more) and a NULL bitmap.
 */
void
GvHnswEncodeKeys(GvHnswInfo info, Datum *values, bool *isnull, char *dst, uint8 *nulls)
{
	*nulls = 0;
	memset(dst, 0, info->keyBytes);
	for (int k = 0; k < info->nkeys; k++)
	{
		uint64		code;

		if (isnull[k + 1])
			*nulls |= (uint8) (1 << k);
		else if (info->keyKind[k] == HNSW_KEY_JSONB)
			GvHnswJsonbSignature(values[k + 1], dst + info->keyOffset[k]);
		else
		{
			code = GvHnswKeyCode(info, k, values[k + 1]);
			memcpy(dst + info->keyOffset[k], &code, sizeof(uint64));
		}
	}
}

static int
CompareCodes(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : x > y;
}

/* The elements of an SK_SEARCHARRAY key's array and their type; how many. */
int
GvHnswScanKeyElements(ScanKey key, Datum **elems, bool **nulls, Oid *elemtype)
{
	ArrayType  *array = DatumGetArrayTypeP(key->sk_argument);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			nelems;

	*elemtype = ARR_ELEMTYPE(array);
	get_typlenbyvalalign(*elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, *elemtype, typlen, typbyval, typalign, elems, nulls, &nelems);
	return nelems;
}

static GvHnswKeyOp
OpOfStrategy(StrategyNumber strategy)
{
	switch (strategy)
	{
		case HNSW_KEY_LESS:
			return HNSW_COND_LT;
		case HNSW_KEY_LESS_EQUAL:
			return HNSW_COND_LE;
		case HNSW_KEY_GREATER_EQUAL:
			return HNSW_COND_GE;
		case HNSW_KEY_GREATER:
			return HNSW_COND_GT;
		default:
			return HNSW_COND_EQ;
	}
}

/*
 * column op ANY(array): the codes of the array's non-NULL elements.  For =
 * they become a sorted set (IN); for a range operator only the widest bound
 * matters (x < ANY(a) is x < max(a)).  False when no element can match (an
 * empty array, or only NULLs).
 */
static bool
PrepareArrayCond(GvHnswInfo info, ScanKey key, GvHnswKeyCond *cond)
{
	Oid			elemtype;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems = GvHnswScanKeyElements(key, &elems, &nulls, &elemtype);
	int			n = 0;

	cond->codes = palloc(sizeof(int64) * Max(nelems, 1));
	for (int i = 0; i < nelems; i++)
		if (!nulls[i])
			cond->codes[n++] = (int64) KeyCodeOfType(info, cond->col, elems[i], elemtype);
	if (n == 0)
		return false;
	qsort(cond->codes, n, sizeof(int64), CompareCodes);
	switch (OpOfStrategy(key->sk_strategy))
	{
		case HNSW_COND_LT:
		case HNSW_COND_LE:
			cond->op = OpOfStrategy(key->sk_strategy);
			cond->code = cond->codes[n - 1];
			break;
		case HNSW_COND_GE:
		case HNSW_COND_GT:
			cond->op = OpOfStrategy(key->sk_strategy);
			cond->code = cond->codes[0];
			break;
		default:
			{
				int			unique = 1;

				for (int i = 1; i < n; i++)
					if (cond->codes[i] != cond->codes[unique - 1])
						cond->codes[unique++] = cond->codes[i];
				cond->op = HNSW_COND_IN;
				cond->ncodes = unique;
			}
	}
	return true;
}

/*
 * Turn a scan's keys into filter conditions, allocated in the current
 * memory context.  Returns false when no row can match (column = NULL, or
 * an empty IN list).  *recheck is set when a condition is on a hashed
 * column.  A condition on the vector column itself (attribute 1) can only
 * be IS NULL or IS NOT NULL: the index holds no NULL vectors, so the first
 * matches nothing here (the planner does not choose the index for it:
 * gvhnswcostestimate) and the second everything.
 */
bool
GvHnswPrepareFilter(GvHnswInfo info, ScanKey keys, int nkeys,
					GvHnswKeyFilter filter, bool *recheck)
{
	filter->n = 0;
	filter->conds = palloc0(sizeof(GvHnswKeyCond) * Max(nkeys, 1));
	memcpy(filter->offsets, info->keyOffset, sizeof(filter->offsets));
	*recheck = false;
	for (int i = 0; i < nkeys; i++)
	{
		ScanKey		key = &keys[i];
		GvHnswKeyCond *cond = &filter->conds[filter->n];

		cond->col = key->sk_attno - 2;
		if (key->sk_flags & SK_ISNULL)
		{
			if (!(key->sk_flags & (SK_SEARCHNULL | SK_SEARCHNOTNULL)))
				return false;	/* column = NULL */
			if (cond->col < 0)
			{
				if (key->sk_flags & SK_SEARCHNULL)
					return false;
				continue;
			}
			cond->op = (key->sk_flags & SK_SEARCHNULL) ? HNSW_COND_IS_NULL :
				HNSW_COND_NOT_NULL;
			filter->n++;
			continue;
		}
		Assert(cond->col >= 0 && cond->col < info->nkeys);
		if (info->keyKind[cond->col] == HNSW_KEY_JSONB)
		{
			if (!GvHnswJsonbPrepareCond(key, cond))
				return false;
		}
		else if (key->sk_flags & SK_SEARCHARRAY)
		{
			if (!PrepareArrayCond(info, key, cond))
				return false;
		}
		else
		{
			cond->op = OpOfStrategy(key->sk_strategy);
			cond->code = (int64) KeyCodeOfType(info, cond->col, key->sk_argument,
											   OidIsValid(key->sk_subtype) ?
											   key->sk_subtype : info->keyType[cond->col]);
		}
		*recheck |= info->keyHashed[cond->col];
		filter->n++;
	}
	return true;
}

static bool
CodeInSet(int64 code, const int64 *codes, int n)
{
	int			lo = 0;
	int			hi = n - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (codes[mid] == code)
			return true;
		if (codes[mid] < code)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return false;
}

/* Does one stored code (NULL or not) satisfy one condition? */
static bool
CondHolds(const GvHnswKeyCond *cond, bool isnull, int64 code)
{
	if (cond->op == HNSW_COND_IS_NULL)
		return isnull;
	if (cond->op == HNSW_COND_NOT_NULL || isnull)
		return !isnull && cond->op == HNSW_COND_NOT_NULL;
	switch (cond->op)
	{
		case HNSW_COND_EQ:
			return code == cond->code;
		case HNSW_COND_LT:
			return code < cond->code;
		case HNSW_COND_LE:
			return code <= cond->code;
		case HNSW_COND_GE:
			return code >= cond->code;
		case HNSW_COND_GT:
			return code > cond->code;
		case HNSW_COND_IN:
			return CodeInSet(code, cond->codes, cond->ncodes);
		default:
			return false;
	}
}

/*
 * Do filter column codes (an element's or a key directory entry's) satisfy
 * every condition of filter (NULL: no filter)?
 */
bool
GvHnswKeyCodesMatch(const char *keys, uint8 keyNulls, GvHnswKeyFilter filter)
{
	if (filter == NULL)
		return true;
	for (int i = 0; i < filter->n; i++)
	{
		const GvHnswKeyCond *cond = &filter->conds[i];
		bool		isnull = (keyNulls & (1 << cond->col)) != 0;
		int64		code;

		if (cond->op == HNSW_COND_CONTAINS)
		{
			if (isnull || !GvHnswJsonbHolds(keys + filter->offsets[cond->col], cond))
				return false;
			continue;
		}
		memcpy(&code, keys + filter->offsets[cond->col], sizeof(int64));
		if (!CondHolds(cond, isnull, code))
			return false;
	}
	return true;
}

/* Does an element pass the filter (NULL: no filter)? */
bool
GvHnswKeysMatch(GvHnswElementTuple tup, GvHnswKeyFilter filter)
{
	return GvHnswKeyCodesMatch(tup->data, tup->keyNulls, filter);
}
