/*-------------------------------------------------------------------------
 *
 * distance_tier.h
 *	  The float kernels of one SIMD tier of distance.c (AVX2 or AVX-512),
 *	  generated from the tier's register width and intrinsics.  Included by
 *	  distance.c only, once per tier.
 *
 * The tiers compute the same sums in the same order, one register width
 * apart: four accumulators over blocks of four registers, then one register
 * at a time into the first, then the tail (fewer floats than a register
 * holds) into the second through a masked load, which never touches the
 * masked-off lanes and reads them as 0.0, so that they add nothing.  The
 * accumulators are added pairwise at the end.  The cosine sums keep two
 * accumulators each: six, plus the loads, fit in sixteen registers.  There
 * is deliberately no head peel to align the loads: which element lands in
 * which lane, and so the rounding of a sum, must not depend on where the
 * vector sits in memory (a build, a scan and a standby must agree bit for
 * bit).
 *
 * The half kernels (ghalfvec) have the same shape with two accumulators
 * over blocks of two registers, each register widened from halves, and one
 * accumulator for each cosine sum.
 *
 * The includer defines, for either:
 *
 *	GVT_SUFFIX			the tier's name, appended to each kernel's (Avx2)
 *	GVT_TARGET			the target attribute's string ("avx2,fma")
 *	GVT_VEC				the register type (__m256)
 *	GVT_WIDTH			floats per register (8)
 *	GVT_ZERO()			a register of zeros
 *	GVT_ADD(a, b), GVT_SUB(a, b), GVT_FMADD(a, b, c) (a * b + c), GVT_ABS(x)
 *	GVT_SUM(v)			the sum of v's lanes, a float
 *
 * then, for the float kernels L2Squared, InnerProduct, L1 and CosineParts
 * with the suffix (L2SquaredAvx2, ...):
 *
 *	GVT_LOAD(p)			an unaligned load of GVT_WIDTH floats at p
 *	GVT_MASK			the type of a tail mask
 *	GVT_TAIL_MASK(n)	the mask of the first n lanes (0 < n < GVT_WIDTH)
 *	GVT_TAIL_LOAD(p, m) the lanes of m at p, the others 0.0
 *
 * or, for the half kernels HalfL2Squared, HalfInnerProduct, HalfL1 and
 * HalfCosineParts with the suffix (HalfL2SquaredF16c, ...):
 *
 *	GVT_HALF_LOAD(p)	GVT_WIDTH halves at p, widened to floats
 *	GVT_HALF_TAIL(p, n) the first n (0 < n < GVT_WIDTH) halves at p, the
 *						others 0.0, reading nothing past the n
 *
 * All are static, with distance.h's signatures.  Every GVT_ name is
 * undefined at the end, so the next tier can define its own.
 *
 *-------------------------------------------------------------------------
 */

#define GVT_CONCAT_(a, b)	a##b
#define GVT_CONCAT(a, b)	GVT_CONCAT_(a, b)
#define GVT_L2SQUARED		GVT_CONCAT(L2Squared, GVT_SUFFIX)
#define GVT_INNER_PRODUCT	GVT_CONCAT(InnerProduct, GVT_SUFFIX)
#define GVT_L1				GVT_CONCAT(L1, GVT_SUFFIX)
#define GVT_COSINE_PARTS	GVT_CONCAT(CosineParts, GVT_SUFFIX)
#define GVT_HALF_L2SQUARED	GVT_CONCAT(HalfL2Squared, GVT_SUFFIX)
#define GVT_HALF_INNER_PRODUCT GVT_CONCAT(HalfInnerProduct, GVT_SUFFIX)
#define GVT_HALF_L1			GVT_CONCAT(HalfL1, GVT_SUFFIX)
#define GVT_HALF_COSINE_PARTS GVT_CONCAT(HalfCosineParts, GVT_SUFFIX)

#ifdef GVT_LOAD

