/*-------------------------------------------------------------------------
 *
 * algo_bench.c
 *	  Micro-benchmark of the algorithm kit (src/gvheap.h, src/gvselect.h)
 *	  against the code it replaces and against PostgreSQL's own heaps.
 *
 * PostgreSQL's lib/binaryheap.h and lib/pairingheap.h are compiled into the
 * server binary (no library carries them in PostgreSQL 15), so this is a
 * loadable module that runs inside a backend: the kit, the copies of
 * today's code and the server's heaps all run in one process, built with
 * the flags PGXS builds the extension with.  test/bench/algo_bench builds
 * it and calls it in a throwaway cluster (the table), or in a single-user
 * backend whose whole process is one measurement (for an outside A/B).
 *
 * The workloads are what the access methods do:
 *
 *	search	HNSW's layer search (hnswutils.c, GvHnswSearchLayerDisk): a
 *			min-heap of candidates to expand and a max-heap of the ef = 100
 *			nearest found, 32 neighbours per expansion.  A neighbour's
 *			distance is the expanded element's plus noise in [-0.5, 0.5),
 *			reflected at 0, from a fixed random stream: the search closes
 *			in, then stops by the paper's condition after 120 expansions
 *			and 3840 distances, as a real ef = 100 search does (the table
 *			says so in a NOTICE).
 *			Every implementation makes the same moves (a checksum of each
 *			query's result shows it).  Figures: ns per query.
 *	topk	keep the k = 10 nearest of 64K candidates in an array, in
 *			random order (IVFPQ's re-ranking, BM25's top-k, hnswbuild.c's
 *			spares): most offers lose to the top.  ns per offer.
 *	topk_desc  the worst case: keep the k = 100 nearest of candidates
 *			that come farthest first, so that every offer replaces the top.
 *	select	hnswscan.c's listed path: the 256 nearest of 10000 candidates,
 *			in order (distance, then heap TID).  ns per call.
 *
 * and the implementations:
 *
 *	kit			gvheap.h / gvselect.h, float distances
 *	kit_double	the same with double distances (the access methods are
 *				moving to double)
 *	kit_pushpop	search with the kit, but the result heap bounded by push
 *				then pop, as today's code does, instead of replace_top:
 *				separates the template's effect from the algorithm's
 *	hnswutils	a copy of hnswutils.c's GvHnswHeap (out-of-line functions,
 *				min or max chosen by a flag at run time)
 *	hnswscan	a copy of hnswscan.c's SelectNearest and the qsort after it
 *	qsort		sort all 10000 candidates and take the first 256 (what
 *				hnswscan.c's KeepBest does)
 *	binaryheap	PostgreSQL's binaryheap of Datums that point at the
 *				candidates, compared through a function pointer
 *	pairingheap	PostgreSQL's pairing heap, nodes embedded in the candidates
 *				(taken from an array, not palloc'd one by one: the most
 *				favourable way to use it)
 *
 * The copies of today's code are kept verbatim but for their names; they
 * are here for the comparison only.
 *
 * SQL:
 *	algo_bench(workload, impl, reps) -> seconds for reps repetitions
 *	algo_bench_table(rounds) -> every pair, interleaved: each round runs
 *		every measurement once, the best of the rounds is kept
 *
 * test/bench/algo_bench.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <time.h>

#include "fmgr.h"
#include "funcapi.h"
#include "lib/binaryheap.h"
#include "lib/pairingheap.h"
#include "miscadmin.h"
#include "storage/itemptr.h"
#include "utils/builtins.h"
#include "utils/float.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(algo_bench);
PG_FUNCTION_INFO_V1(algo_bench_table);

#define STREAM_SIZE		(1 << 20)
#define STREAM_MASK		(STREAM_SIZE - 1)
#define SEARCH_EF		100
#define SEARCH_NBRS		32
#define SEARCH_MAX_EXP	400
#define SEARCH_QUERIES	200		/* one repetition */
#define TOPK_N			(1 << 16)	/* candidates: 1.3 MB, in cache */
#define TOPK_PASSES		16
#define TOPK_OFFERS		(TOPK_N * TOPK_PASSES)
#define TOPK_K			10
#define TOPK_DESC_K		100
#define TOPK_MAX_K		100
#define SELECT_N		10000
#define SELECT_K		256
#define SELECT_CALLS	20

/* hnsw.h's GvHnswCandidate, and the same with a double distance */
typedef struct BenchCand
{
	float		dist;
	ItemPointerData tid;
	ItemPointerData heaptid;
	Oid			toastid;
} BenchCand;

typedef struct BenchCandD
{
	double		dist;
	ItemPointerData tid;
	ItemPointerData heaptid;
	Oid			toastid;
} BenchCandD;

