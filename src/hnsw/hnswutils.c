/*
 * hnswutils.c
 *	  Helpers shared by gv_hnsw's build, insert, scan and vacuum: the cached
 *	  index description, the metapage, element access, visited sets and
 *	  candidate heaps, and the on-disk layer search and neighbour selection.
 *
 * Searches read one page at a time under a share lock and compute each
 * distance directly on the vector in the shared buffer, through the SIMD
 * kernels (GvMetricDistance): no fmgr call and no allocation per distance.
 */
#include "compat.h"

#include <float.h>
#include <math.h>

#include "access/relscan.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "hnsw.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "quantize.h"
#include "storage/bufmgr.h"
#include "fmgr.h"
#include "gbit.h"
#include "utils/float.h"
#include "utils/memutils.h"

/*
 * The description of an index, read from its metapage once and kept in
 * rd_amcache (rebuilt after any relcache invalidation).
 */
GvHnswInfo
GvHnswGetInfo(Relation index)
{
	if (index->rd_amcache == NULL)
	{
		GvHnswMetaPageData meta;
		GvHnswInfo	info;

		GvHnswReadMeta(index, &meta);
		info = MemoryContextAllocZero(index->rd_indexcxt, sizeof(GvHnswInfoData));
		info->dim = meta.header.dimensions;
		info->m = meta.m;
		info->efConstruction = meta.efConstruction;
		info->maxLevel = meta.maxLevel;
		info->storage = meta.storage;
		info->sparseCap = meta.sparseCap;
		GvHnswSetVectorSize(info);
		GvFilterInitKeys(index, &info->keys);
		info->dataBytes = info->keys.keyBytes + info->vecBytes;
		info->metric = GvIndexGetMetric(index, 1);
		info->projDims = meta.projDims;
		info->projStart = meta.projStart;
		info->maxTids = GvHnswMaxTidsFor(info->dataBytes, info->m, info->maxLevel);
		index->rd_amcache = info;
	}
	return (GvHnswInfo) index->rd_amcache;
}

/*
 * Copy the metapage out, checking its magic and version.
 */
void
GvHnswReadMeta(Relation index, GvHnswMetaPageData *meta)
{
	(void) GvReadMetaPage(index, GV_PAGE_ID_HNSW, meta, sizeof(GvHnswMetaPageData));
	GvCheckMetaHeader(index, &meta->header, HNSW_MAGIC, HNSW_VERSION);
}

/*
 * Highest level whose element tuple still fits on a page, or -1 if not even
 * a level-0 element does.
 */
int
GvHnswMaxLevelFor(int dataBytes, int m)
{
	int			level;

	for (level = HNSW_MAX_LEVEL; level >= 0; level--)
		if (GvHnswTupleSize(dataBytes, m, level) <= HNSW_MAX_TUPLE_SIZE)
			return level;
	return -1;
}

/*
 * Room in heap TIDs of the largest overflow tuple: no larger than an
 * element of the top level, so that it fits on a page and in the buffers
 * that copy elements.
 */
int
GvHnswMaxTidsFor(int dataBytes, int m, int maxLevel)
{
	Size		max = GvHnswTupleSize(dataBytes, m, maxLevel);

	return Min((int) ((max - offsetof(GvHnswElementTupleData, data) - dataBytes) /
					  sizeof(ItemPointerData)) + 1, PG_UINT16_MAX);
}

/* Bytes an encoded vector takes in an element tuple (a multiple of 4). */
int
GvHnswVectorBytes(int storage, int dim)
{
	switch (storage)
	{
		case HNSW_STORAGE_HALF:
			return TYPEALIGN(4, sizeof(uint16) * dim);
		case HNSW_STORAGE_INT8:
			return TYPEALIGN(4, sizeof(float) + dim);
		case HNSW_STORAGE_BIT:
			return TYPEALIGN(4, 2 * sizeof(float) + (dim + 7) / 8);
		default:
			return sizeof(float) * dim;
	}
}

/*
 * Non-zeros a sparse element has room for: as many as leave room on a page
 * for the links of HNSW_SPARSE_LEVELS levels (at m = 16 about 900), and no
 * more than the dimensions.  Elements are laid out for this many whatever
 * their own count, so that every element of an index has one size.
 */
