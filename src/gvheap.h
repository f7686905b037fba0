/*-------------------------------------------------------------------------
 *
 * gvheap.h
 *	  A typed binary heap, generated for one element type and one order.
 *
 * Every gigavector access method keeps priority queues on its hot paths:
 * HNSW's candidate and result heaps, the exact k-NN queue of gv_kdtree,
 * IVFPQ's re-ranked rows, BM25's top-k.  This header is the one
 * implementation they share.  Like PostgreSQL's lib/simplehash.h and
 * lib/sort_template.h it is a template: the includer names the element
 * type and its order, and gets a struct and static inline functions made
 * for them.  The comparison is an expression the compiler inlines into
 * every sift, not a function pointer called per comparison (as
 * lib/binaryheap.h and lib/pairingheap.h do), and the elements are stored
 * by value in one flat array (binaryheap stores Datums, usually pointers
 * to elements elsewhere; pairingheap links nodes embedded in them), so a
 * sift touches only the array.  test/bench/algo_bench.c measures the
 * difference.
 *
 * Usage:
 *
 *	#define GV_HEAP_PREFIX		cand
 *	#define GV_HEAP_ELEMENT		GvHnswCandidate
 *	#define GV_HEAP_LESS(a, b)	((a)->dist < (b)->dist)
 *	#define GV_HEAP_MAX			-- optional: the top is the greatest
 *	#include "gvheap.h"
 *
 * GV_HEAP_LESS(a, b) gets two "const GV_HEAP_ELEMENT *" and must be a
 * strict weak order (false for equal elements); it is evaluated many times,
 * so it must have no side effects.  The same LESS serves a min-heap (the
 * default: the top is the least element) and a max-heap (GV_HEAP_MAX: the
 * top is the greatest), so that, for example, HNSW's candidate min-heap and
 * result max-heap share one definition of "nearer".  Where equal distances
 * must come out in a fixed order, break ties in LESS (distance, then heap
 * TID).  Every macro is #undef'd at the end, so the header can be included
 * again for another heap.
 *
 * Optional:
 *	GV_HEAP_SCOPE		scope of the functions; default "static inline"
 *	GV_HEAP_DECLARE		emit only the struct and the prototypes (for a
 *						header, with GV_HEAP_SCOPE extern) ...
 *	GV_HEAP_DEFINE		... and the bodies (in one .c file); neither given:
 *						both, which is what "static inline" wants
 *
 * Generated, with P the prefix (cand_heap, cand_init, ...):
 *
 *	typedef struct P_heap { ELEMENT *items; int count; int capacity; bool owned; } P_heap;
 *
 *	void	P_init(P_heap *h, ELEMENT *items, int capacity)
 *				an empty heap over the caller's array; it never grows (a
 *				push beyond capacity is an error that cannot happen in
 *				correct code: elog(ERROR))
 *	void	P_init_alloc(P_heap *h, int capacity)
 *				an empty heap over an array palloc'd here, in
 *				CurrentMemoryContext (at least 16 elements), that doubles
 *				when full (repalloc_huge: it may pass 1 GB)
 *	void	P_attach(P_heap *h, ELEMENT *items, int count, int capacity)
 *				the caller's array whose first count elements already are
 *				a heap (one kept between calls, e.g. in an arena)
 *	void	P_heapify(P_heap *h)
 *				make items[0, count) a heap, whatever their order: O(count),
 *				for an array filled by the caller and then attached
 *	void	P_reset(P_heap *h)		empty it (keeps the storage)
 *	void	P_free(P_heap *h)		pfree storage P_init_alloc made
 *	int		P_size(const P_heap *h)
 *	bool	P_empty(const P_heap *h)
 *	ELEMENT *P_top(P_heap *h)		the top; the heap must not be empty
 *	void	P_push(P_heap *h, const ELEMENT *e)
 *	ELEMENT P_pop(P_heap *h)		remove and return the top
 *	void	P_replace_top(P_heap *h, const ELEMENT *e)
 *				pop and push in one sift (a bounded heap's usual step)
 *	int		P_offer(P_heap *h, const ELEMENT *e, int k, ELEMENT *evicted)
 *				keep the k elements farthest from the top: with
 *				GV_HEAP_MAX the k least, else the k greatest.  Returns
 *				GV_HEAP_REJECTED (0: e is not among them, or k <= 0),
 *				GV_HEAP_ADDED (there was room) or GV_HEAP_REPLACED (the
 *				old top was pushed out; copied to *evicted if not NULL).
 *				An element equal to the top is rejected: first come, first
 *				kept.
 *	int		P_sort(P_heap *h)
 *				sort items[0, count) ascending by LESS (for either kind of
 *				heap) in place; the heap is then empty, the sorted elements
 *				stay in items.  Returns how many there are.
 *
 * The struct's fields may be read directly: items[0, count) in no order
 * (to copy a result out, or scan it) and items[0] is the top.
 *
 * Inner loops touch only the array: no allocation except when a growable
 * heap is full (out of line, doubling), no function call.  Elements move by
 * struct assignment, so keep them small (a distance and a TID or an
 * element number); point at anything bigger.
 *
 * Without PostgreSQL's headers (the unit test in test/kernels), storage
 * comes from malloc and realloc, a full fixed heap aborts, and assertions
 * are <assert.h>'s.
 *
 * src/gvheap.h
 *
 *-------------------------------------------------------------------------
 */

