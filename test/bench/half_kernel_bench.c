/*
 * half_kernel_bench.c
 *	  Throughput of every tier's ghalfvec kernels (inner product, squared L2)
 *	  on vectors in cache and streamed from memory, the tiers interleaved
 *	  round by round, each the best of its rounds, timed in this thread's
 *	  CPU time (a machine shared with other jobs takes the CPU away between
 *	  time slices, which wall-clock time would count); ratios against the
 *	  avx2 tier (F16C) measured in the same run.
 *
 *	  make -C test/kernels half-bench
 *
 * It prints a markdown table and never passes or fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "distance.h"
#include "quantize.h"

#define ROUNDS 5

static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* GB/s of one kernel over n vectors of dim halves against one query */
static double
Run(GvHalfPairKernel k, const uint16_t *q, const uint16_t *base, long n, int dim, long reps,
	volatile float *sink)
{
	double		t = Now();
	float		s = 0;

	for (long r = 0; r < reps; r++)
		for (long i = 0; i < n; i++)
			s += k(q, base + i * dim, dim);
	*sink = s;
	return (double) reps * n * dim * sizeof(uint16_t) / (Now() - t) / 1e9;
}

int
main(void)
{
	int			nsets;
	GvKernelSet sets = GvDistanceKernelSets(&nsets);
	static const int dims[] = {768, 3072};
	volatile float sink;

	printf("| dim | data | tier | inner product GB/s | × avx2 | squared L2 GB/s | × avx2 |\n");
	printf("|---|---|---|---|---|---|---|\n");
	for (int d = 0; d < 2; d++)
	{
		int			dim = dims[d];

		for (int big = 0; big < 2; big++)
		{
			/* 32 kB (in L1/L2) or 128 MB of halves */
			long		n = big ? (128L << 20) / (dim * 2) : (32L << 10) / (dim * 2) + 1;
			long		reps = big ? 1 : (64L << 20) / (n * dim * 2);
			uint16_t   *base = malloc(sizeof(uint16_t) * n * dim);
			uint16_t   *q = malloc(sizeof(uint16_t) * dim);
			double		ip[8] = {0},
						l2[8] = {0};
			int			ref = -1;

			for (long i = 0; i < n * dim; i++)
				base[i] = GvFloatToHalf((float) ((i * 2654435761u) % 2000) / 1000.0f - 1.0f);
			for (int i = 0; i < dim; i++)
				q[i] = GvFloatToHalf((float) (i % 17) / 17.0f);
			for (int r = 0; r < ROUNDS; r++)
				for (int t = 0; t < nsets && t < 8; t++)
				{
					int			s = (t + r) % nsets;

					if (!sets[s].supported())
						continue;
					double		x = Run(sets[s].half_inner_product, q, base, n, dim, reps, &sink);
					double		y = Run(sets[s].half_l2_squared, q, base, n, dim, reps, &sink);

					ip[s] = x > ip[s] ? x : ip[s];
					l2[s] = y > l2[s] ? y : l2[s];
				}
			for (int t = 0; t < nsets; t++)
				if (strcmp(sets[t].name, "avx2") == 0 && sets[t].supported())
					ref = t;
			for (int t = 0; t < nsets && t < 8; t++)
			{
				if (!sets[t].supported())
					continue;
				printf("| %d | %s | %s | %.1f | %.2f | %.1f | %.2f |\n", dim,
					   big ? "128 MB" : "32 kB", sets[t].name, ip[t],
					   ref >= 0 ? ip[t] / ip[ref] : 1.0, l2[t], ref >= 0 ? l2[t] / l2[ref] : 1.0);
			}
			free(base);
			free(q);
		}
	}
	return 0;
}
