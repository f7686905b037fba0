/*
 * hnswjsonb.c
 *	  jsonb filter columns of a gv_hnsw index: each row's jsonb is stored as
 *	  a 64-bit signature of its top-level keys and key/value pairs, so that
 *	  @>, ?, ?|, ?& (and =) are tested inside the graph search.
 *
 * The signature is a Bloom filter: every item sets three of the 64 bits,
 * picked by a hash of the item.  An object's items are each top-level key
 * ("the key is there") and each key with its value when that is a scalar
 * ("the key holds the value"), or with each scalar element when it is an
 * array (containment looks into arrays).  A condition becomes the signature
 * of what a row must hold: for @> the items of its object (for a value that
 * is an object or holds containers, only the key), for ? and ?& the keys.
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
#include "hnsw.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#define SIGNATURE_ALL		(~(uint64) 0)
#define KEY_SEED			0x6b6579	/* distinct seeds: a key and a key */
#define PAIR_SEED			0x70616972	/* with a value never share a hash */
#define VALUE_SEED			0x76616c
#define NULL_VALUE_HASH		UINT64CONST(0x9e3779b97f4a7c15)

/*
 * The three bits an item's hash sets; the hash is mixed first (the
 * avalanche step of MurmurHash3), since hash_combine64's low bits are weak.
 */
static inline uint64
ItemBits(uint64 hash)
{
	hash ^= hash >> 33;
	hash *= UINT64CONST(0xff51afd7ed558ccd);
	hash ^= hash >> 33;
	hash *= UINT64CONST(0xc4ceb9fe1a85ec53);
	hash ^= hash >> 33;
	return ((uint64) 1 << (hash & 63)) | ((uint64) 1 << ((hash >> 6) & 63)) |
		((uint64) 1 << ((hash >> 12) & 63));
}

static uint64
KeyHash(const char *key, int len, uint64 seed)
{
	return DatumGetUInt64(hash_any_extended((const unsigned char *) key, len, seed));
}

/* The item "the key is there". */
static uint64
KeyBits(const char *key, int len)
{
	return ItemBits(KeyHash(key, len, KEY_SEED));
}

/* The item "key holds the scalar value", 0 for a container. */
static uint64
PairBits(const JsonbValue *key, const JsonbValue *value)
{
	uint64		vh;

	switch (value->type)
	{
		case jbvNull:
			vh = NULL_VALUE_HASH;
			break;
		case jbvString:
			vh = KeyHash(value->val.string.val, value->val.string.len, VALUE_SEED);
			break;
		case jbvBool:
			vh = value->val.boolean ? KeyHash("true", 4, VALUE_SEED) :
				KeyHash("false", 5, VALUE_SEED);
			break;
		case jbvNumeric:
			vh = DatumGetUInt64(DirectFunctionCall2(hash_numeric_extended,
													NumericGetDatum(value->val.numeric),
													Int64GetDatum(VALUE_SEED)));
			break;
		default:
			return 0;
	}
	return ItemBits(hash_combine64(KeyHash(key->val.string.val, key->val.string.len,
										   PAIR_SEED), vh));
}

/* The items of key with each scalar element of the array container. */
static uint64
ArrayPairBits(const JsonbValue *key, JsonbContainer *array)
{
	JsonbIterator *it = JsonbIteratorInit(array);
	JsonbValue	elem;
	JsonbIteratorToken tok;
	uint64		bits = 0;

	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
		if (tok == WJB_ELEM)
			bits |= PairBits(key, &elem);
	return bits;
}

/*
 * The signature of a jsonb.  A row's and a condition's are made alike: what
 * a row holds is what a condition asks for (a value that is an object asks
 * only for its key, an array for its scalar elements).
 */