/* The fixed random stream every implementation reads: noise in [0, 1) and TIDs. */
static float *Noise;
static ItemPointerData *Tids;
static BenchCand *SelectInput;
static BenchCand *Stream;		/* topk: TOPK_N candidates, random order */
static BenchCandD *StreamD;
static BenchCand *Desc;			/* topk_desc: the same, farthest first */
static BenchCandD *DescD;

/* what the search model did, for a note beside the table */
static int64 SearchExpansions;
static int64 SearchDistances;

/* xorshift32 */
static uint32
NextRandom(uint32 *state)
{
	uint32		x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

static void
MakeData(void)
{
	uint32		state = 2463534242u;

	if (Noise != NULL)
		return;
	Noise = MemoryContextAlloc(TopMemoryContext, sizeof(float) * STREAM_SIZE);
	Tids = MemoryContextAlloc(TopMemoryContext, sizeof(ItemPointerData) * STREAM_SIZE);
	SelectInput = MemoryContextAlloc(TopMemoryContext, sizeof(BenchCand) * SELECT_N);
	Stream = MemoryContextAlloc(TopMemoryContext, sizeof(BenchCand) * TOPK_N);
	StreamD = MemoryContextAlloc(TopMemoryContext, sizeof(BenchCandD) * TOPK_N);
	Desc = MemoryContextAlloc(TopMemoryContext, sizeof(BenchCand) * TOPK_N);
	DescD = MemoryContextAlloc(TopMemoryContext, sizeof(BenchCandD) * TOPK_N);
	for (int i = 0; i < STREAM_SIZE; i++)
	{
		Noise[i] = (NextRandom(&state) >> 8) / (float) (1 << 24);
		ItemPointerSet(&Tids[i], NextRandom(&state) % 100000, 1 + NextRandom(&state) % 200);
	}
	for (int i = 0; i < TOPK_N; i++)
	{
		Stream[i].dist = StreamD[i].dist = Noise[i];
		Desc[i].dist = DescD[i].dist = (float) (TOPK_N - i) / TOPK_N;
		Stream[i].tid = StreamD[i].tid = Desc[i].tid = DescD[i].tid = Tids[i];
		Stream[i].heaptid = StreamD[i].heaptid = Tids[i];
		Desc[i].heaptid = DescD[i].heaptid = Tids[i];
		Stream[i].toastid = StreamD[i].toastid = InvalidOid;
		Desc[i].toastid = DescD[i].toastid = InvalidOid;
	}
	for (int i = 0; i < SELECT_N; i++)
	{
		/* few distinct distances, so that the TID tie-break matters */
		SelectInput[i].dist = (float) (NextRandom(&state) % 4096) / 4096;
		SelectInput[i].tid = Tids[i];
		SelectInput[i].heaptid = Tids[(i * 7 + 3) & STREAM_MASK];
		SelectInput[i].toastid = InvalidOid;
	}
}

/* An inline (distance, heap TID) order, as the kit's users will write it. */
static inline bool
TidLess(const ItemPointerData *a, const ItemPointerData *b)
{
	BlockNumber ba = ItemPointerGetBlockNumberNoCheck(a);
	BlockNumber bb = ItemPointerGetBlockNumberNoCheck(b);

	if (ba != bb)
		return ba < bb;
	return ItemPointerGetOffsetNumberNoCheck(a) < ItemPointerGetOffsetNumberNoCheck(b);
}

#define DIST_TID_LESS(a, b) \
	((a)->dist < (b)->dist || ((a)->dist == (b)->dist && TidLess(&(a)->heaptid, &(b)->heaptid)))

/* ---------------------------------------------------------------------------
 * The kit
 * ---------------------------------------------------------------------------
 */
#define GV_HEAP_PREFIX	kmin
#define GV_HEAP_ELEMENT BenchCand
#define GV_HEAP_LESS(a, b) ((a)->dist < (b)->dist)
#include "gvheap.h"

#define GV_HEAP_PREFIX	kmax
#define GV_HEAP_ELEMENT BenchCand
#define GV_HEAP_LESS(a, b) ((a)->dist < (b)->dist)
#define GV_HEAP_MAX
#include "gvheap.h"

#define GV_HEAP_PREFIX	dmin
#define GV_HEAP_ELEMENT BenchCandD
#define GV_HEAP_LESS(a, b) ((a)->dist < (b)->dist)
#include "gvheap.h"

#define GV_HEAP_PREFIX	dmax
#define GV_HEAP_ELEMENT BenchCandD
#define GV_HEAP_LESS(a, b) ((a)->dist < (b)->dist)
#define GV_HEAP_MAX
#include "gvheap.h"

#define GV_SELECT_PREFIX ksel
#define GV_SELECT_ELEMENT BenchCand
#define GV_SELECT_LESS(a, b) DIST_TID_LESS(a, b)
#include "gvselect.h"

#define GV_SELECT_PREFIX dsel
#define GV_SELECT_ELEMENT BenchCandD
#define GV_SELECT_LESS(a, b) DIST_TID_LESS(a, b)
#include "gvselect.h"

/* ---------------------------------------------------------------------------
 * Copy of hnswutils.c's heap (for the comparison only)
 * ---------------------------------------------------------------------------
 */
typedef struct CopyHeapData
{
	BenchCand  *items;
	int			count;
	int			size;
	bool		max;			/* max-heap (else min-heap) */
} CopyHeapData;

typedef CopyHeapData *CopyHeap;

extern void CopyHeapInit(CopyHeap heap, int size, bool max);
extern void CopyHeapPush(CopyHeap heap, BenchCand *c);
extern BenchCand CopyHeapPop(CopyHeap heap);

#define CopyHeapTop(h) (&(h)->items[0])

void
CopyHeapInit(CopyHeap heap, int size, bool max)
{
	heap->size = Max(size, 16);
	heap->items = palloc(sizeof(BenchCand) * heap->size);
	heap->count = 0;
	heap->max = max;
}

static inline bool
Before(CopyHeap heap, BenchCand *a, BenchCand *b)
{
	return heap->max ? a->dist > b->dist : a->dist < b->dist;
}

void
CopyHeapPush(CopyHeap heap, BenchCand *c)
{
	int			i;

	if (heap->count == heap->size)
	{
		heap->size *= 2;
		heap->items = repalloc_huge(heap->items, sizeof(BenchCand) * heap->size);
	}
	i = heap->count++;
	while (i > 0)
	{
		int			parent = (i - 1) / 2;

		if (!Before(heap, c, &heap->items[parent]))
			break;
		heap->items[i] = heap->items[parent];
		i = parent;
	}
	heap->items[i] = *c;
}

BenchCand
CopyHeapPop(CopyHeap heap)
{
	BenchCand	top = heap->items[0];
	BenchCand	last;
	int			i = 0;

	Assert(heap->count > 0);
	last = heap->items[--heap->count];
	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= heap->count)
			break;
		if (child + 1 < heap->count &&
			Before(heap, &heap->items[child + 1], &heap->items[child]))
			child++;
		if (!Before(heap, &heap->items[child], &last))
			break;
		heap->items[i] = heap->items[child];
		i = child;
	}
	if (heap->count > 0)
		heap->items[i] = last;
	return top;
}

