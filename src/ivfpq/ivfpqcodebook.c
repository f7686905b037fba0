/*
 * ivfpqcodebook.c
 *	  Product quantization (Jégou, Douze & Schmid, 2011): training the
 *	  per-subspace codebooks on residuals, and encoding vectors.
 *
 * A vector x in list l is stored as the residual r = x - c_l cut into m
 * subvectors of dsub = dim / m dimensions; subvector j is replaced by the
 * index of its nearest codeword among the 2^bits of codebook j.  Codebooks
 * are shared by all lists (trained on the residuals of the training
 * sample), as in Faiss' IndexIVFPQ.
 *
 * An entry keeps the codes only.  The asymmetric L2 distance of a query q
 * to an entry of list l,
 *
 *	 ||q - c_l - r^||^2 = ||q - c_l||^2 + sum_j (||C_j,k_j||^2 - 2 (q - c_l)_j . C_j,k_j)
 *
 * is a per-list constant plus m lookups in a table the scan computes once
 * per probed list (m x 2^bits floats, dim x 2^bits multiply-adds: about a
 * microsecond); cosine and inner product need no norm, and one table of
 * q_j . C_jk serves every list (see ivfpqscan.c).  Storing the norm of the
 * reconstructed vector, as an earlier format did, saved that table at 4
 * bytes an entry: a sixth of the index at 16 subquantizers.
 */
#include "compat.h"

#include <float.h>

#include "commands/progress.h"
#include "distance.h"
#include "ivfpq.h"
#include "miscadmin.h"
#include "pgstat.h"

/*
 * Train m codebooks of ksub codewords on n residuals (n >= ksub), written
 * to codebook (m x ksub x dsub).
 */
void
IvfpqTrainCodebooks(const float *residuals, int n, int dim, int m, int ksub,
					pg_prng_state *rng, float *codebook)
{
	int			dsub = dim / m;
	float	   *sub = palloc(sizeof(float) * (Size) n * dsub);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, m);
	for (int j = 0; j < m; j++)
	{
		CHECK_FOR_INTERRUPTS();

		for (int i = 0; i < n; i++)
			memcpy(sub + (Size) i * dsub, residuals + (Size) i * dim + (Size) j * dsub,
				   sizeof(float) * dsub);
		IvfpqKmeans(sub, n, dsub, ksub, IVFPQ_PQ_ITERATIONS, rng,
					codebook + (Size) j * ksub * dsub);
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, j + 1);
	}
	pfree(sub);
}

/*
 * Derive the transposed codebooks and the norms a cache needs from its
 * centroids and codebooks.
 */
void
IvfpqFinishCache(IvfpqCache cache)
{
	int			lists = cache->meta.lists;
	int			m = cache->meta.subquantizers;
	int			ksub = cache->ksub;
	int			dsub = cache->dsub;
	int			dim = cache->dim;

	cache->centroidNorms = palloc(sizeof(float) * lists);
	for (int l = 0; l < lists; l++)
	{
		const float *c = cache->centroids + (Size) l * dim;

		cache->centroidNorms[l] = GvInnerProduct(c, c, dim);
	}

	cache->codebookT = palloc(sizeof(float) * (Size) m * ksub * dsub);
	cache->codebookNorms = palloc(sizeof(float) * (Size) m * ksub);
	for (int j = 0; j < m; j++)
	{
		const float *book = cache->codebook + (Size) j * ksub * dsub;
		float	   *bookT = cache->codebookT + (Size) j * ksub * dsub;

		for (int k = 0; k < ksub; k++)
		{
			float		norm = 0.0f;

			for (int d = 0; d < dsub; d++)
			{
				float		v = book[(Size) k * dsub + d];

				bookT[(Size) d * ksub + k] = v;
				norm += v * v;
			}
			cache->codebookNorms[(Size) j * ksub + k] = norm;
		}
	}
}

/*
 * The list whose centroid is nearest to x (in L2, the k-means objective).
 */
int
IvfpqNearestList(IvfpqCache cache, const float *x)
{
	int			best = 0;
	float		bestDist = FLT_MAX;
	int			dim = cache->dim;

	for (int l = 0; l < (int) cache->meta.lists; l++)
	{
		float		d = GvL2SquaredDistance(x, cache->centroids + (Size) l * dim, dim);

		if (d < bestDist)
		{
			bestDist = d;
			best = l;
		}
	}
	return best;
}

/*
 * Encode x (already in the metric's index space): its list, and one code
 * per subquantizer of its residual to the list's centroid.  scratch holds
 * dim + ksub floats.
 */
void
IvfpqEncode(IvfpqCache cache, const float *x, int *list, uint8 *codes,
			float *scratch)
{
	int			dim = cache->dim;
	int			m = cache->meta.subquantizers;
	int			dsub = cache->dsub;
	int			ksub = cache->ksub;
	float	   *residual = scratch;
	float	   *scores = scratch + dim;
	const float *c;
	int			l = IvfpqNearestList(cache, x);

	c = cache->centroids + (Size) l * dim;
	for (int d = 0; d < dim; d++)
		residual[d] = x[d] - c[d];

	for (int j = 0; j < m; j++)
	{
		float		score;

		codes[j] = (uint8) IvfpqNearestCodeword(residual + (Size) j * dsub,
												cache->codebookT + (Size) j * ksub * dsub,
												cache->codebookNorms + (Size) j * ksub,
												dsub, ksub, scores, &score);
	}
	*list = l;
}
