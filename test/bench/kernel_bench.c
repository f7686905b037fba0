/*-------------------------------------------------------------------------
 *
 * kernel_bench.c
 *	  Micro-benchmark of the distance kernels in src/distance.c.
 *
 * The workload is a sequential scan as an index or a brute-force search
 * does it: one query vector stays in cache while its distance to each of N
 * database vectors of dimension 784 is computed.  Throughput is the bytes
 * of database vectors read per second (the query is not counted), for
 *
 *	(a) a set of 256 KiB, which stays in L2 after the first pass: this is
 *		what the kernel itself can do;
 *	(b) a set of 512 MiB, far larger than any cache: this is bounded by
 *		memory bandwidth, and a good kernel comes close to it.
 *
 * The safe distances of distance.h (the float kernel, and double where its
 * sum overflows or underflows) are measured beside their kernels, on the
 * same ordinary data, where the double pass never runs: what the check
 * costs the hot path.
 *
 * Two baselines are measured over the same buffers in the same run:
 * memcpy into a second buffer (counted as bytes read) and a plain read-only
 * summing scan.  The best kernel should reach at least half the memcpy
 * rate on the large set.
 *
 * The machines are small and noisy, so every measurement is repeated and
 * the best time kept, and the repetitions are interleaved: each round runs
 * every measurement once, so a slow minute hurts all of them alike.
 *
 * distance.c is built with the extension's flags (no -march=native); the
 * tiers are picked at run time as in the server.  Build and run with
 * "make -C test/kernels bench".
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "distance.h"

#define DIM				784
#define VECTOR_BYTES	(DIM * sizeof(float))
#define SMALL_BYTES		((size_t) 256 * 1024)
#define LARGE_BYTES		((size_t) 512 * 1024 * 1024)
#define SMALL_PASSES	1024	/* 256 MiB read per timed small run */
#define ROUNDS			9
#define MAX_TIERS		8

typedef enum BenchKind
{
	BENCH_L2,
	BENCH_IP,
	BENCH_L1,
	BENCH_COSINE,
	BENCH_L2_SAFE,
	BENCH_IP_SAFE,
	BENCH_MEMCPY,
	BENCH_SUM,
	NUM_BENCH_KINDS
} BenchKind;

#define NUM_KERNEL_KINDS BENCH_MEMCPY

static const char *const BenchNames[NUM_BENCH_KINDS] = {
	"l2_squared", "inner_product", "l1", "cosine_parts",
	"l2 safe", "ip safe", "memcpy", "sum scan"
};

/* One measurement: what to run, and the best time seen so far. */
typedef struct MeasureData
{
	GvKernelSet set;			/* NULL for the baselines */
	BenchKind	kind;
	bool		large;
	double		best_seconds;
	double		bytes;			/* vector bytes read per run */
} MeasureData;

static float Query[DIM];
static float *Data;				/* LARGE_BYTES of vectors */
static char *CopyTarget;		/* memcpy destination */
static volatile double Sink;	/* keeps results alive */


/* Seconds on a monotonic clock. */
static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Uniform in [-1, 1), deterministic. */
static float
RandomUnit(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float) ((double) (*state >> 11) / 4503599627370496.0 - 1.0);
}

/*
 * Read-only summing scan: the bandwidth a loop gets that does nothing but
 * load.  Four independent integer lanes (two SSE registers), so it
 * vectorizes at -O2 and is never limited by add latency; with more lanes
 * GCC keeps them in memory.
 */
static uint64_t
SumScan(const void *buf, size_t bytes)
{
	const uint64_t *p = buf;
	size_t		n = bytes / sizeof(uint64_t);
	uint64_t	lane[4] = {0};
	uint64_t	sum = 0;
	size_t		i;
	int			j;

	for (i = 0; i + 4 <= n; i += 4)
	{
		const uint64_t *q = p + i;

		for (j = 0; j < 4; j++)
			lane[j] += q[j];
	}
	for (j = 0; j < 4; j++)
		sum += lane[j];
	return sum;
}

/* Distance from the query to each of nvectors vectors at base. */
static double
ScanVectors(GvKernelSet set, BenchKind kind, const float *base,
			size_t nvectors)
{
	float		sum = 0.0f;
	double		dsum = 0.0;
	float		ab,
				aa,
				bb;
	size_t		v;

	switch (kind)
	{
		case BENCH_L2:
			for (v = 0; v < nvectors; v++)
				sum += set->l2_squared(Query, base + v * DIM, DIM);
			break;
		case BENCH_IP:
			for (v = 0; v < nvectors; v++)
				sum += set->inner_product(Query, base + v * DIM, DIM);
			break;
		case BENCH_L1:
			for (v = 0; v < nvectors; v++)
				sum += set->l1(Query, base + v * DIM, DIM);
			break;
		case BENCH_COSINE:
			for (v = 0; v < nvectors; v++)
			{
				set->cosine_parts(Query, base + v * DIM, DIM, &ab, &aa, &bb);
				sum += ab + bb;
			}
			break;
		case BENCH_L2_SAFE:
			for (v = 0; v < nvectors; v++)
				dsum += GvSafeL2Squared(set->l2_squared, Query, base + v * DIM, DIM);
			break;
		case BENCH_IP_SAFE:
			for (v = 0; v < nvectors; v++)
				dsum += GvSafeInnerProduct(set->inner_product, Query, base + v * DIM, DIM);
			break;
		default:
			abort();
	}
	return sum + dsum;
}

