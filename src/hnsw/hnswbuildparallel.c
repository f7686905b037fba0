/*
 * hnswbuildparallel.c
 *	  Build a gv_hnsw index with parallel workers.
 *
 * The leader puts the build's graph (hnswbuild.c) in a DSM segment sized
 * from maintenance_work_mem, next to a parallel heap scan.  The leader and
 * the workers each scan part of the table and insert their rows into the
 * one shared graph concurrently: element numbers and arena space come from
 * atomic counters, each element's neighbour lists are guarded by its own
 * LWLock and the entry point by another (see InsertMem).  When all have
 * finished, the leader writes the pages exactly as a serial build does.
 *
 * If the graph fills maintenance_work_mem, every participant stops adding
 * rows (they finish their scans, skipping the rest); the leader says so with
 * the serial build's NOTICE, writes the graph, then scans the table once
 * more, with the same snapshot, and inserts through the on-disk path every
 * row the graph does not hold.
 *
 * Levels come from one PRNG per participant, and which rows each one scans
 * and in what order they interleave varies, so a parallel build is not
 * reproducible (a serial build is).
 *
 * PostgreSQL 15's index_build plans workers for btree only, so we ask
 * plan_create_index_workers ourselves.
 */
#include "compat.h"

#include "access/parallel.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "gvparallel.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "optimizer/paths.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

/* How often (rows of its own) the leader reports everyone's progress. */
#define PROGRESS_INTERVAL			64

/*
 * Shared state of a parallel build (gvparallel.h's, then ours); the space
 * beside it is the graph.
 */
typedef struct GvHnswParallelSharedData
{
	GvParallelSharedData base;
	GvHnswInfoData info;		/* the index's shape; metric re-resolved by
								 * each */
	int			tranche;		/* of the graph's LWLocks */
	pg_atomic_uint64 tuplesDone;	/* rows in the graph, all participants */
	pg_atomic_uint32 workersDone;
} GvHnswParallelSharedData;

typedef GvHnswParallelSharedData *GvHnswParallelShared;

/* One participant's state while it scans. */
typedef struct ParticipantState
{
	GvHnswParallelShared shared;
	GvHnswInfoData info;
	GvHnswGraphData graph;
	GvHnswBuilder builder;
	MemoryContext tmpCtx;
	pg_prng_state prng;
	bool		leader;
	int64		ownTuples;
} ParticipantState;

/* The leader's state for the on-disk pass after the graph filled. */
typedef struct RescanState
{
	GvHnswInfo	info;
	GvHnswTidSetData inGraph;
	MemoryContext tmpCtx;
	double		inserted;
	double		done;
} RescanState;

static int	graphTranche = 0;

/* The LWLock tranche of shared graphs, named in this process. */
static int
GraphTranche(int tranche)
{
	if (tranche == 0)
	{
		if (graphTranche == 0)
			graphTranche = LWLockNewTrancheId();
		tranche = graphTranche;
	}
	LWLockRegisterTranche(tranche, "gv_hnsw_build");
	return tranche;
}

/*
 * How many workers to ask for: what the planner gives a btree build of this
 * table, except that plan_create_index_workers keeps 32MB of
 * maintenance_work_mem for each participant's sort, and here all share one
 * graph, so that cap is lifted while we ask.
 */
int
GvHnswParallelWorkers(Relation heap, Relation index)
{
	int			saved = maintenance_work_mem;
	int			savedMinScan = min_parallel_table_scan_size;
	double		mainPages = RelationGetNumberOfBlocks(heap);
	double		toastPages = 0;
	volatile int nworkers = 0;

	if (!GvParallelPossible())
		return 0;

	/*
	 * PostgreSQL sizes a parallel build by the table's main fork, where a row
	 * of a few hundred dimensions leaves only a TOAST pointer: a table of
	 * 60,000 784-dimension vectors has 500 main pages and 23,000 TOAST pages,
	 * and would never get a worker.  The graph's work is per row, so count
	 * the TOAST pages too, by scaling the threshold down by the main fork's
	 * share of the table.
	 */
	if (OidIsValid(heap->rd_rel->reltoastrelid))
	{
		Relation	toast = table_open(heap->rd_rel->reltoastrelid, AccessShareLock);

		toastPages = RelationGetNumberOfBlocks(toast);
		table_close(toast, AccessShareLock);
	}
	PG_TRY();
	{
		maintenance_work_mem = Max(saved, 32768 * (max_parallel_maintenance_workers + 1));
		if (mainPages > 0 && toastPages > 0)
			min_parallel_table_scan_size =
				(int) Max(1.0, savedMinScan * mainPages / (mainPages + toastPages));
		nworkers = plan_create_index_workers(RelationGetRelid(heap), RelationGetRelid(index));
	}
	PG_FINALLY();
	{
		maintenance_work_mem = saved;
		min_parallel_table_scan_size = savedMinScan;
	}
	PG_END_TRY();
	return nworkers;
}

