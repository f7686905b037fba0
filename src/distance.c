/*-------------------------------------------------------------------------
 *
 * distance.c
 *	  Distance kernels over float32 vectors, in three tiers chosen once.
 *
 * Every kernel family (squared L2, inner product, L1 and the three sums
 * cosine distance needs) exists in up to three tiers:
 *
 * scalar	a portable loop, always compiled.  It accumulates into a small
 *			array of independent lanes, so the compiler can vectorize it
 *			with whatever the baseline ISA offers (SSE2 on x86_64, NEON on
 *			aarch64) without -ffast-math: each lane is its own sum, so no
 *			floating-point reassociation is needed.
 * avx2		AVX2 + FMA intrinsics, 8 floats per register.
 * avx512	AVX-512F intrinsics, 16 floats per register.
 *
 * The same four families over IEEE half floats (ghalfvec) come in two: the
 * scalar tier's widens blocks with the shared codec of quantize.c and runs
 * the scalar float kernels; the AVX2 and AVX-512 tiers share one F16C + FMA
 * kernel per family that widens eight halves per instruction, and the
 * avx512fp16 tier (AVX-512 FP16 CPUs) widens sixteen per instruction into
 * 512-bit float sums.
 *
 * The SIMD tiers are compiled with __attribute__((target(...))) rather than
 * with -mavx2 for the whole file, so the extension built with the plain
 * PostgreSQL flags still carries them, and the CPU is asked at load time
 * (GvDistanceInit) which ones it can run.  Defining GV_NO_SIMD gives a
 * portable build with the scalar tier only.
 *
 * All tiers accumulate in float lanes and add the lanes up at the end, as
 * pgvector does: a float sum over n terms is accurate to about n * FLT_EPSILON
 * times the sum of the magnitudes of the terms, which is far below what the
 * index searches can notice, and it keeps the kernels bandwidth-bound.  The
 * tiers sum in different orders (and the SIMD ones fuse multiply and add),
 * so their results may differ in the last bits, never by more than that
 * bound; test/kernels/test_distance.c checks exactly this.  Where a float
 * sum overflows or underflows the bound means nothing: the safe distances
 * of distance.h recompute those in double (the double loops below).
 *
 * This file uses no PostgreSQL headers: it is compiled unchanged into the
 * standalone unit test and micro-benchmark under test/.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "distance.h"
#include "quantize.h"

/*
 * The SIMD tiers need x86_64 and a compiler that knows the target attribute
 * and __builtin_cpu_supports (GCC and Clang both define __GNUC__).
 */
#if !defined(GV_NO_SIMD) && defined(__x86_64__) && defined(__GNUC__)
#define GV_HAVE_X86_SIMD 1
#include <immintrin.h>
#endif

/*
 * Number of independent accumulators in the scalar tier: eight lanes are two
 * SSE (or NEON) registers, so two chains of adds overlap.  Sixteen would hide
 * more latency in theory, but GCC 12 at -O2 then keeps the lanes in memory
 * instead of registers and the loop runs at half the speed.
 *
 * The loops below index through a pointer to the current block (pa[j]), not
 * a[i + j]: under -fwrapv, which PostgreSQL builds with, GCC cannot prove
 * that i + j does not wrap and vectorizes a[i + j] as a gather.
 */
#define GV_SCALAR_LANES 8

/* Environment variable that may force a lower tier, e.g. "scalar". */
#define GV_KERNEL_ENV "GIGAVECTOR_KERNEL"


/* ----------------------------------------------------------------
 *		scalar tier
 * ----------------------------------------------------------------
 */

/* The scalar tier runs everywhere. */
static bool
ScalarSupported(void)
{
	return true;
}

