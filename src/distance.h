/*
 * distance.h
 *	  Distance kernels over float32 vectors, shared by the gvector type and
 *	  every index access method.
 *
 * This header (and distance.c) deliberately uses no PostgreSQL headers, so
 * the kernels can be compiled into the standalone unit test and the
 * micro-benchmark under test/ exactly as they are compiled into the
 * extension.
 *
 * Each kernel family exists in several tiers: a portable loop the compiler
 * may auto-vectorize, AVX2+FMA intrinsics, and AVX-512F intrinsics.  The
 * preferred tier the CPU supports is chosen once, by GvDistanceInit(), and kept
 * in the function pointers below.
 */
#ifndef GV_DISTANCE_H
#define GV_DISTANCE_H

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/*
 * Kernel signatures: a and b hold dim floats; dim >= 1.  A kernel's result
 * depends only on the values, never on where they sit in memory: the same
 * pair gives the same bits every time, in every backend.
 */
typedef float (*GvPairKernel) (const float *a, const float *b, int dim);
typedef void (*GvCosineKernel) (const float *a, const float *b, int dim,
								float *ab, float *aa, float *bb);

/*
 * The same over IEEE half floats (ghalfvec): a and b hold dim binary16 bit
 * patterns, widened to float and summed in float.  A half is at most 65504
 * and at least 2^-24 in magnitude, so no sum of 16,000 squares or products
 * of halves overflows or underflows float: these need no safe fallback.
 */
typedef float (*GvHalfPairKernel) (const uint16_t *a, const uint16_t *b, int dim);
typedef void (*GvHalfCosineKernel) (const uint16_t *a, const uint16_t *b, int dim,
									float *ab, float *aa, float *bb);

/* One tier of kernels, e.g. "scalar", "avx2", "avx512". */
typedef struct GvKernelSetData
{
	const char *name;
	bool		(*supported) (void);	/* can this CPU run the tier? */
	GvPairKernel l2_squared;	/* sum (a-b)^2 */
	GvPairKernel inner_product; /* sum a*b */
	GvPairKernel l1;			/* sum |a-b| */
	GvCosineKernel cosine_parts;	/* a.b, a.a, b.b in one pass */
	GvHalfPairKernel half_l2_squared;	/* the same over halves */
	GvHalfPairKernel half_inner_product;
	GvHalfPairKernel half_l1;
	GvHalfCosineKernel half_cosine_parts;
} GvKernelSetData;

typedef const GvKernelSetData *GvKernelSet;

/* The kernels in use, chosen once by GvDistanceInit(). */
extern GvPairKernel GvL2SquaredDistance;
extern GvPairKernel GvInnerProduct;
extern GvPairKernel GvL1Distance;
extern GvCosineKernel GvCosineParts;
extern GvHalfPairKernel GvHalfL2SquaredDistance;
extern GvHalfPairKernel GvHalfInnerProduct;
extern GvHalfPairKernel GvHalfL1Distance;
extern GvHalfCosineKernel GvHalfCosineParts;

/*
 * The same kernels for vectors that are mostly in the CPU's caches: an
 * index build, which compares each new vector with the same neighbourhood
 * of the graph again and again.  There the AVX-512 tier is the faster one
 * (99 against 82 GB/s in L2, and a gv_hnsw build 10% faster), while on
 * vectors streamed from memory it is the slower (21 against 34 GB/s), which
 * is why the tier above stays AVX2.  Without AVX-512, or when a tier is
 * forced, these are the kernels above.
 */
extern GvPairKernel GvL2SquaredDistanceCached;
extern GvPairKernel GvInnerProductCached;

/*
 * Distances that are right at every magnitude a float can hold.
 *
 * The kernels above sum in float.  A sum of squares or products overflows
 * float once the elements pass about 1e19 (and an inner product of two
 * huge vectors can become inf - inf = NaN), and it underflows below about
 * 1e-19: products under FLT_MIN lose their precision as subnormals, and
 * those under FLT_TRUE_MIN become 0, so [1e-23] and [-1e-23] would be at
 * distance 0.  In double nothing of the kind can happen: a product of two
 * floats is exact in double, 2000 times FLT_MAX squared is far below
 * DBL_MAX, and FLT_TRUE_MIN squared far above DBL_MIN.
 *
 * So the distance functions below run the float kernel and keep its result
 * when it is trustworthy, and recompute in double otherwise.  A float
 * result r is trustworthy when FLT_MIN <= |r| <= FLT_MAX: finite, no lane
 * overflowed (an inf never turns finite again), and what underflow can have
 * lost -- at most 2^-150 for each of the dim terms -- is below the float
 * rounding error the kernels have anyway (dim * FLT_EPSILON * |r|).  On
 * ordinary data that costs one comparison; the double pass runs only for
 * huge or tiny vectors, exact zeros (identical vectors under L2, orthogonal
 * ones under inner product) included.  The results are doubles: a squared
 * distance of 1e20-sized vectors does not fit in a float.  Like the
 * kernels, each result depends on the values only, never on where they sit
 * in memory, and is symmetric in its arguments.
 */
extern double GvL2SquaredDistanceDouble(const float *a, const float *b, int dim);
extern double GvInnerProductDouble(const float *a, const float *b, int dim);
extern double GvL1DistanceDouble(const float *a, const float *b, int dim);

#if defined(__GNUC__) || defined(__clang__)
#define GV_LIKELY(x)	__builtin_expect(!!(x), 1)
#else
#define GV_LIKELY(x)	(x)
#endif

