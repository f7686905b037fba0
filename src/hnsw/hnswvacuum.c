/*
 * hnswvacuum.c
 *	  VACUUM for gv_hnsw: remove dead heap rows from the graph and repair
 *	  the neighbour lists that pointed at them.
 *
 * Pass 1 (bulkdelete) turns every element whose heap row is dead into a
 *	 tombstone: its heap TID is cleared at once, so scans never return it
 *	 again, but its vector and neighbour lists stay, so searches can still
 *	 route through it.
 * Pass 2 repairs every live element that links to a tombstone: the dead
 *	 links are replaced by the best of the element's live neighbours and
 *	 the tombstones' own live neighbours (the paper's heuristic), so the
 *	 graph stays as well connected as before the deletes.  If the entry
 *	 point died, the live element of highest level becomes the entry point.
 * Pass 3 (vacuumcleanup) records the pages holding tombstones in the free
 *	 space map: inserts overwrite a tombstone's slot in place.  A stale link
 *	 that still reaches a reused slot points at a valid (other) element, so
 *	 the graph stays structurally sound; it only routes a little worse.
 *
 * Every page change is a GenericXLog record of one buffer; at most one
 * element page is locked at a time; the metapage is changed under the
 * exclusive update lock (see gvhnswinsert.c).
 */
#include "compat.h"

#include "commands/vacuum.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/float.h"
#include "utils/memutils.h"

#define HNSW_UPDATE_LOCK	GV_METAPAGE_BLKNO

/*
 * Pass 1: tombstone dead elements; collect every tombstone in dead and
 * the live element of highest level in *best.
 */
static void
MarkDead(IndexVacuumInfo *vinfo, IndexBulkDeleteResult *stats,
		 IndexBulkDeleteCallback callback, void *callback_state,
		 GvHnswTidSet dead, ItemPointer best, int *bestLevel)
{
	Relation	index = vinfo->index;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);

	*bestLevel = -1;
	ItemPointerSetInvalid(best);
	for (BlockNumber blkno = GV_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		GenericXLogState *state = NULL;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, vinfo->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		if (PageIsNew(page) || GvPageGetOpaque(page)->page_id != GV_PAGE_ID_HNSW ||
			!(GvPageGetOpaque(page)->flags & HNSW_PAGE_ELEMENT))
		{
			UnlockReleaseBuffer(buf);
			continue;
		}
		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			GvHnswElementTuple tup = GvHnswPageGetElement(page, off);
			ItemPointerData tid;

			ItemPointerSet(&tid, blkno, off);
			if (!(tup->flags & HNSW_ELEMENT_DELETED) && callback(&tup->heaptid, callback_state))
			{
				if (state == NULL)
				{
					state = GenericXLogStart(index);
					page = GenericXLogRegisterBuffer(state, buf, 0);
					tup = GvHnswPageGetElement(page, off);
				}
				tup->flags |= HNSW_ELEMENT_DELETED;
				ItemPointerSetInvalid(&tup->heaptid);
				stats->tuples_removed++;
			}
			if (tup->flags & HNSW_ELEMENT_DELETED)
				GvHnswTidSetAdd(dead, &tid);
			else
			{
				stats->num_index_tuples++;
				if (tup->level > *bestLevel)
				{
					*bestLevel = tup->level;
					*best = tid;
				}
			}
		}
		if (state)
			GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
	}
}

/*
 * Move the entry point off a tombstone.
 */
