/*
 * hnsw.h
 *	  The gv_hnsw access method: a hierarchical navigable small world graph
 *	  (Malkov & Yashunin, 2016) stored in Postgres pages.
 *
 * Every element of the graph is one fixed-layout index tuple holding its
 * heap TID, its vector (in the metric's index space) and its neighbour
 * lists for every level, each neighbour with its distance to the element.
 * See README in this directory for the page layout, locking and WAL.
 */
#ifndef HNSW_H
#define HNSW_H

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/reloptions.h"
#include "common/pg_prng.h"
#include "nodes/execnodes.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/itemptr.h"
#include "storage/dsm.h"
#include "storage/shm_toc.h"
#include "utils/relcache.h"

#include "gvfilter.h"
#include "gsparsevec.h"
#include "gvpage.h"
#include "projection.h"

#define HNSW_MAGIC			0x47564853	/* "GVHS" */
#define HNSW_VERSION		4	/* 2: element tuples carry toastid; 3: and
								 * several heap TIDs (moretids); 4: one heap
								 * TID, more in overflow tuples */

/* Reloptions: default, min, max */
#define HNSW_DEFAULT_M				16
#define HNSW_MIN_M					2
#define HNSW_MAX_M					100
#define HNSW_DEFAULT_EF_CONSTRUCTION	64
#define HNSW_MIN_EF_CONSTRUCTION	4
#define HNSW_MAX_EF_CONSTRUCTION	1000

/* Settings: default, min, max */
#define HNSW_DEFAULT_EF_SEARCH		40
#define HNSW_MIN_EF_SEARCH			1
#define HNSW_MAX_EF_SEARCH			1000
#define HNSW_DEFAULT_MAX_SCAN_TUPLES	20000

/*
 * A scan's graph phase ends after visiting this share of the index's
 * elements (or hnsw_max_scan_tuples, if less); the exact pass follows
 * (hnswscan.c).  The cost estimate (hnsw.c) uses the same bound.
 */
#define HNSW_GRAPH_SHARE	0.15
/* ... or after handing out this many times ef_search rows */
#define HNSW_GRAPH_ROWS		8
/* graph visits to hand out r rows: about START * ef_search + ROW * r */
#define HNSW_START_VISITS	8
#define HNSW_ROW_VISITS		4
#define HNSW_MIN_MAX_SCAN_TUPLES	1
#define HNSW_MAX_MAX_SCAN_TUPLES	INT_MAX

/* Filter columns after the vector: CREATE INDEX ... (emb, label, ...). */
#define HNSW_MAX_KEYS			GV_MAX_FILTER_KEYS

/* Levels are capped so that an element tuple always fits on a page. */
#define HNSW_MAX_LEVEL			15

/* Page flags (GvPageOpaqueData.flags) */
#define HNSW_PAGE_META			1
#define HNSW_PAGE_ELEMENT		2
#define HNSW_PAGE_KEYS			4	/* key directory (hnswkeydir.c) */
#define HNSW_PAGE_PROJ			8	/* the key directory's projection */

/*
 * Element flags.  A tombstone (DELETED) keeps its vector and links and still
 * routes searches until vacuum has repaired every link to it; only then is
 * it FREE (always with DELETED), and only a FREE slot may be overwritten by
 * an insert (see README, Vacuum).
 */
#define HNSW_ELEMENT_DELETED	1	/* tombstone: routes, never returned */
#define HNSW_ELEMENT_FREE		2	/* tombstone nothing links to: reusable */
#define HNSW_ELEMENT_OVERFLOW	4	/* more heap TIDs of an element's vector:
									 * on its overflow chain, not in the graph */

/* Build phases for pg_stat_progress_create_index */
#define PROGRESS_HNSW_PHASE_LOAD	2
#define PROGRESS_HNSW_PHASE_WRITE	3

/*
 * How element tuples store vectors (reloption storage = float32, float16,
 * int8, binary or auto).  FLOAT keeps them exact; HALF (IEEE half precision),
 * BIT (one bit a dimension, two levels per vector) and INT8 (one scale per vector) let vectors of more
 * dimensions fit on a page, and a scan then re-ranks each batch with exact
 * distances from the heap.  AUTO is only a reloption value: the build picks
 * the first of FLOAT, HALF, INT8, BIT whose element fits, and the metapage keeps
 * the choice (0 = FLOAT in metapages written before storage existed).
 */
