/*
 * gvpage.h
 *	  The core every gigavector index access method shares: self-describing
 *	  pages (a metapage with magic and format version at block 0, a page
 *	  opaque area ending in a page id), GenericXLog helpers, and the metric
 *	  an operator class stands for.
 *
 * Each access method keeps its own metapage struct, whose first member is
 * a GvMetaHeaderData, and its own page kinds in GvPageOpaqueData.flags.
 */
#ifndef GVPAGE_H
#define GVPAGE_H

#include "access/generic_xlog.h"
#include "access/genam.h"
#include "access/relscan.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "utils/rel.h"

#include "distance.h"
#include "gvector.h"

#define GV_METAPAGE_BLKNO	0

/*
 * Page ids, stored last in every page's opaque area, so that tools such as
 * pageinspect (and our own verify functions) can tell whose page it is.
 * Values are chosen not to collide with core's (0xFF80-0xFF8x).
 */
#define GV_PAGE_ID_HNSW		0xFF91
#define GV_PAGE_ID_IVFPQ	0xFF92
#define GV_PAGE_ID_KDTREE	0xFF93
#define GV_PAGE_ID_BM25		0xFF94

typedef struct GvPageOpaqueData
{
	BlockNumber nextblkno;		/* next page of a chain, or InvalidBlockNumber */
	uint16		flags;			/* page kind and state; meaning is per AM */
	uint16		page_id;		/* GV_PAGE_ID_* */
} GvPageOpaqueData;

typedef GvPageOpaqueData *GvPageOpaque;

#define GvPageGetOpaque(page) ((GvPageOpaque) PageGetSpecialPointer(page))

/* The common head of every access method's metapage. */
typedef struct GvMetaHeaderData
{
	uint32		magic;			/* per access method */
	uint32		version;		/* on-disk format version */
	uint32		dimensions;		/* of the indexed vectors */
} GvMetaHeaderData;

typedef GvMetaHeaderData *GvMetaHeader;

/*
 * The metric an operator class orders by.  Support function 1 of every
 * gigavector vector operator class returns one of these (see
 * GvIndexGetMetric), so the access methods call the SIMD kernels directly
 * instead of going through fmgr for every distance.
 */
typedef enum GvMetricKind
{
	GV_METRIC_L2,				/* order by <->; distance computed as L2^2 */
	GV_METRIC_COSINE,			/* order by <=>; vectors normalised, 1 - dot */
	GV_METRIC_IP,				/* order by <#>; -dot */
	GV_METRIC_L1,				/* order by <+>; sum |a - b| */
	GV_METRIC_HAMMING,			/* order by <~> on gbit: L2^2 of 0/1 floats */
	GV_METRIC_JACCARD			/* order by <%> on gbit: 1 - |a&b| / |a|b| */
} GvMetricKind;

/*
 * The type an operator class indexes.  Access methods work on floats; a
 * ghalfvec's halves, a gbit's bits (as 0 and 1) and a gsparsevec's
 * elements become floats exactly, so every access method indexes them
 * through GvMetricDatumToFloats.
 */
typedef enum GvMetricType
{
	GV_TYPE_GVECTOR,
	GV_TYPE_GHALFVEC,
	GV_TYPE_GBIT,
	GV_TYPE_GSPARSEVEC			/* densified: its non-zeros, zeros elsewhere */
} GvMetricType;

typedef struct GvMetricData
{
	GvMetricKind kind;
	const char *name;			/* "l2", "cosine", "ip", "l1", "hamming",
								 * "jaccard" */
	GvMetricType type;
} GvMetricData;

typedef const GvMetricData *GvMetric;

/*
 * Reading the indexed column of heap rows by TID, as index scans that
 * re-rank with exact distances do: with the scan's snapshot, through the
 * table AM (so HOT chains are followed from the root TID an index holds).
 * Started on first use; GvHeapFetchRelease after a batch (drops the last
 * row's buffer pin), GvHeapFetchEnd before a rescan and at endscan.
 */
typedef struct GvHeapFetchData
{
	struct IndexFetchTableData *fetch;	/* NULL until first used */
	struct TupleTableSlot *slot;
} GvHeapFetchData;

typedef GvHeapFetchData *GvHeapFetch;

extern bool GvHeapFetchValue(GvHeapFetch hf, IndexScanDesc scan, ItemPointer tid,
							 Datum *value);
extern void GvHeapFetchRelease(GvHeapFetch hf);
extern Oid	GvHeapToastId(Relation heap, Relation index, ItemPointer tid);
extern void GvHeapFetchEnd(GvHeapFetch hf);

/* page helpers */
extern void GvInitPage(Page page, uint16 page_id, uint16 flags);
extern Buffer GvNewBuffer(Relation index, ForkNumber fork);
extern void GvCheckMetaHeader(Relation index, GvMetaHeader header,
							  uint32 magic, uint32 version);
extern void GvCheckPage(Relation index, Page page, BlockNumber blkno,
						uint16 page_id);
extern Relation GvOpenIndexToCheck(Oid indexoid, const char *amname);

