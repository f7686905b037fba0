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
 * Besides the codes, an entry keeps ||c_l + r^||^2, the squared norm of the
 * reconstructed vector.  That makes the asymmetric L2 distance
 *
 *	 ||q - c_l - r^||^2 = ||q||^2 - 2 q.c_l + ||c_l + r^||^2 - 2 q.r^
 *
 * a per-list constant plus the stored norm plus a sum of lookups in one
 * table of q.(codeword) per query, shared by every probed list (instead
 * of one table per list); see ivfpqscan.c.
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
 * Encode x (already in the metric's index space): its list, and the codes
 * and reconstruction norm in entry.  scratch holds 2 * dim + ksub floats.
 */
void
IvfpqEncode(IvfpqCache cache, const float *x, int *list, IvfpqEntry entry,
			float *scratch)
{
	int			dim = cache->dim;
	int			m = cache->meta.subquantizers;
	int			dsub = cache->dsub;
	int			ksub = cache->ksub;
	float	   *residual = scratch;
	float	   *recon = scratch + dim;
	float	   *scores = scratch + 2 * dim;
	const float *c;
	int			l = IvfpqNearestList(cache, x);

	c = cache->centroids + (Size) l * dim;
	for (int d = 0; d < dim; d++)
		residual[d] = x[d] - c[d];

	for (int j = 0; j < m; j++)
	{
		const float *norms = cache->codebookNorms + (Size) j * ksub;
		const float *codeword;
		int			best;
		float		score;

		best = IvfpqNearestCodeword(residual + (Size) j * dsub,
									cache->codebookT + (Size) j * ksub * dsub, norms,
									dsub, ksub, scores, &score);
		entry->codes[j] = (uint8) best;
		codeword = cache->codebook + ((Size) j * ksub + best) * dsub;
		for (int d = 0; d < dsub; d++)
			recon[(Size) j * dsub + d] = c[(Size) j * dsub + d] + codeword[d];
	}

	entry->norm = GvInnerProduct(recon, recon, dim);
	*list = l;
}
