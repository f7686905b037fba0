/*
 * bm25buildparallel.c
 *	  Build a gv_bm25 index with parallel workers.
 *
 * Tokenising is most of a build's work, and each row's tokens depend on
 * that row alone, so the participants (the workers and the leader) each
 * scan part of the table through a parallel heap scan, tokenise their rows
 * and feed one shared tuplesort (as nbtsort.c does): a tuple per document
 * (no lexeme: row, length) and one per posting (lexeme, row, tf, length),
 * sorted by lexeme (documents first), then row.  The leader merges the
 * runs and hands the stream to the serial build's in-memory state
 * (Bm25BuildAddDoc, Bm25BuildAddPosting), which writes the pages as a
 * serial build does, spilling past maintenance_work_mem the same way.
 *
 * The index holds the same documents, terms and postings as a serial build
 * of the table, so it returns the same rows with the same scores; only the
 * order of the terms on the pages differs (here by lexeme, there by first
 * occurrence).
 *
 * PostgreSQL 15's index_build plans workers for btree only, so we ask
 * plan_create_index_workers ourselves (as gv_hnsw does).
 */
#include "compat.h"

#include "access/parallel.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "bm25.h"
#include "catalog/index.h"
#include "catalog/pg_collation_d.h"
#include "catalog/pg_operator_d.h"
#include "catalog/pg_type_d.h"
#include "commands/progress.h"
#include "gvparallel.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplesort.h"

/*
 * Shared state of a parallel build (gvparallel.h's, then ours); the space
 * beside it is the shared sort.
 */
typedef struct Bm25ParallelSharedData
{
	GvParallelSharedData base;
	Oid			cfg;			/* the index's configuration, resolved by the
								 * leader */
	int			sortmem;		/* kB of each participant's sort */
} Bm25ParallelSharedData;

typedef Bm25ParallelSharedData *Bm25ParallelShared;

/* One participant's state while it scans. */
typedef struct ParticipantState
{
	Oid			cfg;
	Oid			typid;
	Tuplesortstate *sort;
	TupleTableSlot *slot;
	MemoryContext tmpCtx;
} ParticipantState;

/* (lexeme text or NULL for a document, key, tf, dl) */
static TupleDesc
StreamDesc(void)
{
	TupleDesc	desc = CreateTemplateTupleDesc(4);

	TupleDescInitEntry(desc, 1, "lexeme", TEXTOID, -1, 0);
	TupleDescInitEntry(desc, 2, "key", INT8OID, -1, 0);
	TupleDescInitEntry(desc, 3, "tf", INT4OID, -1, 0);
	TupleDescInitEntry(desc, 4, "dl", INT4OID, -1, 0);
	return desc;
}

/* A sort of the stream by lexeme (bytewise, documents first), then row. */
static Tuplesortstate *
BeginStreamSort(TupleDesc desc, int workMem, SortCoordinate coordinate)
{
	AttrNumber	attNums[2] = {1, 2};
	Oid			sortOps[2] = {TextLessOperator, Int8LessOperator};
	Oid			collations[2] = {C_COLLATION_OID, InvalidOid};
	bool		nullsFirst[2] = {true, false};

	return tuplesort_begin_heap(desc, 2, attNums, sortOps, collations, nullsFirst,
								workMem, coordinate, TUPLESORT_NONE);
}

/*
 * How many workers to ask for: what the planner gives a btree build of this
 * table (which keeps 32MB of maintenance_work_mem for each participant's
 * sort, as ours needs too).
 */
int
Bm25ParallelWorkers(Relation heap, Relation index)
{
	if (!GvParallelPossible())
		return 0;
	return plan_create_index_workers(RelationGetRelid(heap), RelationGetRelid(index));
}

static void
PutTuple(ParticipantState *ps, text *lexeme, uint64 key, uint32 tf, uint32 dl)
{
	TupleTableSlot *slot = ps->slot;

	ExecClearTuple(slot);
	slot->tts_values[0] = PointerGetDatum(lexeme);
	slot->tts_isnull[0] = lexeme == NULL;
	slot->tts_values[1] = Int64GetDatum((int64) key);
	slot->tts_values[2] = Int32GetDatum((int32) tf);
	slot->tts_values[3] = Int32GetDatum((int32) dl);
	slot->tts_isnull[1] = slot->tts_isnull[2] = slot->tts_isnull[3] = false;
	ExecStoreVirtualTuple(slot);
	tuplesort_puttupleslot(ps->sort, slot);
}

static void
ParallelCallback(Relation index pg_attribute_unused(), ItemPointer tid, Datum *values,
				 bool *isnull, bool tupleIsAlive pg_attribute_unused(), void *state)
{
	ParticipantState *ps = (ParticipantState *) state;
	MemoryContext old;
	Bm25Bag    *bag;
	uint64		key = Bm25TidKey(tid);
	uint32		dl;

	if (isnull[0])
		return;
	old = MemoryContextSwitchTo(ps->tmpCtx);
	bag = Bm25TokenizeDatum(ps->cfg, ps->typid, values[0]);
	dl = (uint32) Min(bag->length, PG_UINT32_MAX);
	PutTuple(ps, NULL, key, 0, dl);
	for (int i = 0; i < bag->nterms; i++)
		PutTuple(ps, cstring_to_text_with_len(bag->terms[i].lexeme, bag->terms[i].len),
				 key, bag->terms[i].tf, dl);
	MemoryContextSwitchTo(old);
	MemoryContextReset(ps->tmpCtx);
}