int
GvHnswSparseCapFor(int keyBytes, int m, int dim)
{
	Size		fixed = GvHnswTupleSize(keyBytes + sizeof(int32), m, HNSW_SPARSE_LEVELS);
	int			cap;

	if (fixed >= HNSW_MAX_TUPLE_SIZE)
		return 0;
	cap = (int) ((HNSW_MAX_TUPLE_SIZE - fixed) / (sizeof(int32) + sizeof(float)));
	return Min(Min(cap, dim), GSPARSEVEC_MAX_NNZ);
}

/* Set the vector's sizes in a tuple and in memory from storage and dim. */
void
GvHnswSetVectorSize(GvHnswInfo info)
{
	if (info->storage == HNSW_STORAGE_SPARSE)
	{
		info->vecFloats = GV_SPARSE_PACKED_WORDS(info->sparseCap);
		info->vecBytes = sizeof(float) * info->vecFloats;
	}
	else
	{
		info->vecFloats = info->dim;
		info->vecBytes = GvHnswVectorBytes(info->storage, info->dim);
	}
}

const char *
GvHnswStorageName(int storage)
{
	switch (storage)
	{
		case HNSW_STORAGE_HALF:
			return "float16";
		case HNSW_STORAGE_INT8:
			return "int8";
		case HNSW_STORAGE_BIT:
			return "binary";
		case HNSW_STORAGE_AUTO:
			return "auto";
		case HNSW_STORAGE_SPARSE:
			return "sparse";
		default:
			return "float32";
	}
}

/*
 * The storage a build uses: the requested one, which must leave room on a
 * page for an element with its level-0 links, or under "auto" the most
 * exact one that does.
 */
int
GvHnswChooseStorage(Relation index, int requested, int dim, int m, int keyBytes)
{
	static const int floatOrder[] = {HNSW_STORAGE_FLOAT, HNSW_STORAGE_HALF, HNSW_STORAGE_INT8,
	HNSW_STORAGE_BIT};

	/* the types' exact encodings first: half the size, or a 32nd */
	static const int halfOrder[] = {HNSW_STORAGE_HALF, HNSW_STORAGE_FLOAT, HNSW_STORAGE_INT8,
	HNSW_STORAGE_BIT};
	static const int bitOrder[] = {HNSW_STORAGE_BIT};
	GvMetric	metric = GvIndexGetMetric(index, 1);
	const int  *order = floatOrder;
	int			norder = lengthof(floatOrder);

	if (metric->type == GV_TYPE_GHALFVEC && metric->kind != GV_METRIC_COSINE)
		order = halfOrder;
	else if (metric->type == GV_TYPE_GBIT)
	{
		order = bitOrder;
		norder = lengthof(bitOrder);
	}
	else if (metric->type == GV_TYPE_GSPARSEVEC)
		norder = 1;				/* float32 while it fits and takes no more
								 * room than the packed non-zeros, else these:
								 * exact, and distances over the non-zeros */

	if (requested != HNSW_STORAGE_AUTO)
	{
		if (GvHnswMaxLevelFor(keyBytes + GvHnswVectorBytes(requested, dim), m) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("gv_hnsw cannot store %d dimensions as %s with m = %d: an element does not fit on a page",
							dim, GvHnswStorageName(requested), m),
					 requested == HNSW_STORAGE_BIT ?
					 errhint("Lower m, or index fewer dimensions (for example with subvector()).") :
					 errhint("Use storage = %s, or leave storage out to choose automatically, or lower m.",
							 requested == HNSW_STORAGE_INT8 ? "binary" :
							 requested == HNSW_STORAGE_HALF ? "int8 or binary" : "float16, int8 or binary")));
		return requested;
	}
	for (int i = 0; i < norder; i++)
		if (GvHnswMaxLevelFor(keyBytes + GvHnswVectorBytes(order[i], dim), m) >= 0 &&
			(metric->type != GV_TYPE_GSPARSEVEC ||
			 GvHnswVectorBytes(order[i], dim) <=
			 sizeof(float) * GV_SPARSE_PACKED_WORDS(GvHnswSparseCapFor(keyBytes, m, dim))))
			return order[i];
	if (metric->type == GV_TYPE_GSPARSEVEC)
		return HNSW_STORAGE_SPARSE;
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("gv_hnsw cannot index %d dimensions with m = %d: even a binary element does not fit on a page",
					dim, m),
			 errhint("Lower m, or index fewer dimensions (for example with subvector()); gv_ivfpq indexes up to 16000 dimensions.")));
	return HNSW_STORAGE_FLOAT;	/* keep the compiler quiet */
}