static void
RepairEntryPoint(Relation index, GvHnswTidSet dead, ItemPointer best, int bestLevel)
{
	Buffer		metabuf;
	GvHnswMetaPage meta;

	LockPage(index, HNSW_UPDATE_LOCK, ExclusiveLock);
	metabuf = ReadBuffer(index, GV_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	meta = GvHnswPageGetMeta(BufferGetPage(metabuf));
	if (ItemPointerIsValid(&meta->entry) && GvHnswTidSetContains(dead, &meta->entry))
	{
		GenericXLogState *state = GenericXLogStart(index);
		Page		page = GenericXLogRegisterBuffer(state, metabuf, 0);

		meta = GvHnswPageGetMeta(page);
		if (bestLevel >= 0)
		{
			meta->entry = *best;
			meta->entryLevel = bestLevel;
		}
		else
		{
			ItemPointerSetInvalid(&meta->entry);
			meta->entryLevel = 0;
		}
		GenericXLogFinish(state);
	}
	UnlockReleaseBuffer(metabuf);
	UnlockPage(index, HNSW_UPDATE_LOCK, ExclusiveLock);
}

/*
 * New neighbours at one level of element tup (at tid) whose list links to
 * tombstones.  Returns how many were chosen into out.
 */
static int
RepairLevel(Relation index, GvHnswInfo info, GvHnswTidSet dead, ItemPointer tid,
			GvHnswElementTuple tup, int level, GvHnswElementTuple scratch,
			GvHnswCandidate *out)
{
	int			m = info->m;
	int			lm = GvHnswLevelSlots(m, level);
	int			start = GvHnswLevelStart(m, level);
	ItemPointer nbrs = GvHnswTupleNbrs(tup, info->dataBytes, m) + start;
	GvHnswTidSetData seen;
	GvHnswCandidate *cands;
	int			ncands = 0;
	int			maxcands = lm * (lm + 1);
	float	   *own = palloc(sizeof(float) * info->dim);
	float	   *decoded = palloc(sizeof(float) * info->dim);
	const float *vec;

	cands = palloc(sizeof(GvHnswCandidate) * maxcands);
	GvHnswTidSetInit(&seen, maxcands);
	GvHnswTidSetAdd(&seen, tid);

	for (int i = 0; i < lm; i++)
	{
		if (!ItemPointerIsValid(&nbrs[i]) || !GvHnswTidSetAdd(&seen, &nbrs[i]))
			continue;
		if (!GvHnswTidSetContains(dead, &nbrs[i]))
		{
			cands[ncands].tid = nbrs[i];
			ncands++;
			continue;
		}
		/* a tombstone: its live neighbours at this level are candidates */
		GvHnswGetElementCopy(index, info, &nbrs[i], scratch);
		if (scratch->level < level)
			continue;
		for (int j = 0; j < lm; j++)
		{
			ItemPointer t = &GvHnswTupleNbrs(scratch, info->dataBytes, m)[start + j];

			if (!ItemPointerIsValid(t) || GvHnswTidSetContains(dead, t) ||
				!GvHnswTidSetAdd(&seen, t))
				continue;
			cands[ncands].tid = *t;
			ncands++;
		}
	}

	/* Distances to the element, then the heuristic over the nearest. */
	vec = GvHnswElementVector(info, tup, own);
	for (int i = 0; i < ncands; i++)
	{
		if (!GvHnswGetElementCopy(index, info, &cands[i].tid, scratch) ||
			scratch->level < level)
			cands[i].dist = get_float8_infinity();
		else
			cands[i].dist = GvMetricDistance(info->metric, vec,
											 GvHnswElementVector(info, scratch, decoded),
											 info->dim);
	}
	{
		int			keep = 0;

		for (int i = 0; i < ncands; i++)
			if (!isinf(cands[i].dist))
				cands[keep++] = cands[i];
		ncands = keep;
	}
	if (ncands > 3 * lm)
	{
		/* partial sort: the 3 lm nearest */
		GvHnswHeapData h;

		GvHnswHeapInit(&h, 3 * lm + 1, true);
		for (int i = 0; i < ncands; i++)
		{
			GvHnswHeapPush(&h, &cands[i]);
			if (h.count > 3 * lm)
				GvHnswHeapPop(&h);
		}
		ncands = h.count;
		memcpy(cands, h.items, sizeof(GvHnswCandidate) * ncands);
		pfree(h.items);
	}
	GvHnswTidSetFree(&seen);
	pfree(own);
	pfree(decoded);
	return GvHnswSelectNeighbors(index, info, cands, ncands, lm, tid, out);
}

/*
 * Pass 2: repair every live element that links to a tombstone.
 */
static void
RepairGraph(IndexVacuumInfo *vinfo, GvHnswInfo info, GvHnswTidSet dead)
{
	Relation	index = vinfo->index;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	int			m = info->m;
	Size		maxsize = GvHnswTupleSize(info->dataBytes, m, info->maxLevel);
	GvHnswElementTuple tup = palloc(maxsize);
	GvHnswElementTuple scratch = palloc(maxsize);
	GvHnswCandidate *chosen = palloc(sizeof(GvHnswCandidate) * 2 * m);
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "gv_hnsw repair",
											  ALLOCSET_DEFAULT_SIZES);

	for (BlockNumber blkno = GV_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		OffsetNumber maxoff;
		Buffer		buf;
		Page		page;

		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, vinfo->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		maxoff = PageIsNew(page) || !(GvPageGetOpaque(page)->flags & HNSW_PAGE_ELEMENT) ?
			InvalidOffsetNumber : PageGetMaxOffsetNumber(page);
		UnlockReleaseBuffer(buf);

		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemPointerData tid;
			bool		needs = false;
			int			nslots;
			ItemPointer nbrs;
			MemoryContext old;

			vacuum_delay_point();
			ItemPointerSet(&tid, blkno, off);
			if (!GvHnswGetElementCopy(index, info, &tid, tup))
				continue;
			nbrs = GvHnswTupleNbrs(tup, info->dataBytes, m);
			nslots = GvHnswSlots(m, tup->level);
			for (int i = 0; i < nslots && !needs; i++)
				needs = ItemPointerIsValid(&nbrs[i]) && GvHnswTidSetContains(dead, &nbrs[i]);
			if (!needs)
				continue;

			old = MemoryContextSwitchTo(tmp);
			for (int l = 0; l <= tup->level; l++)
			{
				int			start = GvHnswLevelStart(m, l);
				int			lm = GvHnswLevelSlots(m, l);
				int			nchosen;
				bool		levelNeeds = false;
				GenericXLogState *state;
				GvHnswElementTuple cur;
				ItemPointer curNbrs;
				GvPackedDistance *curDists;
				ItemPointerData *merged;
				GvPackedDistance *mergedDists;
				int			nmerged = 0;

				for (int i = 0; i < lm && !levelNeeds; i++)
					levelNeeds = ItemPointerIsValid(&nbrs[start + i]) &&
						GvHnswTidSetContains(dead, &nbrs[start + i]);
				if (!levelNeeds)
					continue;

				nchosen = RepairLevel(index, info, dead, &tid, tup, l, scratch, chosen);

				/*
				 * Write: links added by concurrent inserts since we copied
				 * the element are kept first, then the chosen ones.
				 */
				buf = ReadBuffer(index, blkno);
				LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
				cur = GvHnswPageGetElement(BufferGetPage(buf), off);
				if ((cur->flags & HNSW_ELEMENT_DELETED) ||
					!ItemPointerEquals(&cur->heaptid, &tup->heaptid))
				{
					UnlockReleaseBuffer(buf);
					break;
				}
				merged = palloc(sizeof(ItemPointerData) * lm);
				mergedDists = palloc(sizeof(GvPackedDistance) * lm);
				curNbrs = GvHnswTupleNbrs(cur, info->dataBytes, m) + start;
				curDists = GvHnswTupleDists(cur, info->dataBytes) + start;
				for (int i = 0; i < lm; i++)
				{
					bool		known = false;

					if (!ItemPointerIsValid(&curNbrs[i]) ||
						GvHnswTidSetContains(dead, &curNbrs[i]))
						continue;
					for (int j = 0; j < lm && !known; j++)
						known = ItemPointerEquals(&curNbrs[i], &nbrs[start + j]);
					if (!known)
					{
						merged[nmerged] = curNbrs[i];
						mergedDists[nmerged++] = curDists[i];
					}
				}
				for (int i = 0; i < nchosen && nmerged < lm; i++)
				{
					bool		dup = false;

					for (int j = 0; j < nmerged && !dup; j++)
						dup = ItemPointerEquals(&merged[j], &chosen[i].tid);
					if (!dup)
					{
						merged[nmerged] = chosen[i].tid;
						mergedDists[nmerged++] = GvPackDistance(chosen[i].dist);
					}
				}

				state = GenericXLogStart(index);
				cur = GvHnswPageGetElement(GenericXLogRegisterBuffer(state, buf, 0), off);
				if (l == 0)
					cur->spares = 0;	/* the repaired list is all chosen links */
				curNbrs = GvHnswTupleNbrs(cur, info->dataBytes, m) + start;
				curDists = GvHnswTupleDists(cur, info->dataBytes) + start;
				for (int i = 0; i < lm; i++)
				{
					if (i < nmerged)
					{
						curNbrs[i] = merged[i];
						curDists[i] = mergedDists[i];
					}
					else
					{
						ItemPointerSetInvalid(&curNbrs[i]);
						curDists[i] = 0;
					}
				}
				GenericXLogFinish(state);
				UnlockReleaseBuffer(buf);
			}
			MemoryContextSwitchTo(old);
			MemoryContextReset(tmp);
		}
	}
	MemoryContextDelete(tmp);
	pfree(tup);
	pfree(scratch);
	pfree(chosen);
}

