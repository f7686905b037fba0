/*
 * ivfpqscan.c
 *	  Scanning a gv_ivfpq index: asymmetric distances over the probed lists,
 *	  then exact re-ranking from the heap.
 *
 * On the first gettuple of a scan the query is brought into the metric's
 * index space, its distance to every centroid is computed and the lists
 * are ordered by it.  Every entry of the first gigavector.ivfpq_probes
 * lists then gets its asymmetric distance (ADC): a per-list constant plus
 * m lookups in a table of m x 2^bits floats (see ivfpqcodebook.c for the
 * algebra): under L2 one table per probed list, of ||C_jk||^2 -
 * 2 (q - c)_j . C_jk; under cosine and inner product one table of
 * -q_j . C_jk for all lists, built with the query (cosine on normalised
 * vectors).
 *
 * Candidates are re-ranked in batches: fetched from the heap (through the
 * table AM, with the scan's snapshot) and given their exact distance by the
 * ORDER BY operator's own function, then kept in a heap (a priority queue)
 * until they may be returned.  The first batch is the best
 * gigavector.ivfpq_rerank candidates by ADC.
 *
 * A re-ranked candidate is returned only when no candidate not yet
 * re-ranked is expected nearer:
 *
 *	- of the pool (probed lists, not re-ranked): its distance must be at most
 *	  the least ADC left less a margin, how much the ADC may overestimate
 *	  an exact distance, learned from the candidates re-ranked so far
 *	  (ErrorMargin);
 *	- of the lists not probed: at most the distance of the nearest unprobed
 *	  centroid less the largest "gap" seen (how much nearer than its
 *	  centroid a probed list's nearest entry was), less the same margin.
 *
 * When the nearest re-ranked candidate fails that test, the scan re-ranks
 * every pool candidate within the margin of it (at least ivfpq_rerank, and
 * as many as were re-ranked before), or probes as many more lists as were
 * probed (at least ivfpq_probes), whichever source is expected nearer, up
 * to gigavector.ivfpq_max_probes lists in all.  An unfiltered
 * query usually returns its k rows from the first batch; a filter that
 * rejects rows makes the scan go on, in the same exact order, so it gets
 * its k rows whenever the lists it may probe hold them.  Conditions on the
 * index's filter columns (gvfilter.c) are tested on each entry's stored
 * codes as its list is probed: an entry that fails them never enters the
 * pool, so it costs neither an ADC nor a heap fetch.
 *
 * Both tests are estimates, so a candidate re-ranked late may turn out
 * nearer than a row already returned.  It is then skipped (counted as
 * "skipped out of order" in the DEBUG1 line at the end of the scan): rows
 * always come back in non-decreasing exact distance order, the executor
 * never sees one out of order, and a skipped row costs recall, not order.
 */
#include "compat.h"

#include <float.h>
#include <limits.h>
#include <math.h>

#include "access/relscan.h"
#include "distance.h"
#include "ivfpq.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"

/* A candidate of the probed lists, by asymmetric distance */
typedef struct CandidateData
{
	ItemPointerData tid;
	float		distance;
} CandidateData;

/* A re-ranked candidate, waiting in the heap until it may be returned */
typedef struct RankedData
{
	ItemPointerData tid;
	float		adc;			/* its ADC estimate */
	double		distance;		/* exact: the value the ORDER BY operator
								 * gives */
	Oid			toastid;		/* its vector's TOAST id, InvalidOid if inline */
	double		kernel;			/* the memo's kernel result, if toastid */
} RankedData;

/*
 * Order of re-ranked candidates: exact distance, then TID (so that ties
 * come back in a deterministic order).
 */
static inline bool
RankedBefore(const RankedData *a, const RankedData *b)
{
	if (a->distance != b->distance)
		return a->distance < b->distance;
	return ItemPointerCompare((ItemPointer) &a->tid, (ItemPointer) &b->tid) < 0;
}

/* re-ranked candidates, nearest on top (gvheap.h) */
#define GV_HEAP_PREFIX		ranked
#define GV_HEAP_ELEMENT		RankedData
#define GV_HEAP_LESS(a, b)	RankedBefore((a), (b))
#include "gvheap.h"

/* the pool's nearest by ADC (gvselect.h) */
#define GV_SELECT_PREFIX	pool
#define GV_SELECT_ELEMENT	CandidateData
#define GV_SELECT_KEY_TYPE	float
#define GV_SELECT_KEY(a)	((a)->distance)
#include "gvselect.h"

