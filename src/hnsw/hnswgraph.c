/*
 * hnswgraph.c
 *	  The in-memory HNSW graph of a gv_hnsw build: its arena, the search
 *	  and linking that insert into it, and the page writer that lays it out
 *	  as the index.
 *
 * Every heap row's vector is copied into an arena and inserted into an
 * in-memory HNSW graph whose elements refer to each other by element number
 * (hnsw.h, GvHnswGraphData).  Searches there use a visited array tagged
 * with a per-search epoch (no hashing, no clearing) and flat binary heaps
 * of (distance, number) pairs; distances are direct SIMD kernel calls.
 * Neighbour lists are chosen with the paper's heuristic, both for the new
 * element and when a back-link overflows a neighbour's list.
 *
 * The arena holds no pointers, so the same search, heuristic and linking
 * code serves a serial build (hnswbuild.c: backend-local arena, no locks)
 * and a parallel one (hnswbuildparallel.c: the arena is in a DSM segment
 * that every participant maps, and per-element LWLocks guard neighbour
 * lists).  Both build drivers sit on this file; it calls neither.
 *
 * When the graph is complete, element tuples are laid out page by page,
 * element numbers become item pointers, the pages are written without WAL,
 * and the whole relation is WAL-logged at once (GvLogBuiltIndex).
 */
#include "compat.h"

#include <sys/mman.h>

#include "access/xloginsert.h"
#include "commands/progress.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"

/*
 * A candidate: its distance as an order key (GvDistanceKey, distance.h: an
 * unsigned integer in the order of the distances, which are doubles and
 * may be far beyond float range, see src/hnsw/README) and its number.
 * Eight bytes, as when the distance was a float: the build's heaps, lists
 * and spares move and touch as much memory as then, and compare integers.
 * Exact for every distance a float holds; beyond that, to 15 bits.
 */
typedef struct MemCand
{
	uint32		key;
	int32		idx;
} MemCand;

/* The search's candidates: a min-heap on distance (gvheap.h) */
#define GV_HEAP_PREFIX		memnear
#define GV_HEAP_ELEMENT		MemCand
#define GV_HEAP_LESS(a, b)	((a)->key < (b)->key)
#include "gvheap.h"

/* Its results and an element's spares: a max-heap, farthest on top */
#define GV_HEAP_PREFIX		memfar
#define GV_HEAP_ELEMENT		MemCand
#define GV_HEAP_LESS(a, b)	((a)->key < (b)->key)
#define GV_HEAP_MAX
#include "gvheap.h"

/*
 * A participant's state for inserting into a graph: its visited array
 * (tagged with a per-search epoch, grown as element numbers appear), heaps
 * and scratch arrays.  Local memory, one per process.
 */
typedef struct GvHnswBuilderData
{
	GvHnswGraph graph;
	GvHnswInfo	info;
	uint32	   *visitedTag;
	uint32		visitedSize;
	uint32		epoch;
	memnear_heap cand;
	memfar_heap result;
	MemCand    *scratch;		/* AddLink 2 * (2m + 1); SetLinksMem 2m */
	MemCand    *found;			/* a level's search result: ef + 1 */
	MemCand    *chosen;			/* the new element's neighbours: 4m + 1 at
								 * level 0, then 2m at each level above */
	int32	   *nbrBuf;			/* a copy of one neighbour list: 2m */
} GvHnswBuilderData;

/* ---------------------------------------------------------------------------
 * The arena
 * ---------------------------------------------------------------------------
 */

static inline GvHnswGraphElement
GraphElement(GvHnswGraph g, int32 idx)
{
	return (GvHnswGraphElement) (g->arena + g->offsets[idx]);
}

static inline float *
ElementVector(GvHnswGraph g, GvHnswGraphElement e)
{
	return (float *) ((char *) e + g->vecOffset);
}

static inline int32 *
ElementNbrs(GvHnswGraph g, GvHnswGraphElement e)
{
	return (int32 *) ((char *) e + g->nbrsOffset);
}

/* The links' distances, as order keys (MemCand). */
static inline uint32 *
ElementDists(GvHnswGraph g, GvHnswGraphElement e)
{
	return (uint32 *) (ElementNbrs(g, e) + GvHnswSlots(g->m, e->level));
}

/* Level-0 spares: see ElementSpares. */
static inline MemCand *
ElementSpares(GvHnswGraph g, GvHnswGraphElement e)
{
	return (MemCand *) (ElementDists(g, e) + GvHnswSlots(g->m, e->level));
}

static Size
ElementSize(GvHnswGraph g, int level)
{
	return MAXALIGN(g->nbrsOffset +
					(sizeof(int32) + sizeof(uint32)) * GvHnswSlots(g->m, level) +
					sizeof(MemCand) * 2 * g->m);
}

/* The element layout, from the index's shape. */
static void
GraphInitLayout(GvHnswGraph g, GvHnswInfo info)
{
	g->m = info->m;
	g->dim = info->vecFloats;
	g->keyBytes = info->keys.keyBytes;
	g->vecOffset = MAXALIGN(sizeof(GvHnswGraphElementData));
	g->keysOffset = g->vecOffset + MAXALIGN(sizeof(float) * info->vecFloats);
	g->nbrsOffset = g->keysOffset + MAXALIGN(info->keys.keyBytes);
}

/*
 * Split memLimit between the arena and the offset table: every element
 * takes at least a level-0 element's bytes plus its offset, so the arena
 * runs out before the element numbers do.
 */
