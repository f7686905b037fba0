/*
 * gpucpu.c
 *	  The CPU backend's search: what the GPU search service answers with
 *	  when there is no device, bit for bit what an exact scan returns.
 *
 *	  A blocked brute force: queries in blocks of GPU_QUERY_BLOCK, vectors
 *	  in blocks that fit in L2 (about 256 kB), so each vector block is read
 *	  from memory once per query block.  Each distance is the one the SQL
 *	  operator computes for the pair (the safe kernels of distance.h, the
 *	  same formula).  Each query keeps its k nearest in a bounded max-heap
 *	  (gvheap.h) ordered by (distance, row number); rows are numbered in id
 *	  order, so equal distances come out by id.
 *
 *	  Threads.  With gigavector.gpu_cpu_threads > 1 and enough work, each
 *	  query block's rows are cut into that many contiguous ranges, one per
 *	  thread, each with heaps of its own, merged afterwards; (distance, row)
 *	  is a total order, so the merge gives exactly the serial answer.  The
 *	  threads touch nothing of PostgreSQL's: no palloc, no elog, no
 *	  interrupts (all signals are blocked in them, so handlers run in the
 *	  main thread).  The main thread takes the first range itself; when it
 *	  sees an interrupt pending it tells the others to stop, joins them,
 *	  and only then lets CHECK_FOR_INTERRUPTS throw, so no thread ever runs
 *	  over memory an error has freed.  A thread that cannot be started
 *	  leaves its range to the main thread.
 */
#include "compat.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "distance.h"
#include "miscadmin.h"
#include "gpu.h"

#define GPU_QUERY_BLOCK		16
#define GPU_BLOCK_BYTES		(256 * 1024)
#define GPU_MAX_THREADS		64
/* fewer multiply-adds per query block than this: threads cost more than they save */
#define GPU_THREAD_MIN_WORK	(1 << 20)

typedef struct GpuHit
{
	double		dist;
	int64		index;
} GpuHit;

#define GV_HEAP_PREFIX		gpuhit
#define GV_HEAP_ELEMENT		GpuHit
#define GV_HEAP_LESS(a, b)	((a)->dist < (b)->dist || ((a)->dist == (b)->dist && (a)->index < (b)->index))
#define GV_HEAP_MAX
#include "gvheap.h"

int			gv_gpu_cpu_threads = 0;

/* One thread's part of a query block: rows [begin, end) against qn queries. */
typedef struct CpuRange
{
	const float *vectors;
	const float *queries;
	int			dim;
	int			qn;
	int			k;
	int			metric;
	int64		begin;
	int64		end;
	gpuhit_heap heaps[GPU_QUERY_BLOCK];
	volatile sig_atomic_t *stop;
	bool		main_thread;
} CpuRange;

/* The distance the SQL operator of the metric computes for (v, q). */
static inline double
PairDistance(const float *v, const float *q, int dim, int metric)
{
	switch (metric)
	{
		case GV_GPU_METRIC_IP:
			/* 0.0 - x, as <#> does: a zero product is 0, not -0 */
			return 0.0 - GvSafeInnerProduct(GvInnerProduct, v, q, dim);
		case GV_GPU_METRIC_COSINE:
			{
				double		ab,
							aa,
							bb,
							similarity;

				GvSafeCosineParts(v, q, dim, &ab, &aa, &bb);
				if (aa == 0.0 || bb == 0.0)
					return 1.0;
				similarity = ab / sqrt(aa * bb);
				if (similarity > 1.0)
					similarity = 1.0;
				else if (similarity < -1.0)
					similarity = -1.0;
				return 1.0 - similarity;
			}
		default:
			return sqrt(GvSafeL2Squared(GvL2SquaredDistance, v, q, dim));
	}
}

/* Offer rows [range->begin, range->end) to the range's heaps, block by block. */
static void
ScanRange(CpuRange *range)
{
	int64		block = Max(1, GPU_BLOCK_BYTES / (int64) (sizeof(float) * range->dim));

	for (int64 v0 = range->begin; v0 < range->end; v0 += block)
	{
		int64		v1 = Min(range->end, v0 + block);

		if (range->main_thread && InterruptPending)
			*range->stop = true;
		if (*range->stop)
			return;
		for (int q = 0; q < range->qn; q++)
		{
			const float *query = range->queries + (Size) q * range->dim;

			for (int64 v = v0; v < v1; v++)
			{
				GpuHit		hit;

				hit.dist = PairDistance(range->vectors + (Size) v * range->dim,
										query, range->dim, range->metric);
				hit.index = v;
				(void) gpuhit_offer(&range->heaps[q], &hit, range->k, NULL);
			}
		}
	}
}

