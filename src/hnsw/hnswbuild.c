/*
 * hnswbuild.c
 *	  Build a gv_hnsw index: the ambuild driver.
 *
 * The graph is built in memory first (hnswgraph.c), by this backend alone
 * or with parallel workers (hnswbuildparallel.c), and then written out as
 * the index's pages.
 *
 * If the graph outgrows maintenance_work_mem, we say so with a NOTICE, write
 * what we have, and insert the remaining rows one by one through the
 * on-disk insert path (hnswinsert.c): slower, but the same graph quality.
 */
#include "compat.h"

#include <sys/mman.h>

#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

typedef struct GvHnswBuildState
{
	Relation	heap;
	Relation	index;
	GvHnswInfoData info;
	MemoryContext graphCtx;
	MemoryContext tmpCtx;

	GvHnswGraphHeaderData graphHeader;
	GvHnswGraphData graph;
	GvHnswBuilder builder;
	bool		onDisk;			/* graph flushed: insert through the pages */

	double		indtuples;
	double		reltuples;
	pg_prng_state prng;			/* element levels: fixed seed, so that a build
								 * of the same rows in the same order is the
								 * same graph (reproducible tests, REINDEX) */
} GvHnswBuildState;

/*
 * Write the in-memory graph, release it and continue through the on-disk
 * path.
 */
static void
SwitchToDisk(GvHnswBuildState *bs)
{
	GvHnswReportGraphFull(bs->indtuples);
	GvHnswWriteGraph(bs->index, &bs->info, &bs->graph);
	MemoryContextReset(bs->graphCtx);
	bs->builder = NULL;
	bs->onDisk = true;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_LOAD);
}

static void
BuildCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			  bool tupleIsAlive pg_attribute_unused(), void *state)
{
	GvHnswBuildState *bs = (GvHnswBuildState *) state;
	MemoryContext old;
	GvHnswRowData row;

	old = MemoryContextSwitchTo(bs->tmpCtx);
	if (!GvHnswPrepareRow(index, &bs->info, values, isnull, &row))
	{
		MemoryContextSwitchTo(old);
		MemoryContextReset(bs->tmpCtx);
		return;
	}

	if (!bs->onDisk)
	{
		int			level = GvHnswRandomLevel(&bs->prng, bs->info.m, bs->info.maxLevel);

		if (!GvHnswBuilderInsert(bs->builder, tid, &row, level))
			SwitchToDisk(bs);
	}
	if (bs->onDisk)
		GvHnswInsertVector(index, GvHnswGetInfo(index), &row, tid);

	bs->indtuples++;
	if ((int64) bs->indtuples % 256 == 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->indtuples);
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpCtx);
}

/*
 * Check the indexed column and work out the index's shape.
 */