/*
 * Chains of pages linked by nextblkno, appended to at the end (gv_ivfpq's
 * lists, gv_hnsw's key directory).  When the last page is full a new page
 * is chained after it, and the caller's GvChainSetTail records the new
 * last page on the page that remembers it (a directory page, a metapage),
 * in the same WAL record.
 */
typedef void (*GvChainSetTail) (Page tailPtrPage, BlockNumber newTail, void *arg);

extern BlockNumber GvChainAppend(Relation index, BlockNumber blkno, uint16 page_id,
								 uint16 flags, Item item, Size size,
								 BlockNumber tailPtrBlkno, GvChainSetTail setTail,
								 void *arg);

/*
 * Blobs: a build's read-only arrays (IVFPQ centroids and codebooks, HNSW's
 * key directory projection) laid over consecutive pages, GV_BLOB_PER_PAGE
 * bytes each after the page header.  GvBlobPutChunk sets pd_lower past the
 * data, so a full-page image (which leaves out the hole between pd_lower
 * and pd_upper) keeps it.
 */
#define GV_BLOB_PER_PAGE \
	((BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(GvPageOpaqueData))) & ~((Size) 7))

extern void GvBlobPutChunk(Page page, const char *data, Size chunk);
extern void GvBlobRead(Relation index, BlockNumber start, uint16 page_id, uint16 flags,
					   char *dest, Size size);

/* WAL helpers */
extern Page GvXLogRegisterNew(GenericXLogState *state, Buffer buffer,
							  uint16 page_id, uint16 flags);
extern void GvLogBuiltIndex(Relation index);

/* operator classes and metrics */
extern bool GvValidateVectorOpclass(Oid opclassoid, const char *amname);
extern GvMetric GvIndexGetMetric(Relation index, AttrNumber attno);

/*
 * Distance in the metric's index space: L2^2 for L2, 1 - dot of normalised
 * vectors for cosine, -dot for inner product.  Smaller is nearer in all three.
 *
 * Every access method computes its distances here, so they are right at
 * every magnitude the type accepts (elements from 1e-45 to 3.4e38): L2 and
 * inner product run the float kernel and fall back to double where float
 * would overflow or underflow (GvSafeL2Squared, distance.h), and come back
 * as doubles, which hold any of them (a squared distance of 1e20-sized
 * vectors is 1e40).  Cosine works on unit vectors (GvMetricPrepareVector),
 * whose dot product is at most 1 in magnitude, so the float kernel is as
 * exact as float allows and needs no fallback.  Access methods keep these
 * distances as doubles in memory, and where they keep many of them (index
 * pages, gv_hnsw's build arena) in 32 bits: GvPackDistance.  Inline: it is
 * called for every distance an index computes.
 */
/*
 * Jaccard distance of two 0/1 float vectors (gbit in an index): 1 - |a and
 * b| / |a or b|, with the counts exact in float; 1 when they share no bit
 * (two empty sets too), as gbit's <%> operator says.
 */
static inline double
GvJaccardFromFloats(const float *a, const float *b, int dim)
{
	float		ab,
				aa,
				bb;

	GvCosineParts(a, b, dim, &ab, &aa, &bb);
	if (ab == 0.0f)
		return 1.0;
	return 1.0 - (double) ab / ((double) aa + bb - ab);
}

static inline double
GvMetricDistanceWith(GvMetric metric, GvPairKernel l2, GvPairKernel ip,
					 const float *a, const float *b, int dim)
{
	switch (metric->kind)
	{
		case GV_METRIC_L2:
			return GvSafeL2Squared(l2, a, b, dim);
		case GV_METRIC_COSINE:
			return 1.0f - ip(a, b, dim);
		case GV_METRIC_IP:
			return -GvSafeInnerProduct(ip, a, b, dim);
		case GV_METRIC_L1:
			return GvSafeL1(a, b, dim);
		case GV_METRIC_HAMMING:
			/* 0/1 floats: every term and sum is exact below 2^24 */
			return l2(a, b, dim);
		case GV_METRIC_JACCARD:
			return GvJaccardFromFloats(a, b, dim);
	}
	pg_unreachable();
}

static inline double
GvMetricDistance(GvMetric metric, const float *a, const float *b, int dim)
{
	return GvMetricDistanceWith(metric, GvL2SquaredDistance, GvInnerProduct, a, b, dim);
}

/*
 * The same with the kernels for vectors in the CPU's caches (distance.h):
 * for index builds, whose distances are not the operators' (the distance
 * memo needs the scan's to be).
 */
static inline double
GvMetricDistanceCached(GvMetric metric, const float *a, const float *b, int dim)
{
	return GvMetricDistanceWith(metric, GvL2SquaredDistanceCached, GvInnerProductCached, a, b, dim);
}

extern bool GvMetricPrepareVector(GvMetric metric, float *x, int dim);
extern float *GvMetricDatumToFloats(GvMetric metric, Datum value, int *dim);
extern int	GvMetricDatumDims(GvMetric metric, Datum value);
extern const char *GvMetricTypeName(GvMetric metric);
extern double GvMetricToSqlDistance(GvMetric metric, double distance);

#endif							/* GVPAGE_H */
