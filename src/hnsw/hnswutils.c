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
#include "storage/buf_internals.h"
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
		info->vecBytes = GvHnswVectorBytes(info->storage, info->dim);
		GvHnswInitKeys(index, info);
		info->metric = GvIndexGetMetric(index, 1);
		info->projDims = meta.projDims;
		info->projStart = meta.projStart;
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
	Buffer		buf = ReadBuffer(index, GV_METAPAGE_BLKNO);
	Page		page;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	GvCheckPage(index, page, GV_METAPAGE_BLKNO, GV_PAGE_ID_HNSW);
	memcpy(meta, GvHnswPageGetMeta(page), sizeof(GvHnswMetaPageData));
	UnlockReleaseBuffer(buf);
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
		norder--;				/* not binary: the densified vectors of a wide
								 * sparse column make builds crawl (each
								 * element all its dimensions, in memory and
								 * in every re-ranked distance) */

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
		if (GvHnswMaxLevelFor(keyBytes + GvHnswVectorBytes(order[i], dim), m) >= 0)
			return order[i];
	if (metric->type == GV_TYPE_GSPARSEVEC)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("gv_hnsw cannot index a gsparsevec of %d dimensions with m = %d: it stores the vector with all its dimensions, and even an int8 element does not fit on a page",
						dim, m),
				 errhint("Declare the column with fewer dimensions, or lower m; wider sparse vectors are searched by sequential scan.")));
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
		default:
			memcpy(dst, vec, sizeof(float) * info->dim);
			break;
	}
}

/*
 * An element's vector as floats: the tuple's own data under FLOAT storage,
 * else decoded into buf (info->dim floats).
 */
const float *
GvHnswElementVector(GvHnswInfo info, GvHnswElementTuple tup, float *buf)
{
	switch (info->storage)
	{
		case HNSW_STORAGE_HALF:
			GvHalfDecode((const uint16_t *) (tup->data + info->keyBytes), buf, info->dim);
			return buf;
		case HNSW_STORAGE_INT8:
			GvInt8Decode((const int8_t *) (tup->data + info->keyBytes + sizeof(float)),
						 *(const float *) (tup->data + info->keyBytes), buf, info->dim);
			return buf;
		case HNSW_STORAGE_BIT:
			{
				const float *levels = (const float *) (tup->data + info->keyBytes);

				GvBitDecode((const uint8_t *) (levels + 2), levels[0], levels[1], buf,
							info->dim);
				return buf;
			}
		default:
			return (const float *) (tup->data + info->keyBytes);
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
		const float *levels = (const float *) (tup->data + info->keyBytes);
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
	return GvMetricDistance(info->metric, q, GvHnswElementVector(info, tup, decoded), info->dim);
}

/*
 * The filter columns after the vector: how many, and whether each is kept
 * exactly (pass-by-value types of up to 8 bytes: the Datum itself) or as a
 * 64-bit hash of its bytes (anything else; scans then ask the executor to
 * recheck), jsonb as a signature (hnswjsonb.c; rechecked too).  A hash of the bytes is only an equality test under a
 * deterministic collation: build refuses the others.
 */
void
GvHnswInitKeys(Relation index, GvHnswInfo info)
{
	TupleDesc	desc = RelationGetDescr(index);

	info->nkeys = IndexRelationGetNumberOfKeyAttributes(index) - 1;
	Assert(info->nkeys <= HNSW_MAX_KEYS);
	info->keyBytes = 0;
	for (int k = 0; k < info->nkeys; k++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, k + 1);

		info->keyHashed[k] = !(att->attbyval && att->attlen > 0 &&
							   att->attlen <= (int) sizeof(Datum));
		info->keyLen[k] = att->attlen;
		info->keyType[k] = att->atttypid;
		if (att->atttypid == JSONBOID)
			info->keyKind[k] = HNSW_KEY_JSONB;
		else if (info->keyHashed[k])
			info->keyKind[k] = HNSW_KEY_HASHED;
		else if (att->atttypid == FLOAT4OID || att->atttypid == FLOAT8OID)
			info->keyKind[k] = HNSW_KEY_FLOAT;
		else
			info->keyKind[k] = HNSW_KEY_INTEGER;
		info->keyOffset[k] = (int16) info->keyBytes;
		info->keyBytes += info->keyKind[k] == HNSW_KEY_JSONB ? HNSW_JSONB_BYTES :
			(int) sizeof(uint64);
	}
	info->dataBytes = info->keyBytes + info->vecBytes;
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
	if (!ok)
		return false;
	row->keys = palloc(Max(info->keyBytes, 1));
	GvHnswEncodeKeys(info, values, isnull, row->keys, &row->keyNulls);
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
	meta->entryLevel = 0;
	ItemPointerSetInvalid(&meta->entry);
	meta->insertPage = InvalidBlockNumber;
	meta->keyDirHead = InvalidBlockNumber;
	meta->keyDirTail = InvalidBlockNumber;
	((PageHeader) page)->pd_lower =
		((char *) meta + sizeof(GvHnswMetaPageData)) - (char *) page;
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
	float	   *x = GvMetricDatumToFloats(info->metric, value, &dim);

	if (dim != info->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", info->dim, dim),
				 errhint("Index \"%s\" holds vectors of %d dimensions.",
						 RelationGetRelationName(index), info->dim)));
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
 * Check that tid names an element tuple of this index.  Pointers come from
 * our own pages, so a bad one means corruption.
 */