static void
GraphInitHeader(GvHnswGraph g, GvHnswGraphHeader hdr, Size memLimit)
{
	Size		smallest = ElementSize(g, 0);

	hdr->capacity = (uint32) Min(memLimit / (smallest + sizeof(uint64)), PG_INT32_MAX);
	hdr->arenaSize = (Size) hdr->capacity * smallest;
	pg_atomic_init_u64(&hdr->arenaUsed, 0);
	pg_atomic_init_u32(&hdr->nelements, 0);
	pg_atomic_init_u32(&hdr->full, 0);
	hdr->entry = -1;
	hdr->entryLevel = 0;
	g->hdr = hdr;
}

/* Bytes of DSM a shared graph within memLimit needs (header, offsets, arena). */
Size
GvHnswGraphSpace(GvHnswInfo info, Size memLimit)
{
	GvHnswGraphData g;
	GvHnswGraphHeaderData hdr;

	GraphInitLayout(&g, info);
	GraphInitHeader(&g, &hdr, memLimit);
	return MAXALIGN(sizeof(GvHnswGraphHeaderData)) +
		MAXALIGN(sizeof(uint64) * hdr.capacity) + hdr.arenaSize;
}

static void
GraphMapShared(GvHnswGraph g, char *space)
{
	g->hdr = (GvHnswGraphHeader) space;
	g->offsets = (uint64 *) (space + MAXALIGN(sizeof(GvHnswGraphHeaderData)));
	g->arena = (char *) g->offsets + MAXALIGN(sizeof(uint64) * g->hdr->capacity);
	g->shared = true;
}

/* Lay out an empty shared graph in space (GvHnswGraphSpace bytes). */
void
GvHnswGraphInitShared(GvHnswGraph graph, GvHnswInfo info, Size memLimit,
					  char *space, int tranche)
{
	MemSet(graph, 0, sizeof(GvHnswGraphData));
	GraphInitLayout(graph, info);
	GraphInitHeader(graph, (GvHnswGraphHeader) space, memLimit);
	graph->hdr->tranche = tranche;
	LWLockInitialize(&graph->hdr->entryLock, tranche);
	GraphMapShared(graph, space);
}

/* Map a shared graph that GvHnswGraphInitShared laid out. */
void
GvHnswGraphAttach(GvHnswGraph graph, GvHnswInfo info, char *space)
{
	MemSet(graph, 0, sizeof(GvHnswGraphData));
	GraphInitLayout(graph, info);
	GraphMapShared(graph, space);
}

/* What ReleaseArena needs to unmap a reserved arena. */
typedef struct ReservedArena
{
	MemoryContextCallback callback;
	void	   *base;
	Size		bytes;
} ReservedArena;

static void
ReleaseArena(void *arg)
{
	ReservedArena *arena = (ReservedArena *) arg;

	if (munmap(arena->base, arena->bytes) != 0)
		elog(WARNING, "could not unmap gv_hnsw build arena: %m");
}

/*
 * A local graph's arena, reserved whole: address space for all of
 * maintenance_work_mem, memory only as elements are written into it, in
 * 2 MB pages where transparent huge pages are on "madvise" (Debian's
 * default).  A build reads vectors at random all over the arena; with 4 kB
 * pages nearly every one of those reads also misses the TLB, and the
 * serial build of Fashion-MNIST took 20% longer.  Unmapped when ctx is
 * reset or deleted, on error too.  NULL where the system will not reserve
 * it (strict overcommit): the caller then grows the arena with repalloc.
 */
