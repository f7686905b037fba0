/*
 * kdtreebuild.c
 *	  Bulk build of a gv_kdtree index.
 *
 * The build reads every non-NULL vector of the table into memory, brings it
 * into index space (unit vectors for cosine), and splits the set
 * recursively: each split cuts the widest-spread dimension at an order
 * statistic chosen so that the left part fills a whole number of leaf
 * pages, which keeps the tree balanced (depth log2 of the leaf count) and
 * every leaf but one per subtree filled to the fillfactor.  Points equal to
 * a split value may fall on either side, so duplicates and even a table of
 * identical vectors split evenly.
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

typedef struct KdtreeBuildStateData
{
	Relation	index;
	GvMetric	metric;
	int			dim;			/* 0 until the first vector */
	bool		typmod_dim;		/* dim comes from the column's typmod */
	int			fillfactor;
	int			leafcap;

	/* the points, in index space */
	int64		npoints;
	int64		maxpoints;
	float	   *x;				/* npoints * dim */
	ItemPointerData *tids;
	uint16	   *flags;
	float	   *scratch;		/* one vector */
	bool		has_tiny;

	/* tree writing */
	int64	   *order;			/* permutation of the points */
	Buffer		nodebuf;		/* node page being filled, or invalid */
	int64		written;
	MemoryContext tmpctx;
} KdtreeBuildStateData;

typedef KdtreeBuildStateData *KdtreeBuildState;

#define PointX(bs, i)	((bs)->x + (int64) (i) * (bs)->dim)

/*
 * Collect one heap tuple's vector (table_index_build_scan callback).
 */
static void
BuildCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			  bool tupleIsAlive, void *state)
{
	KdtreeBuildState bs = (KdtreeBuildState) state;
	MemoryContext oldcxt;
	Gvector		v;
	int			dim;
	uint16		flags;

	if (isnull[0])
		return;

	oldcxt = MemoryContextSwitchTo(bs->tmpctx);
	v = DatumGetGvector(values[0]);
	if (bs->dim == 0)
	{
		KdtreeCheckDims(index, v->dim);
		bs->dim = v->dim;
	}
	else if (v->dim != bs->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("gv_kdtree cannot index vectors of %d and %d dimensions in the same column",
						bs->dim, v->dim),
				 errhint("Declare the column's dimensions, e.g. gvector(%d), or index an expression that casts to one.",
						 bs->dim)));
	MemoryContextSwitchTo(oldcxt);

	if (bs->npoints == bs->maxpoints)
	{
		bs->maxpoints = Max(bs->maxpoints * 2, 1024);
		if (bs->x == NULL)
		{
			bs->x = palloc_extended(sizeof(float) * bs->dim * bs->maxpoints, MCXT_ALLOC_HUGE);
			bs->tids = palloc_extended(sizeof(ItemPointerData) * bs->maxpoints, MCXT_ALLOC_HUGE);
			bs->flags = palloc_extended(sizeof(uint16) * bs->maxpoints, MCXT_ALLOC_HUGE);
			bs->scratch = palloc(sizeof(float) * bs->dim);
		}
		else
		{
			bs->x = repalloc_huge(bs->x, sizeof(float) * bs->dim * bs->maxpoints);
			bs->tids = repalloc_huge(bs->tids, sizeof(ItemPointerData) * bs->maxpoints);
			bs->flags = repalloc_huge(bs->flags, sizeof(uint16) * bs->maxpoints);
		}
	}

	oldcxt = MemoryContextSwitchTo(bs->tmpctx);
	KdtreePrepareVector(bs->metric, PointerGetDatum(v), &dim,
						PointX(bs, bs->npoints), &flags);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(bs->tmpctx);

	bs->tids[bs->npoints] = *tid;
	bs->flags[bs->npoints] = flags;
	if (flags & KDTREE_TUPLE_TINY)
		bs->has_tiny = true;
	bs->npoints++;
}

/*
 * Partial quickselect: permute order[lo..hi) so that the point at position
 * k has its k-th smallest coordinate on dimension d, with no larger values
 * before it and no smaller ones after.
 */
