/*
 * ivfpq.h
 *	  The gv_ivfpq access method: an inverted file (coarse k-means lists)
 *	  whose entries are product-quantization codes of the residual to the
 *	  list centroid, searched by asymmetric distance and re-ranked with exact
 *	  distances from the heap.
 *
 * The index stores codes, never vectors: an entry is the heap TID and one
 * byte per subquantizer (then the filter columns' codes), packed without
 * padding or line pointers.  See README in this directory for the page
 * layout, locking and WAL.
 */
#ifndef IVFPQ_H
#define IVFPQ_H

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/reloptions.h"
#include "common/pg_prng.h"
#include "nodes/execnodes.h"
#include "storage/bufpage.h"
#include "storage/itemptr.h"
#include "utils/relcache.h"

#include "gvfilter.h"
#include "gvpage.h"

#define IVFPQ_MAGIC			0x47564950	/* "GVIP" */
#define IVFPQ_VERSION		4	/* 4: packed entries, lists sharing the
								 * build's segment pages; earlier versions are
								 * refused with a REINDEX hint */

/* Reloptions: default, min, max; 0 means "derive from the data" */
#define IVFPQ_DEFAULT_LISTS			0
#define IVFPQ_MIN_LISTS				0
#define IVFPQ_MAX_LISTS				32768
#define IVFPQ_DEFAULT_SUBQUANTIZERS	0
#define IVFPQ_MIN_SUBQUANTIZERS		0
#define IVFPQ_MAX_SUBQUANTIZERS		4096
#define IVFPQ_DEFAULT_BITS			0
#define IVFPQ_MIN_BITS				0
#define IVFPQ_MAX_BITS				8

/* Settings: default, min, max */
#define IVFPQ_DEFAULT_PROBES		10
#define IVFPQ_MIN_PROBES			1
#define IVFPQ_MAX_PROBES			IVFPQ_MAX_LISTS
#define IVFPQ_DEFAULT_RERANK		100
#define IVFPQ_MIN_RERANK			1
#define IVFPQ_MAX_RERANK			100000
#define IVFPQ_DEFAULT_MAX_PROBES	256
#define IVFPQ_MIN_MAX_PROBES		1
#define IVFPQ_MAX_MAX_PROBES		IVFPQ_MAX_LISTS

/* Training */
#define IVFPQ_SEED					42	/* fixed: builds are deterministic */
#define IVFPQ_KMEANS_ITERATIONS		10	/* coarse lists */
#define IVFPQ_PQ_ITERATIONS			6	/* codebooks: 4-dim to 32-dim
										 * subspaces settle sooner, and exact
										 * re-ranking absorbs what is left */
#define IVFPQ_SAMPLES_PER_LIST		50	/* coarse training sample per list */
#define IVFPQ_SAMPLES_PER_CODE		20	/* PQ training sample per codeword */
#define IVFPQ_TARGET_SUBDIM			16	/* default dimensions per subquantizer */

/* Page flags (GvPageOpaqueData.flags) */
#define IVFPQ_PAGE_META			1
#define IVFPQ_PAGE_BLOB			2	/* centroids and codebooks, as a stream */
#define IVFPQ_PAGE_DIRECTORY	3	/* the list directory */
#define IVFPQ_PAGE_LIST			4	/* entries inserted into one list */
#define IVFPQ_PAGE_SEGMENT		5	/* the build's entries, every list's */

/* Build phases for pg_stat_progress_create_index */
#define PROGRESS_IVFPQ_PHASE_SAMPLE		2
#define PROGRESS_IVFPQ_PHASE_KMEANS		3
#define PROGRESS_IVFPQ_PHASE_CODEBOOK	4
#define PROGRESS_IVFPQ_PHASE_ENCODE		5
#define PROGRESS_IVFPQ_PHASE_WRITE		6

typedef struct IvfpqOptions
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int			lists;
	int			subquantizers;
	int			bits;
	int			trainingTable;	/* offset of the string, 0: the indexed table */
} IvfpqOptions;

/*
 * Block 0.  An untrained index (built on an empty table) has one list,
 * no centroids and no codebooks; its entries carry no codes and scans
 * compute exact distances for all of them.
 */
