/*-------------------------------------------------------------------------
 *
 * gvselect.h
 *	  Selection and sorting of an array, generated for one element type and
 *	  one order: the k smallest, the element of rank i, a partial sort of
 *	  the first k, a full sort.
 *
 * An index scan that has gathered n candidates usually needs only the
 * nearest k of them, in order (HNSW's listed path hands out 256 at a time
 * from thousands, IVFPQ re-ranks the best of a pool), and a k-d tree build
 * cuts its points at the median of one dimension.  Sorting everything
 * costs O(n log n); quickselect finds the k smallest in O(n) on average
 * and only those are then sorted.  Like gvheap.h beside it, and in the
 * spirit of PostgreSQL's lib/sort_template.h, this is a template: the order
 * is an expression inlined into every comparison instead of a qsort
 * comparator called through a pointer.
 *
 * Usage:
 *
 *	#define GV_SELECT_PREFIX		cand
 *	#define GV_SELECT_ELEMENT		GvHnswCandidate
 *	#define GV_SELECT_LESS(a, b)	CandidateLess((a), (b))
 *	#include "gvselect.h"
 *
 * GV_SELECT_LESS(a, b) gets two "const GV_SELECT_ELEMENT *" and must be a
 * strict weak order without side effects.  Instead of LESS, an includer
 * whose order is one scalar key may define
 *
 *	#define GV_SELECT_KEY_TYPE		float
 *	#define GV_SELECT_KEY(a)		(PointX(arg->bs, *(a))[arg->dim])
 *
 * and the order is then KEY(a) < KEY(b); the pivot of each partition pass
 * is then kept as a key, computed once, rather than as an element whose key
 * every comparison would compute again (a key read through an index array
 * cannot be hoisted by the compiler: PostgreSQL builds without strict
 * aliasing).
 *
 * Optional:
 *	GV_SELECT_ARG_TYPE	every function takes a last "GV_SELECT_ARG_TYPE *arg",
 *						which LESS or KEY may use
 *	GV_SELECT_CHECK()	a statement run once per partition pass over a
 *						range, e.g. CHECK_FOR_INTERRUPTS() for large arrays
 *	GV_SELECT_SCOPE		default "static inline"
 *	GV_SELECT_DECLARE, GV_SELECT_DEFINE	as in gvheap.h
 *
 * Generated, with P the prefix (sizes are int64; [, arg] when
 * GV_SELECT_ARG_TYPE is defined):
 *
 *	void P_nth(ELEMENT *a, int64 n, int64 i [, arg])
 *		reorder a[0, n) so that a[i] is the element a sort would put there,
 *		with nothing greater before it and nothing less after it
 *		(nothing is done unless 0 <= i < n)
 *	void P_select(ELEMENT *a, int64 n, int64 k [, arg])
 *		reorder a[0, n) so that its k smallest come first, in no particular
 *		order (nothing to do for k <= 0 or k >= n)
 *	void P_sort(ELEMENT *a, int64 n [, arg])
 *		sort a[0, n) ascending (not stable)
 *	void P_partial_sort(ELEMENT *a, int64 n, int64 k [, arg])
 *		the k smallest first, ascending; the rest after them in no order
 *
 * The algorithms: partitioning is Hoare's, around the median of the first,
 * middle and last elements (which keeps sorted and reversed input linear,
 * and splits runs of equal elements evenly); ranges of at most 16 elements
 * are sorted by insertion.  Quicksort recurses into the smaller part and
 * loops on the larger, so the stack stays O(log n).  Both count their
 * partition passes and, past 2 log2(n) + 8 of them, finish the range with
 * a heapsort, so no input, however unlucky, costs more than O(n log n)
 * (introsort, introselect).  No allocation, no function pointer.
 *
 * P_nth's partition loop is the one gv_kdtree's build used (median of
 * three, Hoare, the same boundaries), so an array comes out in the same
 * order as it did there.  Without PostgreSQL's headers (the unit test),
 * int64 is <stdint.h>'s int64_t.
 *
 * src/gvselect.h
 *
 *-------------------------------------------------------------------------
 */

/* Once per translation unit: what every instance shares. */
#ifndef GVSELECT_H_COMMON
#define GVSELECT_H_COMMON

#ifdef PG_VERSION_NUM
#define GVS_INT64	int64
#else
#include <stdint.h>
#define GVS_INT64	int64_t
#endif