static void *
ScanRangeThread(void *arg)
{
	ScanRange((CpuRange *) arg);
	return NULL;
}

/* How many threads a query block of qn queries over n rows should use. */
static int
ThreadsFor(int64 n, int dim, int qn)
{
	int			threads = gv_gpu_cpu_threads;

	if (threads == 0)
		threads = (int) Min(Max(sysconf(_SC_NPROCESSORS_ONLN), 1), 16);
	threads = Min(threads, GPU_MAX_THREADS);
	if ((double) n * dim * qn < (double) GPU_THREAD_MIN_WORK * threads)
		threads = (int) Max(1, Min((double) threads, (double) n * dim * qn / GPU_THREAD_MIN_WORK));
	return (int) Min((int64) threads, n);
}

/*
 * Run ranges[1..nranges-1] on threads of their own and ranges[0] here;
 * ranges whose thread could not start run here too.
 */
static void
ScanRanges(CpuRange *ranges, int nranges)
{
	pthread_t	tids[GPU_MAX_THREADS];
	bool		started[GPU_MAX_THREADS] = {false};
	sigset_t	all,
				old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int t = 1; t < nranges; t++)
		started[t] = pthread_create(&tids[t], NULL, ScanRangeThread, &ranges[t]) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	ScanRange(&ranges[0]);
	for (int t = 1; t < nranges; t++)
	{
		if (started[t])
			pthread_join(tids[t], NULL);
		else
			ScanRange(&ranges[t]);
	}
}

/*
 * The k nearest of n vectors to each of nq queries (see the file header):
 * out_index[q * k + j] and out_distance[q * k + j] for j < min(k, n).
 */
void
GpuCpuSearch(const float *vectors, int64 n, int dim,
			 const float *queries, int nq, int k, int metric,
			 int64 *out_index, double *out_distance)
{
	int			maxthreads = ThreadsFor(n, dim, GPU_QUERY_BLOCK);
	CpuRange   *ranges = palloc0(sizeof(CpuRange) * maxthreads);
	GpuHit	   *items = palloc(sizeof(GpuHit) * (Size) maxthreads * GPU_QUERY_BLOCK * k);
	volatile sig_atomic_t stop = false;

	for (int q0 = 0; q0 < nq; q0 += GPU_QUERY_BLOCK)
	{
		int			qn = Min(GPU_QUERY_BLOCK, nq - q0);
		int			nranges = Min(maxthreads, ThreadsFor(n, dim, qn));

		for (int t = 0; t < nranges; t++)
		{
			CpuRange   *r = &ranges[t];

			r->vectors = vectors;
			r->queries = queries + (Size) q0 * dim;
			r->dim = dim;
			r->qn = qn;
			r->k = k;
			r->metric = metric;
			r->begin = n * t / nranges;
			r->end = n * (t + 1) / nranges;
			r->stop = &stop;
			r->main_thread = (t == 0);
			for (int q = 0; q < qn; q++)
				gpuhit_init(&r->heaps[q], items + ((Size) t * GPU_QUERY_BLOCK + q) * k, k);
		}
		ScanRanges(ranges, nranges);
		CHECK_FOR_INTERRUPTS();

		for (int q = 0; q < qn; q++)
		{
			gpuhit_heap *best = &ranges[0].heaps[q];
			int			found;

			/*
			 * merge the other ranges into the first: (dist, row) is a total
			 * order
			 */
			for (int t = 1; t < nranges; t++)
			{
				gpuhit_heap *h = &ranges[t].heaps[q];

				for (int j = 0; j < h->count; j++)
					(void) gpuhit_offer(best, &h->items[j], k, NULL);
			}
			found = gpuhit_sort(best);
			for (int j = 0; j < found; j++)
			{
				out_index[(Size) (q0 + q) * k + j] = best->items[j].index;
				out_distance[(Size) (q0 + q) * k + j] = best->items[j].dist;
			}
		}
	}
	pfree(items);
	pfree(ranges);
}