/* ---------------------------------------------------------------------------
 * Copy of hnswscan.c's quickselect (for the comparison only)
 * ---------------------------------------------------------------------------
 */
static int
CompareDistTid(float da, ItemPointer ta, float db, ItemPointer tb)
{
	if (da != db)
		return da < db ? -1 : 1;
	return ItemPointerCompare(ta, tb);
}

static int
CompareCandidatesDistTid(const void *a, const void *b)
{
	const BenchCand *x = a;
	const BenchCand *y = b;

	return CompareDistTid(x->dist, (ItemPointer) &x->heaptid, y->dist, (ItemPointer) &y->heaptid);
}

static void
SwapCandidates(BenchCand *a, BenchCand *b)
{
	BenchCand	t = *a;

	*a = *b;
	*b = t;
}

/* Reorder c[0, n) so that its k smallest come first (in any order). */
static void
SelectNearest(BenchCand *c, int n, int k)
{
	int			lo = 0,
				hi = n - 1;

	while (lo < hi)
	{
		BenchCand	pivot = c[lo + (hi - lo) / 2];
		int			i = lo,
					j = hi;

		while (i <= j)
		{
			while (CompareCandidatesDistTid(&c[i], &pivot) < 0)
				i++;
			while (CompareCandidatesDistTid(&c[j], &pivot) > 0)
				j--;
			if (i <= j)
				SwapCandidates(&c[i++], &c[j--]);
		}
		if (k - 1 <= j)
			hi = j;
		else if (k - 1 >= i)
			lo = i;
		else
			break;
	}
}

/* ---------------------------------------------------------------------------
 * PostgreSQL's heaps: comparators and node storage
 * ---------------------------------------------------------------------------
 */

/* binaryheap keeps the greatest on top: "greater" is "nearer" for cand. */
static int
BhNearerFirst(Datum a, Datum b, void *arg)
{
	float		da = ((BenchCand *) DatumGetPointer(a))->dist;
	float		db = ((BenchCand *) DatumGetPointer(b))->dist;

	return da < db ? 1 : da > db ? -1 : 0;
}

