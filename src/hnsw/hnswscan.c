/*
 * hnswscan.c
 *	  gv_hnsw index scans: ORDER BY vector <op> query, returned nearest
 *	  first, for as long as the executor asks.
 *
 * The first batch is the classic search: descend from the entry point,
 * then search level 0 with gigavector.hnsw_ef_search candidates and
 * return them in distance order.  Every element discovered on the way is
 * kept (the unexpanded ones in a candidate heap, the ones that did not make
 * the batch in a discard heap), so when the executor wants more rows -- a
 * WHERE clause rejected most of the first batch -- the search resumes from
 * where it stopped: the next batch is seeded with the nearest discarded
 * elements and expands the graph further, each batch twice the size of the
 * one before.  The graph search ends when the graph is exhausted or after
 * gigavector.hnsw_max_scan_tuples elements were visited; the elements
 * already discovered are still returned then, and if the executor wants
 * more, the scan goes exact: it reads every element page and hands out the
 * rest in exact distance order, a batch at a time (ExhaustiveBatch).
 *
 * Rows come back in exact distance order, whatever the executor does with
 * them (a WHERE clause the index does not see rejects rows and asks for
 * more):
 *
 *	- each graph batch hands out only the nearer half of what its search of
 *	  ef found; the farther half (the part a wider search is most likely to
 *	  beat) seeds the next batch instead, so a batch boundary is one the
 *	  search has looked well past;
 *	- a row nearer than one already handed out (a wider search found it
 *	  late) is skipped, never returned out of order: it costs recall, not
 *	  order;
 *	- the graph phase is given up for the exact pass once the graph has
 *	  cost a fraction of what reading every element costs
 *	  (HNSW_GRAPH_SHARE): a filter that rejects row after row (one the
 *	  query's neighbourhood does not satisfy) then gets the rest in exact
 *	  order from one read of the index, not from a graph search that
 *	  would visit most of it anyway;
 *	- the exact pass continues from the last row handed out, in (distance,
 *	  heap TID) order, in batches that double in size.
 *
 * Conditions on the index's filter columns (=, ranges, IN, IS [NOT] NULL:
 * src/gvfilter.c) arrive as scan keys and are tested on each element during the graph search:
 * elements that fail them still route the search but are never results,
 * so a selective filter costs graph steps, not heap visits.
 *
 * Under float16 or int8 storage the graph's distances are approximations, so
 * each batch is re-ranked with exact distances computed from the heap rows
 * (fetched with the scan's snapshot; a row it cannot see is dropped, as the
 * executor would drop it) before it is returned.
 */
#include "compat.h"

#include "access/itup.h"
#include "access/relscan.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/float.h"
#include "utils/memutils.h"

typedef struct GvHnswScanOpaqueData
{
	GvHnswInfo	info;
	MemoryContext ctx;
	bool		started;
	bool		done;
	float	   *query;
	float	   *decoded;		/* scratch for an element's vector */
	uint8	   *qbits;			/* the query's bits (GvHnswQueryBits) or NULL */
	GvHnswHeapData cand;
	GvHnswHeapData result;
	GvHnswHeapData discard;
	GvHnswTidSetData visited;
	int64		visitedCount;
	int			batchSize;
	GvHnswCandidate *out;
	int			nout;
	int			pos;
	GvKeyFilterData filter;		/* conditions on filter columns, tested in the
								 * graph (src/gvfilter.c) */
	GvHnswTidSetData returned;	/* heap TIDs handed out so far */
	bool		exhaustive;		/* past the graph bound: reading every element */
	double		lastDist;		/* exhaustive: (dist, heaptid) of the last */
	ItemPointerData lastTid;	/* element of the last pass, in index space;
								 * invalid: every element at >= lastDist */
	int			exhaustiveBatch;	/* rows the next exhaustive pass keeps */
	double		outDist;		/* (dist, heaptid) of the last row handed */
	ItemPointerData outTid;		/* out; invalid before the first */
	int64		skipped;		/* rows skipped as out of order */
	int64		handedOut;		/* rows handed out */
	int64		graphBound;		/* visits after which the graph phase ends */
	double		elements;		/* about how many the index holds */
	int			sortedEnd;		/* listed: out[0, sortedEnd) is sorted and
								 * nearer than the rest of out */
	bool		bounded;		/* listed, in the order of distance bounds */
	GvHnswListed *listed;		/* bounded: those not yet read, a min-heap on
								 * bound (gvheap.h) */
	int			nlisted;
	GvHnswRecentBuffers recent; /* bounded: pins the element pages */
	GvHnswHeapData found;		/* bounded: read, not yet returned (min-heap) */
	GvHnswTidSetData readListed;	/* bounded: the elements read */
	bool		recheck;		/* a filter column is stored as a hash */
	bool		memoise;		/* leave returned rows' distances in the
								 * distance memo (gvector.c) */
	GvMemoKernel memoKernel;
	GvHeapFetchData heapFetch;	/* re-ranking (float16, int8, binary storage) */
	MemoryContext rowCtx;		/* re-ranking: a heap row's values */
} GvHnswScanOpaqueData;

