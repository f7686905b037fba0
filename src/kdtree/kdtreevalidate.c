/*
 * kdtreevalidate.c
 *	  Checking gv_kdtree: amvalidate for its operator classes (the shared
 *	  vector operator class rules, GvValidateVectorOpclass; gvector_ip_ops
 *	  passes them and is refused at CREATE INDEX, with a hint, not here),
 *	  and gigavector.kdtree_verify, which walks the tree.
 */
#include "compat.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xlog.h"
#include "funcapi.h"
#include "kdtree.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/float.h"
#include "utils/rel.h"

bool
kdtreevalidate(Oid opclassoid)
{
	return GvValidateVectorOpclass(opclassoid, "gv_kdtree");
}

/* A subtree still to check, with the cell its points must lie in. */
typedef struct VerifyItem
{
	KdtreeRef	ref;
	float	   *lo;
	float	   *hi;
} VerifyItem;

/* What gigavector.kdtree_verify counts. */
typedef struct VerifyCounts
{
	int64		nodes;
	int64		leaves;
	int64		points;
} VerifyCounts;

static void
VerifyCorrupt(Relation index, BlockNumber blkno, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INDEX_CORRUPTED),
			 errmsg("index \"%s\" is corrupted at block %u: %s",
					RelationGetRelationName(index), blkno, what),
			 errhint("Rebuild the index with REINDEX.")));
}

/*
 * Check one leaf page: every point inside its cell; count them.
 */
static void
VerifyLeaf(Relation index, Page page, BlockNumber blkno, int dim,
		   const VerifyItem *item, VerifyCounts *counts)
{
	OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
	Size		need = offsetof(KdtreeLeafTupleData, x) + sizeof(float) * dim;

	if (!(GvPageGetOpaque(page)->flags & KDTREE_LEAF) || maxoff < KDTREE_LEAF_HEADER_OFF)
		VerifyCorrupt(index, blkno, "a reference to a leaf names a page that is not one");
	for (OffsetNumber off = KDTREE_FIRST_TUPLE_OFF; off <= maxoff; off++)
	{
		ItemId		iid = PageGetItemId(page, off);
		KdtreeLeafTuple tup;

		if (!ItemIdIsNormal(iid) || ItemIdGetLength(iid) < need)
			VerifyCorrupt(index, blkno, "a leaf item is not a point");
		tup = (KdtreeLeafTuple) PageGetItem(page, iid);
		if (!ItemPointerIsValid(&tup->heaptid))
			VerifyCorrupt(index, blkno, "a point has no heap TID");
		/* tiny cosine vectors are stored raw, outside the tree's space */
		if (tup->flags & KDTREE_TUPLE_TINY)
			continue;
		for (int d = 0; d < dim; d++)
			if (!(tup->x[d] >= item->lo[d] && tup->x[d] <= item->hi[d]))
				VerifyCorrupt(index, blkno, "a point lies outside the cell its nodes split off");
	}
	counts->leaves++;
	counts->points += maxoff - KDTREE_LEAF_HEADER_OFF;
}

/*
 * Walk the tree from the root: every reference names a node or leaf page
 * of ours, reached once, and every point lies on the side of each split
 * above it.  A leaf page the walk never reaches holds points no scan
 * finds; one is an error too.
 */