static void
ParallelCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
				 bool tupleIsAlive pg_attribute_unused(), void *state)
{
	ParticipantState *ps = (ParticipantState *) state;
	MemoryContext old;
	GvHnswRowData row;

	/* A full graph: the leader's second pass inserts the rest. */
	if (isnull[0] || pg_atomic_read_u32(&ps->graph.hdr->full))
		return;

	old = MemoryContextSwitchTo(ps->tmpCtx);
	if (GvHnswPrepareRow(index, &ps->info, values, isnull, &row))
	{
		int			level = GvHnswRandomLevel(&ps->prng, ps->info.m, ps->info.maxLevel);

		if (GvHnswBuilderInsert(ps->builder, tid, &row, level))
		{
			pg_atomic_fetch_add_u64(&ps->shared->tuplesDone, 1);
			if (ps->leader && ++ps->ownTuples % PROGRESS_INTERVAL == 0)
				pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE,
											 (int64) pg_atomic_read_u64(&ps->shared->tuplesDone));
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(ps->tmpCtx);
}

/*
 * Scan this participant's share of the table into the shared graph; returns
 * the heap rows it scanned.
 */
static double
Participate(GvHnswParallelShared shared, char *graphSpace, Relation heap, Relation index,
			bool leader)
{
	ParticipantState ps;
	double		reltuples;

	MemSet(&ps, 0, sizeof(ps));
	ps.shared = shared;
	ps.leader = leader;
	ps.info = shared->info;
	ps.info.metric = GvIndexGetMetric(index, 1);	/* a pointer: ours */
	GvHnswGraphAttach(&ps.graph, &ps.info, graphSpace);
	ps.builder = GvHnswBuilderCreate(&ps.graph, &ps.info);
	ps.tmpCtx = AllocSetContextCreate(CurrentMemoryContext, "gv_hnsw build tuple",
									  ALLOCSET_DEFAULT_SIZES);
	pg_prng_seed(&ps.prng, UINT64CONST(0x67766873776e6831) +
				 (leader ? 0 : ParallelWorkerNumber + 1));

	reltuples = GvParallelScan(&shared->base, heap, index, leader, ParallelCallback, &ps);
	MemoryContextDelete(ps.tmpCtx);
	return reltuples;
}

/* Entry point of a parallel worker (CreateParallelContext names it). */
void
GvHnswParallelBuildMain(dsm_segment *seg pg_attribute_unused(), shm_toc *toc)
{
	GvParallelWorkerData w;
	GvHnswParallelShared shared;
	double		reltuples;

	GvParallelWorkerBegin(&w, toc);
	shared = (GvHnswParallelShared) w.shared;
	GraphTranche(shared->tranche);
	reltuples = Participate(shared, w.space, w.heap, w.index, false);
	pg_atomic_fetch_add_u32(&shared->workersDone, 1);
	GvParallelWorkerEnd(&w, toc, reltuples);
}

/* Wait for the workers' scans, reporting everyone's progress meanwhile. */
static void
WaitForWorkers(ParallelContext *pcxt, GvHnswParallelShared shared)
{
	WaitForParallelWorkersToAttach(pcxt);
	while (pg_atomic_read_u32(&shared->workersDone) < (uint32) pcxt->nworkers_launched)
	{
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE,
									 (int64) pg_atomic_read_u64(&shared->tuplesDone));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 20,
						 WAIT_EVENT_PARALLEL_CREATE_INDEX_SCAN);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

static void
RescanCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			   bool tupleIsAlive pg_attribute_unused(), void *state)
{
	RescanState *rs = (RescanState *) state;
	MemoryContext old;
	GvHnswRowData row;

	if (isnull[0] || GvHnswTidSetContains(&rs->inGraph, tid))
		return;
	old = MemoryContextSwitchTo(rs->tmpCtx);
	if (GvHnswPrepareRow(index, rs->info, values, isnull, &row))
	{
		GvHnswInsertVector(index, GvHnswGetInfo(index), &row, tid);
		rs->inserted++;
		if ((int64) rs->inserted % 256 == 0)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE,
										 (int64) (rs->done + rs->inserted));
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(rs->tmpCtx);
}

