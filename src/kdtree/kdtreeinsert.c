/*
 * kdtreeinsert.c
 *	  Inserting one vector into a gv_kdtree index.
 *
 * The common case takes no lock but the target leaf's: descend from the
 * root under short share locks on node pages, lock the leaf exclusively,
 * and append the tuple if it fits (one GenericXLog record, one page).
 *
 * A full leaf is split under the metapage's exclusive lock, which
 * serialises all changes to the tree's shape: the splitter re-descends,
 * locks the parent page (a node page, or the metapage when the leaf is the
 * root), the leaf, a new right sibling leaf and, when the parent page is
 * full, a new node page -- at most four pages, one GenericXLog record.  The
 * leaf's points, with the new one, are cut at the median of their
 * widest-spread dimension; a new internal node takes the leaf's place in
 * its parent.  The old leaf records the parent's pre-split LSN as its NSN
 * and links to the new sibling, so that scans and inserts that followed
 * the old pointer notice the split (see README).
 */
#include "compat.h"

#include "gvam.h"
#include "kdtree.h"
#include "miscadmin.h"
#include "utils/memutils.h"

/* Where a descent ended: the leaf, and the node pointing at it. */
typedef struct KdtreeDescentData
{
	BlockNumber leaf;
	XLogRecPtr	seen;			/* LSN of the page holding the pointer */
	KdtreeRef	parent;			/* invalid blkno: the leaf is the root */
	bool		parent_left;	/* the leaf is the parent's left child */
} KdtreeDescentData;

/* A point being redistributed by a split. */
typedef struct SplitPointData
{
	KdtreeLeafTuple tup;
	float		key;
} SplitPointData;

/*
 * Descend from the root to the leaf a vector belongs in.
 */
static void
Descend(Relation index, KdtreeRef root, XLogRecPtr metalsn, const float *x,
		ItemPointer tid, KdtreeDescentData *d)
{
	KdtreeRef	ref = root;

	d->seen = metalsn;
	d->parent.blkno = InvalidBlockNumber;
	d->parent.offnum = InvalidOffsetNumber;
	d->parent_left = false;
	while (!KdtreeRefIsLeaf(ref))
	{
		Buffer		buf = ReadBuffer(index, ref.blkno);
		Page		page;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		GvCheckPage(index, page, ref.blkno, GV_PAGE_ID_KDTREE);
		d->seen = PageGetLSN(page);
		do
		{
			KdtreeNode	node;

			if (ref.offnum > PageGetMaxOffsetNumber(page))
				elog(ERROR, "gv_kdtree index \"%s\" has a dangling node reference",
					 RelationGetRelationName(index));
			node = (KdtreeNode) PageGetItem(page, PageGetItemId(page, ref.offnum));
			d->parent = ref;
			d->parent_left = KdtreeGoesLeft(x, tid, node);
			ref = d->parent_left ? node->left : node->right;
		} while (!KdtreeRefIsLeaf(ref) && ref.blkno == BufferGetBlockNumber(buf));
		UnlockReleaseBuffer(buf);
	}
	d->leaf = ref.blkno;
}

/*
 * Append the tuple to a locked leaf page in one WAL record.
 */
static void
AddToLeaf(Relation index, Buffer buf, ItemPointer tid, const float *x,
		  uint16 flags, int dim)
{
	GenericXLogState *state = GenericXLogStart(index);
	Page		page = GenericXLogRegisterBuffer(state, buf, 0);

	KdtreeAddLeafTuple(index, page, tid, x, flags, dim);
	GenericXLogFinish(state);
	KdtreeSetPageLSNs(index, &buf, 1);
}

/*
 * Metapage changes an insert may need before touching the tree: the
 * dimensions of a typmod-less column (set by the first vector), the flag
 * that a cosine index holds near-zero vectors.  metabuf is exclusively
 * locked.
 */