#define HNSW_STORAGE_FLOAT		0
#define HNSW_STORAGE_HALF		1
#define HNSW_STORAGE_INT8		2
#define HNSW_STORAGE_AUTO		3
#define HNSW_STORAGE_BIT		4
#define HNSW_STORAGE_SPARSE		5	/* a gsparsevec's non-zeros, packed
									 * (gsparsevec.h): never a reloption
									 * value, the build's choice for wide
									 * columns */

/*
 * A sparse element has room for the non-zeros that leave room on a page
 * for the links of this many levels above level 0 (GvHnswSparseCapFor).
 */
#define HNSW_SPARSE_LEVELS		3

typedef struct GvHnswOptions
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int			m;
	int			efConstruction;
	int			storage;		/* HNSW_STORAGE_* */
} GvHnswOptions;

/* Block 0. */
typedef struct GvHnswMetaPageData
{
	GvMetaHeaderData header;
	uint16		m;
	uint16		efConstruction;
	uint16		maxLevel;		/* highest level an element tuple can hold */
	uint16		entryLevel;		/* level of the entry point, if valid */
	ItemPointerData entry;		/* entry point, or invalid when empty */
	BlockNumber insertPage;		/* last page, where appends go */
	uint16		storage;		/* HNSW_STORAGE_FLOAT, _HALF, _INT8 or _BIT */
	BlockNumber keyDirHead;		/* key directory's first page, Invalid when
								 * empty; 0 in indexes built before it existed */
	BlockNumber keyDirTail;		/* its last page, where appends go (a hint) */
	uint16		projDims;		/* GV_PROJ_DIMS if key entries hold sketches */
	BlockNumber projStart;		/* first of the pages holding the projection's
								 * mean and directions (floats, in order) */
	uint16		sparseCap;		/* storage SPARSE: non-zeros an element holds */
} GvHnswMetaPageData;

typedef GvHnswMetaPageData *GvHnswMetaPage;

#define GvHnswPageGetMeta(page) ((GvHnswMetaPage) PageGetContents(page))

/*
 * Rows whose vectors (and filter columns) the index stores as the same
 * bytes share one graph element (hnswinsert.c, hnswbuild.c), so that
 * identical vectors do not crowd each other's neighbour lists.  The element
 * tuple holds one heap TID; the others go to overflow tuples
 * (HNSW_ELEMENT_OVERFLOW) chained from it: the element's head and bytes
 * (filter columns, vector), then a list of heap TIDs instead of links.
 * Each new overflow tuple of a chain has room for as many TIDs as the chain
 * holds already (at least HNSW_OVERFLOW_MIN_TIDS, at most
 * GvHnswInfoData.maxTids), so a chain of n TIDs has O(log n) tuples.
 */
#define HNSW_OVERFLOW_MIN_TIDS	8

/* Heap TIDs an in-memory graph element holds; more are inserted later. */
#define HNSW_GRAPH_TIDS			7

/* Bound on the heap TIDs the tuples of one page hold together. */
#define HNSW_PAGE_TIDS			((int) (BLCKSZ / sizeof(ItemPointerData)))

/*
 * An element tuple.  The layout after the fixed head depends only on the
 * index's m and dimensions and on capLevel (the level the tuple has room
 * for), so a tombstone's slot can be reused by a new element of a level up
 * to capLevel by overwriting it in place (an overflow tuple has the same
 * head and data, then heap TIDs: GvHnswOverflowSize):
 *
 *	 char		keys[keyBytes]	filter column codes at keyOffset[k] (values,
 *								hashes, jsonb signatures), unaligned
 *	 char		data[vecBytes]	the vector, as the index's storage encodes it:
 *								float[dim], half[dim], {float scale;
 *								int8[dim]} or {float lo, hi; bits},
 *								padded to a multiple of 4
 *	 GvPackedDistance dist[GvHnswSlots(m, capLevel)]
 *	 ItemPointerData nbr[GvHnswSlots(m, capLevel)]
 *
 * Level 0 owns slots [0, 2m), level l >= 1 owns [2m + (l-1)m, 2m + l*m).
 * An unused slot holds an invalid ItemPointer.  A link's distance is kept in
 * 32 bits (GvPackDistance, distance.h): the float it always was for
 * distances a float holds, and the bit patterns no distance uses (infinity,
 * NaN, subnormals) for the rest of double's range, which the distances of
 * huge or tiny vectors reach.  Read it with GvUnpackDistance, never as a
 * float.
 */