typedef struct IvfpqScanOpaqueData
{
	MemoryContext scanCtx;		/* per rescan: pool, tables */
	MemoryContext tmpCtx;		/* per candidate */
	bool		started;
	bool		exhausted;
	IvfpqCache	cache;
	GvMetric	metric;

	/* query */
	float	   *query;			/* in the index's space (IvfpqPrepareValue) */
	float	   *rawQuery;		/* as the ORDER BY operator gets it */
	int			dim;
	double		units;			/* index units per metric unit: 2^(2 scale) */
	float	   *tables;			/* m x ksub: the query's (cosine, inner
								 * product), or the probed list's (L2) */
	float	   *residual;		/* dim: the query less a centroid (L2) */
	int		   *listOrder;
	float	   *listBase;
	double	   *listScore;		/* centroid's distance, in Geometric units */
	double	   *restMinScore;	/* [i]: least listScore of listOrder[i..] */
	int			probed;			/* lists probed so far (prefix of listOrder) */
	int			probeLimit;
	double		maxGap;			/* largest listScore - Geometric(least ADC) of
								 * a probed list */

	/* candidates by ADC; pool[poolNext..] not yet re-ranked */
	CandidateData *pool;
	int			poolCount;
	int			poolCap;
	int			poolNext;
	int			poolSorted;		/* pool[poolNext..poolSorted): the least of
								 * pool[poolNext..], ascending (see
								 * RerankBatch) */
	double		poolMin;		/* least ADC of pool[poolNext..], or HUGE_VAL */

	/* re-ranked candidates not yet returned: a binary min-heap */
	ranked_heap ranked;
	double		margin;			/* see ErrorMargin */
	double	   *errs;			/* ADC - exact of each re-ranked candidate */
	int			errCount;
	int			errCap;
	double		errMax;
	double		lastDistance;	/* of the last row returned */
	int64		returned;
	int64		reranked;
	int64		skipped;

	/* conditions on filter columns, tested as lists are probed */
	GvKeyFilterData filter;
	bool		useFilter;
	bool		recheck;		/* a condition on a hashed or jsonb column */
	int64		seenEntries;	/* entries of the probed lists */
	int64		matchedEntries; /* of which passed the filter */

	GvHeapFetchData heapFetch;	/* re-ranking */
	bool		memoise;		/* the metric is a memo kernel (L2, IP): each
								 * re-ranked row's is computed once, and a
								 * returned TOASTed row's goes to the distance
								 * memo (gvector.c) */
	GvMemoKernel memoKernel;
} IvfpqScanOpaqueData;

typedef IvfpqScanOpaqueData *IvfpqScanOpaque;

static int
CompareTids(const void *a, const void *b)
{
	return ItemPointerCompare((ItemPointer) &((const CandidateData *) a)->tid,
							  (ItemPointer) &((const CandidateData *) b)->tid);
}


/*
 * An ADC (or exact) distance in the units of listScore: Euclidean under L2
 * and cosine (1 - cos = |q - x|^2 / 2 for unit vectors), unchanged under
 * inner product.
 */
static inline double
Geometric(IvfpqScanOpaque so, double distance)
{
	switch (so->metric->kind)
	{
		case GV_METRIC_L2:
			return sqrt(Max(distance, 0.0));
		case GV_METRIC_COSINE:
			return sqrt(Max(2.0 * distance, 0.0));
		default:				/* inner product (the only other gv_ivfpq has) */
			break;
	}
	return distance;
}

/*
 * A float for an estimate that overflowed (a vector far from the magnitude
 * the index was trained at, IvfpqScaleExponent): the nearest finite one,
 * and for NaN the largest, so that pool order and the tests below never
 * see a NaN.  Such an estimate says little, but order stays exact (the
 * heap orders by exact distance, and a row found late is skipped): only
 * that row's recall suffers.
 */
static inline float
ClampEstimate(float d)
{
	if (GV_LIKELY(fabsf(d) <= FLT_MAX))
		return d;
	return isnan(d) ? FLT_MAX : copysignf(FLT_MAX, d);
}

/* An exact distance (as the ORDER BY operator gives it) in index units. */
static inline double
IndexUnits(IvfpqScanOpaque so, double distance)
{
	return so->metric->kind == GV_METRIC_L2 ?
		distance * distance * so->units : distance * so->units;
}

/* Sorting the lists by their centroid's distance. */
typedef struct ListOrderData
{
	double		distance;
	int			list;
} ListOrderData;

static int
CompareListOrder(const void *a, const void *b)
{
	const ListOrderData *x = a;
	const ListOrderData *y = b;

	if (x->distance != y->distance)
		return x->distance < y->distance ? -1 : 1;
	return x->list < y->list ? -1 : x->list > y->list;
}

/*
 * tables[j][k] = scale * x_j . C_jk, plus ||C_jk||^2 under L2 (x is then
 * the query less the probed list's centroid).
 */
