/*
 * ivfpqscan.c
 *	  Scanning a gv_ivfpq index: asymmetric distances over the probed lists,
 *	  then exact re-ranking from the heap.
 *
 * On the first gettuple of a scan the query is brought into the metric's
 * index space, its distance to every centroid is computed and the lists
 * are ordered by it, and one lookup table of scale * q_j . C_jk (m x 2^bits
 * floats) is built.  Every entry of the first gigavector.ivfpq_probes lists
 * then gets its asymmetric distance (ADC): a per-list constant, plus the
 * entry's stored norm under L2, plus m table lookups (see ivfpqcodebook.c
 * for the algebra; cosine and inner product use the same inner-product
 * table, cosine on normalised vectors).
 *
 * The best gigavector.ivfpq_rerank candidates by ADC are fetched from the
 * heap (through the table AM, with the scan's snapshot), their exact
 * distances computed with the SIMD kernels, and returned in exact order.
 * When the executor asks for more rows than a batch holds (a filter
 * rejected some), the next best candidates are re-ranked, and when the
 * probed lists run out, more lists are probed, up to
 * gigavector.ivfpq_max_probes lists in all; so a filtered query gets its k
 * rows whenever the lists it may probe hold them.  Each batch is in exact
 * order; across batches the order is that of the ADC estimate.
 */
#include "compat.h"

#include <float.h>
#include <limits.h>

#include "access/relscan.h"
#include "access/tableam.h"
#include "distance.h"
#include "executor/tuptable.h"
#include "ivfpq.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"

typedef struct CandidateData
{
	ItemPointerData tid;
	float		distance;
} CandidateData;

typedef struct IvfpqScanOpaqueData
{
	MemoryContext scanCtx;		/* per rescan: pool, tables */
	MemoryContext tmpCtx;		/* per candidate */
	bool		started;
	bool		exhausted;
	IvfpqCache	cache;
	GvMetric	metric;

	/* query */
	float	   *query;
	int			dim;
	float	   *tables;			/* m x ksub */
	int		   *listOrder;
	float	   *listBase;
	int			probed;			/* lists probed so far (prefix of listOrder) */
	int			probeLimit;

	/* candidates by ADC, the first poolNext already re-ranked */
	CandidateData *pool;
	int			poolCount;
	int			poolCap;
	int			poolNext;

	/* the current re-ranked batch */
	CandidateData *batch;
	int			batchCount;
	int			batchNext;

	/* heap access for re-ranking */
	IndexFetchTableData *fetch;
	TupleTableSlot *slot;
	AttrNumber	heapAttno;
	float	   *xbuf;
} IvfpqScanOpaqueData;

typedef IvfpqScanOpaqueData *IvfpqScanOpaque;

static int
CompareCandidates(const void *a, const void *b)
{
	float		da = ((const CandidateData *) a)->distance;
	float		db = ((const CandidateData *) b)->distance;

	if (da < db)
		return -1;
	if (da > db)
		return 1;
	return ItemPointerCompare((ItemPointer) &((const CandidateData *) a)->tid,
							  (ItemPointer) &((const CandidateData *) b)->tid);
}

/*
 * Move the k smallest of c[0..n-1] to the front (in no order): quickselect.
 */
static void
SelectSmallest(CandidateData *c, int n, int k)
{
	int			lo = 0;
	int			hi = n - 1;

	if (k >= n)
		return;
	while (lo < hi)
	{
		float		pivot = c[lo + (hi - lo) / 2].distance;
		int			i = lo;
		int			j = hi;

		while (i <= j)
		{
			while (c[i].distance < pivot)
				i++;
			while (c[j].distance > pivot)
				j--;
			if (i <= j)
			{
				CandidateData t = c[i];

				c[i] = c[j];
				c[j] = t;
				i++;
				j--;
			}
		}
		if (k - 1 <= j)
			hi = j;
		else if (k - 1 >= i)
			lo = i;
		else
			break;
	}
}

/*
 * Set up a new query: list order, per-list constants and the lookup table.
 */