typedef struct GvHnswElementTupleData
{
	uint8		flags;
	uint8		level;
	uint8		capLevel;
	uint8		keyNulls;		/* bit k: filter column k is NULL */
	ItemPointerData heaptid;
	uint16		spares;			/* the last this many valid level-0 links are
								 * spares (the build's keepPrunedConnections):
								 * a back-link takes the first spare's slot.
								 * In an overflow tuple: its room in heap TIDs
								 * (GvHnswTupleTidRoom) */
	Oid			toastid;		/* the heap row's vector is this out-of-line
								 * TOAST value (InvalidOid: inline, or not
								 * known, or more than one row); see
								 * GvDistanceMemoPut */
	uint16		ntids;			/* heap TIDs: 1 in a live element, 0 in a
								 * tombstone; may be 0 in an element with an
								 * overflow chain.  An overflow tuple's:
								 * heaptid, then tids[0, ntids - 1) */
	ItemPointerData overflow;	/* the next overflow tuple, or invalid */
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* 4-byte aligned */
} GvHnswElementTupleData;

/*
 * A search's candidate for an element that has an overflow chain carries
 * this as its toastid, and a scan expands it into one candidate a TID
 * before it hands rows out (hnswscan.c: ExpandBatch); keeping the count in
 * the candidate would make the scans' candidate arrays a third larger.  No
 * TOAST value has this id: OIDs below FirstNormalObjectId are never
 * assigned once the cluster runs.
 */
#define HNSW_TOASTID_EXPAND		((Oid) 1)
#define GvHnswCandidateToastId(tup) \
	((tup)->ntids == 1 && !ItemPointerIsValid(&(tup)->overflow) ? \
	 (tup)->toastid : HNSW_TOASTID_EXPAND)

/*
 * An overflow tuple: the fixed head (level 0, spares = room), data[dataBytes]
 * as in the element, then ItemPointerData tids[room - 1]: no links.
 */
#define GvHnswOverflowSize(dataBytes, room) \
	MAXALIGN(offsetof(GvHnswElementTupleData, data) + (dataBytes) + \
			 sizeof(ItemPointerData) * ((room) - 1))
#define GvHnswTupleTidRoom(tup) \
	(((tup)->flags & HNSW_ELEMENT_OVERFLOW) ? (int) (tup)->spares : 1)

/* The i-th heap TID of a tuple, 0 <= i < GvHnswTupleTidRoom (tids after data). */
#define GvHnswElementHeapTid(tup, dataBytes, i) \
	((i) == 0 ? &(tup)->heaptid : \
	 &((ItemPointer) ((tup)->data + (dataBytes)))[(i) - 1])

typedef GvHnswElementTupleData *GvHnswElementTuple;

#define GvHnswSlots(m, level)		(2 * (m) + (level) * (m))
#define GvHnswLevelStart(m, l)	((l) == 0 ? 0 : 2 * (m) + ((l) - 1) * (m))
#define GvHnswLevelSlots(m, l)	((l) == 0 ? 2 * (m) : (m))
#define GvHnswTupleSize(dataBytes, m, capLevel) \
	MAXALIGN(offsetof(GvHnswElementTupleData, data) + (dataBytes) + \
			 (sizeof(GvPackedDistance) + sizeof(ItemPointerData)) * GvHnswSlots(m, capLevel))
#define GvHnswTupleDists(tup, dataBytes) ((GvPackedDistance *) ((tup)->data + (dataBytes)))
#define GvHnswTupleNbrs(tup, dataBytes, m) \
	((ItemPointer) (GvHnswTupleDists(tup, dataBytes) + GvHnswSlots(m, (tup)->capLevel)))

