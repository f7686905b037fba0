/*
 * kdtreescan.c
 *	  Exact, incremental k-NN scans of a gv_kdtree index.
 *
 * The scan is best-first (Hjaltason and Samet's incremental nearest
 * neighbour): one priority queue holds subtrees, keyed by a lower bound on
 * the distance from the query to their cell, and points, keyed by their
 * distance.  Popping a point returns it; popping a subtree descends it,
 * going to the near side of each split at once and queueing the far side
 * with a bound updated incrementally from the per-dimension offsets of the
 * cell (Arya and Mount), and queues the points of the leaf it reaches.
 * Rows therefore come out in distance order for as long as the executor
 * asks, so WHERE filters and any LIMIT get exact answers.
 *
 * Exactness against the SQL operators.  The index computes distances with
 * the same float kernels as the operators, but the operators fall back to
 * double when a float sum overflows, and cosine is computed from unit
 * vectors here but from raw ones there.  So the scan hands the executor a
 * guaranteed lower bound (the float distance shrunk by a rounding margin
 * derived from the dimension) with xs_recheckorderby set: the executor
 * recomputes the exact value and, through its reorder queue, returns rows
 * in the operator's exact order.  Cell bounds are shrunk by a larger margin
 * than points, so a subtree never sorts after a point it contains.
 *
 * A cosine query whose own squared norm is below 1e-30 or overflows float,
 * and any cosine query on an index that holds near-zero vectors (whose
 * float cosine is rounding noise, not geometry), is answered exhaustively:
 * every point comes back with bound 0 and the executor sorts.
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

/* A queue entry: a point (slot < 0 and !isnode) or a subtree. */
typedef struct ScanItemData
{
	double		key;			/* lower bound, in ordering units */
	double		rawb;			/* subtree: squared L2 bound of its cell */
	XLogRecPtr	seen;			/* subtree: LSN of the page that pointed here */
	KdtreeRef	ref;			/* subtree */
	ItemPointerData tid;		/* point */
	bool		isnode;
	int32		slot;			/* subtree: its cell offsets, or -1 */
} ScanItemData;

typedef struct KdtreeScanOpaqueData
{
	GvMetric	metric;
	bool		started;
	bool		flat;			/* exhaustive: every key 0 */
	bool		nullquery;
	int			dim;
	float	   *query;			/* in index space */

	double		gamma;			/* relative rounding margin */
	double		tiny;			/* absolute margin for subnormals */
	double		cosslack;		/* absolute margin of cosine */

	/* binary min-heap */
	ScanItemData *heap;
	int			nheap;
	int			maxheap;

	/* per-subtree cell offsets, dim doubles each, with a free list */
	double	   *offsets;
	int			nslots;
	int			maxslots;
	int32	   *freeslots;
	int			nfree;

	Datum		querydatum;
	MemoryContext scanctx;
} KdtreeScanOpaqueData;

typedef KdtreeScanOpaqueData *KdtreeScanOpaque;

#define SlotOffsets(so, s)	((so)->offsets + (int64) (s) * (so)->dim)

static inline bool
ItemLess(const ScanItemData *a, const ScanItemData *b)
{
	if (a->key != b->key)
		return a->key < b->key;
	/* points before subtrees, then by TID, so that ties come out stably */
	if (a->isnode != b->isnode)
		return !a->isnode;
	return ItemPointerCompare((ItemPointer) &a->tid, (ItemPointer) &b->tid) < 0;
}

static void
HeapPush(KdtreeScanOpaque so, const ScanItemData *item)
{
	int			i;

	if (so->nheap == so->maxheap)
	{
		so->maxheap *= 2;
		so->heap = repalloc_huge(so->heap, sizeof(ScanItemData) * so->maxheap);
	}
	i = so->nheap++;
	while (i > 0)
	{
		int			parent = (i - 1) / 2;

		if (!ItemLess(item, &so->heap[parent]))
			break;
		so->heap[i] = so->heap[parent];
		i = parent;
	}
	so->heap[i] = *item;
}

static void
HeapPop(KdtreeScanOpaque so, ScanItemData *out)
{
	ScanItemData last;
	int			i = 0;

	*out = so->heap[0];
	last = so->heap[--so->nheap];
	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= so->nheap)
			break;
		if (child + 1 < so->nheap && ItemLess(&so->heap[child + 1], &so->heap[child]))
			child++;
		if (!ItemLess(&so->heap[child], &last))
			break;
		so->heap[i] = so->heap[child];
		i = child;
	}
	if (so->nheap > 0)
		so->heap[i] = last;
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
		key = Min(b * (1 - 3 * so->gamma) - so->tiny,
				  (double) FLT_MAX * (1 - 3 * so->gamma));
	return Max(key, 0.0);
}