typedef GvHnswScanOpaqueData *GvHnswScanOpaque;

static int	CompareCandidatesDistTid(const void *a, const void *b);
static void RerankBatch(IndexScanDesc scan);

/* Candidates in (distance, heap TID) order: selection and sorting (gvselect.h) */
#define GV_SELECT_PREFIX	cand
#define GV_SELECT_ELEMENT	GvHnswCandidate
#define GV_SELECT_LESS(a, b)	(CompareCandidatesDistTid((a), (b)) < 0)
#include "gvselect.h"

/* The unread listed entries: a min-heap on bound (gvheap.h) */
#define GV_HEAP_PREFIX		listed
#define GV_HEAP_ELEMENT		GvHnswListed
#define GV_HEAP_LESS(a, b)	((a)->bound < (b)->bound)
#include "gvheap.h"

IndexScanDesc
gvhnswbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	GvHnswScanOpaque so = palloc0(sizeof(GvHnswScanOpaqueData));

	so->info = GvHnswGetInfo(index);
	so->ctx = AllocSetContextCreate(CurrentMemoryContext, "gv_hnsw scan",
									ALLOCSET_DEFAULT_SIZES);
	scan->opaque = so;
	return scan;
}

void
gvhnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys pg_attribute_unused(), ScanKey orderbys,
			 int norderbys pg_attribute_unused())
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;

	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
	GvHeapFetchEnd(&so->heapFetch);
	GvDistanceMemoForget();
	MemoryContextReset(so->ctx);
	so->rowCtx = NULL;			/* was a child of ctx */
	so->started = false;
	so->done = false;
}

/* Is the element at tid live and does it pass the filter? */
static bool
ElementMatches(IndexScanDesc scan, ItemPointer tid)
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;
	GvHnswInfo	info = so->info;
	GvHnswElementTuple tup = palloc(GvHnswTupleSize(info->dataBytes, info->m, info->maxLevel));
	bool		match;

	match = GvHnswGetElementCopy(scan->indexRelation, info, tid, tup) &&
		GvHnswKeysMatch(tup, &so->filter);
	pfree(tup);
	return match;
}

/*
 * How many elements a filter may match for the scan to read them all
 * rather than search the graph.  Under a filter that a fraction s of the N
 * rows pass, a graph search for ef results visits roughly
 * HNSW_VISITS_PER_EF * ef / s elements (most of them failing the filter);
 * reading the n = s * N matching ones costs n.  Reading wins while
 * n^2 < HNSW_VISITS_PER_EF * ef * N.  Never more than
 * gigavector.hnsw_max_scan_tuples, the work after which a scan goes exact
 * anyway.
 */
#define HNSW_VISITS_PER_EF	32

static int
ListedExactLimit(Relation index, GvHnswInfo info)
{
	double		rows = index->rd_rel->reltuples;
	double		limit;

	if (rows <= 0)				/* never counted: guess from the size */
		rows = (double) RelationGetNumberOfBlocks(index) *
			(HNSW_MAX_TUPLE_SIZE / GvHnswTupleSize(info->dataBytes, info->m, 0));
	limit = sqrt((double) HNSW_VISITS_PER_EF * gv_hnsw_ef_search * rows);
	return (int) Min(limit, (double) gv_hnsw_max_scan_tuples);
}

/*
 * The graph phase ends, and the exact pass takes over, once the graph
 * search has visited this many elements: gigavector.hnsw_max_scan_tuples,
 * or HNSW_GRAPH_SHARE of the index's elements (hnsw.h) if that is less.  A visit
 * costs about what the exact pass pays an element (a distance on a pinned
 * page, plus a neighbour list), so a scan never spends more than about
 * (1 + HNSW_GRAPH_SHARE) times the exact pass's work, however many rows
 * the executor rejects; but ef_search * HNSW_VISITS_PER_EF visits are
 * always allowed, so that small tables still get a graph search.
 */
static int64
GraphBound(Relation index, GvHnswInfo info, double *elements)
{
	double		rows = index->rd_rel->reltuples;
	double		bound;

	if (rows <= 0)
		rows = (double) RelationGetNumberOfBlocks(index) *
			(HNSW_MAX_TUPLE_SIZE / GvHnswTupleSize(info->dataBytes, info->m, 0));
	*elements = rows;
	bound = Max(rows * HNSW_GRAPH_SHARE, (double) HNSW_VISITS_PER_EF * gv_hnsw_ef_search);
	return (int64) Min(bound, (double) gv_hnsw_max_scan_tuples);
}

/*
 * One candidate for each heap TID of tuple tup (at tid), all at the
 * distance of c[0]; returns how many (ntids, at most info->maxTids).
 */
static int
ExpandElement(GvHnswInfo info, GvHnswElementTuple tup, ItemPointer tid, GvHnswCandidate *c)
{
	int			n = Min(tup->ntids, GvHnswTupleTidRoom(tup));

	for (int i = 0; i < n; i++)
	{
		c[i].dist = c[0].dist;
		c[i].tid = *tid;
		c[i].heaptid = *GvHnswElementHeapTid(tup, info->dataBytes, i);
		c[i].toastid = n == 1 ? tup->toastid : InvalidOid;
	}
	return n;
}

