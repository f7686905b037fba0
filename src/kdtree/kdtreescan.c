/*
 * kdtreescan.c
 *	  Exact, incremental k-NN scans of a gv_kdtree index.
 *
 * The scan is best-first (Hjaltason and Samet's incremental nearest
 * neighbour): a priority queue holds subtrees, keyed by a lower bound on
 * the distance from the query to their cell, and points, keyed by their
 * distance.  Popping a point returns it; popping a subtree descends it,
 * going to the near side of each split at once and queueing the far side
 * with a bound updated incrementally from the per-dimension offsets of the
 * cell (Arya and Mount), and queues the points of the leaf it reaches.
 * Rows therefore come out in distance order for as long as the executor
 * asks, so WHERE filters and any LIMIT get exact answers.
 *
 * The queue is two binary heaps, one of points (16 bytes each) and one of
 * subtrees, plus an arena of leaf points not yet worth a heap push: a leaf
 * page holds hundreds of points of which a LIMIT 10 query needs a handful,
 * so only those that can come out before the next subtree is expanded are
 * pushed, and the rest wait in the arena as one queued run (SplitRun).
 *
 * Exactness against the SQL operators.  For L2 the index computes the very
 * value the operator computes (the same kernel on the same floats), so it
 * returns that value without a recheck and the executor passes rows on at
 * once.  Where the operator's float sum overflows (it then falls back to
 * double) and for cosine (computed from unit vectors here but from raw ones
 * there) the scan hands the executor a guaranteed lower bound (shrunk by a
 * rounding margin derived from the dimension) with xs_recheckorderby set:
 * the executor recomputes the exact value and, through its reorder queue,
 * returns rows in the operator's exact order.  Cell bounds are shrunk by a
 * larger margin than points, so a subtree never sorts after a point it
 * contains.
 *
 * A zero cosine query (at distance 1 from everything), and any cosine query
 * on an index built when near-zero vectors were stored raw
 * (KDTREE_META_HAS_TINY), is answered exhaustively: every point comes back
 * with bound 0 and the executor sorts.
 */
#include "compat.h"

#include <float.h>
#include <math.h>

#include "access/relscan.h"
#include "distance.h"
#include "kdtree.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/float.h"
#include "utils/memutils.h"

/* A queued point: its ordering key and heap TID. */
typedef struct ScanPointData
{
	double		key;			/* squared L2 (or L1, cosine) distance, or a
								 * bound */
	ItemPointerData tid;
	bool		exact;			/* key is exactly the SQL operator's value */
} ScanPointData;

/* A queued subtree, or a run of deferred points in the arena. */
typedef struct ScanNodeData
{
	double		key;			/* lower bound, in ordering units */
	double		rawb;			/* subtree: squared L2 (L1: L1) bound of its
								 * cell */
	XLogRecPtr	seen;			/* subtree: LSN of the page that pointed here */
	KdtreeRef	ref;			/* subtree */
	int32		slot;			/* subtree: its cell offsets, or -1 */
	bool		isrun;			/* a run of deferred points, not a subtree */
	int32		runstart;		/* run: its points in the arena */
	int32		runcount;
	int32		runpasses;		/* run: how often it was split already */
} ScanNodeData;

/* Points by (key, TID), so that equal distances come out stably. */
static inline bool
PointLess(const ScanPointData *a, const ScanPointData *b)
{
	if (a->key != b->key)
		return a->key < b->key;
	return ItemPointerCompare((ItemPointer) &a->tid, (ItemPointer) &b->tid) < 0;
}

/* The two queues: min-heaps of points and of subtrees and runs (gvheap.h) */
#define GV_HEAP_PREFIX		pointq
#define GV_HEAP_ELEMENT		ScanPointData
#define GV_HEAP_LESS(a, b)	PointLess((a), (b))
#include "gvheap.h"

#define GV_HEAP_PREFIX		nodeq
#define GV_HEAP_ELEMENT		ScanNodeData
#define GV_HEAP_LESS(a, b)	((a)->key < (b)->key)
#include "gvheap.h"