#define GVS_CONCAT_(a, b)	a##_##b
#define GVS_CONCAT(a, b)	GVS_CONCAT_(a, b)

/* ranges this short are insertion-sorted */
#define GVS_SMALL	16

/* how many partition passes a range of n elements may take: 2 log2(n) + 8 */
static inline int
GvsDepthLimit(GVS_INT64 n)
{
	int			depth = 8;

	while (n > 1)
	{
		depth += 2;
		n >>= 1;
	}
	return depth;
}

#endif							/* GVSELECT_H_COMMON */

#ifndef GV_SELECT_PREFIX
#error "define GV_SELECT_PREFIX before including gvselect.h"
#endif
#ifndef GV_SELECT_ELEMENT
#error "define GV_SELECT_ELEMENT before including gvselect.h"
#endif
#if defined(GV_SELECT_LESS) == defined(GV_SELECT_KEY)
#error "define one of GV_SELECT_LESS(a, b) and GV_SELECT_KEY(a) before including gvselect.h"
#endif
#if defined(GV_SELECT_KEY) && !defined(GV_SELECT_KEY_TYPE)
#error "GV_SELECT_KEY needs GV_SELECT_KEY_TYPE"
#endif

#ifndef GV_SELECT_SCOPE
#define GV_SELECT_SCOPE static inline
#endif
#if !defined(GV_SELECT_DECLARE) && !defined(GV_SELECT_DEFINE)
#define GV_SELECT_DECLARE
#define GV_SELECT_DEFINE
#endif
#ifndef GV_SELECT_CHECK
#define GV_SELECT_CHECK()	((void) 0)
#endif

#define GVS_NAME(name)		GVS_CONCAT(GV_SELECT_PREFIX, name)
#define GVS_NTH				GVS_NAME(nth)
#define GVS_SELECT			GVS_NAME(select)
#define GVS_SORT			GVS_NAME(sort)
#define GVS_PARTIAL_SORT	GVS_NAME(partial_sort)
#define GVS_INSERTION		GVS_NAME(insertion_)
#define GVS_HEAPSORT		GVS_NAME(heapsort_)
#define GVS_SIFT			GVS_NAME(sift_)
#define GVS_MEDIAN3			GVS_NAME(median3_)
#define GVS_SORT_DEPTH		GVS_NAME(sort_depth_)

#ifdef GV_SELECT_ARG_TYPE
#define GVS_PROTO_ARG		, GV_SELECT_ARG_TYPE *arg
#define GVS_PASS_ARG		, arg
#define GVS_UNUSED_ARG		((void) arg)
#else
#define GVS_PROTO_ARG
#define GVS_PASS_ARG
#define GVS_UNUSED_ARG		((void) 0)
#endif

/*
 * The order, and the pivot: an element (LESS) or a key (KEY).  GVS_LT
 * compares two elements, GVS_LT_PIVOT an element with the pivot and
 * GVS_PIVOT_LT the pivot with an element.
 */
#ifdef GV_SELECT_KEY
#define GVS_PIVOT_TYPE			GV_SELECT_KEY_TYPE
#define GVS_PIVOT_OF(pa)		(GV_SELECT_KEY(pa))
#define GVS_LT(pa, pb)			(GV_SELECT_KEY(pa) < GV_SELECT_KEY(pb))
#define GVS_LT_PIVOT(pa, pv)	(GV_SELECT_KEY(pa) < (pv))
#define GVS_PIVOT_LT(pv, pa)	((pv) < GV_SELECT_KEY(pa))
#else
#define GVS_PIVOT_TYPE			GV_SELECT_ELEMENT
#define GVS_PIVOT_OF(pa)		(*(pa))
#define GVS_LT(pa, pb)			GV_SELECT_LESS((pa), (pb))
#define GVS_LT_PIVOT(pa, pv)	GV_SELECT_LESS((pa), &(pv))
#define GVS_PIVOT_LT(pv, pa)	GV_SELECT_LESS(&(pv), (pa))
#endif

#ifdef GV_SELECT_DECLARE

GV_SELECT_SCOPE void GVS_NTH(GV_SELECT_ELEMENT *a, GVS_INT64 n, GVS_INT64 i GVS_PROTO_ARG);
GV_SELECT_SCOPE void GVS_SELECT(GV_SELECT_ELEMENT *a, GVS_INT64 n, GVS_INT64 k GVS_PROTO_ARG);
GV_SELECT_SCOPE void GVS_SORT(GV_SELECT_ELEMENT *a, GVS_INT64 n GVS_PROTO_ARG);
GV_SELECT_SCOPE void GVS_PARTIAL_SORT(GV_SELECT_ELEMENT *a, GVS_INT64 n, GVS_INT64 k GVS_PROTO_ARG);

