/*
 * ivfpqvalidate.c
 *	  Checking gv_ivfpq: its operator classes (amvalidate), and
 *	  gigavector.ivfpq_info, which reports an index's trained parameters
 *	  and entry count after checking every page is one of ours.
 */
#include "compat.h"

#include "access/amvalidate.h"
#include "access/htup_details.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "ivfpq.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

/*
 * amvalidate: see GvValidateOpclass (vector and filter operator classes).
 */
bool
ivfpqvalidate(Oid opclassoid)
{
	return GvValidateOpclass(opclassoid, "gv_ivfpq");
}

/* The index is corrupt: say where, and that REINDEX repairs it. */
static void
ReportBroken(Relation index, const char *what, uint32 list)
{
	ereport(ERROR,
			(errcode(ERRCODE_INDEX_CORRUPTED),
			 errmsg("index \"%s\" has a broken %s in list %u",
					RelationGetRelationName(index), what, list),
			 errhint("Rebuild the index with REINDEX.")));
}

/* Live entries (not tombstones) of an entry page; share-locks it. */
static int64
CountPage(Relation index, BlockNumber blkno, Size entrySize, int *stored,
		  BlockNumber *next)
{
	Buffer		buf = ReadBuffer(index, blkno);
	Page		page;
	int64		live = 0;

	CHECK_FOR_INTERRUPTS();
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	GvCheckPage(index, page, blkno, GV_PAGE_ID_IVFPQ);
	*stored = IvfpqPageEntryCount(page, entrySize);
	for (int i = 0; i < *stored; i++)
	{
		ItemPointerData tid;

		IvfpqEntryGetTid(IvfpqPageEntry(page, i, entrySize), &tid);
		live += ItemPointerIsValid(&tid);
	}
	*next = GvPageGetOpaque(page)->nextblkno;
	UnlockReleaseBuffer(buf);
	return live;
}

/*
 * Live entries of the index: the segment pages', checking that the lists'
 * runs tile the segment, then every insert chain's, checking its length.
 */
static int64
CountEntries(Relation index, IvfpqCache cache, BlockNumber nblocks)
{
	IvfpqMetaPageData *meta = &cache->meta;
	Size		entrySize = cache->layout.size;
	int64		entries = 0;
	int64		stored = 0;
	uint32		ordinal = 0;

	for (uint32 p = 0; p < meta->segmentPages; p++)
	{
		int			n;
		BlockNumber next;

		entries += CountPage(index, meta->segmentStart + p, entrySize, &n, &next);
		stored += n;
	}
	for (uint32 l = 0; l < meta->lists; l++)
	{
		IvfpqListData dir;
		BlockNumber blkno;
		BlockNumber steps = 0;

		IvfpqGetList(index, meta, l, &dir);
		if (dir.segmentFirst != ordinal || (int64) ordinal + dir.segmentCount > stored)
			ReportBroken(index, "segment run", l);
		ordinal += dir.segmentCount;
		blkno = dir.startPage;
		while (BlockNumberIsValid(blkno))
		{
			int			n;

			/* a concurrent insert may have extended the relation meanwhile */
			if (blkno >= nblocks)
				nblocks = RelationGetNumberOfBlocks(index);
			if (blkno >= nblocks || blkno < meta->segmentStart + meta->segmentPages ||
				++steps > nblocks)
				ReportBroken(index, "chain", l);
			entries += CountPage(index, blkno, entrySize, &n, &blkno);
		}
	}
	if (ordinal != stored)
		ReportBroken(index, "segment run", meta->lists - 1);
	return entries;
}

/*
 * gigavector.ivfpq_info(index regclass): trained, lists, subquantizers,
 * bits, entries, pages.  Checks every page's id, that the lists' runs
 * cover the segment and every insert chain's length along the way.
 */
PG_FUNCTION_INFO_V1(gv_ivfpq_info);
Datum
gv_ivfpq_info(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	Relation	index;
	IvfpqCache	cache;
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {0};
	int64		entries;
	BlockNumber nblocks;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	index = GvOpenIndexToCheck(indexoid, "gv_ivfpq");
	cache = IvfpqGetCache(index);
	nblocks = RelationGetNumberOfBlocks(index);
	entries = CountEntries(index, cache, nblocks);
	index_close(index, AccessShareLock);

	values[0] = BoolGetDatum(cache->meta.trained);
	values[1] = Int32GetDatum(cache->meta.lists);
	values[2] = Int32GetDatum(cache->meta.subquantizers);
	values[3] = Int32GetDatum(cache->meta.bits);
	values[4] = Int64GetDatum(entries);
	values[5] = Int64GetDatum(nblocks);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