/* Largest tuple a page holds (one item per page). */
#define HNSW_MAX_TUPLE_SIZE \
	(BLCKSZ - MAXALIGN(SizeOfPageHeaderData + sizeof(ItemIdData)) - \
	 MAXALIGN(sizeof(GvPageOpaqueData)))

/* What the access method needs to know about an index, cached. */
typedef struct GvHnswInfoData
{
	int			dim;
	int			m;
	int			efConstruction;
	int			maxLevel;
	int			storage;		/* HNSW_STORAGE_FLOAT, _HALF, _INT8 or _BIT */
	int			vecBytes;		/* size of an encoded vector in a tuple */
	int			sparseCap;		/* storage SPARSE: non-zeros an element holds */
	int			vecFloats;		/* floats of a vector in memory: dim, or
								 * GV_SPARSE_PACKED_WORDS(sparseCap) */
	GvFilterKeysData keys;		/* filter columns after the vector */
	int			dataBytes;		/* keyBytes + vecBytes: see the tuple layout */
	int			maxTids;		/* room of the largest overflow tuple: its
								 * size that of a top-level element */
	GvMetric	metric;
	int			projDims;		/* key entries hold sketches (projection.h) */
	BlockNumber projStart;
	float	   *projMean;		/* dim floats, loaded on first use */
	float	   *projDirs;		/* GV_PROJ_DIMS * dim floats */
} GvHnswInfoData;

/* An indexed row as the graph stores it (GvHnswPrepareRow). */
typedef struct GvHnswRowData
{
	float	   *vec;			/* the vector, in the metric's space
								 * (vecFloats floats) */
	char	   *keys;			/* encoded filter columns */
	uint8		keyNulls;
	Oid			toastid;		/* as in the element tuple */
} GvHnswRowData;


typedef GvHnswInfoData *GvHnswInfo;

/*
 * One entry of the key directory (hnswkeydir.c): an element's filter column
 * codes, densely packed so that a scan can find every element a filter
 * matches without reading element pages.
 */
typedef struct GvHnswKeyEntryData
{
	ItemPointerData element;	/* the element tuple */
	ItemPointerData heaptid;	/* its heap row, so VACUUM can drop the entry */
	uint8		keyNulls;		/* as in the element */
	char		keys[FLEXIBLE_ARRAY_MEMBER];	/* uint64[nkeys], then (if the
												 * index has a projection) the
												 * vector's sketch, float[
												 * GV_PROJ_SKETCH]; unaligned */
} GvHnswKeyEntryData;

typedef GvHnswKeyEntryData *GvHnswKeyEntry;

#define GvHnswKeyEntrySize(info) \
	(offsetof(GvHnswKeyEntryData, keys) + (info)->keys.keyBytes + \
	 ((info)->projDims > 0 ? GV_PROJ_SKETCH * sizeof(float) : 0))
#define GvHnswKeyEntrySketch(info, e) ((e)->keys + (info)->keys.keyBytes)

/* A matching element the key directory lists, with its distance bound. */
typedef struct GvHnswListed
{
	ItemPointerData tid;
	double		bound;			/* lower bound on its distance to the query
								 * (squared L2), 0 without sketches */
} GvHnswListed;

/* Building the key directory after the graph's element pages. */
typedef struct GvHnswKeyDirWriterData
{
	Relation	index;
	GvHnswInfo	info;
	Page		page;			/* being filled, not yet written */
	BlockNumber head;
	BlockNumber tail;
	GvHnswKeyEntry entry;		/* scratch */
} GvHnswKeyDirWriterData;

typedef GvHnswKeyDirWriterData *GvHnswKeyDirWriter;

/*
 * A growing set of item pointers (visited sets on disk), open addressing.
 */
typedef struct GvHnswTidSetData
{
	uint64	   *keys;			/* 0 = empty */
	uint32		mask;
	uint32		count;
} GvHnswTidSetData;

typedef GvHnswTidSetData *GvHnswTidSet;