/*
 * Ordering key of a leaf tuple: a lower bound on its SQL distance.
 */
static inline double
PointKey(KdtreeScanOpaque so, KdtreeLeafTuple tup)
{
	float		d;
	double		key;

	if (so->flat)
		return 0;
	if (so->metric->kind == GV_METRIC_COSINE)
	{
		if (tup->flags & KDTREE_TUPLE_ZERO)
			return 1.0;
		d = GvL2SquaredDistance(so->query, tup->x, so->dim);
		key = (double) d / 2 - so->cosslack;
	}
	else
	{
		d = GvL2SquaredDistance(so->query, tup->x, so->dim);
		if (!isfinite(d))
			return (double) FLT_MAX * (1 - so->gamma);
		key = (double) d * (1 - so->gamma) - so->tiny;
	}
	return Max(key, 0.0);
}

/*
 * Queue every point of a leaf page, and the leaf's right siblings when it
 * split after the page that pointed to it was read.
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
	ScanItemData item;
	BlockNumber right;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	GvCheckPage(index, page, blkno, GV_PAGE_ID_KDTREE);
	if (!(GvPageGetOpaque(page)->flags & KDTREE_LEAF))
		elog(ERROR, "gv_kdtree index \"%s\": block %u is not a leaf",
			 RelationGetRelationName(index), blkno);

	maxoff = PageGetMaxOffsetNumber(page);
	memset(&item, 0, sizeof(item));
	item.isnode = false;
	item.slot = -1;
	for (OffsetNumber off = KDTREE_FIRST_TUPLE_OFF; off <= maxoff; off++)
	{
		KdtreeLeafTuple tup = (KdtreeLeafTuple) PageGetItem(page, PageGetItemId(page, off));

		item.key = PointKey(so, tup);
		item.tid = tup->heaptid;
		HeapPush(so, &item);
	}

	right = GvPageGetOpaque(page)->nextblkno;
	if (seen <= KdtreeGetLeafHeader(page)->nsn && right != InvalidBlockNumber)
	{
		/* split since we read the pointer: the sibling shares our cell */
		memset(&item, 0, sizeof(item));
		item.isnode = true;
		item.rawb = b;
		item.key = NodeKey(so, b);
		item.seen = seen;
		item.ref.blkno = right;
		item.ref.offnum = InvalidOffsetNumber;
		item.slot = slot;
		HeapPush(so, &item);
		slot = -1;
	}
	UnlockReleaseBuffer(buf);
	SlotFree(so, slot);
	pgstat_count_index_tuples(index, 0);
}

/*
 * Expand a queued subtree: walk down its near side, queueing far sides,
 * then queue the points of the leaf reached.
 */
