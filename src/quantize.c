/*
 * quantize.c
 *	  Half-precision and int8 codecs for vectors kept in index pages.
 *
 * The half conversions are written out bit by bit rather than left to the
 * compiler's _Float16, which older compilers and non-x86 targets lack; on
 * CPUs with F16C the bulk decode (the hot path: every distance an index
 * computes against a stored vector) uses the hardware instruction, which
 * gives the same floats since every half is exactly representable.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "quantize.h"

#if !defined(GV_NO_SIMD) && defined(__x86_64__) && defined(__GNUC__)
#define GV_HAVE_F16C 1
#include <immintrin.h>
#endif

uint16_t
GvFloatToHalf(float f)
{
	uint32_t	bits;
	uint32_t	sign;
	uint32_t	mag;
	int			exp;

	memcpy(&bits, &f, sizeof(bits));
	sign = (bits >> 16) & 0x8000;
	mag = bits & 0x7fffffff;
	if (mag >= 0x7f800000)		/* Inf or NaN */
		return sign | 0x7c00 | (mag > 0x7f800000 ? 0x200 : 0);
	exp = (int) (mag >> 23) - 127 + 15;
	if (exp >= 31)
		return sign | 0x7c00;	/* overflow: callers check the range first */
	if (exp <= 0)
	{
		/* subnormal half (or zero): shift the full mantissa, round to even */
		uint32_t	mant = (mag & 0x7fffff) | 0x800000;
		int			shift = 14 - exp;
		uint32_t	half;
		uint32_t	rem;

		if (shift > 24)
			return sign;
		half = mant >> shift;
		rem = mant & ((1u << shift) - 1);
		if (rem > (1u << (shift - 1)) || (rem == (1u << (shift - 1)) && (half & 1)))
			half++;
		return sign | half;
	}
	else
	{
		uint32_t	half = ((uint32_t) exp << 10) | ((mag >> 13) & 0x3ff);
		uint32_t	rem = mag & 0x1fff;

		/* a carry out of the mantissa correctly bumps the exponent */
		if (rem > 0x1000 || (rem == 0x1000 && (half & 1)))
			half++;
		return sign | half;
	}
}

float
GvHalfToFloat(uint16_t h)
{
	uint32_t	sign = (uint32_t) (h & 0x8000) << 16;
	uint32_t	exp = (h >> 10) & 0x1f;
	uint32_t	mant = h & 0x3ff;
	uint32_t	bits;
	float		f;

	if (exp == 0)
	{
		/* zero or subnormal: mant * 2^-24, exact in float */
		f = ldexpf((float) mant, -24);
		return sign ? -f : f;
	}
	if (exp == 31)
		bits = sign | 0x7f800000 | (mant << 13);
	else
		bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
	memcpy(&f, &bits, sizeof(f));
	return f;
}

bool
GvHalfEncode(const float *x, uint16_t *codes, int dim)
{
	for (int i = 0; i < dim; i++)
	{
		if (!(fabsf(x[i]) < GV_HALF_LIMIT))
			return false;
		codes[i] = GvFloatToHalf(x[i]);
	}
	return true;
}

#ifdef GV_HAVE_F16C
__attribute__((target("avx,f16c")))
static void
HalfDecodeF16c(const uint16_t *codes, float *x, int dim)
{
	int			i = 0;

	for (; i + 8 <= dim; i += 8)
	{
		__m128i		h = _mm_loadu_si128((const __m128i *) (codes + i));

		_mm256_storeu_ps(x + i, _mm256_cvtph_ps(h));
	}
	for (; i < dim; i++)
		x[i] = GvHalfToFloat(codes[i]);
}
#endif

void
GvHalfDecode(const uint16_t *codes, float *x, int dim)
{
#ifdef GV_HAVE_F16C
	static int	hasF16c = -1;

	if (hasF16c < 0)
	{
		__builtin_cpu_init();
		hasF16c = __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
	}
	if (hasF16c)
	{
		HalfDecodeF16c(codes, x, dim);
		return;
	}
#endif
	for (int i = 0; i < dim; i++)
		x[i] = GvHalfToFloat(codes[i]);
}

/*
 * The scale is maxAbs / 127, except where that is a subnormal float: there
 * it is rounded up rather than to nearest, since for a vector whose
 * elements are all below about 1e-36 the nearest float can be far smaller
 * (or 0: every code would be 0).  Rounded up, every code stays within
 * [-127, 127] and a vector of elements k * 2^-149 with |k| <= 127 is kept
 * exactly.  Elsewhere the float quotient is as before, bit for bit.
 */
void
GvInt8Encode(const float *x, int8_t *codes, float *scale, int dim)
{
	float		maxAbs = 0.0f;

	for (int i = 0; i < dim; i++)
		maxAbs = fmaxf(maxAbs, fabsf(x[i]));
	*scale = maxAbs / 127.0f;
	if (*scale < FLT_MIN && (double) *scale < (double) maxAbs / 127.0)
		*scale = nextafterf(*scale, FLT_MAX);
	for (int i = 0; i < dim; i++)
	{
		float		q = (*scale > 0.0f) ? rintf(x[i] / *scale) : 0.0f;

		codes[i] = (int8_t) fmaxf(-127.0f, fminf(127.0f, q));
	}
}

void
GvInt8Decode(const int8_t *codes, float scale, float *x, int dim)
{
	for (int i = 0; i < dim; i++)
		x[i] = scale * (float) codes[i];
}

void
GvBitEncode(const float *x, uint8_t *codes, float *lo, float *hi, int dim)
{
	double		sum = 0.0;
	double		sumLo = 0.0;
	double		sumHi = 0.0;
	int			nHi = 0;
	float		mean;

	for (int i = 0; i < dim; i++)
		sum += x[i];
	mean = (float) (sum / dim);
	memset(codes, 0, (dim + 7) / 8);
	for (int i = 0; i < dim; i++)
	{
		if (x[i] > mean)
		{
			codes[i >> 3] |= (uint8_t) (1 << (i & 7));
			sumHi += x[i];
			nHi++;
		}
		else
			sumLo += x[i];
	}
	*lo = nHi < dim ? (float) (sumLo / (dim - nHi)) : mean;
	*hi = nHi > 0 ? (float) (sumHi / nHi) : mean;
}

void
GvBitDecode(const uint8_t *codes, float lo, float hi, float *x, int dim)
{
	for (int i = 0; i < dim; i++)
		x[i] = (codes[i >> 3] >> (i & 7)) & 1 ? hi : lo;
}
