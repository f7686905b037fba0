/*
 * kdtreebuild.c
 *	  Bulk build of a gv_kdtree index.
 *
 * The build reads the table's non-NULL vectors in batches that fit in
 * maintenance_work_mem, bringing each into index space (unit vectors for
 * cosine).  The first batch -- the whole table, when it fits -- is split
 * recursively: each split cuts the widest-spread dimension at an order
 * statistic chosen so that the left part fills a whole number of leaf
 * pages, which keeps the tree balanced (depth log2 of the leaf count) and
 * every leaf but one per subtree filled to the fillfactor.  Points equal to
 * a split value may fall on either side, so duplicates and even a table of
 * identical vectors split evenly.
 *
 * Every later batch is routed down the tree built so far and sorted by the
 * leaf each point reaches; a leaf with room takes its points, and a leaf
 * without is rebuilt, with its points and the new ones, into a balanced
 * subtree (written from the old leaf's page on) that takes its place in the
 * parent.  The tree then follows the table's distribution batch by batch,
 * as after inserts; REINDEX with more maintenance_work_mem balances it.
 *
 * Leaves are written as they are made; internal nodes are appended, in
 * post-order, to node pages that stay pinned until full.  The pages are
 * written without WAL and logged all at once at the end (GvLogBuiltIndex),
 * as GiST and SP-GiST builds do.
 */
#include "compat.h"

#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "kdtree.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/rel.h"

typedef struct KdtreeBuildStateData
{
	Relation	index;
	GvMetric	metric;
	int			dim;			/* 0 until the first vector */
	bool		typmod_dim;		/* dim comes from the column's typmod */
	int			fillfactor;
	int			leafcap;		/* tuples per leaf at the fillfactor */
	int			pagecap;		/* tuples a leaf page can hold at all */

	/* the current batch of points, in index space */
	int64		npoints;
	int64		batchsize;		/* points per batch (maintenance_work_mem) */
	int64		maxpoints;		/* allocated: up to batchsize + pagecap */
	float	   *x;				/* maxpoints * dim */
	ItemPointerData *tids;
	uint16	   *flags;
	BlockNumber *leafof;		/* routing: the leaf a point reaches */
	bool		has_tiny;
	int64		total;			/* vectors read so far */
	int			nbatches;

	/* tree writing */
	int64	   *order;			/* permutation of the points */
	Buffer		nodebuf;		/* node page being filled, or invalid */
	BlockNumber reuse;			/* leaf page the next leaf goes to, or invalid */
	bool		even;			/* fill leaves evenly rather than fully */
	KdtreeRef	root;
	int64		written;
	MemoryContext tmpctx;
} KdtreeBuildStateData;

typedef KdtreeBuildStateData *KdtreeBuildState;

#define PointX(bs, i)	((bs)->x + (int64) (i) * (bs)->dim)

static KdtreeRef BuildSubtree(KdtreeBuildState bs, int64 lo, int64 hi);
static void FlushBatch(KdtreeBuildState bs);

/*
 * Size the batches once the dimensions are known: a point costs its floats,
 * TID, flags, routing slot and places in two permutations (the batch's and
 * a rebuilt leaf's).  A batch holds at least a few leaves' worth, whatever
 * maintenance_work_mem says.
 */
static void
SetBatchSize(KdtreeBuildState bs)
{
	Size		perpoint = (sizeof(float) * bs->dim + sizeof(ItemPointerData) +
							sizeof(uint16) + 2 * sizeof(int64) + sizeof(BlockNumber));

	bs->leafcap = KdtreeLeafCapacity(bs->dim, bs->fillfactor);
	bs->pagecap = KdtreeLeafCapacity(bs->dim, 100);
	bs->batchsize = (int64) maintenance_work_mem * 1024 / perpoint;
	bs->batchsize = Max(bs->batchsize, 4 * (int64) bs->pagecap);
}

/*
 * Make room for n points in the batch arrays, growing them by doubling up
 * to the batch size plus one leaf page (a rebuilt leaf's old points).
 */
