/*
 * ivfpqutils.c
 *	  Helpers shared by gv_ivfpq's build, insert, scan and vacuum: the
 *	  metapage, the list directory, appending an entry to a list, and the
 *	  backend-local cache of centroids and codebooks.
 *
 * The cache is keyed by the index's relfilenode and the build's timestamp
 * (kept in the metapage), not stored in rd_amcache: a relcache flush frees
 * rd_amcache, and one can arrive in the middle of a scan (re-ranking
 * detoasts vectors, which takes locks, which processes invalidations).
 * Centroids and codebooks never change after a build, and a rebuild gets a
 * new relfilenode, so an entry stays valid as long as its key matches.
 */
#include "compat.h"

#include <float.h>
#include <math.h>

#include "access/generic_xlog.h"
#include "ivfpq.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"

#define IVFPQ_CACHE_SLOTS	8

typedef struct CacheSlotData
{
	RelFileNode node;
	int64		buildTime;
	IvfpqCache	cache;
	MemoryContext cxt;
	uint64		lastUse;
} CacheSlotData;

static CacheSlotData cacheSlots[IVFPQ_CACHE_SLOTS];
static uint64 cacheClock = 0;

/*
 * Copy the metapage of an index, checking that it is ours.
 */
void
IvfpqReadMeta(Relation index, IvfpqMetaPage meta)
{
	(void) GvReadMetaPage(index, GV_PAGE_ID_IVFPQ, meta, sizeof(IvfpqMetaPageData));
	GvCheckMetaHeader(index, &meta->header, IVFPQ_MAGIC, IVFPQ_VERSION);
}

/*
 * The directory entry of one list.
 */
void
IvfpqGetList(Relation index, IvfpqMetaPage meta, int list, IvfpqList result)
{
	BlockNumber blkno = meta->directoryStart + list / IVFPQ_LISTS_PER_PAGE;
	Buffer		buf = ReadBuffer(index, blkno);
	Page		page;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	GvCheckPage(index, page, blkno, GV_PAGE_ID_IVFPQ);
	*result = ((IvfpqList) PageGetContents(page))[list % IVFPQ_LISTS_PER_PAGE];
	UnlockReleaseBuffer(buf);
}


/*
 * The centroids and codebooks of an index (with its metapage), loaded once
 * per backend and build.  For an untrained index only the metapage fields
 * are filled in.
 */
