/*
 * gv_gpu.h
 *	  The plain C interface between gigavector and its optional CUDA code.
 *	  No CUDA types appear here, so every other file compiles without the
 *	  CUDA toolkit.
 *
 *	  The CUDA code is a separate library, gigavector_cuda.so, built by
 *	  gpu/Makefile.cuda whenever nvcc is found.  gigavector.so never links
 *	  it: only the GPU search worker (src/worker/gpu.c) dlopen()s it, so the
 *	  extension loads and works on machines without a GPU or a driver, and
 *	  no backend ever creates a CUDA context (contexts do not survive
 *	  fork()).  The library exports the functions of GvCudaApi under the
 *	  names in GV_CUDA_SYMBOLS; gv_gpu.c finds them.
 */
#ifndef GV_GPU_H
#define GV_GPU_H

#include <stddef.h>
#include <stdint.h>

/* the distances the search service computes (values shared with CUDA) */
#define GV_GPU_METRIC_L2		0	/* Euclidean, as <-> */
#define GV_GPU_METRIC_IP		1	/* negative inner product, as <#> */
#define GV_GPU_METRIC_COSINE	2	/* cosine distance, as <=> */

/* the largest k a search may ask for */
#define GV_GPU_MAX_K			1024

typedef struct GvGpuDeviceInfo
{
	char		name[128];
	uint64_t	total_memory;	/* bytes */
	uint64_t	free_memory;	/* bytes, when the worker started */
	int			major;			/* compute capability */
	int			minor;
} GvGpuDeviceInfo;

/*
 * The CUDA library's functions.  Every one returns 0 on success and
 * otherwise writes a message of at most errlen bytes into err.
 *
 * collection_create copies n vectors of dim floats (row-major, in the
 * order the caller numbers them 0 .. n-1) to device dev, in fp16 when
 * use_fp16, and keeps them there until collection_free.  search answers nq
 * queries: for query q, out_index[q * k + j] and out_distance[q * k + j],
 * j < min(k, n), are the j-th nearest row numbers and their distances,
 * nearest first, equal distances in row-number order.
 */
typedef struct GvCudaApi
{
	int			(*device_count) (void);
	int			(*device_info) (int dev, GvGpuDeviceInfo *info, char *err, size_t errlen);
	int			(*collection_create) (int dev, const float *vectors, int64_t n, int dim,
									  int use_fp16, void **collection,
									  char *err, size_t errlen);
	int			(*search) (void *collection, const float *queries, int nq, int k,
						   int metric, int64_t *out_index, float *out_distance,
						   char *err, size_t errlen);
	uint64_t	(*collection_bytes) (void *collection);
	void		(*collection_free) (void *collection);
} GvCudaApi;

/* the exported names, in the order of GvCudaApi's members */
#define GV_CUDA_SYMBOLS \
	"gv_cuda_device_count", "gv_cuda_device_info", "gv_cuda_collection_create", \
	"gv_cuda_search", "gv_cuda_collection_bytes", "gv_cuda_collection_free"

/*
 * Load gigavector_cuda.so from dir (the package library directory): the
 * API, or NULL with the reason in err (no library, no driver, no device).
 * Only the GPU worker calls this.
 */
extern const GvCudaApi *gv_gpu_load_cuda(const char *dir, char *err, size_t errlen);

/* Whether this build compiled the CUDA library (nvcc was found). */
extern int	gv_gpu_cuda_built(void);

/* A one-line description of the GPU support compiled in. */
extern const char *gv_gpu_description(void);

#endif							/* GV_GPU_H */