static void
EnsureCapacity(KdtreeBuildState bs, int64 n)
{
	int64		limit = bs->batchsize + bs->pagecap;
	int64		newmax;

	if (n <= bs->maxpoints)
		return;
	newmax = Min(Max(bs->maxpoints * 2, Max(n, 1024)), limit);
	Assert(n <= newmax);
	if (bs->x == NULL)
	{
		bs->x = palloc_extended(sizeof(float) * bs->dim * newmax, MCXT_ALLOC_HUGE);
		bs->tids = palloc_extended(sizeof(ItemPointerData) * newmax, MCXT_ALLOC_HUGE);
		bs->flags = palloc_extended(sizeof(uint16) * newmax, MCXT_ALLOC_HUGE);
		bs->leafof = palloc_extended(sizeof(BlockNumber) * newmax, MCXT_ALLOC_HUGE);
		bs->order = palloc_extended(sizeof(int64) * newmax, MCXT_ALLOC_HUGE);
	}
	else
	{
		bs->x = repalloc_huge(bs->x, sizeof(float) * bs->dim * newmax);
		bs->tids = repalloc_huge(bs->tids, sizeof(ItemPointerData) * newmax);
		bs->flags = repalloc_huge(bs->flags, sizeof(uint16) * newmax);
		bs->leafof = repalloc_huge(bs->leafof, sizeof(BlockNumber) * newmax);
		bs->order = repalloc_huge(bs->order, sizeof(int64) * newmax);
	}
	bs->maxpoints = newmax;
}

/*
 * Collect one heap tuple's vector (table_index_build_scan callback).
 */
static void
BuildCallback(Relation index pg_attribute_unused(), ItemPointer tid, Datum *values, bool *isnull,
			  bool tupleIsAlive pg_attribute_unused(), void *state)
{
	KdtreeBuildState bs = (KdtreeBuildState) state;
	MemoryContext oldcxt;
	float	   *v;
	int			vdim;
	uint16		flags;

	if (isnull[0])
		return;

	oldcxt = MemoryContextSwitchTo(bs->tmpctx);
	v = GvMetricDatumToFloats(bs->metric, values[0], &vdim);
	if (bs->dim == 0)
	{
		KdtreeCheckDims(vdim);
		bs->dim = vdim;
	}
	else if (vdim != bs->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("gv_kdtree cannot index vectors of %d and %d dimensions in the same column",
						bs->dim, vdim),
				 errhint("Declare the column's dimensions, e.g. gvector(%d), or index an expression that casts to one.",
						 bs->dim)));
	MemoryContextSwitchTo(oldcxt);

	if (bs->batchsize == 0)
		SetBatchSize(bs);
	if (bs->npoints == bs->batchsize)
		FlushBatch(bs);
	EnsureCapacity(bs, bs->npoints + 1);

	memcpy(PointX(bs, bs->npoints), v, sizeof(float) * vdim);
	KdtreePrepareVector(bs->metric, PointX(bs, bs->npoints), vdim, &flags);
	MemoryContextReset(bs->tmpctx);

	bs->tids[bs->npoints] = *tid;
	bs->flags[bs->npoints] = flags;
	if (flags & KDTREE_TUPLE_TINY)
		bs->has_tiny = true;
	bs->npoints++;
	bs->total++;
}

/*
 * Cutting the points order[lo, hi) at an order statistic of dimension dim:
 * gvselect.h's nth element, keyed on that coordinate.
 */
typedef struct CutData
{
	KdtreeBuildState bs;
	int			dim;
} CutData;

#define GV_SELECT_PREFIX	cut
#define GV_SELECT_ELEMENT	int64
#define GV_SELECT_KEY_TYPE	float
#define GV_SELECT_KEY(a)	(PointX(arg->bs, *(a))[arg->dim])
#define GV_SELECT_ARG_TYPE	CutData
#define GV_SELECT_CHECK()	CHECK_FOR_INTERRUPTS()
#include "gvselect.h"

/*
 * Permute order[lo..hi) so that the point at position k has its k-th
 * smallest coordinate on dimension d, with no larger values before it and
 * no smaller ones after.
 */
static void
SelectKth(KdtreeBuildState bs, int64 lo, int64 hi, int64 k, int d)
{
	CutData		cut = {bs, d};

	cut_nth(bs->order + lo, hi - lo, k - lo, &cut);
}

/*
 * Write the points order[lo..hi) as one leaf page: a new one, or the page
 * of the leaf a batch is rebuilding.
 */
