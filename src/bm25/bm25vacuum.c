/*
 * bm25vacuum.c
 *	  VACUUM for gv_bm25: every row VACUUM reports dead (the bulk-delete
 *	  callback, asked for every document and every posting) stops counting:
 *	  its document entry goes, with its length, from N and the total
 *	  length; its postings go from their blocks and from their terms'
 *	  document frequencies.  So scores are exact after VACUUM, without
 *	  VACUUM FULL or REINDEX.
 *
 * Work is done a page at a time under the index's writer lock (inserts
 * wait for one page, not the whole vacuum; searches see each page's
 * change whole).  Blocks are rewritten in place (they only shrink); a
 * block left empty stays in its chain, skipped by scans.  Term bounds
 * (highest tf, lowest length) are recomputed from the blocks that remain.
 */
#include "compat.h"

#include "bm25.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"

static void
VacuumDocuments(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
				IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	Bm25MetaPageData meta;
	BlockNumber blkno;

	Bm25ReadMeta(index, &meta);
	blkno = meta.docHead;
	while (BlockNumberIsValid(blkno))
	{
		Buffer		buf;
		Page		page;
		OffsetNumber dead[MaxOffsetNumber];
		int			ndead = 0;
		uint64		deadLength = 0;
		BlockNumber next;

		vacuum_delay_point();
		LockPage(index, BM25_LOCK_BLKNO, ExclusiveLock);
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		GvCheckPage(index, page, blkno, GV_PAGE_ID_BM25);
		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			Bm25Doc		doc = (Bm25Doc) PageGetItem(page, PageGetItemId(page, off));
			ItemPointerData tid;

			Bm25KeyTid(doc->key, &tid);
			if (callback(&tid, callback_state))
			{
				dead[ndead++] = off;
				deadLength += doc->dl;
			}
			else
				stats->num_index_tuples += 1;
		}
		next = GvPageGetOpaque(page)->nextblkno;
		if (ndead > 0)
		{
			GenericXLogState *state = GenericXLogStart(index);
			Buffer		metabuf = ReadBuffer(index, GV_METAPAGE_BLKNO);
			Bm25MetaPage m;

			LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
			page = GenericXLogRegisterBuffer(state, buf, 0);
			PageIndexMultiDelete(page, dead, ndead);
			m = Bm25PageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
			m->ndocs -= Min(m->ndocs, (uint64) ndead);
			m->totalLength -= Min(m->totalLength, deadLength);
			GenericXLogFinish(state);
			UnlockReleaseBuffer(metabuf);
			stats->tuples_removed += ndead;
		}
		UnlockReleaseBuffer(buf);
		UnlockPage(index, BM25_LOCK_BLKNO, ExclusiveLock);
		blkno = next;
	}
}

/*
 * Remove the dead postings of the term at (blkno, off); returns how many
 * went, and the bounds of those that remain.
 */