/* Sum of (a[i] - b[i])^2, portable. */
static float
L2SquaredScalar(const float *a, const float *b, int dim)
{
	float		lane[GV_SCALAR_LANES] = {0};
	float		result = 0.0f;
	int			i = 0;
	int			j;

	for (; i + GV_SCALAR_LANES <= dim; i += GV_SCALAR_LANES)
	{
		const float *pa = a + i;
		const float *pb = b + i;

		for (j = 0; j < GV_SCALAR_LANES; j++)
		{
			float		diff = pa[j] - pb[j];

			lane[j] += diff * diff;
		}
	}
	for (; i < dim; i++)
	{
		float		diff = a[i] - b[i];

		result += diff * diff;
	}
	for (j = 0; j < GV_SCALAR_LANES; j++)
		result += lane[j];
	return result;
}

/* Sum of a[i] * b[i], portable. */
static float
InnerProductScalar(const float *a, const float *b, int dim)
{
	float		lane[GV_SCALAR_LANES] = {0};
	float		result = 0.0f;
	int			i = 0;
	int			j;

	for (; i + GV_SCALAR_LANES <= dim; i += GV_SCALAR_LANES)
	{
		const float *pa = a + i;
		const float *pb = b + i;

		for (j = 0; j < GV_SCALAR_LANES; j++)
			lane[j] += pa[j] * pb[j];
	}
	for (; i < dim; i++)
		result += a[i] * b[i];
	for (j = 0; j < GV_SCALAR_LANES; j++)
		result += lane[j];
	return result;
}

/* Sum of |a[i] - b[i]|, portable. */
static float
L1Scalar(const float *a, const float *b, int dim)
{
	float		lane[GV_SCALAR_LANES] = {0};
	float		result = 0.0f;
	int			i = 0;
	int			j;

	for (; i + GV_SCALAR_LANES <= dim; i += GV_SCALAR_LANES)
	{
		const float *pa = a + i;
		const float *pb = b + i;

		for (j = 0; j < GV_SCALAR_LANES; j++)
			lane[j] += fabsf(pa[j] - pb[j]);
	}
	for (; i < dim; i++)
		result += fabsf(a[i] - b[i]);
	for (j = 0; j < GV_SCALAR_LANES; j++)
		result += lane[j];
	return result;
}

/* a.b, a.a and b.b in one pass over both vectors, portable. */
static void
CosinePartsScalar(const float *a, const float *b, int dim,
				  float *ab, float *aa, float *bb)
{
	float		lab[GV_SCALAR_LANES] = {0};
	float		laa[GV_SCALAR_LANES] = {0};
	float		lbb[GV_SCALAR_LANES] = {0};
	float		sab = 0.0f;
	float		saa = 0.0f;
	float		sbb = 0.0f;
	int			i = 0;
	int			j;

	for (; i + GV_SCALAR_LANES <= dim; i += GV_SCALAR_LANES)
	{
		const float *pa = a + i;
		const float *pb = b + i;

		/* three loops, not one: GCC keeps the lanes in registers only so */
		for (j = 0; j < GV_SCALAR_LANES; j++)
			lab[j] += pa[j] * pb[j];
		for (j = 0; j < GV_SCALAR_LANES; j++)
			laa[j] += pa[j] * pa[j];
		for (j = 0; j < GV_SCALAR_LANES; j++)
			lbb[j] += pb[j] * pb[j];
	}
	for (; i < dim; i++)
	{
		sab += a[i] * b[i];
		saa += a[i] * a[i];
		sbb += b[i] * b[i];
	}
	for (j = 0; j < GV_SCALAR_LANES; j++)
	{
		sab += lab[j];
		saa += laa[j];
		sbb += lbb[j];
	}
	*ab = sab;
	*aa = saa;
	*bb = sbb;
}


/*
 * The half kernels, portable: widen a block of each vector with the shared
 * codec (quantize.c, which uses F16C where the CPU has it) and run the
 * float kernel of the tier on it.  Blocks of 256 keep both on the stack.
 */
#define GV_HALF_BLOCK 256

#define GV_HALF_BLOCKED(fname, kernel) \
static float \
fname(const uint16_t *a, const uint16_t *b, int dim) \
{ \
	float		fa[GV_HALF_BLOCK]; \
	float		fb[GV_HALF_BLOCK]; \
	float		result = 0.0f; \
\
	for (int i = 0; i < dim; i += GV_HALF_BLOCK) \
	{ \
		int			n = dim - i < GV_HALF_BLOCK ? dim - i : GV_HALF_BLOCK; \
\
		GvHalfDecode(a + i, fa, n); \
		GvHalfDecode(b + i, fb, n); \
		result += kernel(fa, fb, n); \
	} \
	return result; \
}