static void
FillTables(IvfpqScanOpaque so, const float *x, float scale)
{
	IvfpqCache	cache = so->cache;
	int			m = cache->meta.subquantizers;
	int			ksub = cache->ksub;
	int			dsub = cache->dsub;
	bool		addNorms = so->metric->kind == GV_METRIC_L2;

	for (int j = 0; j < m; j++)
	{
		float	   *t = so->tables + (Size) j * ksub;
		const float *norms = cache->codebookNorms + (Size) j * ksub;

		IvfpqScoreSub(x + (Size) j * dsub,
					  cache->codebookT + (Size) j * ksub * dsub, dsub, ksub, t);
		for (int k = 0; k < ksub; k++)
			t[k] = scale * t[k] + (addNorms ? norms[k] : 0.0f);
	}
}

/* The table for probing a list: under L2 its own, of q - c (clamped). */
static void
ListTables(IvfpqScanOpaque so, int list)
{
	const float *c;

	if (so->metric->kind != GV_METRIC_L2)
		return;
	c = so->cache->centroids + (Size) list * so->dim;
	for (int d = 0; d < so->dim; d++)
		so->residual[d] = ClampEstimate(so->query[d] - c[d]);
	FillTables(so, so->residual, -2.0f);
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
	double	   *order;
	ListOrderData *sorted;

	so->listOrder = palloc(sizeof(int) * lists);
	so->listBase = palloc0(sizeof(float) * lists);
	so->listScore = palloc0(sizeof(double) * lists);
	so->restMinScore = palloc(sizeof(double) * (lists + 1));
	so->probeLimit = Min(lists, Max(gv_ivfpq_probes, gv_ivfpq_max_probes));
	so->maxGap = 0.0;
	so->restMinScore[lists] = HUGE_VAL;

	if (!cache->meta.trained)
	{
		so->listOrder[0] = 0;
		so->restMinScore[0] = HUGE_VAL;
		return;
	}

	/*
	 * Per-list constants and the probing order, in double (a query far from
	 * the magnitude the index was trained at may overflow float here); the
	 * constant the ADC loop adds is a float, clamped.
	 */
	order = palloc(sizeof(double) * lists);
	{
		double		qnorm = GvSafeInnerProduct(GvInnerProduct, so->query, so->query, so->dim);

		for (int l = 0; l < lists; l++)
		{
			double		ip = GvSafeInnerProduct(GvInnerProduct, so->query,
												cache->centroids + (Size) l * so->dim,
												so->dim);
			double		base = 0;

			switch (so->metric->kind)
			{
				case GV_METRIC_L2:
					base = qnorm - 2.0 * ip + cache->centroidNorms[l];
					order[l] = base;
					break;
				case GV_METRIC_COSINE:
					base = 1.0 - ip;
					order[l] = qnorm + cache->centroidNorms[l] - 2.0 * ip;
					break;
				default:		/* inner product */
					base = -ip;
					order[l] = -ip;
					break;
			}
			so->listBase[l] = ClampEstimate((float) base);
			/* centroid's distance: Euclidean under L2 and cosine */
			so->listScore[l] = so->metric->kind == GV_METRIC_IP ? base :
				sqrt(Max(order[l], 0.0));
		}
	}
	sorted = palloc(sizeof(ListOrderData) * lists);
	for (int l = 0; l < lists; l++)
	{
		sorted[l].distance = order[l];
		sorted[l].list = l;
	}
	qsort(sorted, lists, sizeof(ListOrderData), CompareListOrder);
	for (int l = 0; l < lists; l++)
		so->listOrder[l] = sorted[l].list;

	/*
	 * Each centroid's distance to the query (listScore), for the expected
	 * nearest entry of the lists not probed (see UnprobedBound): Euclidean
	 * under L2 and cosine (unit vectors), the centroid's own ADC under inner
	 * product.
	 */
	for (int i = lists - 1; i >= 0; i--)
		so->restMinScore[i] = Min(so->restMinScore[i + 1],
								  so->listScore[so->listOrder[i]]);

	/* The lookup table (L2: per list, ListTables) */
	so->tables = palloc(sizeof(float) * (Size) cache->meta.subquantizers * cache->ksub);
	if (so->metric->kind == GV_METRIC_L2)
		so->residual = palloc(sizeof(float) * so->dim);
	else
		FillTables(so, so->query, -1.0f);
}

/*
 * ADC distance of one entry: m lookups, eight running sums, the table
 * pointer stepped rather than recomputed.  Always inlined, so that with
 * ksub a constant (AdcDistance) each lookup is one load at a fixed offset.
 */
