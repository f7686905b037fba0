/*
 * gvfilter.h
 *	  Filter columns of the gigavector access methods (gv_hnsw, gv_ivfpq):
 *	  CREATE INDEX ... (emb, label, price, meta) stores each row's filter
 *	  column values as fixed-size codes beside its vector, and a scan tests
 *	  its WHERE conditions on those codes before it computes a distance.
 *
 * How a value is stored (gvfilter.c): as a 64-bit code that orders like the
 * values (integers, dates and timestamps: the sign-extended Datum; float4
 * and float8: an order key of the value as a double), as a hash of the
 * bytes that only tests equality (text, uuid: scans ask the executor to
 * recheck), or for jsonb as a 256-bit signature of its top-level keys and
 * key/value pairs that tests containment (@>, ?, ?|, ?&) with false
 * positives the executor's recheck removes (gvfilterjsonb.c).
 */
#ifndef GVFILTER_H
#define GVFILTER_H

#include "access/skey.h"
#include "utils/relcache.h"

/* Filter columns after the vector (bit k of a uint8 NULL bitmap each) */
#define GV_MAX_FILTER_KEYS	8

/* Kinds of stored codes */
#define GV_KEY_HASHED		0
#define GV_KEY_INTEGER		1
#define GV_KEY_FLOAT		2
#define GV_KEY_JSONB		3	/* a signature of the top-level pairs */

/* A jsonb filter column's signature: 256 bits (gvfilterjsonb.c) */
#define GV_JSONB_WORDS		4
#define GV_JSONB_BYTES		(GV_JSONB_WORDS * (int) sizeof(uint64))

/*
 * Strategy numbers of the filter columns' operator classes.  Only the
 * ordered kinds have 2-5.
 */
#define GV_KEY_EQUAL			1
#define GV_KEY_LESS				2
#define GV_KEY_LESS_EQUAL		3
#define GV_KEY_GREATER_EQUAL	4
#define GV_KEY_GREATER			5

/* jsonb filter columns (numbered as in GIN's jsonb_ops) */
#define GV_KEY_CONTAINS			7	/* @> */
#define GV_KEY_EXISTS			9	/* ? */
#define GV_KEY_EXISTS_ANY		10	/* ?| */
#define GV_KEY_EXISTS_ALL		11	/* ?& */

/* The filter columns of an index, as its rows' codes are laid out. */
typedef struct GvFilterKeysData
{
	int			nkeys;			/* filter columns after the vector */
	bool		keyHashed[GV_MAX_FILTER_KEYS];	/* stored as a hash: recheck */
	uint8		keyKind[GV_MAX_FILTER_KEYS];	/* GV_KEY_HASHED, ... */
	Oid			keyType[GV_MAX_FILTER_KEYS];	/* type of each filter column */
	int16		keyLen[GV_MAX_FILTER_KEYS]; /* attlen of each filter column */
	int16		keyOffset[GV_MAX_FILTER_KEYS];	/* where each is in the codes */
	int			keyBytes;		/* 8 per column, GV_JSONB_BYTES for jsonb */
} GvFilterKeysData;

typedef GvFilterKeysData *GvFilterKeys;

/* One condition on a filter column, as a scan tests it. */
typedef enum GvKeyOp
{
	GV_COND_EQ,
	GV_COND_LT,
	GV_COND_LE,
	GV_COND_GE,
	GV_COND_GT,
	GV_COND_IN,					/* = ANY(array): codes, sorted, unique */
	GV_COND_IS_NULL,
	GV_COND_NOT_NULL,
	GV_COND_CONTAINS			/* jsonb: the bits of one of sigs are set */
} GvKeyOp;

typedef struct GvKeyCond
{
	int			col;			/* filter column number, from 0 */
	GvKeyOp		op;
	int64		code;			/* the value's code (EQ, LT, LE, GE, GT) */
	int			ncodes;			/* IN; CONTAINS: how many sigs */
	int64	   *codes;
	uint64	   *sigs;			/* CONTAINS: GV_JSONB_WORDS words each */
} GvKeyCond;

/* The conditions on filter columns that a scan tests. */
typedef struct GvKeyFilterData
{
	int			n;
	GvKeyCond  *conds;
	int16		offsets[GV_MAX_FILTER_KEYS];	/* the index's keyOffset */
} GvKeyFilterData;

typedef GvKeyFilterData *GvKeyFilter;

/* gvfilter.c */
extern void GvFilterInitKeys(Relation index, GvFilterKeys keys);
extern void GvFilterCheckColumns(Relation index, const char *amname);
extern uint64 GvFilterKeyCode(GvFilterKeys keys, int col, Datum value);
extern void GvFilterEncodeKeys(GvFilterKeys keys, Datum *values, bool *isnull,
							   char *dst, uint8 *nulls);
extern bool GvFilterPrepare(GvFilterKeys keys, ScanKey skeys, int nkeys,
							GvKeyFilter filter, bool *recheck);
extern bool GvKeyCodesMatch(const char *codes, uint8 keyNulls,
							GvKeyFilter filter);
extern int	GvScanKeyElements(ScanKey key, Datum **elems, bool **nulls,
							  Oid *elemtype);
extern bool GvValidateOpclass(Oid opclassoid, const char *amname);

/* gvfilterjsonb.c */
extern void GvJsonbSignature(Datum value, char *dst);
extern bool GvJsonbPrepareCond(ScanKey key, GvKeyCond *cond);
extern bool GvJsonbHolds(const char *stored, const GvKeyCond *cond);

/* gvplanner.c */
extern void GvFilterPlannerInit(void);

#endif							/* GVFILTER_H */
