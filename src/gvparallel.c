/*
 * gvparallel.c
 *	  The skeleton of a parallel index build (see gvparallel.h), after
 *	  nbtsort.c's _bt_begin_parallel, _bt_parallel_scan_and_sort and
 *	  _bt_parallel_build_main.
 *
 * PostgreSQL 15's index_build plans workers for btree only, so the access
 * methods ask plan_create_index_workers themselves; GvParallelPossible
 * says whether asking makes sense at all.
 */
#include "compat.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "gvparallel.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "utils/snapmgr.h"

/* toc keys; each parallel build has a segment of its own */
#define GV_PARALLEL_KEY_SHARED			UINT64CONST(0xC000000000000001)
#define GV_PARALLEL_KEY_SPACE			UINT64CONST(0xC000000000000002)
#define GV_PARALLEL_KEY_BUFFER_USAGE	UINT64CONST(0xC000000000000003)
#define GV_PARALLEL_KEY_WAL_USAGE		UINT64CONST(0xC000000000000004)

static inline ParallelTableScanDesc
SharedScan(GvParallelShared shared)
{
	return (ParallelTableScanDesc) ((char *) shared + shared->scanoffset);
}

/* Whether this backend may run a parallel build at all. */
bool
GvParallelPossible(void)
{
	return IsNormalProcessingMode() && !IsInParallelMode() &&
		max_parallel_maintenance_workers > 0;
}

/*
 * Enter parallel mode and set up the DSM segment for nworkers workers that
 * will run entrypoint: the access method's shared state (sharedsize bytes,
 * starting with a GvParallelSharedData, zeroed but for that) followed by a
 * parallel heap scan, and a chunk of spacesize bytes for it to initialise
 * (pb->space).  Returns false, having undone everything, when no segment
 * could be made.
 */
bool
GvParallelBegin(GvParallelBuild pb, const char *entrypoint, Relation heap, Relation index,
				IndexInfo *indexInfo, int nworkers, Size sharedsize, Size spacesize)
{
	ParallelContext *pcxt;
	Size		scanoffset = BUFFERALIGN(sharedsize);
	Size		totalsize;
	GvParallelShared shared;

	Assert(sharedsize >= sizeof(GvParallelSharedData));
	MemSet(pb, 0, sizeof(*pb));
	EnterParallelMode();
	pb->pcxt = pcxt = CreateParallelContext("gigavector", entrypoint, nworkers);

	/* As nbtsort.c: SnapshotAny, or an MVCC snapshot for CONCURRENTLY. */
	pb->snapshot = indexInfo->ii_Concurrent ?
		RegisterSnapshot(GetTransactionSnapshot()) : SnapshotAny;

	totalsize = scanoffset + table_parallelscan_estimate(heap, pb->snapshot);
	shm_toc_estimate_chunk(&pcxt->estimator, totalsize);
	shm_toc_estimate_chunk(&pcxt->estimator, spacesize);
	shm_toc_estimate_chunk(&pcxt->estimator, mul_size(sizeof(BufferUsage), nworkers));
	shm_toc_estimate_chunk(&pcxt->estimator, mul_size(sizeof(WalUsage), nworkers));
	shm_toc_estimate_keys(&pcxt->estimator, 4);
	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		GvParallelEnd(pb);
		return false;
	}

	pb->shared = shared = shm_toc_allocate(pcxt->toc, totalsize);
	MemSet(shared, 0, sharedsize);
	shared->heaprelid = RelationGetRelid(heap);
	shared->indexrelid = RelationGetRelid(index);
	shared->isconcurrent = indexInfo->ii_Concurrent;
	shared->scanoffset = scanoffset;
	SpinLockInit(&shared->mutex);
	table_parallelscan_initialize(heap, SharedScan(shared), pb->snapshot);
	shm_toc_insert(pcxt->toc, GV_PARALLEL_KEY_SHARED, shared);

	pb->space = shm_toc_allocate(pcxt->toc, spacesize);
	shm_toc_insert(pcxt->toc, GV_PARALLEL_KEY_SPACE, pb->space);

	pb->bufferUsage = shm_toc_allocate(pcxt->toc, mul_size(sizeof(BufferUsage), nworkers));
	shm_toc_insert(pcxt->toc, GV_PARALLEL_KEY_BUFFER_USAGE, pb->bufferUsage);
	pb->walUsage = shm_toc_allocate(pcxt->toc, mul_size(sizeof(WalUsage), nworkers));
	shm_toc_insert(pcxt->toc, GV_PARALLEL_KEY_WAL_USAGE, pb->walUsage);
	return true;
}

