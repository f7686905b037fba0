/*
 * gigavector.c
 *	  Module entry point.  _PG_init only hands over to each part's Init
 *	  function, in dependency order: the type (and its distance kernels)
 *	  first, then each access method and worker as they arrive.
 */
#include "compat.h"

#include "fmgr.h"
#include "gvector.h"
#include "gvfilter.h"
#include "hnsw.h"
#include "bm25/bm25.h"
#include "ivfpq/ivfpq.h"
#include "kdtree/kdtree.h"
#include "shard.h"
#include "utils/guc.h"
#include "worker/gpu.h"
#include "worker/ttl.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	GvectorInit();
	GvHnswInit();
	GvFilterPlannerInit();
	KdtreeInit();
	IvfpqInit();
	GvTtlInit();
	Bm25Init();
	GvGpuInit();
	ShardInit();

	/* Settings of every part are registered above; no one else may use ours. */
	MarkGUCPrefixReserved("gigavector");
}