static int
BhFartherFirst(Datum a, Datum b, void *arg)
{
	return -BhNearerFirst(a, b, arg);
}

typedef struct PhCand
{
	pairingheap_node node;
	BenchCand	c;
} PhCand;

static int
PhNearerFirst(const pairingheap_node *a, const pairingheap_node *b, void *arg)
{
	float		da = pairingheap_const_container(PhCand, node, a)->c.dist;
	float		db = pairingheap_const_container(PhCand, node, b)->c.dist;

	return da < db ? 1 : da > db ? -1 : 0;
}

static int
PhFartherFirst(const pairingheap_node *a, const pairingheap_node *b, void *arg)
{
	return -PhNearerFirst(a, b, arg);
}

/* ---------------------------------------------------------------------------
 * search: one query per call, from the stream position *pos
 * ---------------------------------------------------------------------------
 */

/* The next neighbour of an element at distance base. */
static inline void
NextNeighbour(float base, uint32 *pos, BenchCand *e)
{
	uint32		p = (*pos)++ & STREAM_MASK;

	e->dist = fabsf(base + Noise[p] - 0.5f);
	e->tid = Tids[p];
	e->heaptid = Tids[p];
	e->toastid = InvalidOid;
}

static inline void
NextNeighbourD(double base, uint32 *pos, BenchCandD *e)
{
	uint32		p = (*pos)++ & STREAM_MASK;
	float		d = fabsf((float) base + Noise[p] - 0.5f);	/* as in float */

	e->dist = d;
	e->tid = Tids[p];
	e->heaptid = Tids[p];
	e->toastid = InvalidOid;
}

/* the checksum of a result: its distances, summed in double */
static double
ChecksumCands(const BenchCand *items, int n)
{
	double		s = 0;

	for (int i = 0; i < n; i++)
		s += items[i].dist;
	return s;
}

static double
SearchKit(uint32 *pos, kmin_heap *cand, kmax_heap *result, bool pushPop)
{
	BenchCand	ep;
	int			expansions = 0;

	kmin_reset(cand);
	kmax_reset(result);
	NextNeighbour(1.0f, pos, &ep);
	kmin_push(cand, &ep);
	kmax_push(result, &ep);
	while (!kmin_empty(cand) && expansions++ < SEARCH_MAX_EXP)
	{
		BenchCand	c;

		if (result->count >= SEARCH_EF && kmin_top(cand)->dist > kmax_top(result)->dist)
			break;
		c = kmin_pop(cand);
		SearchExpansions++;
		SearchDistances += SEARCH_NBRS;
		for (int i = 0; i < SEARCH_NBRS; i++)
		{
			BenchCand	e;

			NextNeighbour(c.dist, pos, &e);
			if (pushPop)
			{
				if (result->count < SEARCH_EF || e.dist < kmax_top(result)->dist)
				{
					kmin_push(cand, &e);
					kmax_push(result, &e);
					if (result->count > SEARCH_EF)
						(void) kmax_pop(result);
				}
			}
			else if (kmax_offer(result, &e, SEARCH_EF, NULL))
				kmin_push(cand, &e);
		}
	}
	return ChecksumCands(result->items, result->count);
}

static double
SearchKitDouble(uint32 *pos, dmin_heap *cand, dmax_heap *result)
{
	BenchCandD	ep;
	int			expansions = 0;
	double		s = 0;

	dmin_reset(cand);
	dmax_reset(result);
	NextNeighbourD(1.0, pos, &ep);
	dmin_push(cand, &ep);
	dmax_push(result, &ep);
	while (!dmin_empty(cand) && expansions++ < SEARCH_MAX_EXP)
	{
		BenchCandD	c;

		if (result->count >= SEARCH_EF && dmin_top(cand)->dist > dmax_top(result)->dist)
			break;
		c = dmin_pop(cand);
		for (int i = 0; i < SEARCH_NBRS; i++)
		{
			BenchCandD	e;

			NextNeighbourD(c.dist, pos, &e);
			if (dmax_offer(result, &e, SEARCH_EF, NULL))
				dmin_push(cand, &e);
		}
	}
	for (int i = 0; i < result->count; i++)
		s += (float) result->items[i].dist;
	return s;
}