static uint64
Signature(Jsonb *jb)
{
	JsonbIterator *it;
	JsonbValue	key;
	JsonbValue	value;
	JsonbIteratorToken tok;
	uint64		bits = 0;

	if (!JB_ROOT_IS_OBJECT(jb))
		return SIGNATURE_ALL;
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		bits |= KeyBits(key.val.string.val, key.val.string.len);
		tok = JsonbIteratorNext(&it, &value, true);
		Assert(tok == WJB_VALUE);
		if (value.type != jbvBinary)
			bits |= PairBits(&key, &value);
		else if ((value.val.binary.data->header & JB_FARRAY) != 0)
			bits |= ArrayPairBits(&key, value.val.binary.data);
	}
	return bits;
}

/* A stored jsonb filter column value. */
uint64
GvHnswJsonbRowCode(Datum value)
{
	Jsonb	   *jb = DatumGetJsonbP(value);
	uint64		code = Signature(jb);

	if ((Pointer) jb != DatumGetPointer(value))
		pfree(jb);
	return code;
}

/* The keys of a text[] (NULL elements ignored, as ?| and ?& do). */
static int
KeyCodesOfArray(Datum arrayDatum, uint64 *all, int64 **each)
{
	ArrayType  *array = DatumGetArrayTypeP(arrayDatum);
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			n = 0;

	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nelems);
	*all = 0;
	*each = palloc(sizeof(int64) * Max(nelems, 1));
	for (int i = 0; i < nelems; i++)
	{
		text	   *t;
		uint64		bits;

		if (nulls[i])
			continue;
		t = DatumGetTextPP(elems[i]);
		bits = KeyBits(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
		*all |= bits;
		(*each)[n++] = (int64) bits;
	}
	return n;
}

/* The signature a row needs for "column <strategy> value" (not ?|). */
static uint64
QueryCode(StrategyNumber strategy, Datum value)
{
	switch (strategy)
	{
		case HNSW_KEY_EQUAL:
		case HNSW_KEY_CONTAINS:
			return Signature(DatumGetJsonbP(value));
		case HNSW_KEY_EXISTS:
			{
				text	   *t = DatumGetTextPP(value);

				return KeyBits(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
			}
		case HNSW_KEY_EXISTS_ALL:
			{
				uint64		all;
				int64	   *each;

				(void) KeyCodesOfArray(value, &all, &each);
				return all;
			}
		default:
			return 0;			/* nothing known: the recheck decides */
	}
}

/*
 * column op ANY(array): a row passes if it has the bits one element asks
 * for.  False when no element can match (an empty array, or only NULLs).
 */
static bool
PrepareArrayCond(ScanKey key, GvHnswKeyCond *cond)
{
	ArrayType  *array = DatumGetArrayTypeP(key->sk_argument);
	Oid			elemtype = ARR_ELEMTYPE(array);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign,
					  &elems, &nulls, &nelems);
	cond->op = HNSW_COND_CONTAINS_ANY;
	cond->codes = palloc(sizeof(int64) * Max(nelems, 1));
	cond->ncodes = 0;
	for (int i = 0; i < nelems; i++)
		if (!nulls[i])
			cond->codes[cond->ncodes++] = (int64)
				(key->sk_strategy == HNSW_KEY_EXISTS_ANY ? 0 :
				 QueryCode(key->sk_strategy, elems[i]));
	return cond->ncodes > 0;
}

/*
 * The condition a scan key on a jsonb filter column becomes; false when no
 * row can match it.
 */
bool
GvHnswJsonbPrepareCond(ScanKey key, GvHnswKeyCond *cond)
{
	if (key->sk_flags & SK_SEARCHARRAY)
		return PrepareArrayCond(key, cond);
	if (key->sk_strategy == HNSW_KEY_EXISTS_ANY)
	{
		uint64		all;

		cond->op = HNSW_COND_CONTAINS_ANY;
		cond->ncodes = KeyCodesOfArray(key->sk_argument, &all, &cond->codes);
		return cond->ncodes > 0;
	}
	cond->op = key->sk_strategy == HNSW_KEY_EQUAL ? HNSW_COND_EQ : HNSW_COND_CONTAINS;
	cond->code = (int64) QueryCode(key->sk_strategy, key->sk_argument);
	return true;
}