/*
 * Launch the workers, once the shared state is filled in.  Returns false,
 * having undone everything, when none could be launched.
 */
bool
GvParallelLaunch(GvParallelBuild pb, Relation index, const char *amname, int nworkers)
{
	LaunchParallelWorkers(pb->pcxt);
	ereport(DEBUG1,
			(errmsg_internal("%s build of \"%s\": %d of %d parallel workers launched",
							 amname, RelationGetRelationName(index),
							 pb->pcxt->nworkers_launched, nworkers)));
	if (pb->pcxt->nworkers_launched > 0)
		return true;
	WaitForParallelWorkersToFinish(pb->pcxt);
	GvParallelEnd(pb);
	return false;
}

/*
 * Scan a participant's share of the table (the leader's, or a worker's)
 * into callback; returns the heap rows it scanned.
 */
double
GvParallelScan(GvParallelShared shared, Relation heap, Relation index, bool leader,
			   IndexBuildCallback callback, void *state)
{
	IndexInfo  *indexInfo = BuildIndexInfo(index);

	indexInfo->ii_Concurrent = shared->isconcurrent;
	return table_index_build_scan(heap, index, indexInfo, true, leader, callback, state,
								  table_beginscan_parallel(heap, SharedScan(shared)));
}

/*
 * Wait for the workers to finish and take their buffer and WAL usage into
 * the leader's (for pg_stat_statements and the like); returns the heap rows
 * they scanned.
 */
double
GvParallelFinish(GvParallelBuild pb)
{
	WaitForParallelWorkersToFinish(pb->pcxt);
	for (int i = 0; i < pb->pcxt->nworkers_launched; i++)
		InstrAccumParallelQuery(&pb->bufferUsage[i], &pb->walUsage[i]);
	return pb->shared->reltuples;
}

/*
 * Drop the segment and leave parallel mode, keeping the snapshot (a second,
 * serial pass may still scan with it).
 */
void
GvParallelEndWorkers(GvParallelBuild pb)
{
	if (pb->pcxt == NULL)
		return;
	DestroyParallelContext(pb->pcxt);
	ExitParallelMode();
	pb->pcxt = NULL;
	pb->shared = NULL;
	pb->space = NULL;
}

/* The end of a parallel build: the segment, parallel mode, the snapshot. */
void
GvParallelEnd(GvParallelBuild pb)
{
	GvParallelEndWorkers(pb);
	if (IsMVCCSnapshot(pb->snapshot))
		UnregisterSnapshot(pb->snapshot);
	pb->snapshot = NULL;
}

/*
 * In a worker, first: find the shared state, start counting its usage and
 * open the relations with the leader's lock modes (see nbtsort.c).
 */
void
GvParallelWorkerBegin(GvParallelWorker w, shm_toc *toc)
{
	w->shared = shm_toc_lookup(toc, GV_PARALLEL_KEY_SHARED, false);
	w->space = shm_toc_lookup(toc, GV_PARALLEL_KEY_SPACE, false);
	InstrStartParallelQuery();
	w->heap = table_open(w->shared->heaprelid,
						 w->shared->isconcurrent ? ShareUpdateExclusiveLock : ShareLock);
	w->index = index_open(w->shared->indexrelid, RowExclusiveLock);
}

/*
 * In a worker, last: its heap rows and its usage for the leader, and the
 * relations closed.
 */
void
GvParallelWorkerEnd(GvParallelWorker w, shm_toc *toc, double reltuples)
{
	BufferUsage *bufferUsage = shm_toc_lookup(toc, GV_PARALLEL_KEY_BUFFER_USAGE, false);
	WalUsage   *walUsage = shm_toc_lookup(toc, GV_PARALLEL_KEY_WAL_USAGE, false);

	SpinLockAcquire(&w->shared->mutex);
	w->shared->reltuples += reltuples;
	SpinLockRelease(&w->shared->mutex);
	InstrEndParallelQuery(&bufferUsage[ParallelWorkerNumber], &walUsage[ParallelWorkerNumber]);
	index_close(w->index, RowExclusiveLock);
	table_close(w->heap, w->shared->isconcurrent ? ShareUpdateExclusiveLock : ShareLock);
}