/* A (distance, tid) pair and binary heaps of them. */
typedef struct GvHnswCandidate
{
	double		dist;			/* GvMetricDistance */
	ItemPointerData tid;
	ItemPointerData heaptid;	/* valid for returnable elements */
	Oid			toastid;		/* the element's, in scans; or
								 * HNSW_TOASTID_EXPAND */
} GvHnswCandidate;

typedef struct GvHnswHeapData
{
	GvHnswCandidate *items;
	int			count;
	int			size;
	bool		max;			/* max-heap (else min-heap) */
} GvHnswHeapData;

typedef GvHnswHeapData *GvHnswHeap;

/* Settings */
extern int	gv_hnsw_ef_search;
extern int	gv_hnsw_max_scan_tuples;

/* hnsw.c */
extern void GvHnswInit(void);
extern int	GvHnswGetM(Relation index);
extern int	GvHnswGetEfConstruction(Relation index);
extern int	GvHnswGetStorage(Relation index);

/* hnswutils.c */
extern GvHnswInfo GvHnswGetInfo(Relation index);
extern void GvHnswReadMeta(Relation index, GvHnswMetaPageData *meta);
extern int	GvHnswMaxLevelFor(int dataBytes, int m);
extern int	GvHnswMaxTidsFor(int dataBytes, int m, int maxLevel);
extern int	GvHnswVectorBytes(int storage, int dim);
extern int	GvHnswSparseCapFor(int keyBytes, int m, int dim);
extern void GvHnswSetVectorSize(GvHnswInfo info);
extern int	GvHnswChooseStorage(Relation index, int requested, int dim, int m,
								int keyBytes);
extern const char *GvHnswStorageName(int storage);
extern void GvHnswEncodeVector(Relation index, GvHnswInfo info, const float *vec,
							   char *dst);
extern const float *GvHnswElementVector(GvHnswInfo info, GvHnswElementTuple tup,
										float *buf);
extern uint8 *GvHnswQueryBits(GvHnswInfo info, const float *q);
extern double GvHnswElementDistance(GvHnswInfo info, const float *q, const uint8 *qbits,
									GvHnswElementTuple tup, float *decoded);
extern int	GvHnswRandomLevel(pg_prng_state *prng, int m, int maxLevel);
extern void GvHnswInitMetaPage(Page page, GvHnswInfo info);
extern bool GvHnswPrepareRow(Relation index, GvHnswInfo info, Datum *values,
							 bool *isnull, GvHnswRowData *row);
extern bool GvHnswStorageIsExact(GvHnswInfo info);
extern float *GvHnswPrepareDatum(Relation index, GvHnswInfo info, Datum value,
								 bool *ok);
extern GvHnswElementTuple GvHnswPageGetElement(Page page, OffsetNumber off);
extern bool GvHnswGetElementCopy(Relation index, GvHnswInfo info, ItemPointer tid,
								 GvHnswElementTuple dst);
extern void GvHnswTidSetInit(GvHnswTidSet set, int capacity);
extern bool GvHnswTidSetAdd(GvHnswTidSet set, ItemPointer tid);
extern bool GvHnswTidSetContains(GvHnswTidSet set, ItemPointer tid);
extern void GvHnswTidSetFree(GvHnswTidSet set);
#define GvHnswHeapTop(h) (&(h)->items[0])
extern int	GvHnswSelectNeighbors(Relation index, GvHnswInfo info,
								  GvHnswCandidate *cands, int ncands, int lm,
								  ItemPointer self, GvHnswCandidate *out);

/*
 * GvHnswHeapData keeps the min-or-max choice at run time, for the callers
 * that pass either kind around; each operation works on a view of it as
 * one of the kit's heaps (gvheap.h), whose order is fixed at compile time.
 * Inline: searches push and pop for every neighbour they look at.
 */
#define GV_HEAP_PREFIX		gvhnsw_near
#define GV_HEAP_ELEMENT		GvHnswCandidate
#define GV_HEAP_LESS(a, b)	((a)->dist < (b)->dist)
#include "gvheap.h"

#define GV_HEAP_PREFIX		gvhnsw_far
#define GV_HEAP_ELEMENT		GvHnswCandidate
#define GV_HEAP_LESS(a, b)	((a)->dist < (b)->dist)
#define GV_HEAP_MAX
#include "gvheap.h"

