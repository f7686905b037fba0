/*
 * ivfpqkmeans.c
 *	  Lloyd's k-means with k-means++ seeding, for the coarse quantizer (one
 *	  run over whole vectors) and for the product quantizer (one run per
 *	  subspace, over a few dimensions each).
 *
 * Training runs on a sample of the table (see ivfpqbuild.c), so a run costs
 * O(iterations * n * k * dim) with n a small multiple of k.  Seeding is
 * k-means++ (Arthur & Vassilvitskii, 2007): each next centroid is a sample
 * point drawn with probability proportional to its squared distance from
 * the nearest centroid so far.  All randomness comes from a pg_prng_state
 * seeded with a constant, so a build is deterministic.
 *
 * An empty cluster is never left behind (and never left at zero): it takes
 * over the sample point farthest from its own centroid, which splits the
 * worst-fitting cluster.
 *
 * Distances between whole vectors use the SIMD kernels of distance.h.  Sub
 * vectors of a few dimensions would spend more in the kernel call than in
 * the arithmetic, so for them the centroids are transposed (dim x k) and
 * scored against a point all at once as ||c||^2 - 2 x.c, a loop over k that
 * the compiler vectorizes (IvfpqScoreSub, shared with encoding and the
 * per-query lookup tables).
 */
#include "compat.h"

#include <float.h>

#include "distance.h"
#include "ivfpq.h"
#include "miscadmin.h"

#if !defined(GV_NO_SIMD) && defined(__x86_64__) && defined(__GNUC__)
#define IVFPQ_HAVE_AVX2 1
#include <immintrin.h>
#endif

/*
 * The loops below vectorize; where the compiler can, build them twice, for
 * AVX2 and for the baseline, and let the loader pick (STYLE rule 8, tier 2).
 */
#if !defined(GV_NO_SIMD) && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define IVFPQ_TARGET_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define IVFPQ_TARGET_CLONES
#endif

/* Below this many dimensions, score against transposed centroids. */
#define KMEANS_SMALL_DIM	32

/*
 * scores[k] = x . C[k] for every codeword k, where codebookT holds the
 * codewords transposed: dsub rows of ksub floats.  The inner loop runs over
 * contiguous codewords and vectorizes.
 */
IVFPQ_TARGET_CLONES void
IvfpqScoreSub(const float *x, const float *codebookT, int dsub, int ksub,
			  float *scores)
{
	if (ksub % 8 != 0)
	{
		for (int k = 0; k < ksub; k++)
			scores[k] = 0.0f;
		for (int d = 0; d < dsub; d++)
			for (int k = 0; k < ksub; k++)
				scores[k] += x[d] * codebookT[(Size) d * ksub + k];
		return;
	}

	/* Blocks of 8 codewords: fixed trip counts the compiler vectorizes. */
	for (int k0 = 0; k0 < ksub; k0 += 8)
	{
		float		acc[8] = {0};
		float	   *out;

		for (int d = 0; d < dsub; d++)
		{
			const float *row = codebookT + (Size) d * ksub + k0;
			float		xd = x[d];

			for (int i = 0; i < 8; i++)
				acc[i] += xd * row[i];
		}
		out = scores + k0;		/* scores[k0 + i] would not vectorize */
		for (int i = 0; i < 8; i++)
			out[i] = acc[i];
	}
}

/*
 * scores[k] = norms[k] - 2 x . C[k]: the squared distance from x to every
 * codeword, less ||x||^2 (which does not change the nearest).
 */