typedef struct IvfpqMetaPageData
{
	GvMetaHeaderData header;
	uint32		metric;			/* GvMetricKind the index was built for */
	bool		trained;
	uint32		lists;
	uint32		subquantizers;	/* m: bytes of code per entry */
	uint32		bits;			/* per code; 2^bits codewords per subspace */
	BlockNumber blobStart;		/* first centroid/codebook page */
	uint32		blobPages;
	BlockNumber directoryStart; /* first directory page */
	uint32		directoryPages;
	int64		buildTime;		/* identifies the build, for caches */
	int32		scale;			/* index space = 2^scale * the metric's space
								 * (IvfpqScaleExponent) */
	BlockNumber segmentStart;	/* first segment page (the build's entries) */
	uint32		segmentPages;
} IvfpqMetaPageData;

typedef IvfpqMetaPageData *IvfpqMetaPage;

/*
 * One list in the directory: the build's entries of the list, a run of the
 * segment (entries segmentFirst .. segmentFirst + segmentCount - 1 of the
 * segment pages, taken as one array), then the chain of pages that inserts
 * have added (none until the list's first insert).
 */
typedef struct IvfpqListData
{
	uint32		segmentFirst;
	uint32		segmentCount;
	BlockNumber startPage;		/* first page of the insert chain, or invalid */
	BlockNumber insertPage;		/* its last page, where inserts go */
} IvfpqListData;

typedef IvfpqListData *IvfpqList;

#define IVFPQ_LISTS_PER_PAGE \
	((BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(GvPageOpaqueData))) / sizeof(IvfpqListData))

/*
 * An entry of a list, packed (no alignment, read with memcpy): heap TID
 * (6 bytes; an invalid one is an entry VACUUM removed from a segment
 * page), keyNulls (1 byte, only with filter columns: bit k set when filter
 * column k is NULL), m PQ codes, then the filter columns' codes
 * (gvfilter.h: keyBytes).  Every entry of an index has the same size;
 * pages hold them as an array from PageGetContents to pd_lower.
 */
typedef char *IvfpqEntry;

typedef struct IvfpqEntryLayout
{
	Size		size;			/* bytes an entry */
	Size		codesOffset;	/* after the TID and keyNulls */
	Size		keysOffset;		/* after the codes */
	bool		hasKeyNulls;
	int			perPage;		/* entries a page holds */
} IvfpqEntryLayout;

#define IVFPQ_PAGE_SPACE \
	(BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(GvPageOpaqueData)))

static inline void
IvfpqEntryGetTid(const char *entry, ItemPointer tid)
{
	memcpy(tid, entry, sizeof(ItemPointerData));
}

static inline uint8
IvfpqEntryKeyNulls(const IvfpqEntryLayout *layout, const char *entry)
{
	return layout->hasKeyNulls ? (uint8) entry[sizeof(ItemPointerData)] : 0;
}

/* Entries on an entry page (segment or list) */
static inline int
IvfpqPageEntryCount(Page page, Size entrySize)
{
	return (((PageHeader) page)->pd_lower - MAXALIGN(SizeOfPageHeaderData)) / entrySize;
}

static inline char *
IvfpqPageEntry(Page page, int i, Size entrySize)
{
	return PageGetContents(page) + (Size) i * entrySize;
}

/*
 * What a backend keeps of an index between statements (rd_amcache): the
 * metapage fields, the centroids and the codebooks, which never change
 * after the build.
 */
typedef struct IvfpqCacheData
{
	IvfpqMetaPageData meta;
	GvFilterKeysData keys;		/* filter columns after the vector */
	IvfpqEntryLayout layout;
	int			dim;
	int			dsub;			/* dim / subquantizers */
	int			ksub;			/* 1 << bits */
	float	   *centroids;		/* lists x dim */
	float	   *centroidNorms;	/* lists: ||c||^2 */
	float	   *codebook;		/* m x ksub x dsub */
	float	   *codebookT;		/* m x dsub x ksub (transposed, for scoring) */
	float	   *codebookNorms;	/* m x ksub: ||C||^2 */
} IvfpqCacheData;

