/*
 * test_kit.c
 *	  Unit test of the algorithm kit: src/gvheap.h (typed binary heap) and
 *	  src/gvselect.h (quickselect, partial sort, sort).  TAP output.
 *
 * Every operation is checked against qsort under the same order, on
 * several element types -- float and double distances with an id to break
 * ties (the order access methods use: distance, then TID), and bare float
 * and double keys whose ties cannot be told apart -- and on data shaped to
 * find the usual mistakes: random, few distinct values (many ties), all
 * equal, ascending, descending, organ pipe; sizes from 0 to 4097 and k
 * from -1 to n + 100.  Then what holds for any type: a heap over the
 * caller's array never reallocates and refuses to overrun it, a growable
 * one grows, the key mode and the extra argument of gvselect.h, and the
 * worst case: an adversary that makes any plain quicksort quadratic
 * (McIlroy's "A Killer Adversary for Quicksort") must leave sort and nth
 * within O(n log n) comparisons.
 */
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

/* xorshift32: the same data on every run and machine */
static unsigned
NextRandom(unsigned *state)
{
	unsigned	x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

typedef enum Shape
{
	SHAPE_RANDOM,
	SHAPE_FEW,					/* four distinct values */
	SHAPE_EQUAL,
	SHAPE_ASCENDING,
	SHAPE_DESCENDING,
	SHAPE_ORGAN,				/* up, then down */
	NUM_SHAPES
} Shape;

static double
ShapeValue(Shape shape, int i, int n)
{
	static unsigned state = 2463534242u;

	switch (shape)
	{
		case SHAPE_RANDOM:
			return (NextRandom(&state) >> 8) / (double) (1 << 24);
		case SHAPE_FEW:
			return (double) (NextRandom(&state) % 4);
		case SHAPE_EQUAL:
			return 1.0;
		case SHAPE_ASCENDING:
			return i;
		case SHAPE_DESCENDING:
			return n - i;
		default:
			return i < n / 2 ? i : n - i;
	}
}

/* Fisher-Yates over elements of size bytes; seed NULL keeps the order. */
static void
Shuffle(void *base, int n, size_t size, unsigned *seed)
{
	char	   *a = base;
	char		tmp[64];

	if (seed == NULL)
		return;
	for (int i = n - 1; i > 0; i--)
	{
		int			j = NextRandom(seed) % (unsigned) (i + 1);

		memcpy(tmp, a + i * size, size);
		memcpy(a + i * size, a + j * size, size);
		memcpy(a + j * size, tmp, size);
	}
}

/* float distance, id tie-break: the access methods' (distance, TID) */
typedef struct FloatCand
{
	float		dist;
	int32_t		id;
} FloatCand;

typedef struct DoubleCand
{
	double		dist;
	int32_t		id;
} DoubleCand;

#define CAND_LESS(a, b) \
	((a)->dist < (b)->dist || ((a)->dist == (b)->dist && (a)->id < (b)->id))
#define CAND_SAME(a, b)	((a)->dist == (b)->dist && (a)->id == (b)->id)

#define KIT_T			FloatCand
#define KIT_NAME		FloatCand
#define KIT_LESS(a, b)	CAND_LESS(a, b)
#define KIT_MAKE(v, i)	((FloatCand) {(float) (v), (i)})
#define KIT_SAME(a, b)	CAND_SAME(a, b)
#include "kit_cases.h"

#define KIT_T			DoubleCand
#define KIT_NAME		DoubleCand
#define KIT_LESS(a, b)	CAND_LESS(a, b)
#define KIT_MAKE(v, i)	((DoubleCand) {(v), (i)})
#define KIT_SAME(a, b)	CAND_SAME(a, b)
#include "kit_cases.h"

#define KIT_T			float
#define KIT_NAME		Float
#define KIT_LESS(a, b)	(*(a) < *(b))
#define KIT_MAKE(v, i)	((float) (v))
#define KIT_SAME(a, b)	(*(a) == *(b))
#include "kit_cases.h"

#define KIT_T			double
#define KIT_NAME		Double
#define KIT_LESS(a, b)	(*(a) < *(b))
#define KIT_MAKE(v, i)	((double) (v))
#define KIT_SAME(a, b)	(*(a) == *(b))
#include "kit_cases.h"

/* ---------------------------------------------------------------------
 * Storage: the caller's array, or one that grows
 * ---------------------------------------------------------------------
 */
#define GV_HEAP_PREFIX	fixedh
#define GV_HEAP_ELEMENT int
#define GV_HEAP_LESS(a, b) (*(a) < *(b))
#include "gvheap.h"

static void
CheckStorage(void)
{
	int			store[8];
	fixedh_heap h;
	bool		ok = true;
	pid_t		pid;
	int			status;

	fixedh_init(&h, store, 8);
	for (int i = 8; i > 0; i--)
		fixedh_push(&h, &i);
	ok = h.items == store && h.capacity == 8 && fixedh_size(&h) == 8 &&
		*fixedh_top(&h) == 1;
	fixedh_free(&h);			/* not ours: left alone */
	Check(ok && store[0] == 1, "a heap over the caller's array uses it and never frees it");

	/*
	 * In a child, over malloc'd storage (so that a wrongful realloc would
	 * succeed rather than abort by itself): one push too many must abort.
	 */
	fflush(stdout);
	pid = fork();
	if (pid == 0)
	{
		int		   *mine = malloc(sizeof(int) * 8);
		int			x = 0;

		fixedh_init(&h, mine, 8);
		for (int i = 0; i < 9; i++)
			fixedh_push(&h, &x);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	Check(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
		  "a push beyond the caller's array is refused (abort without PostgreSQL)");

	fixedh_init_alloc(&h, 2);
	ok = h.capacity == 16 && h.owned;
	for (int i = 0; i < 100000; i++)
	{
		int			x = (i * 7919) % 100003;

		fixedh_push(&h, &x);
	}
	ok &= h.count == 100000 && h.capacity >= 100000;
	for (int i = 0, last = -1; i < 100000 && ok; i++)
	{
		int			x = fixedh_pop(&h);

		ok = x > last;
		last = x;
	}
	fixedh_free(&h);
	Check(ok && h.items == NULL, "a heap of its own grows from 16 to 100000 elements and drains in order");
}

/* ---------------------------------------------------------------------
 * Ties in offer: an order that cannot tell two elements apart (distance
 * only, no id) keeps the first of them offered
 * ---------------------------------------------------------------------
 */
#define GV_HEAP_PREFIX	tiesh
#define GV_HEAP_ELEMENT FloatCand
#define GV_HEAP_LESS(a, b) ((a)->dist < (b)->dist)
#define GV_HEAP_MAX
#include "gvheap.h"

static void
CheckTies(void)
{
	FloatCand	store[4];
	tiesh_heap	h;
	bool		ok = true;
	int			seen[4] = {0, 0, 0, 0};

	tiesh_init(&h, store, 4);
	for (int i = 0; i < 20; i++)
	{
		FloatCand	c = {(i % 2) ? 1.0f : 2.0f, i};
		int			r = tiesh_offer(&h, &c, 4, NULL);

		/* 4 slots: 0..3 added; 5, 7 (1.0) replace 2.0s; the rest lose */
		ok &= r == (i < 4 ? GV_HEAP_ADDED :
					(i == 5 || i == 7) ? GV_HEAP_REPLACED : GV_HEAP_REJECTED);
	}
	for (int i = 0; i < 4; i++)
	{
		int			id = store[i].id;

		ok &= id == 1 || id == 3 || id == 5 || id == 7;
		seen[(id - 1) / 2]++;
	}
	Check(ok && seen[0] == 1 && seen[1] == 1 && seen[2] == 1 && seen[3] == 1,
		  "offer: of elements the order cannot tell apart, the first offered are kept");
}

/* ---------------------------------------------------------------------
 * gvselect.h's key mode, extra argument and per-pass hook: a k-d tree
 * build's median cut, an index array ordered by one coordinate of points
 * stored elsewhere
 * ---------------------------------------------------------------------
 */
typedef struct PointsArg
{
	const float *coords;		/* npoints x dim */
	int			dim;
	int			d;				/* the dimension to order by */
	int64_t		passes;
} PointsArg;

#define GV_SELECT_PREFIX	bydim
#define GV_SELECT_ELEMENT	int64_t
#define GV_SELECT_KEY_TYPE	float
#define GV_SELECT_KEY(a)	(arg->coords[*(a) * arg->dim + arg->d])
#define GV_SELECT_ARG_TYPE	PointsArg
#define GV_SELECT_CHECK()	(arg->passes++)
#include "gvselect.h"

static int
CompareFloats(const void *a, const void *b)
{
	float		x = *(const float *) a;
	float		y = *(const float *) b;

	return (x > y) - (x < y);
}

static int
CompareInt64s(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a;
	int64_t		y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

static void
CheckKeyMode(void)
{
	enum
	{
		N = 5000, DIM = 3
	};
	float	   *coords = malloc(sizeof(float) * N * DIM);
	float	   *col = malloc(sizeof(float) * N);
	int64_t    *order = malloc(sizeof(int64_t) * N);
	PointsArg	arg = {coords, DIM, 1, 0};
	unsigned	seed = 99;
	bool		nth = true;
	bool		sorted = true;
	bool		perm = true;

	for (int i = 0; i < N * DIM; i++)
		coords[i] = (float) (NextRandom(&seed) % 1000);	/* ties */
	for (int i = 0; i < N; i++)
		col[i] = coords[i * DIM + 1];
	qsort(col, N, sizeof(float), CompareFloats);

	for (int mid = 0; mid < N; mid += 613)
	{
		for (int i = 0; i < N; i++)
			order[i] = i;
		bydim_nth(order, N, mid, &arg);
		nth &= coords[order[mid] * DIM + 1] == col[mid];
		for (int i = 0; i < N; i++)
			nth &= (i < mid) ? coords[order[i] * DIM + 1] <= col[mid] :
				coords[order[i] * DIM + 1] >= col[mid];
	}
	Check(nth && arg.passes > 0, "key mode: nth over an index array, keyed through the extra argument, with the per-pass hook run");

	bydim_sort(order, N, &arg);
	for (int i = 0; i < N; i++)
		sorted &= coords[order[i] * DIM + 1] == col[i];
	qsort(order, N, sizeof(int64_t), CompareInt64s);
	for (int i = 0; i < N; i++)
		perm &= order[i] == i;
	free(coords);
	free(col);
	free(order);
	Check(sorted && perm, "key mode: sort orders the index array by the key, a permutation");
}

/* ---------------------------------------------------------------------
 * The worst case.  McIlroy's adversary decides each comparison's outcome
 * lazily ("gas" is a value not yet fixed), in the way that makes the
 * quicksort partition worst; any quicksort without a fallback does about
 * n^2/4 comparisons against it.
 * ---------------------------------------------------------------------
 */
typedef struct Adversary
{
	int		   *val;
	int			gas;
	int			nsolid;
	int			candidate;
	int64_t		comparisons;
} Adversary;

static Adversary Adv;

static int
AdversaryCompare(int x, int y)
{
	Adv.comparisons++;
	if (Adv.val[x] == Adv.gas && Adv.val[y] == Adv.gas)
	{
		if (x == Adv.candidate)
			Adv.val[x] = Adv.nsolid++;
		else
			Adv.val[y] = Adv.nsolid++;
	}
	if (Adv.val[x] == Adv.gas)
		Adv.candidate = x;
	else if (Adv.val[y] == Adv.gas)
		Adv.candidate = y;
	return Adv.val[x] - Adv.val[y];
}

#define GV_SELECT_PREFIX	adv
#define GV_SELECT_ELEMENT	int
#define GV_SELECT_LESS(a, b) (AdversaryCompare(*(a), *(b)) < 0)
#include "gvselect.h"

static void
AdversaryStart(int *a, int n)
{
	Adv.val = malloc(sizeof(int) * n);
	Adv.gas = n;
	Adv.nsolid = 0;
	Adv.candidate = 0;
	Adv.comparisons = 0;
	for (int i = 0; i < n; i++)
	{
		a[i] = i;
		Adv.val[i] = Adv.gas;
	}
}

static void
CheckWorstCase(void)
{
	enum
	{
		N = 8192
	};
	int		   *a = malloc(sizeof(int) * N);
	double		bound = 8.0 * N * log2(N);	/* n^2/4 would be 16.8M */
	bool		ok = true;
	int64_t		sortCmp;
	int64_t		nthCmp;

	AdversaryStart(a, N);
	adv_sort(a, N);
	sortCmp = Adv.comparisons;
	for (int i = 1; i < N; i++)
		ok &= Adv.val[a[i - 1]] <= Adv.val[a[i]];
	free(Adv.val);

	AdversaryStart(a, N);
	adv_nth(a, N, N / 2);
	nthCmp = Adv.comparisons;
	for (int i = 0; i < N; i++)
		ok &= (i < N / 2) ? Adv.val[a[i]] <= Adv.val[a[N / 2]] :
			Adv.val[a[i]] >= Adv.val[a[N / 2]];
	free(Adv.val);
	free(a);

	printf("# adversary, n = %d: sort %lld comparisons, nth %lld (bound %.0f)\n",
		   N, (long long) sortCmp, (long long) nthCmp, bound);
	Check(ok && sortCmp < bound && nthCmp < bound,
		  "against a quicksort adversary, sort and nth stay within 8 n log2 n comparisons");
}

int
main(void)
{
	KitCasesFloatCand("float distance, id tie-break");
	KitCasesDoubleCand("double distance, id tie-break");
	KitCasesFloat("bare float keys");
	KitCasesDouble("bare double keys");
	CheckStorage();
	CheckTies();
	CheckKeyMode();
	CheckWorstCase();
	printf("1..%d\n", TestNumber);
	return Failures > 0;
}