/* Once per translation unit: what every heap shares. */
#ifndef GVHEAP_H_COMMON
#define GVHEAP_H_COMMON

#define GV_HEAP_REJECTED	0
#define GV_HEAP_ADDED		1
#define GV_HEAP_REPLACED	2

#define GVH_CONCAT_(a, b)	a##_##b
#define GVH_CONCAT(a, b)	GVH_CONCAT_(a, b)

#ifdef PG_VERSION_NUM
#define GVH_ALLOC(size)			palloc_extended((size), MCXT_ALLOC_HUGE)
#define GVH_REALLOC(p, size)	repalloc_huge((p), (size))
#define GVH_FREE(p)				pfree(p)
#define GVH_ASSERT(cond)		Assert(cond)
#define GVH_NOINLINE			pg_noinline pg_attribute_unused()
#define GVH_UNLIKELY(cond)		unlikely(cond)
#define GVH_FULL(capacity) \
	elog(ERROR, "push on a full heap of %d elements", (capacity))
#else
#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#define GVH_ALLOC(size)			GvhAllocOrAbort(NULL, (size))
#define GVH_REALLOC(p, size)	GvhAllocOrAbort((p), (size))
#define GVH_FREE(p)				GvhFree(p)
#define GVH_ASSERT(cond)		assert(cond)
#define GVH_NOINLINE			__attribute__((noinline, unused))
#define GVH_UNLIKELY(cond)		__builtin_expect((cond) != 0, 0)
#define GVH_FULL(capacity)		abort()

/* realloc that never returns NULL (the standalone build's palloc) */
static inline void *
GvhAllocOrAbort(void *p, size_t size)
{
	void	   *q = realloc(p, size);

	if (q == NULL)
		abort();
	return q;
}

/*
 * free, out of line: inlined, GCC's -Wfree-nonheap-object cannot tell that
 * a heap over the caller's array never reaches it.
 */
static GVH_NOINLINE void
GvhFree(void *p)
{
	free(p);
}
#endif

#endif							/* GVHEAP_H_COMMON */

#ifndef GV_HEAP_PREFIX
#error "define GV_HEAP_PREFIX before including gvheap.h"
#endif
#ifndef GV_HEAP_ELEMENT
#error "define GV_HEAP_ELEMENT before including gvheap.h"
#endif
#ifndef GV_HEAP_LESS
#error "define GV_HEAP_LESS(a, b) before including gvheap.h"
#endif