static void
ExpandSubtree(IndexScanDesc scan, ScanItemData *item)
{
	KdtreeScanOpaque so = (KdtreeScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	KdtreeRef	ref = item->ref;
	double		b = item->rawb;
	int32		slot = item->slot;
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
			KdtreeNode node;
			ScanItemData far;

			if (ref.offnum > PageGetMaxOffsetNumber(page))
				elog(ERROR, "gv_kdtree index \"%s\" has a dangling node reference",
					 RelationGetRelationName(index));
			node = (KdtreeNode) PageGetItem(page, PageGetItemId(page, ref.offnum));
			memset(&far, 0, sizeof(far));
			far.isnode = true;
			far.seen = seen;
			if (so->flat)
			{
				far.ref = node->right;
				far.slot = -1;
				HeapPush(so, &far);
				ref = node->left;
			}
			else
			{
				double		diff = (double) so->query[node->dim] - (double) node->split;
				double	   *off = SlotOffsets(so, slot);
				double		fo = Max(fabs(diff), off[node->dim]);
				int32		fslot = SlotAlloc(so);

				/* SlotAlloc may have moved the arena */
				off = SlotOffsets(so, slot);
				memcpy(SlotOffsets(so, fslot), off, sizeof(double) * so->dim);
				SlotOffsets(so, fslot)[node->dim] = fo;
				far.rawb = b - off[node->dim] * off[node->dim] + fo * fo;
				far.key = NodeKey(so, far.rawb);
				far.slot = fslot;
				far.ref = diff <= 0 ? node->right : node->left;
				HeapPush(so, &far);
				ref = diff <= 0 ? node->left : node->right;
			}
		} while (!KdtreeRefIsLeaf(ref) && ref.blkno == BufferGetBlockNumber(buf));
		UnlockReleaseBuffer(buf);
	}
	ScanLeaf(scan, ref.blkno, b, slot, seen);
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
	ScanItemData root;
	int			n;

	so->started = true;
	KdtreeReadMeta(scan->indexRelation, &meta, &metalsn);
	if (meta.root.blkno == InvalidBlockNumber)
		return;
	so->dim = meta.header.dimensions;
	n = so->dim;
	so->gamma = 2.0 * (n + 4) * FLT_EPSILON;
	so->tiny = 4.0 * (n + 4) * FLT_TRUE_MIN;
	so->cosslack = 8.0 * (n + 8) * FLT_EPSILON;
	so->query = palloc(sizeof(float) * n);

	if (so->nullquery)
		so->flat = true;
	else
	{
		Gvector		q = DatumGetGvector(so->querydatum);

		if (q->dim != so->dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different gvector dimensions %d and %d", so->dim, q->dim)));
		memcpy(so->query, q->x, sizeof(float) * n);
		if (so->metric->kind == GV_METRIC_COSINE)
		{
			float		norm2 = GvInnerProduct(so->query, so->query, n);

			if (!(norm2 >= KDTREE_TINY_NORM2) || !isfinite(norm2) ||
				(meta.flags & KDTREE_META_HAS_TINY))
				so->flat = true;
			else
				GvMetricPrepareVector(so->metric, so->query, n);
		}
	}

	so->maxheap = 1024;
	so->heap = palloc(sizeof(ScanItemData) * so->maxheap);
	so->maxslots = 256;
	so->offsets = palloc(sizeof(double) * n * so->maxslots);
	so->freeslots = palloc(sizeof(int32) * so->maxslots);

	memset(&root, 0, sizeof(root));
	root.isnode = true;
	root.ref = meta.root;
	root.seen = metalsn;
	root.rawb = 0;
	root.key = 0;
	root.slot = -1;
	if (!so->flat)
	{
		root.slot = SlotAlloc(so);
		memset(SlotOffsets(so, root.slot), 0, sizeof(double) * n);
	}
	HeapPush(so, &root);
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
	scan->opaque = so;
	/* the executor reads the distances here; the AM allocates them */
	scan->xs_orderbyvals = palloc0(sizeof(Datum) * Max(norderbys, 1));
	scan->xs_orderbynulls = palloc(sizeof(bool) * Max(norderbys, 1));
	return scan;
}

void
kdtreerescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys,
			 int norderbys)
{
	KdtreeScanOpaque so = (KdtreeScanOpaque) scan->opaque;
	MemoryContext oldcxt;

	MemoryContextReset(so->scanctx);
	so->started = false;
	so->flat = false;
	so->nheap = so->maxheap = 0;
	so->nslots = so->maxslots = so->nfree = 0;
	so->heap = NULL;
	so->offsets = NULL;
	so->freeslots = NULL;
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
		oldcxt = MemoryContextSwitchTo(so->scanctx);
		so->querydatum = PointerGetDatum(PG_DETOAST_DATUM_COPY(scan->orderByData[0].sk_argument));
		so->nullquery = false;
		MemoryContextSwitchTo(oldcxt);
	}
}

bool
kdtreegettuple(IndexScanDesc scan, ScanDirection dir)
{
	KdtreeScanOpaque so = (KdtreeScanOpaque) scan->opaque;
	MemoryContext oldcxt = MemoryContextSwitchTo(so->scanctx);
	ScanItemData item;

	if (!so->started)
	{
		if (scan->numberOfOrderBys == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("gv_kdtree index scans need an ORDER BY distance")));
		StartScan(scan);
	}

	while (so->nheap > 0)
	{
		HeapPop(so, &item);
		if (!item.isnode)
		{
			double		value = so->metric->kind == GV_METRIC_COSINE ?
				item.key : sqrt(item.key);

			scan->xs_heaptid = item.tid;
			scan->xs_recheck = false;
			scan->xs_recheckorderby = true;
			scan->xs_orderbyvals[0] = Float8GetDatum(value);
			scan->xs_orderbynulls[0] = so->nullquery;
			MemoryContextSwitchTo(oldcxt);
			return true;
		}
		ExpandSubtree(scan, &item);
	}
	MemoryContextSwitchTo(oldcxt);
	return false;
}

void
kdtreeendscan(IndexScanDesc scan)
{
	KdtreeScanOpaque so = (KdtreeScanOpaque) scan->opaque;

	MemoryContextDelete(so->scanctx);
	pfree(so);
	scan->opaque = NULL;
}
