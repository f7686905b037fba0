/*
 * kdtree.h
 *	  gv_kdtree: an exact k-NN index for low- and medium-dimensional
 *	  gvector columns.  See src/kdtree/README for the page layout, the
 *	  locking order, WAL and vacuum.
 */
#ifndef KDTREE_H
#define KDTREE_H

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/reloptions.h"
#include "gvpage.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"

#define KDTREE_MAGIC		0x4B445452	/* "KDTR" */
#define KDTREE_VERSION		1

/*
 * Above KDTREE_MAX_DIM a KD-tree prunes nothing and a leaf page holds too
 * few points to be worth it; above KDTREE_NOTICE_DIM pruning weakens enough
 * that a NOTICE says so (see the crossover in doc-kdtree.md).
 */
#define KDTREE_MAX_DIM		128
#define KDTREE_NOTICE_DIM	32

/* fillfactor: how full the build packs leaf pages (percent) */
#define KDTREE_DEFAULT_FILLFACTOR	90
#define KDTREE_MIN_FILLFACTOR		10
#define KDTREE_MAX_FILLFACTOR		100

/* Page kinds, in GvPageOpaqueData.flags */
#define KDTREE_META			(1 << 0)
#define KDTREE_NODE			(1 << 1)
#define KDTREE_LEAF			(1 << 2)

/* Metapage flags */
#define KDTREE_META_HAS_TINY	(1 << 0)	/* cosine: holds near-zero vectors */

/*
 * A reference to a subtree: an internal node (item offnum on node page
 * blkno) or a leaf page (offnum == InvalidOffsetNumber).  An empty index
 * has an invalid blkno as its root.
 */
typedef struct KdtreeRef
{
	BlockNumber blkno;
	OffsetNumber offnum;
	uint16		unused;
} KdtreeRef;

#define KdtreeRefIsLeaf(r)	((r).offnum == InvalidOffsetNumber)

/*
 * An internal node: points with x[dim] <= split are in the left subtree,
 * points with x[dim] >= split in the right one (equal values may be on
 * either side, which lets duplicates split evenly).
 */
typedef struct KdtreeNodeData
{
	float		split;
	uint16		dim;
	uint16		unused;
	KdtreeRef	left;
	KdtreeRef	right;
} KdtreeNodeData;

typedef KdtreeNodeData *KdtreeNode;

typedef struct KdtreeMetaPageData
{
	GvMetaHeaderData header;	/* magic, version, dimensions (0 = unknown) */
	uint32		metric;			/* GvMetricKind the index was built for */
	uint32		flags;			/* KDTREE_META_* */
	uint32		fillfactor;
	KdtreeRef	root;
} KdtreeMetaPageData;

typedef KdtreeMetaPageData *KdtreeMetaPage;

#define KdtreePageGetMeta(page) ((KdtreeMetaPage) PageGetContents(page))

/*
 * Item 1 of every leaf page.  nsn is the LSN the parent page had just
 * before this leaf last split (0 if it never did): a scan or insert that
 * read the parent at an LSN <= nsn followed a pointer older than the split
 * and must also visit the right-link (opaque nextblkno) chain.
 */
typedef struct KdtreeLeafHeaderData
{
	XLogRecPtr	nsn;
} KdtreeLeafHeaderData;

typedef KdtreeLeafHeaderData *KdtreeLeafHeader;

#define KDTREE_LEAF_HEADER_OFF	FirstOffsetNumber
#define KDTREE_FIRST_TUPLE_OFF	OffsetNumberNext(FirstOffsetNumber)

/* A leaf tuple: heap TID and the vector in index space. */
typedef struct KdtreeLeafTupleData
{
	ItemPointerData heaptid;
	uint16		flags;			/* KDTREE_TUPLE_* */
	float		x[FLEXIBLE_ARRAY_MEMBER];
} KdtreeLeafTupleData;

typedef KdtreeLeafTupleData *KdtreeLeafTuple;

/* cosine: a zero vector, stored at the origin; its distance is always 1 */
#define KDTREE_TUPLE_ZERO	(1 << 0)
/*
 * cosine: a nonzero vector too small for float cosine, stored raw.  Only
 * indexes built before the SQL cosine was computed in double where float
 * underflows hold such tuples (and KDTREE_META_HAS_TINY); their scans stay
 * exhaustive.  Nothing sets the flag any more.
 */
#define KDTREE_TUPLE_TINY	(1 << 1)

#define KDTREE_LEAF_TUPLE_SIZE(dim) \
	MAXALIGN(offsetof(KdtreeLeafTupleData, x) + sizeof(float) * (dim))


