/*-------------------------------------------------------------------------
 *
 * test_distance.c
 *	  Standalone unit test of the distance kernels in src/distance.c.
 *
 * Every tier compiled in and supported by this CPU is compared, kernel by
 * kernel, with a double-precision reference computed here, over classes of
 * input: random vectors of every length 1..2000, long vectors, values near
 * the float overflow limit, values whose products are subnormal, sums that
 * cancel, all zeros and identical vectors.  Tiers the CPU cannot run are
 * reported as skipped.
 *
 * The tolerance is the error bound of float summation: a sum of n rounded
 * terms is within about n * FLT_EPSILON / 2 of the exact sum, relative to
 * the sum of the magnitudes of the terms (not to the result, which may
 * cancel to nearly nothing).  We allow
 *
 *		|got - ref| <= 2 * dim * FLT_EPSILON * sum|terms| + dim * FLT_TRUE_MIN
 *
 * where the factor 2 covers rounding the difference and the product of each
 * term as well as the order of summation, and the last term covers products
 * that round to a subnormal, whose error is absolute, not relative.  Since
 * a comparison that cannot fail proves nothing, self-checks make sure this
 * one rejects a deliberately wrong kernel.
 *
 * Every vector a kernel reads is copied so that it ends right before a
 * PROT_NONE page (for the second operand, at half the dims only): a kernel
 * that reads even one float past the end crashes the test.  This also makes
 * the start addresses vary in alignment with dim, together and apart.
 *
 * Output is TAP; the exit status is nonzero if any test fails.
 *
 *-------------------------------------------------------------------------
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "distance.h"
#include "quantize.h"

#define MAX_DIM			16000
#define RANDOM_MAX_DIM	2000
#define TOL_FACTOR		2.0

/* Input classes; each (tier, kernel, class) is one TAP test. */
typedef enum InputClass
{
	INPUT_RANDOM,				/* uniform in [-1, 1], every dim 1..2000 */
	INPUT_LONG,					/* random, dim 4096 and 16000 */
	INPUT_LARGE,				/* magnitudes up to 1e18, sums near FLT_MAX */
	INPUT_TINY,					/* ~1e-20: products are subnormal */
	INPUT_CANCEL,				/* alternating signs, sums cancel */
	INPUT_ZERO,					/* all zeros: results exactly 0 */
	INPUT_IDENTICAL,			/* a == b: l2 and l1 exactly 0 */
	NUM_INPUT_CLASSES
} InputClass;

static const char *const InputClassNames[NUM_INPUT_CLASSES] = {
	"random, every dim 1..2000",
	"random, dim 4096 and 16000",
	"large values (up to 1e18)",
	"tiny values (subnormal products)",
	"alternating signs with cancellation",
	"all zeros",
	"identical vectors",
};

typedef enum KernelKind
{
	KERNEL_L2,
	KERNEL_IP,
	KERNEL_L1,
	KERNEL_COSINE,
	NUM_KERNELS
} KernelKind;

static const char *const KernelNames[NUM_KERNELS] = {
	"l2_squared", "inner_product", "l1", "cosine_parts"
};

/* A reference value and the sum of the magnitudes of its terms. */
typedef struct RefData
{
	double		value;
	double		magnitude;
} RefData;

/* A vector that ends right before an inaccessible page. */
typedef struct GuardBufData
{
	float	   *end;			/* first float of the PROT_NONE page */
} GuardBufData;

static int	TestNumber = 0;
static int	Failures = 0;
static uint64_t RandomState = 0x9E3779B97F4A7C15ULL;

static GuardBufData GuardA;
static GuardBufData GuardB;
static float SrcA[MAX_DIM];
static float SrcB[MAX_DIM];


/* ----------------------------------------------------------------
 *		TAP output
 * ----------------------------------------------------------------
 */

/* Report one test result. */
static void
Ok(bool passed, const char *desc)
{
	TestNumber++;
	if (!passed)
		Failures++;
	printf("%sok %d - %s\n", passed ? "" : "not ", TestNumber, desc);
	fflush(stdout);
}

/* Report one skipped test. */
static void
Skip(const char *why)
{
	TestNumber++;
	printf("ok %d # skip %s\n", TestNumber, why);
}


/* ----------------------------------------------------------------
 *		inputs
 * ----------------------------------------------------------------
 */