static inline void
GvHnswHeapInit(GvHnswHeap heap, int size, bool max)
{
	heap->size = Max(size, 16);
	heap->items = palloc(sizeof(GvHnswCandidate) * heap->size);
	heap->count = 0;
	heap->max = max;
}

static inline void
GvHnswHeapPush(GvHnswHeap heap, GvHnswCandidate *c)
{
	if (heap->max)
	{
		gvhnsw_far_heap h = {heap->items, heap->count, heap->size, true};

		gvhnsw_far_push(&h, c);
		heap->items = h.items;
		heap->count = h.count;
		heap->size = h.capacity;
	}
	else
	{
		gvhnsw_near_heap h = {heap->items, heap->count, heap->size, true};

		gvhnsw_near_push(&h, c);
		heap->items = h.items;
		heap->count = h.count;
		heap->size = h.capacity;
	}
}

static inline GvHnswCandidate
GvHnswHeapPop(GvHnswHeap heap)
{
	GvHnswCandidate top;

	if (heap->max)
	{
		gvhnsw_far_heap h = {heap->items, heap->count, heap->size, true};

		top = gvhnsw_far_pop(&h);
		heap->count = h.count;
	}
	else
	{
		gvhnsw_near_heap h = {heap->items, heap->count, heap->size, true};

		top = gvhnsw_near_pop(&h);
		heap->count = h.count;
	}
	return top;
}

/*
 * Check that tid names an element tuple of this index.  Pointers come from
 * our own pages, so a bad one means corruption.
 */
static inline GvHnswElementTuple
GvHnswGetElementLocked(Relation index, Page page, ItemPointer tid)
{
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);

	if (off < FirstOffsetNumber || off > PageGetMaxOffsetNumber(page) ||
		!ItemIdIsNormal(PageGetItemId(page, off)))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has a neighbour pointer to a missing element (%u,%u)",
						RelationGetRelationName(index),
						ItemPointerGetBlockNumber(tid), off),
				 errhint("Rebuild the index with REINDEX.")));
	return (GvHnswElementTuple) PageGetItem(page, PageGetItemId(page, off));
}

/*
 * The distance of two vectors as the index holds them (GvMetricDistance;
 * for storage SPARSE over the packed non-zeros).  Cached: with the kernels
 * for vectors in the CPU's caches, for builds.
 */
static inline double
GvHnswDistance(GvHnswInfo info, const float *a, const float *b)
{
	if (info->storage == HNSW_STORAGE_SPARSE)
		return GvSparsePackedDistance(info->metric->kind, a, b);
	return GvMetricDistance(info->metric, a, b, info->dim);
}

static inline double
GvHnswDistanceCached(GvHnswInfo info, const float *a, const float *b)
{
	if (info->storage == HNSW_STORAGE_SPARSE)
		return GvSparsePackedDistance(info->metric->kind, a, b);
	return GvMetricDistanceCached(info->metric, a, b, info->dim);
}

/* hnswsearch.c */
typedef struct GvHnswRecentBuffersData *GvHnswRecentBuffers;
extern GvHnswRecentBuffers GvHnswGetRecentBuffers(Relation index);
extern Buffer GvHnswPinPage(Relation index, GvHnswRecentBuffers recent, BlockNumber blkno);
extern void GvHnswSearchLayerDisk(Relation index, GvHnswInfo info, const float *q,
								  GvHnswHeap cand, GvHnswHeap result, GvHnswHeap discard,
								  GvHnswTidSet visited, int ef, int level,
								  GvKeyFilter filter,
								  int64 *visitedCount, int64 maxVisited);
extern void GvHnswFindEntry(Relation index, GvHnswInfo info, const float *q,
							GvHnswMetaPageData *meta, int toLevel,
							GvHnswCandidate *ep);

/* hnswutils.c: does an element pass the filter (NULL: no filter)? */
extern bool GvHnswKeysMatch(GvHnswElementTuple tup, GvKeyFilter filter);

