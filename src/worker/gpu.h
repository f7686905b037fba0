/*
 * gpu.h
 *	  The GPU search service (README beside this file): a worker that owns
 *	  the device and the resident copies of loaded collections, the
 *	  protocol backends use to reach it, and the CPU backend that answers
 *	  behind the same protocol when there is no GPU.
 */
#ifndef GV_WORKER_GPU_H
#define GV_WORKER_GPU_H

#include "postgres.h"

#include "gv_gpu.h"
#include "storage/dsm.h"

/* gigavector.gpu */
typedef enum GpuMode
{
	GPU_MODE_AUTO,				/* CUDA when a device is found, else the CPU */
	GPU_MODE_ON,				/* CUDA or nothing: searches fail without it */
	GPU_MODE_OFF				/* the CPU backend, CUDA never loaded */
} GpuMode;

/* what a reply says */
typedef enum GpuStatus
{
	GPU_OK,
	GPU_NOT_LOADED,				/* the collection is not resident: load it */
	GPU_STALE,					/* resident, but another version */
	GPU_ERROR					/* message and sqlstate say why */
} GpuStatus;

typedef enum GpuOp
{
	GPU_OP_LOAD,
	GPU_OP_UNLOAD,
	GPU_OP_SEARCH
} GpuOp;

/* a collection: the vectors of one column of one table, in id order */
typedef struct GpuKey
{
	Oid			dboid;
	Oid			relid;
	int16		attnum;
} GpuKey;

/*
 * A request, at the start of a DSM segment the backend made; the arrays
 * follow it (see GpuRequestSize).  The worker writes the reply fields and
 * the result arrays.
 */
typedef struct GpuRequest
{
	GpuOp		op;
	GpuKey		key;
	int64		version;		/* gigavector.gpu_collections.version */
	bool		use_fp16;
	int			metric;			/* GV_GPU_METRIC_* */
	int			k;
	int			nq;				/* queries (search) */
	int			dim;
	int64		n;				/* vectors (load) */
	int			delay_ms;		/* gigavector.gpu_test_delay_ms */
	/* the reply */
	GpuStatus	status;
	int			sqlstate;
	char		message[256];
} GpuRequest;

/*
 * Where the arrays of a request lie.  load: ids[n], vectors[n * dim];
 * search: queries[nq * dim], then the reply: counts[nq], ids[nq * k],
 * distances[nq * k].
 */
#define GPU_ALIGN(x)			TYPEALIGN(16, (x))
#define GpuReqIds(r)			((int64 *) ((char *) (r) + GPU_ALIGN(sizeof(GpuRequest))))
#define GpuReqVectors(r)		((float *) ((char *) GpuReqIds(r) + GPU_ALIGN(sizeof(int64) * (r)->n)))
#define GpuReqQueries(r)		((float *) ((char *) (r) + GPU_ALIGN(sizeof(GpuRequest))))
#define GpuReqCounts(r)			((int32 *) ((char *) GpuReqQueries(r) + GPU_ALIGN(sizeof(float) * (Size) (r)->nq * (r)->dim)))
#define GpuReqResultIds(r)		((int64 *) ((char *) GpuReqCounts(r) + GPU_ALIGN(sizeof(int32) * (r)->nq)))
#define GpuReqResultDists(r)	((double *) ((char *) GpuReqResultIds(r) + GPU_ALIGN(sizeof(int64) * (Size) (r)->nq * (r)->k)))

extern Size GpuRequestSize(GpuOp op, int64 n, int dim, int nq, int k);

/* one collection's figures, for gigavector.gpu_status */
typedef struct GpuCollectionStatus
{
	GpuKey		key;
	int64		version;
	int64		vectors;
	int			dim;
	bool		use_fp16;
	uint64		bytes;
	uint64		queries;
	bool		on_device;		/* in CUDA memory, not the CPU backend's */
} GpuCollectionStatus;

/* gpustore.c: the resident collections of one process and their search */
typedef struct GpuStore GpuStore;

extern GpuStore *GpuStoreCreate(MemoryContext parent, const GvCudaApi *cuda, int device);
extern void GpuStoreServe(GpuStore *store, GpuRequest *req, uint64 memory_limit);
extern int	GpuStoreStatus(GpuStore *store, GpuCollectionStatus *out, int max);

/* gpucpu.c: the CPU backend's search, shared by the worker and the in-backend path */
extern int	gv_gpu_cpu_threads;
extern void GpuCpuSearch(const float *vectors, int64 n, int dim,
						 const float *queries, int nq, int k, int metric,
						 int64 *out_index, double *out_distance);

/* gpu.c: settings, shared memory, the worker, the client side */
extern int	gv_gpu_mode;
extern int	gv_gpu_memory_limit_mb;
extern int	gv_gpu_test_delay_ms;

extern void GvGpuInit(void);
extern bool GpuServiceRunning(void);
extern void GpuServiceCall(GpuRequest *req, dsm_handle handle);
extern int	GpuServiceDevices(GvGpuDeviceInfo *out, int max);
extern const char *GpuServiceBackend(void);
extern int	GpuServiceStatus(GpuCollectionStatus *out, int max);

extern PGDLLEXPORT void gv_gpu_worker_main(Datum arg);

#define GPU_MAX_COLLECTIONS		64
#define GPU_MAX_DEVICES			8

#endif							/* GV_WORKER_GPU_H */