static pg_attribute_always_inline float
AdcDistanceK(const float *tables, const uint8 *codes, int m, const Size ksub)
{
	float		s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
	const float *t = tables;
	const uint8 *c = codes;
	const uint8 *end8 = codes + (m & ~7);

	for (; c < end8; c += 8, t += 8 * ksub)
	{
		s[0] += t[c[0]];
		s[1] += t[ksub + c[1]];
		s[2] += t[2 * ksub + c[2]];
		s[3] += t[3 * ksub + c[3]];
		s[4] += t[4 * ksub + c[4]];
		s[5] += t[5 * ksub + c[5]];
		s[6] += t[6 * ksub + c[6]];
		s[7] += t[7 * ksub + c[7]];
	}
	for (; c < codes + m; c++, t += ksub)
		s[0] += t[*c];
	return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* 8-bit codes (the default) get the constant-offset loop. */
static inline float
AdcDistance(const float *tables, const uint8 *codes, int m, int ksub)
{
	if (ksub == 256)
		return AdcDistanceK(tables, codes, m, 256);
	return AdcDistanceK(tables, codes, m, (Size) ksub);
}

/*
 * Add entries [first, first + count) of an entry page to the pool, with
 * their ADC distance (base + table lookups), skipping VACUUM's tombstones
 * and the entries the filter rejects.  Returns their least ADC.
 */
static double
ProbePage(IvfpqScanOpaque so, Page page, int first, int count, float base)
{
	IvfpqCache	cache = so->cache;
	const IvfpqEntryLayout *layout = &cache->layout;
	int			m = cache->meta.subquantizers;
	int			ksub = cache->ksub;
	bool		trained = cache->meta.trained;
	GvKeyFilter filter = so->useFilter ? &so->filter : NULL;
	double		least = HUGE_VAL;

	if (so->poolCount + count > so->poolCap)
	{
		so->poolCap = Max(so->poolCap * 2, so->poolCount + count);
		so->pool = repalloc_huge(so->pool, sizeof(CandidateData) * so->poolCap);
	}
	for (int i = first; i < first + count; i++)
	{
		const char *entry = IvfpqPageEntry(page, i, layout->size);
		CandidateData *c = &so->pool[so->poolCount];

		IvfpqEntryGetTid(entry, &c->tid);
		if (!ItemPointerIsValid(&c->tid))
			continue;
		so->seenEntries++;
		if (filter && !GvKeyCodesMatch(entry + layout->keysOffset,
									   IvfpqEntryKeyNulls(layout, entry), filter))
			continue;
		so->poolCount++;
		so->matchedEntries++;
		if (trained)
			c->distance = ClampEstimate(base +
										AdcDistance(so->tables,
													(const uint8 *) entry + layout->codesOffset,
													m, ksub));
		else
			c->distance = 0.0f;
		least = Min(least, c->distance);
	}
	return least;
}

/*
 * One entry page of a list, share-locked while its entries are read: a
 * segment page's [first, first + count), or with chainNext (an insert
 * chain's page) all of it, and *chainNext set to the chain's next page.
 */
static double
ProbeBlock(IndexScanDesc scan, BlockNumber blkno, int first, int count, float base,
		   BlockNumber *chainNext)
{
	IvfpqScanOpaque so = (IvfpqScanOpaque) scan->opaque;
	Buffer		buf;
	Page		page;
	double		least;

	CHECK_FOR_INTERRUPTS();
	buf = ReadBuffer(scan->indexRelation, blkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	GvCheckPage(scan->indexRelation, page, blkno, GV_PAGE_ID_IVFPQ);
	if (chainNext)
	{
		count = IvfpqPageEntryCount(page, so->cache->layout.size);
		*chainNext = GvPageGetOpaque(page)->nextblkno;
	}
	else if (first + count > IvfpqPageEntryCount(page, so->cache->layout.size))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has a broken segment run at block %u",
						RelationGetRelationName(scan->indexRelation), blkno),
				 errhint("Rebuild the index with REINDEX.")));
	least = ProbePage(so, page, first, count, base);
	UnlockReleaseBuffer(buf);
	return least;
}

/*
 * Add every entry of one list to the pool, with its ADC distance: its run
 * of the segment, then its insert chain.
 */
static void
ProbeList(IndexScanDesc scan, int list)
{
	IvfpqScanOpaque so = (IvfpqScanOpaque) scan->opaque;
	IvfpqCache	cache = so->cache;
	int			perPage = cache->layout.perPage;
	IvfpqListData dir;
	float		base = so->listBase[list];
	double		listMin = HUGE_VAL;
	uint32		next;
	uint32		end;
	BlockNumber blkno;

	IvfpqGetList(scan->indexRelation, &cache->meta, list, &dir);
	if ((uint64) dir.segmentFirst + dir.segmentCount >
		(uint64) cache->meta.segmentPages * perPage)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has a broken segment run in list %d",
						RelationGetRelationName(scan->indexRelation), list),
				 errhint("Rebuild the index with REINDEX.")));
	if (dir.segmentCount == 0 && !BlockNumberIsValid(dir.startPage))
		return;					/* empty: no table to compute */
	if (cache->meta.trained)
		ListTables(so, list);
	next = dir.segmentFirst;
	end = dir.segmentFirst + dir.segmentCount;
	while (next < end)
	{
		int			first = next % perPage;
		int			count = Min(end - next, (uint32) (perPage - first));

		double		least = ProbeBlock(scan, cache->meta.segmentStart + next / perPage,
									   first, count, base, NULL);

		listMin = Min(listMin, least);
		next += count;
	}
	blkno = dir.startPage;
	while (BlockNumberIsValid(blkno))
	{
		double		least = ProbeBlock(scan, blkno, 0, 0, base, &blkno);

		listMin = Min(listMin, least);
	}

	so->poolMin = Min(so->poolMin, listMin);
	/* an entry below the sorted prefix's last makes the prefix stale */
	if (so->poolSorted > so->poolNext && listMin < so->pool[so->poolSorted - 1].distance)
		so->poolSorted = so->poolNext;
	if (cache->meta.trained && listMin < HUGE_VAL)
		so->maxGap = Max(so->maxGap, so->listScore[list] - Geometric(so, listMin));
}