#ifndef GV_HEAP_SCOPE
#define GV_HEAP_SCOPE static inline
#endif
#if !defined(GV_HEAP_DECLARE) && !defined(GV_HEAP_DEFINE)
#define GV_HEAP_DECLARE
#define GV_HEAP_DEFINE
#endif

#define GVH_NAME(name)	GVH_CONCAT(GV_HEAP_PREFIX, name)
#define GVH_TYPE		GVH_NAME(heap)
#define GVH_INIT		GVH_NAME(init)
#define GVH_INIT_ALLOC	GVH_NAME(init_alloc)
#define GVH_ATTACH		GVH_NAME(attach)
#define GVH_HEAPIFY		GVH_NAME(heapify)
#define GVH_RESET		GVH_NAME(reset)
#define GVH_FREE_HEAP	GVH_NAME(free)
#define GVH_SIZE		GVH_NAME(size)
#define GVH_EMPTY		GVH_NAME(empty)
#define GVH_TOP			GVH_NAME(top)
#define GVH_PUSH		GVH_NAME(push)
#define GVH_POP			GVH_NAME(pop)
#define GVH_REPLACE_TOP	GVH_NAME(replace_top)
#define GVH_OFFER		GVH_NAME(offer)
#define GVH_SORT		GVH_NAME(sort)
#define GVH_GROW		GVH_NAME(grow_)
#define GVH_SIFT_DOWN	GVH_NAME(sift_down_)

/*
 * GVH_ABOVE(a, b): a belongs nearer the top than b.  A min-heap's top is
 * its least element, a max-heap's its greatest.
 */
#ifdef GV_HEAP_MAX
#define GVH_ABOVE(a, b)	GV_HEAP_LESS((b), (a))
#else
#define GVH_ABOVE(a, b)	GV_HEAP_LESS((a), (b))
#endif

#ifdef GV_HEAP_DECLARE

typedef struct GVH_TYPE
{
	GV_HEAP_ELEMENT *items;		/* items[0] is the top */
	int			count;
	int			capacity;
	bool		owned;			/* items allocated here: may grow, is freed */
} GVH_TYPE;

GV_HEAP_SCOPE void GVH_INIT(GVH_TYPE *h, GV_HEAP_ELEMENT *items, int capacity);
GV_HEAP_SCOPE void GVH_INIT_ALLOC(GVH_TYPE *h, int capacity);
GV_HEAP_SCOPE void GVH_ATTACH(GVH_TYPE *h, GV_HEAP_ELEMENT *items, int count,
							  int capacity);
GV_HEAP_SCOPE void GVH_HEAPIFY(GVH_TYPE *h);
GV_HEAP_SCOPE void GVH_RESET(GVH_TYPE *h);
GV_HEAP_SCOPE void GVH_FREE_HEAP(GVH_TYPE *h);
GV_HEAP_SCOPE int GVH_SIZE(const GVH_TYPE *h);
GV_HEAP_SCOPE bool GVH_EMPTY(const GVH_TYPE *h);
GV_HEAP_SCOPE GV_HEAP_ELEMENT *GVH_TOP(GVH_TYPE *h);
GV_HEAP_SCOPE void GVH_PUSH(GVH_TYPE *h, const GV_HEAP_ELEMENT *e);
GV_HEAP_SCOPE GV_HEAP_ELEMENT GVH_POP(GVH_TYPE *h);
GV_HEAP_SCOPE void GVH_REPLACE_TOP(GVH_TYPE *h, const GV_HEAP_ELEMENT *e);
GV_HEAP_SCOPE int GVH_OFFER(GVH_TYPE *h, const GV_HEAP_ELEMENT *e, int k,
							GV_HEAP_ELEMENT *evicted);
GV_HEAP_SCOPE int GVH_SORT(GVH_TYPE *h);

#endif							/* GV_HEAP_DECLARE */

#ifdef GV_HEAP_DEFINE

/*
 * Make room for one more element: double a heap we own, refuse to overrun
 * the caller's array.  Out of line, so that a push stays small.
 */