IvfpqCache
IvfpqGetCache(Relation index)
{
	IvfpqMetaPageData meta;
	int64		buildTime;
	CacheSlotData *slot = NULL;
	IvfpqCache	cache;
	MemoryContext oldcxt;

	IvfpqReadMeta(index, &meta);
	buildTime = meta.buildTime;

	for (int i = 0; i < IVFPQ_CACHE_SLOTS; i++)
	{
		CacheSlotData *s = &cacheSlots[i];

		if (s->cache && RelFileNodeEquals(s->node, index->rd_node) &&
			s->buildTime == buildTime)
		{
			s->lastUse = ++cacheClock;
			return s->cache;
		}
	}

	/* Not cached: take a free slot, or the least recently used one. */
	for (int i = 0; i < IVFPQ_CACHE_SLOTS; i++)
	{
		CacheSlotData *s = &cacheSlots[i];

		if (s->cache == NULL)
		{
			slot = s;
			break;
		}
		if (slot == NULL || s->lastUse < slot->lastUse)
			slot = s;
	}
	if (slot->cache)
	{
		/*
		 * Earlier scans of the evicted index may still point into it, so it
		 * is kept until the end of the transaction: reparent its context
		 * under the transaction's.
		 */
		MemoryContextSetParent(slot->cxt, TopTransactionContext);
		slot->cache = NULL;
	}

	slot->cxt = AllocSetContextCreate(TopMemoryContext, "gv_ivfpq cache",
									  ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(slot->cxt);
	cache = palloc0(sizeof(IvfpqCacheData));
	cache->meta = meta;
	cache->dim = meta.header.dimensions;
	GvFilterInitKeys(index, &cache->keys);
	IvfpqInitLayout(&cache->layout, meta.subquantizers, &cache->keys);
	if (meta.trained)
	{
		Size		csize = sizeof(float) * (Size) meta.lists * cache->dim;
		Size		bsize;
		char	   *blob;

		cache->dsub = cache->dim / meta.subquantizers;
		cache->ksub = 1 << meta.bits;
		bsize = sizeof(float) * (Size) cache->ksub * cache->dim;
		blob = palloc(csize + bsize);
		GvBlobRead(index, meta.blobStart, GV_PAGE_ID_IVFPQ, IVFPQ_PAGE_BLOB, blob, csize + bsize);
		cache->centroids = (float *) blob;
		cache->codebook = (float *) (blob + csize);
		IvfpqFinishCache(cache);
	}
	MemoryContextSwitchTo(oldcxt);

	slot->node = index->rd_node;
	slot->buildTime = buildTime;
	slot->cache = cache;
	slot->lastUse = ++cacheClock;
	return cache;
}

/*
 * The layout of an index's entries (IvfpqEntryLayout): m codes, and the
 * filter columns' codes and NULL bits if it has filter columns.
 */
void
IvfpqInitLayout(IvfpqEntryLayout *layout, int m, const GvFilterKeysData *keys)
{
	layout->hasKeyNulls = keys->nkeys > 0;
	layout->codesOffset = sizeof(ItemPointerData) + (layout->hasKeyNulls ? 1 : 0);
	layout->keysOffset = layout->codesOffset + m;
	layout->size = layout->keysOffset + keys->keyBytes;
	layout->perPage = IVFPQ_PAGE_SPACE / layout->size;
}

/*
 * A row's heap TID and filter columns (values[1..], gvfilter.c) into its
 * entry, whose codes the caller writes.
 */
void
IvfpqFillEntry(IvfpqCache cache, ItemPointer tid, Datum *values, bool *isnull,
			   IvfpqEntry entry)
{
	memcpy(entry, tid, sizeof(ItemPointerData));
	if (cache->keys.nkeys > 0)
	{
		uint8		keyNulls = 0;

		GvFilterEncodeKeys(&cache->keys, values, isnull,
						   entry + cache->layout.keysOffset, &keyNulls);
		entry[sizeof(ItemPointerData)] = (char) keyNulls;
	}
}

/*
 * The index's space is the metric's (cosine: unit vectors) times 2^scale,
 * a power of two the build chooses from its training sample: for vectors
 * around 1e20 or 1e-20 the squared norms, centroid distances, lookup
 * tables and ADC sums that gv_ivfpq keeps in float would overflow or
 * underflow, in the index's space they do not.  Scaling by a power of two
 * is exact and float arithmetic commutes with it, so every code, list and
 * comparison is the one an index of the same vectors at ordinary
 * magnitudes has; distances in index units are 2^(2 scale) times the
 * metric's.  The exponent brings the sample's median largest |element|
 * to [1, 2); it is 0 (no change, as in indexes built before it existed)
 * when that median is within 2^-20 .. 2^20, and always for cosine, whose
 * unit vectors the ADC's 1 - q.x relies on.  Vectors far from the sample's
 * magnitude still get finite (clamped) codes and estimates, but poor ones:
 * the exact re-ranking keeps their order right, not their recall.
 */
#define IVFPQ_PLAIN_EXPONENT	20

static int
CompareInts(const void *a, const void *b)
{
	int			x = *(const int *) a;
	int			y = *(const int *) b;

	return x < y ? -1 : x > y;
}

int
IvfpqScaleExponent(GvMetric metric, const float *sample, int n, int dim)
{
	int		   *exps;
	int			count = 0;
	int			median;

	if (metric->kind == GV_METRIC_COSINE || n <= 0)
		return 0;
	exps = palloc(sizeof(int) * n);
	for (int i = 0; i < n; i++)
	{
		float		maxAbs = 0.0f;

		for (int d = 0; d < dim; d++)
			maxAbs = fmaxf(maxAbs, fabsf(sample[(Size) i * dim + d]));
		if (maxAbs > 0.0f)
			exps[count++] = ilogbf(maxAbs);
	}
	if (count == 0)
	{
		pfree(exps);
		return 0;
	}
	qsort(exps, count, sizeof(int), CompareInts);
	median = exps[count / 2];
	pfree(exps);
	return Abs(median) <= IVFPQ_PLAIN_EXPONENT ? 0 : -median;
}

/* x in the index's space: times 2^scale, clamped to the float range. */
void
IvfpqScaleVector(float *x, int dim, int scale)
{
	if (scale == 0)
		return;
	for (int d = 0; d < dim; d++)
	{
		float		y = ldexpf(x[d], scale);

		x[d] = isinf(y) ? copysignf(FLT_MAX, y) : y;
	}
}

/*
 * A copy of a datum of the metric's type (a gvector, or a gsparsevec
 * densified) in the index's space (the metric's, scaled:
 * IvfpqScaleExponent), checking its dimensions against expectDim (if > 0).
 */
float *
IvfpqPrepareValue(GvMetric metric, Datum value, int expectDim, int scale, int *dim)
{
	float	   *x = GvMetricDatumToFloats(metric, value, dim);

	if (expectDim > 0 && *dim != expectDim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", expectDim, *dim)));
	/* A zero vector under cosine stays as it is; its distance is NaN. */
	(void) GvMetricPrepareVector(metric, x, *dim);
	IvfpqScaleVector(x, *dim, scale);
	return x;
}

/* A list's directory entry on its directory page */
static inline IvfpqList
DirectoryEntry(Page dirpage, int list)
{
	return &((IvfpqList) PageGetContents(dirpage))[list % IVFPQ_LISTS_PER_PAGE];
}

/* Record a list's new last page in its directory entry. */
static void
SetListTail(Page dirpage, BlockNumber newTail, void *arg)
{
	DirectoryEntry(dirpage, *(int *) arg)->insertPage = newTail;
}

/* Whether a list has an insert chain yet (GvChainStart) */
static bool
ListChainStarted(Page dirpage, void *arg)
{
	return BlockNumberIsValid(DirectoryEntry(dirpage, *(int *) arg)->insertPage);
}

static void
SetListHead(Page dirpage, BlockNumber head, void *arg)
{
	IvfpqList	dir = DirectoryEntry(dirpage, *(int *) arg);

	dir->startPage = head;
	dir->insertPage = head;
}

/*
 * Append an entry to a list: to the last page of its insert chain, or a
 * new page chained after it when that is full (GvChainAppend, lock order
 * list page, new page, directory page), or the chain's first page if the
 * list has none yet (GvChainStart: directory page, new page).  The build's
 * segment pages are never appended to.
 */
void
IvfpqAppendEntry(Relation index, IvfpqCache cache, int list, IvfpqEntry entry)
{
	IvfpqMetaPage meta = &cache->meta;
	BlockNumber dirBlkno = meta->directoryStart + list / IVFPQ_LISTS_PER_PAGE;
	Size		size = cache->layout.size;
	IvfpqListData dir;

	IvfpqGetList(index, meta, list, &dir);
	if (!BlockNumberIsValid(dir.insertPage))
	{
		if (GvChainStart(index, dirBlkno, GV_PAGE_ID_IVFPQ, IVFPQ_PAGE_LIST,
						 (Item) entry, size, true, ListChainStarted, SetListHead, &list))
			return;
		IvfpqGetList(index, meta, list, &dir);
	}
	GvChainAppend(index, dir.insertPage, GV_PAGE_ID_IVFPQ, IVFPQ_PAGE_LIST,
				  (Item) entry, size, true, dirBlkno, SetListTail, &list);
}

/*
 * Refuse what gv_ivfpq cannot index: columns other than one vector and
 * then filter columns (GvFilterCheckColumns), and a vector expression
 * (re-ranking reads the column from the heap).
 */
void
IvfpqCheckIndex(Relation index)
{
	GvFilterCheckColumns(index, "gv_ivfpq");
	if (index->rd_index->indkey.values[0] == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("gv_ivfpq does not support expression indexes"),
				 errhint("Index the vector column itself; re-ranking reads it from the table.")));
}