IVFPQ_TARGET_CLONES void
IvfpqScoreSubL2(const float *x, const float *codebookT, const float *norms,
				int dsub, int ksub, float *scores)
{
	if (ksub % 8 != 0)
	{
		IvfpqScoreSub(x, codebookT, dsub, ksub, scores);
		for (int k = 0; k < ksub; k++)
			scores[k] = norms[k] - 2.0f * scores[k];
		return;
	}
	for (int k0 = 0; k0 < ksub; k0 += 8)
	{
		float		acc[8] = {0};
		float	   *out;
		const float *blockNorms;

		for (int d = 0; d < dsub; d++)
		{
			const float *row = codebookT + (Size) d * ksub + k0;
			float		xd = x[d];

			for (int i = 0; i < 8; i++)
				acc[i] += xd * row[i];
		}
		out = scores + k0;		/* scores[k0 + i] would not vectorize */
		blockNorms = norms + k0;
		for (int i = 0; i < 8; i++)
			out[i] = blockNorms[i] - 2.0f * acc[i];
	}
}

#ifdef IVFPQ_HAVE_AVX2
/*
 * IvfpqNearestCodeword with AVX2, eight codewords at a time: the scores of
 * IvfpqScoreSubL2, computed with the same operations in the same order
 * (multiply, then add: the AVX2 build of that loop has no FMA), so the
 * same bits, and the first least one kept in registers instead of being
 * stored and searched again by IvfpqArgMin.
 */
__attribute__((target("avx2")))
static int
NearestCodewordAvx2(const float *x, const float *codebookT, const float *norms,
					int dsub, int ksub, float *score)
{
	__m256		best = _mm256_set1_ps(FLT_MAX);
	__m256i		bestIdx = _mm256_setzero_si256();
	__m256i		idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	__m256		two = _mm256_set1_ps(2.0f);
	float		vals[8];
	int			idxs[8];
	int			result = 0;
	float		least = FLT_MAX;

	for (int k0 = 0; k0 < ksub; k0 += 8)
	{
		__m256		acc = _mm256_setzero_ps();
		__m256		s;
		__m256		less;

		for (int d = 0; d < dsub; d++)
			acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(x[d]),
												   _mm256_loadu_ps(codebookT + (Size) d * ksub + k0)));
		s = _mm256_sub_ps(_mm256_loadu_ps(norms + k0), _mm256_mul_ps(two, acc));
		less = _mm256_cmp_ps(s, best, _CMP_LT_OQ);
		best = _mm256_blendv_ps(best, s, less);
		bestIdx = _mm256_blendv_epi8(bestIdx, idx, _mm256_castps_si256(less));
		idx = _mm256_add_epi32(idx, _mm256_set1_epi32(8));
	}
	_mm256_storeu_ps(vals, best);
	_mm256_storeu_si256((__m256i *) idxs, bestIdx);
	for (int i = 0; i < 8; i++)
	{
		if (vals[i] < least || (vals[i] == least && idxs[i] < result))
		{
			least = vals[i];
			result = idxs[i];
		}
	}
	*score = least;
	return result;
}
#endif

/*
 * The codeword nearest to x: IvfpqArgMin of IvfpqScoreSubL2's scores, and
 * that score in *score.  scratch holds ksub floats.  The score and arg-min
 * are one pass (NearestCodewordAvx2) where the CPU allows: they were half
 * of a build with 196 subquantizers.
 */
int
IvfpqNearestCodeword(const float *x, const float *codebookT, const float *norms,
					 int dsub, int ksub, float *scratch, float *score)
{
	int			best;

#ifdef IVFPQ_HAVE_AVX2
	static int	hasAvx2 = -1;

	if (hasAvx2 < 0)
		hasAvx2 = __builtin_cpu_supports("avx2");
	if (hasAvx2 && ksub % 8 == 0)
		return NearestCodewordAvx2(x, codebookT, norms, dsub, ksub, score);
#endif
	IvfpqScoreSubL2(x, codebookT, norms, dsub, ksub, scratch);
	best = IvfpqArgMin(scratch, ksub);
	*score = scratch[best];
	return best;
}

/*
 * Index of the smallest of v[0..n-1]: a vectorizable minimum, then a
 * search for it.
 */