/*
 * Encode vec (in the metric's space) into an element's data.  Half
 * precision cannot hold magnitudes of 65520 and more: such a row is refused
 * rather than stored as infinity.
 */
void
GvHnswEncodeVector(Relation index, GvHnswInfo info, const float *vec, char *dst)
{
	switch (info->storage)
	{
		case HNSW_STORAGE_HALF:
			if (!GvHalfEncode(vec, (uint16_t *) dst, info->dim))
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("value out of range for gv_hnsw storage = float16: a coordinate's magnitude is 65520 or more"),
						 errhint("Index \"%s\" stores float16 vectors; rebuild it with storage = int8 or float32.",
								 RelationGetRelationName(index))));
			break;
		case HNSW_STORAGE_INT8:
			GvInt8Encode(vec, (int8_t *) (dst + sizeof(float)), (float *) dst, info->dim);
			break;
		case HNSW_STORAGE_BIT:
			GvBitEncode(vec, (uint8_t *) (dst + 2 * sizeof(float)), (float *) dst,
						(float *) (dst + sizeof(float)), info->dim);
			break;
		case HNSW_STORAGE_SPARSE:
			memcpy(dst, vec, info->vecBytes);
			break;
		default:
			memcpy(dst, vec, sizeof(float) * info->dim);
			break;
	}
}

/*
 * An element's vector as floats: the tuple's own data under FLOAT and
 * SPARSE storage (packed non-zeros), else decoded into buf (info->dim
 * floats).
 */
const float *
GvHnswElementVector(GvHnswInfo info, GvHnswElementTuple tup, float *buf)
{
	switch (info->storage)
	{
		case HNSW_STORAGE_HALF:
			GvHalfDecode((const uint16_t *) (tup->data + info->keys.keyBytes), buf, info->dim);
			return buf;
		case HNSW_STORAGE_INT8:
			GvInt8Decode((const int8_t *) (tup->data + info->keys.keyBytes + sizeof(float)),
						 *(const float *) (tup->data + info->keys.keyBytes), buf, info->dim);
			return buf;
		case HNSW_STORAGE_BIT:
			{
				const float *levels = (const float *) (tup->data + info->keys.keyBytes);

				GvBitDecode((const uint8_t *) (levels + 2), levels[0], levels[1], buf,
							info->dim);
				return buf;
			}
		default:
			return (const float *) (tup->data + info->keys.keyBytes);
	}
}

/*
 * A gbit query's bits laid out as the index's binary codes (bit i in byte
 * i / 8 at i % 8), so that gv_hnsw compares it with elements code to code
 * (GvHnswElementDistance); NULL for other indexes.  palloc'd.
 */
uint8 *
GvHnswQueryBits(GvHnswInfo info, const float *q)
{
	uint8	   *bits;

	if (info->storage != HNSW_STORAGE_BIT || info->metric->type != GV_TYPE_GBIT)
		return NULL;
	bits = palloc0((info->dim + 7) / 8);
	for (int i = 0; i < info->dim; i++)
		if (q[i] != 0.0f)
			bits[i >> 3] |= (uint8) (1 << (i & 7));
	return bits;
}

/*
 * The distance from q to an element.  With qbits (GvHnswQueryBits) it is
 * counted on the codes, without decoding them to floats: an element's code
 * is its bits exactly when its two levels are 0 and 1, as they are for every
 * gbit but one with no bit or every bit set, which goes the float way.  The
 * counts are the ones the float kernels would sum, so the distances are
 * the same.
 */
double
GvHnswElementDistance(GvHnswInfo info, const float *q, const uint8 *qbits,
					  GvHnswElementTuple tup, float *decoded)
{
	if (qbits != NULL)
	{
		const float *levels = (const float *) (tup->data + info->keys.keyBytes);
		const uint8 *code = (const uint8 *) (levels + 2);
		int			bytes = (info->dim + 7) / 8;

		if (levels[0] == 0.0f && levels[1] == 1.0f)
		{
			uint64		both;

			if (info->metric->kind == GV_METRIC_HAMMING)
				return (double) GvCountBits(qbits, code, bytes, COUNT_XOR);
			both = GvCountBits(qbits, code, bytes, COUNT_AND);
			if (both == 0)
				return 1.0;
			return 1.0 - (double) both / (double) GvCountBits(qbits, code, bytes, COUNT_OR);
		}
	}
	return GvHnswDistance(info, q, GvHnswElementVector(info, tup, decoded));
}