static char *
ReserveArena(Size bytes, MemoryContext ctx)
{
	Size		hugePage = 2 * 1024 * 1024;
	ReservedArena *arena;
	void	   *base;
	char	   *start;

	/* allocated first: an error between mmap and the callback would leak */
	arena = MemoryContextAlloc(ctx, sizeof(ReservedArena));
	base = mmap(NULL, bytes + hugePage, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
	{
		elog(DEBUG1, "gv_hnsw build could not reserve %zu bytes of address space (%m): growing its arena instead",
			 bytes + hugePage);
		pfree(arena);
		return NULL;
	}
	start = (char *) TYPEALIGN(hugePage, base);
#ifdef MADV_HUGEPAGE
	(void) madvise(start, bytes, MADV_HUGEPAGE);
#endif
	arena->base = base;
	arena->bytes = bytes + hugePage;
	arena->callback.func = ReleaseArena;
	arena->callback.arg = arena;
	MemoryContextRegisterResetCallback(ctx, &arena->callback);
	return start;
}

/* An empty local graph, in ctx, up to memLimit. */
void
GvHnswGraphInitLocal(GvHnswGraph g, GvHnswGraphHeader hdr, GvHnswInfo info, Size memLimit,
					 MemoryContext ctx)
{
	MemSet(g, 0, sizeof(GvHnswGraphData));
	GraphInitLayout(g, info);
	GraphInitHeader(g, hdr, memLimit);
	g->ctx = ctx;
	g->offsetsAllocated = Min(1024, hdr->capacity);
	g->offsets = MemoryContextAllocHuge(ctx, sizeof(uint64) * g->offsetsAllocated);
	g->arena = ReserveArena(hdr->arenaSize, ctx);
	if (g->arena != NULL)
		g->arenaAllocated = hdr->arenaSize;
	else
	{
		g->arenaAllocated = Min(g->offsetsAllocated * ElementSize(g, 0), hdr->arenaSize);
		g->arena = MemoryContextAllocHuge(ctx, g->arenaAllocated);
	}
}

/* A local graph's arrays must hold element number idx ending at byte end. */
static void
GraphGrowLocal(GvHnswGraph g, uint32 idx, Size end)
{
	if (idx >= g->offsetsAllocated)
	{
		g->offsetsAllocated = Min((Size) g->offsetsAllocated * 2, g->hdr->capacity);
		g->offsets = repalloc_huge(g->offsets, sizeof(uint64) * g->offsetsAllocated);
	}
	if (end > g->arenaAllocated)
	{
		g->arenaAllocated = Min(Max(g->arenaAllocated * 2, end), g->hdr->arenaSize);
		g->arena = repalloc_huge(g->arena, g->arenaAllocated);
	}
}

/*
 * Add an element, not yet linked, to the graph; returns its number, or -1
 * when the graph is full (the full flag is then set for every participant).
 * Space comes first, then the number, so numbers never run out before space
 * and every number below nelements names an element.
 */
static int32
GraphAddElement(GvHnswGraph g, ItemPointer heaptid, const GvHnswRowData *row, int level)
{
	GvHnswGraphHeader hdr = g->hdr;
	Size		need = ElementSize(g, level);
	uint64		off;
	uint32		idx;
	GvHnswGraphElement e;

	if (pg_atomic_read_u32(&hdr->full))
		return -1;
	off = pg_atomic_fetch_add_u64(&hdr->arenaUsed, need);
	if (off + need > hdr->arenaSize)
	{
		pg_atomic_write_u32(&hdr->full, 1);
		return -1;
	}
	idx = pg_atomic_fetch_add_u32(&hdr->nelements, 1);
	Assert(idx < hdr->capacity);
	if (!g->shared)
		GraphGrowLocal(g, idx, off + need);
	g->offsets[idx] = off;
	e = GraphElement(g, idx);
	if (g->shared)
		LWLockInitialize(&e->lock, hdr->tranche);
	e->heaptid = *heaptid;
	e->ntids = 1;
	e->deferred = false;
	ItemPointerSetInvalid(&e->tid);
	e->level = level;
	e->keyNulls = row->keyNulls;
	e->toastid = row->toastid;
	MemSet(e->counts, 0, sizeof(e->counts));
	e->nfill = 0;
	memcpy(ElementVector(g, e), row->vec, sizeof(float) * g->dim);
	if (g->keyBytes > 0)
		memcpy((char *) e + g->keysOffset, row->keys, g->keyBytes);
	return idx;
}

/* ---------------------------------------------------------------------------
 * Search and linking, on either kind of graph
 * ---------------------------------------------------------------------------
 */

/*
 * The order key of a distance (MemCand).  The build's vectors are in the
 * arena, reread many times: see distance.h.
 */
static inline uint32
Dist(GvHnswBuilder b, const float *x, const float *y)
{
	return GvDistanceKey(GvHnswDistanceCached(b->info, x, y));
}

/* Copy e's links at level into b->nbrBuf; returns how many. */
static inline int
LoadNeighbours(GvHnswBuilder b, GvHnswGraphElement e, int level)
{
	GvHnswGraph g = b->graph;
	int			n;

	if (g->shared)
		LWLockAcquire(&e->lock, LW_SHARED);
	n = e->counts[level];
	memcpy(b->nbrBuf, ElementNbrs(g, e) + GvHnswLevelStart(g->m, level),
		   sizeof(int32) * n);
	if (g->shared)
		LWLockRelease(&e->lock);
	return n;
}

/* Make room in the visited array for element number idx. */
static void
GrowVisited(GvHnswBuilder b, uint32 idx)
{
	uint32		size = Max(b->visitedSize * 2, idx + 1);

	b->visitedTag = repalloc_huge(b->visitedTag, sizeof(uint32) * size);
	MemSet(b->visitedTag + b->visitedSize, 0, sizeof(uint32) * (size - b->visitedSize));
	b->visitedSize = size;
}

static inline bool
Visit(GvHnswBuilder b, int32 idx)
{
	if ((uint32) idx >= b->visitedSize)
		GrowVisited(b, idx);
	if (b->visitedTag[idx] == b->epoch)
		return false;
	b->visitedTag[idx] = b->epoch;
	return true;
}

/*
 * Search one level of the graph from the entry points in b->result
 * (already visited).  Leaves the ef nearest in b->result.
 */
static void
SearchLayerMem(GvHnswBuilder b, const float *q, int ef, int level)
{
	GvHnswGraph g = b->graph;
	memnear_heap *cand = &b->cand;
	memfar_heap *result = &b->result;

	memnear_reset(cand);
	b->epoch++;
	for (int i = 0; i < result->count; i++)
	{
		memnear_push(cand, &result->items[i]);
		Visit(b, result->items[i].idx);
	}

	while (cand->count > 0)
	{
		MemCand		c;
		int32	   *nbrs = b->nbrBuf;
		int			n;

		if (cand->items[0].key > result->items[0].key && result->count >= ef)
			break;
		c = memnear_pop(cand);
		n = LoadNeighbours(b, GraphElement(g, c.idx), level);
		for (int i = 0; i < n; i++)
		{
			int32		j = nbrs[i];
			uint32		d;

			if (!Visit(b, j))
				continue;
#ifdef __GNUC__
			if (i + 1 < n)
				__builtin_prefetch(ElementVector(g, GraphElement(g, nbrs[i + 1])));
#endif
			d = Dist(b, q, ElementVector(g, GraphElement(g, j)));
			if (result->count < ef || d < result->items[0].key)
			{
				MemCand		found = {d, j};

				memnear_push(cand, &found);
				memfar_push(result, &found);
				if (result->count > ef)
					(void) memfar_pop(result);
			}
		}
	}
}

static int
CompareMemCand(const void *a, const void *b)
{
	uint32		da = ((const MemCand *) a)->key;
	uint32		db = ((const MemCand *) b)->key;

	return da < db ? -1 : da > db ? 1 : 0;
}

/*
 * The selection heuristic (hnswselect.h) over n candidates (distances to
 * the base element): SelectMem(b, cands, n, lm, out, npruned) writes at
 * most lm of them to out, returns how many, and leaves the rejected ones at
 * the front of cands.  Vectors never change once added, so this needs no
 * lock.
 */
#define HNSW_SELECT_NAME	SelectMem
#define HNSW_SELECT_STATE	GvHnswBuilderData
#define HNSW_SELECT_CAND	MemCand
#define HNSW_SELECT_SORT(c, n)	qsort((c), (n), sizeof(MemCand), CompareMemCand)
#define HNSW_SELECT_VECTOR(b, c) \
	((const float *) ElementVector((b)->graph, GraphElement((b)->graph, (c)->idx)))
#define HNSW_SELECT_NEARER(b, v, j, kept, c) \
	(Dist((b), (v), ElementVector((b)->graph, GraphElement((b)->graph, (kept)->idx))) < (c)->key)
#define HNSW_SELECT_PRUNED
#include "hnswselect.h"

/* Make out[0, nout) element e's links at level (the caller holds its lock). */
static void
StoreLinks(GvHnswGraphElement e, int level, int32 *nbrs, uint32 *dists,
		   const MemCand *out, int nout)
{
	for (int i = 0; i < nout; i++)
	{
		nbrs[i] = out[i].idx;
		dists[i] = out[i].key;
	}
	e->counts[level] = nout;
}

/*
 * Link element a to b at level, pruning a's list with the heuristic when
 * it is full.  In a shared graph, under a's lock, which is the only lock
 * held (no deadlock); a link already there is not added twice (only
 * possible when two participants link the same pair).
 */
static void
AddLinkMem(GvHnswBuilder bld, int32 a, int32 b, uint32 dist, int level)
{
	GvHnswGraph g = bld->graph;
	GvHnswGraphElement e = GraphElement(g, a);
	int			lm = GvHnswLevelSlots(g->m, level);
	int			start = GvHnswLevelStart(g->m, level);
	int32	   *nbrs = ElementNbrs(g, e) + start;
	uint32	   *dists = ElementDists(g, e) + start;
	MemCand    *cands = bld->scratch;
	MemCand    *out = bld->scratch + lm + 1;
	int			n;

	if (g->shared)
		LWLockAcquire(&e->lock, LW_EXCLUSIVE);
	n = e->counts[level];
	for (int i = 0; g->shared && i < n; i++)
	{
		if (nbrs[i] == b)
		{
			LWLockRelease(&e->lock);
			return;
		}
	}
	if (n < lm)
	{
		nbrs[n] = b;
		dists[n] = dist;
		e->counts[level]++;
	}
	else
	{
		for (int i = 0; i < n; i++)
		{
			cands[i].idx = nbrs[i];
			cands[i].key = dists[i];
		}
		cands[n].idx = b;
		cands[n].key = dist;
		StoreLinks(e, level, nbrs, dists, out, SelectMem(bld, cands, n + 1, lm, out, NULL));
	}
	if (g->shared)
		LWLockRelease(&e->lock);
}

/*
 * Give element idx its nout chosen links at level.  The list is still
 * empty: an element becomes reachable at a level only through the links
 * that InsertMem adds after this.  In a shared graph, links found there all
 * the same join the choice, pruned with the heuristic if too many.
 */
static void
SetLinksMem(GvHnswBuilder b, int32 idx, MemCand *chosen, int nout, int level)
{
	GvHnswGraph g = b->graph;
	GvHnswGraphElement e = GraphElement(g, idx);
	int			lm = GvHnswLevelSlots(g->m, level);
	int			start = GvHnswLevelStart(g->m, level);
	int32	   *nbrs = ElementNbrs(g, e) + start;
	uint32	   *dists = ElementDists(g, e) + start;
	MemCand    *out = chosen;

	if (g->shared)
	{
		LWLockAcquire(&e->lock, LW_EXCLUSIVE);
		for (int i = 0; i < e->counts[level]; i++)
		{
			bool		dup = false;

			for (int j = 0; j < nout && !dup; j++)
				dup = chosen[j].idx == nbrs[i];
			if (!dup)
			{
				chosen[nout].idx = nbrs[i];
				chosen[nout].key = dists[i];
				nout++;
			}
		}
		if (nout > lm)
		{
			out = b->scratch;
			nout = SelectMem(b, chosen, nout, lm, out, NULL);
		}
	}
	StoreLinks(e, level, nbrs, dists, out, nout);
	if (g->shared)
		LWLockRelease(&e->lock);
}

/*
 * Level-0 spares (ElementSpares): for each element, the nearest elements
 * that were candidates when either of the two was inserted, up to 2m.  They
 * cost no distance computations (the insert's search already has them) and
 * are not links during the build: GvHnswWriteGraph fills free level-0 slots
 * with them (AddSpares).
 */
static void
AddSpare(GvHnswGraph g, GvHnswGraphElement e, MemCand c)
{
	memfar_heap spares;

	memfar_attach(&spares, ElementSpares(g, e), e->nfill, 2 * g->m);

	/*
	 * In a shared graph two elements inserted at the same time can each find
	 * the other: one offers itself (OfferSpares) and the other keeps it as
	 * rejected (KeepSpares).  Keep one copy.  (A local graph never offers an
	 * element twice.)
	 */
	for (int i = 0; g->shared && i < spares.count; i++)
		if (spares.items[i].idx == c.idx)
			return;

	/* A max-heap on distance: most offers lose to the farthest at once. */
	if (spares.count == spares.capacity)
	{
		if (c.key >= spares.items[0].key)
			return;
		(void) memfar_pop(&spares);
	}
	memfar_push(&spares, &c);
	e->nfill = spares.count;
}

/* The new element idx is a spare candidate of each of its candidates. */
static void
OfferSpares(GvHnswBuilder b, int32 idx, MemCand *cands, int n)
{
	GvHnswGraph g = b->graph;

	for (int i = 0; i < n; i++)
	{
		GvHnswGraphElement w = GraphElement(g, cands[i].idx);
		MemCand		c = {cands[i].key, idx};

		if (g->shared)
			LWLockAcquire(&w->lock, LW_EXCLUSIVE);
		AddSpare(g, w, c);
		if (g->shared)
			LWLockRelease(&w->lock);
	}
}

/* The candidates the heuristic rejected for idx become its spares. */
static void
KeepSpares(GvHnswBuilder b, int32 idx, MemCand *rejected, int n)
{
	GvHnswGraph g = b->graph;
	GvHnswGraphElement e = GraphElement(g, idx);

	if (g->shared)
		LWLockAcquire(&e->lock, LW_EXCLUSIVE);
	for (int i = 0; i < n; i++)
		AddSpare(g, e, rejected[i]);
	if (g->shared)
		LWLockRelease(&e->lock);
}

/*
 * Where the new element's chosen neighbours at level go: SetLinksMem may
 * add up to as many again to them (links others made meanwhile).
 */
static inline MemCand *
ChosenAt(GvHnswBuilder b, int level)
{
	int			m = b->graph->m;

	return level == 0 ? b->chosen : b->chosen + 4 * m + 1 + (level - 1) * 2 * m;
}

/*
 * Insert element idx (vector and level set) into the graph.
 *
 * In a shared graph the entry point is read under a share lock.  An
 * element that may become the new entry point (a level above the current
 * one, or the first element) holds the lock exclusively for its whole
 * insert: others wait to start, so no two elements race to the top and
 * none searches from an entry point that is not linked yet.  That happens
 * about once in m^level elements.
 */
/*
 * A new element whose vector and filter columns equal those of an element
 * the level-0 search found (found[0, n), distances to it) gives its heap
 * TID to that one if it has room (HNSW_GRAPH_TIDS), else is deferred: it
 * goes to the element's overflow chain through the on-disk insert once the
 * graph is written (InsertDeferred).  Either way true: the new element is
 * left out of the graph (ntids 0: never linked, not written), the arena
 * space it took lost.
 */
static bool
JoinDuplicateMem(GvHnswBuilder b, int32 idx, MemCand *found, int n)
{
	GvHnswGraph g = b->graph;
	GvHnswGraphElement e = GraphElement(g, idx);
	const float *vec = ElementVector(g, e);
	uint32		self = Dist(b, vec, vec);
	bool		joined = false;

	for (int i = 0; i < n && !joined; i++)
	{
		GvHnswGraphElement d = GraphElement(g, found[i].idx);

		if (found[i].key != self || d->keyNulls != e->keyNulls ||
			memcmp(ElementVector(g, d), vec, sizeof(float) * g->dim) != 0 ||
			memcmp((char *) d + g->keysOffset, (char *) e + g->keysOffset, g->keyBytes) != 0)
			continue;
		if (g->shared)
			LWLockAcquire(&d->lock, LW_EXCLUSIVE);
		if (d->ntids < HNSW_GRAPH_TIDS)
		{
			d->moretids[d->ntids - 1] = e->heaptid;
			d->ntids++;
			d->toastid = InvalidOid;	/* the rows' TOAST values differ */
		}
		else
			e->deferred = true;
		joined = true;
		if (g->shared)
			LWLockRelease(&d->lock);
	}
	if (joined)
		e->ntids = 0;
	return joined;
}

static void
InsertMem(GvHnswBuilder b, int32 idx)
{
	GvHnswGraph g = b->graph;
	GvHnswGraphHeader hdr = g->hdr;
	GvHnswGraphElement e = GraphElement(g, idx);
	const float *vec = ElementVector(g, e);
	int			m = g->m;
	int			level = e->level;
	bool		holdEntry = false;
	int32		ep;
	int			epLevel;
	uint32		epDist;
	MemCand		entry;
	int			nchosen[HNSW_MAX_LEVEL + 1];

	if (g->shared)
	{
		LWLockAcquire(&hdr->entryLock, LW_SHARED);
		if (hdr->entry < 0 || level > hdr->entryLevel)
		{
			LWLockRelease(&hdr->entryLock);
			LWLockAcquire(&hdr->entryLock, LW_EXCLUSIVE);
			holdEntry = hdr->entry < 0 || level > hdr->entryLevel;
		}
		ep = hdr->entry;
		epLevel = hdr->entryLevel;
		if (!holdEntry)
			LWLockRelease(&hdr->entryLock);
	}
	else
	{
		ep = hdr->entry;
		epLevel = hdr->entryLevel;
	}

	if (ep >= 0)
	{
		epDist = Dist(b, vec, ElementVector(g, GraphElement(g, ep)));

		/* Greedy descent through the levels above the new element's. */
		for (int l = epLevel; l > level; l--)
		{
			bool		changed = true;

			while (changed)
			{
				int			n = LoadNeighbours(b, GraphElement(g, ep), l);

				changed = false;
				for (int i = 0; i < n; i++)
				{
					uint32		d = Dist(b, vec, ElementVector(g, GraphElement(g, b->nbrBuf[i])));

					if (d < epDist)
					{
						epDist = d;
						ep = b->nbrBuf[i];
						changed = true;
					}
				}
			}
		}

		memfar_reset(&b->result);
		entry.key = epDist;
		entry.idx = ep;
		memfar_push(&b->result, &entry);

		for (int l = Min(level, epLevel); l >= 0; l--)
		{
			int			nw;
			int			npruned;

			SearchLayerMem(b, vec, b->info->efConstruction, l);
			nw = 0;
			for (int i = 0; i < b->result.count; i++)
			{
				/* in a shared graph others may have linked to us already */
				if (b->result.items[i].idx != idx)
					b->found[nw++] = b->result.items[i];
			}
			if (l == 0 && JoinDuplicateMem(b, idx, b->found, nw))
			{
				if (holdEntry)
					LWLockRelease(&hdr->entryLock);
				return;
			}
			if (l == 0)
				OfferSpares(b, idx, b->found, nw);
			nchosen[l] = SelectMem(b, b->found, nw, GvHnswLevelSlots(m, l),
								   ChosenAt(b, l), &npruned);
			if (l == 0)
				KeepSpares(b, idx, b->found, npruned);
			/* the ef nearest (still in result) seed the next level down */
		}

		/*
		 * Link level 0 first, then upwards.  An element is reachable at a
		 * level as soon as a neighbour links to it there, and a search that
		 * reaches it descends through its lists below: they must be there.
		 * (Linking from the top down let a concurrent insert near it find its
		 * level-0 list empty, link only to it, and be pruned from that list
		 * when it was set: an island no search reaches.)
		 */
		for (int l = 0; l <= Min(level, epLevel); l++)
		{
			MemCand    *chosen = ChosenAt(b, l);

			SetLinksMem(b, idx, chosen, nchosen[l], l);
			for (int i = 0; i < nchosen[l]; i++)
				AddLinkMem(b, chosen[i].idx, idx, chosen[i].key, l);
		}
	}

	if (ep < 0 || level > epLevel)
	{
		hdr->entry = idx;
		hdr->entryLevel = level;
	}
	if (holdEntry)
		LWLockRelease(&hdr->entryLock);
}

/* A participant's search state, in CurrentMemoryContext. */
GvHnswBuilder
GvHnswBuilderCreate(GvHnswGraph graph, GvHnswInfo info)
{
	GvHnswBuilder b = palloc0(sizeof(GvHnswBuilderData));
	int			m = info->m;

	b->graph = graph;
	b->info = info;
	b->visitedSize = 1024;
	b->visitedTag = palloc0(sizeof(uint32) * b->visitedSize);
	memnear_init_alloc(&b->cand, 256);
	memfar_init_alloc(&b->result, 256);
	b->scratch = palloc(sizeof(MemCand) * 2 * (4 * m + 1));
	b->found = palloc(sizeof(MemCand) * (info->efConstruction + 1));
	b->chosen = palloc(sizeof(MemCand) * (4 * m + 1 + HNSW_MAX_LEVEL * 2 * m));
	b->nbrBuf = palloc(sizeof(int32) * 2 * m);
	return b;
}

/*
 * Add a row to the graph and link it; false when the graph is full (the
 * row is then not in the graph).
 */
bool
GvHnswBuilderInsert(GvHnswBuilder builder, ItemPointer heaptid,
					const GvHnswRowData *row, int level)
{
	GvHnswGraph g = builder->graph;
	int32		idx;

	idx = GraphAddElement(g, heaptid, row, level);
	if (idx < 0)
		return false;
	InsertMem(builder, idx);
	return true;
}

/* ---------------------------------------------------------------------------
 * Writing the graph
 * ---------------------------------------------------------------------------
 */

void
GvHnswWriteMetaPage(Relation index, ForkNumber fork, GvHnswInfo info,
					ItemPointer entry, int entryLevel, BlockNumber insertPage)
{
	Buffer		buf = GvNewBuffer(index, fork);
	Page		page = BufferGetPage(buf);
	GvHnswMetaPage meta;

	Assert(BufferGetBlockNumber(buf) == GV_METAPAGE_BLKNO);
	START_CRIT_SECTION();
	GvHnswInitMetaPage(page, info);
	meta = GvHnswPageGetMeta(page);
	if (entry)
	{
		meta->entry = *entry;
		meta->entryLevel = entryLevel;
	}
	meta->insertPage = insertPage;
	MarkBufferDirty(buf);
	if (fork == INIT_FORKNUM)
		log_newpage_buffer(buf, true);
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);
}