static double
SearchCopy(uint32 *pos, CopyHeap cand, CopyHeap result)
{
	BenchCand	ep;
	int			expansions = 0;

	cand->count = 0;
	result->count = 0;
	NextNeighbour(1.0f, pos, &ep);
	CopyHeapPush(cand, &ep);
	CopyHeapPush(result, &ep);
	while (cand->count > 0 && expansions++ < SEARCH_MAX_EXP)
	{
		BenchCand	c;

		if (result->count >= SEARCH_EF && CopyHeapTop(cand)->dist > CopyHeapTop(result)->dist)
			break;
		c = CopyHeapPop(cand);
		for (int i = 0; i < SEARCH_NBRS; i++)
		{
			BenchCand	e;

			NextNeighbour(c.dist, pos, &e);
			if (result->count < SEARCH_EF || e.dist < CopyHeapTop(result)->dist)
			{
				CopyHeapPush(cand, &e);
				CopyHeapPush(result, &e);
				if (result->count > SEARCH_EF)
					(void) CopyHeapPop(result);
			}
		}
	}
	return ChecksumCands(result->items, result->count);
}

/* binaryheap: Datums point into slab, reset per query */
static double
SearchBinaryHeap(uint32 *pos, binaryheap *cand, binaryheap *result, BenchCand *slab)
{
	int			used = 0;
	int			expansions = 0;
	BenchCand  *ep = &slab[used++];
	double		s = 0;

	binaryheap_reset(cand);
	binaryheap_reset(result);
	NextNeighbour(1.0f, pos, ep);
	binaryheap_add(cand, PointerGetDatum(ep));
	binaryheap_add(result, PointerGetDatum(ep));
	while (!binaryheap_empty(cand) && expansions++ < SEARCH_MAX_EXP)
	{
		BenchCand  *c;

		if (result->bh_size >= SEARCH_EF &&
			((BenchCand *) DatumGetPointer(binaryheap_first(cand)))->dist >
			((BenchCand *) DatumGetPointer(binaryheap_first(result)))->dist)
			break;
		c = (BenchCand *) DatumGetPointer(binaryheap_remove_first(cand));
		for (int i = 0; i < SEARCH_NBRS; i++)
		{
			BenchCand  *e = &slab[used];

			NextNeighbour(c->dist, pos, e);
			if (result->bh_size < SEARCH_EF)
				binaryheap_add(result, PointerGetDatum(e));
			else if (e->dist < ((BenchCand *) DatumGetPointer(binaryheap_first(result)))->dist)
				binaryheap_replace_first(result, PointerGetDatum(e));
			else
				continue;
			binaryheap_add(cand, PointerGetDatum(e));
			used++;
		}
	}
	for (int i = 0; i < result->bh_size; i++)
		s += ((BenchCand *) DatumGetPointer(result->bh_nodes[i]))->dist;
	return s;
}

/* pairingheap: two nodes per kept candidate, from slab, reset per query */
static double
SearchPairingHeap(uint32 *pos, pairingheap *cand, pairingheap *result, PhCand *slab)
{
	int			used = 0;
	int			expansions = 0;
	int			nresult = 0;
	PhCand	   *ep = &slab[used++];
	PhCand	   *ep2 = &slab[used++];
	double		s = 0;

	pairingheap_reset(cand);
	pairingheap_reset(result);
	NextNeighbour(1.0f, pos, &ep->c);
	ep2->c = ep->c;
	pairingheap_add(cand, &ep->node);
	pairingheap_add(result, &ep2->node);
	nresult++;
	while (!pairingheap_is_empty(cand) && expansions++ < SEARCH_MAX_EXP)
	{
		PhCand	   *c;

		if (nresult >= SEARCH_EF &&
			pairingheap_container(PhCand, node, pairingheap_first(cand))->c.dist >
			pairingheap_container(PhCand, node, pairingheap_first(result))->c.dist)
			break;
		c = pairingheap_container(PhCand, node, pairingheap_remove_first(cand));
		for (int i = 0; i < SEARCH_NBRS; i++)
		{
			PhCand	   *e = &slab[used];
			PhCand	   *e2 = &slab[used + 1];

			NextNeighbour(c->c.dist, pos, &e->c);
			if (nresult >= SEARCH_EF &&
				!(e->c.dist < pairingheap_container(PhCand, node, pairingheap_first(result))->c.dist))
				continue;
			e2->c = e->c;
			pairingheap_add(cand, &e->node);
			pairingheap_add(result, &e2->node);
			used += 2;
			if (++nresult > SEARCH_EF)
			{
				(void) pairingheap_remove_first(result);
				nresult--;
			}
		}
	}
	while (!pairingheap_is_empty(result))
		s += pairingheap_container(PhCand, node, pairingheap_remove_first(result))->c.dist;
	return s;
}

/* ---------------------------------------------------------------------------
 * topk: keep the TOPK_K nearest of TOPK_OFFERS
 * ---------------------------------------------------------------------------
 */