GV_HALF_BLOCKED(HalfL2SquaredScalar, L2SquaredScalar)
GV_HALF_BLOCKED(HalfInnerProductScalar, InnerProductScalar)
GV_HALF_BLOCKED(HalfL1Scalar, L1Scalar)

static void
HalfCosinePartsScalar(const uint16_t *a, const uint16_t *b, int dim,
					  float *ab, float *aa, float *bb)
{
	float		fa[GV_HALF_BLOCK];
	float		fb[GV_HALF_BLOCK];

	*ab = *aa = *bb = 0.0f;
	for (int i = 0; i < dim; i += GV_HALF_BLOCK)
	{
		int			n = dim - i < GV_HALF_BLOCK ? dim - i : GV_HALF_BLOCK;
		float		pab,
					paa,
					pbb;

		GvHalfDecode(a + i, fa, n);
		GvHalfDecode(b + i, fb, n);
		CosinePartsScalar(fa, fb, n, &pab, &paa, &pbb);
		*ab += pab;
		*aa += paa;
		*bb += pbb;
	}
}

#ifdef GV_HAVE_X86_SIMD

/* ----------------------------------------------------------------
 *		avx2 tier
 *
 * Four accumulators of eight floats for the long part: an FMA has a latency
 * of four or five cycles and two can issue per cycle, so a single register
 * would stall on its own previous result.  Then whole registers one at a
 * time, and the last 1..7 floats with a masked load, which reads (and can
 * fault on) only the lanes whose mask bit is set, so nothing past the end of
 * the vector is touched.
 * ----------------------------------------------------------------
 */

/*
 * libgcc and compiler-rt only report AVX/AVX2/FMA when the OS also saves the
 * YMM registers (they check XCR0 through xgetbv), so this respects OS support.
 */
static bool
Avx2Supported(void)
{
	__builtin_cpu_init();
	/* every AVX2 CPU has F16C, which the tier's half kernels use */
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
		__builtin_cpu_supports("f16c");
}

/* Mask selecting the first n (0..8) of eight lanes, for _mm256_maskload_ps. */
__attribute__((target("avx2,fma")))
static inline __m256i
Avx2TailMask(int n)
{
	return _mm256_cmpgt_epi32(_mm256_set1_epi32(n),
							  _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Sum of the eight lanes of v. */
__attribute__((target("avx2,fma")))
static inline float
Avx2HorizontalSum(__m256 v)
{
	__m128		s = _mm_add_ps(_mm256_castps256_ps128(v),
							   _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/* The float kernels: L2SquaredAvx2, InnerProductAvx2, L1Avx2, CosinePartsAvx2 */
#define GVT_SUFFIX			Avx2
#define GVT_TARGET			"avx2,fma"
#define GVT_VEC				__m256
#define GVT_WIDTH			8
#define GVT_ZERO()			_mm256_setzero_ps()
#define GVT_LOAD(p)			_mm256_loadu_ps(p)
#define GVT_MASK			__m256i
#define GVT_TAIL_MASK(n)	Avx2TailMask(n)
#define GVT_TAIL_LOAD(p, m) _mm256_maskload_ps((p), (m))
#define GVT_ADD(a, b)		_mm256_add_ps((a), (b))
#define GVT_SUB(a, b)		_mm256_sub_ps((a), (b))
#define GVT_FMADD(a, b, c)	_mm256_fmadd_ps((a), (b), (c))
/* |x| clears the sign bit */
#define GVT_ABS(x)			_mm256_andnot_ps(_mm256_set1_ps(-0.0f), (x))
#define GVT_SUM(v)			Avx2HorizontalSum(v)
#include "distance_tier.h"


/*
 * The half kernels with F16C + FMA, for the AVX2 and AVX-512 tiers: eight
 * halves widened per instruction (vcvtph2ps), two accumulators.  The last
 * dim % 8 halves are copied into a zeroed block of eight: a zero pair adds
 * exactly nothing to any of the sums, so the result does not depend on where
 * the vectors sit in memory.
 */
__attribute__((target("avx2,fma,f16c")))
static inline __m256
HalfLoad8(const uint16_t *p)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) p));
}

