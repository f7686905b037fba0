/*
 * gpustore.c
 *	  The resident collections of the GPU search service and the CPU
 *	  backend's search.
 *
 *	  A store holds collections keyed by (database, table, column), each a
 *	  copy of the column's vectors in id order with their ids, tagged with
 *	  the version (gigavector.gpu_collections.version) it was loaded at.
 *	  The GPU worker keeps one store for its life; without the worker
 *	  (no shared_preload_libraries) each backend keeps one of its own
 *	  (gpusql.c), and the same code answers.  With CUDA a collection's
 *	  vectors also live on the device and searches run there; otherwise
 *	  GpuCpuSearch answers.
 *
 *	  The CPU search itself is in gpucpu.c.
 */
#include "compat.h"

#include "miscadmin.h"
#include "utils/memutils.h"
#include "gpu.h"

typedef struct GpuCollection
{
	GpuKey		key;
	int64		version;
	bool		use_fp16;
	int64		n;
	int			dim;
	int64	   *ids;
	float	   *vectors;
	void	   *device;			/* the CUDA copy, or NULL */
	uint64		bytes;
	uint64		queries;
	struct GpuCollection *next;
} GpuCollection;

struct GpuStore
{
	MemoryContext cxt;
	const GvCudaApi *cuda;		/* NULL: the CPU backend */
	int			device;
	GpuCollection *head;
};

GpuStore *
GpuStoreCreate(MemoryContext parent, const GvCudaApi *cuda, int device)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "gigavector gpu collections",
											  ALLOCSET_DEFAULT_SIZES);
	GpuStore   *store = MemoryContextAllocZero(cxt, sizeof(GpuStore));

	store->cxt = cxt;
	store->cuda = cuda;
	store->device = device;
	return store;
}

static bool
KeyEqual(const GpuKey *a, const GpuKey *b)
{
	return a->dboid == b->dboid && a->relid == b->relid && a->attnum == b->attnum;
}

static GpuCollection **
FindCollection(GpuStore *store, const GpuKey *key)
{
	GpuCollection **p = &store->head;

	while (*p != NULL && !KeyEqual(&(*p)->key, key))
		p = &(*p)->next;
	return p;
}

static void
FreeCollection(GpuStore *store, GpuCollection *c)
{
	if (c->device != NULL)
		store->cuda->collection_free(c->device);
	if (c->ids != NULL)
		pfree(c->ids);
	if (c->vectors != NULL)
		pfree(c->vectors);
	pfree(c);
}

static uint64
StoreBytes(GpuStore *store)
{
	uint64		total = 0;

	for (GpuCollection *c = store->head; c != NULL; c = c->next)
		total += c->bytes;
	return total;
}

static void
ReplyError(GpuRequest *req, int sqlstate, const char *fmt, const char *detail)
{
	req->status = GPU_ERROR;
	req->sqlstate = sqlstate;
	snprintf(req->message, sizeof(req->message), fmt, detail);
}

/* Replace (or add) a collection with the request's vectors. */
static void
Load(GpuStore *store, GpuRequest *req, uint64 memory_limit)
{
	GpuCollection **slot = FindCollection(store, &req->key);
	GpuCollection *c;
	uint64		host_bytes = (uint64) req->n * (req->dim * sizeof(float) + sizeof(int64));
	uint64		others = StoreBytes(store) - (*slot ? (*slot)->bytes : 0);
	int			count = 0;

	for (GpuCollection *o = store->head; o != NULL; o = o->next)
		count++;
	if (*slot == NULL && count >= GPU_MAX_COLLECTIONS)
	{
		ReplyError(req, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
				   "at most %s collections can be loaded for GPU search", "64");
		return;
	}
	if (memory_limit > 0 && others + host_bytes > memory_limit)
	{
		char		need[64];

		snprintf(need, sizeof(need), "%llu", (unsigned long long) ((others + host_bytes + 1048575) >> 20));
		ReplyError(req, ERRCODE_OUT_OF_MEMORY,
				   "loading this collection would take %s MB, more than gigavector.gpu_memory_limit", need);
		return;
	}
	/* The old copy goes first, so that the memory is there for the new. */
	if (*slot != NULL)
	{
		GpuCollection *old = *slot;

		*slot = old->next;
		FreeCollection(store, old);
	}

	c = MemoryContextAllocZero(store->cxt, sizeof(GpuCollection));
	c->key = req->key;
	c->version = req->version;
	c->use_fp16 = req->use_fp16;
	c->n = req->n;
	c->dim = req->dim;
	if (req->n > 0)
	{
		c->ids = MemoryContextAllocHuge(store->cxt, sizeof(int64) * req->n);
		memcpy(c->ids, GpuReqIds(req), sizeof(int64) * req->n);
	}
	if (store->cuda != NULL && req->n > 0)
	{
		char		err[256];

		if (store->cuda->collection_create(store->device, GpuReqVectors(req), req->n, req->dim,
										   req->use_fp16, &c->device, err, sizeof(err)) != 0)
		{
			FreeCollection(store, c);
			ReplyError(req, ERRCODE_OUT_OF_MEMORY, "could not load the collection on the GPU: %s", err);
			return;
		}
		c->bytes = store->cuda->collection_bytes(c->device) + sizeof(int64) * req->n;
	}
	else
	{
		if (req->n > 0)
		{
			c->vectors = MemoryContextAllocHuge(store->cxt, sizeof(float) * (Size) req->n * req->dim);
			memcpy(c->vectors, GpuReqVectors(req), sizeof(float) * (Size) req->n * req->dim);
		}
		c->bytes = host_bytes;
	}
	c->next = store->head;
	store->head = c;
	req->status = GPU_OK;
}