static void
UpdateMeta(Relation index, Buffer metabuf, int dim, uint16 flags)
{
	KdtreeMetaPage meta = KdtreePageGetMeta(BufferGetPage(metabuf));
	bool		setdim = meta->header.dimensions == 0;
	bool		settiny = ((flags & KDTREE_TUPLE_TINY) &&
						   !(meta->flags & KDTREE_META_HAS_TINY));
	GenericXLogState *state;
	Page		page;

	if (!setdim && !settiny)
		return;
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, metabuf, 0);
	meta = KdtreePageGetMeta(page);
	if (setdim)
		meta->header.dimensions = dim;
	if (settiny)
		meta->flags |= KDTREE_META_HAS_TINY;
	GenericXLogFinish(state);
	KdtreeSetPageLSNs(index, &metabuf, 1);
}

static void
CheckInsertDims(Relation index, KdtreeMetaPage meta, int dim)
{
	if (meta->header.dimensions != 0 && meta->header.dimensions != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %u dimensions, not %d, for gv_kdtree index \"%s\"",
						meta->header.dimensions, dim,
						RelationGetRelationName(index)),
				 errhint("Declare the column's dimensions, e.g. gvector(%u).",
						 meta->header.dimensions)));
}

static int
CompareSplitPoints(const void *a, const void *b)
{
	float		ka = ((const SplitPointData *) a)->key;
	float		kb = ((const SplitPointData *) b)->key;

	return (ka > kb) - (ka < kb);
}

/* The points of a split: copies of the full leaf's tuples, and the new one. */
static SplitPointData *
CollectSplitPoints(Page leafpage, ItemPointer tid, const float *x, uint16 flags, int dim,
				   int *npoints)
{
	OffsetNumber maxoff = PageGetMaxOffsetNumber(leafpage);
	Size		tupsize = KDTREE_LEAF_TUPLE_SIZE(dim);
	SplitPointData *pts = palloc(sizeof(SplitPointData) * (maxoff + 1));
	KdtreeLeafTuple newtup;
	int			n = 0;

	for (OffsetNumber off = KDTREE_FIRST_TUPLE_OFF; off <= maxoff; off++)
	{
		KdtreeLeafTuple tup = (KdtreeLeafTuple) PageGetItem(leafpage, PageGetItemId(leafpage, off));

		pts[n++].tup = (KdtreeLeafTuple) memcpy(palloc(tupsize), tup, tupsize);
	}
	newtup = palloc0(tupsize);
	newtup->heaptid = *tid;
	newtup->flags = flags;
	memcpy(newtup->x, x, sizeof(float) * dim);
	pts[n++].tup = newtup;
	*npoints = n;
	return pts;
}

/*
 * Where to cut: the widest-spread dimension, at the median.  Sorts pts by
 * that dimension and returns the first point of the upper half.
 */
static int
ChooseSplit(SplitPointData *pts, int n, int dim, KdtreeNodeData *node)
{
	float	   *lower = palloc(sizeof(float) * dim);
	float	   *upper = palloc(sizeof(float) * dim);
	int			best;
	int			mid;

	KdtreeBoundsStart(lower, upper, pts[0].tup->x, dim);
	for (int i = 1; i < n; i++)
		KdtreeBoundsAdd(lower, upper, pts[i].tup->x, dim);
	best = KdtreeWidestDimension(lower, upper, dim);
	for (int i = 0; i < n; i++)
		pts[i].key = pts[i].tup->x[best];
	qsort(pts, n, sizeof(SplitPointData), CompareSplitPoints);
	mid = n / 2;
	node->dim = best;
	node->unused = 0;
	node->split = pts[mid].key;
	return mid;
}

/*
 * Lock the split's parent page: a node page (*parentbuf), or the metapage
 * for a root leaf (*parentbuf invalid).  *nodebuf: a new page for the new
 * node when the parent has no room for it (or is the metapage), else
 * invalid.
 */
