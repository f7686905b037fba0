/*
 * ivfpqvacuum.c
 *	  VACUUM for gv_ivfpq: remove the entries of dead heap tuples from the
 *	  entry pages, one GenericXLog record per page changed.
 *
 * Entries are independent of each other (no graph, no ordering inside a
 * list).  On a segment page, shared by consecutive lists that the
 * directory finds by position, a dead entry becomes a tombstone (its TID
 * invalidated) that scans skip; on an insert chain's page, which only its
 * list reads, the live entries are packed together again, and the space
 * freed on a list's last page is reused by later inserts.  Pages are never
 * unlinked.  The entry pages are found by walking the relation from the
 * first block after the directory (every page after it is one), in
 * physical order.
 */
#include "compat.h"

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "ivfpq.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"

/*
 * Remove the dead entries of one page (exclusively locked), in one
 * GenericXLog record if any.  Returns the number removed; *live gets the
 * number left.
 */
static int
VacuumPage(Relation index, Buffer buf, Size entrySize,
		   IndexBulkDeleteCallback callback, void *callback_state, int64 *live)
{
	Page		page = BufferGetPage(buf);
	bool		segment = GvPageGetOpaque(page)->flags == IVFPQ_PAGE_SEGMENT;
	int			count = IvfpqPageEntryCount(page, entrySize);
	GenericXLogState *state = NULL;
	int			removed = 0;
	int			kept = 0;

	for (int i = 0; i < count; i++)
	{
		char	   *entry = IvfpqPageEntry(page, i, entrySize);
		ItemPointerData tid;

		IvfpqEntryGetTid(entry, &tid);
		if (!ItemPointerIsValid(&tid))
			continue;			/* a tombstone */
		if (callback && callback(&tid, callback_state))
		{
			if (state == NULL)
			{
				state = GenericXLogStart(index);
				page = GenericXLogRegisterBuffer(state, buf, 0);
				entry = IvfpqPageEntry(page, i, entrySize);
			}
			removed++;
			if (segment)
			{
				ItemPointerData tombstone;

				/* entries are unaligned: copied, not stored through a pointer */
				ItemPointerSetInvalid(&tombstone);
				memcpy(entry, &tombstone, sizeof(tombstone));
			}
			continue;
		}
		if (!segment && state != NULL && kept != i)
			memmove(IvfpqPageEntry(page, kept, entrySize), entry, entrySize);
		kept++;
	}
	if (state != NULL)
	{
		if (!segment)
			((PageHeader) page)->pd_lower = MAXALIGN(SizeOfPageHeaderData) + kept * entrySize;
		GenericXLogFinish(state);
	}
	*live += kept;
	return removed;
}

/*
 * Visit every entry page; with a callback, remove the entries it reports
 * dead.  Counts what remains in stats.
 */
static void
ScanListPages(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			  IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	IvfpqCache	cache = IvfpqGetCache(index);
	IvfpqMetaPageData *meta = &cache->meta;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	int64		live = 0;

	for (BlockNumber blkno = meta->directoryStart + meta->directoryPages; blkno < nblocks; blkno++)
	{
		Buffer		buf;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL,
								 info->strategy);
		LockBuffer(buf, callback ? BUFFER_LOCK_EXCLUSIVE : BUFFER_LOCK_SHARE);

		/*
		 * A crash after a chain's new page was added to the relation but
		 * before its WAL record was flushed leaves a zero page, linked from
		 * nowhere: nothing to vacuum on it.
		 */
		if (PageIsNew(BufferGetPage(buf)))
		{
			UnlockReleaseBuffer(buf);
			continue;
		}
		GvCheckPage(index, BufferGetPage(buf), blkno, GV_PAGE_ID_IVFPQ);
		stats->tuples_removed += VacuumPage(index, buf, cache->layout.size,
											callback, callback_state, &live);
		UnlockReleaseBuffer(buf);
	}
	stats->num_index_tuples += live;
	stats->num_pages = nblocks;
}

/*
 * ambulkdelete
 */
IndexBulkDeleteResult *
ivfpqbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
				IndexBulkDeleteCallback callback, void *callback_state)
{
	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	stats->num_index_tuples = 0;
	ScanListPages(info, stats, callback, callback_state);
	return stats;
}

/*
 * amvacuumcleanup: count the entries if bulkdelete did not run.
 */
IndexBulkDeleteResult *
ivfpqvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	if (info->analyze_only)
		return stats;
	if (stats == NULL)
	{
		stats = palloc0(sizeof(IndexBulkDeleteResult));
		ScanListPages(info, stats, NULL, NULL);
	}
	return stats;
}
