/*
 * kit_cases.h
 *	  The checks of test_kit.c for one element type, included once per type
 *	  (a template, like the headers under test).  The includer defines
 *
 *	  KIT_T				the element type
 *	  KIT_NAME			a suffix for the names made here
 *	  KIT_LESS(a, b)	the order, on pointers
 *	  KIT_MAKE(v, id)	an element from a double value and a unique id
 *	  KIT_SAME(a, b)	whether two elements are the same one: id and value
 *						for types that carry an id, equal values otherwise
 *
 * and gets KitCasesNAME(void), which runs every check on every data shape
 * and size and prints one TAP line per kind of check.  Every result is
 * compared with qsort's (under the same order) of the same input.
 */
#define KIT_CAT_(a, b)	a##b
#define KIT_CAT(a, b)	KIT_CAT_(a, b)
#define KIT_FN(name)	KIT_CAT(name, KIT_NAME)

#define GV_HEAP_PREFIX	KIT_CAT(minh_, KIT_NAME)
#define GV_HEAP_ELEMENT KIT_T
#define GV_HEAP_LESS(a, b) KIT_LESS(a, b)
#include "gvheap.h"

#define GV_HEAP_PREFIX	KIT_CAT(maxh_, KIT_NAME)
#define GV_HEAP_ELEMENT KIT_T
#define GV_HEAP_LESS(a, b) KIT_LESS(a, b)
#define GV_HEAP_MAX
#include "gvheap.h"

#define GV_SELECT_PREFIX KIT_CAT(sel_, KIT_NAME)
#define GV_SELECT_ELEMENT KIT_T
#define GV_SELECT_LESS(a, b) KIT_LESS(a, b)
#include "gvselect.h"

#define MINH(name)	KIT_CAT(KIT_CAT(minh_, KIT_NAME), _##name)
#define MAXH(name)	KIT_CAT(KIT_CAT(maxh_, KIT_NAME), _##name)
#define SEL(name)	KIT_CAT(KIT_CAT(sel_, KIT_NAME), _##name)

/* qsort's comparator for the same order */
static int
KIT_FN(Compare) (const void *a, const void *b)
{
	const		KIT_T *x = a;
	const		KIT_T *y = b;

	return KIT_LESS(x, y) ? -1 : KIT_LESS(y, x) ? 1 : 0;
}

/* n elements of the given shape, ids 0..n-1 */
static void
KIT_FN(Fill) (KIT_T * a, int n, Shape shape)
{
	for (int i = 0; i < n; i++)
		a[i] = KIT_MAKE(ShapeValue(shape, i, n), i);
}

/* a[0, n) and b[0, n) are the same elements in the same order */
static bool
KIT_FN(Same) (const KIT_T * a, const KIT_T * b, int n)
{
	for (int i = 0; i < n; i++)
		if (!KIT_SAME(&a[i], &b[i]))
			return false;
	return true;
}

/* a[0, n) holds the same elements as the sorted ref[0, n), in any order */
static bool
KIT_FN(SameSet) (const KIT_T * a, const KIT_T * ref, int n)
{
	KIT_T	   *c = malloc(sizeof(KIT_T) * (n + 1));
	bool		ok;

	memcpy(c, a, sizeof(KIT_T) * n);
	qsort(c, n, sizeof(KIT_T), KIT_FN(Compare));
	ok = KIT_FN(Same) (c, ref, n);
	free(c);
	return ok;
}

/* The per-kind verdicts, all shapes and sizes together. */
typedef struct KIT_FN(Verdicts)
{
	bool		pushPop;
	bool		heapify;
	bool		sort;
	bool		offer;
	bool		random;
	bool		select;
	bool		nth;
	bool		partial;
	bool		fullSort;
} KIT_FN(Verdicts);

/*
 * Push everything and pop everything, from a min-heap and a max-heap; and
 * the same after attaching the unsorted array and heapifying it.
 */