/*
 * Insert, through the on-disk path, every row of the table that the written
 * graph does not hold; returns how many.
 */
static double
InsertRest(Relation heap, Relation index, IndexInfo *indexInfo, GvHnswInfo info,
		   Snapshot snapshot, GvHnswTidSet inGraph, double done)
{
	RescanState rs;
	TableScanDesc scan;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_LOAD);
	MemSet(&rs, 0, sizeof(rs));
	rs.info = info;
	rs.inGraph = *inGraph;
	rs.done = done;
	rs.tmpCtx = AllocSetContextCreate(CurrentMemoryContext, "gv_hnsw build tuple",
									  ALLOCSET_DEFAULT_SIZES);
	scan = table_beginscan_strat(heap, snapshot, 0, NULL, true, false);
	(void) table_index_build_scan(heap, index, indexInfo, true, false,
								  RescanCallback, &rs, scan);
	MemoryContextDelete(rs.tmpCtx);
	return rs.inserted;
}

/*
 * Build with nworkers workers (and the leader).  Returns false, having done
 * nothing, when no worker could be launched or no DSM segment made: the
 * caller then builds serially.
 */
bool
GvHnswBuildParallel(Relation heap, Relation index, IndexInfo *indexInfo, GvHnswInfo info,
					int nworkers, double *reltuples, double *indtuples)
{
	Size		memLimit = (Size) maintenance_work_mem * 1024;
	GvParallelBuildData pb;
	GvHnswParallelShared shared;
	GvHnswGraphData graph;
	GvHnswTidSetData inGraph;
	double		ngraph;
	bool		full;

	if (!GvParallelBegin(&pb, "GvHnswParallelBuildMain", heap, index, indexInfo, nworkers,
						 sizeof(GvHnswParallelSharedData), GvHnswGraphSpace(info, memLimit)))
		return false;
	shared = (GvHnswParallelShared) pb.shared;
	shared->info = *info;
	shared->tranche = GraphTranche(0);
	pg_atomic_init_u64(&shared->tuplesDone, 0);
	pg_atomic_init_u32(&shared->workersDone, 0);
	GvHnswGraphInitShared(&graph, info, memLimit, pb.space, shared->tranche);
	if (!GvParallelLaunch(&pb, index, "gv_hnsw", nworkers))
		return false;

	/*
	 * As nbtsort.c: the leader scans too unless parallel_leader_participation
	 * is off.
	 */
	*reltuples = 0;
	if (parallel_leader_participation)
		*reltuples = Participate(shared, pb.space, heap, index, true);
	WaitForWorkers(pb.pcxt, shared);
	*reltuples += GvParallelFinish(&pb);

	ngraph = pg_atomic_read_u32(&graph.hdr->nelements);
	full = pg_atomic_read_u32(&graph.hdr->full) != 0;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) ngraph);
	if (full)
		GvHnswReportGraphFull(ngraph);
	GvHnswWriteGraph(index, info, &graph);

	/* What the second pass must skip, before the segment goes. */
	if (full)
	{
		GvHnswTidSetInit(&inGraph, (int) ngraph);
		for (uint32 i = 0; i < (uint32) ngraph; i++)
			GvHnswTidSetAdd(&inGraph, &((GvHnswGraphElement)
										(graph.arena + graph.offsets[i]))->heaptid);
	}
	GvParallelEndWorkers(&pb);

	*indtuples = ngraph;
	if (full)
	{
		*indtuples += InsertRest(heap, index, indexInfo, info, pb.snapshot, &inGraph, ngraph);
		GvHnswTidSetFree(&inGraph);
	}
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) *indtuples);
	GvParallelEnd(&pb);
	return true;
}