static GVH_NOINLINE void
GVH_GROW(GVH_TYPE *h)
{
	int			capacity;

	if (!h->owned || h->capacity > (1 << 30))
		GVH_FULL(h->capacity);
	capacity = h->capacity > 0 ? 2 * h->capacity : 16;
	h->items = (GV_HEAP_ELEMENT *)
		GVH_REALLOC(h->items, sizeof(GV_HEAP_ELEMENT) * (size_t) capacity);
	h->capacity = capacity;
}

/*
 * Put x at slot i, or below it: move the hole at i down past every child
 * that belongs above x, among the first n elements.
 */
static inline void
GVH_SIFT_DOWN(GV_HEAP_ELEMENT *items, int n, int i, const GV_HEAP_ELEMENT *x)
{
	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= n)
			break;
		if (child + 1 < n && GVH_ABOVE(&items[child + 1], &items[child]))
			child++;
		if (!GVH_ABOVE(&items[child], x))
			break;
		items[i] = items[child];
		i = child;
	}
	items[i] = *x;
}

/* An empty heap over the caller's array of capacity elements. */
GV_HEAP_SCOPE void
GVH_INIT(GVH_TYPE *h, GV_HEAP_ELEMENT *items, int capacity)
{
	GVH_ASSERT(capacity >= 0);
	h->items = items;
	h->count = 0;
	h->capacity = capacity;
	h->owned = false;
}

/* An empty heap whose storage is allocated here and grows as needed. */
GV_HEAP_SCOPE void
GVH_INIT_ALLOC(GVH_TYPE *h, int capacity)
{
	if (capacity < 16)
		capacity = 16;
	h->items = (GV_HEAP_ELEMENT *) GVH_ALLOC(sizeof(GV_HEAP_ELEMENT) * (size_t) capacity);
	h->count = 0;
	h->capacity = capacity;
	h->owned = true;
}

/* The caller's array, whose first count elements already form a heap. */
GV_HEAP_SCOPE void
GVH_ATTACH(GVH_TYPE *h, GV_HEAP_ELEMENT *items, int count, int capacity)
{
	GVH_ASSERT(count >= 0 && count <= capacity);
	h->items = items;
	h->count = count;
	h->capacity = capacity;
	h->owned = false;
}

/* Restore the heap order over items[0, count) (Floyd: sift each parent down). */
GV_HEAP_SCOPE void
GVH_HEAPIFY(GVH_TYPE *h)
{
	for (int i = h->count / 2 - 1; i >= 0; i--)
	{
		GV_HEAP_ELEMENT x = h->items[i];

		GVH_SIFT_DOWN(h->items, h->count, i, &x);
	}
}

/* Empty the heap, keeping its storage. */
GV_HEAP_SCOPE void
GVH_RESET(GVH_TYPE *h)
{
	h->count = 0;
}

/* Free storage the heap allocated itself (a caller's array is left alone). */
GV_HEAP_SCOPE void
GVH_FREE_HEAP(GVH_TYPE *h)
{
	if (h->owned && h->items != NULL)
		GVH_FREE(h->items);
	h->items = NULL;
	h->count = h->capacity = 0;
	h->owned = false;
}

/* How many elements the heap holds. */
GV_HEAP_SCOPE int
GVH_SIZE(const GVH_TYPE *h)
{
	return h->count;
}

/* Whether the heap holds nothing. */
GV_HEAP_SCOPE bool
GVH_EMPTY(const GVH_TYPE *h)
{
	return h->count == 0;
}

/* The top element, left in place. */
GV_HEAP_SCOPE GV_HEAP_ELEMENT *
GVH_TOP(GVH_TYPE *h)
{
	GVH_ASSERT(h->count > 0);
	return &h->items[0];
}

/*
 * Add *e: move the hole at the end up past every parent that e belongs
 * above (an equal parent stays above), then fill it.  e is copied first,
 * so it may point into the heap's own array.
 */