__attribute__((target("avx2,fma,f16c")))
static inline __m256
HalfLoadTail(const uint16_t *p, int n)
{
	uint16_t	block[8] = {0};

	memcpy(block, p, sizeof(uint16_t) * n);
	return HalfLoad8(block);
}

/* The half kernels: HalfL2SquaredF16c, HalfInnerProductF16c, HalfL1F16c, HalfCosinePartsF16c */
#define GVT_SUFFIX			F16c
#define GVT_TARGET			"avx2,fma,f16c"
#define GVT_VEC				__m256
#define GVT_WIDTH			8
#define GVT_ZERO()			_mm256_setzero_ps()
#define GVT_HALF_LOAD(p)	HalfLoad8(p)
#define GVT_HALF_TAIL(p, n) HalfLoadTail((p), (n))
#define GVT_ADD(a, b)		_mm256_add_ps((a), (b))
#define GVT_SUB(a, b)		_mm256_sub_ps((a), (b))
#define GVT_FMADD(a, b, c)	_mm256_fmadd_ps((a), (b), (c))
/* |x| clears the sign bit */
#define GVT_ABS(x)			_mm256_and_ps(_mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)), (x))
#define GVT_SUM(v)			Avx2HorizontalSum(v)
#include "distance_tier.h"

/* ----------------------------------------------------------------
 *		avx512 tier
 *
 * The float kernels are the AVX2 tier's (distance_tier.h) with sixteen
 * floats per register; the tail is a single zero-masked load.  Only
 * AVX-512F instructions are used (no DQ/BW/VL), so every AVX-512 CPU can
 * run them.
 * ----------------------------------------------------------------
 */