/* Write a finished page as the next block of the relation. */
static void
FlushPage(Relation index, Page local)
{
	Buffer		buf = GvNewBuffer(index, MAIN_FORKNUM);

	memcpy(BufferGetPage(buf), local, BLCKSZ);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/* By the first filter column's code (NULLs last), then by element number. */
static int
CompareLayout(const void *a, const void *b, void *arg)
{
	GvHnswGraph g = (GvHnswGraph) arg;
	GvHnswGraphElement x = GraphElement(g, *(const int32 *) a);
	GvHnswGraphElement y = GraphElement(g, *(const int32 *) b);
	uint64		kx,
				ky;

	if ((x->keyNulls & 1) != (y->keyNulls & 1))
		return (x->keyNulls & 1) ? 1 : -1;
	memcpy(&kx, (char *) x + g->keysOffset, sizeof(uint64));
	memcpy(&ky, (char *) y + g->keysOffset, sizeof(uint64));
	if (kx != ky)
		return kx < ky ? -1 : 1;
	return *(const int32 *) a - *(const int32 *) b;
}

/*
 * The order elements are laid out in pages.  With filter columns, elements
 * of equal first-column value are put side by side, so that a scan that
 * reads the elements a selective filter matches (hnswkeydir.c) reads about
 * half as many pages; links are item pointers, so the graph is the same.
 */
static int32 *
LayoutOrder(GvHnswInfo info, GvHnswGraph g, int total, int *nelements)
{
	int32	   *order = palloc(sizeof(int32) * Max(total, 1));
	int			n = 0;

	for (int i = 0; i < total; i++)
		if (GraphElement(g, i)->ntids > 0)	/* not merged into another */
			order[n++] = i;
	if (info->keys.nkeys > 0)
		qsort_arg(order, n, sizeof(int32), CompareLayout, g);
	*nelements = n;
	return order;
}

/* Vectors the key directory's projection is trained on (hnswkeydir.c). */
#define HNSW_PROJ_SAMPLE_WORK	80000000.0	/* sample rows * dim */

/*
 * The key directory, after the element pages (hnswkeydir.c): first the
 * projection that gives entries their sketches, trained on an evenly
 * spread sample of the graph's vectors, then the entries.
 */
static void
WriteKeyDirectory(Relation index, GvHnswInfo info, GvHnswGraph g, int nelements)
{
	GvHnswKeyDirWriterData w;
	int			nsample = Min(nelements, Max(64, (int) (HNSW_PROJ_SAMPLE_WORK / info->dim)));
	const float **sample = palloc(sizeof(float *) * Max(nsample, 1));

	for (int i = 0; i < nsample; i++)
		sample[i] = ElementVector(g, GraphElement(g, (int) ((int64) i * nelements / nsample)));
	GvHnswProjectionTrain(index, info, sample, nsample);
	pfree(sample);

	GvHnswKeyDirWriteBegin(&w, index, info);
	for (int i = 0; i < nelements; i++)
	{
		GvHnswGraphElement e = GraphElement(g, i);

		for (int t = 0; t < e->ntids; t++)	/* an entry for each heap TID */
			GvHnswKeyDirWriteAdd(&w, t == 0 ? &e->tid : &e->overflowTid,
								 t == 0 ? &e->heaptid : &e->moretids[t - 1],
								 e->keyNulls, (char *) e + g->keysOffset,
								 ElementVector(g, e));
	}
	GvHnswKeyDirWriteEnd(&w);
}

/*
 * The duplicates of full elements (JoinDuplicateMem), through the on-disk
 * insert, which adds them to the elements' overflow chains.
 */
static void
InsertDeferred(Relation index, GvHnswGraph g, int total)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "gv_hnsw deferred",
											  ALLOCSET_DEFAULT_SIZES);

	for (int i = 0; i < total; i++)
	{
		GvHnswGraphElement e = GraphElement(g, i);
		GvHnswRowData row;
		MemoryContext old;

		if (!e->deferred)
			continue;
		CHECK_FOR_INTERRUPTS();
		row.vec = ElementVector(g, e);
		row.keys = (char *) e + g->keysOffset;
		row.keyNulls = e->keyNulls;
		row.toastid = e->toastid;
		old = MemoryContextSwitchTo(tmp);
		GvHnswInsertVector(index, GvHnswGetInfo(index), &row, &e->heaptid);
		MemoryContextSwitchTo(old);
		MemoryContextReset(tmp);
	}
	MemoryContextDelete(tmp);
}