/*
 * Probe the next lists: the first round gigavector.ivfpq_probes of them,
 * each later round as many as were probed before (at least ivfpq_probes),
 * never past probeLimit.  False if none left.  Doubling bounds the rounds
 * (each of which recomputes the pool's bounds) by a logarithm: when the
 * codes cannot bound the answer (random 64-d unit vectors) an unfiltered
 * LIMIT 10 went round after round of 10 lists through all 173, 16 ms
 * against 0.25 ms for gv_hnsw (issue #23).
 */
static bool
ProbeMore(IndexScanDesc scan)
{
	IvfpqScanOpaque so = (IvfpqScanOpaque) scan->opaque;
	int			target = Min(so->probed + Max(gv_ivfpq_probes, so->probed), so->probeLimit);

	if (so->probed >= target)
		return false;
	for (; so->probed < target; so->probed++)
		ProbeList(scan, so->listOrder[so->probed]);
	return true;
}

/*
 * The k-th smallest of v[0..n-1] (v is reordered): quickselect.
 */
static double
KthSmallest(double *v, int n, int k)
{
	int			lo = 0;
	int			hi = n - 1;

	while (lo < hi)
	{
		double		pivot = v[lo + (hi - lo) / 2];
		int			i = lo;
		int			j = hi;

		while (i <= j)
		{
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j)
			{
				double		t = v[i];

				v[i] = v[j];
				v[j] = t;
				i++;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return v[k];
}

/*
 * How much the ADC of a candidate not yet re-ranked may overestimate its
 * exact distance: the largest overestimate seen, or the median error plus
 * three robust standard deviations (1.4826 median absolute deviations),
 * whichever is larger, and never below 0.  The second term matters when
 * the candidates re-ranked so far, those of least ADC, were mostly
 * underestimated (a coarse quantizer): their largest error then says little
 * about the errors of the rest.
 */
static double
ErrorMargin(IvfpqScanOpaque so)
{
	int			n = so->errCount;
	double	   *v = palloc(sizeof(double) * n);
	double		median;
	double		mad;

	memcpy(v, so->errs, sizeof(double) * n);
	median = KthSmallest(v, n, n / 2);
	for (int i = 0; i < n; i++)
		v[i] = fabs(v[i] - median);
	mad = KthSmallest(v, n, n / 2);
	pfree(v);
	return Max(Max(so->errMax, median + 3.0 * 1.4826 * mad), 0.0);
}

/*
 * Make the pool's want least candidates its first, in ascending ADC order.
 * The prefix sorted is larger than want (4 x, at least 256), and stays
 * sorted while the lists probed later add nothing below its last: the
 * batches that follow take their candidates from it, and the pool's least
 * ADC and the count within a margin (PoolWithin) are read from it, not
 * from a pass over the whole pool (tens of thousands of candidates at 1M
 * rows, where each pass cost as much as the batch's heap fetches).
 */
static void
SortPoolPrefix(IvfpqScanOpaque so, int want)
{
	int			remaining = so->poolCount - so->poolNext;
	int			sort;

	if (so->poolSorted - so->poolNext >= want)
		return;
	if (want >= remaining)
	{
		/* all of it goes: no order needed */
		so->poolSorted = so->poolNext;
		return;
	}
	sort = (int) Min((int64) remaining, Max((int64) want * 4, 256));
	pool_partial_sort(so->pool + so->poolNext, remaining, sort);
	so->poolSorted = so->poolNext + sort;
}

/*
 * Re-rank the want best candidates left in the pool: fetch each from the
 * heap, compute its exact distance with the ORDER BY operator's own
 * function (so the order is exactly the one SQL sees) and push it on the
 * heap of candidates waiting to be returned.
 */
static void
RerankBatch(IndexScanDesc scan, int want)
{
	IvfpqScanOpaque so = (IvfpqScanOpaque) scan->opaque;
	ScanKey		orderBy = &scan->orderByData[0];
	int			remaining = so->poolCount - so->poolNext;
	int			take = Min(want, remaining);
	CandidateData *next = so->pool + so->poolNext;
	bool		trained = so->cache->meta.trained;

	SortPoolPrefix(so, take);
	/* in heap order: neighbours share a page, fetched once */
	qsort(next, take, sizeof(CandidateData), CompareTids);
	for (int i = 0; i < take; i++)
	{
		Datum		value;
		MemoryContext old;
		Datum		v;
		int			dim;
		RankedData	r;
		double		exact;

		CHECK_FOR_INTERRUPTS();
		GvHeapFetchPrefetch(&so->heapFetch, scan, &next[0].tid, sizeof(CandidateData), i, take);
		if (!GvHeapFetchValue(&so->heapFetch, scan, &next[i].tid, &value))
			continue;			/* not visible to us: the executor would skip
								 * it too */

		old = MemoryContextSwitchTo(so->tmpCtx);
		v = PointerGetDatum(PG_DETOAST_DATUM(value));
		dim = GvMetricDatumDims(so->metric, v);
		if (dim != so->dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("expected %d dimensions, not %d", so->dim, dim)));
		r.tid = next[i].tid;
		r.adc = next[i].distance;
		r.toastid = InvalidOid;
		if (so->memoise)
		{
			const float *x = DatumGetGvector(v)->x;

			/* the operator's kernel, once: for the memo and for the distance */
			r.kernel = so->metric->kind == GV_METRIC_L2 ?
				GvSafeL2Squared(GvL2SquaredDistance, x, so->rawQuery, so->dim) :
				GvSafeInnerProduct(GvInnerProduct, x, so->rawQuery, so->dim);
			r.toastid = GvDatumToastId(value);
		}
		if (!so->memoise ||
			!GvOperatorFromKernel(orderBy->sk_func.fn_addr, so->memoKernel, r.kernel,
								  &r.distance))
			r.distance = DatumGetFloat8(FunctionCall2Coll(&orderBy->sk_func,
														  orderBy->sk_collation,
														  v, orderBy->sk_argument));

		/*
		 * the shortcut gives the operator's bits (assert-enabled builds
		 * check)
		 */
		Assert(r.distance == DatumGetFloat8(FunctionCall2Coll(&orderBy->sk_func,
															  orderBy->sk_collation,
															  v, orderBy->sk_argument)));
		MemoryContextSwitchTo(old);
		MemoryContextReset(so->tmpCtx);

		/* How far the ADC overestimated this one, in index units */
		exact = IndexUnits(so, r.distance);
		if (trained)
		{
			if (so->errCount >= so->errCap)
			{
				so->errCap = Max(so->errCap * 2, 256);
				so->errs = so->errs == NULL ?
					palloc_extended(sizeof(double) * so->errCap, MCXT_ALLOC_HUGE) :
					repalloc_huge(so->errs, sizeof(double) * so->errCap);
			}
			so->errs[so->errCount++] = r.adc - exact;
			so->errMax = Max(so->errMax, r.adc - exact);
		}
		ranked_push(&so->ranked, &r);
	}
	GvHeapFetchRelease(&so->heapFetch);
	if (so->errCount > 0)
		so->margin = ErrorMargin(so);
	so->poolNext += take;
	so->reranked += take;

	/* The least ADC of what is left */
	if (so->poolNext < so->poolSorted)
		so->poolMin = so->pool[so->poolNext].distance;
	else
	{
		so->poolMin = HUGE_VAL;
		for (int i = so->poolNext; i < so->poolCount; i++)
			so->poolMin = Min(so->poolMin, so->pool[i].distance);
	}
}

/*
 * Least ADC an unprobed list is expected to hold: the distance of the
 * nearest unprobed centroid less the largest "gap" seen so far, a gap being
 * how much nearer than its centroid a probed list's nearest entry was.
 * Under L2 and cosine the gaps are taken on Euclidean distances (not
 * squared), where a list's gap grows less with its distance to the query
 * (it is about the list's radius).  HUGE_VAL when no list may be probed.
 */
static double
UnprobedBound(IvfpqScanOpaque so)
{
	double		b;

	if (so->probed >= so->probeLimit)
		return HUGE_VAL;
	b = so->restMinScore[so->probed] - so->maxGap;
	switch (so->metric->kind)
	{
		case GV_METRIC_L2:
			return b > 0.0 ? b * b : 0.0;
		case GV_METRIC_COSINE:
			return b > 0.0 ? b * b / 2.0 : 0.0;
		default:				/* inner product */
			break;
	}
	return b;
}

/*
 * How many candidates left in the pool have an ADC within the margin of
 * distance (the ORDER BY value).
 */
static int
PoolWithin(IvfpqScanOpaque so, double distance)
{
	double		limit = IndexUnits(so, distance) + so->margin;
	int			lo = so->poolNext;
	int			hi = so->poolSorted;
	int			n;

	/* in the sorted prefix: the first above the limit */
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (so->pool[mid].distance <= limit)
			lo = mid + 1;
		else
			hi = mid;
	}
	n = lo - so->poolNext;
	if (lo < so->poolSorted)
		return n;
	/* the whole prefix is within: count the rest too */
	for (int i = Max(so->poolSorted, so->poolNext); i < so->poolCount; i++)
		n += so->pool[i].distance <= limit;
	return n;
}