/* reloptions */
typedef struct KdtreeOptions
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int			fillfactor;
} KdtreeOptions;

/* A vector being inserted, in index space. */
typedef struct KdtreeVectorData
{
	uint16		flags;			/* KDTREE_TUPLE_* */
	float	   *x;
} KdtreeVectorData;

/* kdtree.c */
extern void KdtreeInit(void);
extern bytea *kdtreeoptions(Datum reloptions, bool validate);
extern void kdtreecostestimate(PlannerInfo *root, IndexPath *path,
							   double loop_count, Cost *indexStartupCost,
							   Cost *indexTotalCost,
							   Selectivity *indexSelectivity,
							   double *indexCorrelation, double *indexPages);

/* kdtreebuild.c */
extern IndexBuildResult *kdtreebuild(Relation heap, Relation index,
									 IndexInfo *indexInfo);
extern void kdtreebuildempty(Relation index);

/* kdtreeinsert.c */
extern bool kdtreeinsert(Relation index, Datum *values, bool *isnull,
						 ItemPointer heap_tid, Relation heap,
						 IndexUniqueCheck checkUnique, bool indexUnchanged,
						 IndexInfo *indexInfo);

/* kdtreescan.c */
extern IndexScanDesc kdtreebeginscan(Relation index, int nkeys, int norderbys);
extern void kdtreerescan(IndexScanDesc scan, ScanKey keys, int nkeys,
						 ScanKey orderbys, int norderbys);
extern bool kdtreegettuple(IndexScanDesc scan, ScanDirection dir);
extern void kdtreeendscan(IndexScanDesc scan);

/* kdtreevacuum.c */
extern IndexBulkDeleteResult *kdtreebulkdelete(IndexVacuumInfo *info,
											   IndexBulkDeleteResult *stats,
											   IndexBulkDeleteCallback callback,
											   void *callback_state);
extern IndexBulkDeleteResult *kdtreevacuumcleanup(IndexVacuumInfo *info,
												  IndexBulkDeleteResult *stats);

/* kdtreevalidate.c */
extern bool kdtreevalidate(Oid opclassoid);

/* kdtreeutils.c */
extern int	KdtreeGetFillfactor(Relation index);
extern void KdtreeCheckMetric(Relation index, GvMetric metric);
extern void KdtreeCheckDims(int dim);
extern int	KdtreeLeafCapacity(int dim, int fillfactor);
extern void KdtreeInitLeafPage(Page page, XLogRecPtr nsn);
extern KdtreeLeafHeader KdtreeGetLeafHeader(Page page);
extern void KdtreeReadMeta(Relation index, KdtreeMetaPageData *meta,
						   XLogRecPtr *lsn);
extern void KdtreePrepareVector(GvMetric metric, float *x, int dim, uint16 *flags);
extern void KdtreeAddLeafTuple(Relation index, Page page, ItemPointer tid,
							   const float *x, uint16 flags, int dim);
extern void KdtreeAddNode(Relation index, Page page, KdtreeNode node,
						  OffsetNumber *offnum);
extern void KdtreeSetPageLSNs(Relation index, Buffer *buffers, int nbuffers);
extern bool KdtreeGoesLeft(const float *x, ItemPointer tid, KdtreeNode node);

/*
 * A split cuts the dimension its points spread widest in.  The build and
 * a leaf split both find it by keeping the per-dimension bounds of their
 * points (lower, upper: dim floats each), one point at a time.
 */
static inline void
KdtreeBoundsStart(float *lower, float *upper, const float *x, int dim)
{
	memcpy(lower, x, sizeof(float) * dim);
	memcpy(upper, x, sizeof(float) * dim);
}

static inline void
KdtreeBoundsAdd(float *lower, float *upper, const float *x, int dim)
{
	for (int d = 0; d < dim; d++)
	{
		if (x[d] < lower[d])
			lower[d] = x[d];
		else if (x[d] > upper[d])
			upper[d] = x[d];
	}
}

/* The widest dimension of the bounds (the first, if several tie). */
static inline int
KdtreeWidestDimension(const float *lower, const float *upper, int dim)
{
	int			best = 0;
	double		bestspread = -1;

	for (int d = 0; d < dim; d++)
	{
		/* the difference can overflow float for huge coordinates */
		double		spread = (double) upper[d] - (double) lower[d];

		if (spread > bestspread)
		{
			bestspread = spread;
			best = d;
		}
	}
	return best;
}

#endif							/* KDTREE_H */