static void
LockSplitParent(Relation index, KdtreeDescentData *d, Buffer *parentbuf, Buffer *nodebuf)
{
	*parentbuf = InvalidBuffer;
	*nodebuf = InvalidBuffer;
	if (d->parent.blkno != InvalidBlockNumber)
	{
		*parentbuf = ReadBuffer(index, d->parent.blkno);
		LockBuffer(*parentbuf, BUFFER_LOCK_EXCLUSIVE);
		GvCheckPage(index, BufferGetPage(*parentbuf), d->parent.blkno, GV_PAGE_ID_KDTREE);
		if (PageGetFreeSpace(BufferGetPage(*parentbuf)) < MAXALIGN(sizeof(KdtreeNodeData)))
			*nodebuf = GvNewBuffer(index, MAIN_FORKNUM);
	}
	else
		*nodebuf = GvNewBuffer(index, MAIN_FORKNUM);
}

/* Points [from, to) of pts onto a leaf page. */
static void
AddSplitPoints(Relation index, Page page, SplitPointData *pts, int from, int to, int dim)
{
	for (int i = from; i < to; i++)
		KdtreeAddLeafTuple(index, page, &pts[i].tup->heaptid, pts[i].tup->x,
						   pts[i].tup->flags, dim);
}

/*
 * The split's new node (over the left and right leaves) onto npage, block
 * nodeblk, and the pointer to it in ppage: the parent node d names, or,
 * with d NULL, the metapage's root.
 */
static void
LinkSplitNode(Relation index, KdtreeNodeData *node, BlockNumber left, BlockNumber right,
			  Page npage, BlockNumber nodeblk, Page ppage, KdtreeDescentData *d)
{
	KdtreeRef	noderef;

	node->left.blkno = left;
	node->left.offnum = InvalidOffsetNumber;
	node->left.unused = 0;
	node->right.blkno = right;
	node->right.offnum = InvalidOffsetNumber;
	node->right.unused = 0;
	KdtreeAddNode(index, npage, node, &noderef.offnum);
	noderef.blkno = nodeblk;
	noderef.unused = 0;
	if (d != NULL)
	{
		KdtreeNode	parent = (KdtreeNode) PageGetItem(ppage,
													  PageGetItemId(ppage, d->parent.offnum));

		if (d->parent_left)
			parent->left = noderef;
		else
			parent->right = noderef;
	}
	else
		KdtreePageGetMeta(ppage)->root = noderef;
}

/*
 * Split the full leaf at d->leaf, adding the new tuple, with the metapage
 * exclusively locked by the caller.
 */