static GvHnswElementTuple
GetElementLocked(Relation index, Page page, ItemPointer tid)
{
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);

	if (off < FirstOffsetNumber || off > PageGetMaxOffsetNumber(page) ||
		!ItemIdIsNormal(PageGetItemId(page, off)))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has a neighbour pointer to a missing element (%u,%u)",
						RelationGetRelationName(index),
						ItemPointerGetBlockNumber(tid), off),
				 errhint("Rebuild the index with REINDEX.")));
	return GvHnswPageGetElement(page, off);
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
	tup = GetElementLocked(index, BufferGetPage(buf), tid);
	memcpy(dst, tup, GvHnswTupleSize(info->dataBytes, info->m, tup->capLevel));
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

void
GvHnswHeapInit(GvHnswHeap heap, int size, bool max)
{
	heap->size = Max(size, 16);
	heap->items = palloc(sizeof(GvHnswCandidate) * heap->size);
	heap->count = 0;
	heap->max = max;
}

static inline bool
Before(GvHnswHeap heap, GvHnswCandidate *a, GvHnswCandidate *b)
{
	return heap->max ? a->dist > b->dist : a->dist < b->dist;
}

void
GvHnswHeapPush(GvHnswHeap heap, GvHnswCandidate *c)
{
	int			i;

	if (heap->count == heap->size)
	{
		heap->size *= 2;
		heap->items = repalloc_huge(heap->items, sizeof(GvHnswCandidate) * heap->size);
	}
	i = heap->count++;
	while (i > 0)
	{
		int			parent = (i - 1) / 2;

		if (!Before(heap, c, &heap->items[parent]))
			break;
		heap->items[i] = heap->items[parent];
		i = parent;
	}
	heap->items[i] = *c;
}

GvHnswCandidate
GvHnswHeapPop(GvHnswHeap heap)
{
	GvHnswCandidate top = heap->items[0];
	GvHnswCandidate last;
	int			i = 0;

	Assert(heap->count > 0);
	last = heap->items[--heap->count];
	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= heap->count)
			break;
		if (child + 1 < heap->count &&
			Before(heap, &heap->items[child + 1], &heap->items[child]))
			child++;
		if (!Before(heap, &heap->items[child], &last))
			break;
		heap->items[i] = heap->items[child];
		i = child;
	}
	if (heap->count > 0)
		heap->items[i] = last;
	return top;
}

/* ---------------------------------------------------------------------------
 * Page access for searches
 * ---------------------------------------------------------------------------
 */

