/*
 * bm25vacuum.c
 *	  VACUUM for gv_bm25: every row VACUUM reports dead (the bulk-delete
 *	  callback, asked for every posting and every document) stops counting:
 *	  its postings go from their blocks and from their terms' document
 *	  frequencies; its document entry goes, with its length, from N and the
 *	  total length.  So scores are exact after VACUUM, without VACUUM FULL
 *	  or REINDEX.
 *
 * Work is done a page at a time under the index's writer lock (inserts
 * wait for one page, not the whole vacuum; searches see each page's
 * change whole).  Blocks are rewritten in place (they only shrink); a
 * block left empty stays in its chain, skipped by scans.  Term bounds
 * (highest tf, lowest length) are recomputed from the blocks that remain.
 *
 * Order, for a crash (or an ERROR) between two records: postings first,
 * documents last.  Each posting block rewrite takes the term's df down in
 * the same record, so df always equals the term's postings.  Until the
 * document pass has run, a dead row's document entry outlives its
 * postings: the state an insert cut short leaves (a document whose
 * postings add up to less than its length), which bm25_verify accepts and
 * the next VACUUM finishes (the heap keeps the row's line pointer dead
 * until every index has been vacuumed).  The other order would leave
 * postings of rows no longer in N, a df that can exceed N (a negative
 * idf).  Bounds are updated after a term's blocks: until then they are
 * only looser (a higher tf, a lower length), which scans allow.
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
 * Remove the dead postings of the term at termoff on the (exclusively
 * locked) term page termbuf, one block a record that also takes the
 * term's df down by the postings removed from that block; returns the
 * bounds of the postings that remain.
 */
static void
VacuumTermPostings(IndexVacuumInfo *info, Buffer termbuf, OffsetNumber termoff,
				   IndexBulkDeleteCallback callback, void *callback_state,
				   uint32 *maxtf, uint32 *mindl)
{
	Relation	index = info->index;
	Bm25Term	term = (Bm25Term) PageGetItem(BufferGetPage(termbuf),
											  PageGetItemId(BufferGetPage(termbuf), termoff));
	BlockNumber blkno = term->headBlk;
	OffsetNumber off = term->headOff;
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
				Page		tpage;
				Bm25Term	w;

				if (n == 0)
					nb->first = nb->last = blk->last;
				nb->nextBlk = nextBlk;
				nb->nextOff = nextOff;

				/*
				 * the term page first: the order pages are locked in, also in
				 * redo
				 */
				tpage = GenericXLogRegisterBuffer(state, termbuf, 0);
				w = (Bm25Term) PageGetItem(tpage, PageGetItemId(tpage, termoff));
				w->df -= Min(w->df, (uint32) (blk->count - n));
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
							mindl;

				if (t->df == 0 || !BlockNumberIsValid(t->headBlk))
					continue;
				VacuumTermPostings(info, buf, off, callback, callback_state, &maxtf, &mindl);
				if (maxtf != t->maxtf || mindl != t->mindl)
				{
					GenericXLogState *state = GenericXLogStart(index);
					Page		p = GenericXLogRegisterBuffer(state, buf, 0);
					Bm25Term	w = (Bm25Term) PageGetItem(p, PageGetItemId(p, off));

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
	/* postings before documents: see the comment at the top */
	VacuumTerms(info, callback, callback_state);
	VacuumDocuments(info, stats, callback, callback_state);
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