static void
SplitLeaf(Relation index, Buffer metabuf, Buffer leafbuf, KdtreeDescentData *d,
		  ItemPointer tid, const float *x, uint16 flags, int dim)
{
	Buffer		parentbuf;
	Buffer		newleafbuf;
	Buffer		nodebuf;
	Buffer		buffers[4];
	GenericXLogState *state;
	Page		leafpage = BufferGetPage(leafbuf);
	Page		lpage,
				rpage,
				ppage,
				npage;
	int			n;
	SplitPointData *pts;
	int			mid;
	KdtreeNodeData node;
	XLogRecPtr	parentlsn;
	XLogRecPtr	oldnsn = KdtreeGetLeafHeader(leafpage)->nsn;
	BlockNumber oldright = GvPageGetOpaque(leafpage)->nextblkno;

	pts = CollectSplitPoints(leafpage, tid, x, flags, dim, &n);
	mid = ChooseSplit(pts, n, dim, &node);
	LockSplitParent(index, d, &parentbuf, &nodebuf);
	parentlsn = PageGetLSN(BufferGetPage(BufferIsValid(parentbuf) ? parentbuf : metabuf));
	newleafbuf = GvNewBuffer(index, MAIN_FORKNUM);

	state = GenericXLogStart(index);
	ppage = GenericXLogRegisterBuffer(state, BufferIsValid(parentbuf) ? parentbuf : metabuf, 0);
	lpage = GenericXLogRegisterBuffer(state, leafbuf, GENERIC_XLOG_FULL_IMAGE);
	rpage = GvXLogRegisterNew(state, newleafbuf, GV_PAGE_ID_KDTREE, KDTREE_LEAF);
	npage = BufferIsValid(nodebuf) ?
		GvXLogRegisterNew(state, nodebuf, GV_PAGE_ID_KDTREE, KDTREE_NODE) : ppage;

	/* right sibling: the upper half, inheriting the old NSN and link */
	KdtreeInitLeafPage(rpage, oldnsn);
	GvPageGetOpaque(rpage)->nextblkno = oldright;
	AddSplitPoints(index, rpage, pts, mid, n, dim);

	/* left: the lower half, stamped with the parent's pre-split LSN */
	GvInitPage(lpage, GV_PAGE_ID_KDTREE, KDTREE_LEAF);
	KdtreeInitLeafPage(lpage, parentlsn);
	GvPageGetOpaque(lpage)->nextblkno = BufferGetBlockNumber(newleafbuf);
	AddSplitPoints(index, lpage, pts, 0, mid, dim);

	LinkSplitNode(index, &node, BufferGetBlockNumber(leafbuf), BufferGetBlockNumber(newleafbuf),
				  npage, BufferGetBlockNumber(BufferIsValid(nodebuf) ? nodebuf : parentbuf),
				  ppage, BufferIsValid(parentbuf) ? d : NULL);
	GenericXLogFinish(state);

	buffers[0] = BufferIsValid(parentbuf) ? parentbuf : metabuf;
	buffers[1] = leafbuf;
	buffers[2] = newleafbuf;
	buffers[3] = nodebuf;
	KdtreeSetPageLSNs(index, buffers, 4);

	UnlockReleaseBuffer(newleafbuf);
	if (BufferIsValid(nodebuf))
		UnlockReleaseBuffer(nodebuf);
	if (BufferIsValid(parentbuf))
		UnlockReleaseBuffer(parentbuf);
}

/*
 * The slow path: with the metapage exclusively locked, set metapage
 * fields, create the root leaf of an empty index, or split a full leaf.
 */
static void
InsertLocked(Relation index, ItemPointer tid, const float *x, uint16 flags,
			 int dim)
{
	Buffer		metabuf = ReadBuffer(index, GV_METAPAGE_BLKNO);
	Page		metapage;
	KdtreeMetaPage meta;
	KdtreeDescentData d;
	Buffer		leafbuf;

	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	metapage = BufferGetPage(metabuf);
	GvCheckPage(index, metapage, GV_METAPAGE_BLKNO, GV_PAGE_ID_KDTREE);
	meta = KdtreePageGetMeta(metapage);
	GvCheckMetaHeader(index, &meta->header, KDTREE_MAGIC, KDTREE_VERSION);
	CheckInsertDims(index, meta, dim);
	UpdateMeta(index, metabuf, dim, flags);

	if (meta->root.blkno == InvalidBlockNumber)
	{
		/* the first vector of an empty index: a root leaf */
		GenericXLogState *state;
		Buffer		buffers[2];
		Page		page;

		leafbuf = GvNewBuffer(index, MAIN_FORKNUM);
		state = GenericXLogStart(index);
		metapage = GenericXLogRegisterBuffer(state, metabuf, 0);
		page = GvXLogRegisterNew(state, leafbuf, GV_PAGE_ID_KDTREE, KDTREE_LEAF);
		KdtreeInitLeafPage(page, InvalidXLogRecPtr);
		KdtreeAddLeafTuple(index, page, tid, x, flags, dim);
		meta = KdtreePageGetMeta(metapage);
		meta->root.blkno = BufferGetBlockNumber(leafbuf);
		meta->root.offnum = InvalidOffsetNumber;
		meta->root.unused = 0;
		GenericXLogFinish(state);
		buffers[0] = metabuf;
		buffers[1] = leafbuf;
		KdtreeSetPageLSNs(index, buffers, 2);
		UnlockReleaseBuffer(leafbuf);
		UnlockReleaseBuffer(metabuf);
		return;
	}

	/* the tree's shape cannot change while we hold the metapage */
	Descend(index, meta->root, PageGetLSN(metapage), x, tid, &d);
	leafbuf = ReadBuffer(index, d.leaf);
	LockBuffer(leafbuf, BUFFER_LOCK_EXCLUSIVE);
	GvCheckPage(index, BufferGetPage(leafbuf), d.leaf, GV_PAGE_ID_KDTREE);
	if (PageGetFreeSpace(BufferGetPage(leafbuf)) >= KDTREE_LEAF_TUPLE_SIZE(dim))
		AddToLeaf(index, leafbuf, tid, x, flags, dim);
	else
		SplitLeaf(index, metabuf, leafbuf, &d, tid, x, flags, dim);
	UnlockReleaseBuffer(leafbuf);
	UnlockReleaseBuffer(metabuf);
}