/*
 * Is a float kernel's sum trustworthy (see above)?  FLT_MIN <= |r| <=
 * FLT_MAX is an exponent field from 1 to 254: one unsigned comparison on
 * the bits, which costs the hot path less than two float comparisons.
 */
static inline bool
GvFloatSumTrusted(float r)
{
	uint32_t	bits;

	memcpy(&bits, &r, sizeof(bits));
	return ((bits & UINT32_C(0x7FFFFFFF)) - UINT32_C(0x00800000)) <
		UINT32_C(0x7F800000) - UINT32_C(0x00800000);
}

/*
 * kernel's float sum, or wide's double one where the float is not
 * trustworthy.  GvSafeL2Squared and GvSafeInnerProduct take the squared-L2
 * or inner-product kernel of any tier (the operators', the build's).
 */
typedef double (*GvWideKernel) (const float *a, const float *b, int dim);

static inline double
GvSafeSum(GvPairKernel kernel, GvWideKernel wide, const float *a, const float *b, int dim)
{
	float		r = kernel(a, b, dim);

	if (GV_LIKELY(GvFloatSumTrusted(r)))
		return r;
	return wide(a, b, dim);
}

#define GvSafeL2Squared(kernel, a, b, dim) \
	GvSafeSum((kernel), GvL2SquaredDistanceDouble, (a), (b), (dim))
#define GvSafeInnerProduct(kernel, a, b, dim) \
	GvSafeSum((kernel), GvInnerProductDouble, (a), (b), (dim))

/*
 * L1 distance, safe at any magnitude.  A sum of absolute values cannot lose
 * precision to underflow (adding subnormals is exact), only overflow.
 */
static inline double
GvSafeL1(const float *a, const float *b, int dim)
{
	float		r = GvL1Distance(a, b, dim);

	if (GV_LIKELY(fabsf(r) <= FLT_MAX))
		return r;
	return GvL1DistanceDouble(a, b, dim);
}

/*
 * The three sums of a cosine, safe at any magnitude.  a.b may be small or
 * zero in float: what matters for the cosine is its error relative to
 * |a| |b|, which a.a, b.b >= FLT_MIN keep as small as float rounding.
 */
static inline void
GvSafeCosineParts(const float *a, const float *b, int dim,
				  double *ab, double *aa, double *bb)
{
	float		fab,
				faa,
				fbb;

	GvCosineParts(a, b, dim, &fab, &faa, &fbb);
	if (GV_LIKELY(fabsf(fab) <= FLT_MAX && GvFloatSumTrusted(faa) &&
				  GvFloatSumTrusted(fbb)))
	{
		*ab = fab;
		*aa = faa;
		*bb = fbb;
		return;
	}
	*ab = GvInnerProductDouble(a, b, dim);
	*aa = GvInnerProductDouble(a, a, dim);
	*bb = GvInnerProductDouble(b, b, dim);
}

/*
 * Distances kept on disk in 32 bits (gv_hnsw's neighbour lists).  A
 * distance that a float holds as a normal number
 * is stored as that float, bit for bit, as before; the bit patterns a
 * distance never needs -- infinities and NaNs (exponent field 255) and
 * subnormals (exponent field 0) -- hold the rest of double's range, which
 * the safe distances above reach: magnitudes from FLT_MAX up to 2^384 and
 * from FLT_MIN down to 2^-382, each with a 15-bit fraction.  Unpacking
 * gives a double; pack then unpack is monotone (never reorders two
 * distances, though far-out ones may tie) and exact for floats' normal
 * range.  A stored value is only ever compared after GvUnpackDistance,
 * never read as a float.
 */
typedef uint32_t GvPackedDistance;

extern GvPackedDistance GvPackDistanceWide(double d);
extern double GvUnpackDistance(GvPackedDistance p);

/* Pack d: the float where it rounds to a normal one, else the wide codes. */
static inline GvPackedDistance
GvPackDistance(double d)
{
	float		f = (float) d;
	uint32_t	bits;

	if (GV_LIKELY(GvFloatSumTrusted(f)))
	{
		memcpy(&bits, &f, sizeof(bits));
		return bits;
	}
	return GvPackDistanceWide(d);
}

/*
 * An unsigned key in the order of the distances packed values stand for,
 * negative ones too (for heaps and sorts): within a sign the codes grow
 * with the magnitude, so flip the negative ones.  GvDistanceKey packs and
 * keys a distance in one step; GvPackedDistanceFromKey undoes the key.
 */
static inline uint32_t
GvPackedDistanceKey(GvPackedDistance p)
{
	return (p & UINT32_C(0x80000000)) ? ~p : p | UINT32_C(0x80000000);
}

static inline GvPackedDistance
GvPackedDistanceFromKey(uint32_t key)
{
	return (key & UINT32_C(0x80000000)) ? key & UINT32_C(0x7FFFFFFF) : ~key;
}

static inline uint32_t
GvDistanceKey(double d)
{
	return GvPackedDistanceKey(GvPackDistance(d));
}

/* Pick the preferred tier this CPU supports; idempotent. */
extern void GvDistanceInit(void);

/* Name of the tier in use ("scalar", "avx2", "avx512"). */
extern const char *GvDistanceKernelName(void);

/*
 * Every tier compiled into this build, in order of preference (the default
 * choice, among those the CPU supports, last), whether or not the CPU
 * supports it (check ->supported()); for tests and benchmarks.
 */
extern GvKernelSet GvDistanceKernelSets(int *count);

/* Force a tier by name (tests, benchmarks); false if unknown/unsupported. */
extern bool GvDistanceUseKernelSet(const char *name);

#endif							/* GV_DISTANCE_H */