static KdtreeRef
WriteLeaf(KdtreeBuildState bs, int64 lo, int64 hi)
{
	Buffer		buf;
	Page		page;
	KdtreeRef	ref;

	if (bs->reuse != InvalidBlockNumber)
	{
		/* the page of a leaf being rebuilt into this subtree */
		buf = ReadBuffer(bs->index, bs->reuse);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		bs->reuse = InvalidBlockNumber;
	}
	else
		buf = GvNewBuffer(bs->index, MAIN_FORKNUM);
	page = BufferGetPage(buf);

	GvInitPage(page, GV_PAGE_ID_KDTREE, KDTREE_LEAF);
	KdtreeInitLeafPage(page, InvalidXLogRecPtr);
	for (int64 i = lo; i < hi; i++)
	{
		int64		p = bs->order[i];

		KdtreeAddLeafTuple(bs->index, page, &bs->tids[p], PointX(bs, p),
						   bs->flags[p], bs->dim);
	}
	MarkBufferDirty(buf);
	ref.blkno = BufferGetBlockNumber(buf);
	ref.offnum = InvalidOffsetNumber;
	ref.unused = 0;
	UnlockReleaseBuffer(buf);

	bs->written += hi - lo;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, bs->written);
	return ref;
}

/*
 * Append an internal node to the current node page, starting a new one
 * when it is full.
 */
static KdtreeRef
WriteNode(KdtreeBuildState bs, KdtreeNode node)
{
	KdtreeRef	ref;

	if (BufferIsValid(bs->nodebuf) &&
		PageGetFreeSpace(BufferGetPage(bs->nodebuf)) < MAXALIGN(sizeof(KdtreeNodeData)))
	{
		MarkBufferDirty(bs->nodebuf);
		UnlockReleaseBuffer(bs->nodebuf);
		bs->nodebuf = InvalidBuffer;
	}
	if (!BufferIsValid(bs->nodebuf))
	{
		bs->nodebuf = GvNewBuffer(bs->index, MAIN_FORKNUM);
		GvInitPage(BufferGetPage(bs->nodebuf), GV_PAGE_ID_KDTREE, KDTREE_NODE);
	}
	KdtreeAddNode(bs->index, BufferGetPage(bs->nodebuf), node, &ref.offnum);
	ref.blkno = BufferGetBlockNumber(bs->nodebuf);
	ref.unused = 0;
	return ref;
}

/*
 * Build the subtree over order[lo..hi) and return a reference to it.
 */
static KdtreeRef
BuildSubtree(KdtreeBuildState bs, int64 lo, int64 hi)
{
	int64		n = hi - lo;
	int64		nleaves;
	int64		mid;
	int			best;
	float	   *lower;
	float	   *upper;
	KdtreeNodeData node;

	CHECK_FOR_INTERRUPTS();
	if (n <= bs->leafcap)
		return WriteLeaf(bs, lo, hi);

	/* widest-spread dimension */
	lower = palloc(sizeof(float) * bs->dim);
	upper = palloc(sizeof(float) * bs->dim);
	KdtreeBoundsStart(lower, upper, PointX(bs, bs->order[lo]), bs->dim);
	for (int64 i = lo + 1; i < hi; i++)
		KdtreeBoundsAdd(lower, upper, PointX(bs, bs->order[i]), bs->dim);
	best = KdtreeWidestDimension(lower, upper, bs->dim);
	pfree(lower);
	pfree(upper);

	/*
	 * Left part: half the leaves, rounded down, each full; or, rebuilding a
	 * leaf, leaves filled evenly, so that they keep room for the points of
	 * later batches (full leaves would split off a sliver each batch).
	 */
	nleaves = (n + bs->leafcap - 1) / bs->leafcap;
	if (bs->even)
		mid = lo + n * (nleaves / 2) / nleaves;
	else
		mid = lo + (nleaves / 2) * bs->leafcap;
	SelectKth(bs, lo, hi, mid, best);

	node.dim = best;
	node.unused = 0;
	node.split = PointX(bs, bs->order[mid])[best];
	node.left = BuildSubtree(bs, lo, mid);
	node.right = BuildSubtree(bs, mid, hi);
	return WriteNode(bs, &node);
}