static void
KIT_FN(CheckPushPop) (const KIT_T * in, const KIT_T * ref, int n,
					  KIT_FN(Verdicts) * v)
{
	MINH(heap) mn;
	MAXH(heap) mx;
	KIT_T	   *out = malloc(sizeof(KIT_T) * (n + 1));
	KIT_T	   *arr = malloc(sizeof(KIT_T) * (n + 1));

	MINH(init_alloc) (&mn, 1);
	MAXH(init_alloc) (&mx, 1);
	for (int i = 0; i < n; i++)
	{
		MINH(push) (&mn, &in[i]);
		MAXH(push) (&mx, &in[i]);
	}
	v->pushPop &= MINH(size) (&mn) == n && MAXH(size) (&mx) == n;
	for (int i = 0; i < n; i++)
		out[i] = MINH(pop) (&mn);
	v->pushPop &= KIT_FN(Same) (out, ref, n) && MINH(empty) (&mn);
	for (int i = 0; i < n; i++)
		out[n - 1 - i] = MAXH(pop) (&mx);
	v->pushPop &= KIT_FN(Same) (out, ref, n) && MAXH(empty) (&mx);

	/* heapify an unordered array, for either kind */
	memcpy(arr, in, sizeof(KIT_T) * n);
	MINH(free) (&mn);
	MINH(attach) (&mn, arr, n, n);
	MINH(heapify) (&mn);
	for (int i = 0; i < n; i++)
		out[i] = MINH(pop) (&mn);
	v->heapify &= KIT_FN(Same) (out, ref, n);
	memcpy(arr, in, sizeof(KIT_T) * n);
	MAXH(free) (&mx);
	MAXH(attach) (&mx, arr, n, n);
	MAXH(heapify) (&mx);
	for (int i = 0; i < n; i++)
		out[n - 1 - i] = MAXH(pop) (&mx);
	v->heapify &= KIT_FN(Same) (out, ref, n);

	/* sort: ascending from both kinds, the heap left empty */
	MINH(init) (&mn, arr, n);
	for (int i = 0; i < n; i++)
		MINH(push) (&mn, &in[i]);
	v->sort &= MINH(sort) (&mn) == n && KIT_FN(Same) (arr, ref, n) && MINH(empty) (&mn);
	MAXH(init) (&mx, arr, n);
	for (int i = 0; i < n; i++)
		MAXH(push) (&mx, &in[i]);
	v->sort &= MAXH(sort) (&mx) == n && KIT_FN(Same) (arr, ref, n) && MAXH(empty) (&mx);

	free(out);
	free(arr);
}

/*
 * Bounded heaps: a max-heap offered everything keeps the k least, a
 * min-heap the k greatest, in storage of exactly k elements; the return
 * values add up, and the evicted and rejected elements together with the
 * kept ones are the whole input.  Offers without an evicted slot keep the
 * same elements.
 */
static void
KIT_FN(CheckOffer) (const KIT_T * in, const KIT_T * ref, int n, int k,
					KIT_FN(Verdicts) * v)
{
	int			keep = k < 0 ? 0 : (k < n ? k : n);
	KIT_T	   *store = malloc(sizeof(KIT_T) * (keep + 1));
	KIT_T	   *all = malloc(sizeof(KIT_T) * (n + 1));
	MAXH(heap) mx;
	MINH(heap) mn;
	int			counts[2][3] = {{0, 0, 0}, {0, 0, 0}};
	int			ngone = 0;

	/* max-heap: the k least, recording what leaves */
	MAXH(init) (&mx, store, keep);
	for (int i = 0; i < n; i++)
	{
		KIT_T		ev;
		int			r = MAXH(offer) (&mx, &in[i], k, &ev);

		counts[0][r]++;
		if (r == GV_HEAP_REPLACED)
			all[ngone++] = ev;
		else if (r == GV_HEAP_REJECTED)
			all[ngone++] = in[i];
	}
	v->offer &= MAXH(sort) (&mx) == keep && KIT_FN(Same) (store, ref, keep);
	memcpy(all + ngone, store, sizeof(KIT_T) * keep);
	v->offer &= ngone + keep == n && KIT_FN(SameSet) (all, ref, n);

	/* min-heap: the k greatest, without asking for the evicted */
	MINH(init) (&mn, store, keep);
	for (int i = 0; i < n; i++)
		counts[1][MINH(offer) (&mn, &in[i], k, NULL)]++;
	v->offer &= MINH(sort) (&mn) == keep && KIT_FN(Same) (store, ref + n - keep, keep);

	for (int h = 0; h < 2; h++)
		v->offer &= counts[h][GV_HEAP_ADDED] == keep &&
			counts[h][0] + counts[h][1] + counts[h][2] == n;
	free(store);
	free(all);
}

