/*
 * kdtreevacuum.c
 *	  VACUUM support for gv_kdtree: remove the tuples of dead heap rows.
 *
 * Bulk delete visits every leaf page in physical order, under an exclusive
 * lock on that one page, and deletes the dead tuples in one GenericXLog
 * record per page.  The tree's shape is left as it is: empty leaves stay
 * (an insert refills them) and cells never merge; REINDEX rebalances.
 *
 * A leaf split moves tuples only into a newly allocated page, which lies
 * beyond every block that existed when the pass started; the pass
 * therefore re-reads the relation size at its end and goes on until no new
 * pages appeared, so no dead tuple escapes by moving (as GiST does).
 */
#include "compat.h"

#include "access/genam.h"
#include "commands/vacuum.h"
#include "kdtree.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/indexfsm.h"

/*
 * Count (and, with a callback, delete) the tuples of every leaf page.
 */
static void
VacuumScan(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
		   IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	BlockNumber blkno = GV_METAPAGE_BLKNO + 1;
	BlockNumber npages;

	stats->num_index_tuples = 0;
	for (;;)
	{
		npages = RelationGetNumberOfBlocks(index);
		if (blkno >= npages)
			break;
		for (; blkno < npages; blkno++)
		{
			Buffer		buf;
			Page		page;
			OffsetNumber maxoff;
			OffsetNumber deletable[MaxOffsetNumber];
			int			ndeletable = 0;

			vacuum_delay_point();
			buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL,
									 info->strategy);
			LockBuffer(buf, callback ? BUFFER_LOCK_EXCLUSIVE : BUFFER_LOCK_SHARE);
			page = BufferGetPage(buf);
			if (PageIsNew(page) ||
				!(GvPageGetOpaque(page)->flags & KDTREE_LEAF))
			{
				UnlockReleaseBuffer(buf);
				continue;
			}
			GvCheckPage(index, page, blkno, GV_PAGE_ID_KDTREE);

			maxoff = PageGetMaxOffsetNumber(page);
			for (OffsetNumber off = KDTREE_FIRST_TUPLE_OFF; off <= maxoff; off++)
			{
				KdtreeLeafTuple tup = (KdtreeLeafTuple) PageGetItem(page, PageGetItemId(page, off));

				if (callback && callback(&tup->heaptid, callback_state))
					deletable[ndeletable++] = off;
				else
					stats->num_index_tuples++;
			}
			if (ndeletable > 0)
			{
				GvPageDeleteItems(index, buf, deletable, ndeletable);
				KdtreeSetPageLSNs(index, &buf, 1);
				stats->tuples_removed += ndeletable;
			}
			UnlockReleaseBuffer(buf);
		}
	}
	stats->num_pages = npages;
}

IndexBulkDeleteResult *
kdtreebulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
				 IndexBulkDeleteCallback callback, void *callback_state)
{
	if (stats == NULL)
		stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));
	VacuumScan(info, stats, callback, callback_state);
	return stats;
}

IndexBulkDeleteResult *
kdtreevacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	if (info->analyze_only)
		return stats;
	if (stats == NULL)
	{
		/* no bulk delete ran: just count */
		stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));
		VacuumScan(info, stats, NULL, NULL);
	}
	return stats;
}