/* Does an element pass the filter (NULL: no filter)? */
bool
GvHnswKeysMatch(GvHnswElementTuple tup, GvKeyFilter filter)
{
	return GvKeyCodesMatch(tup->data, tup->keyNulls, filter);
}

/*
 * An indexed row as the graph stores it: the vector in the metric's space,
 * the encoded filter columns (palloc'd) and the vector's TOAST id.  False
 * when the row is not indexed: a NULL vector, or a zero vector under cosine.
 */
bool
GvHnswPrepareRow(Relation index, GvHnswInfo info, Datum *values, bool *isnull,
				 GvHnswRowData *row)
{
	bool		ok;

	if (isnull[0])
		return false;
	row->vec = GvHnswPrepareDatum(index, info, values[0], &ok);
	if (info->storage == HNSW_STORAGE_SPARSE &&
		GvSparsePackedNnz(row->vec) > info->sparseCap)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("gv_hnsw index \"%s\" holds gsparsevecs of up to %d non-zeros with m = %d, not %d",
						RelationGetRelationName(index), info->sparseCap, info->m,
						GvSparsePackedNnz(row->vec)),
				 errhint("Lower m to make room for more non-zeros.")));
	if (!ok)
		return false;
	row->keys = palloc(Max(info->keys.keyBytes, 1));
	GvFilterEncodeKeys(&info->keys, values, isnull, row->keys, &row->keyNulls);
	row->toastid = GvDatumToastId(values[0]);
	return true;
}

/*
 * Draw an element's level: floor(-ln(U) * mL) with mL = 1 / ln(m), capped.
 */
int
GvHnswRandomLevel(pg_prng_state *prng, int m, int maxLevel)
{
	double		u = pg_prng_double(prng);
	int			level;

	if (u <= 0.0)
		u = DBL_MIN;
	level = (int) floor(-log(u) / log((double) m));
	return Min(level, maxLevel);
}

void
GvHnswInitMetaPage(Page page, GvHnswInfo info)
{
	GvHnswMetaPage meta;

	GvInitPage(page, GV_PAGE_ID_HNSW, HNSW_PAGE_META);
	meta = GvHnswPageGetMeta(page);
	MemSet(meta, 0, sizeof(GvHnswMetaPageData));
	meta->header.magic = HNSW_MAGIC;
	meta->header.version = HNSW_VERSION;
	meta->header.dimensions = info->dim;
	meta->m = info->m;
	meta->efConstruction = info->efConstruction;
	meta->maxLevel = info->maxLevel;
	meta->storage = info->storage;
	meta->sparseCap = (uint16) info->sparseCap;
	meta->entryLevel = 0;
	ItemPointerSetInvalid(&meta->entry);
	meta->insertPage = InvalidBlockNumber;
	meta->keyDirHead = InvalidBlockNumber;
	meta->keyDirTail = InvalidBlockNumber;
	((PageHeader) page)->pd_lower =
		((char *) meta + sizeof(GvHnswMetaPageData)) - (char *) page;
}

/* Check an indexed value's dimensions against the index's. */
static void
CheckDims(Relation index, GvHnswInfo info, int dim)
{
	if (dim != info->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", info->dim, dim),
				 errhint("Index \"%s\" holds vectors of %d dimensions.",
						 RelationGetRelationName(index), info->dim)));
}

/*
 * A gsparsevec packed for a SPARSE index: in room for the index's capacity
 * or, for a query with more non-zeros, for all of its own (the distance
 * reads each vector's own count; GvHnswPrepareRow refuses such a row).
 */
static float *
PrepareSparse(Relation index, GvHnswInfo info, Datum value, bool *ok)
{
	Gsparsevec	s = DatumGetGsparsevec(value);
	int			cap = Max(info->sparseCap, s->nnz);
	float	   *x = palloc(sizeof(float) * GV_SPARSE_PACKED_WORDS(cap));

	CheckDims(index, info, s->dim);
	(void) GvSparsePack(PointerGetDatum(s), x, cap);
	*ok = info->metric->kind != GV_METRIC_COSINE || GvSparsePackedNormalize(x);
	return x;
}