/*
 * May the heap's least candidate be returned now?  Only when no candidate
 * not yet re-ranked is expected nearer: its distance (in index units) is
 * at most the least ADC left in the pool, and the least expected of the
 * unprobed lists, each less the margin (see ErrorMargin).
 */
static bool
CanReturnTop(IvfpqScanOpaque so)
{
	double		exact = IndexUnits(so, ranked_top(&so->ranked)->distance);
	double		bound = Min(so->poolNext < so->poolCount ? so->poolMin : HUGE_VAL,
							UnprobedBound(so));

	return bound == HUGE_VAL || exact <= bound - so->margin;
}

/*
 * Would re-ranking want more candidates take the scan past
 * IVFPQ_EXACT_SHARE of the index's rows (of those its filter columns'
 * conditions pass, at the rate seen in the lists probed)?  Then the codes
 * do not bound the answer (random 64-d unit vectors: a third of the rows
 * were re-ranked for an unfiltered LIMIT 10), or a filter rejects row
 * after row, or the rows a selective filter keeps are far from the
 * query, and
 * re-ranking every row of every list it may probe at once (in heap order,
 * each page read once) costs about what the exact scan costs, where going
 * on batch by batch cost more; after it the rows come back in exact order
 * with nothing left to estimate.
 */
#define IVFPQ_EXACT_SHARE	0.5