IVFPQ_TARGET_CLONES int
IvfpqArgMin(const float *v, int n)
{
	float		best = v[0];

	if (n % 8 == 0)
	{
		float		mins[8];

		for (int i = 0; i < 8; i++)
			mins[i] = v[i];
		for (int k0 = 8; k0 < n; k0 += 8)
		{
			const float *block = v + k0;	/* v[k0 + i] would be a gather */

			for (int i = 0; i < 8; i++)
				mins[i] = block[i] < mins[i] ? block[i] : mins[i];
		}
		/* every lane, the first too: it holds v[8], v[16], ... */
		best = mins[0];
		for (int i = 1; i < 8; i++)
			if (mins[i] < best)
				best = mins[i];
	}
	else
	{
		for (int i = 1; i < n; i++)
			if (v[i] < best)
				best = v[i];
	}
	if (n % 8 == 0)
	{
		/* find the block first: an 8-wide compare, not 8 branches */
		for (int k0 = 0; k0 < n; k0 += 8)
		{
			const float *block = v + k0;
			bool		found = false;

			for (int i = 0; i < 8; i++)
				found |= block[i] == best;
			if (found)
				for (int i = 0; i < 8; i++)
					if (block[i] == best)
						return k0 + i;
		}
		return 0;				/* NaNs only */
	}
	for (int i = 0; i < n; i++)
		if (v[i] == best)
			return i;
	return 0;					/* NaNs only */
}

/*
 * Squared distance from x to every centroid, in dist[0..k-1].  For small
 * dimensions centroidsT/norms must hold the transposed centroids and their
 * squared norms.
 */
static void
DistancesTo(const float *x, const float *centroids, const float *centroidsT,
			const float *norms, int dim, int k, float *dist)
{
	if (dim < KMEANS_SMALL_DIM)
	{
		IvfpqScoreSubL2(x, centroidsT, norms, dim, k, dist);
	}
	else
	{
		for (int j = 0; j < k; j++)
			dist[j] = GvL2SquaredDistance(x, centroids + (Size) j * dim, dim);
	}
}

/*
 * Refresh the transposed copy and norms of the centroids (small dims only).
 */
static void
Transpose(const float *centroids, int dim, int k, float *centroidsT,
		  float *norms)
{
	if (dim >= KMEANS_SMALL_DIM)
		return;
	for (int j = 0; j < k; j++)
	{
		float		norm = 0.0f;

		for (int d = 0; d < dim; d++)
		{
			float		v = centroids[(Size) j * dim + d];

			centroidsT[(Size) d * k + j] = v;
			norm += v * v;
		}
		norms[j] = norm;
	}
}

/*
 * k-means++ seeding: fill centroids with k sample points.
 */
static inline float
PointDistance(const float *a, const float *b, int dim)
{
	float		d = 0.0f;

	if (dim >= KMEANS_SMALL_DIM)
		return GvL2SquaredDistance(a, b, dim);
	for (int i = 0; i < dim; i++)
		d += (a[i] - b[i]) * (a[i] - b[i]);
	return d;
}

static void
Seed(const float *data, int n, int dim, int k, pg_prng_state *rng,
	 float *centroids, float *mindist)
{
	int			first = (int) pg_prng_uint64_range(rng, 0, n - 1);

	memcpy(centroids, data + (Size) first * dim, sizeof(float) * dim);
	for (int i = 0; i < n; i++)
		mindist[i] = PointDistance(centroids, data + (Size) i * dim, dim);

	for (int c = 1; c < k; c++)
	{
		double		total = 0.0;
		double		target;
		int			chosen = n - 1;
		float	   *centroid = centroids + (Size) c * dim;

		CHECK_FOR_INTERRUPTS();

		for (int i = 0; i < n; i++)
			total += mindist[i];

		if (total > 0.0)
		{
			double		cum = 0.0;

			target = pg_prng_double(rng) * total;
			for (int i = 0; i < n; i++)
			{
				cum += mindist[i];
				if (cum > target)
				{
					chosen = i;
					break;
				}
			}
		}
		else
			chosen = (int) pg_prng_uint64_range(rng, 0, n - 1);

		memcpy(centroid, data + (Size) chosen * dim, sizeof(float) * dim);
		for (int i = 0; i < n; i++)
		{
			float		d = PointDistance(centroid, data + (Size) i * dim, dim);

			if (d < mindist[i])
				mindist[i] = d;
		}
	}
}