static void
StartQuery(IndexScanDesc scan)
{
	IvfpqScanOpaque so = (IvfpqScanOpaque) scan->opaque;
	IvfpqCache	cache = so->cache;
	int			lists = cache->meta.lists;
	float	   *order;
	CandidateData *sorted;

	so->listOrder = palloc(sizeof(int) * lists);
	so->listBase = palloc0(sizeof(float) * lists);
	so->probeLimit = Min(lists, Max(gv_ivfpq_probes, gv_ivfpq_max_probes));

	if (!cache->meta.trained)
	{
		so->listOrder[0] = 0;
		return;
	}

	/* Per-list constants and the probing order */
	order = palloc(sizeof(float) * lists);
	{
		float		qnorm = GvInnerProduct(so->query, so->query, so->dim);

		for (int l = 0; l < lists; l++)
		{
			float		ip = GvInnerProduct(so->query,
											cache->centroids + (Size) l * so->dim,
											so->dim);

			switch (so->metric->kind)
			{
				case GV_METRIC_L2:
					so->listBase[l] = qnorm - 2.0f * ip;
					order[l] = so->listBase[l] + cache->centroidNorms[l];
					break;
				case GV_METRIC_COSINE:
					so->listBase[l] = 1.0f - ip;
					order[l] = qnorm + cache->centroidNorms[l] - 2.0f * ip;
					break;
				case GV_METRIC_IP:
					so->listBase[l] = -ip;
					order[l] = -ip;
					break;
			}
		}
	}
	sorted = palloc(sizeof(CandidateData) * lists);
	for (int l = 0; l < lists; l++)
	{
		ItemPointerSet(&sorted[l].tid, 0, (OffsetNumber) 1);
		ItemPointerSetBlockNumber(&sorted[l].tid, l);
		sorted[l].distance = order[l];
	}
	qsort(sorted, lists, sizeof(CandidateData), CompareCandidates);
	for (int l = 0; l < lists; l++)
		so->listOrder[l] = ItemPointerGetBlockNumber(&sorted[l].tid);

	/* The lookup table: scale * q_j . C_jk */
	{
		int			m = cache->meta.subquantizers;
		int			ksub = cache->ksub;
		int			dsub = cache->dsub;
		float		scale = so->metric->kind == GV_METRIC_L2 ? -2.0f : -1.0f;

		so->tables = palloc(sizeof(float) * (Size) m * ksub);
		for (int j = 0; j < m; j++)
		{
			float	   *t = so->tables + (Size) j * ksub;

			IvfpqScoreSub(so->query + (Size) j * dsub,
						  cache->codebookT + (Size) j * ksub * dsub, dsub, ksub, t);
			for (int k = 0; k < ksub; k++)
				t[k] *= scale;
		}
	}
}

/*
 * ADC distance of one entry: m lookups, four running sums.
 */
static inline float
AdcDistance(const float *tables, const uint8 *codes, int m, int ksub)
{
	float		s0 = 0.0f,
				s1 = 0.0f,
				s2 = 0.0f,
				s3 = 0.0f;
	int			j = 0;

	for (; j + 4 <= m; j += 4)
	{
		s0 += tables[(Size) j * ksub + codes[j]];
		s1 += tables[(Size) (j + 1) * ksub + codes[j + 1]];
		s2 += tables[(Size) (j + 2) * ksub + codes[j + 2]];
		s3 += tables[(Size) (j + 3) * ksub + codes[j + 3]];
	}
	for (; j < m; j++)
		s0 += tables[(Size) j * ksub + codes[j]];
	return (s0 + s1) + (s2 + s3);
}

/*
 * Add every entry of one list to the pool, with its ADC distance.
 */