/*
 * Fill the free level-0 slots of an element tuple with the element's
 * spares (OfferSpares), nearest first, skipping those already linked: the paper's
 * keepPrunedConnections, applied when the graph is written rather than
 * during the build, so that the build's own searches walk the sparser
 * heuristic lists (keeping pruned links throughout doubled the build time)
 * while queries get full lists (recall 0.99 at ef_search 20 on
 * Fashion-MNIST instead of 0.978).  Returns how many were added: the
 * tuple's spares, which later back-links take over like free slots.
 */
static int
AddSpares(GvHnswGraph g, GvHnswGraphElement e, ItemPointer nbrs, GvPackedDistance *dists)
{
	int32	   *enbrs = ElementNbrs(g, e);
	MemCand    *spares = ElementSpares(g, e);
	int			n = e->counts[0];

	qsort(spares, e->nfill, sizeof(MemCand), CompareMemCand);

	for (int i = 0; i < e->nfill && n < 2 * g->m; i++)
	{
		bool		linked = false;

		for (int j = 0; j < e->counts[0] && !linked; j++)
			linked = enbrs[j] == spares[i].idx;
		if (linked)
			continue;
		nbrs[n] = GraphElement(g, spares[i].idx)->tid;
		dists[n++] = GvPackedDistanceFromKey(spares[i].key);
	}
	return n - e->counts[0];
}

