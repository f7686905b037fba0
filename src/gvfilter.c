/*
 * gvfilter.c
 *	  Filter columns of the gigavector indexes (gv_hnsw, gv_ivfpq): which
 *	  columns an index may have after its vector, how their values are
 *	  stored as 64-bit codes, how a scan's conditions on them (=, <, <=,
 *	  >=, >, BETWEEN, IN / = ANY, IS NULL, IS NOT NULL; jsonb's @>, ?, ?|,
 *	  ?&) are turned into tests on those codes, and the filter operator
 *	  classes' validation.
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
#include "access/amvalidate.h"
#include "access/genam.h"
#include "access/htup_details.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "gvfilter.h"
#include "gvpage.h"
#include "utils/syscache.h"
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

/*
 * The filter columns after the vector: how many, and whether each is kept
 * exactly (pass-by-value types of up to 8 bytes: the Datum itself) or as a
 * 64-bit hash of its bytes (anything else; scans then ask the executor to
 * recheck), jsonb as a signature (gvfilterjsonb.c; rechecked too).  A hash
 * of the bytes is only an equality test under a deterministic collation:
 * GvFilterCheckColumns refuses the others.
 */
void
GvFilterInitKeys(Relation index, GvFilterKeys keys)
{
	TupleDesc	desc = RelationGetDescr(index);

	keys->nkeys = IndexRelationGetNumberOfKeyAttributes(index) - 1;
	Assert(keys->nkeys <= GV_MAX_FILTER_KEYS);
	keys->keyBytes = 0;
	for (int k = 0; k < keys->nkeys; k++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, k + 1);

		keys->keyHashed[k] = !(att->attbyval && att->attlen > 0 &&
							   att->attlen <= (int) sizeof(Datum));
		keys->keyLen[k] = att->attlen;
		keys->keyType[k] = att->atttypid;
		if (att->atttypid == JSONBOID)
			keys->keyKind[k] = GV_KEY_JSONB;
		else if (keys->keyHashed[k])
			keys->keyKind[k] = GV_KEY_HASHED;
		else if (att->atttypid == FLOAT4OID || att->atttypid == FLOAT8OID)
			keys->keyKind[k] = GV_KEY_FLOAT;
		else
			keys->keyKind[k] = GV_KEY_INTEGER;
		keys->keyOffset[k] = (int16) keys->keyBytes;
		keys->keyBytes += keys->keyKind[k] == GV_KEY_JSONB ? GV_JSONB_BYTES :
			(int) sizeof(uint64);
	}
}

/*
 * At build: the first column is the vector (an operator class with the
 * metric support function); the others are filter columns (operator
 * classes of search operators only).  Filter columns stored as hashes need
 * a deterministic collation, where equal means equal bytes.
 */
void
GvFilterCheckColumns(Relation index, const char *amname)
{
	int			ncols = IndexRelationGetNumberOfKeyAttributes(index);

	if (!OidIsValid(index_getprocid(index, 1, 1)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the first column of a %s index must be the vector", amname),
				 errhint("Write the vector column first: (embedding gvector_l2_ops, category).")));
	if (ncols - 1 > GV_MAX_FILTER_KEYS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s indexes at most %d filter columns after the vector",
						amname, GV_MAX_FILTER_KEYS)));
	for (int k = 2; k <= ncols; k++)
	{
		Oid			coll = index->rd_indcollation[k - 1];

		if (OidIsValid(index_getprocid(index, k, 1)))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a %s index has one vector column, the first", amname),
					 errhint("Create one index per vector column.")));
		if (OidIsValid(coll) && !get_collation_isdeterministic(coll))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("%s filter columns cannot use a nondeterministic collation",
							amname)));
	}
}

/* The code of a value of type typid (the column's type, or a cross type's). */
static uint64
KeyCodeOfType(GvFilterKeys keys, int col, Datum value, Oid typid)
{
	struct varlena *v;
	uint64		code;

	switch (keys->keyKind[col])
	{
		case GV_KEY_INTEGER:
			return (uint64) value;
		case GV_KEY_FLOAT:
			return (uint64) FloatOrderCode(typid == FLOAT4OID ?
										   (double) DatumGetFloat4(value) :
										   DatumGetFloat8(value));
		default:
			break;
	}
	if (keys->keyLen[col] > 0)	/* fixed length, by reference (uuid) */
		return DatumGetUInt64(hash_any_extended((const unsigned char *) DatumGetPointer(value),
												keys->keyLen[col], 0));
	v = PG_DETOAST_DATUM_PACKED(value);
	code = DatumGetUInt64(hash_any_extended((const unsigned char *) VARDATA_ANY(v),
											VARSIZE_ANY_EXHDR(v), 0));
	if ((Pointer) v != DatumGetPointer(value))
		pfree(v);
	return code;
}

