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
	IvfpqCache cache;
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
	Buffer		buf = ReadBuffer(index, GV_METAPAGE_BLKNO);
	Page		page;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	GvCheckPage(index, page, GV_METAPAGE_BLKNO, GV_PAGE_ID_IVFPQ);
	memcpy(meta, PageGetContents(page), sizeof(IvfpqMetaPageData));
	UnlockReleaseBuffer(buf);
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
	IvfpqCache cache;
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
 * A copy of a gvector datum in the metric's index space, checking its
 * dimensions against expectDim (if > 0).
 */
float *
IvfpqPrepareValue(GvMetric metric, Datum value, int expectDim, int *dim)
{
	Gvector		v = DatumGetGvector(value);
	float	   *x;

	if (expectDim > 0 && v->dim != expectDim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", expectDim, v->dim)));
	x = palloc(sizeof(float) * v->dim);
	memcpy(x, v->x, sizeof(float) * v->dim);
	/* A zero vector under cosine stays as it is; its distance is NaN. */
	(void) GvMetricPrepareVector(metric, x, v->dim);
	*dim = v->dim;
	return x;
}

/* Record a list's new last page in its directory entry. */
static void
SetListTail(Page dirpage, BlockNumber newTail, void *arg)
{
	int			list = *(int *) arg;

	((IvfpqList) PageGetContents(dirpage))[list % IVFPQ_LISTS_PER_PAGE].insertPage = newTail;
}

/*
 * Append an entry to a list, extending the list with a new page when its
 * last page is full (GvChainAppend).  Lock order: list page, new page,
 * directory page.
 */
void
IvfpqAppendEntry(Relation index, IvfpqMetaPage meta, int list,
				 IvfpqEntry entry, Size size)
{
	IvfpqListData dir;

	IvfpqGetList(index, meta, list, &dir);
	GvChainAppend(index, dir.insertPage, GV_PAGE_ID_IVFPQ, IVFPQ_PAGE_LIST,
				  (Item) entry, size,
				  meta->directoryStart + list / IVFPQ_LISTS_PER_PAGE,
				  SetListTail, &list);
}

/*
 * Refuse what gv_ivfpq cannot index: expressions (re-ranking reads the
 * column from the heap).
 */
void
IvfpqCheckIndex(Relation index)
{
	if (index->rd_index->indkey.values[0] == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("gv_ivfpq does not support expression indexes"),
				 errhint("Index a gvector column; re-ranking reads it from the table.")));
}