/*
 * The element at off of a share-locked page as result candidates, one for
 * each of its heap TIDs (c has room for info->maxTids); returns how many: 0
 * if there is none (a page that is not an element page, a line pointer past
 * its end: a stale directory entry), it is a tombstone or fails the filter.
 * The distance is in the index's storage (re-ranked later when that is not
 * float32).
 */
static int
RankElement(GvHnswScanOpaque so, Page page, BlockNumber blkno, OffsetNumber off,
			GvHnswCandidate *c)
{
	GvHnswInfo	info = so->info;
	GvHnswElementTuple tup;
	ItemPointerData tid;

	if (PageIsNew(page) || !(GvPageGetOpaque(page)->flags & HNSW_PAGE_ELEMENT) ||
		off > PageGetMaxOffsetNumber(page))
		return 0;
	tup = GvHnswPageGetElement(page, off);
	if ((tup->flags & HNSW_ELEMENT_DELETED) || !GvHnswKeysMatch(tup, &so->filter))
		return 0;
	c->dist = GvHnswElementDistance(info, so->query, so->qbits, tup, so->decoded);
	ItemPointerSet(&tid, blkno, off);
	return ExpandElement(info, tup, &tid, c);
}

/* Room for n more candidates in *out (of *cap), grown as needed. */
static void
ReserveCandidates(GvHnswCandidate **out, int *cap, int used, int n)
{
	if (used + n > *cap)
	{
		*cap = Max(*cap * 2, used + n);
		*out = repalloc_huge(*out, sizeof(GvHnswCandidate) * *cap);
	}
}

/*
 * Exact distances to the listed elements (sorted by TID, so each page is
 * read once, and an element listed once for each of its heap TIDs is
 * ranked once) that are live and pass the filter, one candidate for each
 * heap TID, in *out (palloc'd).  Returns how many.
 */
static int
RankListed(IndexScanDesc scan, GvHnswListed *listed, int n, GvHnswCandidate **out)
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;
	Buffer		buf = InvalidBuffer;
	int			count = 0;
	int			cap = Max(n, 1) + so->info->maxTids;

	*out = palloc(sizeof(GvHnswCandidate) * cap);

	for (int i = 0; i < n; i++)
	{
		BlockNumber blkno = ItemPointerGetBlockNumber(&listed[i].tid);

		if (i > 0 && ItemPointerEquals(&listed[i].tid, &listed[i - 1].tid))
			continue;
		if (!BufferIsValid(buf) || BufferGetBlockNumber(buf) != blkno)
		{
			CHECK_FOR_INTERRUPTS();
			if (BufferIsValid(buf))
				UnlockReleaseBuffer(buf);
			buf = ReadBuffer(scan->indexRelation, blkno);
			LockBuffer(buf, BUFFER_LOCK_SHARE);
		}
		ReserveCandidates(out, &cap, count, so->info->maxTids);
		count += RankElement(so, BufferGetPage(buf), blkno,
							 ItemPointerGetOffsetNumber(&listed[i].tid), &(*out)[count]);
	}
	if (BufferIsValid(buf))
		UnlockReleaseBuffer(buf);
	return count;
}

/*
 * Partial sorting for the listed path: a LIMIT 10 query needs the nearest
 * few of thousands of candidates, so rather than sort them all, move the
 * nearest HNSW_LISTED_SORT of the unsorted part to its front (quickselect)
 * and sort just those; the next part when the executor wants more.
 */
#define HNSW_LISTED_SORT	256

static void
SortNextListed(GvHnswScanOpaque so)
{
	GvHnswCandidate *rest = so->out + so->sortedEnd;
	int			nrest = so->nout - so->sortedEnd;
	int			k = Min(nrest, HNSW_LISTED_SORT);

	cand_partial_sort(rest, nrest, k);
	so->sortedEnd += k;
}

/*
 * The listed entries not yet read are a binary min-heap on their bounds:
 * a scan reads only the first few hundred of thousands in bound order, so
 * heapifying (linear) and popping those beats sorting them all, which was a
 * fifth of a filtered query's time.
 */
/*
 * Bounded listing: read the element of the listed entry with the least
 * bound into so->found if it is live and passes the filter, and not read
 * before (an element has an entry for each of its heap TIDs).
 */
