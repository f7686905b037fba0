/*
 * gvfilterjsonb.c
 *	  jsonb filter columns (gv_hnsw, gv_ivfpq): each row's jsonb is stored
 *	  as a 256-bit signature of its top-level keys and key/value pairs, so
 *	  that @>, ?, ?|, ?& (and =; ->> through gvplanner.c) are tested inside
 *	  the index scan.
 *
 * The signature is a Bloom filter: every item sets three of the 256 bits,
 * picked by a hash of the item.  An object's items are each top-level key
 * ("the key is there") and each key with its value when that is a scalar
 * ("the key holds the value"), or with each scalar element when it is an
 * array (containment looks into arrays).  A condition becomes the signature
 * of what a row must hold: for @> the items of its object (for a value that
 * is an object only the key, for an array the key with each scalar element),
 * for ? and ?& the keys.
 * A row can match only if its signature has every bit of the condition's.
 * Different items may set the same bits, so a row that passes may still
 * not match: scans ask the executor to recheck, and since no row that
 * matches is ever rejected, the results are exact.
 *
 * Values that jsonb holds equal hash equally: numbers through
 * hash_numeric_extended (1.0 = 1), strings and booleans by their text, null
 * by a constant.  A jsonb that is not an object (a scalar or an array at the
 * top level) gets every bit: it passes every condition, and the recheck
 * decides.  A condition that is not an object (x @> '[1]') asks for every
 * bit, which such rows have.
 */
#include "compat.h"

#include "access/skey.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "gvfilter.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"

#define KEY_SEED			0x6b6579	/* distinct seeds: a key and a key */
#define PAIR_SEED			0x70616972	/* with a value never share a hash */
#define VALUE_SEED			0x76616c
#define NULL_VALUE_HASH		UINT64CONST(0x9e3779b97f4a7c15)

/*
 * Set the three bits of an item's hash; the hash is mixed first (the
 * avalanche step of MurmurHash3), since hash_combine64's low bits are weak.
 */
static void
AddItem(uint64 *sig, uint64 hash)
{
	hash ^= hash >> 33;
	hash *= UINT64CONST(0xff51afd7ed558ccd);
	hash ^= hash >> 33;
	hash *= UINT64CONST(0xc4ceb9fe1a85ec53);
	hash ^= hash >> 33;
	for (int i = 0; i < 3; i++)
	{
		int			bit = (int) ((hash >> (8 * i)) & 255);

		sig[bit >> 6] |= (uint64) 1 << (bit & 63);
	}
}

static uint64
HashBytes(const char *bytes, int len, uint64 seed)
{
	return DatumGetUInt64(hash_any_extended((const unsigned char *) bytes, len, seed));
}

/* The item "the key is there". */
static void
AddKey(uint64 *sig, const char *key, int len)
{
	AddItem(sig, HashBytes(key, len, KEY_SEED));
}

/* The item "key holds the scalar value" (nothing for a container). */
static void
AddPair(uint64 *sig, const JsonbValue *key, const JsonbValue *value)
{
	uint64		vh;

	switch (value->type)
	{
		case jbvNull:
			vh = NULL_VALUE_HASH;
			break;
		case jbvString:
			vh = HashBytes(value->val.string.val, value->val.string.len, VALUE_SEED);
			break;
		case jbvBool:
			vh = value->val.boolean ? HashBytes("true", 4, VALUE_SEED) :
				HashBytes("false", 5, VALUE_SEED);
			break;
		case jbvNumeric:
			vh = DatumGetUInt64(DirectFunctionCall2(hash_numeric_extended,
													NumericGetDatum(value->val.numeric),
													Int64GetDatum(VALUE_SEED)));
			break;
		default:
			return;
	}
	AddItem(sig, hash_combine64(HashBytes(key->val.string.val, key->val.string.len,
										  PAIR_SEED), vh));
}

/* The items of key with each scalar element of an array container. */
static void
AddArrayPairs(uint64 *sig, const JsonbValue *key, JsonbContainer *array)
{
	JsonbIterator *it = JsonbIteratorInit(array);
	JsonbValue	elem;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
		if (tok == WJB_ELEM)
			AddPair(sig, key, &elem);
}

/*
 * The signature of a jsonb.  A row's and a condition's are made alike: what
 * a row holds is what a condition asks for (a value that is an object asks
 * only for its key, an array for its scalar elements).
 */
static void
Signature(Jsonb *jb, uint64 *sig)
{
	JsonbIterator *it;
	JsonbValue	key;
	JsonbValue	value;
	JsonbIteratorToken tok;

	memset(sig, JB_ROOT_IS_OBJECT(jb) ? 0 : 0xff, GV_JSONB_BYTES);
	if (!JB_ROOT_IS_OBJECT(jb))
		return;
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		AddKey(sig, key.val.string.val, key.val.string.len);
		tok = JsonbIteratorNext(&it, &value, true);
		Assert(tok == WJB_VALUE);
		if (value.type != jbvBinary)
			AddPair(sig, &key, &value);
		else if ((value.val.binary.data->header & JB_FARRAY) != 0)
			AddArrayPairs(sig, &key, value.val.binary.data);
	}
}