/* A filter column value as stored. */
uint64
GvFilterKeyCode(GvFilterKeys keys, int col, Datum value)
{
	return KeyCodeOfType(keys, col, value, keys->keyType[col]);
}

/*
 * Encode the filter columns values[1..nkeys] into dst (at their
 * keyOffset: 8 bytes each, a jsonb's signature more) and a NULL bitmap.
 */
void
GvFilterEncodeKeys(GvFilterKeys keys, Datum *values, bool *isnull, char *dst, uint8 *nulls)
{
	*nulls = 0;
	memset(dst, 0, keys->keyBytes);
	for (int k = 0; k < keys->nkeys; k++)
	{
		uint64		code;

		if (isnull[k + 1])
			*nulls |= (uint8) (1 << k);
		else if (keys->keyKind[k] == GV_KEY_JSONB)
			GvJsonbSignature(values[k + 1], dst + keys->keyOffset[k]);
		else
		{
			code = GvFilterKeyCode(keys, k, values[k + 1]);
			memcpy(dst + keys->keyOffset[k], &code, sizeof(uint64));
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
GvScanKeyElements(ScanKey key, Datum **elems, bool **nulls, Oid *elemtype)
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

static GvKeyOp
OpOfStrategy(StrategyNumber strategy)
{
	switch (strategy)
	{
		case GV_KEY_LESS:
			return GV_COND_LT;
		case GV_KEY_LESS_EQUAL:
			return GV_COND_LE;
		case GV_KEY_GREATER_EQUAL:
			return GV_COND_GE;
		case GV_KEY_GREATER:
			return GV_COND_GT;
		default:
			return GV_COND_EQ;
	}
}

/*
 * column op ANY(array): the codes of the array's non-NULL elements.  For =
 * they become a sorted set (IN); for a range operator only the widest bound
 * matters (x < ANY(a) is x < max(a)).  False when no element can match (an
 * empty array, or only NULLs).
 */
static bool
PrepareArrayCond(GvFilterKeys keys, ScanKey key, GvKeyCond *cond)
{
	Oid			elemtype;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems = GvScanKeyElements(key, &elems, &nulls, &elemtype);
	int			n = 0;

	cond->codes = palloc(sizeof(int64) * Max(nelems, 1));
	for (int i = 0; i < nelems; i++)
		if (!nulls[i])
			cond->codes[n++] = (int64) KeyCodeOfType(keys, cond->col, elems[i], elemtype);
	if (n == 0)
		return false;
	qsort(cond->codes, n, sizeof(int64), CompareCodes);
	switch (OpOfStrategy(key->sk_strategy))
	{
		case GV_COND_LT:
		case GV_COND_LE:
			cond->op = OpOfStrategy(key->sk_strategy);
			cond->code = cond->codes[n - 1];
			break;
		case GV_COND_GE:
		case GV_COND_GT:
			cond->op = OpOfStrategy(key->sk_strategy);
			cond->code = cond->codes[0];
			break;
		default:
			{
				int			unique = 1;

				for (int i = 1; i < n; i++)
					if (cond->codes[i] != cond->codes[unique - 1])
						cond->codes[unique++] = cond->codes[i];
				cond->op = GV_COND_IN;
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
 * the access methods' cost estimates) and the second everything.
 */
bool
GvFilterPrepare(GvFilterKeys keys, ScanKey skeys, int nkeys,
				GvKeyFilter filter, bool *recheck)
{
	filter->n = 0;
	filter->conds = palloc0(sizeof(GvKeyCond) * Max(nkeys, 1));
	memcpy(filter->offsets, keys->keyOffset, sizeof(filter->offsets));
	*recheck = false;
	for (int i = 0; i < nkeys; i++)
	{
		ScanKey		key = &skeys[i];
		GvKeyCond  *cond = &filter->conds[filter->n];

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
			cond->op = (key->sk_flags & SK_SEARCHNULL) ? GV_COND_IS_NULL :
				GV_COND_NOT_NULL;
			filter->n++;
			continue;
		}
		Assert(cond->col >= 0 && cond->col < keys->nkeys);
		if (keys->keyKind[cond->col] == GV_KEY_JSONB)
		{
			if (!GvJsonbPrepareCond(key, cond))
				return false;
		}
		else if (key->sk_flags & SK_SEARCHARRAY)
		{
			if (!PrepareArrayCond(keys, key, cond))
				return false;
		}
		else
		{
			cond->op = OpOfStrategy(key->sk_strategy);
			cond->code = (int64) KeyCodeOfType(keys, cond->col, key->sk_argument,
											   OidIsValid(key->sk_subtype) ?
											   key->sk_subtype : keys->keyType[cond->col]);
		}
		*recheck |= keys->keyHashed[cond->col];
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
CondHolds(const GvKeyCond *cond, bool isnull, int64 code)
{
	if (cond->op == GV_COND_IS_NULL)
		return isnull;
	if (cond->op == GV_COND_NOT_NULL || isnull)
		return !isnull && cond->op == GV_COND_NOT_NULL;
	switch (cond->op)
	{
		case GV_COND_EQ:
			return code == cond->code;
		case GV_COND_LT:
			return code < cond->code;
		case GV_COND_LE:
			return code <= cond->code;
		case GV_COND_GE:
			return code >= cond->code;
		case GV_COND_GT:
			return code > cond->code;
		case GV_COND_IN:
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
GvKeyCodesMatch(const char *keys, uint8 keyNulls, GvKeyFilter filter)
{
	if (filter == NULL)
		return true;
	for (int i = 0; i < filter->n; i++)
	{
		const GvKeyCond *cond = &filter->conds[i];
		bool		isnull = (keyNulls & (1 << cond->col)) != 0;
		int64		code;

		if (cond->op == GV_COND_CONTAINS)
		{
			if (isnull || !GvJsonbHolds(keys + filter->offsets[cond->col], cond))
				return false;
			continue;
		}
		memcpy(&code, keys + filter->offsets[cond->col], sizeof(int64));
		if (!CondHolds(cond, isnull, code))
			return false;
	}
	return true;
}

/* May a filter column of type typid have an operator of this strategy? */
static bool
FilterStrategyAllowed(Oid typid, int16 strategy)
{
	if (strategy == GV_KEY_EQUAL)
		return true;
	if (typid == JSONBOID)		/* a signature of containment
								 * (gvfilterjsonb.c) */
		return strategy == GV_KEY_CONTAINS || strategy == GV_KEY_EXISTS ||
			strategy == GV_KEY_EXISTS_ANY || strategy == GV_KEY_EXISTS_ALL;
	return get_typbyval(typid) && strategy >= GV_KEY_LESS && strategy <= GV_KEY_GREATER;
}

/*
 * A filter column's operator class: search operators only, boolean, no
 * support functions; = of the class's own type as strategy 1, and
 * strategies 1-5 (= < <= >= >, gvfilter.h) for the rest, the range ones
 * only on types stored by value (whose codes order like the values), and
 * for jsonb @> ? ?| ?& (7, 9, 10, 11).  Other type pairs than the class's
 * own are cross-type operators (integers, floats).
 */
static bool
ValidateFilterOpclass(Form_pg_opclass classform, CatCList *oprlist, CatCList *proclist,
					  const char *amname)
{
	bool		ok = proclist->n_members == 0;
	bool		own = false;

	for (int i = 0; ok && i < oprlist->n_members; i++)
	{
		Form_pg_amop op = (Form_pg_amop) GETSTRUCT(&oprlist->members[i]->tuple);

		ok = FilterStrategyAllowed(classform->opcintype, op->amopstrategy) &&
			op->amoppurpose == AMOP_SEARCH &&
			check_amop_signature(op->amopopr, BOOLOID, op->amoplefttype,
								 op->amoprighttype);
		own |= op->amopstrategy == GV_KEY_EQUAL &&
			op->amoplefttype == classform->opcintype &&
			op->amoprighttype == classform->opcintype;
	}
	if (!ok || !own)
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("%s filter operator class \"%s\" needs = of its type as strategy 1, only = < <= >= > (strategies 1 to 5, ranges only for types passed by value) or for jsonb @> ? ?| ?& (7, 9, 10, 11), and no support function",
						amname, NameStr(classform->opcname))));
	return ok && own;
}

/*
 * amvalidate of an access method with filter columns: vector operator
 * classes (an ordering operator and the metric support function) go to
 * GvValidateVectorOpclass; operator classes of filter columns have search
 * operators only.
 */
bool
GvValidateOpclass(Oid opclassoid, const char *amname)
{
	HeapTuple	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	Form_pg_opclass classform;
	CatCList   *oprlist;
	CatCList   *proclist;
	bool		filter;
	bool		result = true;

	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	oprlist = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(classform->opcfamily));
	proclist = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(classform->opcfamily));
	filter = proclist->n_members == 0 && oprlist->n_members > 0 &&
		((Form_pg_amop) GETSTRUCT(&oprlist->members[0]->tuple))->amoppurpose == AMOP_SEARCH;
	if (filter)
		result = ValidateFilterOpclass(classform, oprlist, proclist, amname);
	ReleaseCatCacheList(proclist);
	ReleaseCatCacheList(oprlist);
	ReleaseSysCache(classtup);
	return filter ? result : GvValidateVectorOpclass(opclassoid, amname);
}
