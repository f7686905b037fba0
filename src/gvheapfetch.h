/*
 * gvheapfetch.h
 *	  Reading the indexed column of heap rows by TID (gvheapfetch.c).
 */
#ifndef GVHEAPFETCH_H
#define GVHEAPFETCH_H

#include "access/relscan.h"

/*
 * Reading the indexed column of heap rows by TID, as index scans that
 * re-rank with exact distances do: with the scan's snapshot, through the
 * table AM (so HOT chains are followed from the root TID an index holds).
 * Started on first use; GvHeapFetchRelease after a batch (drops the last
 * row's buffer pin), GvHeapFetchEnd before a rescan and at endscan.
 */
typedef struct GvHeapFetchData
{
	struct IndexFetchTableData *fetch;	/* NULL until first used */
	struct TupleTableSlot *slot;
	int			prefetchNext;	/* GvHeapFetchPrefetch: the next row of the
								 * batch to ask for */
	BlockNumber prefetchLast;	/* and the page last asked for */
} GvHeapFetchData;

typedef GvHeapFetchData *GvHeapFetch;

extern bool GvHeapFetchValue(GvHeapFetch hf, IndexScanDesc scan, ItemPointer tid,
							 Datum *value);
extern void GvHeapFetchPrefetch(GvHeapFetch hf, IndexScanDesc scan,
								const ItemPointerData *tid0, size_t stride, int i, int n);
extern void GvHeapFetchRelease(GvHeapFetch hf);
extern Oid	GvHeapToastId(Relation heap, Relation index, ItemPointer tid);
extern void GvHeapFetchEnd(GvHeapFetch hf);

#endif							/* GVHEAPFETCH_H */