/* xorshift64*: deterministic, so a failure can be reproduced. */
static uint64_t
NextRandom(void)
{
	RandomState ^= RandomState >> 12;
	RandomState ^= RandomState << 25;
	RandomState ^= RandomState >> 27;
	return RandomState * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [-1, 1). */
static float
RandomUnit(void)
{
	return (float) ((double) (NextRandom() >> 11) / 4503599627370496.0 - 1.0);
}

/* Uniform in [0.5, 1) with a random sign: no term is accidentally tiny. */
static float
RandomSignedHalfToOne(void)
{
	float		u = 0.5f + 0.5f * fabsf(RandomUnit());

	return (NextRandom() & 1) ? u : -u;
}

/* Map MAX_DIM floats followed by one PROT_NONE page. */
static void
GuardBufInit(GuardBufData *buf)
{
	size_t		page = (size_t) sysconf(_SC_PAGESIZE);
	size_t		data = ((MAX_DIM * sizeof(float) + page - 1) / page) * page;
	char	   *base;

	base = mmap(NULL, data + page, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED || mprotect(base + data, page, PROT_NONE) != 0)
	{
		perror("mmap");
		exit(2);
	}
	buf->end = (float *) (base + data);
}

/*
 * Copy dim floats so that they end slack floats before the guard page;
 * return the copy.
 */
static const float *
GuardBufPlace(GuardBufData *buf, const float *src, int dim, int slack)
{
	float	   *dst = buf->end - slack - dim;

	memcpy(dst, src, sizeof(float) * dim);
	return dst;
}

/*
 * Fill SrcA and SrcB with dim floats of the given class.  The magnitudes of
 * INPUT_LARGE depend on dim so that every sum, and every partial sum, stays
 * below FLT_MAX / 4: the true float result must be finite for the
 * comparison to mean anything.
 */
static void
FillInput(InputClass cls, int dim)
{
	double		scale;
	int			i;

	switch (cls)
	{
		case INPUT_RANDOM:
		case INPUT_LONG:
			for (i = 0; i < dim; i++)
			{
				SrcA[i] = RandomUnit();
				SrcB[i] = RandomUnit();
			}
			break;
		case INPUT_LARGE:
			/* (2 * scale)^2 * dim <= FLT_MAX / 4 */
			scale = fmin(1e18, 0.25 * sqrt((double) FLT_MAX / dim));
			for (i = 0; i < dim; i++)
			{
				SrcA[i] = (float) (scale * RandomSignedHalfToOne());
				SrcB[i] = (float) (scale * RandomSignedHalfToOne());
			}
			break;
		case INPUT_TINY:
			for (i = 0; i < dim; i++)
			{
				SrcA[i] = 1e-20f * RandomSignedHalfToOne();
				SrcB[i] = 1e-20f * RandomSignedHalfToOne();
			}
			break;
		case INPUT_CANCEL:

			/*
			 * Pairs (x, x) against (y, -y): the inner product cancels to
			 * (almost) nothing, while b is a times (1 + tiny) on even
			 * indexes, so a - b cancels there too.
			 */
			for (i = 0; i < dim; i++)
			{
				float		x = 1000.0f * RandomSignedHalfToOne();

				SrcA[i] = x;
				SrcB[i] = x * (1.0f + 1e-4f * RandomUnit());
				if (i + 1 < dim)
				{
					SrcA[i + 1] = x;
					SrcB[i + 1] = -SrcB[i];
					i++;
				}
			}
			break;
		case INPUT_ZERO:
			memset(SrcA, 0, sizeof(float) * dim);
			memset(SrcB, 0, sizeof(float) * dim);
			break;
		case INPUT_IDENTICAL:
			for (i = 0; i < dim; i++)
			{
				SrcA[i] = 100.0f * RandomUnit();
				SrcB[i] = SrcA[i];
			}
			break;
		default:
			abort();
	}
}

/* The dims each class is tested at, terminated by 0. */
static const int *
ClassDims(InputClass cls)
{
	static int	every[RANDOM_MAX_DIM + 1];
	static const int some[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33,
		63, 64, 65, 100, 127, 128, 129, 255, 256, 257, 300, 784, 1000, 1536,
	4096, 16000, 0};
	static const int longs[] = {4096, 16000, 0};
	int			i;

	switch (cls)
	{
		case INPUT_RANDOM:
			for (i = 0; i < RANDOM_MAX_DIM; i++)
				every[i] = i + 1;
			every[RANDOM_MAX_DIM] = 0;
			return every;
		case INPUT_LONG:
			return longs;
		default:
			return some;
	}
}


/* ----------------------------------------------------------------
 *		reference and comparison
 * ----------------------------------------------------------------
 */

/* The exact-enough results, in double, with their term magnitudes. */
static void
Reference(const float *a, const float *b, int dim,
		  RefData *l2, RefData *ip, RefData *l1,
		  RefData *ab, RefData *aa, RefData *bb)
{
	int			i;

	memset(l2, 0, sizeof(RefData));
	memset(ip, 0, sizeof(RefData));
	memset(l1, 0, sizeof(RefData));
	memset(aa, 0, sizeof(RefData));
	memset(bb, 0, sizeof(RefData));
	for (i = 0; i < dim; i++)
	{
		double		x = a[i];
		double		y = b[i];
		double		d = x - y;

		l2->value += d * d;
		ip->value += x * y;
		ip->magnitude += fabs(x * y);
		l1->value += fabs(d);
		aa->value += x * x;
		bb->value += y * y;
	}
	l2->magnitude = l2->value;
	l1->magnitude = l1->value;
	aa->magnitude = aa->value;
	bb->magnitude = bb->value;
	*ab = *ip;
}

/* Is got within the float summation bound of ref? */
static bool
WithinBound(float got, const RefData *ref, int dim)
{
	double		tol = TOL_FACTOR * dim * FLT_EPSILON * ref->magnitude +
		dim * (double) FLT_TRUE_MIN;

	/* written so that NaN fails */
	return fabs((double) got - ref->value) <= tol;
}

/* Print a diagnostic for a failed comparison. */
static void
Diag(const char *what, int dim, float got, const RefData *ref)
{
	printf("#   %s, dim %d: got %.9g, expected %.9g (terms %.3g)\n",
		   what, dim, (double) got, ref->value, ref->magnitude);
}

/*
 * Run one kernel of one tier over every dim of one input class; true if
 * every result is within bound (and exact where exactness is required).
 */
static bool
CheckKernel(GvKernelSet set, KernelKind kind, InputClass cls)
{
	const int  *dims = ClassDims(cls);
	bool		passed = true;
	int			k;

	for (k = 0; dims[k] != 0 && passed; k++)
	{
		int			dim = dims[k];
		const float *a;
		const float *b;
		RefData		l2,
					ip,
					l1,
					rab,
					raa,
					rbb;
		float		got,
					ab,
					aa,
					bb;
		bool		exact_zero = (cls == INPUT_ZERO);

		FillInput(cls, dim);

		/*
		 * a always ends at the guard page.  b does too for even dims; for
		 * odd dims it ends 0..15 floats earlier, so that a and b also meet
		 * the kernels at different alignments.
		 */
		a = GuardBufPlace(&GuardA, SrcA, dim, 0);
		b = GuardBufPlace(&GuardB, SrcB, dim, (dim % 2) ? (dim / 2) % 16 : 0);
		Reference(a, b, dim, &l2, &ip, &l1, &rab, &raa, &rbb);

		switch (kind)
		{
			case KERNEL_L2:
				got = set->l2_squared(a, b, dim);
				passed = WithinBound(got, &l2, dim) &&
					(!(exact_zero || cls == INPUT_IDENTICAL) || got == 0.0f);
				if (!passed)
					Diag("l2_squared", dim, got, &l2);
				break;
			case KERNEL_IP:
				got = set->inner_product(a, b, dim);
				passed = WithinBound(got, &ip, dim) &&
					(!exact_zero || got == 0.0f);
				if (!passed)
					Diag("inner_product", dim, got, &ip);
				break;
			case KERNEL_L1:
				got = set->l1(a, b, dim);
				passed = WithinBound(got, &l1, dim) &&
					(!(exact_zero || cls == INPUT_IDENTICAL) || got == 0.0f);
				if (!passed)
					Diag("l1", dim, got, &l1);
				break;
			case KERNEL_COSINE:
				ab = aa = bb = NAN;
				set->cosine_parts(a, b, dim, &ab, &aa, &bb);
				if (!WithinBound(ab, &rab, dim))
				{
					Diag("cosine a.b", dim, ab, &rab);
					passed = false;
				}
				if (!WithinBound(aa, &raa, dim))
				{
					Diag("cosine a.a", dim, aa, &raa);
					passed = false;
				}
				if (!WithinBound(bb, &rbb, dim))
				{
					Diag("cosine b.b", dim, bb, &rbb);
					passed = false;
				}
				if (exact_zero && (ab != 0.0f || aa != 0.0f || bb != 0.0f))
				{
					printf("#   cosine, dim %d: zeros gave %g %g %g\n",
						   dim, (double) ab, (double) aa, (double) bb);
					passed = false;
				}

				/*
				 * With a == b the three sums are the same operations on the
				 * same numbers in every tier, so they must agree bit for bit.
				 */
				if (cls == INPUT_IDENTICAL && !(ab == aa && aa == bb))
				{
					printf("#   cosine, dim %d: a == b gave %.9g %.9g %.9g\n",
						   dim, (double) ab, (double) aa, (double) bb);
					passed = false;
				}
				break;
			default:
				abort();
		}
	}
	return passed;
}


/* ----------------------------------------------------------------
 *		self-checks: the comparison must be able to fail
 * ----------------------------------------------------------------
 */

static GvPairKernel SabotagedBase;

/* A broken kernel: forgets the last element, as a bad tail loop would. */
static float
DropLastElement(const float *a, const float *b, int dim)
{
	return dim > 1 ? SabotagedBase(a, b, dim - 1) : 0.0f;
}

/* The comparison rejects wrong values, and a kernel with a tail bug. */
static void
SelfChecks(GvKernelSet scalar)
{
	RefData		l2,
				ip,
				l1,
				ab,
				aa,
				bb;
	const float *a;
	const float *b;
	bool		detected;
	int			dim;

	/* a result off by one part in a thousand, at dim 100 */
	FillInput(INPUT_RANDOM, 100);
	a = GuardBufPlace(&GuardA, SrcA, 100, 0);
	b = GuardBufPlace(&GuardB, SrcB, 100, 0);
	Reference(a, b, 100, &l2, &ip, &l1, &ab, &aa, &bb);
	Ok(WithinBound((float) l2.value, &l2, 100) &&
	   !WithinBound((float) (l2.value * 1.001), &l2, 100) &&
	   !WithinBound(NAN, &l2, 100),
	   "self-check: comparison accepts the reference, rejects 0.1% error and NaN");

	/* flushing subnormal products to zero */
	FillInput(INPUT_TINY, 100);
	a = GuardBufPlace(&GuardA, SrcA, 100, 0);
	b = GuardBufPlace(&GuardB, SrcB, 100, 0);
	Reference(a, b, 100, &l2, &ip, &l1, &ab, &aa, &bb);
	Ok(l2.value > 0.0 && !WithinBound(0.0f, &l2, 100),
	   "self-check: comparison detects subnormal products flushed to zero");

	/* a kernel that drops the last element, at every dim 1..2000 */
	SabotagedBase = scalar->l2_squared;
	detected = true;
	for (dim = 1; dim <= RANDOM_MAX_DIM && detected; dim++)
	{
		FillInput(INPUT_RANDOM, dim);
		SrcA[dim - 1] = 100.0f;
		SrcB[dim - 1] = -100.0f;
		a = GuardBufPlace(&GuardA, SrcA, dim, 0);
		b = GuardBufPlace(&GuardB, SrcB, dim, 0);
		Reference(a, b, dim, &l2, &ip, &l1, &ab, &aa, &bb);
		if (WithinBound(DropLastElement(a, b, dim), &l2, dim))
		{
			printf("#   dropped last element not detected at dim %d\n", dim);
			detected = false;
		}
	}
	Ok(detected,
	   "self-check: comparison detects a kernel that drops the last element, dims 1..2000");
}


/* ----------------------------------------------------------------
 *		tier selection
 * ----------------------------------------------------------------
 */

/* Do the public function pointers point at this tier? */
static bool
PointersAre(GvKernelSet set)
{
	return GvL2SquaredDistance == set->l2_squared &&
		GvInnerProduct == set->inner_product &&
		GvL1Distance == set->l1 &&
		GvCosineParts == set->cosine_parts &&
		strcmp(GvDistanceKernelName(), set->name) == 0;
}

/* Do the kernels for cached vectors (index builds) point at this tier? */
static bool
CachedAre(GvKernelSet set)
{
	return GvL2SquaredDistanceCached == set->l2_squared &&
		GvInnerProductCached == set->inner_product;
}

/*
 * In a child process, set GIGAVECTOR_KERNEL, call GvDistanceInit() and
 * check that it chose the tier named expect; true if it did.  A child,
 * because GvDistanceInit() only chooses once per process.
 */
static bool
InitInChild(const char *env, GvKernelSet expect)
{
	pid_t		pid;
	int			status;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
	{
		perror("fork");
		return false;
	}
	if (pid == 0)
	{
		setenv("GIGAVECTOR_KERNEL", env, 1);
		GvDistanceInit();
		_exit(PointersAre(expect) && CachedAre(expect) ? 0 : 1);
	}
	if (waitpid(pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Tests of GvDistanceKernelSets, GvDistanceInit and GvDistanceUseKernelSet. */
static void
SelectionChecks(GvKernelSet sets, int nsets)
{
	GvKernelSet best = &sets[0];
	char		desc[200];
	bool		unsupported_refused = true;
	int			i;

	/* must come first: nothing has chosen a tier yet */
	Ok(PointersAre(&sets[0]),
	   "before GvDistanceInit the kernels are the scalar tier");

#ifdef GV_NO_SIMD
	Ok(nsets == 1 && strcmp(sets[0].name, "scalar") == 0,
	   "portable build (GV_NO_SIMD) has only the scalar tier");
#else
	Ok(nsets >= 1 && strcmp(sets[0].name, "scalar") == 0 &&
	   sets[0].supported(),
	   "first tier is scalar and always supported");
#endif

	for (i = 0; i < nsets; i++)
	{
		if (sets[i].supported())
			best = &sets[i];
		else if (GvDistanceUseKernelSet(sets[i].name))
			unsupported_refused = false;
	}
	Ok(unsupported_refused && PointersAre(&sets[0]),
	   "GvDistanceUseKernelSet refuses tiers the CPU cannot run");

	Ok(InitInChild("scalar", &sets[0]),
	   "GIGAVECTOR_KERNEL=scalar makes GvDistanceInit choose scalar, for builds too");
	snprintf(desc, sizeof(desc),
			 "GIGAVECTOR_KERNEL=bogus is ignored, GvDistanceInit chooses %s",
			 best->name);
	Ok(InitInChild("bogus", best), desc);

	/* the environment of whoever runs the test must not decide the result */
	unsetenv("GIGAVECTOR_KERNEL");
	GvDistanceInit();
	snprintf(desc, sizeof(desc),
			 "GvDistanceInit chooses the preferred supported tier (%s)",
			 best->name);
	Ok(best->supported() && PointersAre(best), desc);
	{
		GvKernelSet cached = best;

		for (i = 0; i < nsets; i++)
			if (strcmp(sets[i].name, "avx512") == 0 && sets[i].supported())
				cached = &sets[i];
		snprintf(desc, sizeof(desc),
				 "the kernels for cached vectors are the %s tier (AVX-512 where supported)",
				 cached->name);
		Ok(CachedAre(cached), desc);
	}

	Ok(GvDistanceUseKernelSet("scalar") && PointersAre(&sets[0]) && CachedAre(&sets[0]) &&
	   (GvDistanceInit(), PointersAre(&sets[0])),
	   "GvDistanceUseKernelSet(\"scalar\") switches tier; GvDistanceInit is idempotent");

	Ok(!GvDistanceUseKernelSet("no-such-tier") && PointersAre(&sets[0]),
	   "GvDistanceUseKernelSet rejects an unknown name and changes nothing");

	Ok(GvDistanceUseKernelSet(best->name) && PointersAre(best),
	   "GvDistanceUseKernelSet switches back to the preferred tier");
}

/*
 * Run every kernel of a tier on one pair placed at the given slacks; put
 * the six results (l2, ip, l1, and cosine's three sums) into out.
 */
static void
RunAllKernels(GvKernelSet set, int dim, int slack_a, int slack_b, float *out)
{
	const float *a = GuardBufPlace(&GuardA, SrcA, dim, slack_a);
	const float *b = GuardBufPlace(&GuardB, SrcB, dim, slack_b);

	out[0] = set->l2_squared(a, b, dim);
	out[1] = set->inner_product(a, b, dim);
	out[2] = set->l1(a, b, dim);
	set->cosine_parts(a, b, dim, &out[3], &out[4], &out[5]);
}

/*
 * The same pair must give the same bits wherever it sits in memory: an
 * index build, a scan and a standby compute distances on copies at
 * different addresses and must agree exactly.
 */
static bool
CheckPlacementIndependent(GvKernelSet set)
{
	static const int dims[] = {1, 7, 15, 17, 63, 100, 784, 2001};

	for (int d = 0; d < (int) (sizeof(dims) / sizeof(dims[0])); d++)
	{
		float		first[6];

		FillInput(INPUT_RANDOM, dims[d]);
		RunAllKernels(set, dims[d], 0, 0, first);
		for (int slack = 1; slack < 32; slack++)
		{
			float		moved_a[6];
			float		moved_b[6];

			RunAllKernels(set, dims[d], slack, 0, moved_a);
			RunAllKernels(set, dims[d], 0, slack, moved_b);
			if (memcmp(first, moved_a, sizeof(first)) != 0 ||
				memcmp(first, moved_b, sizeof(first)) != 0)
			{
				printf("# %s: dim %d gives other bits at slack %d\n",
					   set->name, dims[d], slack);
				return false;
			}
		}
	}
	return true;
}

/* ----------------------------------------------------------------
 *		safe distances and packed distances (distance.h)
 * ----------------------------------------------------------------
 */

/*
 * Inputs where float sums fail: elements up to FLT_MAX (squares and
 * products overflow), around 1e-25 (products below FLT_TRUE_MIN: 0 in
 * float), subnormal elements, and a mix of 1 and 1e-30.
 */
typedef enum SafeClass
{
	SAFE_HUGE,
	SAFE_TINY,
	SAFE_SUBNORMAL,
	SAFE_MIXED,
	NUM_SAFE_CLASSES
} SafeClass;

static void
FillSafeInput(SafeClass cls, int dim)
{
	for (int i = 0; i < dim; i++)
	{
		switch (cls)
		{
			case SAFE_HUGE:
				SrcA[i] = 3e38f * RandomUnit();
				SrcB[i] = 3e38f * RandomUnit();
				break;
			case SAFE_TINY:
				SrcA[i] = 1e-25f * RandomSignedHalfToOne();
				SrcB[i] = 1e-25f * RandomSignedHalfToOne();
				break;
			case SAFE_SUBNORMAL:
				SrcA[i] = ldexpf((float) (int) (RandomUnit() * 1000), -149);
				SrcB[i] = ldexpf((float) (int) (RandomUnit() * 1000), -149);
				break;
			case SAFE_MIXED:
				SrcA[i] = (i % 2) ? 1e-30f * RandomUnit() : RandomUnit();
				SrcB[i] = (i % 3) ? 1e-30f * RandomUnit() : RandomUnit();
				break;
			default:
				abort();
		}
	}
}

/*
 * Within float precision of ref, relative to the magnitude of its terms
 * and nothing absolute: what the safe distances promise at every
 * magnitude (the float kernels' absolute dim * FLT_TRUE_MIN allowance is
 * what they fall back to double to avoid).
 */
static bool
WithinRelative(double got, const RefData *ref, int dim)
{
	return fabs(got - ref->value) <= TOL_FACTOR * dim * FLT_EPSILON * ref->magnitude;
}

/*
 * The safe distances through one tier's kernels, or (sabotage) the float
 * kernels alone, checked against the double reference on every class and
 * a range of dims.  Identical vectors must give 0, and their cosine parts
 * three equal sums.
 */
static bool
CheckSafe(GvKernelSet set, bool sabotage)
{
	static const int dims[] = {1, 2, 3, 4, 7, 8, 9, 16, 17, 33, 100, 784, 2001, 0};
	bool		passed = true;

	for (int cls = 0; cls < NUM_SAFE_CLASSES; cls++)
	{
		for (int k = 0; dims[k] != 0; k++)
		{
			int			dim = dims[k];
			const float *a;
			const float *b;
			RefData		l2,
						ip,
						l1,
						rab,
						raa,
						rbb;
			double		got[6];

			FillSafeInput((SafeClass) cls, dim);
			a = GuardBufPlace(&GuardA, SrcA, dim, 0);
			b = GuardBufPlace(&GuardB, SrcB, dim, dim % 5);
			Reference(a, b, dim, &l2, &ip, &l1, &rab, &raa, &rbb);
			if (sabotage)
			{
				got[0] = set->l2_squared(a, b, dim);
				got[1] = set->inner_product(a, b, dim);
				got[2] = set->l1(a, b, dim);
			}
			else
			{
				got[0] = GvSafeL2Squared(set->l2_squared, a, b, dim);
				got[1] = GvSafeInnerProduct(set->inner_product, a, b, dim);
				got[2] = GvSafeL1(a, b, dim);
			}
			GvSafeCosineParts(a, b, dim, &got[3], &got[4], &got[5]);
			if (!WithinRelative(got[0], &l2, dim) || !WithinRelative(got[1], &ip, dim) ||
				!WithinRelative(got[2], &l1, dim) || !WithinRelative(got[3], &rab, dim) ||
				!WithinRelative(got[4], &raa, dim) || !WithinRelative(got[5], &rbb, dim))
			{
				if (!sabotage)
					printf("#   %s safe, class %d, dim %d: l2 %.9g/%.9g ip %.9g/%.9g l1 %.9g/%.9g "
						   "cos %.9g/%.9g %.9g/%.9g %.9g/%.9g\n", set->name, cls, dim,
						   got[0], l2.value, got[1], ip.value, got[2], l1.value,
						   got[3], rab.value, got[4], raa.value, got[5], rbb.value);
				passed = false;
			}
			if (!sabotage)
			{
				double		ab,
							aa,
							bb;

				GvSafeCosineParts(a, a, dim, &ab, &aa, &bb);
				if (GvSafeL2Squared(set->l2_squared, a, a, dim) != 0 || !(ab == aa && aa == bb))
				{
					printf("#   %s safe, class %d, dim %d: a vector against itself\n",
						   set->name, cls, dim);
					passed = false;
				}
			}
		}
	}
	return passed;
}

/* The double kernels against the reference, to double precision. */
static bool
CheckDoubleKernels(void)
{
	for (int dim = 1; dim <= 300; dim++)
	{
		RefData		l2,
					ip,
					l1,
					ab,
					aa,
					bb;
		const float *a;
		const float *b;
		double		tol;

		FillSafeInput((SafeClass) (dim % NUM_SAFE_CLASSES), dim);
		a = GuardBufPlace(&GuardA, SrcA, dim, 0);
		b = GuardBufPlace(&GuardB, SrcB, dim, 0);
		Reference(a, b, dim, &l2, &ip, &l1, &ab, &aa, &bb);
		tol = 2.0 * dim * DBL_EPSILON;
		if (!(fabs(GvL2SquaredDistanceDouble(a, b, dim) - l2.value) <= tol * l2.magnitude) ||
			!(fabs(GvInnerProductDouble(a, b, dim) - ip.value) <= tol * ip.magnitude) ||
			!(fabs(GvL1DistanceDouble(a, b, dim) - l1.value) <= tol * l1.magnitude))
		{
			printf("#   double kernels, dim %d\n", dim);
			return false;
		}
	}
	return true;
}

/* The double a packed distance stands for. */
static double
PackRound(double d)
{
	return GvUnpackDistance(GvPackDistance(d));
}

/* The order keys sort packed distances by value, and undo exactly. */
static bool
CheckPackKeys(void)
{
	for (int i = 0; i < 200000; i++)
	{
		double		x = ldexp((double) (NextRandom() >> 11) / 9007199254740992.0,
							  (int) (NextRandom() % 601) - 300) * ((i & 1) ? -1 : 1);
		double		y = ldexp((double) (NextRandom() >> 11) / 9007199254740992.0,
							  (int) (NextRandom() % 601) - 300) * ((i & 2) ? -1 : 1);
		GvPackedDistance px = GvPackDistance(x);
		GvPackedDistance py = GvPackDistance(y);

		if (GvPackedDistanceFromKey(GvPackedDistanceKey(px)) != px ||
			GvDistanceKey(x) != GvPackedDistanceKey(px) ||
			(GvUnpackDistance(px) < GvUnpackDistance(py)) !=
			(GvPackedDistanceKey(px) < GvPackedDistanceKey(py)))
		{
			printf("#   keys of %.17g and %.17g\n", x, y);
			return false;
		}
	}
	return GvPackedDistanceKey(GvPackDistance(-0.0)) < GvPackedDistanceKey(GvPackDistance(0.0));
}

/* Floats of the normal range are stored bit for bit, and read back exactly. */
static bool
CheckPackNormal(void)
{
	for (int i = 0; i < 1000000; i++)
	{
		uint32_t	bits = (uint32_t) (NextRandom() >> 32);
		uint32_t	field = (bits >> 23) & 0xFF;
		float		f;

		if (field == 0 || field == 255)
			continue;
		memcpy(&f, &bits, sizeof(f));
		if (GvPackDistance(f) != bits || GvUnpackDistance(bits) != (double) f)
		{
			printf("#   float %.9g (0x%08x) packs to 0x%08x\n", (double) f, bits,
				   GvPackDistance(f));
			return false;
		}
	}
	return GvPackDistance(FLT_MAX) == 0x7F7FFFFF && GvPackDistance(FLT_MIN) == 0x00800000 &&
		GvPackDistance(0.0) == 0 && GvPackDistance(-0.0) == 0x80000000 &&
		CheckPackKeys();
}

static int
CompareDoubles(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : x > y;
}

#define PACK_WIDE_COUNT 120000

/*
 * Beyond float's range: never reordered (packing is monotone), within
 * 2^-15 relative, ordered against the normal range, finite throughout
 * (an infinity or NaN saturates), and the least nonzero distance a pair of
 * floats can have (2^-298) is not 0.
 */
static bool
CheckPackWide(void)
{
	static double values[PACK_WIDE_COUNT + 1];
	double		prevPacked = -HUGE_VAL;

	/* magnitudes 2^-300 .. 2^300, both signs, and 0, in order */
	for (int i = 0; i < PACK_WIDE_COUNT; i++)
	{
		double		frac = (double) (NextRandom() >> 11) / 9007199254740992.0;

		values[i] = ldexp(1.0 + frac, (int) (NextRandom() % 601) - 300);
		if (i % 2)
			values[i] = -values[i];
	}
	values[PACK_WIDE_COUNT] = 0;
	qsort(values, PACK_WIDE_COUNT + 1, sizeof(double), CompareDoubles);
	for (int i = 0; i <= PACK_WIDE_COUNT; i++)
	{
		double		d = values[i];
		double		p = PackRound(d);

		if (!(p >= prevPacked) || !(fabs(p - d) <= fabs(d) * ldexp(1, -15)))
		{
			printf("#   %.17g packs to %.17g after %.17g\n", d, p, prevPacked);
			return false;
		}
		prevPacked = p;
	}
	return PackRound(ldexp(1, -298)) > 0 && PackRound(-ldexp(1, -298)) < 0 &&
		PackRound(ldexp(1, -298)) < FLT_TRUE_MIN &&
		PackRound((double) FLT_MAX * 1.000001) > FLT_MAX &&
		PackRound(nextafter(FLT_MAX, HUGE_VAL)) >= FLT_MAX &&
		PackRound(nextafter(FLT_MIN, 0)) <= FLT_MIN && PackRound(FLT_MIN * (1 - 0x1p-20)) < FLT_MIN &&
		isfinite(PackRound(HUGE_VAL)) && PackRound(HUGE_VAL) > 1e100 &&
		PackRound(-HUGE_VAL) < -1e100 && PackRound(NAN) > 1e100;
}

/* Tests of the safe and packed distances. */
static void
SafeChecks(GvKernelSet sets, int nsets)
{
	char		desc[200];

	for (int t = 0; t < nsets; t++)
	{
		snprintf(desc, sizeof(desc),
				 "%s: safe distances within float precision at every magnitude, 0 for a == b",
				 sets[t].name);
		if (sets[t].supported())
			Ok(CheckSafe(&sets[t], false), desc);
		else
			Skip(desc);
	}
	Ok(!CheckSafe(&sets[0], true),
	   "self-check: the float kernels alone fail that comparison");
	Ok(CheckDoubleKernels(), "double kernels within double precision");
	Ok(CheckPackNormal(), "packed distances: normal floats bit for bit");
	Ok(CheckPackWide(), "packed distances: monotone and within 2^-15 beyond float's range");
}

/*
 * The half kernels of a tier against a double reference over the widened
 * halves, at dimensions around every block and tail size: within float
 * precision (dim * FLT_EPSILON times the sum of the terms' magnitudes), and
 * the same bits when the vectors sit at other addresses.
 */
static bool
CheckHalfKernels(GvKernelSet set)
{
	static const int dims[] = {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49,
	255, 256, 257, 3072, 16000};
	static uint16_t ha[16000 + 8];
	static uint16_t hb[16000 + 8];

	for (int d = 0; d < (int) (sizeof(dims) / sizeof(dims[0])); d++)
	{
		int			dim = dims[d];
		double		l2 = 0,
					ip = 0,
					l1 = 0,
					aa = 0,
					bb = 0,
					ml2 = 0,
					mip = 0,
					maa = 0,
					mbb = 0;
		float		fab,
					faa,
					fbb;
		double		tol = (dim + 8) * FLT_EPSILON;

		for (int i = 0; i < dim; i++)
		{
			/* up to 2^15 in magnitude: large sums, no float overflow */
			ha[i + 1] = GvFloatToHalf(RandomUnit() * (i % 3 == 0 ? 30000.0f : 1.0f));
			hb[i + 1] = GvFloatToHalf(RandomUnit() * (i % 5 == 0 ? 0.001f : 2.0f));
		}
		for (int i = 0; i < dim; i++)
		{
			double		x = GvHalfToFloat(ha[i + 1]);
			double		y = GvHalfToFloat(hb[i + 1]);

			l2 += (x - y) * (x - y);
			ml2 += (x - y) * (x - y);
			ip += x * y;
			mip += fabs(x * y);
			l1 += fabs(x - y);
			aa += x * x;
			bb += y * y;
			maa += x * x;
			mbb += y * y;
		}
		set->half_cosine_parts(ha + 1, hb + 1, dim, &fab, &faa, &fbb);
		if (fabs(set->half_l2_squared(ha + 1, hb + 1, dim) - l2) > tol * ml2 ||
			fabs(set->half_inner_product(ha + 1, hb + 1, dim) - ip) > tol * mip ||
			fabs(set->half_l1(ha + 1, hb + 1, dim) - l1) > tol * l1 ||
			fabs(fab - ip) > tol * mip || fabs(faa - aa) > tol * maa ||
			fabs(fbb - bb) > tol * mbb)
		{
			printf("#   dim %d: half kernels off the double reference\n", dim);
			return false;
		}
		/* placement: the same halves one element further on */
		memmove(ha, ha + 1, sizeof(uint16_t) * dim);
		memmove(hb + 2, hb + 1, sizeof(uint16_t) * dim);
		{
			float		r1 = set->half_l2_squared(ha, hb + 2, dim);

			memmove(ha + 1, ha, sizeof(uint16_t) * dim);
			memmove(hb + 1, hb + 2, sizeof(uint16_t) * dim);
			if (r1 != set->half_l2_squared(ha + 1, hb + 1, dim))
			{
				printf("#   dim %d: half L2 depends on addresses\n", dim);
				return false;
			}
		}
	}
	return true;
}

/*
 * A tier's half kernels against the scalar tier's (the reference every tier
 * must agree with), for every dimension from 1 to 600 -- each tail length of
 * the 8- and 16-wide loads, and both unrolled loops -- on halves over the
 * whole finite range: the two may differ only by float rounding,
 * (dim + 8) * FLT_EPSILON times the sum of the magnitudes of the terms.
 */
static bool
CheckHalfAgainstScalar(GvKernelSet set, GvKernelSet scalar)
{
	static uint16_t ha[600];
	static uint16_t hb[600];

	for (int dim = 1; dim <= 600; dim++)
	{
		double		tol = (dim + 8) * FLT_EPSILON;
		double		ml2 = 0,
					mip = 0,
					ml1 = 0,
					maa = 0,
					mbb = 0;
		float		sab,
					saa,
					sbb,
					tab,
					taa,
					tbb;

		for (int i = 0; i < dim; i++)
		{
			double		x,
						y;

			ha[i] = GvFloatToHalf(RandomUnit() * (i % 7 == 0 ? 60000.0f : 3.0f));
			hb[i] = GvFloatToHalf(RandomUnit() * (i % 4 == 0 ? 1e-4f : 100.0f));
			x = GvHalfToFloat(ha[i]);
			y = GvHalfToFloat(hb[i]);
			ml2 += (x - y) * (x - y);
			mip += fabs(x * y);
			ml1 += fabs(x - y);
			maa += x * x;
			mbb += y * y;
		}
		scalar->half_cosine_parts(ha, hb, dim, &sab, &saa, &sbb);
		set->half_cosine_parts(ha, hb, dim, &tab, &taa, &tbb);
		if (fabs((double) set->half_l2_squared(ha, hb, dim) -
				 scalar->half_l2_squared(ha, hb, dim)) > 2 * tol * ml2 ||
			fabs((double) set->half_inner_product(ha, hb, dim) -
				 scalar->half_inner_product(ha, hb, dim)) > 2 * tol * mip ||
			fabs((double) set->half_l1(ha, hb, dim) -
				 scalar->half_l1(ha, hb, dim)) > 2 * tol * ml1 ||
			fabs((double) tab - sab) > 2 * tol * mip ||
			fabs((double) taa - saa) > 2 * tol * maa ||
			fabs((double) tbb - sbb) > 2 * tol * mbb)
		{
			printf("#   dim %d: %s half kernels off the scalar tier's\n", dim, set->name);
			return false;
		}
	}
	return true;
}

#define NUM_SELECTION_TESTS 10
#define NUM_SELF_CHECKS 3
#define NUM_SAFE_CHECKS 4


int
main(void)
{
	int			nsets;
	GvKernelSet sets = GvDistanceKernelSets(&nsets);
	int			t;
	int			kind;
	int			cls;
	int			planned;

	GuardBufInit(&GuardA);
	GuardBufInit(&GuardB);

	planned = NUM_SELECTION_TESTS + NUM_SELF_CHECKS + NUM_SAFE_CHECKS +
		nsets * (NUM_KERNELS * NUM_INPUT_CLASSES + 4);
	printf("1..%d\n", planned);

	SelectionChecks(sets, nsets);
	SelfChecks(&sets[0]);
	SafeChecks(sets, nsets);

	for (t = 0; t < nsets; t++)
	{
		bool		supported = sets[t].supported();
		char		desc[200];

		for (kind = 0; kind < NUM_KERNELS; kind++)
		{
			for (cls = 0; cls < NUM_INPUT_CLASSES; cls++)
			{
				if (!supported)
				{
					snprintf(desc, sizeof(desc),
							 "%s not supported by this CPU", sets[t].name);
					Skip(desc);
					continue;
				}
				snprintf(desc, sizeof(desc), "%s %s: %s",
						 sets[t].name, KernelNames[kind],
						 InputClassNames[cls]);
				Ok(CheckKernel(&sets[t], (KernelKind) kind, (InputClass) cls),
				   desc);
			}
		}
		snprintf(desc, sizeof(desc), "%s: same bits wherever the vectors sit in memory",
				 sets[t].name);
		if (supported)
			Ok(CheckPlacementIndependent(&sets[t]), desc);
		else
			Skip(desc);
		snprintf(desc, sizeof(desc), "%s: half kernels within float precision, placement-independent",
				 sets[t].name);
		if (supported)
			Ok(CheckHalfKernels(&sets[t]), desc);
		else
			Skip(desc);
		snprintf(desc, sizeof(desc), "%s: half kernels agree with the scalar tier's, dim 1..600",
				 sets[t].name);
		if (supported)
			Ok(CheckHalfAgainstScalar(&sets[t], &sets[0]), desc);
		else
			Skip(desc);
	}

	if (TestNumber != planned)
	{
		printf("# ran %d tests, planned %d\n", TestNumber, planned);
		return 1;
	}
	if (Failures > 0)
		printf("# %d of %d tests failed\n", Failures, planned);
	return Failures > 0 ? 1 : 0;
}
