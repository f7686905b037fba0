/*
 * gv_cuda.cu
 *	  The CUDA backend of the GPU search service, built into its own
 *	  library (gigavector_cuda.so) that only the GPU worker dlopen()s; it
 *	  implements GvCudaApi of gv_gpu.h, whose plain C types are all that
 *	  crosses the boundary.
 *
 *	  A collection lives on the device for its whole life: n x dim floats
 *	  (or halves, use_fp16) plus each row's squared norm (for cosine).
 *	  A search takes the queries in batches of GVC_QUERY_BATCH and the rows
 *	  in chunks of GVC_CHUNK:
 *
 *	  1. DistanceTile: a 16 x 16 tile of (query, row) pairs per block, the
 *	     query and row slices staged through shared memory 16 dimensions at
 *	     a time; writes each distance (the SQL operator's formula, in fp32)
 *	     into the query's candidate row after its k running best.
 *	  2. SelectTopK: one block per query finds the k smallest of the
 *	     candidate row (k running best + the chunk) exactly, by radix
 *	     select on a 64-bit key (the distance's order-preserving bits, then
 *	     the position in the row), gathers those k and sorts them (bitonic,
 *	     in shared memory), and writes them back as the new running best.
 *	     Positions order equal distances: the running best come first and
 *	     are sorted by (distance, row), and chunks are taken in row order,
 *	     so equal distances stay in row-number (= id) order.  Correct for
 *	     any n and any k <= 1,024.
 *
 *	  Compiled whenever nvcc is present; measured only on a machine with a
 *	  GPU (test/gpu/device_check.sh).
 */
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gv_gpu.h"

#define GVC_TILE			16
#define GVC_QUERY_BATCH		64
#define GVC_CHUNK			32768
#define GVC_SELECT_THREADS	1024