GV_HEAP_SCOPE void
GVH_PUSH(GVH_TYPE *h, const GV_HEAP_ELEMENT *e)
{
	GV_HEAP_ELEMENT x = *e;
	GV_HEAP_ELEMENT *items;
	int			i;

	if (GVH_UNLIKELY(h->count == h->capacity))
		GVH_GROW(h);
	items = h->items;
	i = h->count++;
	while (i > 0)
	{
		int			parent = (i - 1) / 2;

		if (!GVH_ABOVE(&x, &items[parent]))
			break;
		items[i] = items[parent];
		i = parent;
	}
	items[i] = x;
}

/* Remove the top and return it: the last element refills the hole. */
GV_HEAP_SCOPE GV_HEAP_ELEMENT
GVH_POP(GVH_TYPE *h)
{
	GV_HEAP_ELEMENT top;

	GVH_ASSERT(h->count > 0);
	top = h->items[0];
	if (--h->count > 0)
	{
		GV_HEAP_ELEMENT last = h->items[h->count];

		GVH_SIFT_DOWN(h->items, h->count, 0, &last);
	}
	return top;
}

/* Replace the top by *e (one sift down instead of a pop and a push). */
GV_HEAP_SCOPE void
GVH_REPLACE_TOP(GVH_TYPE *h, const GV_HEAP_ELEMENT *e)
{
	GV_HEAP_ELEMENT x = *e;

	GVH_ASSERT(h->count > 0);
	GVH_SIFT_DOWN(h->items, h->count, 0, &x);
}

/*
 * Keep the k best, "best" being the end of the order away from the top: a
 * max-heap bounded at k keeps the k least elements offered to it.
 */
GV_HEAP_SCOPE int
GVH_OFFER(GVH_TYPE *h, const GV_HEAP_ELEMENT *e, int k, GV_HEAP_ELEMENT *evicted)
{
	if (h->count < k)
	{
		GVH_PUSH(h, e);
		return GV_HEAP_ADDED;
	}
	if (k <= 0 || !GVH_ABOVE(&h->items[0], e))
		return GV_HEAP_REJECTED;
	if (evicted != NULL)
		*evicted = h->items[0];
	GVH_REPLACE_TOP(h, e);
	return GV_HEAP_REPLACED;
}

/*
 * Heapsort in place: move the top behind the shrinking heap, one element at
 * a time.  That leaves a max-heap's elements ascending and a min-heap's
 * descending; the latter are then reversed, so the result is ascending by
 * LESS either way.
 */
GV_HEAP_SCOPE int
GVH_SORT(GVH_TYPE *h)
{
	GV_HEAP_ELEMENT *items = h->items;
	int			n = h->count;

	for (int end = n - 1; end > 0; end--)
	{
		GV_HEAP_ELEMENT x = items[end];

		items[end] = items[0];
		GVH_SIFT_DOWN(items, end, 0, &x);
	}
#ifndef GV_HEAP_MAX
	for (int i = 0, j = n - 1; i < j; i++, j--)
	{
		GV_HEAP_ELEMENT t = items[i];

		items[i] = items[j];
		items[j] = t;
	}
#endif
	h->count = 0;
	return n;
}

#endif							/* GV_HEAP_DEFINE */

#undef GV_HEAP_PREFIX
#undef GV_HEAP_ELEMENT
#undef GV_HEAP_LESS
#undef GV_HEAP_MAX
#undef GV_HEAP_SCOPE
#undef GV_HEAP_DECLARE
#undef GV_HEAP_DEFINE
#undef GVH_NAME
#undef GVH_TYPE
#undef GVH_INIT
#undef GVH_INIT_ALLOC
#undef GVH_ATTACH
#undef GVH_HEAPIFY
#undef GVH_RESET
#undef GVH_FREE_HEAP
#undef GVH_SIZE
#undef GVH_EMPTY
#undef GVH_TOP
#undef GVH_PUSH
#undef GVH_POP
#undef GVH_REPLACE_TOP
#undef GVH_OFFER
#undef GVH_SORT
#undef GVH_GROW
#undef GVH_SIFT_DOWN
#undef GVH_ABOVE