/*
 * Which buffer held each element page when this backend last read it, for
 * a few indexes (by relfilenode and owning backend, so a REINDEX just
 * starts a new entry and a temporary index never meets a permanent one's
 * shared buffers).  Every query of an index walks the same upper levels and mostly the same
 * neighbourhoods, so a search usually finds a page where it last saw it:
 * ReadRecentBuffer then pins it without the buffer mapping table lookup,
 * which was the largest single cost of visiting an element.  A remembered
 * buffer that now holds another page is only a miss (ReadRecentBuffer
 * checks the tag under the buffer header lock), so nothing here needs
 * invalidation.  Kept in TopMemoryContext, not in rd_amcache: relcache
 * invalidations (every VACUUM or ANALYZE of the table) free rd_amcache
 * but would leak a separate array hanging off it.
 */
#define HNSW_RECENT_INDEXES		4
#define HNSW_RECENT_MAX_BLOCKS	(1 << 22)	/* 32 GB of index at 8 kB pages */
#define HNSW_RECENT_SCAN_STEP	8192	/* buffer descriptors read per search */

struct GvHnswRecentBuffersData
{
	RelFileNode node;
	BackendId	backend;		/* rd_backend: temporary indexes are local */
	Buffer	   *buffers;		/* by block number; InvalidBuffer = unknown */
	BlockNumber nblocks;		/* allocated entries */
	int			scanNext;		/* next buffer descriptor to learn from */
};

typedef struct GvHnswRecentBuffersData RecentBuffers;

static RecentBuffers recentBuffers[HNSW_RECENT_INDEXES];
static int	recentNext;			/* entry to replace next */

/* Remember that buf held blkno, making room for it if need be. */
static void
RememberBuffer(RecentBuffers *recent, BlockNumber blkno, Buffer buf)
{
	if (blkno >= recent->nblocks)
	{
		BlockNumber n;

		if (blkno >= HNSW_RECENT_MAX_BLOCKS)
			return;
		n = Max(blkno + 1, Min(2 * recent->nblocks, HNSW_RECENT_MAX_BLOCKS));
		recent->buffers = repalloc(recent->buffers, sizeof(Buffer) * n);
		memset(recent->buffers + recent->nblocks, 0,
			   sizeof(Buffer) * (n - recent->nblocks));
		recent->nblocks = n;
	}
	recent->buffers[blkno] = buf;
}

/*
 * A new backend knows no buffer yet, and until it does a search gets
 * neither the cheap pin nor the prefetching: read the next stretch of
 * shared buffer descriptors and remember those that hold pages of the
 * index.  The tags are read without the header locks, so one may be torn
 * or stale; ReadRecentBuffer checks it before any use.  A stretch per
 * search bounds the cost (under 0.1 ms) however large shared_buffers is;
 * after NBuffers / HNSW_RECENT_SCAN_STEP searches the memo knows every
 * page of the index that was in shared buffers when the backend started.
 */
static void
LearnFromDescriptors(RecentBuffers *recent)
{
	int			end = Min(recent->scanNext + HNSW_RECENT_SCAN_STEP, NBuffers);

	if (recent->backend != InvalidBackendId)
	{
		recent->scanNext = NBuffers;	/* a temporary index: local buffers */
		return;
	}
	for (int i = recent->scanNext; i < end; i++)
	{
		BufferDesc *desc = GetBufferDescriptor(i);
		BufferTag	tag = desc->tag;

		if (RelFileNodeEquals(tag.rnode, recent->node) && tag.forkNum == MAIN_FORKNUM &&
			(tag.blockNum >= recent->nblocks || !BufferIsValid(recent->buffers[tag.blockNum])))
			RememberBuffer(recent, tag.blockNum, BufferDescriptorGetBuffer(desc));
	}
	recent->scanNext = end;
}

/* The memo for index, made or taken over if there is none yet. */
RecentBuffers *
GvHnswGetRecentBuffers(Relation index)
{
	RecentBuffers *r = NULL;

	for (int i = 0; i < HNSW_RECENT_INDEXES && r == NULL; i++)
		if (recentBuffers[i].buffers != NULL &&
			RelFileNodeEquals(recentBuffers[i].node, index->rd_node) &&
			recentBuffers[i].backend == index->rd_backend)
			r = &recentBuffers[i];
	if (r == NULL)
	{
		r = &recentBuffers[recentNext];
		recentNext = (recentNext + 1) % HNSW_RECENT_INDEXES;
		if (r->buffers == NULL)
		{
			r->nblocks = 1024;
			r->buffers = MemoryContextAllocZero(TopMemoryContext, sizeof(Buffer) * r->nblocks);
		}
		else
			memset(r->buffers, 0, sizeof(Buffer) * r->nblocks);
		r->node = index->rd_node;
		r->backend = index->rd_backend;
		r->scanNext = 0;
	}
	if (r->scanNext < NBuffers)
		LearnFromDescriptors(r);
	return r;
}

