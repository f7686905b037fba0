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

#include <stdbool.h>

/*
 * Kernel signatures: a and b hold dim floats; dim >= 1.  A kernel's result
 * depends only on the values, never on where they sit in memory: the same
 * pair gives the same bits every time, in every backend.
 */
typedef float (*GvPairKernel) (const float *a, const float *b, int dim);
typedef void (*GvCosineKernel) (const float *a, const float *b, int dim,
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
} GvKernelSetData;

typedef const GvKernelSetData *GvKernelSet;

/* The kernels in use, chosen once by GvDistanceInit(). */
extern GvPairKernel GvL2SquaredDistance;
extern GvPairKernel GvInnerProduct;
extern GvPairKernel GvL1Distance;
extern GvCosineKernel GvCosineParts;

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