static void
SignatureOfDatum(Datum value, uint64 *sig)
{
	Jsonb	   *jb = DatumGetJsonbP(value);

	Signature(jb, sig);
	if ((Pointer) jb != DatumGetPointer(value))
		pfree(jb);
}

/* A stored jsonb filter column value: GV_JSONB_BYTES at dst. */
void
GvJsonbSignature(Datum value, char *dst)
{
	uint64		sig[GV_JSONB_WORDS];

	SignatureOfDatum(value, sig);
	memcpy(dst, sig, GV_JSONB_BYTES);
}

/*
 * The keys of a text[] (NULL elements ignored, as ?| and ?& do): all of
 * them in one signature (all), or one signature each (each, if not NULL).
 * Returns how many.
 */
static int
KeySignatures(Datum arrayDatum, uint64 *all, uint64 *each)
{
	ArrayType  *array = DatumGetArrayTypeP(arrayDatum);
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			n = 0;

	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nelems);
	for (int i = 0; i < nelems; i++)
	{
		text	   *t;

		if (nulls[i])
			continue;
		t = DatumGetTextPP(elems[i]);
		if (all)
			AddKey(all, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
		if (each)
			AddKey(each + (n * GV_JSONB_WORDS), VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
		n++;
	}
	return n;
}

static int
ArrayLength(Datum arrayDatum)
{
	ArrayType  *array = DatumGetArrayTypeP(arrayDatum);

	return ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
}

/*
 * The signature (zeroed by the caller) a row needs for "column <strategy>
 * value"; = asks what @> does (an equal row contains the value).
 */
static void
QuerySignature(StrategyNumber strategy, Datum value, uint64 *sig)
{
	switch (strategy)
	{
		case GV_KEY_EQUAL:
		case GV_KEY_CONTAINS:
			SignatureOfDatum(value, sig);
			break;
		case GV_KEY_EXISTS:
			{
				text	   *t = DatumGetTextPP(value);

				AddKey(sig, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
				break;
			}
		case GV_KEY_EXISTS_ALL:
			(void) KeySignatures(value, sig, NULL);
			break;
		default:
			break;				/* ?| ANY(...): nothing asked, the recheck
								 * decides */
	}
}

/*
 * column op ANY(array): a row passes if it has the bits one element asks
 * for.  False when no element can match (an empty array, or only NULLs).
 */
static bool
PrepareArrayCond(ScanKey key, GvKeyCond *cond)
{
	Oid			elemtype;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems = GvScanKeyElements(key, &elems, &nulls, &elemtype);

	cond->sigs = palloc0(GV_JSONB_BYTES * Max(nelems, 1));
	cond->ncodes = 0;
	for (int i = 0; i < nelems; i++)
		if (!nulls[i])
			QuerySignature(key->sk_strategy, elems[i],
						   cond->sigs + (cond->ncodes++ * GV_JSONB_WORDS));
	return cond->ncodes > 0;
}

/*
 * The condition a scan key on a jsonb filter column becomes: the
 * signatures of which a row must hold one.  False when no row can match.
 */
bool
GvJsonbPrepareCond(ScanKey key, GvKeyCond *cond)
{
	cond->op = GV_COND_CONTAINS;
	if (key->sk_flags & SK_SEARCHARRAY)
		return PrepareArrayCond(key, cond);
	if (key->sk_strategy == GV_KEY_EXISTS_ANY)
	{
		cond->sigs = palloc0(GV_JSONB_BYTES * Max(ArrayLength(key->sk_argument), 1));
		cond->ncodes = KeySignatures(key->sk_argument, NULL, cond->sigs);
		return cond->ncodes > 0;
	}
	cond->sigs = palloc0(GV_JSONB_BYTES);
	cond->ncodes = 1;
	QuerySignature(key->sk_strategy, key->sk_argument, cond->sigs);
	return true;
}

/* Does a stored signature hold every bit of one of the condition's? */
bool
GvJsonbHolds(const char *stored, const GvKeyCond *cond)
{
	uint64		row[GV_JSONB_WORDS];

	memcpy(row, stored, GV_JSONB_BYTES);
	for (int i = 0; i < cond->ncodes; i++)
	{
		const uint64 *want = cond->sigs + i * GV_JSONB_WORDS;
		bool		holds = true;

		for (int w = 0; w < GV_JSONB_WORDS; w++)
			holds &= (row[w] & want[w]) == want[w];
		if (holds)
			return true;
	}
	return false;
}