/* As above, __builtin_cpu_supports also checks that the OS saves ZMM state. */
static bool
Avx512Supported(void)
{
	__builtin_cpu_init();
	/* with AVX2, FMA and F16C for the half kernels, as every AVX-512 CPU has */
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
		__builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

/* Mask selecting the first n (1..15) of sixteen lanes. */
#define AVX512_TAIL_MASK(n) ((__mmask16) ((1u << (n)) - 1))

/*
 * The float kernels: L2SquaredAvx512, InnerProductAvx512, L1Avx512,
 * CosinePartsAvx512.  _mm512_abs_ps is an AVX-512F integer AND, unlike
 * _mm512_andnot_ps, which needs AVX-512DQ.
 */
#define GVT_SUFFIX			Avx512
#define GVT_TARGET			"avx512f"
#define GVT_VEC				__m512
#define GVT_WIDTH			16
#define GVT_ZERO()			_mm512_setzero_ps()
#define GVT_LOAD(p)			_mm512_loadu_ps(p)
#define GVT_MASK			__mmask16
#define GVT_TAIL_MASK(n)	AVX512_TAIL_MASK(n)
#define GVT_TAIL_LOAD(p, m) _mm512_maskz_loadu_ps((m), (p))
#define GVT_ADD(a, b)		_mm512_add_ps((a), (b))
#define GVT_SUB(a, b)		_mm512_sub_ps((a), (b))
#define GVT_FMADD(a, b, c)	_mm512_fmadd_ps((a), (b), (c))
#define GVT_ABS(x)			_mm512_abs_ps(x)
#define GVT_SUM(v)			_mm512_reduce_add_ps(v)
#include "distance_tier.h"

/* ----------------------------------------------------------------
 *		avx512fp16 tier
 *
 * For CPUs with AVX-512 FP16 (Sapphire Rapids and later): the half kernels
 * widen sixteen halves per instruction (vcvtph2psx, zmm) and sum in float
 * with 512-bit FMAs; the tail is one zero-masked 16-bit load (AVX-512BW/VL),
 * which never touches the masked-off halves, so no copy and no dependence on
 * where the vector sits.  The arithmetic stays float: a product of two
 * halves is exact in float but not in half, and a half sum overflows past
 * 65504, so FP16 multiply-adds would break the accuracy the F16C kernels
 * give (distance.h).  A half vector is half a float vector's bytes, so the
 * 32-byte loads here stream from memory as the AVX2 float loads do.
 *
 * The float kernels of this tier are the AVX2 ones, for the reason the
 * tier order below gives.
 * ----------------------------------------------------------------
 */

static bool
Avx512Fp16Supported(void)
{
	__builtin_cpu_init();
	return Avx512Supported() && __builtin_cpu_supports("avx512bw") &&
		__builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512fp16");
}

#define GV_FP16_TARGET "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512fp16"

__attribute__((target(GV_FP16_TARGET)))
static inline __m512
HalfLoad16Fp16(const uint16_t *p)
{
	return _mm512_cvtxph_ps(_mm256_castsi256_ph(_mm256_loadu_si256((const __m256i *) p)));
}

/* the first n (1..15) halves at p, the rest zero */
__attribute__((target(GV_FP16_TARGET)))
static inline __m512
HalfLoadTailFp16(const uint16_t *p, int n)
{
	__m256i		halves = _mm256_maskz_loadu_epi16(AVX512_TAIL_MASK(n), p);

	return _mm512_cvtxph_ps(_mm256_castsi256_ph(halves));
}

/*
 * The half kernels: HalfL2SquaredFp16, HalfInnerProductFp16, HalfL1Fp16,
 * HalfCosinePartsFp16.  |x| clears the sign bit with an AVX-512F AND on the
 * integer view.
 */
#define GVT_SUFFIX			Fp16
#define GVT_TARGET			GV_FP16_TARGET
#define GVT_VEC				__m512
#define GVT_WIDTH			16
#define GVT_ZERO()			_mm512_setzero_ps()
#define GVT_HALF_LOAD(p)	HalfLoad16Fp16(p)
#define GVT_HALF_TAIL(p, n) HalfLoadTailFp16((p), (n))
#define GVT_ADD(a, b)		_mm512_add_ps((a), (b))
#define GVT_SUB(a, b)		_mm512_sub_ps((a), (b))
#define GVT_FMADD(a, b, c)	_mm512_fmadd_ps((a), (b), (c))
#define GVT_ABS(x)			_mm512_castsi512_ps(_mm512_and_epi32(_mm512_castps_si512(x), \
															 _mm512_set1_epi32(0x7FFFFFFF)))
#define GVT_SUM(v)			_mm512_reduce_add_ps(v)
#include "distance_tier.h"

#endif							/* GV_HAVE_X86_SIMD */


/* ----------------------------------------------------------------
 *		double precision, for the safe distances (distance.h)
 *
 * The same lanes as the scalar tier, in double: the compiler can vectorize
 * them without reassociating, and the sum does not depend on where the
 * vectors sit in memory.  Every product and difference of two floats is
 * exact in double or rounded once, and no sum of them can overflow or
 * underflow double.
 * ----------------------------------------------------------------
 */

/* Sum of (a[i] - b[i])^2 in double. */
double
GvL2SquaredDistanceDouble(const float *a, const float *b, int dim)
{
	double		lane[GV_SCALAR_LANES] = {0};
	double		result = 0.0;
	int			i = 0;
	int			j;

	for (; i + GV_SCALAR_LANES <= dim; i += GV_SCALAR_LANES)
	{
		const float *pa = a + i;
		const float *pb = b + i;

		for (j = 0; j < GV_SCALAR_LANES; j++)
		{
			double		diff = (double) pa[j] - (double) pb[j];

			lane[j] += diff * diff;
		}
	}
	for (; i < dim; i++)
	{
		double		diff = (double) a[i] - (double) b[i];

		result += diff * diff;
	}
	for (j = 0; j < GV_SCALAR_LANES; j++)
		result += lane[j];
	return result;
}

