/*
 * gvheapfetch.c
 *	  Reading the indexed column of heap rows by TID, for index scans that
 *	  re-rank with exact distances (gvheapfetch.h).
 */
#include "compat.h"

#include <math.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/tableam.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_type.h"
#include "distance.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "gbit.h"
#include "ghalfvec.h"
#include "gvpage.h"
#include "miscadmin.h"
#include "quantize.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

/*
 * The indexed column (the index's first, a plain column) of the heap row
 * at tid, as the scan's snapshot sees it.  False when the row is not
 * visible (the executor would skip it too) or the value is NULL.  The
 * value lives in hf's slot until the next call.
 */
bool
GvHeapFetchValue(GvHeapFetch hf, IndexScanDesc scan, ItemPointer tid, Datum *value)
{
	bool		callAgain = false;
	bool		allDead = false;
	bool		isnull;

	if (hf->fetch == NULL)
	{
		hf->fetch = table_index_fetch_begin(scan->heapRelation);
		hf->slot = table_slot_create(scan->heapRelation, NULL);
	}
	if (!table_index_fetch_tuple(hf->fetch, tid, scan->xs_snapshot, hf->slot,
								 &callAgain, &allDead))
		return false;
	*value = slot_getattr(hf->slot, scan->indexRelation->rd_index->indkey.values[0], &isnull);
	return !isnull;
}

/* How many rows of a batch ahead of the one fetched have their page read */
#define GV_HEAP_PREFETCH_ROWS	64

/*
 * Called before fetching row i of a batch of n whose heap TIDs are tid0 and
 * every stride bytes after it: ask the kernel to start reading the pages of
 * the rows up to GV_HEAP_PREFETCH_ROWS ahead (each page once when the batch
 * is in TID order) that are not in shared buffers.  Re-ranking reads its
 * candidates' rows at random; after a restart, or with a table larger than
 * shared buffers, each fetch waited for its read in turn, and with the reads
 * started ahead they overlap.  effective_io_concurrency = 0 turns it off, as
 * it does gv_hnsw's prefetching of graph pages.  Only heap tables: other
 * table AMs' TIDs need not name blocks.
 */
void
GvHeapFetchPrefetch(GvHeapFetch hf, IndexScanDesc scan, const ItemPointerData *tid0,
					size_t stride, int i, int n)
{
#ifdef USE_PREFETCH
	if (effective_io_concurrency <= 0 ||
		scan->heapRelation->rd_rel->relam != HEAP_TABLE_AM_OID)
		return;
	if (i == 0)
	{
		hf->prefetchNext = 0;
		hf->prefetchLast = InvalidBlockNumber;
	}
	for (; hf->prefetchNext < n && hf->prefetchNext <= i + GV_HEAP_PREFETCH_ROWS;
		 hf->prefetchNext++)
	{
		const ItemPointerData *tid = (const ItemPointerData *)
		((const char *) tid0 + hf->prefetchNext * stride);
		BlockNumber blkno = ItemPointerGetBlockNumber(tid);

		if (blkno != hf->prefetchLast)
			PrefetchBuffer(scan->heapRelation, MAIN_FORKNUM, blkno);
		hf->prefetchLast = blkno;
	}
#endif
}

/*
 * The TOAST value id of heap row tid's indexed column as stored: InvalidOid
 * when it is inline or NULL, or the table is not a heap.  aminsert is given
 * the executor's in-memory value, not the pointer the stored row holds.
 */
Oid
GvHeapToastId(Relation heap, Relation index, ItemPointer tid)
{
	AttrNumber	attnum = index->rd_index->indkey.values[0];
	HeapTupleData tuple;
	Buffer		buf;
	Oid			result = InvalidOid;

	if (attnum == InvalidAttrNumber || heap->rd_rel->relam != HEAP_TABLE_AM_OID ||
		!OidIsValid(heap->rd_rel->reltoastrelid))
		return InvalidOid;
	tuple.t_self = *tid;
	if (heap_fetch(heap, SnapshotAny, &tuple, &buf, false))
	{
		bool		isnull;
		Datum		value = heap_getattr(&tuple, attnum, RelationGetDescr(heap), &isnull);

		if (!isnull)
			result = GvDatumToastId(value);
		ReleaseBuffer(buf);
	}
	return result;
}

void
GvHeapFetchRelease(GvHeapFetch hf)
{
	if (hf->slot)
		ExecClearTuple(hf->slot);
}

void
GvHeapFetchEnd(GvHeapFetch hf)
{
	if (hf->fetch)
	{
		table_index_fetch_end(hf->fetch);
		ExecDropSingleTupleTableSlot(hf->slot);
		hf->fetch = NULL;
		hf->slot = NULL;
	}
}