typedef struct KdtreeScanOpaqueData
{
	GvMetric	metric;
	bool		started;
	bool		flat;			/* exhaustive: every key 0 */
	bool		nullquery;
	int			dim;
	float	   *query;			/* in index space, KDTREE_MAX_DIM floats */

	double		gamma;			/* relative rounding margin */
	double		tiny;			/* absolute margin for subnormals */
	double		cosslack;		/* absolute margin of cosine */

	/* the two heaps and the arena; their arrays are kept across rescans */
	pointq_heap points;
	nodeq_heap	nodes;
	ScanPointData *run;
	int32		nrun;
	int32		maxrun;

	/* per-subtree cell offsets, dim doubles each, with a free list */
	double	   *offsets;
	int			slotdim;		/* the dim offsets was allocated for */
	int			nslots;
	int			maxslots;
	int32	   *freeslots;
	int			nfree;

	Datum		querydatum;		/* detoasted copy, or 0 */
	MemoryContext scanctx;		/* lives as long as the scan */
} KdtreeScanOpaqueData;

typedef KdtreeScanOpaqueData *KdtreeScanOpaque;

/* how often a run of deferred points is split before it is pushed whole */
#define KDTREE_RUN_PASSES	8

#define SlotOffsets(so, s)	((so)->offsets + (int64) (s) * (so)->dim)

/* Push a point. */
static inline void
PointPush(KdtreeScanOpaque so, double key, ItemPointer tid, bool exact)
{
	ScanPointData p = {key, *tid, exact};

	pointq_push(&so->points, &p);
}

static void
PointPop(KdtreeScanOpaque so, ScanPointData *out)
{
	*out = pointq_pop(&so->points);
}

static void
NodePush(KdtreeScanOpaque so, const ScanNodeData *item)
{
	nodeq_push(&so->nodes, item);
}

static void
NodePop(KdtreeScanOpaque so, ScanNodeData *out)
{
	*out = nodeq_pop(&so->nodes);
}

static int32
SlotAlloc(KdtreeScanOpaque so)
{
	if (so->nfree > 0)
		return so->freeslots[--so->nfree];
	if (so->nslots == so->maxslots)
	{
		so->maxslots *= 2;
		so->offsets = repalloc_huge(so->offsets,
									sizeof(double) * so->dim * so->maxslots);
		so->freeslots = repalloc_huge(so->freeslots, sizeof(int32) * so->maxslots);
	}
	return so->nslots++;
}

static void
SlotFree(KdtreeScanOpaque so, int32 slot)
{
	if (slot >= 0)
		so->freeslots[so->nfree++] = slot;
}

/*
 * Ordering key of a subtree whose cell is at squared L2 distance b.
 */
static inline double
NodeKey(KdtreeScanOpaque so, double b)
{
	double		key;

	if (so->flat)
		return 0;
	if (so->metric->kind == GV_METRIC_COSINE)
		key = b / 2 - so->cosslack - 4 * so->gamma - so->tiny;
	else
		key = b * (1 - 3 * so->gamma) - so->tiny;
	return Max(key, 0.0);
}

/*
 * GvL2SquaredDistance for one or two dimensions, inlined, bit for bit: every
 * kernel tier computes each lane's difference and its square with one
 * rounding each (an FMA into a zero accumulator rounds once too) and adds
 * exact zeros for the unused lanes, so the result is fl(fl(d0^2) + fl(d1^2))
 * whatever the order of its additions.  Where the compiler may contract
 * a * b + c into an FMA (__FMA__ in this build's flags), the scalar tier's
 * second term could round differently, so the kernel is called instead.
 */
static inline float
L2SquaredTiny(const float *a, const float *b, int dim)
{
	float		d0 = a[0] - b[0];
	float		s0 = d0 * d0;
	float		d1;
	float		s1;

	if (dim == 1)
		return s0;
	d1 = a[1] - b[1];
	s1 = d1 * d1;
	return s0 + s1;
}

#ifdef __FMA__
#define KDTREE_INLINE_MAX_DIM	0
#else
#define KDTREE_INLINE_MAX_DIM	2
#endif

/*
 * Ordering key of a leaf tuple: for L2, the squared distance the SQL
 * operator computes itself (*exact); for cosine a lower bound.
 */