static bool
PastExactShare(IndexScanDesc scan, int want)
{
	IvfpqScanOpaque so = (IvfpqScanOpaque) scan->opaque;
	double		rows = scan->indexRelation->rd_rel->reltuples;

	if (so->useFilter && so->seenEntries > 0)
		rows *= (double) so->matchedEntries / so->seenEntries;
	return rows > 0 && (double) so->reranked + want > IVFPQ_EXACT_SHARE * rows;
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
	scan->opaque = so;
	return scan;
}

/*
 * amrescan
 */
void
ivfpqrescan(IndexScanDesc scan, ScanKey keys, int nkeys pg_attribute_unused(), ScanKey orderbys,
			int norderbys pg_attribute_unused())
{
	IvfpqScanOpaque so = (IvfpqScanOpaque) scan->opaque;
	MemoryContext old;

	GvHeapFetchEnd(&so->heapFetch);
	GvDistanceMemoForget();
	MemoryContextReset(so->scanCtx);
	so->started = false;
	so->exhausted = false;
	so->pool = NULL;
	so->poolCount = so->poolCap = so->poolNext = so->poolSorted = 0;
	so->poolMin = HUGE_VAL;
	old = MemoryContextSwitchTo(so->scanCtx);
	ranked_init_alloc(&so->ranked, 256);
	MemoryContextSwitchTo(old);
	so->margin = 0.0;
	so->errs = NULL;
	so->errCount = so->errCap = 0;
	so->errMax = 0.0;
	so->lastDistance = -DBL_MAX;
	so->returned = so->reranked = so->skipped = 0;
	so->probed = 0;
	so->tables = NULL;
	so->residual = NULL;
	so->useFilter = false;
	so->recheck = false;
	so->seenEntries = so->matchedEntries = 0;

	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
}

/*
 * The first gettuple's work: check the ORDER BY, prepare the query and the
 * filter, and probe the first lists.  Sets so->exhausted when no row can
 * come back.
 */
static void
StartScan(IndexScanDesc scan)
{
	IvfpqScanOpaque so = (IvfpqScanOpaque) scan->opaque;
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
		return;
	}

	old = MemoryContextSwitchTo(so->scanCtx);
	so->cache = IvfpqGetCache(scan->indexRelation);
	if (!GvFilterPrepare(&so->cache->keys, scan->keyData, scan->numberOfKeys,
						 &so->filter, &so->recheck))
	{
		/* no row can match (= NULL, IN (), the vector IS NULL) */
		MemoryContextSwitchTo(old);
		so->exhausted = true;
		return;
	}
	so->useFilter = so->filter.n > 0;
	so->query = IvfpqPrepareValue(so->metric, scan->orderByData[0].sk_argument,
								  so->cache->dim, so->cache->meta.scale, &dim);
	so->dim = dim;
	so->rawQuery = GvMetricDatumToFloats(so->metric, scan->orderByData[0].sk_argument, &dim);
	so->units = ldexp(1.0, 2 * so->cache->meta.scale);

	/*
	 * The operator's kernel on the operator's own arguments, for the distance
	 * memo (gvector.c); gsparsevec's operators have kernels of their own, and
	 * no memo.
	 */
	so->memoise = so->metric->type == GV_TYPE_GVECTOR &&
		(so->metric->kind == GV_METRIC_L2 || so->metric->kind == GV_METRIC_IP);
	so->memoKernel = so->metric->kind == GV_METRIC_L2 ? GV_MEMO_L2SQ : GV_MEMO_IP;
	so->poolCap = 1024;
	so->pool = palloc_extended(sizeof(CandidateData) * so->poolCap, MCXT_ALLOC_HUGE);
	StartQuery(scan);
	ProbeMore(scan);
	MemoryContextSwitchTo(old);
}