static uint32
VacuumTermPostings(IndexVacuumInfo *info, Bm25Term term, IndexBulkDeleteCallback callback,
				   void *callback_state, uint32 *maxtf, uint32 *mindl)
{
	Relation	index = info->index;
	BlockNumber blkno = term->headBlk;
	OffsetNumber off = term->headOff;
	uint32		removed = 0;
	Bm25Posting *ps = palloc(sizeof(Bm25Posting) * BM25_BLOCK_POSTINGS);

	*maxtf = 0;
	*mindl = PG_UINT32_MAX;
	while (BlockNumberIsValid(blkno))
	{
		Buffer		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
		Page		page;
		Bm25Block	blk;
		int			n = 0;
		BlockNumber nextBlk;
		OffsetNumber nextOff;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		GvCheckPage(index, page, blkno, GV_PAGE_ID_BM25);
		if (off > PageGetMaxOffsetNumber(page))
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has a posting link to a missing item (%u,%u)",
							RelationGetRelationName(index), blkno, off)));
		blk = (Bm25Block) PageGetItem(page, PageGetItemId(page, off));
		nextBlk = blk->nextBlk;
		nextOff = blk->nextOff;
		if (blk->count > 0)
		{
			Bm25DecodePostings(blk, ps);
			for (int i = 0; i < blk->count; i++)
			{
				ItemPointerData tid;

				Bm25KeyTid(ps[i].key, &tid);
				if (!callback(&tid, callback_state))
					ps[n++] = ps[i];
			}
			if (n < blk->count)
			{
				GenericXLogState *state = GenericXLogStart(index);
				Size		size;
				Bm25Block	nb = Bm25MakeBlock(ps, n, &size);

				removed += blk->count - n;
				if (n == 0)
					nb->first = nb->last = blk->last;
				nb->nextBlk = nextBlk;
				nb->nextOff = nextOff;
				page = GenericXLogRegisterBuffer(state, buf, 0);
				if (!PageIndexTupleOverwrite(page, off, (Item) nb, size))
					elog(ERROR, "failed to overwrite a posting block in index \"%s\"",
						 RelationGetRelationName(index));
				GenericXLogFinish(state);
				pfree(nb);
			}
			for (int i = 0; i < n; i++)
			{
				*maxtf = Max(*maxtf, ps[i].tf);
				*mindl = Min(*mindl, ps[i].dl);
			}
		}
		UnlockReleaseBuffer(buf);
		blkno = nextBlk;
		off = nextOff;
	}
	pfree(ps);
	return removed;
}

static void
VacuumTerms(IndexVacuumInfo *info, IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	Bm25MetaPageData meta;
	MemoryContext ctx = AllocSetContextCreate(CurrentMemoryContext, "gv_bm25 vacuum",
											  ALLOCSET_DEFAULT_SIZES);

	Bm25ReadMeta(index, &meta);
	for (uint32 bucket = 0; bucket < meta.nbuckets; bucket++)
	{
		BlockNumber blkno = 1 + bucket;

		while (BlockNumberIsValid(blkno))
		{
			Buffer		buf;
			Page		page;
			BlockNumber next;
			MemoryContext old;

			vacuum_delay_point();
			LockPage(index, BM25_LOCK_BLKNO, ExclusiveLock);
			old = MemoryContextSwitchTo(ctx);
			buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			page = BufferGetPage(buf);
			GvCheckPage(index, page, blkno, GV_PAGE_ID_BM25);
			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			{
				Bm25Term	t = (Bm25Term) PageGetItem(page, PageGetItemId(page, off));
				uint32		maxtf,
							mindl,
							removed;

				if (t->df == 0 || !BlockNumberIsValid(t->headBlk))
					continue;
				removed = VacuumTermPostings(info, t, callback, callback_state, &maxtf, &mindl);
				if (removed > 0 || maxtf != t->maxtf || mindl != t->mindl)
				{
					GenericXLogState *state = GenericXLogStart(index);
					Page		p = GenericXLogRegisterBuffer(state, buf, 0);
					Bm25Term	w = (Bm25Term) PageGetItem(p, PageGetItemId(p, off));

					w->df -= Min(w->df, removed);
					w->maxtf = maxtf;
					w->mindl = mindl;
					GenericXLogFinish(state);
				}
			}
			next = GvPageGetOpaque(page)->nextblkno;
			UnlockReleaseBuffer(buf);
			MemoryContextSwitchTo(old);
			MemoryContextReset(ctx);
			UnlockPage(index, BM25_LOCK_BLKNO, ExclusiveLock);
			blkno = next;
		}
	}
	MemoryContextDelete(ctx);
}

IndexBulkDeleteResult *
bm25bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			   IndexBulkDeleteCallback callback, void *callback_state)
{
	if (stats == NULL)
		stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));
	stats->num_index_tuples = 0;
	VacuumDocuments(info, stats, callback, callback_state);
	VacuumTerms(info, callback, callback_state);
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	return stats;
}

IndexBulkDeleteResult *
bm25vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	Bm25MetaPageData meta;

	if (info->analyze_only)
		return stats;
	if (stats == NULL)
	{
		stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));
		Bm25ReadMeta(info->index, &meta);
		stats->num_index_tuples = (double) meta.ndocs;
	}
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	return stats;
}
