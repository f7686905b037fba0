/*
 * test_projection.c
 *	  Unit test of src/projection.c: the trained directions are orthonormal,
 *	  the sketch's lower bound never exceeds the true squared distance, and
 *	  on data that lies in a low-dimensional subspace the bound is tight.
 *	  TAP output, one line per check.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projection.h"
#include "tap.h"

static double
Uniform(void)
{
	return rand() / (double) RAND_MAX - 0.5;
}

static double
TrueDistance2(const float *a, const float *b, int dim)
{
	double		s = 0;

	for (int j = 0; j < dim; j++)
		s += ((double) a[j] - b[j]) * ((double) a[j] - b[j]);
	return s;
}

/*
 * n vectors of dim: a few strong directions (rank "rank"), plus noise of
 * the given size, plus an offset (so the mean matters).
 */
static float *
MakeData(int n, int dim, int rank, double noise)
{
	float	   *x = malloc(sizeof(float) * n * dim);
	double	   *basis = malloc(sizeof(double) * rank * dim);

	for (int i = 0; i < rank * dim; i++)
		basis[i] = Uniform();
	for (int i = 0; i < n; i++)
	{
		double		coef[64];

		for (int t = 0; t < rank; t++)
			coef[t] = (10.0 / (t + 1)) * Uniform();
		for (int j = 0; j < dim; j++)
		{
			double		v = 100.0 + noise * Uniform();

			for (int t = 0; t < rank; t++)
				v += coef[t] * basis[t * dim + j];
			x[i * dim + j] = (float) v;
		}
	}
	free(basis);
	return x;
}

/*
 * exponent: the data are scaled by 2^exponent (0: as made), up to where
 * sketch coordinates overflow float or fall among the subnormals.
 */
static void
TestCase(int n, int dim, int rank, double noise, int exponent, const char *name)
{
	float	   *x = MakeData(n, dim, rank, noise);
	const float **sample = malloc(sizeof(float *) * n);
	float	   *mean = malloc(sizeof(float) * dim);
	float	   *dirs = malloc(sizeof(float) * GV_PROJ_DIMS * dim);
	double	   *work = malloc(sizeof(double) * 2 * GV_PROJ_DIMS * dim);
	float	   *sk = malloc(sizeof(float) * GV_PROJ_SKETCH * n);
	double		worstOrtho = 0,
				worstRatio = 0,
				sumRatio = 0;
	int			pairs = 0,
				valid = 1;
	char		what[200];

	for (int i = 0; i < n * dim; i++)
		x[i] = ldexpf(x[i], exponent);
	for (int i = 0; i < n; i++)
		sample[i] = x + i * dim;
	GvProjTrain(sample, n, dim, 42, mean, dirs, work);
	for (int a = 0; a < GV_PROJ_DIMS; a++)
		for (int b = 0; b <= a; b++)
		{
			double		dot = 0,
						na = 0;

			for (int j = 0; j < dim; j++)
			{
				dot += (double) dirs[a * dim + j] * dirs[b * dim + j];
				na += (double) dirs[a * dim + j] * dirs[a * dim + j];
			}
			if (a == b && na == 0)
				continue;		/* a dropped direction (rank below 16) */
			worstOrtho = fmax(worstOrtho, fabs(dot - (a == b ? 1.0 : 0.0)));
		}
	snprintf(what, sizeof(what), "%s: directions orthonormal (worst error %.2g)", name, worstOrtho);
	Check(worstOrtho < 1e-5, what);

	for (int i = 0; i < n; i++)
		GvProjSketch(mean, dirs, dim, x + i * dim, sk + i * GV_PROJ_SKETCH);
	for (int i = 0; i < n; i += 3)
		for (int k = i + 1; k < n; k += 7)
		{
			double		d2 = TrueDistance2(x + i * dim, x + k * dim, dim);
			double		lb = GvProjBound2(sk + i * GV_PROJ_SKETCH, sk + k * GV_PROJ_SKETCH);

			if (lb > d2)
				valid = 0;
			if (d2 > 0)
			{
				worstRatio = fmax(worstRatio, lb / d2);
				sumRatio += lb / d2;
				pairs++;
			}
		}
	snprintf(what, sizeof(what), "%s: bound <= true distance on %d pairs (largest ratio %.6f)",
			 name, pairs, worstRatio);
	Check(valid, what);
	if (rank <= GV_PROJ_DIMS && noise == 0 && exponent == 0)
	{
		snprintf(what, sizeof(what), "%s: bound tight in the data's subspace (mean ratio %.4f)",
				 name, sumRatio / pairs);
		Check(sumRatio / pairs > 0.99, what);
	}
	{
		float		same[GV_PROJ_SKETCH];

		GvProjSketch(mean, dirs, dim, x, same);
		Check(GvProjBound2(same, sk) == 0, "a vector's bound to itself is 0");
	}
	free(x);
	free(sample);
	free(mean);
	free(dirs);
	free(work);
	free(sk);
}