/*
 * Cluster n points of dim floats into k centroids (k <= n), written to
 * centroids (k x dim).
 */
void
IvfpqKmeans(const float *data, int n, int dim, int k, int iterations,
			pg_prng_state *rng, float *centroids)
{
	int		   *assign = palloc(sizeof(int) * n);
	float	   *pointDist = palloc(sizeof(float) * n);
	int		   *counts = palloc(sizeof(int) * k);
	float	   *sums = palloc(sizeof(float) * (Size) k * dim);
	float	   *dist = palloc(sizeof(float) * k);
	float	   *centroidsT = NULL;
	float	   *norms = NULL;

	Assert(k >= 1 && n >= 1);

	/* Fewer points than clusters: every point is a centroid, cyclically. */
	if (k >= n)
	{
		for (int j = 0; j < k; j++)
			memcpy(centroids + (Size) j * dim, data + (Size) (j % n) * dim,
				   sizeof(float) * dim);
		pfree(assign);
		pfree(pointDist);
		pfree(counts);
		pfree(sums);
		pfree(dist);
		return;
	}

	if (dim < KMEANS_SMALL_DIM)
	{
		centroidsT = palloc(sizeof(float) * (Size) k * dim);
		norms = palloc(sizeof(float) * k);
	}

	Seed(data, n, dim, k, rng, centroids, pointDist);
	for (int i = 0; i < n; i++)
		assign[i] = -1;

	for (int iter = 0; iter < iterations; iter++)
	{
		int			changed = 0;

		Transpose(centroids, dim, k, centroidsT, norms);

		/* Assignment step */
		for (int i = 0; i < n; i++)
		{
			const float *x = data + (Size) i * dim;
			int			best;
			float		bestDist;

			if ((i & 255) == 0)
				CHECK_FOR_INTERRUPTS();

			if (dim < KMEANS_SMALL_DIM)
			{
				best = IvfpqNearestCodeword(x, centroidsT, norms, dim, k, dist, &bestDist);
				/* scores were ||c||^2 - 2 x.c: add ||x||^2 back */
				for (int d = 0; d < dim; d++)
					bestDist += x[d] * x[d];
			}
			else
			{
				DistancesTo(x, centroids, centroidsT, norms, dim, k, dist);
				best = IvfpqArgMin(dist, k);
				bestDist = dist[best];
			}
			if (assign[i] != best)
				changed++;
			assign[i] = best;
			pointDist[i] = bestDist;
		}

		if (changed == 0 && iter > 0)
			break;

		/* Update step */
		memset(counts, 0, sizeof(int) * k);
		memset(sums, 0, sizeof(float) * (Size) k * dim);
		for (int i = 0; i < n; i++)
		{
			float	   *sum = sums + (Size) assign[i] * dim;
			const float *x = data + (Size) i * dim;

			counts[assign[i]]++;
			for (int d = 0; d < dim; d++)
				sum[d] += x[d];
		}

		for (int j = 0; j < k; j++)
		{
			float	   *c = centroids + (Size) j * dim;

			if (counts[j] > 0)
			{
				float		inv = 1.0f / counts[j];

				for (int d = 0; d < dim; d++)
					c[d] = sums[(Size) j * dim + d] * inv;
			}
			else
			{
				/* Re-seed: take the point that fits its cluster worst. */
				int			far = 0;

				for (int i = 1; i < n; i++)
					if (pointDist[i] > pointDist[far])
						far = i;
				memcpy(c, data + (Size) far * dim, sizeof(float) * dim);
				pointDist[far] = 0.0f;
			}
		}
	}

	pfree(assign);
	pfree(pointDist);
	pfree(counts);
	pfree(sums);
	pfree(dist);
	if (centroidsT)
	{
		pfree(centroidsT);
		pfree(norms);
	}
}