/*
 * The overflow tuple of an element that holds more than one heap TID: its
 * TIDs after the first, which the element tuple keeps.
 */
static Size
FillBuiltOverflow(GvHnswInfo info, GvHnswGraph g, GvHnswGraphElement e,
				  GvHnswElementTuple tup)
{
	int			room = Max(e->ntids - 1, Min(HNSW_OVERFLOW_MIN_TIDS, info->maxTids));
	Size		size = GvHnswOverflowSize(info->dataBytes, room);

	MemSet(tup, 0, size);
	tup->flags = HNSW_ELEMENT_OVERFLOW;
	tup->keyNulls = e->keyNulls;
	tup->spares = room;
	tup->ntids = e->ntids - 1;
	ItemPointerSetInvalid(&tup->overflow);
	memcpy(tup->data, (char *) e + g->keysOffset, info->keys.keyBytes);
	for (int t = 0; t < room; t++)
	{
		ItemPointer dst = GvHnswElementHeapTid(tup, info->dataBytes, t);

		if (t < tup->ntids)
			*dst = e->moretids[t];
		else
			ItemPointerSetInvalid(dst);
	}
	return size;
}

/* The element tuple of e, with its links as item pointers. */
static void
FillBuiltElement(Relation index, GvHnswInfo info, GvHnswGraph g, GvHnswGraphElement e,
				 GvHnswElementTuple tup)
{
	int			m = info->m;
	int32	   *enbrs = ElementNbrs(g, e);
	uint32	   *edists = ElementDists(g, e);
	GvPackedDistance *dists;
	ItemPointer nbrs;

	MemSet(tup, 0, GvHnswTupleSize(info->dataBytes, m, e->level));
	tup->level = e->level;
	tup->capLevel = e->level;
	tup->heaptid = e->heaptid;
	tup->ntids = 1;
	if (e->ntids > 1)
		tup->overflow = e->overflowTid;
	else
		ItemPointerSetInvalid(&tup->overflow);
	tup->toastid = e->toastid;
	tup->keyNulls = e->keyNulls;
	if (info->keys.nkeys > 0)
		memcpy(tup->data, (char *) e + g->keysOffset, info->keys.keyBytes);
	GvHnswEncodeVector(index, info, ElementVector(g, e), tup->data + info->keys.keyBytes);
	dists = GvHnswTupleDists(tup, info->dataBytes);
	nbrs = GvHnswTupleNbrs(tup, info->dataBytes, m);
	for (int l = 0; l <= e->level; l++)
	{
		int			start = GvHnswLevelStart(m, l);

		for (int j = 0; j < GvHnswLevelSlots(m, l); j++)
		{
			if (j < e->counts[l])
			{
				nbrs[start + j] = GraphElement(g, enbrs[start + j])->tid;
				dists[start + j] = GvPackedDistanceFromKey(edists[start + j]);
			}
			else
				ItemPointerSetInvalid(&nbrs[start + j]);
		}
	}
	tup->spares = AddSpares(g, e, nbrs, dists);
}