static inline double
PointKey(KdtreeScanOpaque so, KdtreeLeafTuple tup, bool *exact)
{
	float		d;
	double		key;

	*exact = false;
	if (so->flat)
		return 0;
	if (so->metric->kind == GV_METRIC_COSINE)
	{
		if (tup->flags & KDTREE_TUPLE_ZERO)
			return 1.0;
		d = GvL2SquaredDistance(so->query, tup->x, so->dim);
		key = (double) d / 2 - so->cosslack;
		return Max(key, 0.0);
	}

	/*
	 * L1: the operator computes GvSafeL1(emb, q), the same kernel on the same
	 * floats, and |a - b| == |b - a|: the very value.
	 */
	if (so->metric->kind == GV_METRIC_L1)
	{
		*exact = true;
		return GvSafeL1(so->query, tup->x, so->dim);
	}

	/*
	 * The operator computes GvSafeL2Squared(emb, q): the same kernel on the
	 * same floats (index space is the raw vector for L2), a kernel's result
	 * depends only on the values, with (a - b)^2 == (b - a)^2, and so does
	 * the double pass where float would overflow or underflow (distance.h).
	 */
	*exact = true;
	if (so->dim > KDTREE_INLINE_MAX_DIM)
		return GvSafeL2Squared(GvL2SquaredDistance, so->query, tup->x, so->dim);
	d = L2SquaredTiny(so->query, tup->x, so->dim);
	if (GV_LIKELY(GvFloatSumTrusted(d)))
		return d;
	return GvL2SquaredDistanceDouble(so->query, tup->x, so->dim);
}

/*
 * Queue the points arena[start..start+count), whose smallest key is min, as
 * one run, after passes splits.
 */
static void
QueueRun(KdtreeScanOpaque so, int32 start, int32 count, double min,
		 int32 passes)
{
	ScanNodeData item = {0};

	if (count == 0)
		return;
	item.key = min;
	item.isrun = true;
	item.runstart = start;
	item.runcount = count;
	item.runpasses = passes;
	NodePush(so, &item);
}

/*
 * The key up to which points go to the point heap rather than wait in the
 * arena: the next subtree's or run's.  Only points below it can come out
 * before another subtree is expanded.  A 2-D leaf holds ~370 points of
 * which a LIMIT 10 query needs a handful, and heap pushes of random keys
 * mispredict while appends to the arena do not.
 */
static inline double
PushLimit(KdtreeScanOpaque so)
{
	return so->nodes.count > 0 ? so->nodes.items[0].key : HUGE_VAL;
}

/*
 * Split a run popped from the queue the same way.  A run split
 * KDTREE_RUN_PASSES times is pushed whole, so that a scan reading on and
 * on looks at each point a bounded number of times.
 */
static void
SplitRun(KdtreeScanOpaque so, int32 start, int32 count, int32 passes)
{
	double		limit = passes < KDTREE_RUN_PASSES ? PushLimit(so) : HUGE_VAL;
	double		min = HUGE_VAL;
	int32		keep = start;

	for (int32 i = start; i < start + count; i++)
	{
		ScanPointData *p = &so->run[i];

		if (p->key <= limit)
			PointPush(so, p->key, &p->tid, p->exact);
		else
		{
			so->run[keep++] = *p;
			min = Min(min, p->key);
		}
	}
	QueueRun(so, start, keep - start, min, passes + 1);
	/* the arena's tail is free again if this run was last */
	if (start + count == so->nrun)
		so->nrun = keep;
}

/*
 * Queue every point of a leaf page (to the point heap or the arena), and
 * the leaf's right siblings when it split after the page that pointed to
 * it was read.
 */