static void
Search(GpuStore *store, GpuRequest *req)
{
	GpuCollection *c = *FindCollection(store, &req->key);
	int			k = req->k;
	int64	   *index;
	double	   *dists;
	int64	   *out_ids = GpuReqResultIds(req);
	int32	   *counts = GpuReqCounts(req);
	int			found;

	if (c == NULL)
	{
		req->status = GPU_NOT_LOADED;
		return;
	}
	if (c->version != req->version)
	{
		req->status = GPU_STALE;
		return;
	}
	if (c->n > 0 && c->dim != req->dim)
	{
		char		dims[64];

		snprintf(dims, sizeof(dims), "%d and %d", req->dim, c->dim);
		ReplyError(req, ERRCODE_DATA_EXCEPTION, "different gvector dimensions %s", dims);
		return;
	}
	found = (int) Min((int64) k, c->n);
	index = palloc(sizeof(int64) * (Size) req->nq * k);
	dists = GpuReqResultDists(req);
	if (c->device != NULL)
	{
		float	   *fd = palloc(sizeof(float) * (Size) req->nq * k);
		char		err[256];

		if (store->cuda->search(c->device, GpuReqQueries(req), req->nq, k, req->metric,
								index, fd, err, sizeof(err)) != 0)
		{
			ReplyError(req, ERRCODE_INTERNAL_ERROR, "GPU search failed: %s", err);
			return;
		}
		for (Size i = 0; i < (Size) req->nq * k; i++)
			dists[i] = fd[i];
	}
	else if (c->n > 0)
		GpuCpuSearch(c->vectors, c->n, c->dim, GpuReqQueries(req), req->nq, k,
					 req->metric, index, dists);
	for (int q = 0; q < req->nq; q++)
	{
		counts[q] = found;
		for (int j = 0; j < found; j++)
			out_ids[(Size) q * k + j] = c->ids[index[(Size) q * k + j]];
	}
	pfree(index);
	c->queries += req->nq;
	req->status = GPU_OK;
}

/*
 * Answer one request in this store.  Errors a caller can cause come back
 * in the reply; the rest (out of memory) are thrown.
 */
void
GpuStoreServe(GpuStore *store, GpuRequest *req, uint64 memory_limit)
{
	switch (req->op)
	{
		case GPU_OP_LOAD:
			Load(store, req, memory_limit);
			break;
		case GPU_OP_UNLOAD:
			{
				GpuCollection **slot = FindCollection(store, &req->key);

				if (*slot != NULL)
				{
					GpuCollection *old = *slot;

					*slot = old->next;
					FreeCollection(store, old);
				}
				req->status = GPU_OK;
				break;
			}
		case GPU_OP_SEARCH:
			Search(store, req);
			break;
	}
}

int
GpuStoreStatus(GpuStore *store, GpuCollectionStatus *out, int max)
{
	int			n = 0;

	for (GpuCollection *c = store->head; c != NULL && n < max; c = c->next, n++)
	{
		out[n].key = c->key;
		out[n].version = c->version;
		out[n].vectors = c->n;
		out[n].dim = c->dim;
		out[n].use_fp16 = c->use_fp16;
		out[n].bytes = c->bytes;
		out[n].queries = c->queries;
		out[n].on_device = c->device != NULL;
	}
	return n;
}