/*
 * Pin page blkno (no lock), through the memo of recent buffers.  Counted in
 * the index's statistics like ReadBuffer.
 */
Buffer
GvHnswPinPage(Relation index, RecentBuffers *recent, BlockNumber blkno)
{
	Buffer		buf;

	if (blkno < recent->nblocks && BufferIsValid(recent->buffers[blkno]) &&
		ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, blkno, recent->buffers[blkno]))
	{
		pgstat_count_buffer_read(index);
		pgstat_count_buffer_hit(index);
		return recent->buffers[blkno];
	}
	buf = ReadBuffer(index, blkno);
	RememberBuffer(recent, blkno, buf);
	return buf;
}

/*
 * Ask the CPU to start loading [p, p + len) into its caches.  The pages a
 * search visits are rarely in the CPU's caches; starting the loads for the
 * next neighbours while one neighbour's distance is computed hides most of
 * that latency.  Only a hint: an address that turns out wrong costs nothing.
 * Always inlined: GCC takes a function that only prefetches for a pure
 * one and drops the calls.
 */
static pg_attribute_always_inline void
PrefetchRange(const void *p, Size len)
{
#if defined(__GNUC__) || defined(__clang__)
	for (Size off = 0; off < len; off += 64)
		__builtin_prefetch((const char *) p + off);
#endif
}

/*
 * The page that the memo says holds blkno, or NULL: a shared buffer's
 * address, valid memory whatever the buffer holds now, for prefetching
 * only.  Nothing read through it without a pin and a lock may be trusted.
 */
static pg_attribute_always_inline Page
RecentPageHint(RecentBuffers *recent, BlockNumber blkno)
{
	Buffer		buf = blkno < recent->nblocks ? recent->buffers[blkno] : InvalidBuffer;

	return buf > 0 ? (Page) BufferGetBlock(buf) : NULL;	/* local buffers: no hint */
}

/*
 * Start loading what pinning and locking the page of tid will touch first:
 * its buffer descriptor and the page's line pointer for tid.
 */
static pg_attribute_always_inline void
PrefetchPin(RecentBuffers *recent, ItemPointer tid)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	Page		page = RecentPageHint(recent, blkno);

	if (page == NULL)
		return;
	PrefetchRange(GetBufferDescriptor(recent->buffers[blkno] - 1), sizeof(BufferDesc));
	PrefetchRange(PageGetItemId(page, ItemPointerGetOffsetNumber(tid)), sizeof(ItemIdData));
}

/*
 * Start loading the part of the element at tid that a visit reads (head,
 * keys, vector).  The line pointer is read without pin or lock, so it may
 * be stale or garbage: it only steers the prefetch.
 */
static pg_attribute_always_inline void
PrefetchElement(GvHnswInfo info, RecentBuffers *recent, ItemPointer tid)
{
	Page		page = RecentPageHint(recent, ItemPointerGetBlockNumber(tid));
	Size		len = offsetof(GvHnswElementTupleData, data) + info->dataBytes;
	Size		off;

	if (page == NULL)
		return;
	off = ItemIdGetOffset(PageGetItemId(page, ItemPointerGetOffsetNumber(tid)));
	if (off <= BLCKSZ - len)
		PrefetchRange(page + off, len);
}

/* ---------------------------------------------------------------------------
 * On-disk search
 * ---------------------------------------------------------------------------
 */

/*
 * How many neighbours ahead of the one being visited a search has its
 * element's tuple loading into the CPU's caches.
 */
#define HNSW_PREFETCH_AHEAD		1

/*
 * The neighbours at level of the element at tid that are not in visited yet,
 * added to it and written to nbrs; returns how many.
 */