/*
 * Detoast an indexed value, check its dimensions against the index and
 * bring it into the metric's space.  Returns a palloc'd copy; *ok is false
 * for a vector the metric cannot place (zero vector under cosine).
 */
float *
GvHnswPrepareDatum(Relation index, GvHnswInfo info, Datum value, bool *ok)
{
	int			dim;
	float	   *x;

	if (info->storage == HNSW_STORAGE_SPARSE)
		return PrepareSparse(index, info, value, ok);
	x = GvMetricDatumToFloats(info->metric, value, &dim);

	CheckDims(index, info, dim);
	*ok = GvMetricPrepareVector(info->metric, x, info->dim);
	return x;
}

/*
 * Does the index's storage hold its vectors exactly, so that scans need
 * not re-rank from the heap?  float32 always; float16 for ghalfvec (except
 * under cosine, which stores normalised copies); binary for gbit (a 0/1
 * vector is its own two-level code).
 */
bool
GvHnswStorageIsExact(GvHnswInfo info)
{
	switch (info->storage)
	{
		case HNSW_STORAGE_FLOAT:
		case HNSW_STORAGE_SPARSE:
			return true;
		case HNSW_STORAGE_HALF:
			return info->metric->type == GV_TYPE_GHALFVEC &&
				info->metric->kind != GV_METRIC_COSINE;
		case HNSW_STORAGE_BIT:
			return info->metric->type == GV_TYPE_GBIT;
		default:
			return false;
	}
}

GvHnswElementTuple
GvHnswPageGetElement(Page page, OffsetNumber off)
{
	return (GvHnswElementTuple) PageGetItem(page, PageGetItemId(page, off));
}

/*
 * Copy the element at tid into dst (room for a tuple of the index's
 * largest size).  Returns false if the slot holds a tombstone or an
 * overflow tuple (not a graph element; copied all the same).
 */
bool
GvHnswGetElementCopy(Relation index, GvHnswInfo info, ItemPointer tid,
					 GvHnswElementTuple dst)
{
	Buffer		buf = ReadBuffer(index, ItemPointerGetBlockNumber(tid));
	GvHnswElementTuple tup;
	bool		live;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	tup = GvHnswGetElementLocked(index, BufferGetPage(buf), tid);
	memcpy(dst, tup, (tup->flags & HNSW_ELEMENT_OVERFLOW) ?
		   GvHnswOverflowSize(info->dataBytes, Min(tup->spares, info->maxTids)) :
		   GvHnswTupleSize(info->dataBytes, info->m, Min(tup->capLevel, info->maxLevel)));
	live = !(tup->flags & (HNSW_ELEMENT_DELETED | HNSW_ELEMENT_OVERFLOW));
	UnlockReleaseBuffer(buf);
	return live;
}

/* ---------------------------------------------------------------------------
 * Visited sets
 * ---------------------------------------------------------------------------
 */

static inline uint64
TidKey(ItemPointer tid)
{
	return (((uint64) ItemPointerGetBlockNumber(tid)) << 16 |
			ItemPointerGetOffsetNumber(tid)) + 1;
}

static inline uint32
KeyHash(uint64 k)
{
	k ^= k >> 33;
	k *= UINT64CONST(0xff51afd7ed558ccd);
	k ^= k >> 33;
	return (uint32) k;
}

void
GvHnswTidSetInit(GvHnswTidSet set, int capacity)
{
	uint32		size = 64;

	while (size < (uint32) capacity * 2)
		size <<= 1;
	set->keys = palloc0(sizeof(uint64) * size);
	set->mask = size - 1;
	set->count = 0;
}

void
GvHnswTidSetFree(GvHnswTidSet set)
{
	pfree(set->keys);
}

static void
TidSetGrow(GvHnswTidSet set)
{
	uint64	   *old = set->keys;
	uint32		oldsize = set->mask + 1;

	set->keys = palloc0(sizeof(uint64) * oldsize * 2);
	set->mask = oldsize * 2 - 1;
	for (uint32 i = 0; i < oldsize; i++)
	{
		if (old[i] != 0)
		{
			uint32		h = KeyHash(old[i]) & set->mask;

			while (set->keys[h] != 0)
				h = (h + 1) & set->mask;
			set->keys[h] = old[i];
		}
	}
	pfree(old);
}