/*
 * Lock a node page for the routing code.  The node page being filled is
 * already locked (exclusively) by the build itself: hand that one back
 * as it is rather than deadlock on it.
 */
static Page
LockNodePage(KdtreeBuildState bs, BlockNumber blkno, int mode, Buffer *buf)
{
	Page		page;

	if (BufferIsValid(bs->nodebuf) && BufferGetBlockNumber(bs->nodebuf) == blkno)
	{
		*buf = InvalidBuffer;
		return BufferGetPage(bs->nodebuf);
	}
	*buf = ReadBuffer(bs->index, blkno);
	LockBuffer(*buf, mode);
	page = BufferGetPage(*buf);
	GvCheckPage(bs->index, page, blkno, GV_PAGE_ID_KDTREE);
	return page;
}

static void
UnlockNodePage(Buffer buf, bool dirty)
{
	if (!BufferIsValid(buf))
		return;
	if (dirty)
		MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/*
 * Route a point down the tree built so far, as an insert would: returns
 * the leaf it reaches and, in *parent and *left, the node pointing there
 * (an invalid blkno when the leaf is the root).
 */
static BlockNumber
RoutePoint(KdtreeBuildState bs, const float *x, ItemPointer tid,
		   KdtreeRef *parent, bool *left)
{
	KdtreeRef	ref = bs->root;

	parent->blkno = InvalidBlockNumber;
	parent->offnum = InvalidOffsetNumber;
	parent->unused = 0;
	*left = false;
	while (!KdtreeRefIsLeaf(ref))
	{
		Buffer		buf;
		Page		page = LockNodePage(bs, ref.blkno, BUFFER_LOCK_SHARE, &buf);
		KdtreeNode	node = (KdtreeNode) PageGetItem(page, PageGetItemId(page, ref.offnum));

		*parent = ref;
		*left = KdtreeGoesLeft(x, tid, node);
		ref = *left ? node->left : node->right;
		UnlockNodePage(buf, false);
	}
	return ref.blkno;
}

/*
 * Give a subtree the place of the leaf it replaces: in its parent node, or
 * as the root.
 */
static void
Relink(KdtreeBuildState bs, KdtreeRef parent, bool left, KdtreeRef subtree)
{
	Buffer		buf;
	Page		page;
	KdtreeNode	node;

	if (parent.blkno == InvalidBlockNumber)
	{
		bs->root = subtree;
		return;
	}
	page = LockNodePage(bs, parent.blkno, BUFFER_LOCK_EXCLUSIVE, &buf);
	node = (KdtreeNode) PageGetItem(page, PageGetItemId(page, parent.offnum));
	if (left)
		node->left = subtree;
	else
		node->right = subtree;
	UnlockNodePage(buf, true);
}

/*
 * Rebuild a leaf (locked in buf) that has no room for the batch points
 * order[lo..hi): its old points join them in the arrays' spare room past
 * the batch, its page starts over empty, and the lot is built into a
 * subtree, filled evenly and written from that page on, that takes the
 * leaf's place.
 */
static void
RebuildLeaf(KdtreeBuildState bs, Buffer buf, int64 lo, int64 hi,
			KdtreeRef parent, bool left)
{
	Page		page = BufferGetPage(buf);
	int64		nold = PageGetMaxOffsetNumber(page) - KDTREE_LEAF_HEADER_OFF;
	int64	   *batchorder = bs->order;
	int64	   *grouporder = palloc(sizeof(int64) * (hi - lo + nold));
	KdtreeRef	subtree;

	Assert(bs->npoints + nold <= bs->maxpoints);
	memcpy(grouporder, &bs->order[lo], sizeof(int64) * (hi - lo));
	for (int64 j = 0; j < nold; j++)
	{
		int64		p = bs->npoints + j;
		KdtreeLeafTuple tup = ((KdtreeLeafTuple)
							   PageGetItem(page, PageGetItemId(page, KDTREE_FIRST_TUPLE_OFF + j)));

		memcpy(PointX(bs, p), tup->x, sizeof(float) * bs->dim);
		bs->tids[p] = tup->heaptid;
		bs->flags[p] = tup->flags;
		grouporder[hi - lo + j] = p;
	}
	bs->reuse = BufferGetBlockNumber(buf);
	GvInitPage(page, GV_PAGE_ID_KDTREE, KDTREE_LEAF);
	KdtreeInitLeafPage(page, InvalidXLogRecPtr);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);

	bs->order = grouporder;
	bs->written -= nold;		/* WriteLeaf counts them again */
	bs->even = true;
	subtree = BuildSubtree(bs, 0, hi - lo + nold);
	bs->even = false;
	bs->order = batchorder;
	Assert(bs->reuse == InvalidBlockNumber);
	pfree(grouporder);
	Relink(bs, parent, left, subtree);
}