/* Run one measurement once and keep its time if it is the best so far. */
static void
RunOnce(MeasureData *m)
{
	size_t		bytes = m->large ? LARGE_BYTES : SMALL_BYTES;
	size_t		nvectors = bytes / VECTOR_BYTES;
	int			passes = m->large ? 1 : SMALL_PASSES;
	double		start;
	double		elapsed;
	int			p;

	/* whole vectors only, so the baselines read the same bytes */
	bytes = nvectors * VECTOR_BYTES;
	m->bytes = (double) bytes * passes;

	start = Now();
	for (p = 0; p < passes; p++)
	{
		switch (m->kind)
		{
			case BENCH_MEMCPY:
				memcpy(CopyTarget, Data, bytes);
				Sink += CopyTarget[p % bytes];
				break;
			case BENCH_SUM:
				Sink += (double) SumScan(Data, bytes);
				break;
			default:
				Sink += ScanVectors(m->set, m->kind, Data, nvectors);
				break;
		}
	}
	elapsed = Now() - start;
	if (elapsed < m->best_seconds)
		m->best_seconds = elapsed;
}

/* Best throughput of a measurement in GB/s (10^9 bytes). */
static double
Rate(const MeasureData *m)
{
	return m->bytes / m->best_seconds / 1e9;
}


int
main(void)
{
	int			nsets;
	GvKernelSet sets = GvDistanceKernelSets(&nsets);
	MeasureData measures[(MAX_TIERS * NUM_KERNEL_KINDS + 2) * 2];
	int			nmeasures = 0;
	uint64_t	seed = 42;
	double		started = Now();
	double		best_large = 0.0;
	double		memcpy_large = 0.0;
	double		sum_large = 0.0;
	const char *best_name = "";
	size_t		i;
	int			t;
	int			k;
	int			size;
	int			r;

	GvDistanceInit();
	printf("kernel tier chosen by GvDistanceInit: %s\n", GvDistanceKernelName());
	printf("tiers compiled in:");
	for (t = 0; t < nsets; t++)
		printf(" %s%s", sets[t].name,
			   sets[t].supported() ? "" : " (not supported by this CPU)");
	printf("\n");

	Data = malloc(LARGE_BYTES);
	CopyTarget = malloc(LARGE_BYTES);
	if (Data == NULL || CopyTarget == NULL)
	{
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	/* touch every page now, so no run pays for page faults */
	for (i = 0; i < LARGE_BYTES / sizeof(float); i++)
		Data[i] = RandomUnit(&seed);
	memset(CopyTarget, 0, LARGE_BYTES);
	for (i = 0; i < DIM; i++)
		Query[i] = RandomUnit(&seed);

	for (size = 0; size < 2; size++)
	{
		for (t = 0; t < nsets && t < MAX_TIERS; t++)
		{
			if (!sets[t].supported())
				continue;
			for (k = 0; k < NUM_KERNEL_KINDS; k++)
			{
				MeasureData *m = &measures[nmeasures++];

				m->set = &sets[t];
				m->kind = (BenchKind) k;
				m->large = (size == 1);
				m->best_seconds = 1e30;
			}
		}
		for (k = BENCH_MEMCPY; k <= BENCH_SUM; k++)
		{
			MeasureData *m = &measures[nmeasures++];

			m->set = NULL;
			m->kind = (BenchKind) k;
			m->large = (size == 1);
			m->best_seconds = 1e30;
		}
	}

	printf("dim %d, %zu vectors (%zu KiB) in L2, %zu vectors (%zu MiB) from memory, "
		   "best of %d interleaved rounds\n\n",
		   DIM, SMALL_BYTES / VECTOR_BYTES, SMALL_BYTES / 1024,
		   LARGE_BYTES / VECTOR_BYTES, LARGE_BYTES / (1024 * 1024), ROUNDS);

	for (r = 0; r < ROUNDS; r++)
		for (i = 0; i < (size_t) nmeasures; i++)
			RunOnce(&measures[i]);

	printf("%-8s %-14s %14s %14s %14s\n", "tier", "kernel",
		   "L2 set GB/s", "512MiB GB/s", "ns/vector");
	for (i = 0; i < (size_t) nmeasures / 2; i++)
	{
		const MeasureData *small = &measures[i];
		const MeasureData *large = &measures[i + nmeasures / 2];
		double		large_rate = Rate(large);

		printf("%-8s %-14s %14.2f %14.2f %14.1f\n",
			   small->set ? small->set->name : "baseline",
			   BenchNames[small->kind], Rate(small), large_rate,
			   large->best_seconds * 1e9 / (LARGE_BYTES / VECTOR_BYTES));
		if (large->kind == BENCH_MEMCPY)
			memcpy_large = large_rate;
		else if (large->kind == BENCH_SUM)
			sum_large = large_rate;
		else if (large_rate > best_large)
		{
			best_large = large_rate;
			best_name = BenchNames[large->kind];
		}
	}

	printf("\nbest kernel on 512 MiB: %s at %.2f GB/s = %.2f x memcpy read "
		   "bandwidth (%.2f GB/s), %.2f x sum scan (%.2f GB/s)\n",
		   best_name, best_large, best_large / memcpy_large, memcpy_large,
		   best_large / sum_large, sum_large);
	printf("target (best kernel within 2x of memcpy): %s\n",
		   best_large * 2.0 >= memcpy_large ? "met" : "NOT met");
	printf("total time %.1f s\n", Now() - started);
	return 0;
}