/* Sum of a[i] * b[i] in double. */
double
GvInnerProductDouble(const float *a, const float *b, int dim)
{
	double		lane[GV_SCALAR_LANES] = {0};
	double		result = 0.0;
	int			i = 0;
	int			j;

	for (; i + GV_SCALAR_LANES <= dim; i += GV_SCALAR_LANES)
	{
		const float *pa = a + i;
		const float *pb = b + i;

		for (j = 0; j < GV_SCALAR_LANES; j++)
			lane[j] += (double) pa[j] * (double) pb[j];
	}
	for (; i < dim; i++)
		result += (double) a[i] * (double) b[i];
	for (j = 0; j < GV_SCALAR_LANES; j++)
		result += lane[j];
	return result;
}

/* Sum of |a[i] - b[i]| in double. */
double
GvL1DistanceDouble(const float *a, const float *b, int dim)
{
	double		lane[GV_SCALAR_LANES] = {0};
	double		result = 0.0;
	int			i = 0;
	int			j;

	for (; i + GV_SCALAR_LANES <= dim; i += GV_SCALAR_LANES)
	{
		const float *pa = a + i;
		const float *pb = b + i;

		for (j = 0; j < GV_SCALAR_LANES; j++)
			lane[j] += fabs((double) pa[j] - (double) pb[j]);
	}
	for (; i < dim; i++)
		result += fabs((double) a[i] - (double) b[i]);
	for (j = 0; j < GV_SCALAR_LANES; j++)
		result += lane[j];
	return result;
}


/* ----------------------------------------------------------------
 *		distances packed into 32 bits (distance.h)
 *
 * Bits of a packed distance: sign, an 8-bit exponent field, 23 more bits.
 * Exponent field 1..254: a normal float.  Field 255 ("huge", |d| > FLT_MAX):
 * the 23 bits are k << 15 | f, |d| = 2^(128 + k) * (1 + f / 2^15).  Field 0
 * ("tiny", |d| < FLT_MIN): 0 is zero; below 2^15 is a nonzero magnitude
 * under 2^-381; otherwise k << 15 | f with k >= 1, |d| = 2^(k - 382) *
 * (1 + f / 2^15).  Fractions are truncated, so larger magnitudes never get
 * smaller codes, and within each sign the codes grow with the magnitude.
 * ----------------------------------------------------------------
 */

#define PACK_SIGN		UINT32_C(0x80000000)
#define PACK_EXP_HUGE	UINT32_C(0x7F800000)
#define PACK_FRAC_BITS	15
#define PACK_FRAC_MAX	((UINT32_C(1) << PACK_FRAC_BITS) - 1)
#define PACK_K_MAX		255

/* The float with these bits. */
static float
FloatFromBits(uint32_t bits)
{
	float		f;

	memcpy(&f, &bits, sizeof(f));
	return f;
}

/* k << 15 | f for a = 2^e * (1 + frac), e = ilogb(a), as k = e - offset. */
static uint32_t
PackMagnitude(double a, int offset, int kmin)
{
	int			e = ilogb(a);
	int64_t		k = (int64_t) e - offset;
	uint32_t	frac;

	if (k < kmin)
		return kmin == 0 ? 0 : 1;	/* below the range: the least code */
	if (k > PACK_K_MAX)
		return ((uint32_t) PACK_K_MAX << PACK_FRAC_BITS) | PACK_FRAC_MAX;
	frac = (uint32_t) ((ldexp(a, -e) - 1.0) * (double) (PACK_FRAC_MAX + 1));
	if (frac > PACK_FRAC_MAX)
		frac = PACK_FRAC_MAX;
	return ((uint32_t) k << PACK_FRAC_BITS) | frac;
}

/* 2^(k + offset) * (1 + f / 2^15) for the 23 bits k << 15 | f. */
static double
UnpackMagnitude(uint32_t payload, int offset)
{
	uint32_t	k = payload >> PACK_FRAC_BITS;
	uint32_t	frac = payload & PACK_FRAC_MAX;

	return ldexp(1.0 + (double) frac / (PACK_FRAC_MAX + 1), (int) k + offset);
}