static double
TopkKit(const BenchCand *a, int k)
{
	BenchCand	store[TOPK_MAX_K];
	kmax_heap	h;

	for (int pass = 0; pass < TOPK_PASSES; pass++)
	{
		kmax_init(&h, store, k);
		for (int p = 0; p < TOPK_N; p++)
			(void) kmax_offer(&h, &a[p], k, NULL);
	}
	return ChecksumCands(h.items, h.count);
}

static double
TopkKitDouble(const BenchCandD *a, int k)
{
	BenchCandD	store[TOPK_MAX_K];
	dmax_heap	h;
	double		s = 0;

	for (int pass = 0; pass < TOPK_PASSES; pass++)
	{
		dmax_init(&h, store, k);
		for (int p = 0; p < TOPK_N; p++)
			(void) dmax_offer(&h, &a[p], k, NULL);
	}
	for (int i = 0; i < h.count; i++)
		s += (float) h.items[i].dist;
	return s;
}

/* as hnswutils.c bounds its result heap: push, then pop when over k */
static double
TopkCopy(CopyHeap h, BenchCand *a, int k)
{
	for (int pass = 0; pass < TOPK_PASSES; pass++)
	{
		h->count = 0;
		for (int p = 0; p < TOPK_N; p++)
		{
			BenchCand  *e = &a[p];

			if (h->count < k || e->dist < CopyHeapTop(h)->dist)
			{
				CopyHeapPush(h, e);
				if (h->count > k)
					(void) CopyHeapPop(h);
			}
		}
	}
	return ChecksumCands(h->items, h->count);
}

/* the Datums point at the candidates in the array */
static double
TopkBinaryHeap(binaryheap *h, BenchCand *a, int k)
{
	double		s = 0;

	for (int pass = 0; pass < TOPK_PASSES; pass++)
	{
		binaryheap_reset(h);
		for (int p = 0; p < TOPK_N; p++)
		{
			BenchCand  *e = &a[p];

			if (h->bh_size < k)
				binaryheap_add(h, PointerGetDatum(e));
			else if (e->dist < ((BenchCand *) DatumGetPointer(binaryheap_first(h)))->dist)
				binaryheap_replace_first(h, PointerGetDatum(e));
		}
	}
	for (int i = 0; i < h->bh_size; i++)
		s += ((BenchCand *) DatumGetPointer(h->bh_nodes[i]))->dist;
	return s;
}

/* k + 1 nodes: an offer that wins is copied into the spare one */
static double
TopkPairingHeap(pairingheap *h, PhCand *slab, BenchCand *a, int k)
{
	double		s = 0;

	for (int pass = 0; pass < TOPK_PASSES; pass++)
	{
		int			n = 0;
		PhCand	   *spare = &slab[k];

		pairingheap_reset(h);
		for (int p = 0; p < TOPK_N; p++)
		{
			BenchCand  *e = &a[p];
			PhCand	   *node;

			if (n >= k &&
				!(e->dist < pairingheap_container(PhCand, node, pairingheap_first(h))->c.dist))
				continue;
			node = n < k ? &slab[n] : spare;
			node->c = *e;
			pairingheap_add(h, &node->node);
			if (++n > k)
			{
				spare = pairingheap_container(PhCand, node, pairingheap_remove_first(h));
				n--;
			}
		}
	}
	while (!pairingheap_is_empty(h))
		s += pairingheap_container(PhCand, node, pairingheap_remove_first(h))->c.dist;
	return s;
}

/* ---------------------------------------------------------------------------
 * select: the SELECT_K nearest of SELECT_N, in (distance, heap TID) order
 * ---------------------------------------------------------------------------
 */
static double
ChecksumSelected(const BenchCand *a)
{
	double		s = 0;

	for (int i = 0; i < SELECT_K; i++)
		s += a[i].dist * (i + 1) + ItemPointerGetOffsetNumberNoCheck(&a[i].heaptid);
	return s;
}

static double
SelectRun(const char *impl, BenchCand *a, BenchCandD *ad)
{
	double		s = 0;

	for (int call = 0; call < SELECT_CALLS; call++)
	{
		if (strcmp(impl, "kit_double") == 0)
		{
			for (int i = 0; i < SELECT_N; i++)
			{
				ad[i].dist = SelectInput[i].dist;
				ad[i].tid = SelectInput[i].tid;
				ad[i].heaptid = SelectInput[i].heaptid;
				ad[i].toastid = SelectInput[i].toastid;
			}
			dsel_partial_sort(ad, SELECT_N, SELECT_K);
			for (int i = 0; i < SELECT_K; i++)
				s += (float) ad[i].dist * (i + 1) +
					ItemPointerGetOffsetNumberNoCheck(&ad[i].heaptid);
			continue;
		}
		memcpy(a, SelectInput, sizeof(BenchCand) * SELECT_N);
		if (strcmp(impl, "kit") == 0)
			ksel_partial_sort(a, SELECT_N, SELECT_K);
		else if (strcmp(impl, "hnswscan") == 0)
		{
			SelectNearest(a, SELECT_N, SELECT_K);
			qsort(a, SELECT_K, sizeof(BenchCand), CompareCandidatesDistTid);
		}
		else
			qsort(a, SELECT_N, sizeof(BenchCand), CompareCandidatesDistTid);
		s += ChecksumSelected(a);
	}
	return s;
}