IndexBulkDeleteResult *
gvhnswbulkdelete(IndexVacuumInfo *vinfo, IndexBulkDeleteResult *stats,
			   IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = vinfo->index;
	GvHnswInfo	info = GvHnswGetInfo(index);
	GvHnswTidSetData dead;
	ItemPointerData best;
	int			bestLevel;

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	stats->num_index_tuples = 0;

	GvHnswTidSetInit(&dead, 1024);
	MarkDead(vinfo, stats, callback, callback_state, &dead, &best, &bestLevel);
	if (info->nkeys > 0)
	{
		GvHnswMetaPageData meta;

		GvHnswReadMeta(index, &meta);
		if (meta.keyDirHead != GV_METAPAGE_BLKNO)
			GvHnswKeyDirVacuum(vinfo, meta.keyDirHead, callback, callback_state);
	}
	if (dead.count > 0)
	{
		RepairEntryPoint(index, &dead, &best, bestLevel);
		RepairGraph(vinfo, info, &dead);
	}
	GvHnswTidSetFree(&dead);
	stats->num_pages = RelationGetNumberOfBlocks(index);
	return stats;
}

/*
 * Pass 3: offer the tombstones' slots to inserts; count what is left.
 */
IndexBulkDeleteResult *
gvhnswvacuumcleanup(IndexVacuumInfo *vinfo, IndexBulkDeleteResult *stats)
{
	Relation	index = vinfo->index;
	BlockNumber nblocks;
	bool		counted = stats != NULL;

	if (vinfo->analyze_only)
		return stats;
	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));

	nblocks = RelationGetNumberOfBlocks(index);
	for (BlockNumber blkno = GV_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		bool		hasFree = false;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, vinfo->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (!PageIsNew(page) && GvPageGetOpaque(page)->page_id == GV_PAGE_ID_HNSW &&
			(GvPageGetOpaque(page)->flags & HNSW_PAGE_ELEMENT))
		{
			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			{
				if (GvHnswPageGetElement(page, off)->flags & HNSW_ELEMENT_DELETED)
					hasFree = true;
				else if (!counted)
					stats->num_index_tuples++;
			}
		}
		UnlockReleaseBuffer(buf);
		if (hasFree)
			RecordFreeIndexPage(index, blkno);
	}
	IndexFreeSpaceMapVacuum(index);
	stats->num_pages = nblocks;
	return stats;
}