static int
UnvisitedNeighbours(Relation index, GvHnswInfo info, RecentBuffers *recent,
					ItemPointer tid, int level, GvHnswTidSet visited,
					ItemPointerData *nbrs)
{
	Buffer		buf = GvHnswPinPage(index, recent, ItemPointerGetBlockNumber(tid));
	GvHnswElementTuple tup;
	int			n = 0;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	tup = GetElementLocked(index, BufferGetPage(buf), tid);
	if (tup->level >= level)
	{
		int			m = info->m;
		ItemPointer src = GvHnswTupleNbrs(tup, info->dataBytes, m) + GvHnswLevelStart(m, level);

		for (int i = 0; i < GvHnswLevelSlots(m, level); i++)
			if (ItemPointerIsValid(&src[i]) && GvHnswTidSetAdd(visited, &src[i]))
				nbrs[n++] = src[i];
	}
	UnlockReleaseBuffer(buf);
	return n;
}

/*
 * Search one layer (Algorithm 2 of the paper), resumable.
 *
 * cand is the min-heap of discovered, unexpanded elements; result the
 * max-heap of the ef nearest returnable elements found (tombstones are
 * expanded but never enter it).  With a discard heap, every discovered
 * element is kept: ones pushed out of result go to discard and all stay
 * in cand, so a scan can resume the search for more rows later.  Stops
 * when the nearest unexpanded element is farther than the ef-th result,
 * or after maxVisited elements (*visitedCount counts them).
 *
 * Expanding an element reads its neighbour list, then visits the unvisited
 * neighbours one at a time, each distance computed on the share-locked
 * page.  Before that, the CPU is asked to load what the visits will touch
 * (PrefetchPin, PrefetchElement), so that the cache misses of several
 * neighbours overlap instead of stalling one visit after the other.
 */
void
GvHnswSearchLayerDisk(Relation index, GvHnswInfo info, const float *q,
					GvHnswHeap cand, GvHnswHeap result, GvHnswHeap discard,
					GvHnswTidSet visited, int ef, int level, bool returnable,
					GvHnswKeyFilter filter, int64 *visitedCount, int64 maxVisited)
{
	int			dim = info->dim;
	int			nslots = GvHnswLevelSlots(info->m, level);
	ItemPointerData *nbrs = palloc(sizeof(ItemPointerData) * nslots);
	float	   *decoded = palloc(sizeof(float) * dim);
	uint8	   *qbits = GvHnswQueryBits(info, q);
	RecentBuffers *recent = GvHnswGetRecentBuffers(index);

	while (cand->count > 0)
	{
		GvHnswCandidate c;
		int			n;

		CHECK_FOR_INTERRUPTS();

		if (result->count >= ef && GvHnswHeapTop(cand)->dist > GvHnswHeapTop(result)->dist)
			break;
		if (*visitedCount >= maxVisited)
			break;
		c = GvHnswHeapPop(cand);
		n = UnvisitedNeighbours(index, info, recent, &c.tid, level, visited, nbrs);
		*visitedCount += n;

		/* buffer descriptors and line pointers first, then tuples */
		for (int i = 0; i < n; i++)
			PrefetchPin(recent, &nbrs[i]);
		for (int i = 0; i < n && i < HNSW_PREFETCH_AHEAD; i++)
			PrefetchElement(info, recent, &nbrs[i]);

		for (int i = 0; i < n; i++)
		{
			Buffer		buf;
			GvHnswElementTuple tup;
			GvHnswCandidate e;
			bool		live;

			if (i + HNSW_PREFETCH_AHEAD < n)
				PrefetchElement(info, recent, &nbrs[i + HNSW_PREFETCH_AHEAD]);
			buf = GvHnswPinPage(index, recent, ItemPointerGetBlockNumber(&nbrs[i]));
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			tup = GetElementLocked(index, BufferGetPage(buf), &nbrs[i]);
			e.dist = GvHnswElementDistance(info, q, qbits, tup, decoded);
			e.tid = nbrs[i];
			e.heaptid = tup->heaptid;
			e.toastid = GvHnswCandidateToastId(tup);
			live = !(tup->flags & HNSW_ELEMENT_DELETED) && GvHnswKeysMatch(info, tup, filter);
			UnlockReleaseBuffer(buf);

			if (result->count < ef || e.dist < GvHnswHeapTop(result)->dist)
			{
				GvHnswHeapPush(cand, &e);
				if (live)
				{
					GvHnswHeapPush(result, &e);
					if (result->count > ef)
					{
						GvHnswCandidate out = GvHnswHeapPop(result);

						if (discard)
							GvHnswHeapPush(discard, &out);
					}
				}
			}
			else if (discard)
			{
				GvHnswHeapPush(cand, &e);
				if (live)
					GvHnswHeapPush(discard, &e);
			}
		}
	}
	pfree(nbrs);
	pfree(decoded);
	if (qbits)
		pfree(qbits);
}

