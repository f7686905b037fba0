/*
 * projection.c
 *	  Principal-subspace sketches and the L2 lower bound they give (see
 *	  projection.h).
 *
 * Training is subspace iteration: start from random directions, multiply
 * by the sample's covariance (without forming it: C v = sum (x-m)(x-m)^T v)
 * and orthonormalise, a few times.  It converges to the span of the
 * leading principal directions, which is all the bound needs; exact
 * eigenvectors would not make it tighter.  Everything is in double and
 * deterministic for a seed, so a build of the same rows gives the same
 * sketches.
 */
#include "projection.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define PROJ_ITERATIONS		4

/* xorshift64*: a tiny seeded generator, enough for a random start. */
static double
NextUniform(uint64_t *state)
{
	uint64_t	x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (double) ((x * UINT64_C(2685821657736338717)) >> 11) / 9007199254740992.0 - 0.5;
}

/*
 * Modified Gram-Schmidt on the k rows of basis (each dim long).  A row that
 * has (almost) nothing left after removing the others -- data of rank below
 * k -- becomes zero: a projection on fewer orthonormal directions is still
 * a contraction, so the bound stays valid.
 */
static void
Orthonormalise(double *basis, int k, int dim)
{
	for (int t = 0; t < k; t++)
	{
		double	   *row = basis + (size_t) t * dim;
		double		before = 0,
					norm = 0;

		for (int j = 0; j < dim; j++)
			before += row[j] * row[j];
		for (int s = 0; s < t; s++)
		{
			const double *prev = basis + (size_t) s * dim;
			double		dot = 0;

			for (int j = 0; j < dim; j++)
				dot += row[j] * prev[j];
			for (int j = 0; j < dim; j++)
				row[j] -= dot * prev[j];
		}
		for (int j = 0; j < dim; j++)
			norm += row[j] * row[j];
		if (norm <= before * 1e-20 || norm == 0)
		{
			memset(row, 0, sizeof(double) * dim);
			continue;
		}
		norm = 1.0 / sqrt(norm);
		for (int j = 0; j < dim; j++)
			row[j] *= norm;
	}
}

void
GvProjTrain(const float *const *sample, int n, int dim, uint64_t seed,
			float *mean, float *dirs, double *work)
{
	const int	k = GV_PROJ_DIMS;
	double	   *basis = work;
	double	   *next = work + (size_t) k * dim;
	uint64_t	state = seed ? seed : 1;

	/* the mean, accumulated in next's first row */
	memset(next, 0, sizeof(double) * dim);
	for (int i = 0; i < n; i++)
		for (int j = 0; j < dim; j++)
			next[j] += sample[i][j];
	for (int j = 0; j < dim; j++)
		mean[j] = (float) (next[j] / n);

	for (size_t i = 0; i < (size_t) k * dim; i++)
		basis[i] = NextUniform(&state);
	Orthonormalise(basis, k, dim);

	for (int iter = 0; iter < PROJ_ITERATIONS; iter++)
	{
		double		coef[GV_PROJ_DIMS];
		double	   *tmp;

		memset(next, 0, sizeof(double) * (size_t) k * dim);
		for (int i = 0; i < n; i++)
		{
			for (int t = 0; t < k; t++)
			{
				const double *row = basis + (size_t) t * dim;
				double		dot = 0;

				for (int j = 0; j < dim; j++)
					dot += row[j] * ((double) sample[i][j] - mean[j]);
				coef[t] = dot;
			}
			for (int t = 0; t < k; t++)
			{
				double	   *row = next + (size_t) t * dim;

				for (int j = 0; j < dim; j++)
					row[j] += coef[t] * ((double) sample[i][j] - mean[j]);
			}
		}
		Orthonormalise(next, k, dim);
		tmp = basis;
		basis = next;
		next = tmp;
	}
	for (size_t i = 0; i < (size_t) k * dim; i++)
		dirs[i] = (float) basis[i];
}

void
GvProjSketch(const float *mean, const float *dirs, int dim, const float *x,
			 float *sketch)
{
	double		coef[GV_PROJ_DIMS];
	double		res = 0;

	for (int t = 0; t < GV_PROJ_DIMS; t++)
	{
		const float *row = dirs + (size_t) t * dim;
		double		dot = 0;

		for (int j = 0; j < dim; j++)
			dot += (double) row[j] * ((double) x[j] - mean[j]);
		coef[t] = dot;
		sketch[t] = (float) dot;
	}
	/* the residual's norm, computed directly (no cancellation) */
	for (int j = 0; j < dim; j++)
	{
		double		r = (double) x[j] - mean[j];

		for (int t = 0; t < GV_PROJ_DIMS; t++)
			r -= coef[t] * dirs[(size_t) t * dim + j];
		res += r * r;
	}
	sketch[GV_PROJ_DIMS] = (float) sqrt(res);
}

/*
 * Sketches are floats, so at extreme magnitudes they lose what the bound
 * needs: a coordinate of a vector near 1e38 overflows to infinity, and one
 * below FLT_MIN is a subnormal, off by up to 2^-150 whatever its size (the
 * relative slack cannot cover that).  So each term first gives up the
 * absolute error of the two roundings, 2^-149, and a term with an
 * infinite coordinate counts 0: the bound gets weaker there (more
 * elements read), never wrong.  On ordinary sketches both are no-ops.
 */
double
GvProjBound2(const float *sx, const float *sy)
{
	double		sum = 0;

	for (int t = 0; t <= GV_PROJ_DIMS; t++)
	{
		double		d;

		if (!isfinite(sx[t]) || !isfinite(sy[t]))
			continue;
		d = fabs((double) sx[t] - sy[t]) - (double) FLT_TRUE_MIN;
		if (d > 0)
			sum += d * d;
	}
	return sum * (1.0 - GV_PROJ_SLACK);
}