/*
 * amgettuple
 */
bool
ivfpqgettuple(IndexScanDesc scan, ScanDirection dir pg_attribute_unused())
{
	IvfpqScanOpaque so = (IvfpqScanOpaque) scan->opaque;

	if (!so->started)
		StartScan(scan);
	if (so->exhausted)
		return false;

	/*
	 * Return the nearest re-ranked candidate once no other is expected
	 * nearer; until then re-rank more of the pool, or probe more lists,
	 * whichever is expected to hold nearer candidates.
	 */
	for (;;)
	{
		bool		poolLeft = so->poolNext < so->poolCount;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		if (so->ranked.count > 0 && CanReturnTop(so))
		{
			RankedData	top = ranked_pop(&so->ranked);

			/*
			 * Never return a row nearer than one already returned: the
			 * estimate let a nearer one through late.  Rare; it is skipped,
			 * so that what the executor sees is always in exact order.
			 */
			if (top.distance < so->lastDistance)
			{
				so->skipped++;
				continue;
			}
			so->lastDistance = top.distance;
			so->returned++;
			scan->xs_heaptid = top.tid;
			scan->xs_recheck = so->recheck;
			scan->xs_recheckorderby = false;
			if (OidIsValid(top.toastid))
				GvDistanceMemoPut(scan->heapRelation->rd_rel->reltoastrelid, top.toastid,
								  so->memoKernel, scan->orderByData[0].sk_argument, top.kernel);
			return true;
		}

		old = MemoryContextSwitchTo(so->scanCtx);
		if (poolLeft && (!so->cache->meta.trained ||
						 so->poolMin <= UnprobedBound(so)))
		{
			/*
			 * The first batch is ivfpq_rerank candidates.  Later ones (a
			 * filter rejected rows, or the codes cannot tell the nearest
			 * apart) take every candidate that must be re-ranked before the
			 * heap's least may be returned, and at least as many as were
			 * re-ranked before: each batch recomputes the error margin, so
			 * batches of a fixed size made the work grow with the square of
			 * the rows re-ranked.  (A floor of a quarter re-ranked 267 rows a
			 * query where this one re-ranks 406, on fmnist-1m at probes 16,
			 * rerank 20, but at recall@10 0.986 against 0.990.)
			 */
			int			want = so->cache->meta.trained ? gv_ivfpq_rerank : INT_MAX;

			if (so->ranked.count > 0 && want != INT_MAX)
				want = Max(Max(want, (int) Min(so->reranked, INT_MAX / 2)),
						   PoolWithin(so, ranked_top(&so->ranked)->distance));
			if (want != INT_MAX && PastExactShare(scan, want))
			{
				/* the codes cannot bound the answer: re-rank all, exactly */
				while (ProbeMore(scan))
					;
				want = INT_MAX;
			}
			RerankBatch(scan, want);
		}
		else if (!ProbeMore(scan))
		{
			if (poolLeft)
				RerankBatch(scan, INT_MAX);
			else if (so->ranked.count == 0)
			{
				MemoryContextSwitchTo(old);
				so->exhausted = true;
				GvDistanceMemoForget();
				return false;
			}
		}
		MemoryContextSwitchTo(old);
	}
}

/*
 * amendscan
 */
void
ivfpqendscan(IndexScanDesc scan)
{
	IvfpqScanOpaque so = (IvfpqScanOpaque) scan->opaque;

	if (so->started)
		elog(DEBUG1, "gv_ivfpq scan: %d lists probed, " INT64_FORMAT " rows re-ranked, "
			 INT64_FORMAT " returned, " INT64_FORMAT " skipped out of order, "
			 INT64_FORMAT " of " INT64_FORMAT " entries passed the filter columns",
			 so->probed, so->reranked, so->returned, so->skipped,
			 so->matchedEntries, so->seenEntries);
	GvHeapFetchEnd(&so->heapFetch);
	GvDistanceMemoForget();
	MemoryContextDelete(so->scanCtx);
	MemoryContextDelete(so->tmpCtx);
	pfree(so);
	scan->opaque = NULL;
}