/* Add tid; returns false if it was already there. */
bool
GvHnswTidSetAdd(GvHnswTidSet set, ItemPointer tid)
{
	uint64		k = TidKey(tid);
	uint32		h;

	if ((set->count + 1) * 2 > set->mask + 1)
		TidSetGrow(set);
	h = KeyHash(k) & set->mask;
	while (set->keys[h] != 0)
	{
		if (set->keys[h] == k)
			return false;
		h = (h + 1) & set->mask;
	}
	set->keys[h] = k;
	set->count++;
	return true;
}

bool
GvHnswTidSetContains(GvHnswTidSet set, ItemPointer tid)
{
	uint64		k = TidKey(tid);
	uint32		h = KeyHash(k) & set->mask;

	while (set->keys[h] != 0)
	{
		if (set->keys[h] == k)
			return true;
		h = (h + 1) & set->mask;
	}
	return false;
}

/* ---------------------------------------------------------------------------
 * Binary heaps of candidates
 * ---------------------------------------------------------------------------
 */

static int
CompareCandidates(const void *a, const void *b)
{
	double		da = ((const GvHnswCandidate *) a)->dist;
	double		db = ((const GvHnswCandidate *) b)->dist;

	return da < db ? -1 : da > db ? 1 : 0;
}

/*
 * The neighbour selection heuristic (Algorithm 4 of the paper, without
 * extending candidates): going from nearest to farthest, keep a candidate
 * only if it is nearer to the base element than to every neighbour kept so
 * far, which keeps links spread in all directions.  cands hold distances to
 * the base element; their vectors are read from the index.  The element
 * self, if valid, is skipped.  Returns the number written to out (<= lm).
 */
typedef struct DiskSelectData
{
	Relation	index;
	GvHnswInfo	info;
	ItemPointer self;
	float	  **vecs;			/* the kept neighbours' vectors */
	GvHnswElementTuple tup;
	float	   *decoded;
} DiskSelectData;

/* a candidate's vector, or NULL for the base element itself or a tombstone */
static const float *
DiskSelectVector(DiskSelectData *st, GvHnswCandidate *c)
{
	if (st->self && ItemPointerEquals(&c->tid, st->self))
		return NULL;
	if (!GvHnswGetElementCopy(st->index, st->info, &c->tid, st->tup))
		return NULL;
	return GvHnswElementVector(st->info, st->tup, st->decoded);
}

#define HNSW_SELECT_NAME	DiskSelect
#define HNSW_SELECT_STATE	DiskSelectData
#define HNSW_SELECT_CAND	GvHnswCandidate
#define HNSW_SELECT_SORT(c, n)	qsort((c), (n), sizeof(GvHnswCandidate), CompareCandidates)
#define HNSW_SELECT_VECTOR(st, c)	DiskSelectVector((st), (c))
#define HNSW_SELECT_NEARER(st, v, j, kept, c) \
	(GvHnswDistance((st)->info, (v), (st)->vecs[j]) < (c)->dist)
#define HNSW_SELECT_KEEP(st, v, j) \
	((st)->vecs[j] = memcpy(palloc(sizeof(float) * (st)->info->vecFloats), (v), \
							sizeof(float) * (st)->info->vecFloats))
#include "hnswselect.h"

int
GvHnswSelectNeighbors(Relation index, GvHnswInfo info, GvHnswCandidate *cands,
					  int ncands, int lm, ItemPointer self, GvHnswCandidate *out)
{
	DiskSelectData st;
	int			nout;

	st.index = index;
	st.info = info;
	st.self = self;
	st.vecs = palloc(sizeof(float *) * lm);
	st.tup = palloc(GvHnswTupleSize(info->dataBytes, info->m, info->maxLevel));
	st.decoded = palloc(sizeof(float) * info->vecFloats);
	nout = DiskSelect(&st, cands, ncands, lm, out, NULL);
	for (int j = 0; j < nout; j++)
		pfree(st.vecs[j]);
	pfree(st.vecs);
	pfree(st.tup);
	pfree(st.decoded);
	return nout;
}