static void
ReadNextListed(IndexScanDesc scan)
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;
	ItemPointerData tid = so->listed[0].tid;
	listed_heap unread;
	Buffer		buf;
	GvHnswCandidate *c;
	int			n;

	listed_attach(&unread, so->listed, so->nlisted, so->nlisted);
	(void) listed_pop(&unread);
	so->nlisted = unread.count;
	if (!GvHnswTidSetAdd(&so->readListed, &tid))
		return;
	CHECK_FOR_INTERRUPTS();
	buf = GvHnswPinPage(scan->indexRelation, so->recent, ItemPointerGetBlockNumber(&tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	c = palloc(sizeof(GvHnswCandidate) * so->info->maxTids);
	n = RankElement(so, BufferGetPage(buf), ItemPointerGetBlockNumber(&tid),
					ItemPointerGetOffsetNumber(&tid), c);
	for (int i = 0; i < n; i++)
		GvHnswHeapPush(&so->found, &c[i]);
	UnlockReleaseBuffer(buf);
	pfree(c);
}

/*
 * The next row of a bounded listing: the nearest element read so far, once
 * no unread element's bound is below its distance.
 */
static bool
NextBounded(IndexScanDesc scan, GvHnswCandidate *c)
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;

	for (;;)
	{
		bool		more = so->nlisted > 0;

		if (so->found.count > 0 &&
			(!more || GvHnswHeapTop(&so->found)->dist <= so->listed[0].bound))
		{
			*c = GvHnswHeapPop(&so->found);
			return true;
		}
		if (!more)
			return false;
		ReadNextListed(scan);
	}
}

/*
 * Start a bounded listing: the bounds (on squared L2) in the metric's own
 * scale -- cosine's 1 - dot of unit vectors is half their squared L2 --
 * and the entries a heap on them.
 */
static void
StartBounded(IndexScanDesc scan, GvHnswListed *listed, int n)
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;
	listed_heap unread;

	if (so->info->metric->kind == GV_METRIC_COSINE)
		for (int i = 0; i < n; i++)
			listed[i].bound /= 2;
	listed_attach(&unread, listed, n, n);
	listed_heapify(&unread);
	so->listed = listed;
	so->nlisted = n;
	so->recent = GvHnswGetRecentBuffers(scan->indexRelation);
	GvHnswHeapInit(&so->found, 64, false);
	GvHnswTidSetInit(&so->readListed, 64);
	so->bounded = true;
}

/*
 * A selective filter: if the key directory lists few enough matching
 * elements (ListedExactLimit), rank them exactly: in the order of their
 * distance bounds when the directory holds sketches, reading only those
 * that may come next; else all of them, returned nearest first.  Returns
 * false (nothing done) when the graph is the cheaper way, or the index has
 * no key directory.
 */
static bool
ListFilteredElements(IndexScanDesc scan, GvHnswMetaPageData *meta)
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;
	GvHnswInfo	info = so->info;
	float		qsketch[GV_PROJ_SKETCH];
	GvHnswListed *listed;
	int			n;

	if (meta->keyDirHead == GV_METAPAGE_BLKNO)
		return false;
	GvHnswProjectionLoad(scan->indexRelation, info);
	if (info->projDims > 0)
		GvProjSketch(info->projMean, info->projDirs, info->dim, so->query, qsketch);
	if (!GvHnswKeyDirCollect(scan->indexRelation, info, meta->keyDirHead, &so->filter,
							 ListedExactLimit(scan->indexRelation, info),
							 info->projDims > 0 ? qsketch : NULL, &listed, &n))
		return false;
	so->pos = so->nout = 0;
	so->exhaustive = true;		/* nothing to remember for later batches */
	so->done = true;
	if (info->projDims > 0)
	{
		StartBounded(scan, listed, n);
		return true;
	}
	so->nout = RankListed(scan, listed, n, &so->out);
	pfree(listed);
	if (!GvHnswStorageIsExact(info))
		RerankBatch(scan);		/* exact distances for all, sorted */
	else
		so->sortedEnd = 0;		/* sorted a part at a time, as needed */
	return true;
}

/*
 * Start the search: prepare the query and descend to level 0.
 */
static void
StartScan(IndexScanDesc scan)
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;
	GvHnswInfo	info = so->info;
	GvHnswMetaPageData meta;
	GvHnswCandidate ep;
	bool		ok;

	if (scan->numberOfOrderBys == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("gv_hnsw index scans need an ORDER BY distance"),
				 errhint("Use the index with ORDER BY column <-> value LIMIT k.")));
	if (scan->orderByData[0].sk_flags & SK_ISNULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("cannot order by distance to a null vector"),
				 errhint("Give the query a non-null vector.")));

	so->query = GvHnswPrepareDatum(scan->indexRelation, info,
								   scan->orderByData[0].sk_argument, &ok);
	so->decoded = palloc(sizeof(float) * info->vecFloats);
	so->qbits = GvHnswQueryBits(info, so->query);
	if (!GvFilterPrepare(&info->keys, scan->keyData, scan->numberOfKeys, &so->filter,
						 &so->recheck))
	{
		so->done = true;		/* no row can match (= NULL, IN ()) */
		return;
	}
	/* a zero query under cosine is at distance 1 from everything: any order */

	GvHnswHeapInit(&so->cand, 1024, false);
	GvHnswHeapInit(&so->result, gv_hnsw_ef_search + 1, true);
	GvHnswHeapInit(&so->discard, 256, false);
	GvHnswTidSetInit(&so->visited, gv_hnsw_ef_search * so->info->m * 4);
	GvHnswTidSetInit(&so->returned, 64);
	so->exhaustive = false;
	so->visitedCount = 0;
	so->batchSize = gv_hnsw_ef_search;
	so->graphBound = GraphBound(scan->indexRelation, info, &so->elements);
	so->nout = so->pos = 0;

	GvHnswReadMeta(scan->indexRelation, &meta);
	if (!ItemPointerIsValid(&meta.entry))
	{
		so->done = true;
		return;
	}
	if (so->filter.n > 0 && ListFilteredElements(scan, &meta))
		return;
	GvHnswFindEntry(scan->indexRelation, info, so->query, &meta, 0, &ep);
	GvHnswTidSetAdd(&so->visited, &ep.tid);
	so->visitedCount++;
	GvHnswHeapPush(&so->cand, &ep);

	/*
	 * The entry point is a result unless its flags make it a tombstone or it
	 * fails the filter.  Not its heap TID: an element whose own row died has
	 * none but keeps the rows of its overflow chain.
	 */
	if (ElementMatches(scan, &ep.tid))
		GvHnswHeapPush(&so->discard, &ep);
}