/* Sum of (a[i] - b[i])^2. */
__attribute__((target(GVT_TARGET)))
static float
GVT_L2SQUARED(const float *a, const float *b, int dim)
{
	GVT_VEC		s0 = GVT_ZERO();
	GVT_VEC		s1 = GVT_ZERO();
	GVT_VEC		s2 = GVT_ZERO();
	GVT_VEC		s3 = GVT_ZERO();
	GVT_VEC		d0;
	GVT_VEC		d1;
	GVT_VEC		d2;
	GVT_VEC		d3;
	int			i = 0;

	for (; i + 4 * GVT_WIDTH <= dim; i += 4 * GVT_WIDTH)
	{
		d0 = GVT_SUB(GVT_LOAD(a + i), GVT_LOAD(b + i));
		d1 = GVT_SUB(GVT_LOAD(a + i + GVT_WIDTH), GVT_LOAD(b + i + GVT_WIDTH));
		d2 = GVT_SUB(GVT_LOAD(a + i + 2 * GVT_WIDTH), GVT_LOAD(b + i + 2 * GVT_WIDTH));
		d3 = GVT_SUB(GVT_LOAD(a + i + 3 * GVT_WIDTH), GVT_LOAD(b + i + 3 * GVT_WIDTH));
		s0 = GVT_FMADD(d0, d0, s0);
		s1 = GVT_FMADD(d1, d1, s1);
		s2 = GVT_FMADD(d2, d2, s2);
		s3 = GVT_FMADD(d3, d3, s3);
	}
	for (; i + GVT_WIDTH <= dim; i += GVT_WIDTH)
	{
		d0 = GVT_SUB(GVT_LOAD(a + i), GVT_LOAD(b + i));
		s0 = GVT_FMADD(d0, d0, s0);
	}
	if (i < dim)
	{
		GVT_MASK	mask = GVT_TAIL_MASK(dim - i);

		d1 = GVT_SUB(GVT_TAIL_LOAD(a + i, mask), GVT_TAIL_LOAD(b + i, mask));
		s1 = GVT_FMADD(d1, d1, s1);
	}
	return GVT_SUM(GVT_ADD(GVT_ADD(s0, s1), GVT_ADD(s2, s3)));
}

/* Sum of a[i] * b[i]. */
__attribute__((target(GVT_TARGET)))
static float
GVT_INNER_PRODUCT(const float *a, const float *b, int dim)
{
	GVT_VEC		s0 = GVT_ZERO();
	GVT_VEC		s1 = GVT_ZERO();
	GVT_VEC		s2 = GVT_ZERO();
	GVT_VEC		s3 = GVT_ZERO();
	int			i = 0;

	for (; i + 4 * GVT_WIDTH <= dim; i += 4 * GVT_WIDTH)
	{
		s0 = GVT_FMADD(GVT_LOAD(a + i), GVT_LOAD(b + i), s0);
		s1 = GVT_FMADD(GVT_LOAD(a + i + GVT_WIDTH), GVT_LOAD(b + i + GVT_WIDTH), s1);
		s2 = GVT_FMADD(GVT_LOAD(a + i + 2 * GVT_WIDTH), GVT_LOAD(b + i + 2 * GVT_WIDTH), s2);
		s3 = GVT_FMADD(GVT_LOAD(a + i + 3 * GVT_WIDTH), GVT_LOAD(b + i + 3 * GVT_WIDTH), s3);
	}
	for (; i + GVT_WIDTH <= dim; i += GVT_WIDTH)
		s0 = GVT_FMADD(GVT_LOAD(a + i), GVT_LOAD(b + i), s0);
	if (i < dim)
	{
		GVT_MASK	mask = GVT_TAIL_MASK(dim - i);

		s1 = GVT_FMADD(GVT_TAIL_LOAD(a + i, mask), GVT_TAIL_LOAD(b + i, mask), s1);
	}
	return GVT_SUM(GVT_ADD(GVT_ADD(s0, s1), GVT_ADD(s2, s3)));
}