/* GvPackDistance (distance.h) where d does not round to a normal float. */
GvPackedDistance
GvPackDistanceWide(double d)
{
	uint32_t	sign = signbit(d) ? PACK_SIGN : 0;
	double		a = fabs(d);
	uint32_t	bits;

	if (isnan(d))
		return PACK_EXP_HUGE | ((uint32_t) PACK_K_MAX << PACK_FRAC_BITS) | PACK_FRAC_MAX;
	if (a >= FLT_MIN && a <= FLT_MAX)
	{
		float		f = (float) d;

		memcpy(&bits, &f, sizeof(bits));
		return bits;
	}
	if (a > FLT_MAX)
		return sign | PACK_EXP_HUGE | PackMagnitude(a, 128, 0);
	if (a == 0.0)
		return sign;
	return sign | PackMagnitude(a, -382, 1);
}

double
GvUnpackDistance(GvPackedDistance p)
{
	uint32_t	field = (p >> 23) & 0xFF;
	uint32_t	payload = p & UINT32_C(0x7FFFFF);
	double		a;

	if (field != 0 && field != 255)
		return FloatFromBits(p);
	if (field == 255)
		a = UnpackMagnitude(payload, 128);
	else if (payload == 0)
		a = 0.0;
	else if (payload < (UINT32_C(1) << PACK_FRAC_BITS))
		a = ldexp(1.0, -382);
	else
		a = UnpackMagnitude(payload, -382);
	return (p & PACK_SIGN) ? -a : a;
}


/* ----------------------------------------------------------------
 *		tier selection
 * ----------------------------------------------------------------
 */

/*
 * An array of the structs themselves, as GvDistanceKernelSets() hands out:
 * the tiers in order of preference, the default choice last.  AVX2 comes
 * after AVX-512 on purpose: on the EPYC build machines the AVX-512 kernels
 * are 1.2x faster on vectors in cache but 1.7x slower on vectors streamed
 * from memory (make -C test/kernels bench: 20 vs 35 GB/s), because without
 * an alignment peel (which would make results depend on addresses) most of
 * their 64-byte loads straddle cache lines.  Index searches and scans are
 * memory-bound, so AVX2 is the better default; GIGAVECTOR_KERNEL=avx512
 * selects AVX-512 where the CPU has it.  Where the CPU has AVX-512 FP16,
 * avx512fp16 -- the AVX2 float kernels with 512-bit half kernels, whose
 * 32-byte loads do not suffer the straddling -- is the default.
 */
static const GvKernelSetData KernelSets[] = {
	{"scalar", ScalarSupported, L2SquaredScalar, InnerProductScalar,
		L1Scalar, CosinePartsScalar,
	HalfL2SquaredScalar, HalfInnerProductScalar, HalfL1Scalar, HalfCosinePartsScalar},
#ifdef GV_HAVE_X86_SIMD
	{"avx512", Avx512Supported, L2SquaredAvx512, InnerProductAvx512,
		L1Avx512, CosinePartsAvx512,
	HalfL2SquaredF16c, HalfInnerProductF16c, HalfL1F16c, HalfCosinePartsF16c},
	{"avx2", Avx2Supported, L2SquaredAvx2, InnerProductAvx2,
		L1Avx2, CosinePartsAvx2,
	HalfL2SquaredF16c, HalfInnerProductF16c, HalfL1F16c, HalfCosinePartsF16c},
	/* AVX2's float kernels (as above), AVX-512 FP16's half kernels */
	{"avx512fp16", Avx512Fp16Supported, L2SquaredAvx2, InnerProductAvx2,
		L1Avx2, CosinePartsAvx2,
	HalfL2SquaredFp16, HalfInnerProductFp16, HalfL1Fp16, HalfCosinePartsFp16},
#endif
};

#define NUM_KERNEL_SETS ((int) (sizeof(KernelSets) / sizeof(KernelSets[0])))

/*
 * The kernels in use.  They start as the scalar tier, so a caller that runs
 * before GvDistanceInit() (or a build where it is never called) still gets
 * correct results.
 */