/*
 * Insert a vector, in index space, for a heap TID.
 */
static void
InsertVector(Relation index, ItemPointer tid, const float *x, uint16 flags,
			 int dim)
{
	for (;;)
	{
		KdtreeMetaPageData meta;
		XLogRecPtr	metalsn;
		KdtreeDescentData d;
		Buffer		leafbuf;
		Page		page;

		CHECK_FOR_INTERRUPTS();
		KdtreeReadMeta(index, &meta, &metalsn);
		CheckInsertDims(index, &meta, dim);
		if (meta.header.dimensions == 0 || meta.root.blkno == InvalidBlockNumber ||
			((flags & KDTREE_TUPLE_TINY) && !(meta.flags & KDTREE_META_HAS_TINY)))
			break;

		Descend(index, meta.root, metalsn, x, tid, &d);
		leafbuf = ReadBuffer(index, d.leaf);
		LockBuffer(leafbuf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(leafbuf);
		GvCheckPage(index, page, d.leaf, GV_PAGE_ID_KDTREE);
		if (d.seen <= KdtreeGetLeafHeader(page)->nsn)
		{
			/* the leaf split after we read its parent: start again */
			UnlockReleaseBuffer(leafbuf);
			continue;
		}
		if (PageGetFreeSpace(page) >= KDTREE_LEAF_TUPLE_SIZE(dim))
		{
			AddToLeaf(index, leafbuf, tid, x, flags, dim);
			UnlockReleaseBuffer(leafbuf);
			return;
		}
		UnlockReleaseBuffer(leafbuf);
		break;
	}
	InsertLocked(index, tid, x, flags, dim);
}

/* One heap tuple's vector, checked against the index's metric and dimensions. */
static void
IndexRow(Relation index, Datum *values, bool *isnull pg_attribute_unused(), ItemPointer heap_tid,
		 Relation heap pg_attribute_unused())
{
	GvMetric	metric = GvIndexGetMetric(index, 1);
	int			dim;
	float	   *x = GvMetricDatumToFloats(metric, values[0], &dim);
	uint16		flags;

	KdtreeCheckMetric(index, metric);
	KdtreeCheckDims(dim);
	KdtreePrepareVector(metric, x, dim, &flags);
	InsertVector(index, heap_tid, x, flags, dim);
}

/*
 * aminsert: index one heap tuple's vector (NULLs are not indexed).
 */
bool
kdtreeinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation heap,
			 IndexUniqueCheck checkUnique pg_attribute_unused(),
			 bool indexUnchanged pg_attribute_unused(), IndexInfo *indexInfo pg_attribute_unused())
{
	return GvAmInsert(index, values, isnull, heap_tid, heap,
					  "gv_kdtree insert temporary context", IndexRow);
}