#endif							/* GV_SELECT_DECLARE */

#ifdef GV_SELECT_DEFINE

/* Sort a[0, n) by insertion (for short ranges). */
static inline void
GVS_INSERTION(GV_SELECT_ELEMENT *a, GVS_INT64 n GVS_PROTO_ARG)
{
	GVS_UNUSED_ARG;
	for (GVS_INT64 i = 1; i < n; i++)
	{
		GV_SELECT_ELEMENT x = a[i];
		GVS_INT64	j = i;

		while (j > 0 && GVS_LT(&x, &a[j - 1]))
		{
			a[j] = a[j - 1];
			j--;
		}
		a[j] = x;
	}
}

/* Sift x down from slot i of the max-heap a[0, n) (for the heapsort). */
static inline void
GVS_SIFT(GV_SELECT_ELEMENT *a, GVS_INT64 n, GVS_INT64 i,
		 const GV_SELECT_ELEMENT *x GVS_PROTO_ARG)
{
	GVS_UNUSED_ARG;
	for (;;)
	{
		GVS_INT64	child = 2 * i + 1;

		if (child >= n)
			break;
		if (child + 1 < n && GVS_LT(&a[child], &a[child + 1]))
			child++;
		if (!GVS_LT(x, &a[child]))
			break;
		a[i] = a[child];
		i = child;
	}
	a[i] = *x;
}

/* Sort a[0, n) by heapsort: the fallback that bounds the worst case. */
static inline void
GVS_HEAPSORT(GV_SELECT_ELEMENT *a, GVS_INT64 n GVS_PROTO_ARG)
{
	for (GVS_INT64 i = n / 2 - 1; i >= 0; i--)
	{
		GV_SELECT_ELEMENT x = a[i];

		GVS_SIFT(a, n, i, &x GVS_PASS_ARG);
	}
	for (GVS_INT64 end = n - 1; end > 0; end--)
	{
		GV_SELECT_ELEMENT x = a[end];

		a[end] = a[0];
		GVS_SIFT(a, end, 0, &x GVS_PASS_ARG);
	}
}

/* The pivot of a[lo, hi): the median of its first, middle and last elements. */
static inline GVS_PIVOT_TYPE
GVS_MEDIAN3(GV_SELECT_ELEMENT *a, GVS_INT64 lo, GVS_INT64 hi GVS_PROTO_ARG)
{
	GV_SELECT_ELEMENT *x = &a[lo];
	GV_SELECT_ELEMENT *y = &a[lo + (hi - lo) / 2];
	GV_SELECT_ELEMENT *z = &a[hi - 1];
	GV_SELECT_ELEMENT *m;

	GVS_UNUSED_ARG;
	if (GVS_LT(x, y))
		m = GVS_LT(y, z) ? y : (GVS_LT(x, z) ? z : x);
	else
		m = GVS_LT(x, z) ? x : (GVS_LT(y, z) ? z : y);
	return GVS_PIVOT_OF(m);
}

/*
 * One Hoare partition pass over a[lo, hi) around the pivot, as a macro so
 * that nth and sort share it: afterwards a[lo, j] <= pivot <= a[i, hi) and
 * everything strictly between j and i equals the pivot.  The scans need no
 * bounds checks: each stops at the pivot's own value, or at an element a
 * previous swap put behind it.
 */
#define GVS_PARTITION(a, lo, hi, i, j) \
	do { \
		GVS_PIVOT_TYPE pivot_ = GVS_MEDIAN3((a), (lo), (hi) GVS_PASS_ARG); \
		(i) = (lo); \
		(j) = (hi) - 1; \
		while ((i) <= (j)) \
		{ \
			while (GVS_LT_PIVOT(&(a)[i], pivot_)) \
				(i)++; \
			while (GVS_PIVOT_LT(pivot_, &(a)[j])) \
				(j)--; \
			if ((i) <= (j)) \
			{ \
				GV_SELECT_ELEMENT t_ = (a)[i]; \
				(a)[i] = (a)[j]; \
				(a)[j] = t_; \
				(i)++; \
				(j)--; \
			} \
		} \
	} while (0)