/* Distance, then heap TID: a total order, for batches and the exhaustive pass. */
static int
CompareDistTid(double da, ItemPointer ta, double db, ItemPointer tb)
{
	if (da != db)
		return da < db ? -1 : 1;
	return ItemPointerCompare(ta, tb);
}

static int
CompareCandidatesDistTid(const void *a, const void *b)
{
	const GvHnswCandidate *x = a;
	const GvHnswCandidate *y = b;

	return CompareDistTid(x->dist, (ItemPointer) &x->heaptid, y->dist, (ItemPointer) &y->heaptid);
}

/*
 * Replace the approximate distances of c[0, n) by exact ones from the heap
 * rows; drop rows the scan's snapshot cannot see.  Returns how many are
 * left.
 */
static int
ExactDistances(IndexScanDesc scan, GvHnswCandidate *c, int n)
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;
	MemoryContext old;
	int			keep = 0;

	if (so->rowCtx == NULL)
		so->rowCtx = AllocSetContextCreate(so->ctx, "gv_hnsw scan rows",
										   ALLOCSET_DEFAULT_SIZES);
	for (int i = 0; i < n; i++)
	{
		bool		ok;
		Datum		value;
		float	   *x;

		GvHeapFetchPrefetch(&so->heapFetch, scan, &c[0].heaptid, sizeof(GvHnswCandidate), i, n);
		if (!GvHeapFetchValue(&so->heapFetch, scan, &c[i].heaptid, &value))
			continue;
		old = MemoryContextSwitchTo(so->rowCtx);	/* the detoasted row */
		x = GvHnswPrepareDatum(scan->indexRelation, so->info, value, &ok);
		c[keep] = c[i];
		c[keep++].dist = GvHnswDistance(so->info, so->query, x);
		MemoryContextSwitchTo(old);
		MemoryContextReset(so->rowCtx);
	}
	GvHeapFetchRelease(&so->heapFetch);
	return keep;
}

/*
 * Replace the approximate distances of so->out by exact ones and sort it.
 */
static void
RerankBatch(IndexScanDesc scan)
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;

	so->nout = ExactDistances(scan, so->out, so->nout);
	cand_sort(so->out, so->nout);
}

/* Keep the n best of cands (sorted); returns the new count. */
static int
KeepBest(GvHnswCandidate *cands, int count, int n)
{
	cand_sort(cands, count);
	return Min(count, n);
}

/*
 * Past the graph bound (gigavector.hnsw_max_scan_tuples) the scan falls
 * back to something exact: each batch reads every element page and keeps
 * the HNSW_EXHAUSTIVE_BATCH nearest elements that pass the filter, come after the
 * last one handed out in (distance, heap TID) order, and were not handed
 * out by the graph phase.  So a query whose filter matches
 * rows far from the query still gets k rows, in exact order from here on.
 */
#define HNSW_EXHAUSTIVE_BATCH	1000

/*
 * Add c to the exhaustive batch being collected if it comes after the last
 * element handed out (the graph phase's rows are already left out).
 */
static void
CollectCandidate(GvHnswScanOpaque so, GvHnswCandidate *c, GvHnswCandidate *cands,
				 int *count, int cap, int batch)
{
	if (ItemPointerIsValid(&so->lastTid) ?
		CompareDistTid(c->dist, &c->heaptid, so->lastDist, &so->lastTid) <= 0 :
		c->dist < so->lastDist)
		return;
	if (*count == cap)
		*count = KeepBest(cands, *count, batch);
	cands[(*count)++] = *c;
}

/*
 * The exact pass reads the index's own pages, not the table: index
 * entries carry the TIDs the executor expects (HOT chain roots), cover
 * exactly the rows a partial index holds, and hold the filter columns.
 *
 * Under float16, int8 or binary storage every distance is computed from
 * the heap row before it is compared with the cursor.  The cursor of a
 * pass must be in the order rows are handed out: with a pass's cursor in
 * quantized order, a row the next pass found (quantized distance past the
 * cursor) could be exactly nearer than rows already handed out and was
 * skipped, a few rows of every thousand.
 */