/* Sum of |a[i] - b[i]|. */
__attribute__((target(GVT_TARGET)))
static float
GVT_L1(const float *a, const float *b, int dim)
{
	GVT_VEC		s0 = GVT_ZERO();
	GVT_VEC		s1 = GVT_ZERO();
	GVT_VEC		s2 = GVT_ZERO();
	GVT_VEC		s3 = GVT_ZERO();
	GVT_VEC		d0;
	GVT_VEC		d1;
	GVT_VEC		d2;
	GVT_VEC		d3;
	int			i = 0;

	for (; i + 4 * GVT_WIDTH <= dim; i += 4 * GVT_WIDTH)
	{
		d0 = GVT_SUB(GVT_LOAD(a + i), GVT_LOAD(b + i));
		d1 = GVT_SUB(GVT_LOAD(a + i + GVT_WIDTH), GVT_LOAD(b + i + GVT_WIDTH));
		d2 = GVT_SUB(GVT_LOAD(a + i + 2 * GVT_WIDTH), GVT_LOAD(b + i + 2 * GVT_WIDTH));
		d3 = GVT_SUB(GVT_LOAD(a + i + 3 * GVT_WIDTH), GVT_LOAD(b + i + 3 * GVT_WIDTH));
		s0 = GVT_ADD(s0, GVT_ABS(d0));
		s1 = GVT_ADD(s1, GVT_ABS(d1));
		s2 = GVT_ADD(s2, GVT_ABS(d2));
		s3 = GVT_ADD(s3, GVT_ABS(d3));
	}
	for (; i + GVT_WIDTH <= dim; i += GVT_WIDTH)
	{
		d0 = GVT_SUB(GVT_LOAD(a + i), GVT_LOAD(b + i));
		s0 = GVT_ADD(s0, GVT_ABS(d0));
	}
	if (i < dim)
	{
		GVT_MASK	mask = GVT_TAIL_MASK(dim - i);

		d1 = GVT_SUB(GVT_TAIL_LOAD(a + i, mask), GVT_TAIL_LOAD(b + i, mask));
		s1 = GVT_ADD(s1, GVT_ABS(d1));
	}
	return GVT_SUM(GVT_ADD(GVT_ADD(s0, s1), GVT_ADD(s2, s3)));
}

/* a.b, a.a and b.b in one pass, two accumulators per sum. */
__attribute__((target(GVT_TARGET)))
static void
GVT_COSINE_PARTS(const float *a, const float *b, int dim,
				 float *ab, float *aa, float *bb)
{
	GVT_VEC		ab0 = GVT_ZERO();
	GVT_VEC		ab1 = GVT_ZERO();
	GVT_VEC		aa0 = GVT_ZERO();
	GVT_VEC		aa1 = GVT_ZERO();
	GVT_VEC		bb0 = GVT_ZERO();
	GVT_VEC		bb1 = GVT_ZERO();
	GVT_VEC		va;
	GVT_VEC		vb;
	GVT_VEC		wa;
	GVT_VEC		wb;
	int			i = 0;

	for (; i + 2 * GVT_WIDTH <= dim; i += 2 * GVT_WIDTH)
	{
		va = GVT_LOAD(a + i);
		vb = GVT_LOAD(b + i);
		wa = GVT_LOAD(a + i + GVT_WIDTH);
		wb = GVT_LOAD(b + i + GVT_WIDTH);
		ab0 = GVT_FMADD(va, vb, ab0);
		aa0 = GVT_FMADD(va, va, aa0);
		bb0 = GVT_FMADD(vb, vb, bb0);
		ab1 = GVT_FMADD(wa, wb, ab1);
		aa1 = GVT_FMADD(wa, wa, aa1);
		bb1 = GVT_FMADD(wb, wb, bb1);
	}
	if (i + GVT_WIDTH <= dim)
	{
		va = GVT_LOAD(a + i);
		vb = GVT_LOAD(b + i);
		ab0 = GVT_FMADD(va, vb, ab0);
		aa0 = GVT_FMADD(va, va, aa0);
		bb0 = GVT_FMADD(vb, vb, bb0);
		i += GVT_WIDTH;
	}
	if (i < dim)
	{
		GVT_MASK	mask = GVT_TAIL_MASK(dim - i);

		wa = GVT_TAIL_LOAD(a + i, mask);
		wb = GVT_TAIL_LOAD(b + i, mask);
		ab1 = GVT_FMADD(wa, wb, ab1);
		aa1 = GVT_FMADD(wa, wa, aa1);
		bb1 = GVT_FMADD(wb, wb, bb1);
	}
	*ab = GVT_SUM(GVT_ADD(ab0, ab1));
	*aa = GVT_SUM(GVT_ADD(aa0, aa1));
	*bb = GVT_SUM(GVT_ADD(bb0, bb1));
}