void
GvHnswInitInfo(Relation index, GvHnswInfo info)
{
	int			typmod = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;

	MemSet(info, 0, sizeof(GvHnswInfoData));
	GvFilterCheckColumns(index, "gv_hnsw");
	if (typmod < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column does not have dimensions"),
				 errhint("Declare the column with dimensions, such as gvector(128).")));
	info->dim = typmod;
	info->m = GvHnswGetM(index);
	info->efConstruction = GvHnswGetEfConstruction(index);
	if (info->efConstruction < 2 * info->m)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ef_construction must be greater than or equal to 2 * m"),
				 errhint("Raise ef_construction to at least %d or lower m.", 2 * info->m)));
	info->vecBytes = 0;
	info->metric = GvIndexGetMetric(index, 1);
	GvFilterInitKeys(index, &info->keys);
	info->storage = GvHnswChooseStorage(index, GvHnswGetStorage(index), info->dim, info->m,
										info->keys.keyBytes);
	if (!GvHnswStorageIsExact(info) && index->rd_index->indkey.values[0] == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("gv_hnsw with storage = %s cannot index an expression",
						GvHnswStorageName(info->storage)),
				 errhint("Scans re-rank with exact distances read from the table's column: index a column, or use storage = float32.")));
	if (!GvHnswStorageIsExact(info) && GvHnswGetStorage(index) == HNSW_STORAGE_AUTO)
		ereport(NOTICE,
				(errmsg("gv_hnsw index \"%s\" stores its vectors as %s: %d float32 dimensions do not fit on a page with m = %d",
						RelationGetRelationName(index), GvHnswStorageName(info->storage),
						info->dim, info->m),
				 errdetail("Scans re-rank each batch with exact distances from the table.")));
	if (info->storage == HNSW_STORAGE_SPARSE)
	{
		info->sparseCap = GvHnswSparseCapFor(info->keys.keyBytes, info->m, info->dim);
		ereport(NOTICE,
				(errmsg("gv_hnsw index \"%s\" stores its gsparsevecs by their non-zeros, up to %d a row with m = %d",
						RelationGetRelationName(index), info->sparseCap, info->m),
				 errdetail("%d float32 dimensions take more room than that.", info->dim)));
	}
	GvHnswSetVectorSize(info);
	info->dataBytes = info->keys.keyBytes + info->vecBytes;
	info->maxLevel = GvHnswMaxLevelFor(info->dataBytes, info->m);
	Assert(info->maxLevel >= 0);
	info->maxTids = GvHnswMaxTidsFor(info->dataBytes, info->m, info->maxLevel);
}

/*
 * The serial build: one backend-local graph, levels from a fixed-seed PRNG.
 */
static void
BuildSerial(Relation heap, Relation index, IndexInfo *indexInfo, GvHnswBuildState *bs)
{
	pg_prng_seed(&bs->prng, UINT64CONST(0x67766873776e6831));
	bs->graphCtx = AllocSetContextCreate(CurrentMemoryContext, "gv_hnsw build graph",
										 ALLOCSET_DEFAULT_SIZES);
	bs->tmpCtx = AllocSetContextCreate(CurrentMemoryContext, "gv_hnsw build tuple",
									   ALLOCSET_DEFAULT_SIZES);
	GvHnswGraphInitLocal(&bs->graph, &bs->graphHeader, &bs->info,
						 (Size) maintenance_work_mem * 1024, bs->graphCtx);
	{
		MemoryContext old = MemoryContextSwitchTo(bs->graphCtx);

		bs->builder = GvHnswBuilderCreate(&bs->graph, &bs->info);
		MemoryContextSwitchTo(old);
	}

	bs->reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
										   BuildCallback, bs, NULL);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->indtuples);

	if (!bs->onDisk)
		GvHnswWriteGraph(index, &bs->info, &bs->graph);
	MemoryContextDelete(bs->graphCtx);
	MemoryContextDelete(bs->tmpCtx);
}

IndexBuildResult *
gvhnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	GvHnswBuildState bs;
	int			nworkers;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	MemSet(&bs, 0, sizeof(bs));
	bs.heap = heap;
	bs.index = index;
	GvHnswInitInfo(index, &bs.info);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_LOAD);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL,
								 (int64) Max(heap->rd_rel->reltuples, 0));

	nworkers = GvHnswParallelWorkers(heap, index);
	if (nworkers == 0 ||
		!GvHnswBuildParallel(heap, index, indexInfo, &bs.info, nworkers,
							 &bs.reltuples, &bs.indtuples))
		BuildSerial(heap, index, indexInfo, &bs);
	GvLogBuiltIndex(index);

	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = bs.reltuples;
	result->index_tuples = bs.indtuples;
	return result;
}

/*
 * The init fork of an unlogged index: an empty graph's metapage.
 */
void
gvhnswbuildempty(Relation index)
{
	GvHnswInfoData info;

	GvHnswInitInfo(index, &info);
	GvHnswWriteMetaPage(index, INIT_FORKNUM, &info, NULL, 0, InvalidBlockNumber);
}