static int
CollectFromIndex(IndexScanDesc scan, GvHnswCandidate *cands, int cap, int batch)
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	GvHnswRecentBuffers recent = GvHnswGetRecentBuffers(index);
	bool		exact = GvHnswStorageIsExact(so->info);
	GvHnswCandidate *onPage = palloc(sizeof(GvHnswCandidate) * HNSW_PAGE_TIDS);
	int			count = 0;

	/*
	 * Pins through the memo of recent buffers: the buffer mapping lookup of
	 * ReadBuffer was an eighth of a query's time when a filter the index does
	 * not see sent it here.
	 */
	for (BlockNumber blkno = GV_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf = GvHnswPinPage(index, recent, blkno);
		Page		page;
		int			n = 0;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (!PageIsNew(page) && (GvPageGetOpaque(page)->flags & HNSW_PAGE_ELEMENT))
		{
			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			{
				int			end = n + RankElement(so, page, blkno, off, &onPage[n]);

				for (int i = n; i < end; i++)
					if (!GvHnswTidSetContains(&so->returned, &onPage[i].heaptid))
						onPage[n++] = onPage[i];
			}
		}
		UnlockReleaseBuffer(buf);	/* before the heap is read */
		if (!exact)
			n = ExactDistances(scan, onPage, n);
		for (int i = 0; i < n; i++)
			CollectCandidate(so, &onPage[i], cands, &count, cap, batch);
	}
	pfree(onPage);
	return count;
}

/*
 * Rows an exhaustive pass may keep: both halves of its collection array
 * (2 * batch candidates) within work_mem.
 */
static double
ExhaustiveCapacity(void)
{
	return Max((double) HNSW_EXHAUSTIVE_BATCH,
			   work_mem * 1024.0 / (2 * sizeof(GvHnswCandidate)));
}

/*
 * One exact pass: the so->exhaustiveBatch nearest elements after the
 * cursor (lastDist, lastTid), handed out nearest first.  The first pass
 * keeps every element when work_mem allows, so that a filter rejecting
 * row after row reads the index once; the batch is sorted a part at a
 * time as the executor asks (SortNextListed).
 */
static void
ExhaustiveBatch(IndexScanDesc scan)
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;
	int			batch = so->exhaustiveBatch;
	int			cap = 2 * batch;
	GvHnswCandidate *cands = palloc(sizeof(GvHnswCandidate) * cap);
	int			count;

	count = CollectFromIndex(scan, cands, cap, batch);
	if (count > batch)
	{
		cand_select(cands, count, batch);
		count = batch;
	}
	if (so->out)
		pfree(so->out);
	so->out = cands;
	so->nout = count;
	so->pos = 0;
	if (count < batch)
		so->done = true;
	so->exhaustiveBatch = (int) Min((double) batch * 2, ExhaustiveCapacity());
	if (count > 0)
	{
		/* the cursor: the farthest element kept */
		GvHnswCandidate *last = &cands[0];

		for (int i = 1; i < count; i++)
			if (CompareCandidatesDistTid(&cands[i], last) > 0)
				last = &cands[i];
		so->lastDist = last->dist;
		so->lastTid = last->heaptid;
		so->sortedEnd = 0;		/* sorted a part at a time, as needed */
	}
}

static void
StartExhaustive(IndexScanDesc scan)
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;

	double		rows = scan->indexRelation->rd_rel->reltuples;

	so->exhaustive = true;
	/* all of a table that work_mem holds in one pass, else 1,000 at first */
	so->exhaustiveBatch = (int) (rows > 0 && rows * 1.1 + 1000 <= ExhaustiveCapacity() ?
								 rows * 1.1 + 1000 : HNSW_EXHAUSTIVE_BATCH);

	/*
	 * On from the distance of the last row handed out: nearer ones would come
	 * out of order.  Rows at that very distance not handed out yet (ties,
	 * which the graph met in any TID order) still may.
	 */
	so->lastDist = so->outDist;
	ItemPointerSetInvalid(&so->lastTid);
	ExhaustiveBatch(scan);
}

#define HNSW_SEARCH_STEP	2000

/*
 * Search the graph for a batch of ef (so->result); true if the batch
 * cannot fill within gigavector.hnsw_max_scan_tuples visits.
 */
static bool
SearchBatch(IndexScanDesc scan, int ef)
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;
	int64		bound = so->graphBound;
	int64		start = so->visitedCount;

	for (;;)
	{
		int64		stepEnd = Min(so->visitedCount + HNSW_SEARCH_STEP, bound);
		double		rate;

		GvHnswSearchLayerDisk(scan->indexRelation, so->info, so->query, &so->cand,
							  &so->result, &so->discard, &so->visited, ef, 0,
							  so->filter.n > 0 ? &so->filter : NULL,
							  &so->visitedCount, stepEnd);
		if (so->visitedCount >= bound)
			return true;
		if (so->visitedCount < stepEnd)
			return false;		/* the search finished */

		/*
		 * The step ended, not the search: go on.  (Without a filter this
		 * returned here, so every unfiltered search stopped after one step,
		 * 2,000 visits: at 1M rows recall@10 stayed at 0.9985 from ef_search
		 * 200 up.)  With a filter, first project the matches per visit so far
		 * in this batch to a full batch.
		 */
		if (so->filter.n == 0)
			continue;
		rate = (so->result.count + 1.0) / (double) (so->visitedCount - start);
		if (so->result.count < ef &&
			so->visitedCount + (ef - so->result.count) / rate > (double) bound)
			return true;
	}
}