static void
ProbeList(IndexScanDesc scan, int list)
{
	IvfpqScanOpaque so = (IvfpqScanOpaque) scan->opaque;
	IvfpqCache	cache = so->cache;
	IvfpqListData dir;
	BlockNumber blkno;
	int			m = cache->meta.subquantizers;
	int			ksub = cache->ksub;
	bool		trained = cache->meta.trained;
	bool		useNorm = so->metric->kind == GV_METRIC_L2;
	float		base = so->listBase[list];

	IvfpqGetList(scan->indexRelation, &cache->meta, list, &dir);
	blkno = dir.startPage;
	while (BlockNumberIsValid(blkno))
	{
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;

		CHECK_FOR_INTERRUPTS();
		buf = ReadBuffer(scan->indexRelation, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		GvCheckPage(scan->indexRelation, page, blkno, GV_PAGE_ID_IVFPQ);
		maxoff = PageGetMaxOffsetNumber(page);

		if (so->poolCount + maxoff > so->poolCap)
		{
			so->poolCap = Max(so->poolCap * 2, so->poolCount + maxoff);
			so->pool = repalloc_huge(so->pool, sizeof(CandidateData) * so->poolCap);
		}
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			IvfpqEntry	entry = (IvfpqEntry) PageGetItem(page, PageGetItemId(page, off));
			CandidateData *c = &so->pool[so->poolCount++];

			c->tid = entry->heaptid;
			if (trained)
				c->distance = base + (useNorm ? entry->norm : 0.0f) +
					AdcDistance(so->tables, entry->codes, m, ksub);
			else
				c->distance = 0.0f;
		}
		blkno = GvPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
	}
}

/*
 * Probe the next lists: the first round gigavector.ivfpq_probes of them,
 * later rounds as many again, never past probeLimit.  False if none left.
 */
static bool
ProbeMore(IndexScanDesc scan)
{
	IvfpqScanOpaque so = (IvfpqScanOpaque) scan->opaque;
	int			target = Min(so->probed + gv_ivfpq_probes, so->probeLimit);

	if (so->probed >= target)
		return false;
	for (; so->probed < target; so->probed++)
		ProbeList(scan, so->listOrder[so->probed]);
	return true;
}

/*
 * Re-rank the next best candidates of the pool into a new batch.
 */
static void
RerankBatch(IndexScanDesc scan, int want)
{
	IvfpqScanOpaque so = (IvfpqScanOpaque) scan->opaque;
	int			remaining = so->poolCount - so->poolNext;
	int			take = Min(want, remaining);
	CandidateData *next = so->pool + so->poolNext;
	int			kept = so->batchCount - so->batchNext;

	if (so->fetch == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(so->scanCtx);

		so->fetch = table_index_fetch_begin(scan->heapRelation);
		so->slot = table_slot_create(scan->heapRelation, NULL);
		MemoryContextSwitchTo(old);
	}

	/* Drop what was returned; make room for take more. */
	if (so->batch == NULL)
		so->batch = palloc_extended(sizeof(CandidateData) * (kept + take), MCXT_ALLOC_HUGE);
	else
	{
		memmove(so->batch, so->batch + so->batchNext, sizeof(CandidateData) * kept);
		so->batch = repalloc_huge(so->batch, sizeof(CandidateData) * (kept + take));
	}
	so->batchCount = kept;
	so->batchNext = 0;

	SelectSmallest(next, remaining, take);
	for (int i = 0; i < take; i++)
	{
		bool		call_again = false;
		bool		all_dead = false;
		bool		isnull;
		Datum		value;
		MemoryContext old;
		Gvector		v;

		CHECK_FOR_INTERRUPTS();
		if (!table_index_fetch_tuple(so->fetch, &next[i].tid, scan->xs_snapshot,
									 so->slot, &call_again, &all_dead))
			continue;			/* not visible to us: the executor would skip it too */
		value = slot_getattr(so->slot, so->heapAttno, &isnull);
		if (isnull)
			continue;

		old = MemoryContextSwitchTo(so->tmpCtx);
		v = DatumGetGvector(value);
		if (v->dim != so->dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("expected %d dimensions, not %d", so->dim, v->dim)));
		memcpy(so->xbuf, v->x, sizeof(float) * so->dim);
		(void) GvMetricPrepareVector(so->metric, so->xbuf, so->dim);
		so->batch[so->batchCount].tid = next[i].tid;
		so->batch[so->batchCount].distance =
			GvMetricDistance(so->metric, so->query, so->xbuf, so->dim);
		so->batchCount++;
		MemoryContextSwitchTo(old);
		MemoryContextReset(so->tmpCtx);
	}
	ExecClearTuple(so->slot);
	so->poolNext += take;
	qsort(so->batch, so->batchCount, sizeof(CandidateData), CompareCandidates);
}

/*
 * ambeginscan
 */