/* ---------------------------------------------------------------------------
 * Driver
 * ---------------------------------------------------------------------------
 */
typedef struct Measure
{
	const char *workload;
	const char *impl;
	double		opsPerRep;		/* queries, offers or calls */
	int			repsPerRound;	/* about 10 ms each on a 2 GHz core */
} Measure;

static const Measure Measures[] = {
	{"search", "kit", SEARCH_QUERIES, 1},
	{"search", "kit_double", SEARCH_QUERIES, 1},
	{"search", "kit_pushpop", SEARCH_QUERIES, 1},
	{"search", "hnswutils", SEARCH_QUERIES, 1},
	{"search", "binaryheap", SEARCH_QUERIES, 1},
	{"search", "pairingheap", SEARCH_QUERIES, 1},
	{"topk", "kit", TOPK_OFFERS, 8},
	{"topk", "kit_double", TOPK_OFFERS, 8},
	{"topk", "hnswutils", TOPK_OFFERS, 8},
	{"topk", "binaryheap", TOPK_OFFERS, 8},
	{"topk", "pairingheap", TOPK_OFFERS, 8},
	{"topk_desc", "kit", TOPK_OFFERS, 1},
	{"topk_desc", "kit_double", TOPK_OFFERS, 1},
	{"topk_desc", "hnswutils", TOPK_OFFERS, 1},
	{"topk_desc", "binaryheap", TOPK_OFFERS, 1},
	{"topk_desc", "pairingheap", TOPK_OFFERS, 1},
	{"select", "kit", SELECT_CALLS, 20},
	{"select", "kit_double", SELECT_CALLS, 20},
	{"select", "hnswscan", SELECT_CALLS, 20},
	{"select", "qsort", SELECT_CALLS, 20},
};


#define NUM_MEASURES lengthof(Measures)

static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * Run one measurement reps times, after one repetition that is not timed
 * (it faults the buffers in and grows the heaps); *checksum gets what the
 * last repetition computed (the same for every implementation of a
 * workload).  Returns the seconds the timed repetitions took.
 */