#define GVC_CHECK(call) \
	do { \
		cudaError_t gvc_e = (call); \
		if (gvc_e != cudaSuccess) \
		{ \
			snprintf(err, errlen, "%s: %s", #call, cudaGetErrorString(gvc_e)); \
			return 1; \
		} \
	} while (0)

typedef struct GvcCollection
{
	int			device;
	int64_t		n;
	int			dim;
	int			fp16;
	void	   *vectors;		/* float or __half, n x dim */
	float	   *norms;			/* squared norms, n */
	uint64_t	bytes;
} GvcCollection;

__device__ __forceinline__ float
LoadElement(const float *v, size_t i)
{
	return v[i];
}

__device__ __forceinline__ float
LoadElement(const __half *v, size_t i)
{
	return __half2float(v[i]);
}

/* An unsigned key in the order of the floats (negative ones too). */
__device__ __forceinline__ uint32_t
FloatKey(float f)
{
	uint32_t	u = __float_as_uint(f);

	return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

template <typename T>
__global__ void
RowNorms(const T *vectors, int64_t n, int dim, float *norms)
{
	int64_t		row = (int64_t) blockIdx.x * blockDim.x + threadIdx.x;
	float		s = 0.0f;

	if (row >= n)
		return;
	for (int d = 0; d < dim; d++)
	{
		float		x = LoadElement(vectors, (size_t) row * dim + d);

		s += x * x;
	}
	norms[row] = s;
}

/*
 * Distances of nq queries to rows [row0, row0 + rows), into
 * cand_dist[q * stride + k + j] (j the row within the chunk).
 */
template <typename T>
__global__ void
DistanceTile(const T *vectors, const float *norms, int dim, int64_t row0, int rows,
			 const float *queries, const float *qnorms, int nq, int metric,
			 float *cand_dist, int64_t *cand_index, int k, size_t stride)
{
	__shared__ float qs[GVC_TILE][GVC_TILE + 1];
	__shared__ float vs[GVC_TILE][GVC_TILE + 1];
	int			tq = threadIdx.y;
	int			tv = threadIdx.x;
	int			q = blockIdx.y * GVC_TILE + tq;
	int			j = blockIdx.x * GVC_TILE + tv;
	float		acc = 0.0f;

	for (int d0 = 0; d0 < dim; d0 += GVC_TILE)
	{
		int			qrow = blockIdx.y * GVC_TILE + tq;
		int			vrow = blockIdx.x * GVC_TILE + tq;

		/* thread (tq, tv) stages element d0 + tv of query qrow and of row vrow */
		qs[tq][tv] = (qrow < nq && d0 + tv < dim) ? queries[(size_t) qrow * dim + d0 + tv] : 0.0f;
		vs[tq][tv] = (vrow < rows && d0 + tv < dim) ?
			LoadElement(vectors, (size_t) (row0 + vrow) * dim + d0 + tv) : 0.0f;
		__syncthreads();
		for (int d = 0; d < GVC_TILE; d++)
		{
			float		a = qs[tq][d];
			float		b = vs[tv][d];

			if (metric == GV_GPU_METRIC_L2)
				acc += (a - b) * (a - b);
			else
				acc += a * b;
		}
		__syncthreads();
	}
	if (q < nq && j < rows)
	{
		float		dist;
		size_t		at = (size_t) q * stride + k + j;

		if (metric == GV_GPU_METRIC_L2)
			dist = sqrtf(acc);
		else if (metric == GV_GPU_METRIC_IP)
			dist = 0.0f - acc;
		else
		{
			float		aa = norms[row0 + j];
			float		bb = qnorms[q];

			if (aa == 0.0f || bb == 0.0f)
				dist = 1.0f;
			else
			{
				float		sim = acc / sqrtf(aa * bb);

				sim = fminf(1.0f, fmaxf(-1.0f, sim));
				dist = 1.0f - sim;
			}
		}
		cand_dist[at] = dist;
		cand_index[at] = row0 + j;
	}
}

/*
 * The k best of the first len entries of each query's candidate row, sorted,
 * into the row's first k slots.  One block of GVC_SELECT_THREADS per query.
 */
__global__ void
SelectTopK(float *cand_dist, int64_t *cand_index, size_t stride, int len, int k)
{
	__shared__ unsigned int hist[256];
	__shared__ uint64_t prefix;
	__shared__ int remaining;
	__shared__ unsigned int gathered;
	__shared__ uint64_t keys[GVC_SELECT_THREADS];
	__shared__ float best_dist[GVC_SELECT_THREADS];
	__shared__ int64_t best_index[GVC_SELECT_THREADS];
	float	   *dist = cand_dist + (size_t) blockIdx.x * stride;
	int64_t    *index = cand_index + (size_t) blockIdx.x * stride;
	int			t = threadIdx.x;
	int			take = len < k ? len : k;

	if (t == 0)
	{
		prefix = 0;
		remaining = take;
		gathered = 0;
	}
	__syncthreads();

	/* radix select, 8 bits at a time from the top: the take-th smallest key */
	for (int shift = 56; shift >= 0; shift -= 8)
	{
		uint64_t	mask = shift == 56 ? 0 : (~(uint64_t) 0) << (shift + 8);

		for (int b = t; b < 256; b += blockDim.x)
			hist[b] = 0;
		__syncthreads();
		for (int i = t; i < len; i += blockDim.x)
		{
			uint64_t	key = ((uint64_t) FloatKey(dist[i]) << 32) | (uint32_t) i;

			if ((key & mask) == (prefix & mask))
				atomicAdd(&hist[(key >> shift) & 0xFF], 1u);
		}
		__syncthreads();
		if (t == 0)
		{
			int			left = remaining;
			int			b = 0;

			while (b < 255 && (int) hist[b] < left)
				left -= hist[b++];
			prefix |= (uint64_t) b << shift;
			remaining = left;
		}
		__syncthreads();
	}

	/* keys are unique (they hold the position): exactly take are <= prefix */
	for (int i = t; i < len; i += blockDim.x)
	{
		uint64_t	key = ((uint64_t) FloatKey(dist[i]) << 32) | (uint32_t) i;

		if (key <= prefix)
			keys[atomicAdd(&gathered, 1u)] = key;
	}
	__syncthreads();
	for (int i = t; i < GVC_SELECT_THREADS; i += blockDim.x)
		if (i >= take)
			keys[i] = ~(uint64_t) 0;
	__syncthreads();

	/* bitonic sort of the 1,024 keys */
	for (int size = 2; size <= GVC_SELECT_THREADS; size <<= 1)
		for (int stride2 = size >> 1; stride2 > 0; stride2 >>= 1)
		{
			for (int i = t; i < GVC_SELECT_THREADS; i += blockDim.x)
			{
				int			partner = i ^ stride2;

				if (partner > i)
				{
					bool		up = (i & size) == 0;
					uint64_t	a = keys[i];
					uint64_t	b = keys[partner];

					if ((a > b) == up)
					{
						keys[i] = b;
						keys[partner] = a;
					}
				}
			}
			__syncthreads();
		}

	/* read all, then write: the first k slots are also candidates */
	for (int i = t; i < k; i += blockDim.x)
	{
		if (i < take)
		{
			uint32_t	pos = (uint32_t) keys[i];

			best_dist[i] = dist[pos];
			best_index[i] = index[pos];
		}
		else
		{
			best_dist[i] = __int_as_float(0x7f800000);	/* +inf */
			best_index[i] = -1;
		}
	}
	__syncthreads();
	for (int i = t; i < k; i += blockDim.x)
	{
		dist[i] = best_dist[i];
		index[i] = best_index[i];
	}
}

extern "C" int
gv_cuda_device_count(void)
{
	int			n = 0;

	if (cudaGetDeviceCount(&n) != cudaSuccess)
		return 0;
	return n;
}

extern "C" int
gv_cuda_device_info(int dev, GvGpuDeviceInfo *info, char *err, size_t errlen)
{
	cudaDeviceProp prop;
	size_t		free_bytes,
				total_bytes,
				name_len;

	GVC_CHECK(cudaGetDeviceProperties(&prop, dev));
	GVC_CHECK(cudaSetDevice(dev));
	GVC_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
	memset(info, 0, sizeof(*info));
	name_len = strnlen(prop.name, sizeof(prop.name));
	if (name_len >= sizeof(info->name))
		name_len = sizeof(info->name) - 1;
	memcpy(info->name, prop.name, name_len);
	info->total_memory = total_bytes;
	info->free_memory = free_bytes;
	info->major = prop.major;
	info->minor = prop.minor;
	return 0;
}

__global__ void
FloatToHalf(const float *in, __half *out, size_t count)
{
	size_t		i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;

	if (i < count)
		out[i] = __float2half(in[i]);
}

static int
CreateOnDevice(GvcCollection *c, const float *vectors, char *err, size_t errlen)
{
	size_t		count = (size_t) c->n * c->dim;
	float	   *staging = NULL;

	GVC_CHECK(cudaSetDevice(c->device));
	GVC_CHECK(cudaMalloc(&c->norms, sizeof(float) * c->n));
	if (c->fp16)
	{
		GVC_CHECK(cudaMalloc(&staging, sizeof(float) * count));
		GVC_CHECK(cudaMemcpy(staging, vectors, sizeof(float) * count, cudaMemcpyHostToDevice));
		GVC_CHECK(cudaMalloc(&c->vectors, sizeof(__half) * count));
		FloatToHalf<<<(unsigned) ((count + 255) / 256), 256>>>(staging, (__half *) c->vectors, count);
		GVC_CHECK(cudaGetLastError());
		GVC_CHECK(cudaFree(staging));
		RowNorms<__half><<<(unsigned) ((c->n + 255) / 256), 256>>>((const __half *) c->vectors, c->n, c->dim, c->norms);
		c->bytes = sizeof(__half) * count + sizeof(float) * c->n;
	}
	else
	{
		GVC_CHECK(cudaMalloc(&c->vectors, sizeof(float) * count));
		GVC_CHECK(cudaMemcpy(c->vectors, vectors, sizeof(float) * count, cudaMemcpyHostToDevice));
		RowNorms<float><<<(unsigned) ((c->n + 255) / 256), 256>>>((const float *) c->vectors, c->n, c->dim, c->norms);
		c->bytes = sizeof(float) * count + sizeof(float) * c->n;
	}
	GVC_CHECK(cudaGetLastError());
	GVC_CHECK(cudaDeviceSynchronize());
	return 0;
}

extern "C" void gv_cuda_collection_free(void *collection);

extern "C" int
gv_cuda_collection_create(int dev, const float *vectors, int64_t n, int dim, int use_fp16,
						  void **collection, char *err, size_t errlen)
{
	GvcCollection *c = (GvcCollection *) calloc(1, sizeof(GvcCollection));

	if (c == NULL)
	{
		snprintf(err, errlen, "out of host memory");
		return 1;
	}
	c->device = dev;
	c->n = n;
	c->dim = dim;
	c->fp16 = use_fp16;
	if (CreateOnDevice(c, vectors, err, errlen) != 0)
	{
		gv_cuda_collection_free(c);
		return 1;
	}
	*collection = c;
	return 0;
}

template <typename T>
static int
SearchBatch(GvcCollection *c, const float *d_queries, const float *d_qnorms, int nq, int k,
			int metric, float *d_dist, int64_t *d_index, char *err, size_t errlen)
{
	size_t		stride = (size_t) k + GVC_CHUNK;
	dim3		block(GVC_TILE, GVC_TILE);

	/* the running best start empty: +inf, row -1 */
	GVC_CHECK(cudaMemset(d_index, 0xFF, sizeof(int64_t) * stride * nq));
	for (int64_t row0 = 0; row0 < c->n; row0 += GVC_CHUNK)
	{
		int			rows = (int) ((c->n - row0 < GVC_CHUNK) ? c->n - row0 : GVC_CHUNK);
		dim3		grid((rows + GVC_TILE - 1) / GVC_TILE, (nq + GVC_TILE - 1) / GVC_TILE);
		int			first = row0 == 0 ? 0 : k;	/* no running best before the first chunk */

		DistanceTile<T><<<grid, block>>>((const T *) c->vectors, c->norms, c->dim, row0, rows,
										 d_queries, d_qnorms, nq, metric, d_dist, d_index, k, stride);
		GVC_CHECK(cudaGetLastError());
		if (first == 0)
		{
			/* move the first chunk to the row's start: candidates are [0, rows) */
			SelectTopK<<<nq, GVC_SELECT_THREADS>>>(d_dist + k, d_index + k, stride, rows, k);
			GVC_CHECK(cudaGetLastError());
			GVC_CHECK(cudaMemcpy2D(d_dist, stride * sizeof(float), d_dist + k, stride * sizeof(float),
								   sizeof(float) * k, nq, cudaMemcpyDeviceToDevice));
			GVC_CHECK(cudaMemcpy2D(d_index, stride * sizeof(int64_t), d_index + k, stride * sizeof(int64_t),
								   sizeof(int64_t) * k, nq, cudaMemcpyDeviceToDevice));
		}
		else
		{
			SelectTopK<<<nq, GVC_SELECT_THREADS>>>(d_dist, d_index, stride, k + rows, k);
			GVC_CHECK(cudaGetLastError());
		}
	}
	return 0;
}

__global__ void
QueryNorms(const float *queries, int nq, int dim, float *qnorms)
{
	int			q = blockIdx.x * blockDim.x + threadIdx.x;
	float		s = 0.0f;

	if (q >= nq)
		return;
	for (int d = 0; d < dim; d++)
		s += queries[(size_t) q * dim + d] * queries[(size_t) q * dim + d];
	qnorms[q] = s;
}

extern "C" int
gv_cuda_search(void *collection, const float *queries, int nq, int k, int metric,
			   int64_t *out_index, float *out_distance, char *err, size_t errlen)
{
	GvcCollection *c = (GvcCollection *) collection;
	size_t		stride = (size_t) k + GVC_CHUNK;
	float	   *d_queries = NULL,
			   *d_qnorms = NULL,
			   *d_dist = NULL;
	int64_t    *d_index = NULL;
	int			rc = 0;

	if (k < 1 || k > GV_GPU_MAX_K)
	{
		snprintf(err, errlen, "k must be between 1 and %d", GV_GPU_MAX_K);
		return 1;
	}
	GVC_CHECK(cudaSetDevice(c->device));
	GVC_CHECK(cudaMalloc(&d_queries, sizeof(float) * GVC_QUERY_BATCH * c->dim));
	GVC_CHECK(cudaMalloc(&d_qnorms, sizeof(float) * GVC_QUERY_BATCH));
	GVC_CHECK(cudaMalloc(&d_dist, sizeof(float) * stride * GVC_QUERY_BATCH));
	GVC_CHECK(cudaMalloc(&d_index, sizeof(int64_t) * stride * GVC_QUERY_BATCH));
	for (int q0 = 0; q0 < nq && rc == 0; q0 += GVC_QUERY_BATCH)
	{
		int			qn = nq - q0 < GVC_QUERY_BATCH ? nq - q0 : GVC_QUERY_BATCH;

		GVC_CHECK(cudaMemcpy(d_queries, queries + (size_t) q0 * c->dim, sizeof(float) * qn * c->dim,
							 cudaMemcpyHostToDevice));
		QueryNorms<<<(qn + 63) / 64, 64>>>(d_queries, qn, c->dim, d_qnorms);
		GVC_CHECK(cudaGetLastError());
		if (c->fp16)
			rc = SearchBatch<__half>(c, d_queries, d_qnorms, qn, k, metric, d_dist, d_index, err, errlen);
		else
			rc = SearchBatch<float>(c, d_queries, d_qnorms, qn, k, metric, d_dist, d_index, err, errlen);
		if (rc == 0)
		{
			GVC_CHECK(cudaMemcpy2D(out_distance + (size_t) q0 * k, sizeof(float) * k, d_dist,
								   stride * sizeof(float), sizeof(float) * k, qn, cudaMemcpyDeviceToHost));
			GVC_CHECK(cudaMemcpy2D(out_index + (size_t) q0 * k, sizeof(int64_t) * k, d_index,
								   stride * sizeof(int64_t), sizeof(int64_t) * k, qn, cudaMemcpyDeviceToHost));
		}
	}
	cudaFree(d_queries);
	cudaFree(d_qnorms);
	cudaFree(d_dist);
	cudaFree(d_index);
	return rc;
}

extern "C" uint64_t
gv_cuda_collection_bytes(void *collection)
{
	return ((GvcCollection *) collection)->bytes;
}

extern "C" void
gv_cuda_collection_free(void *collection)
{
	GvcCollection *c = (GvcCollection *) collection;

	if (c == NULL)
		return;
	cudaSetDevice(c->device);
	if (c->vectors != NULL)
		cudaFree(c->vectors);
	if (c->norms != NULL)
		cudaFree(c->norms);
	free(c);
}