static void
ScanLeaf(IndexScanDesc scan, BlockNumber blkno, double b, int32 slot,
		 XLogRecPtr seen)
{
	KdtreeScanOpaque so = (KdtreeScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	Buffer		buf = ReadBuffer(index, blkno);
	Page		page;
	OffsetNumber maxoff;
	BlockNumber right;
	int32		start = so->nrun;
	double		limit;
	double		min = HUGE_VAL;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	GvCheckPage(index, page, blkno, GV_PAGE_ID_KDTREE);
	if (!(GvPageGetOpaque(page)->flags & KDTREE_LEAF))
		elog(ERROR, "gv_kdtree index \"%s\": block %u is not a leaf",
			 RelationGetRelationName(index), blkno);

	right = GvPageGetOpaque(page)->nextblkno;
	if (seen <= KdtreeGetLeafHeader(page)->nsn && right != InvalidBlockNumber)
	{
		/* split since we read the pointer: the sibling shares our cell */
		ScanNodeData item = {0};

		item.rawb = b;
		item.key = NodeKey(so, b);
		item.seen = seen;
		item.ref.blkno = right;
		item.ref.offnum = InvalidOffsetNumber;
		item.ref.unused = 0;
		item.slot = slot;
		item.isrun = false;
		NodePush(so, &item);
		slot = -1;
	}

	maxoff = PageGetMaxOffsetNumber(page);
	if (so->nrun + maxoff > so->maxrun)
	{
		so->maxrun = Max(so->maxrun * 2, so->nrun + maxoff);
		so->run = repalloc_huge(so->run, sizeof(ScanPointData) * so->maxrun);
	}
	limit = PushLimit(so);
	for (OffsetNumber off = KDTREE_FIRST_TUPLE_OFF; off <= maxoff; off++)
	{
		KdtreeLeafTuple tup = (KdtreeLeafTuple) PageGetItem(page, PageGetItemId(page, off));
		bool		exact;
		double		key = PointKey(so, tup, &exact);

		if (key <= limit)
			PointPush(so, key, &tup->heaptid, exact);
		else
		{
			ScanPointData *p = &so->run[so->nrun++];

			p->key = key;
			p->tid = tup->heaptid;
			p->exact = exact;
			min = Min(min, key);
		}
	}
	UnlockReleaseBuffer(buf);
	SlotFree(so, slot);
	pgstat_count_index_tuples(index, 0);
	QueueRun(so, start, so->nrun - start, min, 1);
}

/*
 * Queue the far side of a node, whose near side the caller walks down into.
 * The far cell's offset on the node's dimension grows to the query's
 * distance from the split (Arya and Mount's incremental distance).
 */
static void
QueueFarSide(KdtreeScanOpaque so, KdtreeNode node, double b, int32 slot,
			 XLogRecPtr seen, bool *goleft)
{
	ScanNodeData far = {0};
	double		diff;
	double		fo;
	double	   *off;

	far.seen = seen;
	far.isrun = false;
	if (so->flat)
	{
		far.key = far.rawb = 0;
		far.slot = -1;
		far.ref = node->right;
		NodePush(so, &far);
		*goleft = true;
		return;
	}
	diff = (double) so->query[node->dim] - (double) node->split;
	far.slot = SlotAlloc(so);
	/* SlotAlloc may have moved the arena: take the parent's offsets after */
	off = SlotOffsets(so, slot);
	fo = Max(fabs(diff), off[node->dim]);
	memcpy(SlotOffsets(so, far.slot), off, sizeof(double) * so->dim);
	SlotOffsets(so, far.slot)[node->dim] = fo;
	/* the cell's bound is the norm of its offsets: L1's sum, or L2's squares */
	if (so->metric->kind == GV_METRIC_L1)
		far.rawb = b - off[node->dim] + fo;
	else
		far.rawb = b - off[node->dim] * off[node->dim] + fo * fo;
	far.key = NodeKey(so, far.rawb);
	*goleft = diff <= 0;
	far.ref = *goleft ? node->right : node->left;
	NodePush(so, &far);
}

/*
 * Expand a queued subtree: walk down its near side, queueing far sides,
 * then queue the points of the leaf reached.
 */
static void
ExpandSubtree(IndexScanDesc scan, const ScanNodeData *item)
{
	KdtreeScanOpaque so = (KdtreeScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	KdtreeRef	ref = item->ref;
	XLogRecPtr	seen = item->seen;

	while (!KdtreeRefIsLeaf(ref))
	{
		Buffer		buf = ReadBuffer(index, ref.blkno);
		Page		page;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		GvCheckPage(index, page, ref.blkno, GV_PAGE_ID_KDTREE);
		seen = PageGetLSN(page);
		do
		{
			KdtreeNode	node;
			bool		goleft;

			if (ref.offnum > PageGetMaxOffsetNumber(page))
				elog(ERROR, "gv_kdtree index \"%s\" has a dangling node reference",
					 RelationGetRelationName(index));
			node = (KdtreeNode) PageGetItem(page, PageGetItemId(page, ref.offnum));
			QueueFarSide(so, node, item->rawb, item->slot, seen, &goleft);
			ref = goleft ? node->left : node->right;
		} while (!KdtreeRefIsLeaf(ref) && ref.blkno == BufferGetBlockNumber(buf));
		UnlockReleaseBuffer(buf);
	}
	ScanLeaf(scan, ref.blkno, item->rawb, item->slot, seen);
}

/*
 * Allocate the queues on a scan's first start and empty them on later
 * ones: a rescan (a nested loop's inner side) reuses the arrays.
 */
static void
ResetQueues(KdtreeScanOpaque so)
{
	if (so->points.items == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(so->scanctx);

		pointq_init_alloc(&so->points, 1024);
		nodeq_init_alloc(&so->nodes, 256);
		MemoryContextSwitchTo(old);
		so->maxrun = 1024;
		so->run = MemoryContextAlloc(so->scanctx, sizeof(ScanPointData) * so->maxrun);
	}
	if (so->offsets == NULL || so->slotdim != so->dim)
	{
		if (so->offsets)
		{
			pfree(so->offsets);
			pfree(so->freeslots);
		}
		so->maxslots = 256;
		so->offsets = MemoryContextAlloc(so->scanctx,
										 sizeof(double) * so->dim * so->maxslots);
		so->freeslots = MemoryContextAlloc(so->scanctx, sizeof(int32) * so->maxslots);
		so->slotdim = so->dim;
	}
	so->points.count = so->nodes.count = so->nrun = 0;
	so->nslots = so->nfree = 0;
}

/*
 * What an L2 scan needs from the metapage, kept in rd_amcache once the
 * root is an internal node.  From then on nothing changes it: the root
 * node's item never moves (splits below it rewrite child references, and
 * pages are never freed), the dimensions are fixed, and the metapage flags
 * matter to cosine scans only.  A new relfilenode (REINDEX, TRUNCATE)
 * comes with a relcache flush, which frees rd_amcache.
 */
typedef struct KdtreeScanCacheData
{
	KdtreeRef	root;
	int			dim;
} KdtreeScanCacheData;

/*
 * Read the metapage, or its cached part: the root (with the metapage LSN,
 * which a root leaf needs for the split protocol), dimensions and flags.
 */
static void
GetScanMeta(IndexScanDesc scan, KdtreeMetaPageData *meta, XLogRecPtr *metalsn)
{
	KdtreeScanOpaque so = (KdtreeScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	KdtreeScanCacheData *cache = (KdtreeScanCacheData *) index->rd_amcache;

	if (cache != NULL && so->metric->kind == GV_METRIC_L2)
	{
		memset(meta, 0, sizeof(*meta));
		meta->root = cache->root;
		meta->header.dimensions = cache->dim;
		*metalsn = InvalidXLogRecPtr;
		return;
	}
	KdtreeReadMeta(index, meta, metalsn);
	if (so->metric->kind == GV_METRIC_L2 &&
		meta->root.blkno != InvalidBlockNumber && !KdtreeRefIsLeaf(meta->root))
	{
		cache = MemoryContextAlloc(index->rd_indexcxt, sizeof(KdtreeScanCacheData));
		cache->root = meta->root;
		cache->dim = meta->header.dimensions;
		index->rd_amcache = cache;
	}
}

/*
 * First call: read the metapage, prepare the query, queue the root.
 */
static void
StartScan(IndexScanDesc scan)
{
	KdtreeScanOpaque so = (KdtreeScanOpaque) scan->opaque;
	KdtreeMetaPageData meta;
	XLogRecPtr	metalsn;
	ScanNodeData root = {0};
	int			n;

	so->started = true;
	so->points.count = so->nodes.count = 0;
	GetScanMeta(scan, &meta, &metalsn);
	if (meta.root.blkno == InvalidBlockNumber)
		return;
	so->dim = n = meta.header.dimensions;
	so->gamma = 2.0 * (n + 4) * FLT_EPSILON;
	so->tiny = 4.0 * (n + 4) * FLT_TRUE_MIN;
	so->cosslack = 8.0 * (n + 8) * FLT_EPSILON;

	so->flat = so->nullquery;
	if (!so->nullquery)
	{
		int			qdim;
		float	   *q = GvMetricDatumToFloats(so->metric, so->querydatum, &qdim);

		if (qdim != so->dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different %s dimensions %d and %d",
							GvMetricTypeName(so->metric), so->dim, qdim)));
		memcpy(so->query, q, sizeof(float) * n);
		pfree(q);
		if (so->metric->kind == GV_METRIC_COSINE &&
			(!GvMetricPrepareVector(so->metric, so->query, n) ||
			 (meta.flags & KDTREE_META_HAS_TINY)))
			so->flat = true;
	}

	ResetQueues(so);
	root.ref = meta.root;
	root.seen = metalsn;
	root.rawb = 0;
	root.key = 0;
	root.slot = -1;
	root.isrun = false;
	if (!so->flat)
	{
		root.slot = SlotAlloc(so);
		memset(SlotOffsets(so, root.slot), 0, sizeof(double) * n);
	}
	NodePush(so, &root);
}

IndexScanDesc
kdtreebeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	KdtreeScanOpaque so = palloc0(sizeof(KdtreeScanOpaqueData));

	so->metric = GvIndexGetMetric(index, 1);
	KdtreeCheckMetric(index, so->metric);
	so->scanctx = AllocSetContextCreate(CurrentMemoryContext,
										"gv_kdtree scan context",
										ALLOCSET_DEFAULT_SIZES);
	so->query = MemoryContextAlloc(so->scanctx, sizeof(float) * KDTREE_MAX_DIM);
	so->nullquery = true;
	scan->opaque = so;
	/* the executor reads the distances here; the AM allocates them */
	scan->xs_orderbyvals = palloc0(sizeof(Datum) * Max(norderbys, 1));
	scan->xs_orderbynulls = palloc(sizeof(bool) * Max(norderbys, 1));
	return scan;
}

