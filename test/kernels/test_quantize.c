/*
 * test_quantize.c
 *	  Unit test of src/quantize.c: half-precision and int8 vector codecs.
 *	  TAP output, one line per check.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quantize.h"
#include "tap.h"

static int
IsNan16(uint16_t h)
{
	return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
}

/* Every half decodes, bulk (F16C where present) and one by one alike, and re-encodes to itself. */
static void
TestAllHalves(void)
{
	static uint16_t codes[65536];
	static float bulk[65536];
	int			roundTrip = 1;
	int			same = 1;

	for (int i = 0; i < 65536; i++)
		codes[i] = (uint16_t) i;
	GvHalfDecode(codes, bulk, 65536);
	for (int i = 0; i < 65536; i++)
	{
		float		one = GvHalfToFloat(codes[i]);

		if (IsNan16(codes[i]))
		{
			same &= isnan(one) && isnan(bulk[i]);
			continue;
		}
		same &= memcmp(&one, &bulk[i], sizeof(float)) == 0;
		roundTrip &= GvFloatToHalf(one) == codes[i];
	}
	Check(same, "bulk half decode equals the scalar decode for all 65536 halves");
	Check(roundTrip, "every finite half and infinity re-encodes to itself");
}

/*
 * The nearest half to x by search over all finite halves (ties: even
 * mantissa); the sign of a zero result is checked separately.
 */
static uint16_t
NearestHalf(float x)
{
	uint16_t	best = 0;
	double		bestErr = INFINITY;

	for (int i = 0; i < 0x7c00; i++)
	{
		for (int s = 0; s < 2; s++)
		{
			uint16_t	h = (uint16_t) (i | (s ? 0x8000 : 0));
			double		err = fabs((double) GvHalfToFloat(h) - (double) x);

			if (err < bestErr || (err == bestErr && (h & 1) == 0 && (best & 1) == 1))
			{
				best = h;
				bestErr = err;
			}
		}
	}
	return best;
}

static void
TestRounding(void)
{
	const float special[] = {0.0f, -0.0f, 1.0f, 65504.0f, 65519.99f, -65519.0f,
		6.1035156e-05f, 6.0975552e-05f, 5.9604645e-08f, 2.9802322e-08f,
		2.9802326e-08f, 1e-10f, 0.1f, 1.0009765625f, 1.00048828125f,
	1.00146484375f, 3.14159265f, -2047.5f, 2049.0f, 4097.0f};
	int			ok = 1;

	srand(7);
	for (int i = 0; i < (int) (sizeof(special) / sizeof(special[0])) + 300; i++)
	{
		float		x;

		if (i < (int) (sizeof(special) / sizeof(special[0])))
			x = special[i];
		else
			x = ldexpf((float) rand() / RAND_MAX - 0.5f, rand() % 40 - 24);
		if (x == 0.0f)
			ok &= (GvFloatToHalf(x) & 0x7fff) == 0;
		else if (GvHalfToFloat(GvFloatToHalf(x)) != GvHalfToFloat(NearestHalf(x)) ||
				 signbit(GvHalfToFloat(GvFloatToHalf(x))) != signbit(x))
		{
			printf("# %.9g encodes to 0x%04x, nearest is 0x%04x\n", x, GvFloatToHalf(x), NearestHalf(x));
			ok = 0;
		}
	}
	Check(ok, "floats encode to the nearest half, ties to even (specials and 300 random)");
}

static void
TestHalfRange(void)
{
	float		x[3] = {1.0f, 65519.0f, -3.0f};
	uint16_t	codes[3];

	Check(GvHalfEncode(x, codes, 3), "a vector within the half range encodes");
	x[1] = 65520.0f;
	Check(!GvHalfEncode(x, codes, 3), "65520 (rounds to infinity) is refused");
	x[1] = -1e30f;
	Check(!GvHalfEncode(x, codes, 3), "-1e30 is refused");
	x[1] = NAN;
	Check(!GvHalfEncode(x, codes, 3), "NaN is refused");
}