/*
 * One row in so->out for each heap TID of the elements that have an
 * overflow chain (read again from their pages: the search keeps only the
 * first TID), in the element's place.  A row held back and found
 * again in a later batch is one already.  Overflow tuples are not graph
 * elements, so only this finds their rows in the graph phase; the exact
 * pass reads them as it reads every element.
 */
static void
ExpandBatch(IndexScanDesc scan)
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;
	GvHnswInfo	info = so->info;
	Relation	index = scan->indexRelation;
	int			cap = so->nout + 16;
	GvHnswCandidate *out;
	GvHnswElementTuple tup;
	int			n = 0;
	bool		any = false;

	for (int i = 0; i < so->nout && !any; i++)
		any = so->out[i].toastid == HNSW_TOASTID_EXPAND;
	if (!any)
		return;
	out = palloc(sizeof(GvHnswCandidate) * cap);
	tup = palloc(GvHnswTupleSize(info->dataBytes, info->m, info->maxLevel));
	for (int i = 0; i < so->nout; i++)
	{
		ItemPointerData tid = so->out[i].tid;
		int64		hops = 0;

		ReserveCandidates(&out, &cap, n, 1);
		if (so->out[i].toastid != HNSW_TOASTID_EXPAND)
		{
			out[n++] = so->out[i];
			continue;
		}
		/* gone or changed since (VACUUM): its TIDs as they are now */
		if (!GvHnswGetElementCopy(index, info, &tid, tup))
			continue;
		for (;;)
		{
			ReserveCandidates(&out, &cap, n, info->maxTids);
			out[n] = so->out[i];
			n += ExpandElement(info, tup, &tid, &out[n]);
			tid = tup->overflow;
			if (!ItemPointerIsValid(&tid) || ++hops > so->elements * 2 + 1000)
				break;			/* the end, or a corrupt chain that loops */
			GvHnswGetElementCopy(index, info, &tid, tup);
			if (!(tup->flags & HNSW_ELEMENT_OVERFLOW))
				break;
		}
	}
	pfree(so->out);
	so->out = out;
	so->nout = n;
	pfree(tup);
}

/*
 * A batch's farther half is where a wider search most often finds nearer
 * elements it missed, so unless the graph has nothing left to expand it
 * goes back to the discard heap, to seed the next (wider) batch, and only
 * the nearer half is handed out.  Without this, batch after batch handed
 * out its tail and the next one found rows nearer than it: under a filter
 * the index does not see (WHERE a column not in it), 0.82 recall@20.
 */
static void
HoldBackFarHalf(GvHnswScanOpaque so)
{
	int			keep;

	if (so->cand.count == 0 || so->nout < 2)
		return;
	keep = (so->nout + 1) / 2;
	for (int i = keep; i < so->nout; i++)
		GvHnswHeapPush(&so->discard, &so->out[i]);
	so->nout = keep;
}

/*
 * The graph phase hands out at most HNSW_GRAPH_ROWS (hnsw.h) * ef_search
 * rows, and no batch whose search would visit about as many elements as
 * the exact pass reads (a small table); a scan whose executor still wants more (a filter the index does not see
 * rejects most of them) goes on with the exact pass.  The graph is
 * reliable near the query, less so farther out: between clusters it can
 * hand out rows of the query's own cluster while nearer rows of the next
 * one are still undiscovered, and those are lost once rows farther than
 * them are out (recall@10 0.86 on well separated clusters, a filter for
 * another cluster, before this bound).
 */
/*
 * Produce the next batch in so->out, nearest first.
 */
static void
NextBatch(IndexScanDesc scan)
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;
	int			ef = so->batchSize;

	if (so->visitedCount >= so->graphBound ||
		so->handedOut + ef / 2 > (int64) HNSW_GRAPH_ROWS * gv_hnsw_ef_search ||
		so->visitedCount + HNSW_ROW_VISITS * ef >= so->elements)
	{
		StartExhaustive(scan);
		return;
	}
	so->result.count = 0;
	while (so->discard.count > 0 && so->result.count < ef)
	{
		GvHnswCandidate c = GvHnswHeapPop(&so->discard);

		GvHnswHeapPush(&so->result, &c);
	}

	/*
	 * Search in steps: between them, a filter whose matches turn up so rarely
	 * that the batch could not fill within the bound is given up on early. If
	 * the bound is reached (or would be) before a full batch was found, the
	 * graph does not lead to enough matching elements near the query (a
	 * filter that matches rows far from it): rather than hand out a poor
	 * partial batch, go exact now; nothing found so far is lost, as none of
	 * it was returned.
	 */
	if (SearchBatch(scan, ef) && so->result.count < ef)
	{
		so->result.count = 0;
		StartExhaustive(scan);
		return;
	}

	so->nout = so->result.count;
	so->pos = 0;
	if (so->out)
		pfree(so->out);
	so->out = palloc(sizeof(GvHnswCandidate) * Max(so->nout, 1));
	for (int i = so->nout - 1; i >= 0; i--)
		so->out[i] = GvHnswHeapPop(&so->result);
	ExpandBatch(scan);
	/* quantized storage: hold back the half that is farther exactly */
	if (so->nout > 0 && !GvHnswStorageIsExact(so->info))
		RerankBatch(scan);
	HoldBackFarHalf(so);
	if (so->nout == 0)
	{
		/*
		 * The bound was reached, or the graph is exhausted: go exact.  An
		 * exhausted graph may still miss live elements that concurrent
		 * inserts left unreachable (until VACUUM repairs their links), so the
		 * executor still gets every row it asks for.
		 */
		StartExhaustive(scan);
	}
	so->batchSize = Min(so->batchSize * 2, 10000);
}