/*
 * Random pushes (some of an element of the heap's own array), pops and top
 * replacements on a min-heap, against a model kept sorted with qsort: the
 * top and the size agree after every step, and it drains in order.
 */
static void
KIT_FN(CheckRandom) (const KIT_T * in, int n, unsigned *seed,
					 KIT_FN(Verdicts) * v)
{
	MINH(heap) h;
	KIT_T	   *model = malloc(sizeof(KIT_T) * (n + 1));
	int			m = 0;

	MINH(init_alloc) (&h, 0);
	for (int i = 0; i < n; i++)
	{
		unsigned	r = NextRandom(seed) % 4;

		if (m > 0 && r == 0)
		{
			KIT_T		t = MINH(pop) (&h);

			v->random &= KIT_SAME(&t, &model[0]);
			memmove(model, model + 1, sizeof(KIT_T) * --m);
		}
		else if (m > 0 && r == 1)
		{
			MINH(replace_top) (&h, &in[i]);
			model[0] = in[i];
			qsort(model, m, sizeof(KIT_T), KIT_FN(Compare));
		}
		else
		{
			const KIT_T *e = &in[i];

			if (m > 0 && r == 2)
				e = &h.items[NextRandom(seed) % m];
			model[m++] = *e;
			MINH(push) (&h, e);
			qsort(model, m, sizeof(KIT_T), KIT_FN(Compare));
		}
		v->random &= MINH(size) (&h) == m;
		if (m > 0)
			v->random &= KIT_SAME(MINH(top) (&h), &model[0]);
	}
	while (m > 0)
	{
		KIT_T		t = MINH(pop) (&h);

		v->random &= KIT_SAME(&t, &model[0]);
		memmove(model, model + 1, sizeof(KIT_T) * --m);
	}
	v->random &= MINH(empty) (&h);
	MINH(free) (&h);
	free(model);
}

/* nothing in a[0, i) after a[i], nothing in a(i, n) before it */
static bool
KIT_FN(Split) (const KIT_T * a, int n, int i)
{
	for (int j = 0; j < i; j++)
		if (KIT_LESS(&a[i], &a[j]))
			return false;
	for (int j = i + 1; j < n; j++)
		if (KIT_LESS(&a[j], &a[i]))
			return false;
	return true;
}

