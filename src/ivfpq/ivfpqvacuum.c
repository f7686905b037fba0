/*
 * ivfpqvacuum.c
 *	  VACUUM for gv_ivfpq: remove the entries of dead heap tuples from the
 *	  list pages, one GenericXLog record per page changed.
 *
 * Entries are independent of each other (no graph, no ordering inside a
 * list), so a dead entry is simply deleted from its page; pages are never
 * unlinked from their list, and space freed on a list's last page is
 * reused by later inserts.  The list pages are found by walking the
 * relation from the first block after the directory (every page after it
 * is a list page), in physical order.
 */
#include "compat.h"

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "ivfpq.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"

/*
 * Visit every list page; with a callback, delete the entries it reports
 * dead.  Counts what remains in stats.
 */
static void
ScanListPages(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			  IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	IvfpqMetaPageData meta;
	BlockNumber nblocks;
	BlockNumber first;

	IvfpqReadMeta(index, &meta);
	first = meta.directoryStart + meta.directoryPages;
	nblocks = RelationGetNumberOfBlocks(index);

	for (BlockNumber blkno = first; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber deletable[MaxOffsetNumber];
		int			ndeletable = 0;
		OffsetNumber maxoff;

		vacuum_delay_point();

		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL,
								 info->strategy);
		LockBuffer(buf, callback ? BUFFER_LOCK_EXCLUSIVE : BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		GvCheckPage(index, page, blkno, GV_PAGE_ID_IVFPQ);
		maxoff = PageGetMaxOffsetNumber(page);

		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			IvfpqEntry	entry = (IvfpqEntry) PageGetItem(page, PageGetItemId(page, off));

			if (callback && callback(&entry->heaptid, callback_state))
				deletable[ndeletable++] = off;
			else
				stats->num_index_tuples += 1;
		}

		if (ndeletable > 0)
		{
			GvPageDeleteItems(index, buf, deletable, ndeletable);
			stats->tuples_removed += ndeletable;
		}
		UnlockReleaseBuffer(buf);
	}
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
