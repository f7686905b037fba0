/*
 * kdtreeutils.c
 *	  Helpers shared by the gv_kdtree build, insert, scan and vacuum code:
 *	  the metapage, leaf and node items, vector preparation and checks.
 */
#include "compat.h"

#include <math.h>

#include "distance.h"
#include "kdtree.h"
#include "miscadmin.h"
#include "storage/bufpage.h"
#include "utils/rel.h"

/*
 * The build fillfactor of an index, from its reloptions.
 */
int
KdtreeGetFillfactor(Relation index)
{
	KdtreeOptions *opts = (KdtreeOptions *) index->rd_options;

	return opts ? opts->fillfactor : KDTREE_DEFAULT_FILLFACTOR;
}

/*
 * A KD-tree prunes with the triangle geometry of Euclidean space; inner
 * product is not a metric, so no bound on it can be derived from a cell.
 */
void
KdtreeCheckMetric(Relation index, GvMetric metric)
{
	if (metric->kind == GV_METRIC_IP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("gv_kdtree does not support inner product distance"),
				 errdetail("Index \"%s\" uses operator class gvector_ip_ops; inner product is not a metric, so a KD-tree cannot prune on it.",
						   RelationGetRelationName(index)),
				 errhint("Use gvector_l2_ops, gvector_l1_ops, or gvector_cosine_ops (for normalised vectors <#> orders like <=>), or a gv_hnsw index.")));
}

/*
 * Refuse dimensions a KD-tree cannot serve; warn where it stops pruning.
 */
void
KdtreeCheckDims(int dim)
{
	if (dim > KDTREE_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("gv_kdtree supports at most %d dimensions, not %d",
						KDTREE_MAX_DIM, dim),
				 errhint("Use a gv_hnsw or gv_ivfpq index for high-dimensional vectors.")));
}

/*
 * How many leaf tuples of this dimension a page holds at a fillfactor.
 */
int
KdtreeLeafCapacity(int dim, int fillfactor)
{
	Size		usable = (BLCKSZ - MAXALIGN(SizeOfPageHeaderData) -
						  MAXALIGN(sizeof(GvPageOpaqueData)) -
						  MAXALIGN(sizeof(KdtreeLeafHeaderData)) - sizeof(ItemIdData));
	Size		per = KDTREE_LEAF_TUPLE_SIZE(dim) + sizeof(ItemIdData);
	int			cap = (int) (usable * fillfactor / 100 / per);

	return Max(cap, 2);
}

/*
 * Turn an empty leaf page (already GvInitPage'd) into one holding just its
 * header item.
 */
void
KdtreeInitLeafPage(Page page, XLogRecPtr nsn)
{
	KdtreeLeafHeaderData header;

	header.nsn = nsn;
	if (PageAddItem(page, (Item) &header, sizeof(header), InvalidOffsetNumber,
					false, false) != KDTREE_LEAF_HEADER_OFF)
		elog(ERROR, "could not add gv_kdtree leaf header");
}

KdtreeLeafHeader
KdtreeGetLeafHeader(Page page)
{
	return (KdtreeLeafHeader) PageGetItem(page,
										  PageGetItemId(page, KDTREE_LEAF_HEADER_OFF));
}

/*
 * Copy the metapage, and its LSN, under a share lock.
 */
void
KdtreeReadMeta(Relation index, KdtreeMetaPageData *meta, XLogRecPtr *lsn)
{
	XLogRecPtr	metalsn = GvReadMetaPage(index, GV_PAGE_ID_KDTREE, meta,
										 sizeof(KdtreeMetaPageData));

	GvCheckMetaHeader(index, &meta->header, KDTREE_MAGIC, KDTREE_VERSION);
	if (lsn)
		*lsn = metalsn;
}

/*
 * Bring a vector (a gvector's floats, or a ghalfvec's widened exactly:
 * GvMetricDatumToFloats) into index space in place: unchanged for L2; for
 * cosine a unit vector (normalised in double, so tiny and huge vectors
 * too), the origin for a zero vector (flag ZERO, distance always 1).
 */
void
KdtreePrepareVector(GvMetric metric, float *x, int dim, uint16 *flags)
{
	*flags = 0;
	if (!GvMetricPrepareVector(metric, x, dim))
		*flags = KDTREE_TUPLE_ZERO;
}

/*
 * Append a leaf tuple to a leaf page that has room for it.
 */
void
KdtreeAddLeafTuple(Relation index, Page page, ItemPointer tid, const float *x,
				   uint16 flags, int dim)
{
	Size		size = KDTREE_LEAF_TUPLE_SIZE(dim);
	char		data[KDTREE_LEAF_TUPLE_SIZE(KDTREE_MAX_DIM)];
	KdtreeLeafTuple tup = (KdtreeLeafTuple) data;

	memset(data, 0, size);
	tup->heaptid = *tid;
	tup->flags = flags;
	memcpy(tup->x, x, sizeof(float) * dim);
	if (PageAddItem(page, (Item) tup, size, InvalidOffsetNumber, false,
					false) == InvalidOffsetNumber)
		elog(ERROR, "failed to add tuple to gv_kdtree index \"%s\"",
			 RelationGetRelationName(index));
}

/*
 * Append an internal node to a node page that has room for it.
 */
void
KdtreeAddNode(Relation index, Page page, KdtreeNode node, OffsetNumber *offnum)
{
	*offnum = PageAddItem(page, (Item) node, sizeof(KdtreeNodeData),
						  InvalidOffsetNumber, false, false);
	if (*offnum == InvalidOffsetNumber)
		elog(ERROR, "failed to add node to gv_kdtree index \"%s\"",
			 RelationGetRelationName(index));
}

/*
 * GenericXLog leaves page LSNs alone for relations without WAL (unlogged
 * and temporary indexes), but the split protocol compares LSNs: give such
 * pages a fake, increasing LSN, as core's GiST does.  Buffers must still be
 * exclusively locked.
 */
void
KdtreeSetPageLSNs(Relation index, Buffer *buffers, int nbuffers)
{
	XLogRecPtr	lsn;

	if (RelationNeedsWAL(index))
		return;
	lsn = GetFakeLSNForUnloggedRel();
	for (int i = 0; i < nbuffers; i++)
		if (BufferIsValid(buffers[i]))
			PageSetLSN(BufferGetPage(buffers[i]), lsn);
}

/*
 * Insert routing: which side of a node a vector belongs to.  Values equal
 * to the split may live on either side; they go to a side picked by the
 * heap TID, so that many duplicates spread over both subtrees.
 */
bool
KdtreeGoesLeft(const float *x, ItemPointer tid, KdtreeNode node)
{
	float		v = x[node->dim];

	if (v < node->split)
		return true;
	if (v > node->split)
		return false;
	return ((ItemPointerGetBlockNumberNoCheck(tid) * 31 +
			 ItemPointerGetOffsetNumberNoCheck(tid)) & 1) == 0;
}