/* hnswkeydir.c */
extern void GvHnswKeyDirWriteBegin(GvHnswKeyDirWriter w, Relation index,
								   GvHnswInfo info);
extern void GvHnswKeyDirWriteAdd(GvHnswKeyDirWriter w, ItemPointer element,
								 ItemPointer heaptid, uint8 keyNulls,
								 const char *keys, const float *vec);
extern void GvHnswKeyDirWriteEnd(GvHnswKeyDirWriter w);
extern void GvHnswKeyDirAppend(Relation index, GvHnswInfo info, ItemPointer element,
							   ItemPointer heaptid, uint8 keyNulls, const char *keys,
							   const float *vec);
extern bool GvHnswKeyDirCollect(Relation index, GvHnswInfo info, BlockNumber head,
								GvKeyFilter filter, int limit, const float *qsketch,
								GvHnswListed **listed, int *nlisted);
extern void GvHnswProjectionTrain(Relation index, GvHnswInfo info,
								  const float *const *sample, int n);
extern void GvHnswProjectionLoad(Relation index, GvHnswInfo info);
extern void GvHnswKeyDirVacuum(IndexVacuumInfo *vinfo, BlockNumber head,
							   IndexBulkDeleteCallback callback, void *callback_state);

/*
 * The build's in-memory graph (hnswbuild.c).  Elements live in one arena
 * and refer to each other by element number; a table maps numbers to arena
 * offsets.  Nothing in the arena is a pointer, so the same code works on
 * backend-local memory (a serial build, the arena grows as needed) and on a
 * DSM segment mapped at different addresses by a parallel build's
 * participants (hnswbuildparallel.c), where the LWLocks guard neighbour
 * lists and the entry point.
 *
 * An element: the header below, then (each MAXALIGNed) float
 * vec[vecFloats] (a sparse index's packed non-zeros: gsparsevec.h),
 * char keys[keyBytes], int32 nbrs[slots] and uint32 dists[slots], with
 * slots = GvHnswSlots(m, level) laid out by level as in element tuples,
 * then 2m level-0 spares (distance, element number): the nearest candidates
 * the selection heuristic rejected when the element was inserted.
 * Distances are 32-bit order keys here (GvDistanceKey: the float's bits
 * for any distance a float holds), packed for the page when the graph is
 * written (GvPackedDistanceFromKey).
 */
typedef struct GvHnswGraphElementData
{
	LWLock		lock;			/* neighbour lists, in a shared graph */
	ItemPointerData heaptid;
	ItemPointerData tid;		/* assigned when the graph is written */
	uint8		level;
	uint8		keyNulls;
	uint8		counts[HNSW_MAX_LEVEL + 1]; /* links at each level */
	uint8		nfill;			/* level-0 spares kept at insert (hnswbuild.c) */
	Oid			toastid;		/* as in the element tuple */
	uint16		ntids;			/* heaptid and moretids; 0: merged into
								 * another's element, not written */
	bool		deferred;		/* a duplicate of a full element: inserted
								 * after the graph is written (hnswbuild.c) */
	ItemPointerData moretids[HNSW_GRAPH_TIDS - 1];	/* written to an overflow
													 * tuple */
	ItemPointerData overflowTid;	/* where, when ntids > 1 */
} GvHnswGraphElementData;

typedef GvHnswGraphElementData *GvHnswGraphElement;

/* The graph's state; in the DSM segment for a parallel build. */
typedef struct GvHnswGraphHeaderData
{
	Size		arenaSize;		/* bytes elements may take */
	uint32		capacity;		/* element numbers: arenaSize / smallest
								 * element */
	pg_atomic_uint64 arenaUsed; /* bytes handed out (may overshoot when full) */
	pg_atomic_uint32 nelements;
	pg_atomic_uint32 full;		/* an element did not fit: stop adding */
	int			tranche;		/* of the LWLocks, in a shared graph */
	LWLock		entryLock;		/* entry, entryLevel, in a shared graph */
	int32		entry;			/* element number, or -1 when empty */
	int32		entryLevel;
} GvHnswGraphHeaderData;

typedef GvHnswGraphHeaderData *GvHnswGraphHeader;