/*
 * Scan this participant's share of the table into its part of the shared
 * sort; returns the heap rows it scanned.
 */
static double
Participate(Bm25ParallelShared shared, Sharedsort *sharedsort, Relation heap, Relation index,
			bool leader)
{
	ParticipantState ps;
	SortCoordinateData coordinate;
	TupleDesc	desc = StreamDesc();
	double		reltuples;

	ps.cfg = shared->cfg;
	ps.typid = Bm25ColumnType(index);
	ps.tmpCtx = AllocSetContextCreate(CurrentMemoryContext, "gv_bm25 build row",
									  ALLOCSET_DEFAULT_SIZES);
	ps.slot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	coordinate.isWorker = true;
	coordinate.nParticipants = -1;
	coordinate.sharedsort = sharedsort;
	ps.sort = BeginStreamSort(desc, shared->sortmem, &coordinate);

	reltuples = GvParallelScan(&shared->base, heap, index, leader, ParallelCallback, &ps);
	tuplesort_performsort(ps.sort);
	tuplesort_end(ps.sort);
	ExecDropSingleTupleTableSlot(ps.slot);
	MemoryContextDelete(ps.tmpCtx);
	return reltuples;
}

/* Entry point of a parallel worker (CreateParallelContext names it). */
void
Bm25ParallelBuildMain(dsm_segment *seg, shm_toc *toc)
{
	GvParallelWorkerData w;
	double		reltuples;

	GvParallelWorkerBegin(&w, toc);
	tuplesort_attach_shared(w.space, seg);
	reltuples = Participate((Bm25ParallelShared) w.shared, w.space, w.heap, w.index, false);
	GvParallelWorkerEnd(&w, toc, reltuples);
}

/* Merge the participants' runs into the build state. */
static void
ReadStream(Sharedsort *sharedsort, int nparticipants, Bm25BuildState *bs)
{
	SortCoordinateData coordinate;
	TupleDesc	desc = StreamDesc();
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	Tuplesortstate *sort;
	int64		n = 0;

	coordinate.isWorker = false;
	coordinate.nParticipants = nparticipants;
	coordinate.sharedsort = sharedsort;
	sort = BeginStreamSort(desc, maintenance_work_mem, &coordinate);
	tuplesort_performsort(sort);
	while (tuplesort_gettupleslot(sort, true, false, slot, NULL))
	{
		bool		isnull;
		Datum		lexeme = slot_getattr(slot, 1, &isnull);
		Bm25Posting p;

		p.key = (uint64) DatumGetInt64(slot_getattr(slot, 2, &isnull));
		p.tf = (uint32) DatumGetInt32(slot_getattr(slot, 3, &isnull));
		p.dl = (uint32) DatumGetInt32(slot_getattr(slot, 4, &isnull));
		if (slot->tts_isnull[0])
			Bm25BuildAddDoc(bs, p.key, p.dl);
		else
		{
			text	   *t = DatumGetTextPP(lexeme);

			Bm25BuildAddPosting(bs, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &p);
		}
		if ((++n & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	tuplesort_end(sort);
	ExecDropSingleTupleTableSlot(slot);
}

/*
 * Scan and tokenise the table with nworkers workers (and the leader) into
 * bs, whose configuration is set.  Returns false, having done nothing,
 * when no worker could be launched or no DSM segment made: the caller then
 * scans serially.
 */
bool
Bm25BuildParallel(Relation heap, Relation index, IndexInfo *indexInfo, Oid cfg,
				  Bm25BuildState *bs, int nworkers, double *reltuples)
{
	GvParallelBuildData pb;
	Bm25ParallelShared shared;
	Sharedsort *sharedsort;

	if (!GvParallelBegin(&pb, "Bm25ParallelBuildMain", heap, index, indexInfo, nworkers,
						 sizeof(Bm25ParallelSharedData), tuplesort_estimate_shared(nworkers + 1)))
		return false;
	shared = (Bm25ParallelShared) pb.shared;
	shared->cfg = cfg;
	shared->sortmem = Max(64, maintenance_work_mem / (nworkers + 1));
	sharedsort = pb.space;
	tuplesort_initialize_shared(sharedsort, nworkers + 1, pb.pcxt->seg);
	if (!GvParallelLaunch(&pb, index, "gv_bm25", nworkers))
		return false;

	/*
	 * The leader sorts a share too (the shared sort was sized for it), even
	 * with parallel_leader_participation off: a participant that never
	 * started would leave the merge waiting for its run.
	 */
	WaitForParallelWorkersToAttach(pb.pcxt);
	*reltuples = Participate(shared, sharedsort, heap, index, true);
	*reltuples += GvParallelFinish(&pb);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_BM25_PHASE_MERGE);
	ReadStream(sharedsort, pb.pcxt->nworkers_launched + 1, bs);
	GvParallelEnd(&pb);
	return true;
}