/* select, nth, partial_sort and sort, for k and i at and around the edges */
static void
KIT_FN(CheckSelect) (const KIT_T * in, const KIT_T * ref, int n,
					 KIT_FN(Verdicts) * v)
{
	KIT_T	   *a = malloc(sizeof(KIT_T) * (n + 1));
	int			ks[] = {-1, 0, 1, 2, n / 3, n / 2, n - 1, n, n + 1, n + 100};

	for (unsigned t = 0; t < sizeof(ks) / sizeof(ks[0]); t++)
	{
		int			k = ks[t];
		int			keep = k < 0 ? 0 : (k < n ? k : n);

		memcpy(a, in, sizeof(KIT_T) * n);
		SEL(select) (a, n, k);
		v->select &= KIT_FN(SameSet) (a, ref, n);
		if (keep > 0)
			v->select &= KIT_FN(SameSet) (a, ref, keep);
		if (keep > 0 && keep < n)
			v->select &= KIT_FN(SameSet) (a + keep, ref + keep, n - keep);
		/* k <= 0 or k >= n: untouched */
		if (keep == 0 || keep == n)
			v->select &= KIT_FN(Same) (a, in, n);

		memcpy(a, in, sizeof(KIT_T) * n);
		SEL(partial_sort) (a, n, k);
		v->partial &= KIT_FN(Same) (a, ref, keep) &&
			KIT_FN(SameSet) (a, ref, n);

		if (k >= 0 && k < n)
		{
			memcpy(a, in, sizeof(KIT_T) * n);
			SEL(nth) (a, n, k);
			v->nth &= KIT_SAME(&a[k], &ref[k]) && KIT_FN(Split) (a, n, k) &&
				KIT_FN(SameSet) (a, ref, n);
		}
	}
	memcpy(a, in, sizeof(KIT_T) * n);
	SEL(sort) (a, n);
	v->fullSort &= KIT_FN(Same) (a, ref, n);
	free(a);
}

static void
KIT_FN(KitCases) (const char *what)
{
	static const int sizes[] = {0, 1, 2, 3, 5, 16, 17, 18, 31, 100, 1000, 4097};
	KIT_FN(Verdicts) v = {true, true, true, true, true, true, true, true, true};
	unsigned	seed = 12345;
	char		line[200];

	for (int s = 0; s < NUM_SHAPES; s++)
	{
		for (unsigned z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++)
		{
			int			n = sizes[z];
			KIT_T	   *in = malloc(sizeof(KIT_T) * (n + 1));
			KIT_T	   *ref = malloc(sizeof(KIT_T) * (n + 1));
			int			ks[] = {-1, 0, 1, n / 2, n - 1, n, n + 3};

			KIT_FN(Fill) (in, n, (Shape) s);
			Shuffle(in, n, sizeof(KIT_T), s == SHAPE_ASCENDING ||
					s == SHAPE_DESCENDING ? NULL : &seed);
			memcpy(ref, in, sizeof(KIT_T) * n);
			qsort(ref, n, sizeof(KIT_T), KIT_FN(Compare));

			KIT_FN(CheckPushPop) (in, ref, n, &v);
			for (unsigned t = 0; t < sizeof(ks) / sizeof(ks[0]); t++)
				KIT_FN(CheckOffer) (in, ref, n, ks[t], &v);
			if (n <= 1000)
				KIT_FN(CheckRandom) (in, n, &seed, &v);
			KIT_FN(CheckSelect) (in, ref, n, &v);
			free(in);
			free(ref);
		}
	}
#define KIT_REPORT(field, text) \
	snprintf(line, sizeof(line), "%s: %s", what, text), Check(v.field, line)
	KIT_REPORT(pushPop, "pushes then pops come out in qsort's order (min- and max-heap)");
	KIT_REPORT(heapify, "an attached unordered array, heapified, pops in qsort's order");
	KIT_REPORT(sort, "sort leaves either kind of heap's elements ascending");
	KIT_REPORT(offer, "offer keeps the k least (max-heap) or greatest (min-heap), k = -1, 0, 1, n/2, n-1, n, n+3");
	KIT_REPORT(random, "random push, pop, replace_top agree with a sorted model at every step");
	KIT_REPORT(select, "select puts the k smallest first, k = -1 .. n+100");
	KIT_REPORT(nth, "nth puts the element of rank i at i, nothing greater before, nothing less after");
	KIT_REPORT(partial, "partial_sort sorts the k smallest first, k = -1 .. n+100");
	KIT_REPORT(fullSort, "sort equals qsort");
#undef KIT_REPORT
}

#undef MINH
#undef MAXH
#undef SEL
#undef KIT_FN
#undef KIT_CAT
#undef KIT_CAT_
#undef KIT_T
#undef KIT_NAME
#undef KIT_LESS
#undef KIT_MAKE
#undef KIT_SAME