static double
RunMeasure(const Measure *m, int reps, double *checksum)
{
	MemoryContext ctx = AllocSetContextCreate(CurrentMemoryContext, "algo_bench",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(ctx);
	int			slabSize = SEARCH_MAX_EXP * SEARCH_NBRS * 2 + 16;
	BenchCand  *slab = palloc(sizeof(BenchCand) * slabSize);
	PhCand	   *phslab = palloc(sizeof(PhCand) * slabSize);
	BenchCandD *selD = palloc(sizeof(BenchCandD) * SELECT_N);
	kmin_heap	kc;
	kmax_heap	kr;
	dmin_heap	dc;
	dmax_heap	dr;
	CopyHeapData cc;
	CopyHeapData cr;
	binaryheap *bc = binaryheap_allocate(slabSize, BhNearerFirst, NULL);
	binaryheap *br = binaryheap_allocate(slabSize, BhFartherFirst, NULL);
	pairingheap *pc = pairingheap_allocate(PhNearerFirst, NULL);
	pairingheap *pr = pairingheap_allocate(PhFartherFirst, NULL);
	bool		search = strcmp(m->workload, "search") == 0;
	bool		topk = strncmp(m->workload, "topk", 4) == 0;
	bool		desc = strcmp(m->workload, "topk_desc") == 0;
	int			k = desc ? TOPK_DESC_K : TOPK_K;
	double		start;
	double		elapsed;

	/* the sizes today's code starts with (hnswscan.c, GvHnswFindEntry) */
	kmin_init_alloc(&kc, 1024);
	kmax_init_alloc(&kr, SEARCH_EF + 1);
	dmin_init_alloc(&dc, 1024);
	dmax_init_alloc(&dr, SEARCH_EF + 1);
	CopyHeapInit(&cc, 1024, false);
	CopyHeapInit(&cr, topk ? k + 1 : SEARCH_EF + 1, true);

	start = 0;
	for (int r = -1; r < reps; r++)
	{
		uint32		pos = 0;
		double		s = 0;

		CHECK_FOR_INTERRUPTS();
		if (search)
		{
			for (int q = 0; q < SEARCH_QUERIES; q++)
			{
				if (strcmp(m->impl, "kit") == 0)
					s += SearchKit(&pos, &kc, &kr, false);
				else if (strcmp(m->impl, "kit_pushpop") == 0)
					s += SearchKit(&pos, &kc, &kr, true);
				else if (strcmp(m->impl, "kit_double") == 0)
					s += SearchKitDouble(&pos, &dc, &dr);
				else if (strcmp(m->impl, "hnswutils") == 0)
					s += SearchCopy(&pos, &cc, &cr);
				else if (strcmp(m->impl, "binaryheap") == 0)
					s += SearchBinaryHeap(&pos, bc, br, slab);
				else
					s += SearchPairingHeap(&pos, pc, pr, phslab);
			}
		}
		else if (topk)
		{
			BenchCand  *a = desc ? Desc : Stream;

			if (strcmp(m->impl, "kit") == 0)
				s = TopkKit(a, k);
			else if (strcmp(m->impl, "kit_double") == 0)
				s = TopkKitDouble(desc ? DescD : StreamD, k);
			else if (strcmp(m->impl, "hnswutils") == 0)
				s = TopkCopy(&cr, a, k);
			else if (strcmp(m->impl, "binaryheap") == 0)
				s = TopkBinaryHeap(br, a, k);
			else
				s = TopkPairingHeap(pr, phslab, a, k);
		}
		else
			s = SelectRun(m->impl, slab, selD);
		*checksum = s;
		if (r == -1)
			start = Now();
	}
	elapsed = Now() - start;
	MemoryContextSwitchTo(old);
	MemoryContextDelete(ctx);
	return elapsed;
}

static const Measure *
FindMeasure(const char *workload, const char *impl)
{
	for (int i = 0; i < NUM_MEASURES; i++)
		if (strcmp(Measures[i].workload, workload) == 0 &&
			strcmp(Measures[i].impl, impl) == 0)
			return &Measures[i];
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("no measurement \"%s\" of workload \"%s\"", impl, workload)));
	return NULL;				/* keep the compiler quiet */
}

/* algo_bench(workload, impl, reps): seconds for reps repetitions */
Datum
algo_bench(PG_FUNCTION_ARGS)
{
	const Measure *m = FindMeasure(text_to_cstring(PG_GETARG_TEXT_PP(0)),
								   text_to_cstring(PG_GETARG_TEXT_PP(1)));
	int			reps = PG_GETARG_INT32(2);
	double		checksum = 0;

	MakeData();
	PG_RETURN_FLOAT8(RunMeasure(m, Max(reps, 1), &checksum));
}

/*
 * algo_bench_table(rounds): every measurement once per round, in turn; the
 * best round of each, in ns per operation, its ratio to the kit's (float)
 * on the same workload, and whether its checksum matched the kit's.
 */
Datum
algo_bench_table(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			rounds = Max(PG_GETARG_INT32(0), 1);
	double		best[NUM_MEASURES];
	double		sums[NUM_MEASURES];

	InitMaterializedSRF(fcinfo, 0);
	MakeData();
	for (int i = 0; i < NUM_MEASURES; i++)
		best[i] = get_float8_infinity();
	for (int r = 0; r < rounds; r++)
	{
		for (int i = 0; i < NUM_MEASURES; i++)
		{
			double		t = RunMeasure(&Measures[i], Measures[i].repsPerRound, &sums[i]);

			best[i] = Min(best[i], t / Measures[i].repsPerRound);
		}
	}
	SearchExpansions = SearchDistances = 0;
	{
		double		checksum;

		RunMeasure(&Measures[0], 1, &checksum);
	}
	ereport(NOTICE,
			(errmsg("search model: %.1f expansions and %.0f distances a query",
					SearchExpansions / (2.0 * SEARCH_QUERIES),
					SearchDistances / (2.0 * SEARCH_QUERIES))));
	for (int i = 0; i < NUM_MEASURES; i++)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};
		int			kit = i;

		while (strcmp(Measures[kit].impl, "kit") != 0)
			kit--;				/* the kit comes first in each workload */
		values[0] = CStringGetTextDatum(Measures[i].workload);
		values[1] = CStringGetTextDatum(Measures[i].impl);
		values[2] = Float8GetDatum(best[i] / Measures[i].opsPerRep * 1e9);
		values[3] = Float8GetDatum(best[i] / best[kit]);
		values[4] = BoolGetDatum(fabs(sums[i] - sums[kit]) <= 1e-6 * fabs(sums[kit]));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