/* Pass 1 of the writer: the next tuple of size bytes goes at *tid. */
static void
LayOut(Page page, BlockNumber *blkno, GvHnswElementTuple scratch, Size size,
	   ItemPointer tid)
{
	if (PageGetFreeSpace(page) < size)
	{
		GvInitPage(page, GV_PAGE_ID_HNSW, HNSW_PAGE_ELEMENT);
		(*blkno)++;
	}
	ItemPointerSet(tid, *blkno,
				   PageAddItem(page, (Item) scratch, size, InvalidOffsetNumber, false, false));
}

/* Pass 2 of the writer: put tup at tid, which pass 1 chose. */
static void
WriteAt(Relation index, Page page, BlockNumber *curBlk, GvHnswElementTuple tup,
		Size size, ItemPointer tid)
{
	if (ItemPointerGetBlockNumber(tid) != *curBlk)
	{
		if (*curBlk != InvalidBlockNumber)
			FlushPage(index, page);
		GvInitPage(page, GV_PAGE_ID_HNSW, HNSW_PAGE_ELEMENT);
		*curBlk = ItemPointerGetBlockNumber(tid);
	}
	if (PageAddItem(page, (Item) tup, size, InvalidOffsetNumber, false, false) !=
		ItemPointerGetOffsetNumber(tid))
		elog(ERROR, "failed to lay out gv_hnsw tuple (%u,%u)",
			 ItemPointerGetBlockNumber(tid), ItemPointerGetOffsetNumber(tid));
}