/*
 * Add the batch points order[lo..hi), all routed to one leaf, to it:
 * appended while the leaf has room at the fillfactor, else by rebuilding
 * the leaf.
 */
static void
AddToLeaf(KdtreeBuildState bs, BlockNumber leaf, int64 lo, int64 hi)
{
	Buffer		buf;
	Page		page;
	KdtreeRef	parent;
	bool		left;

	RoutePoint(bs, PointX(bs, bs->order[lo]), &bs->tids[bs->order[lo]],
			   &parent, &left);
	buf = ReadBuffer(bs->index, leaf);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	GvCheckPage(bs->index, page, leaf, GV_PAGE_ID_KDTREE);
	if (PageGetMaxOffsetNumber(page) - KDTREE_LEAF_HEADER_OFF + (hi - lo) > bs->leafcap)
	{
		RebuildLeaf(bs, buf, lo, hi, parent, left);
		return;
	}
	for (int64 i = lo; i < hi; i++)
	{
		int64		p = bs->order[i];

		KdtreeAddLeafTuple(bs->index, page, &bs->tids[p], PointX(bs, p),
						   bs->flags[p], bs->dim);
	}
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
	bs->written += hi - lo;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, bs->written);
}

/* qsort_arg comparator: batch points by the leaf they reach, then index */
static int
CompareByLeaf(const void *a, const void *b, void *arg)
{
	KdtreeBuildState bs = (KdtreeBuildState) arg;
	int64		pa = *(const int64 *) a;
	int64		pb = *(const int64 *) b;

	if (bs->leafof[pa] != bs->leafof[pb])
		return bs->leafof[pa] < bs->leafof[pb] ? -1 : 1;
	return pa < pb ? -1 : (pa > pb ? 1 : 0);
}

/*
 * Write the current batch into the index: build the tree from it if it is
 * the first, else route it leaf by leaf.
 */
static void
FlushBatch(KdtreeBuildState bs)
{
	int64		lo = 0;

	if (bs->npoints == 0)
		return;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, bs->total);
	for (int64 i = 0; i < bs->npoints; i++)
		bs->order[i] = i;
	bs->nbatches++;
	if (bs->root.blkno == InvalidBlockNumber)
	{
		bs->root = BuildSubtree(bs, 0, bs->npoints);
		bs->npoints = 0;
		return;
	}

	/* room past the batch for a rebuilt leaf's old points */
	EnsureCapacity(bs, bs->npoints + bs->pagecap);
	for (int64 i = 0; i < bs->npoints; i++)
	{
		KdtreeRef	parent;
		bool		left;

		CHECK_FOR_INTERRUPTS();
		bs->leafof[i] = RoutePoint(bs, PointX(bs, i), &bs->tids[i], &parent, &left);
	}
	qsort_arg(bs->order, bs->npoints, sizeof(int64), CompareByLeaf, bs);
	for (int64 i = 1; i <= bs->npoints; i++)
	{
		if (i == bs->npoints || bs->leafof[bs->order[i]] != bs->leafof[bs->order[lo]])
		{
			CHECK_FOR_INTERRUPTS();
			AddToLeaf(bs, bs->leafof[bs->order[lo]], lo, i);
			lo = i;
		}
	}
	bs->npoints = 0;
}

/*
 * Write the metapage (block 0, already allocated in buf).
 */