#endif							/* GVT_LOAD */

#ifdef GVT_HALF_LOAD

/* Sum of (a[i] - b[i])^2 over halves. */
__attribute__((target(GVT_TARGET)))
static float
GVT_HALF_L2SQUARED(const uint16_t *a, const uint16_t *b, int dim)
{
	GVT_VEC		s0 = GVT_ZERO();
	GVT_VEC		s1 = GVT_ZERO();
	GVT_VEC		d;
	int			i = 0;

	for (; i + 2 * GVT_WIDTH <= dim; i += 2 * GVT_WIDTH)
	{
		GVT_VEC		d0 = GVT_SUB(GVT_HALF_LOAD(a + i), GVT_HALF_LOAD(b + i));
		GVT_VEC		d1 = GVT_SUB(GVT_HALF_LOAD(a + i + GVT_WIDTH),
								 GVT_HALF_LOAD(b + i + GVT_WIDTH));

		s0 = GVT_FMADD(d0, d0, s0);
		s1 = GVT_FMADD(d1, d1, s1);
	}
	if (i + GVT_WIDTH <= dim)
	{
		d = GVT_SUB(GVT_HALF_LOAD(a + i), GVT_HALF_LOAD(b + i));
		s0 = GVT_FMADD(d, d, s0);
		i += GVT_WIDTH;
	}
	if (i < dim)
	{
		d = GVT_SUB(GVT_HALF_TAIL(a + i, dim - i), GVT_HALF_TAIL(b + i, dim - i));
		s1 = GVT_FMADD(d, d, s1);
	}
	return GVT_SUM(GVT_ADD(s0, s1));
}

/* Sum of a[i] * b[i] over halves. */
__attribute__((target(GVT_TARGET)))
static float
GVT_HALF_INNER_PRODUCT(const uint16_t *a, const uint16_t *b, int dim)
{
	GVT_VEC		s0 = GVT_ZERO();
	GVT_VEC		s1 = GVT_ZERO();
	int			i = 0;

	for (; i + 2 * GVT_WIDTH <= dim; i += 2 * GVT_WIDTH)
	{
		s0 = GVT_FMADD(GVT_HALF_LOAD(a + i), GVT_HALF_LOAD(b + i), s0);
		s1 = GVT_FMADD(GVT_HALF_LOAD(a + i + GVT_WIDTH), GVT_HALF_LOAD(b + i + GVT_WIDTH), s1);
	}
	if (i + GVT_WIDTH <= dim)
	{
		s0 = GVT_FMADD(GVT_HALF_LOAD(a + i), GVT_HALF_LOAD(b + i), s0);
		i += GVT_WIDTH;
	}
	if (i < dim)
		s1 = GVT_FMADD(GVT_HALF_TAIL(a + i, dim - i), GVT_HALF_TAIL(b + i, dim - i), s1);
	return GVT_SUM(GVT_ADD(s0, s1));
}