/*
 * Greedy descent from the entry point through the levels above toLevel.
 * ep gets the nearest element found at level toLevel + 1 (or the entry
 * point itself).  The entry point may be a tombstone: it still routes.
 */
void
GvHnswFindEntry(Relation index, GvHnswInfo info, const float *q,
			  GvHnswMetaPageData *meta, int toLevel, GvHnswCandidate *ep)
{
	GvHnswElementTuple tup = palloc(GvHnswTupleSize(info->dataBytes, info->m, info->maxLevel));
	float	   *decoded = palloc(sizeof(float) * info->dim);

	ep->tid = meta->entry;
	GvHnswGetElementCopy(index, info, &ep->tid, tup);
	ep->dist = GvMetricDistance(info->metric, q,
								GvHnswElementVector(info, tup, decoded), info->dim);
	ep->heaptid = tup->heaptid;
	ep->toastid = GvHnswCandidateToastId(tup);
	pfree(tup);
	pfree(decoded);

	for (int level = meta->entryLevel; level > toLevel; level--)
	{
		GvHnswHeapData cand;
		GvHnswHeapData result;
		GvHnswTidSetData visited;
		int64		count = 0;

		GvHnswHeapInit(&cand, 64, false);
		GvHnswHeapInit(&result, 4, true);
		GvHnswTidSetInit(&visited, 256);
		GvHnswTidSetAdd(&visited, &ep->tid);
		GvHnswHeapPush(&cand, ep);
		GvHnswHeapPush(&result, ep);
		GvHnswSearchLayerDisk(index, info, q, &cand, &result, NULL, &visited,
							1, level, false, NULL, &count, PG_INT64_MAX);
		/* result may have dropped a tombstone entry point; keep the best */
		while (result.count > 0)
		{
			GvHnswCandidate c = GvHnswHeapPop(&result);

			if (c.dist <= ep->dist)
				*ep = c;
		}
		pfree(cand.items);
		pfree(result.items);
		GvHnswTidSetFree(&visited);
	}
}

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
int
GvHnswSelectNeighbors(Relation index, GvHnswInfo info, GvHnswCandidate *cands,
					int ncands, int lm, ItemPointer self, GvHnswCandidate *out)
{
	int			dim = info->dim;
	int			nout = 0;
	float	  **vecs = palloc(sizeof(float *) * lm);
	GvHnswElementTuple tup = palloc(GvHnswTupleSize(info->dataBytes, info->m, info->maxLevel));
	float	   *decoded = palloc(sizeof(float) * dim);

	qsort(cands, ncands, sizeof(GvHnswCandidate), CompareCandidates);
	for (int i = 0; i < ncands && nout < lm; i++)
	{
		bool		good = true;
		const float *vec;

		if (self && ItemPointerEquals(&cands[i].tid, self))
			continue;
		if (!GvHnswGetElementCopy(index, info, &cands[i].tid, tup))
			continue;			/* tombstone */
		vec = GvHnswElementVector(info, tup, decoded);
		for (int j = 0; j < nout && good; j++)
			if (GvMetricDistance(info->metric, vec, vecs[j], dim) < cands[i].dist)
				good = false;
		if (good)
		{
			vecs[nout] = palloc(sizeof(float) * dim);
			memcpy(vecs[nout], vec, sizeof(float) * dim);
			out[nout++] = cands[i];
		}
	}
	for (int j = 0; j < nout; j++)
		pfree(vecs[j]);
	pfree(vecs);
	pfree(tup);
	pfree(decoded);
	return nout;
}