static void
FillMetaPage(Page page, GvMetric metric, int dim, int fillfactor,
			 KdtreeRef root, uint32 flags)
{
	KdtreeMetaPage meta;

	GvInitPage(page, GV_PAGE_ID_KDTREE, KDTREE_META);
	meta = KdtreePageGetMeta(page);
	memset(meta, 0, sizeof(KdtreeMetaPageData));
	meta->header.magic = KDTREE_MAGIC;
	meta->header.version = KDTREE_VERSION;
	meta->header.dimensions = dim;
	meta->metric = metric->kind;
	meta->flags = flags;
	meta->fillfactor = fillfactor;
	meta->root = root;
	((PageHeader) page)->pd_lower =
		((char *) meta + sizeof(KdtreeMetaPageData)) - (char *) page;
}

/*
 * ambuild: build the index from the table's current contents.
 */
IndexBuildResult *
kdtreebuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	KdtreeBuildStateData bs;
	Buffer		metabuf;
	KdtreeRef	root;
	double		reltuples;
	int			typmod;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data",
			 RelationGetRelationName(index));

	memset(&bs, 0, sizeof(bs));
	bs.index = index;
	bs.metric = GvIndexGetMetric(index, 1);
	KdtreeCheckMetric(index, bs.metric);
	bs.fillfactor = KdtreeGetFillfactor(index);
	typmod = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	if (typmod > 0)
	{
		KdtreeCheckDims(typmod);
		bs.dim = typmod;
		bs.typmod_dim = true;
	}
	bs.nodebuf = InvalidBuffer;
	bs.reuse = InvalidBlockNumber;
	bs.root.blkno = InvalidBlockNumber;
	bs.root.offnum = InvalidOffsetNumber;
	bs.tmpctx = AllocSetContextCreate(CurrentMemoryContext,
									  "gv_kdtree build temporary context",
									  ALLOCSET_DEFAULT_SIZES);

	/* block 0 first, so the metapage is where every reader expects it */
	metabuf = GvNewBuffer(index, MAIN_FORKNUM);
	Assert(BufferGetBlockNumber(metabuf) == GV_METAPAGE_BLKNO);

	reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
									   BuildCallback, (void *) &bs, NULL);

	if (bs.dim > KDTREE_NOTICE_DIM)
		ereport(NOTICE,
				(errmsg("gv_kdtree prunes poorly above %d dimensions; with %d its scans approach a full scan",
						KDTREE_NOTICE_DIM, bs.dim),
				 errhint("Consider a gv_hnsw index for vectors of this many dimensions.")));

	FlushBatch(&bs);
	if (BufferIsValid(bs.nodebuf))
	{
		MarkBufferDirty(bs.nodebuf);
		UnlockReleaseBuffer(bs.nodebuf);
	}
	root = bs.root;
	if (bs.nbatches > 1)
		ereport(DEBUG1,
				(errmsg_internal("gv_kdtree build of \"%s\" read %lld vectors in %d batches of at most %lld (maintenance_work_mem)",
								 RelationGetRelationName(index), (long long) bs.total,
								 bs.nbatches, (long long) bs.batchsize)));

	FillMetaPage(BufferGetPage(metabuf), bs.metric, bs.dim, bs.fillfactor,
				 root, bs.has_tiny ? KDTREE_META_HAS_TINY : 0);
	MarkBufferDirty(metabuf);
	UnlockReleaseBuffer(metabuf);

	GvLogBuiltIndex(index);
	MemoryContextDelete(bs.tmpctx);

	result = (IndexBuildResult *) palloc(sizeof(IndexBuildResult));
	result->heap_tuples = reltuples;
	result->index_tuples = bs.total;
	return result;
}

/*
 * ambuildempty: the init fork of an unlogged index, an empty metapage.
 */
void
kdtreebuildempty(Relation index)
{
	GvMetric	metric = GvIndexGetMetric(index, 1);
	Buffer		buf;
	KdtreeRef	root;
	int			typmod = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;

	KdtreeCheckMetric(index, metric);
	root.blkno = InvalidBlockNumber;
	root.offnum = InvalidOffsetNumber;
	root.unused = 0;
	buf = GvNewBuffer(index, INIT_FORKNUM);
	START_CRIT_SECTION();
	FillMetaPage(BufferGetPage(buf), metric, Max(typmod, 0),
				 KdtreeGetFillfactor(index), root, 0);
	MarkBufferDirty(buf);
	log_newpage_buffer(buf, true);
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);
}