/* Sum of |a[i] - b[i]| over halves. */
__attribute__((target(GVT_TARGET)))
static float
GVT_HALF_L1(const uint16_t *a, const uint16_t *b, int dim)
{
	GVT_VEC		s0 = GVT_ZERO();
	GVT_VEC		s1 = GVT_ZERO();
	int			i = 0;

	for (; i + 2 * GVT_WIDTH <= dim; i += 2 * GVT_WIDTH)
	{
		s0 = GVT_ADD(s0, GVT_ABS(GVT_SUB(GVT_HALF_LOAD(a + i), GVT_HALF_LOAD(b + i))));
		s1 = GVT_ADD(s1, GVT_ABS(GVT_SUB(GVT_HALF_LOAD(a + i + GVT_WIDTH),
										 GVT_HALF_LOAD(b + i + GVT_WIDTH))));
	}
	if (i + GVT_WIDTH <= dim)
	{
		s0 = GVT_ADD(s0, GVT_ABS(GVT_SUB(GVT_HALF_LOAD(a + i), GVT_HALF_LOAD(b + i))));
		i += GVT_WIDTH;
	}
	if (i < dim)
		s1 = GVT_ADD(s1, GVT_ABS(GVT_SUB(GVT_HALF_TAIL(a + i, dim - i),
										 GVT_HALF_TAIL(b + i, dim - i))));
	return GVT_SUM(GVT_ADD(s0, s1));
}

/* a.b, a.a and b.b over halves in one pass, one accumulator per sum. */
__attribute__((target(GVT_TARGET)))
static void
GVT_HALF_COSINE_PARTS(const uint16_t *a, const uint16_t *b, int dim,
					  float *ab, float *aa, float *bb)
{
	GVT_VEC		sab = GVT_ZERO();
	GVT_VEC		saa = GVT_ZERO();
	GVT_VEC		sbb = GVT_ZERO();
	int			i = 0;

	for (; i + GVT_WIDTH <= dim; i += GVT_WIDTH)
	{
		GVT_VEC		va = GVT_HALF_LOAD(a + i);
		GVT_VEC		vb = GVT_HALF_LOAD(b + i);

		sab = GVT_FMADD(va, vb, sab);
		saa = GVT_FMADD(va, va, saa);
		sbb = GVT_FMADD(vb, vb, sbb);
	}
	if (i < dim)
	{
		GVT_VEC		va = GVT_HALF_TAIL(a + i, dim - i);
		GVT_VEC		vb = GVT_HALF_TAIL(b + i, dim - i);

		sab = GVT_FMADD(va, vb, sab);
		saa = GVT_FMADD(va, va, saa);
		sbb = GVT_FMADD(vb, vb, sbb);
	}
	*ab = GVT_SUM(sab);
	*aa = GVT_SUM(saa);
	*bb = GVT_SUM(sbb);
}

#endif							/* GVT_HALF_LOAD */

#undef GVT_CONCAT_
#undef GVT_CONCAT
#undef GVT_L2SQUARED
#undef GVT_INNER_PRODUCT
#undef GVT_L1
#undef GVT_COSINE_PARTS
#undef GVT_HALF_L2SQUARED
#undef GVT_HALF_INNER_PRODUCT
#undef GVT_HALF_L1
#undef GVT_HALF_COSINE_PARTS
#undef GVT_HALF_LOAD
#undef GVT_HALF_TAIL
#undef GVT_SUFFIX
#undef GVT_TARGET
#undef GVT_VEC
#undef GVT_WIDTH
#undef GVT_ZERO
#undef GVT_LOAD
#undef GVT_MASK
#undef GVT_TAIL_MASK
#undef GVT_TAIL_LOAD
#undef GVT_ADD
#undef GVT_SUB
#undef GVT_FMADD
#undef GVT_ABS
#undef GVT_SUM