void
kdtreerescan(IndexScanDesc scan, ScanKey keys, int nkeys pg_attribute_unused(), ScanKey orderbys,
			 int norderbys pg_attribute_unused())
{
	KdtreeScanOpaque so = (KdtreeScanOpaque) scan->opaque;

	so->started = false;
	so->flat = false;
	so->points.count = so->nodes.count = so->nrun = 0;
	if (so->querydatum != (Datum) 0)
		pfree(DatumGetPointer(so->querydatum));
	so->querydatum = (Datum) 0;
	so->nullquery = true;

	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys,
				scan->numberOfOrderBys * sizeof(ScanKeyData));
	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));

	if (scan->numberOfOrderBys > 0 &&
		!(scan->orderByData[0].sk_flags & SK_ISNULL))
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(so->scanctx);

		so->querydatum = PointerGetDatum(PG_DETOAST_DATUM_COPY(scan->orderByData[0].sk_argument));
		so->nullquery = false;
		MemoryContextSwitchTo(oldcxt);
	}
}

/*
 * Hand the executor one point.  An exact key needs no recheck, so the
 * executor returns the row at once; a bound sends it through the
 * executor's reorder queue, which recomputes the operator's value.
 */
static void
ReturnPoint(IndexScanDesc scan, const ScanPointData *p)
{
	KdtreeScanOpaque so = (KdtreeScanOpaque) scan->opaque;
	double		value = (so->metric->kind == GV_METRIC_L2 ?
						 sqrt(p->key) : p->key);

	scan->xs_heaptid = p->tid;
	scan->xs_recheck = false;
	scan->xs_recheckorderby = !p->exact;
	scan->xs_orderbyvals[0] = Float8GetDatum(value);
	scan->xs_orderbynulls[0] = so->nullquery;
}

bool
kdtreegettuple(IndexScanDesc scan, ScanDirection dir pg_attribute_unused())
{
	KdtreeScanOpaque so = (KdtreeScanOpaque) scan->opaque;

	if (!so->started)
	{
		if (scan->numberOfOrderBys == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("gv_kdtree index scans need an ORDER BY distance")));
		StartScan(scan);
	}

	for (;;)
	{
		ScanNodeData node;

		/* a point before a subtree or run of the same key: none is closer */
		if (so->points.count > 0 &&
			(so->nodes.count == 0 || so->points.items[0].key <= so->nodes.items[0].key))
		{
			ScanPointData p;

			PointPop(so, &p);
			ReturnPoint(scan, &p);
			return true;
		}
		if (so->nodes.count == 0)
			return false;
		NodePop(so, &node);
		if (node.isrun)
			SplitRun(so, node.runstart, node.runcount, node.runpasses);
		else
			ExpandSubtree(scan, &node);
	}
}

void
kdtreeendscan(IndexScanDesc scan)
{
	KdtreeScanOpaque so = (KdtreeScanOpaque) scan->opaque;

	MemoryContextDelete(so->scanctx);
	pfree(so);
	scan->opaque = NULL;
}