/* One process's handle on a graph. */
typedef struct GvHnswGraphData
{
	GvHnswGraphHeader hdr;
	char	   *arena;
	uint64	   *offsets;		/* element number -> arena offset */
	bool		shared;			/* take the LWLocks */
	MemoryContext ctx;			/* local graph: where arena and offsets grow */
	Size		arenaAllocated; /* local graph: bytes of arena allocated */
	uint32		offsetsAllocated;	/* local graph: entries of offsets */
	int			m;
	int			dim;			/* floats of a vector: info->vecFloats */
	int			keyBytes;
	int			vecOffset;		/* element layout */
	int			keysOffset;
	int			nbrsOffset;
} GvHnswGraphData;

typedef GvHnswGraphData *GvHnswGraph;

/* A participant's search state for inserting into a graph. */
typedef struct GvHnswBuilderData *GvHnswBuilder;

/* hnswbuild.c */
extern IndexBuildResult *gvhnswbuild(Relation heap, Relation index,
									 IndexInfo *indexInfo);
extern void gvhnswbuildempty(Relation index);
extern void GvHnswInitInfo(Relation index, GvHnswInfo info);

/* hnswgraph.c */
extern void GvHnswGraphInitLocal(GvHnswGraph g, GvHnswGraphHeader hdr, GvHnswInfo info,
								 Size memLimit, MemoryContext ctx);
extern Size GvHnswGraphSpace(GvHnswInfo info, Size memLimit);
extern void GvHnswGraphInitShared(GvHnswGraph graph, GvHnswInfo info, Size memLimit,
								  char *space, int tranche);
extern void GvHnswGraphAttach(GvHnswGraph graph, GvHnswInfo info, char *space);
extern GvHnswBuilder GvHnswBuilderCreate(GvHnswGraph graph, GvHnswInfo info);
extern bool GvHnswBuilderInsert(GvHnswBuilder builder, ItemPointer heaptid,
								const GvHnswRowData *row, int level);
extern void GvHnswWriteMetaPage(Relation index, ForkNumber fork, GvHnswInfo info,
								ItemPointer entry, int entryLevel, BlockNumber insertPage);
extern void GvHnswWriteGraph(Relation index, GvHnswInfo info, GvHnswGraph graph);
extern void GvHnswReportGraphFull(double ntuples);

/* hnswbuildparallel.c */
extern int	GvHnswParallelWorkers(Relation heap, Relation index);
extern bool GvHnswBuildParallel(Relation heap, Relation index, IndexInfo *indexInfo,
								GvHnswInfo info, int nworkers,
								double *reltuples, double *indtuples);
extern PGDLLEXPORT void GvHnswParallelBuildMain(dsm_segment *seg, shm_toc *toc);

/* hnswinsert.c */
extern bool gvhnswinsert(Relation index, Datum *values, bool *isnull,
						 ItemPointer heap_tid, Relation heap,
						 IndexUniqueCheck checkUnique, bool indexUnchanged,
						 IndexInfo *indexInfo);
extern void GvHnswInsertVector(Relation index, GvHnswInfo info,
							   const GvHnswRowData *row, ItemPointer heaptid);
extern void GvHnswAddBackLink(Relation index, GvHnswInfo info, ItemPointer nbr,
							  int level, ItemPointer newtid, double dist);

/* hnswscan.c */
extern IndexScanDesc gvhnswbeginscan(Relation index, int nkeys, int norderbys);
extern void gvhnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys,
						 ScanKey orderbys, int norderbys);
extern bool gvhnswgettuple(IndexScanDesc scan, ScanDirection dir);
extern void gvhnswendscan(IndexScanDesc scan);

/* hnswvacuum.c */
extern IndexBulkDeleteResult *gvhnswbulkdelete(IndexVacuumInfo *info,
											   IndexBulkDeleteResult *stats,
											   IndexBulkDeleteCallback callback,
											   void *callback_state);
extern IndexBulkDeleteResult *gvhnswvacuumcleanup(IndexVacuumInfo *info,
												  IndexBulkDeleteResult *stats);

/* hnswvalidate.c */
extern bool gvhnswvalidate(Oid opclassoid);

#endif							/* HNSW_H */