typedef IvfpqCacheData *IvfpqCache;

/* ivfpq.c */
extern int	gv_ivfpq_probes;
extern int	gv_ivfpq_rerank;
extern int	gv_ivfpq_max_probes;
extern void IvfpqInit(void);
extern IvfpqOptions *IvfpqGetOptions(Relation index);
extern const char *IvfpqGetTrainingTable(Relation index);
extern void IvfpqParseTrainingTable(const char *value, List **names,
									char **column);

/* ivfpqbuild.c */
extern IndexBuildResult *ivfpqbuild(Relation heap, Relation index,
									IndexInfo *indexInfo);
extern void ivfpqbuildempty(Relation index);

/* ivfpqinsert.c */
extern bool ivfpqinsert(Relation index, Datum *values, bool *isnull,
						ItemPointer heap_tid, Relation heap,
						IndexUniqueCheck checkUnique, bool indexUnchanged,
						IndexInfo *indexInfo);

/* ivfpqscan.c */
extern IndexScanDesc ivfpqbeginscan(Relation index, int nkeys, int norderbys);
extern void ivfpqrescan(IndexScanDesc scan, ScanKey keys, int nkeys,
						ScanKey orderbys, int norderbys);
extern bool ivfpqgettuple(IndexScanDesc scan, ScanDirection dir);
extern void ivfpqendscan(IndexScanDesc scan);

/* ivfpqvacuum.c */
extern IndexBulkDeleteResult *ivfpqbulkdelete(IndexVacuumInfo *info,
											  IndexBulkDeleteResult *stats,
											  IndexBulkDeleteCallback callback,
											  void *callback_state);
extern IndexBulkDeleteResult *ivfpqvacuumcleanup(IndexVacuumInfo *info,
												 IndexBulkDeleteResult *stats);

/* ivfpqvalidate.c */
extern bool ivfpqvalidate(Oid opclassoid);

/* ivfpqkmeans.c */
extern void IvfpqKmeans(const float *data, int n, int dim, int k,
						int iterations, pg_prng_state *rng, float *centroids);
extern void IvfpqScoreSubL2(const float *x, const float *codebookT,
							const float *norms, int dsub, int ksub,
							float *scores);
extern int	IvfpqArgMin(const float *v, int n);
extern int	IvfpqNearestCodeword(const float *x, const float *codebookT,
								 const float *norms, int dsub, int ksub,
								 float *scratch, float *score);
extern void IvfpqScoreSub(const float *x, const float *codebookT,
						  int dsub, int ksub, float *scores);

/* ivfpqcodebook.c */
extern void IvfpqTrainCodebooks(const float *residuals, int n, int dim,
								int m, int ksub, pg_prng_state *rng,
								float *codebook);
extern void IvfpqEncode(IvfpqCache cache, const float *x, int *list,
						uint8 *codes, float *scratch);
extern int	IvfpqNearestList(IvfpqCache cache, const float *x);
extern void IvfpqFinishCache(IvfpqCache cache);

/* ivfpqutils.c */
extern IvfpqCache IvfpqGetCache(Relation index);
extern void IvfpqReadMeta(Relation index, IvfpqMetaPage meta);
extern void IvfpqGetList(Relation index, IvfpqMetaPage meta, int list,
						 IvfpqList result);
extern float *IvfpqPrepareValue(GvMetric metric, Datum value, int expectDim,
								int scale, int *dim);
extern int	IvfpqScaleExponent(GvMetric metric, const float *sample, int n, int dim);
extern void IvfpqScaleVector(float *x, int dim, int scale);
extern void IvfpqInitLayout(IvfpqEntryLayout *layout, int m,
							const GvFilterKeysData *keys);
extern void IvfpqFillEntry(IvfpqCache cache, ItemPointer tid, Datum *values,
						   bool *isnull, IvfpqEntry entry);
extern void IvfpqAppendEntry(Relation index, IvfpqCache cache, int list,
							 IvfpqEntry entry);
extern void IvfpqCheckIndex(Relation index);

#endif							/* IVFPQ_H */