/*
 * Can the executor's own evaluation of the ORDER BY distance take ours from
 * the distance memo?  When the index holds the exact vectors and the
 * metric's distance is a memoised kernel's result: L2 and inner product.
 * Cosine ranks normalised copies, whose arithmetic differs from the
 * operator's in the last bits.
 */
static void
PrepareMemo(IndexScanDesc scan)
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;
	GvMetricKind kind = so->info->metric->kind;

	so->memoise = so->info->storage == HNSW_STORAGE_FLOAT &&
		so->info->metric->type == GV_TYPE_GVECTOR &&
		(kind == GV_METRIC_L2 || kind == GV_METRIC_IP) &&
		OidIsValid(scan->heapRelation->rd_rel->reltoastrelid);
	so->memoKernel = kind == GV_METRIC_L2 ? GV_MEMO_L2SQ : GV_MEMO_IP;
}

/* Hand out row c: its heap TID, and its distance to the memo. */
static bool
ReturnRow(IndexScanDesc scan, const GvHnswCandidate *c)
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;

	scan->xs_heaptid = c->heaptid;
	scan->xs_recheck = so->recheck;
	scan->xs_recheckorderby = false;
	if (so->memoise)
		GvDistanceMemoPut(scan->heapRelation->rd_rel->reltoastrelid, c->toastid,
						  so->memoKernel, scan->orderByData[0].sk_argument,
						  so->memoKernel == GV_MEMO_IP ? -c->dist : c->dist);
	return true;
}

bool
gvhnswgettuple(IndexScanDesc scan, ScanDirection dir pg_attribute_unused())
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;
	MemoryContext old = MemoryContextSwitchTo(so->ctx);

	if (!so->started)
	{
		so->out = NULL;
		so->sortedEnd = INT_MAX;	/* only the listed path sorts lazily */
		so->bounded = false;
		so->outDist = -get_float8_infinity();
		ItemPointerSetInvalid(&so->outTid);
		so->skipped = so->handedOut = 0;
		StartScan(scan);
		PrepareMemo(scan);
		so->started = true;
		pgstat_count_index_scan(scan->indexRelation);
	}
	if (so->bounded)
	{
		GvHnswCandidate c;
		bool		found = NextBounded(scan, &c);

		MemoryContextSwitchTo(old);
		if (!found)
		{
			GvDistanceMemoForget();
			return false;
		}
		return ReturnRow(scan, &c);
	}
	for (;;)
	{
		GvHnswCandidate *c;

		while (so->pos >= so->nout && !so->done)
		{
			if (so->exhaustive)
				ExhaustiveBatch(scan);
			else
				NextBatch(scan);
		}
		if (so->pos == so->sortedEnd && so->sortedEnd < so->nout)
			SortNextListed(so);
		if (so->pos >= so->nout)
		{
			MemoryContextSwitchTo(old);
			GvDistanceMemoForget();
			return false;
		}
		c = &so->out[so->pos++];
		if (c->dist < so->outDist)
		{
			so->skipped++;		/* found late: nearer than a row handed out */
			continue;
		}
		so->outDist = c->dist;
		so->outTid = c->heaptid;
		so->handedOut++;
		if (!so->exhaustive)
			GvHnswTidSetAdd(&so->returned, &c->heaptid);
		MemoryContextSwitchTo(old);
		return ReturnRow(scan, c);
	}
}

void
gvhnswendscan(IndexScanDesc scan)
{
	GvHnswScanOpaque so = (GvHnswScanOpaque) scan->opaque;

	if (so->started)
		elog(DEBUG1, "gv_hnsw scan: %lld rows handed out, %lld skipped out of order, "
			 "%lld graph visits%s",
			 (long long) so->handedOut, (long long) so->skipped,
			 (long long) so->visitedCount, so->exhaustive ? ", exact pass" : "");
	GvHeapFetchEnd(&so->heapFetch);
	GvDistanceMemoForget();
	MemoryContextDelete(so->ctx);
	pfree(so);
	scan->opaque = NULL;
}