IndexScanDesc
ivfpqbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	IvfpqScanOpaque so = palloc0(sizeof(IvfpqScanOpaqueData));

	so->scanCtx = AllocSetContextCreate(CurrentMemoryContext, "gv_ivfpq scan",
										ALLOCSET_DEFAULT_SIZES);
	so->tmpCtx = AllocSetContextCreate(CurrentMemoryContext, "gv_ivfpq scan tuple",
									   ALLOCSET_DEFAULT_SIZES);
	so->metric = GvIndexGetMetric(index, 1);
	so->heapAttno = index->rd_index->indkey.values[0];
	scan->opaque = so;
	return scan;
}

/*
 * amrescan
 */
void
ivfpqrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys,
			int norderbys)
{
	IvfpqScanOpaque so = (IvfpqScanOpaque) scan->opaque;

	if (so->fetch)
	{
		table_index_fetch_end(so->fetch);
		ExecDropSingleTupleTableSlot(so->slot);
		so->fetch = NULL;
		so->slot = NULL;
	}
	MemoryContextReset(so->scanCtx);
	so->started = false;
	so->exhausted = false;
	so->pool = NULL;
	so->poolCount = so->poolCap = so->poolNext = 0;
	so->batch = NULL;
	so->batchCount = so->batchNext = 0;
	so->probed = 0;
	so->tables = NULL;

	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
}

/*
 * amgettuple
 */
bool
ivfpqgettuple(IndexScanDesc scan, ScanDirection dir)
{
	IvfpqScanOpaque so = (IvfpqScanOpaque) scan->opaque;

	if (!so->started)
	{
		MemoryContext old;
		int			dim;

		if (scan->orderByData == NULL || scan->numberOfOrderBys == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot scan gv_ivfpq index without order"),
					 errhint("Use ORDER BY column <-> value with a LIMIT.")));
		so->started = true;
		if (scan->orderByData[0].sk_flags & SK_ISNULL)
		{
			so->exhausted = true;
			return false;
		}

		old = MemoryContextSwitchTo(so->scanCtx);
		so->cache = IvfpqGetCache(scan->indexRelation);
		so->query = IvfpqPrepareValue(so->metric, scan->orderByData[0].sk_argument,
									  so->cache->dim, &dim);
		so->dim = dim;
		so->xbuf = palloc(sizeof(float) * dim);
		so->poolCap = 1024;
		so->pool = palloc_extended(sizeof(CandidateData) * so->poolCap, MCXT_ALLOC_HUGE);
		StartQuery(scan);
		ProbeMore(scan);
		MemoryContextSwitchTo(old);
	}
	if (so->exhausted)
		return false;

	/*
	 * Return re-ranked batches of ivfpq_rerank candidates in exact order;
	 * when one is used up (a filter rejected rows), re-rank the next best
	 * candidates of the pool, probing more lists when it runs dry.
	 */
	for (;;)
	{
		int			depth = so->cache->meta.trained ? gv_ivfpq_rerank : INT_MAX;
		int			window = so->batchCount - so->batchNext;

		if (window == 0)
		{
			MemoryContext old = MemoryContextSwitchTo(so->scanCtx);
			bool		more = true;

			if (so->poolNext >= so->poolCount)
				more = so->cache->meta.trained && ProbeMore(scan);
			if (more && so->poolNext < so->poolCount)
				RerankBatch(scan, depth == INT_MAX ? so->poolCount - so->poolNext : depth - window);
			MemoryContextSwitchTo(old);
			if (more)
				continue;
		}
		if (so->batchNext < so->batchCount)
		{
			scan->xs_heaptid = so->batch[so->batchNext++].tid;
			scan->xs_recheck = false;
			scan->xs_recheckorderby = false;
			return true;
		}
		so->exhausted = true;
		return false;
	}
}

/*
 * amendscan
 */
void
ivfpqendscan(IndexScanDesc scan)
{
	IvfpqScanOpaque so = (IvfpqScanOpaque) scan->opaque;

	if (so->fetch)
	{
		table_index_fetch_end(so->fetch);
		ExecDropSingleTupleTableSlot(so->slot);
	}
	MemoryContextDelete(so->scanCtx);
	MemoryContextDelete(so->tmpCtx);
	pfree(so);
	scan->opaque = NULL;
}