static void
TestInt8(void)
{
	enum
	{
	DIM = 1001};
	float		x[DIM];
	float		y[DIM];
	int8_t		codes[DIM];
	float		scale;
	float		maxAbs = 0.0f;
	int			ok = 1;
	int			hitsEnds = 0;

	srand(11);
	for (int i = 0; i < DIM; i++)
	{
		x[i] = ldexpf((float) rand() / RAND_MAX - 0.5f, 30);
		maxAbs = fmaxf(maxAbs, fabsf(x[i]));
	}
	GvInt8Encode(x, codes, &scale, DIM);
	GvInt8Decode(codes, scale, y, DIM);
	for (int i = 0; i < DIM; i++)
	{
		ok &= fabsf(y[i] - x[i]) <= scale * 0.5f * 1.0001f;
		ok &= codes[i] != -128;
		hitsEnds |= (codes[i] == 127 || codes[i] == -127);
	}
	Check(ok && hitsEnds && fabsf(scale - maxAbs / 127.0f) <= 1e-6f * scale,
		  "int8: scale = max|x|/127, every value within scale/2, largest at +-127");
	memset(x, 0, sizeof(x));
	GvInt8Encode(x, codes, &scale, DIM);
	GvInt8Decode(codes, scale, y, DIM);
	ok = scale == 0.0f;
	for (int i = 0; i < DIM; i++)
		ok &= codes[i] == 0 && y[i] == 0.0f;
	Check(ok, "int8: a zero vector encodes with scale 0 and decodes to zeros");

	/*
	 * Subnormal elements: max|x|/127 would round to a far smaller float (or
	 * 0, every code 0); the scale rounds up instead, so codes stay in range,
	 * k * 2^-149 with |k| <= 127 comes back exactly, and larger subnormal
	 * vectors keep their shape.
	 */
	for (int i = 0; i < DIM; i++)
		x[i] = ldexpf((float) (i % 61 - 30), -149);
	GvInt8Encode(x, codes, &scale, DIM);
	GvInt8Decode(codes, scale, y, DIM);
	ok = scale == ldexpf(1.0f, -149);
	for (int i = 0; i < DIM; i++)
		ok &= y[i] == x[i];
	Check(ok, "int8: whole multiples of 2^-149 up to 127 come back exactly");
	for (int i = 0; i < DIM; i++)
		x[i] = ldexpf((float) (i % 2001 - 1000) * 71.0f, -149);	/* up to 1e-40 */
	GvInt8Encode(x, codes, &scale, DIM);
	GvInt8Decode(codes, scale, y, DIM);
	ok = scale > 0.0f && scale * 127.0f >= fabsf(x[1000 % DIM]);
	for (int i = 0; i < DIM; i++)
		ok &= codes[i] != -128 && fabsf(y[i] - x[i]) <= scale * 0.5f + ldexpf(1.0f, -149);
	Check(ok, "int8: subnormal vectors keep every value within scale/2, codes in range");
}

static void
TestBit(void)
{
	enum
	{
	DIM = 77};
	float		x[DIM];
	float		y[DIM];
	uint8_t		codes[(DIM + 7) / 8];
	float		lo,
				hi;
	double		mean = 0.0;
	double		sumLo = 0.0,
				sumHi = 0.0;
	int			nLo = 0,
				nHi = 0;
	int			ok = 1;

	for (int i = 0; i < DIM; i++)
	{
		x[i] = (float) (i % 11) * 0.5f + 3.0f;	/* non-negative, not centred */
		mean += x[i];
	}
	mean /= DIM;
	for (int i = 0; i < DIM; i++)
	{
		if (x[i] > (float) mean)
			sumHi += x[i], nHi++;
		else
			sumLo += x[i], nLo++;
	}
	GvBitEncode(x, codes, &lo, &hi, DIM);
	GvBitDecode(codes, lo, hi, y, DIM);
	for (int i = 0; i < DIM; i++)
		ok &= y[i] == (x[i] > (float) mean ? hi : lo);
	ok &= fabs(lo - sumLo / nLo) < 1e-5 && fabs(hi - sumHi / nHi) < 1e-5;
	Check(ok, "bit: above/below the mean, levels are the means of each side");
	for (int i = 0; i < DIM; i++)
		x[i] = 2.5f;
	GvBitEncode(x, codes, &lo, &hi, DIM);
	GvBitDecode(codes, lo, hi, y, DIM);
	ok = 1;
	for (int i = 0; i < DIM; i++)
		ok &= y[i] == 2.5f;
	Check(ok, "bit: a constant vector decodes to itself");
}

int
main(void)
{
	TestAllHalves();
	TestRounding();
	TestHalfRange();
	TestInt8();
	TestBit();
	printf("1..%d\n", TestNumber);
	return Failures ? 1 : 0;
}
