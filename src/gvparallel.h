/*
 * gvparallel.h
 *	  What the parallel index builds (gv_hnsw's hnswbuildparallel.c, gv_bm25's
 *	  bm25buildparallel.c) share, after nbtsort.c: the lock modes a worker
 *	  opens the relations with, the scan of a participant's share of the
 *	  table, and the workers' buffer and WAL usage for pg_stat_statements and
 *	  the like.
 */
#ifndef GV_PARALLEL_H
#define GV_PARALLEL_H

#include "access/genam.h"
#include "access/parallel.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "executor/instrument.h"
#include "utils/rel.h"

/* toc keys of the usage counters; an access method's own keys differ */
#define GV_PARALLEL_KEY_BUFFER_USAGE	UINT64CONST(0xC000000000000001)
#define GV_PARALLEL_KEY_WAL_USAGE		UINT64CONST(0xC000000000000002)

/* The same lock modes as the leader's CREATE INDEX (see nbtsort.c). */
static inline void
GvParallelOpen(Oid heaprelid, Oid indexrelid, bool isconcurrent, Relation *heap, Relation *index)
{
	*heap = table_open(heaprelid, isconcurrent ? ShareUpdateExclusiveLock : ShareLock);
	*index = index_open(indexrelid, RowExclusiveLock);
}

static inline void
GvParallelClose(Relation heap, Relation index, bool isconcurrent)
{
	index_close(index, RowExclusiveLock);
	table_close(heap, isconcurrent ? ShareUpdateExclusiveLock : ShareLock);
}

/* Scan a participant's share of the table (pscan) into callback. */
static inline double
GvParallelScan(Relation heap, Relation index, ParallelTableScanDesc pscan, bool isconcurrent,
			   bool leader, IndexBuildCallback callback, void *state)
{
	IndexInfo  *indexInfo = BuildIndexInfo(index);

	indexInfo->ii_Concurrent = isconcurrent;
	return table_index_build_scan(heap, index, indexInfo, true, leader, callback, state,
								  table_beginscan_parallel(heap, pscan));
}

static inline void
GvParallelEstimateUsage(ParallelContext *pcxt, int nworkers)
{
	shm_toc_estimate_chunk(&pcxt->estimator, mul_size(sizeof(BufferUsage), nworkers));
	shm_toc_estimate_chunk(&pcxt->estimator, mul_size(sizeof(WalUsage), nworkers));
	shm_toc_estimate_keys(&pcxt->estimator, 2);
}

static inline void
GvParallelAllocUsage(ParallelContext *pcxt, int nworkers, BufferUsage **bufferUsage,
					 WalUsage **walUsage)
{
	*bufferUsage = shm_toc_allocate(pcxt->toc, mul_size(sizeof(BufferUsage), nworkers));
	shm_toc_insert(pcxt->toc, GV_PARALLEL_KEY_BUFFER_USAGE, *bufferUsage);
	*walUsage = shm_toc_allocate(pcxt->toc, mul_size(sizeof(WalUsage), nworkers));
	shm_toc_insert(pcxt->toc, GV_PARALLEL_KEY_WAL_USAGE, *walUsage);
}

/* In a worker, at its end: its usage into its slot. */
static inline void
GvParallelReportUsage(shm_toc *toc)
{
	BufferUsage *bufferUsage = shm_toc_lookup(toc, GV_PARALLEL_KEY_BUFFER_USAGE, false);
	WalUsage   *walUsage = shm_toc_lookup(toc, GV_PARALLEL_KEY_WAL_USAGE, false);

	InstrEndParallelQuery(&bufferUsage[ParallelWorkerNumber], &walUsage[ParallelWorkerNumber]);
}

/* In the leader, once the workers finished: their usage into its own. */
static inline void
GvParallelAccumUsage(ParallelContext *pcxt, BufferUsage *bufferUsage, WalUsage *walUsage)
{
	for (int i = 0; i < pcxt->nworkers_launched; i++)
		InstrAccumParallelQuery(&bufferUsage[i], &walUsage[i]);
}

#endif							/* GV_PARALLEL_H */