/*
 * Lay the in-memory graph out in pages after the metapage: first assign
 * every element (and the overflow tuple that follows one of several heap
 * TIDs) its item pointer, then write the tuples with neighbour numbers
 * turned into item pointers.  Every participant has finished.
 */
void
GvHnswWriteGraph(Relation index, GvHnswInfo info, GvHnswGraph g)
{
	int			m = info->m;
	int			total = pg_atomic_read_u32(&g->hdr->nelements);
	int			nelements;		/* those written */
	int32		entry = g->hdr->entry;
	Page		page = palloc(BLCKSZ);
	BlockNumber blkno = 1;
	BlockNumber curBlk = InvalidBlockNumber;
	GvHnswElementTuple tup = palloc0(GvHnswTupleSize(info->dataBytes, m, info->maxLevel));
	int32	   *order = LayoutOrder(info, g, total, &nelements);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_WRITE);

	/* Pass 1: item pointers. */
	GvInitPage(page, GV_PAGE_ID_HNSW, HNSW_PAGE_ELEMENT);
	for (int i = 0; i < nelements; i++)
	{
		GvHnswGraphElement e = GraphElement(g, order[i]);

		LayOut(page, &blkno, tup, GvHnswTupleSize(info->dataBytes, m, e->level), &e->tid);
		if (e->ntids > 1)
			LayOut(page, &blkno, tup, FillBuiltOverflow(info, g, e, tup), &e->overflowTid);
	}

	/* Pass 2: the pages themselves. */
	GvHnswWriteMetaPage(index, MAIN_FORKNUM, info,
						entry >= 0 ? &GraphElement(g, entry)->tid : NULL,
						g->hdr->entryLevel, nelements > 0 ? blkno : InvalidBlockNumber);
	for (int i = 0; i < nelements; i++)
	{
		GvHnswGraphElement e = GraphElement(g, order[i]);

		CHECK_FOR_INTERRUPTS();
		FillBuiltElement(index, info, g, e, tup);
		WriteAt(index, page, &curBlk, tup, GvHnswTupleSize(info->dataBytes, m, e->level),
				&e->tid);
		if (e->ntids > 1)
		{
			Size		size = FillBuiltOverflow(info, g, e, tup);

			GvHnswEncodeVector(index, info, ElementVector(g, e),
							   tup->data + info->keys.keyBytes);
			WriteAt(index, page, &curBlk, tup, size, &e->overflowTid);
		}
	}
	if (nelements > 0)
		FlushPage(index, page);
	Assert(curBlk == InvalidBlockNumber || curBlk == blkno);
	pfree(page);
	pfree(tup);
	pfree(order);
	if (info->keys.nkeys > 0)
		WriteKeyDirectory(index, info, g, total);
	InsertDeferred(index, g, total);
}

/* The graph filled maintenance_work_mem after ntuples rows: say so. */
void
GvHnswReportGraphFull(double ntuples)
{
	ereport(NOTICE,
			(errmsg("gv_hnsw graph no longer fits into maintenance_work_mem after %.0f tuples",
					ntuples),
			 errdetail("Building will take significantly more time."),
			 errhint("Increase maintenance_work_mem to speed up builds.")));
}
