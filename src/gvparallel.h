/*
 * gvparallel.h
 *	  The skeleton of a parallel index build, after nbtsort.c, shared by
 *	  gv_hnsw (hnswbuildparallel.c: one graph in shared memory) and gv_bm25
 *	  (bm25buildparallel.c: one shared tuplesort): the DSM segment with the
 *	  access method's shared state, a parallel heap scan and one chunk of
 *	  the access method's own; the snapshot; the workers' launch, their
 *	  share of the table and their buffer and WAL usage.
 *
 * The leader:
 *		GvParallelBegin(&pb, ...)		set up, false: build serially
 *		(fill in its shared state and pb.space)
 *		GvParallelLaunch(&pb, ...)		false: no worker, build serially
 *		(scan its own share with GvParallelScan, if it takes part)
 *		GvParallelFinish(&pb)			the workers' heap rows
 *		GvParallelEnd(&pb)				or GvParallelEndWorkers, then GvParallelEnd
 *
 * A worker, in its entry point:
 *		GvParallelWorkerBegin(&w, toc)	relations open, shared state found
 *		(scan its share with GvParallelScan)
 *		GvParallelWorkerEnd(&w, toc, reltuples)
 */
#ifndef GV_PARALLEL_H
#define GV_PARALLEL_H

#include "access/parallel.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "executor/instrument.h"
#include "storage/spin.h"
#include "utils/rel.h"
#include "utils/snapshot.h"

/*
 * What an access method's shared state starts with (its first member); the
 * parallel heap scan follows the whole struct.
 */
typedef struct GvParallelSharedData
{
	Oid			heaprelid;
	Oid			indexrelid;
	bool		isconcurrent;
	Size		scanoffset;		/* of the parallel heap scan, from here */

	slock_t		mutex;			/* protects reltuples */
	double		reltuples;		/* heap rows the workers scanned */
} GvParallelSharedData;

typedef GvParallelSharedData *GvParallelShared;

/* The leader's side of a parallel build. */
typedef struct GvParallelBuildData
{
	ParallelContext *pcxt;		/* NULL once the workers are gone */
	Snapshot	snapshot;		/* the scans', until GvParallelEnd */
	GvParallelShared shared;	/* the access method's shared state */
	void	   *space;			/* its chunk of its own, uninitialised */
	BufferUsage *bufferUsage;
	WalUsage   *walUsage;
} GvParallelBuildData;

typedef GvParallelBuildData *GvParallelBuild;

/* A worker's side. */
typedef struct GvParallelWorkerData
{
	GvParallelShared shared;
	void	   *space;
	Relation	heap;
	Relation	index;
} GvParallelWorkerData;

typedef GvParallelWorkerData *GvParallelWorker;

extern bool GvParallelPossible(void);
extern bool GvParallelBegin(GvParallelBuild pb, const char *entrypoint, Relation heap,
							Relation index, IndexInfo *indexInfo, int nworkers,
							Size sharedsize, Size spacesize);
extern bool GvParallelLaunch(GvParallelBuild pb, Relation index, const char *amname,
							 int nworkers);
extern double GvParallelScan(GvParallelShared shared, Relation heap, Relation index,
							 bool leader, IndexBuildCallback callback, void *state);
extern double GvParallelFinish(GvParallelBuild pb);
extern void GvParallelEndWorkers(GvParallelBuild pb);
extern void GvParallelEnd(GvParallelBuild pb);
extern void GvParallelWorkerBegin(GvParallelWorker w, shm_toc *toc);
extern void GvParallelWorkerEnd(GvParallelWorker w, shm_toc *toc, double reltuples);

#endif							/* GV_PARALLEL_H */