GvPairKernel GvL2SquaredDistance = L2SquaredScalar;
GvPairKernel GvInnerProduct = InnerProductScalar;
GvPairKernel GvL1Distance = L1Scalar;
GvCosineKernel GvCosineParts = CosinePartsScalar;
GvHalfPairKernel GvHalfL2SquaredDistance = HalfL2SquaredScalar;
GvHalfPairKernel GvHalfInnerProduct = HalfInnerProductScalar;
GvHalfPairKernel GvHalfL1Distance = HalfL1Scalar;
GvHalfCosineKernel GvHalfCosineParts = HalfCosinePartsScalar;
GvPairKernel GvL2SquaredDistanceCached = L2SquaredScalar;
GvPairKernel GvInnerProductCached = InnerProductScalar;

static GvKernelSet CurrentKernels = &KernelSets[0];
static bool KernelsChosen = false;

/* Point the public function pointers at one tier. */
static void
InstallKernelSet(GvKernelSet set)
{
	GvL2SquaredDistance = set->l2_squared;
	GvInnerProduct = set->inner_product;
	GvL1Distance = set->l1;
	GvCosineParts = set->cosine_parts;
	GvHalfL2SquaredDistance = set->half_l2_squared;
	GvHalfInnerProduct = set->half_inner_product;
	GvHalfL1Distance = set->half_l1;
	GvHalfCosineParts = set->half_cosine_parts;
	GvL2SquaredDistanceCached = set->l2_squared;
	GvInnerProductCached = set->inner_product;
	CurrentKernels = set;
}

/* The compiled-in tier with this name that the CPU supports, or NULL. */
static GvKernelSet
FindSupportedKernelSet(const char *name)
{
	int			i;

	for (i = 0; i < NUM_KERNEL_SETS; i++)
	{
		if (strcmp(KernelSets[i].name, name) == 0)
			return KernelSets[i].supported() ? &KernelSets[i] : NULL;
	}
	return NULL;
}

/*
 * Choose the preferred tier this CPU supports, once per process (for the
 * extension, from _PG_init).  GIGAVECTOR_KERNEL may name a supported tier to
 * use instead, e.g. "scalar" to run the portable path through SQL; an
 * unknown or unsupported name is ignored, since this file cannot report
 * errors and the default tier is always a correct answer.
 */
void
GvDistanceInit(void)
{
	const char *forced;
	GvKernelSet chosen = &KernelSets[0];
	int			i;

	if (KernelsChosen)
		return;

	for (i = NUM_KERNEL_SETS - 1; i >= 0; i--)
	{
		if (KernelSets[i].supported())
		{
			chosen = &KernelSets[i];
			break;
		}
	}

	forced = getenv(GV_KERNEL_ENV);
	if (forced != NULL && forced[0] != '\0')
	{
		GvKernelSet set = FindSupportedKernelSet(forced);

		if (set != NULL)
			chosen = set;
	}

	InstallKernelSet(chosen);
	if (forced == NULL || forced[0] == '\0')
	{
		GvKernelSet cached = FindSupportedKernelSet("avx512");

		if (cached != NULL)
		{
			GvL2SquaredDistanceCached = cached->l2_squared;
			GvInnerProductCached = cached->inner_product;
		}
	}
	KernelsChosen = true;
}

/* Name of the tier in use. */
const char *
GvDistanceKernelName(void)
{
	return CurrentKernels->name;
}

/* Every compiled-in tier, worst first; *count receives how many. */
GvKernelSet
GvDistanceKernelSets(int *count)
{
	*count = NUM_KERNEL_SETS;
	return KernelSets;
}

/*
 * Use the named tier from now on (tests, benchmarks).  Returns false, and
 * changes nothing, if the name is unknown or the CPU cannot run that tier.
 */
bool
GvDistanceUseKernelSet(const char *name)
{
	GvKernelSet set = FindSupportedKernelSet(name);

	if (set == NULL)
		return false;
	InstallKernelSet(set);
	KernelsChosen = true;
	return true;
}