/*
 * Elements of both signs near FLT_MAX: the vectors' distances to the mean
 * exceed FLT_MAX, so sketch coordinates overflow float.
 */
static void
TestHuge(void)
{
	enum
	{
	N = 200, DIM = 40};
	float	   *x = malloc(sizeof(float) * N * DIM);
	const float **sample = malloc(sizeof(float *) * N);
	float	   *mean = malloc(sizeof(float) * DIM);
	float	   *dirs = malloc(sizeof(float) * GV_PROJ_DIMS * DIM);
	double	   *work = malloc(sizeof(double) * 2 * GV_PROJ_DIMS * DIM);
	float	   *sk = malloc(sizeof(float) * GV_PROJ_SKETCH * N);
	int			valid = 1,
				overflowed = 0;

	for (int i = 0; i < N * DIM; i++)
		x[i] = (float) (3e38 * (Uniform() < 0 ? -1 : 1) * (0.5 + fabs(Uniform())));
	for (int i = 0; i < N; i++)
		sample[i] = x + i * DIM;
	GvProjTrain(sample, N, DIM, 42, mean, dirs, work);
	for (int i = 0; i < N; i++)
	{
		GvProjSketch(mean, dirs, DIM, x + i * DIM, sk + i * GV_PROJ_SKETCH);
		for (int t = 0; t < GV_PROJ_SKETCH; t++)
			overflowed |= isinf(sk[i * GV_PROJ_SKETCH + t]);
	}
	for (int i = 0; i < N; i++)
		for (int k = i + 1; k < N; k += 3)
		{
			double		lb = GvProjBound2(sk + i * GV_PROJ_SKETCH, sk + k * GV_PROJ_SKETCH);

			if (!(lb <= TrueDistance2(x + i * DIM, x + k * DIM, DIM)))
				valid = 0;
		}
	Check(overflowed && valid,
		  "elements near +-3e38 (sketch coordinates overflow): bound <= true distance");
	free(x);
	free(sample);
	free(mean);
	free(dirs);
	free(work);
	free(sk);
}

int
main(void)
{
	srand(7);
	TestCase(500, 40, 4, 0.0, 0, "rank 4 in 40-D");
	TestCase(500, 40, 4, 3.0, 0, "rank 4 + noise in 40-D");
	TestCase(300, 784, 30, 20.0, 0, "rank 30 + noise in 784-D");
	TestCase(200, 8, 8, 1.0, 0, "8-D (fewer dimensions than directions)");
	TestCase(100, 3, 3, 0.0, 0, "3-D exact");
	/* near 1e38; subnormal coordinates (1e-40 and 1e-44) */
	TestCase(200, 40, 4, 3.0, 119, "rank 4 + noise in 40-D, near 1e38");
	TestHuge();
	TestCase(200, 40, 4, 3.0, -140, "rank 4 + noise in 40-D, near 1e-40");
	TestCase(200, 40, 4, 3.0, -152, "rank 4 + noise in 40-D, near 1e-44");
	printf("1..%d\n", TestNumber);
	return Failures > 0;
}