static void
SelectKth(KdtreeBuildState bs, int64 lo, int64 hi, int64 k, int d)
{
	int64	   *o = bs->order;

	while (hi - lo > 1)
	{
		float		pivot;
		int64		i = lo,
					j = hi - 1;
		float		a = PointX(bs, o[lo])[d],
					b = PointX(bs, o[lo + (hi - lo) / 2])[d],
					c = PointX(bs, o[hi - 1])[d];

		CHECK_FOR_INTERRUPTS();
		/* median of three */
		pivot = (a < b) ? ((b < c) ? b : ((a < c) ? c : a))
			: ((a < c) ? a : ((b < c) ? c : b));

		/* Hoare partition */
		while (i <= j)
		{
			while (PointX(bs, o[i])[d] < pivot)
				i++;
			while (PointX(bs, o[j])[d] > pivot)
				j--;
			if (i <= j)
			{
				int64		t = o[i];

				o[i] = o[j];
				o[j] = t;
				i++;
				j--;
			}
		}
		/* now [lo, j] <= pivot, [i, hi) >= pivot, (j, i) == pivot */
		if (k <= j)
			hi = j + 1;
		else if (k >= i)
			lo = i;
		else
			return;
	}
}

/*
 * Write the points order[lo..hi) as one leaf page.
 */
static KdtreeRef
WriteLeaf(KdtreeBuildState bs, int64 lo, int64 hi)
{
	Buffer		buf = GvNewBuffer(bs->index, MAIN_FORKNUM);
	Page		page = BufferGetPage(buf);
	KdtreeRef	ref;

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
	int			best = 0;
	double		bestspread = -1;
	KdtreeNodeData node;

	CHECK_FOR_INTERRUPTS();
	if (n <= bs->leafcap)
		return WriteLeaf(bs, lo, hi);

	/* widest-spread dimension */
	for (int d = 0; d < bs->dim; d++)
	{
		float		mn = PointX(bs, bs->order[lo])[d];
		float		mx = mn;

		for (int64 i = lo + 1; i < hi; i++)
		{
			float		v = PointX(bs, bs->order[i])[d];

			if (v < mn)
				mn = v;
			else if (v > mx)
				mx = v;
		}
		/* the difference can overflow float for huge coordinates */
		if ((double) mx - (double) mn > bestspread)
		{
			bestspread = (double) mx - (double) mn;
			best = d;
		}
	}

	/* left part: half the leaves, rounded down, each full */
	nleaves = (n + bs->leafcap - 1) / bs->leafcap;
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
		KdtreeCheckDims(index, typmod);
		bs.dim = typmod;
		bs.typmod_dim = true;
	}
	bs.nodebuf = InvalidBuffer;
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

	root.blkno = InvalidBlockNumber;
	root.offnum = InvalidOffsetNumber;
	root.unused = 0;
	if (bs.npoints > 0)
	{
		bs.leafcap = KdtreeLeafCapacity(bs.dim, bs.fillfactor);
		bs.order = palloc_extended(sizeof(int64) * bs.npoints, MCXT_ALLOC_HUGE);
		for (int64 i = 0; i < bs.npoints; i++)
			bs.order[i] = i;
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, bs.npoints);
		root = BuildSubtree(&bs, 0, bs.npoints);
		if (BufferIsValid(bs.nodebuf))
		{
			MarkBufferDirty(bs.nodebuf);
			UnlockReleaseBuffer(bs.nodebuf);
		}
	}

	FillMetaPage(BufferGetPage(metabuf), bs.metric, bs.dim, bs.fillfactor,
				 root, bs.has_tiny ? KDTREE_META_HAS_TINY : 0);
	MarkBufferDirty(metabuf);
	UnlockReleaseBuffer(metabuf);

	GvLogBuiltIndex(index);
	MemoryContextDelete(bs.tmpctx);

	result = (IndexBuildResult *) palloc(sizeof(IndexBuildResult));
	result->heap_tuples = reltuples;
	result->index_tuples = bs.npoints;
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