/* Put the element of rank i at a[i], smaller ones before, larger after. */
GV_SELECT_SCOPE void
GVS_NTH(GV_SELECT_ELEMENT *a, GVS_INT64 n, GVS_INT64 i GVS_PROTO_ARG)
{
	GVS_INT64	lo = 0;
	GVS_INT64	hi = n;
	int			depth = GvsDepthLimit(n);

	if (i < 0 || i >= n)
		return;
	while (hi - lo > 1)
	{
		GVS_INT64	l;
		GVS_INT64	r;

		GV_SELECT_CHECK();
		if (--depth < 0)
		{
			GVS_HEAPSORT(a + lo, hi - lo GVS_PASS_ARG);
			return;
		}
		GVS_PARTITION(a, lo, hi, l, r);
		if (i <= r)
			hi = r + 1;
		else if (i >= l)
			lo = l;
		else
			return;				/* a[i] equals the pivot: in place */
	}
}

/* The k smallest first, in no order. */
GV_SELECT_SCOPE void
GVS_SELECT(GV_SELECT_ELEMENT *a, GVS_INT64 n, GVS_INT64 k GVS_PROTO_ARG)
{
	if (k > 0 && k < n)
		GVS_NTH(a, n, k - 1 GVS_PASS_ARG);
}

/*
 * Sort a[0, n) with at most depth partition passes on any path from here
 * (introsort): recurse into the smaller part, loop on the larger.
 */
static inline void
GVS_SORT_DEPTH(GV_SELECT_ELEMENT *a, GVS_INT64 n, int depth GVS_PROTO_ARG)
{
	while (n > GVS_SMALL)
	{
		GVS_INT64	l;
		GVS_INT64	r;

		GV_SELECT_CHECK();
		if (--depth < 0)
		{
			GVS_HEAPSORT(a, n GVS_PASS_ARG);
			return;
		}
		GVS_PARTITION(a, 0, n, l, r);
		/* a[0, r] and a[l, n) are left */
		if (r + 1 < n - l)
		{
			GVS_SORT_DEPTH(a, r + 1, depth GVS_PASS_ARG);
			a += l;
			n -= l;
		}
		else
		{
			GVS_SORT_DEPTH(a + l, n - l, depth GVS_PASS_ARG);
			n = r + 1;
		}
	}
	GVS_INSERTION(a, n GVS_PASS_ARG);
}

/* Sort a[0, n). */
GV_SELECT_SCOPE void
GVS_SORT(GV_SELECT_ELEMENT *a, GVS_INT64 n GVS_PROTO_ARG)
{
	GVS_SORT_DEPTH(a, n, GvsDepthLimit(n) GVS_PASS_ARG);
}

/* The k smallest first, ascending. */
GV_SELECT_SCOPE void
GVS_PARTIAL_SORT(GV_SELECT_ELEMENT *a, GVS_INT64 n, GVS_INT64 k GVS_PROTO_ARG)
{
	if (k <= 0)
		return;
	if (k > n)
		k = n;
	GVS_SELECT(a, n, k GVS_PASS_ARG);
	GVS_SORT(a, k GVS_PASS_ARG);
}

#undef GVS_PARTITION

#endif							/* GV_SELECT_DEFINE */

#undef GV_SELECT_PREFIX
#undef GV_SELECT_ELEMENT
#undef GV_SELECT_LESS
#undef GV_SELECT_KEY
#undef GV_SELECT_KEY_TYPE
#undef GV_SELECT_ARG_TYPE
#undef GV_SELECT_CHECK
#undef GV_SELECT_SCOPE
#undef GV_SELECT_DECLARE
#undef GV_SELECT_DEFINE
#undef GVS_NAME
#undef GVS_NTH
#undef GVS_SELECT
#undef GVS_SORT
#undef GVS_PARTIAL_SORT
#undef GVS_INSERTION
#undef GVS_HEAPSORT
#undef GVS_SIFT
#undef GVS_MEDIAN3
#undef GVS_SORT_DEPTH
#undef GVS_PROTO_ARG
#undef GVS_PASS_ARG
#undef GVS_UNUSED_ARG
#undef GVS_PIVOT_TYPE
#undef GVS_PIVOT_OF
#undef GVS_LT
#undef GVS_LT_PIVOT
#undef GVS_PIVOT_LT