static void
VerifyTree(Relation index, const KdtreeMetaPageData *meta, BlockNumber nblocks,
		   VerifyCounts *counts)
{
	int			dim = meta->header.dimensions;
	bool	   *reached = palloc0(sizeof(bool) * nblocks);
	List	   *stack = NIL;
	VerifyItem *item = palloc(sizeof(VerifyItem));

	item->ref = meta->root;
	item->lo = palloc(sizeof(float) * dim);
	item->hi = palloc(sizeof(float) * dim);
	for (int d = 0; d < dim; d++)
	{
		item->lo[d] = -get_float4_infinity();
		item->hi[d] = get_float4_infinity();
	}
	stack = lappend(stack, item);
	while (stack != NIL)
	{
		Buffer		buf;
		Page		page;
		BlockNumber blkno;

		CHECK_FOR_INTERRUPTS();
		item = llast(stack);
		stack = list_delete_last(stack);
		blkno = item->ref.blkno;
		if (blkno == GV_METAPAGE_BLKNO || blkno >= nblocks)
			VerifyCorrupt(index, blkno, "a reference names a block outside the index");
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		GvCheckPage(index, page, blkno, GV_PAGE_ID_KDTREE);
		if (KdtreeRefIsLeaf(item->ref))
		{
			if (reached[blkno])
				VerifyCorrupt(index, blkno, "a leaf page is referenced twice");
			reached[blkno] = true;
			VerifyLeaf(index, page, blkno, dim, item, counts);
		}
		else
		{
			KdtreeNode	node;
			VerifyItem *left = palloc(sizeof(VerifyItem));
			VerifyItem *right = palloc(sizeof(VerifyItem));

			if (!(GvPageGetOpaque(page)->flags & KDTREE_NODE) ||
				item->ref.offnum > PageGetMaxOffsetNumber(page))
				VerifyCorrupt(index, blkno, "a reference to a node names no node");
			reached[blkno] = true;
			node = (KdtreeNode) PageGetItem(page, PageGetItemId(page, item->ref.offnum));
			if (node->dim >= dim || isnan(node->split))
				VerifyCorrupt(index, blkno, "a node splits on no dimension of the index");
			if (++counts->nodes > (int64) nblocks * MaxIndexTuplesPerPage)
				VerifyCorrupt(index, blkno, "the nodes form a cycle");
			left->ref = node->left;
			right->ref = node->right;
			left->lo = item->lo;
			right->hi = item->hi;
			left->hi = palloc(sizeof(float) * dim);
			right->lo = palloc(sizeof(float) * dim);
			memcpy(left->hi, item->hi, sizeof(float) * dim);
			memcpy(right->lo, item->lo, sizeof(float) * dim);
			left->hi[node->dim] = Min(left->hi[node->dim], node->split);
			right->lo[node->dim] = Max(right->lo[node->dim], node->split);
			stack = lappend(lappend(stack, right), left);
			item = NULL;		/* its bounds live on in the children */
		}
		UnlockReleaseBuffer(buf);
		if (item)
		{
			pfree(item->lo);
			pfree(item->hi);
			pfree(item);
		}
	}

	for (BlockNumber blkno = GV_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		bool		leaf;

		if (reached[blkno])
			continue;
		CHECK_FOR_INTERRUPTS();
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		leaf = !PageIsNew(BufferGetPage(buf)) &&
			(GvPageGetOpaque(BufferGetPage(buf))->flags & KDTREE_LEAF) &&
			PageGetMaxOffsetNumber(BufferGetPage(buf)) >= KDTREE_FIRST_TUPLE_OFF;
		UnlockReleaseBuffer(buf);
		if (leaf)
			VerifyCorrupt(index, blkno, "a leaf page with points is not reachable from the root");
	}
	pfree(reached);
}

/*
 * gigavector.kdtree_verify(index regclass): nodes, leaves, points, pages.
 * Raises an error at the first corruption found.  Writers are kept out
 * while it walks (ShareLock on the index), so a split in progress is not
 * mistaken for one; on a standby, which grants no such lock, replay goes
 * on meanwhile (check a standby that is not replaying splits).
 */
PG_FUNCTION_INFO_V1(gv_kdtree_verify);
Datum
gv_kdtree_verify(PG_FUNCTION_ARGS)
{
	Relation	index;
	KdtreeMetaPageData meta;
	VerifyCounts counts = {0};
	BlockNumber nblocks;
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {0};
	bool		standby = RecoveryInProgress();

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	index = GvOpenIndexToCheck(PG_GETARG_OID(0), "gv_kdtree");

	/*
	 * a standby grants no lock above RowExclusiveLock; only replay writes
	 * there
	 */
	if (!standby)
		LockRelation(index, ShareLock);
	KdtreeReadMeta(index, &meta, NULL);
	nblocks = RelationGetNumberOfBlocks(index);
	if (BlockNumberIsValid(meta.root.blkno))
		VerifyTree(index, &meta, nblocks, &counts);
	if (!standby)
		UnlockRelation(index, ShareLock);
	index_close(index, AccessShareLock);

	values[0] = Int64GetDatum(counts.nodes);
	values[1] = Int64GetDatum(counts.leaves);
	values[2] = Int64GetDatum(counts.points);
	values[3] = Int64GetDatum(nblocks);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
