/*
 * hnswvacuum.c
 *	  VACUUM for gv_hnsw: remove dead heap rows from the graph and repair
 *	  the neighbour lists that pointed at them.
 *
 * Pass 1 (bulkdelete) turns every element whose heap row is dead into a
 *	 tombstone: its heap TID is cleared at once, so scans never return it
 *	 again, but its vector and neighbour lists stay, so searches can still
 *	 route through it.  The pass collects these tombstones (and any an
 *	 interrupted vacuum left unrepaired) in the dead set.
 * Then it takes the update lock in exclusive mode: that waits for every
 *	 insert that may have chosen a now-dead element as a neighbour before
 *	 it was marked, and every insert after it sees the marks and never links
 *	 to a tombstone.  Under the lock, if the entry point died, the live
 *	 element of highest level becomes the entry point.
 * Pass 2 repairs every live element that links to a tombstone of the dead
 *	 set: the dead links are replaced by the best of the element's live
 *	 neighbours and the tombstones' own live neighbours (the paper's
 *	 heuristic), and the element is offered to its new neighbours as a
 *	 back-link, as an insert would, so that it keeps incoming links too.
 *	 No tombstone of the dead set can change meanwhile: only FREE ones are
 *	 reused, and none is FREE yet.
 * Pass 3 marks the dead set FREE: nothing links to those tombstones any
 *	 more.  vacuumcleanup links every live element that the entry point
 *	 cannot reach again (RelinkUnreachable), records the pages holding FREE
 *	 slots in the free space map, and inserts overwrite a FREE slot in place.
 *
 * Every page change is a GenericXLog record of one buffer; at most one
 * element page is locked at a time; the metapage is changed under the
 * exclusive update lock (see hnswinsert.c).
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
/* at most this many passes of RelinkUnreachable a vacuumcleanup */
#define HNSW_RELINK_ROUNDS	4

/* What a bulkdelete pass works on. */
typedef struct VacuumStateData
{
	IndexVacuumInfo *vinfo;
	GvHnswInfo	info;
	GvHnswTidSetData dead;		/* tombstones whose links are being repaired */
	BlockNumber *pages;			/* the pages that hold them, ascending */
	int			npages;
	int			maxpages;
} VacuumStateData;

typedef VacuumStateData *VacuumState;

/* Is page an element page of a gv_hnsw index? */
static bool
IsElementPage(Page page)
{
	return !PageIsNew(page) && GvPageGetOpaque(page)->page_id == GV_PAGE_ID_HNSW &&
		(GvPageGetOpaque(page)->flags & HNSW_PAGE_ELEMENT);
}

/* How many of the element's heap TIDs are dead. */
static int
CountDeadTids(GvHnswInfo info, GvHnswElementTuple tup, IndexBulkDeleteCallback callback,
			  void *callback_state)
{
	int			dead = 0;

	for (int i = 0; i < tup->ntids; i++)
		if (callback(GvHnswElementHeapTid(tup, info->dataBytes, i), callback_state))
			dead++;
	return dead;
}

/*
 * Drop the dead heap TIDs of an element (on a page registered for WAL),
 * keeping the live ones in order; an element left with none becomes a
 * tombstone.  Not an overflow tuple, nor an element with an overflow
 * chain: those stay, empty, for rows of the same vector to fill again (the
 * chain's other tuples may hold live rows, and an overflow tuple is only
 * ever reached through the chain).  Returns how many were dropped.
 */
static int
RemoveDeadTids(GvHnswInfo info, GvHnswElementTuple tup, IndexBulkDeleteCallback callback,
			   void *callback_state)
{
	int			kept = 0;
	int			ntids = tup->ntids;

	for (int i = 0; i < ntids; i++)
	{
		ItemPointerData t = *GvHnswElementHeapTid(tup, info->dataBytes, i);

		if (!callback(&t, callback_state))
		{
			*GvHnswElementHeapTid(tup, info->dataBytes, kept) = t;
			kept++;
		}
	}
	for (int i = kept; i < ntids; i++)
		ItemPointerSetInvalid(GvHnswElementHeapTid(tup, info->dataBytes, i));
	tup->ntids = kept;
	if (kept == 0 && !(tup->flags & HNSW_ELEMENT_OVERFLOW) &&
		!ItemPointerIsValid(&tup->overflow))
		tup->flags |= HNSW_ELEMENT_DELETED;
	return ntids - kept;
}

/*
 * Pass 1: tombstone dead elements (those whose heap TIDs are all dead;
 * the others lose their dead ones); collect every tombstone that is not
 * FREE yet in the dead set, and the pages that hold them.
 */
static void
MarkDead(VacuumState vs, IndexBulkDeleteResult *stats,
		 IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = vs->vinfo->index;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);

	for (BlockNumber blkno = GV_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		GenericXLogState *state = NULL;
		bool		holdsDead = false;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL,
								 vs->vinfo->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		if (!IsElementPage(page))
		{
			UnlockReleaseBuffer(buf);
			continue;
		}
		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			GvHnswElementTuple tup = GvHnswPageGetElement(page, off);
			ItemPointerData tid;

			ItemPointerSet(&tid, blkno, off);
			if (!(tup->flags & HNSW_ELEMENT_DELETED) &&
				CountDeadTids(vs->info, tup, callback, callback_state) > 0)
			{
				if (state == NULL)
				{
					state = GenericXLogStart(index);
					page = GenericXLogRegisterBuffer(state, buf, 0);
					tup = GvHnswPageGetElement(page, off);
				}
				stats->tuples_removed += RemoveDeadTids(vs->info, tup, callback,
														callback_state);
			}
			if ((tup->flags & HNSW_ELEMENT_DELETED) && !(tup->flags & HNSW_ELEMENT_FREE))
			{
				GvHnswTidSetAdd(&vs->dead, &tid);
				holdsDead = true;
			}
			else if (!(tup->flags & HNSW_ELEMENT_DELETED))
				stats->num_index_tuples += tup->ntids;
		}
		if (state)
			GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
		if (holdsDead)
		{
			if (vs->npages == vs->maxpages)
			{
				vs->maxpages *= 2;
				vs->pages = repalloc(vs->pages, sizeof(BlockNumber) * vs->maxpages);
			}
			vs->pages[vs->npages++] = blkno;
		}
	}
}

/*
 * The live element of highest level (first found), by a scan of every
 * element page.  *level = -1 if there is none.
 */
static void
HighestLiveElement(VacuumState vs, ItemPointer best, int *level)
{
	Relation	index = vs->vinfo->index;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);

	*level = -1;
	ItemPointerSetInvalid(best);
	for (BlockNumber blkno = GV_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;

		CHECK_FOR_INTERRUPTS();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL,
								 vs->vinfo->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (IsElementPage(page))
		{
			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			{
				GvHnswElementTuple tup = GvHnswPageGetElement(page, off);

				if (!(tup->flags & (HNSW_ELEMENT_DELETED | HNSW_ELEMENT_OVERFLOW)) &&
					tup->level > *level)
				{
					*level = tup->level;
					ItemPointerSet(best, blkno, off);
				}
			}
		}
		UnlockReleaseBuffer(buf);
	}
}

/*
 * Wait for the inserts that started before pass 1 ended, and move the entry
 * point off a tombstone.
 *
 * The exclusive update lock waits for every insert in progress (each holds
 * it in share mode from its first read of the metapage to its last
 * back-link): those may have chosen an element pass 1 has since marked, and
 * pass 2 must see their elements and links.  Inserts that come after it see
 * the marks.  The replacement entry point is searched for while the lock is
 * held: an element placed after pass 1 read its page may have the highest
 * level, and it must not end up above the entry point.  The entry point
 * dies rarely (it is one element), so the extra scan is rare too.
 */
static void
RepairEntryPoint(VacuumState vs)
{
	Relation	index = vs->vinfo->index;
	Buffer		metabuf;
	GvHnswMetaPage meta;

	LockPage(index, HNSW_UPDATE_LOCK, ExclusiveLock);
	metabuf = ReadBuffer(index, GV_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_SHARE);
	meta = GvHnswPageGetMeta(BufferGetPage(metabuf));
	if (ItemPointerIsValid(&meta->entry) && GvHnswTidSetContains(&vs->dead, &meta->entry))
	{
		ItemPointerData best;
		int			bestLevel;
		GenericXLogState *state;
		Page		page;

		/* no insert can change the metapage while we hold the update lock */
		LockBuffer(metabuf, BUFFER_LOCK_UNLOCK);
		HighestLiveElement(vs, &best, &bestLevel);
		LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, metabuf, 0);
		meta = GvHnswPageGetMeta(page);
		meta->entry = best;
		meta->entryLevel = Max(bestLevel, 0);
		GenericXLogFinish(state);
	}
	UnlockReleaseBuffer(metabuf);
	UnlockPage(index, HNSW_UPDATE_LOCK, ExclusiveLock);
}

/*
 * After the heuristic chose nchosen of cands (sorted nearest first) into
 * out: the nearest candidates it rejected, appended to out up to lm in all.
 * Returns how many were appended.
 *
 * These are level-0 spares, as the build keeps them (README, Spares).
 * Without them a repaired level-0 list held only the heuristic's picks:
 * on data along a curve that is two links, and two VACUUMs of half the rows
 * each left 4,620 of 5,000 elements unreachable (TAP 016).
 */
static int
AddRepairSpares(GvHnswCandidate *cands, int ncands, ItemPointer self,
				GvHnswCandidate *out, int nchosen, int lm)
{
	int			n = nchosen;

	for (int i = 0; i < ncands && n < lm; i++)
	{
		bool		taken = ItemPointerEquals(&cands[i].tid, self);

		for (int j = 0; j < nchosen && !taken; j++)
			taken = ItemPointerEquals(&cands[i].tid, &out[j].tid);
		if (!taken)
			out[n++] = cands[i];
	}
	return n - nchosen;
}

/*
 * New neighbours at one level of element tup (at tid) whose list links to
 * tombstones, from its live neighbours, the tombstones' live neighbours and
 * the nfound elements a search found (SearchNeighbourhood).  Returns how
 * many the heuristic chose into out; at level 0, *nspares more follow them
 * (AddRepairSpares).
 */
static int
RepairLevel(Relation index, GvHnswInfo info, GvHnswTidSet dead, ItemPointer tid,
			GvHnswElementTuple tup, int level, GvHnswElementTuple scratch,
			GvHnswCandidate *found, int nfound, GvHnswCandidate *out, int *nspares)
{
	int			nchosen;
	int			m = info->m;
	int			lm = GvHnswLevelSlots(m, level);
	int			start = GvHnswLevelStart(m, level);
	ItemPointer nbrs = GvHnswTupleNbrs(tup, info->dataBytes, m) + start;
	GvHnswTidSetData seen;
	GvHnswCandidate *cands;
	int			ncands = 0;
	int			maxcands = lm * (lm + 1) + nfound;
	float	   *own = palloc(sizeof(float) * info->vecFloats);
	float	   *decoded = palloc(sizeof(float) * info->vecFloats);
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

	/* what the search from the entry point found */
	for (int i = 0; i < nfound; i++)
		if (!GvHnswTidSetContains(dead, &found[i].tid) && GvHnswTidSetAdd(&seen, &found[i].tid))
			cands[ncands++].tid = found[i].tid;

	/* Distances to the element, then the heuristic over the nearest. */
	vec = GvHnswElementVector(info, tup, own);
	for (int i = 0; i < ncands; i++)
	{
		if (!GvHnswGetElementCopy(index, info, &cands[i].tid, scratch) ||
			scratch->level < level)
			cands[i].dist = get_float8_infinity();
		else
			cands[i].dist = GvHnswDistance(info, vec,
										   GvHnswElementVector(info, scratch, decoded));
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
	/* the heuristic sorts cands nearest first; only live elements are left */
	nchosen = GvHnswSelectNeighbors(index, info, cands, ncands, lm, tid, out);
	*nspares = level == 0 ? AddRepairSpares(cands, ncands, tid, out, nchosen, lm) : 0;
	return nchosen;
}

/* Does the copy tup link to a tombstone of the dead set at level (all: -1)? */
static bool
LinksToDead(VacuumState vs, GvHnswElementTuple tup, int level)
{
	int			m = vs->info->m;
	ItemPointer nbrs = GvHnswTupleNbrs(tup, vs->info->dataBytes, m);
	int			start = level < 0 ? 0 : GvHnswLevelStart(m, level);
	int			n = level < 0 ? GvHnswSlots(m, tup->level) : GvHnswLevelSlots(m, level);

	for (int i = start; i < start + n; i++)
		if (ItemPointerIsValid(&nbrs[i]) && GvHnswTidSetContains(&vs->dead, &nbrs[i]))
			return true;
	return false;
}

/* One level's neighbour list as it is rewritten: n links and their distances. */
typedef struct LevelLinks
{
	ItemPointerData *tids;
	GvPackedDistance *dists;
	int			n;
} LevelLinks;

/*
 * Merge the repaired list of one level into out (room for lm links): the
 * links of the current list cur that concurrent inserts added since the
 * copy old was read (live ones, not in old) first, then the chosen ones,
 * then the nspares spares after them, leaving out duplicates.  Returns how
 * many spares made it in.
 */
static int
MergeRepairedLinks(GvHnswTidSet dead, ItemPointer old, ItemPointer cur,
				   GvPackedDistance *curDists, int lm, GvHnswCandidate *chosen,
				   int nchosen, int nspares, LevelLinks *out)
{
	int			written = 0;

	out->n = 0;
	for (int i = 0; i < lm; i++)
	{
		bool		known = false;

		if (!ItemPointerIsValid(&cur[i]) || GvHnswTidSetContains(dead, &cur[i]))
			continue;
		for (int j = 0; j < lm && !known; j++)
			known = ItemPointerEquals(&cur[i], &old[j]);
		if (!known)
		{
			out->tids[out->n] = cur[i];
			out->dists[out->n++] = curDists[i];
		}
	}
	for (int i = 0; i < nchosen + nspares && out->n < lm; i++)
	{
		bool		dup = false;

		for (int j = 0; j < out->n && !dup; j++)
			dup = ItemPointerEquals(&out->tids[j], &chosen[i].tid);
		if (!dup)
		{
			out->tids[out->n] = chosen[i].tid;
			out->dists[out->n++] = GvPackDistance(chosen[i].dist);
			if (i >= nchosen)
				written++;
		}
	}
	return written;
}

/*
 * Write the repaired list at one level of the element at tid, read before
 * into tup (MergeRepairedLinks says what it holds; the spares stay last
 * and are counted in the tuple's spares).  Returns false (and writes
 * nothing) if the slot no longer holds that element.
 */
static bool
WriteRepairedLevel(VacuumState vs, ItemPointer tid, GvHnswElementTuple tup, int level,
				   GvHnswCandidate *chosen, int nchosen, int nspares)
{
	Relation	index = vs->vinfo->index;
	GvHnswInfo	info = vs->info;
	int			m = info->m;
	int			start = GvHnswLevelStart(m, level);
	int			lm = GvHnswLevelSlots(m, level);
	ItemPointer nbrs = GvHnswTupleNbrs(tup, info->dataBytes, m) + start;
	LevelLinks	merged;
	int			written;		/* spares among the merged */
	Buffer		buf = ReadBuffer(index, ItemPointerGetBlockNumber(tid));
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	GenericXLogState *state;
	GvHnswElementTuple cur;
	ItemPointer curNbrs;
	GvPackedDistance *curDists;

	merged.tids = palloc(sizeof(ItemPointerData) * lm);
	merged.dists = palloc(sizeof(GvPackedDistance) * lm);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	cur = GvHnswPageGetElement(BufferGetPage(buf), off);
	if ((cur->flags & HNSW_ELEMENT_DELETED) ||
		!ItemPointerEquals(&cur->heaptid, &tup->heaptid))
	{
		UnlockReleaseBuffer(buf);
		return false;
	}
	written = MergeRepairedLinks(&vs->dead, nbrs,
								 GvHnswTupleNbrs(cur, info->dataBytes, m) + start,
								 GvHnswTupleDists(cur, info->dataBytes) + start,
								 lm, chosen, nchosen, nspares, &merged);

	state = GenericXLogStart(index);
	cur = GvHnswPageGetElement(GenericXLogRegisterBuffer(state, buf, 0), off);
	if (level == 0)
		cur->spares = written;
	curNbrs = GvHnswTupleNbrs(cur, info->dataBytes, m) + start;
	curDists = GvHnswTupleDists(cur, info->dataBytes) + start;
	for (int i = 0; i < lm; i++)
	{
		if (i < merged.n)
		{
			curNbrs[i] = merged.tids[i];
			curDists[i] = merged.dists[i];
		}
		else
		{
			ItemPointerSetInvalid(&curNbrs[i]);
			curDists[i] = 0;
		}
	}
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	return true;
}

/*
 * Search the graph for the element's vector from the entry point, as an
 * insert does (ef_construction at each level from min(its level, the entry
 * point's) down): found[l] gets the nfound[l] live elements nearest to it
 * at level l.
 *
 * The tombstones still route (none is FREE before pass 3), so this is the
 * graph as the build and inserts left it.  The neighbours of its lost
 * neighbours alone are not enough: with half the rows deleted, elements of
 * points along a curve kept only links to one side, and a search from the
 * entry point stopped at the entry point's end of the curve (60 of 200 rows
 * found by their own vector, TAP 016).
 *
 * zeroFromEntry: level 0 is searched from the entry point itself, not from
 * what the level above found.  For an element the entry point cannot reach
 * at level 0: the levels above can lead into the part it is in, and a
 * level-0 search from there finds only that part (all 32 nearest of 427
 * unreachable elements of a binary-storage index, TAP 070).
 */
static void
SearchNeighbourhood(VacuumState vs, GvHnswElementTuple tup, GvHnswCandidate **found,
					int *nfound, bool zeroFromEntry)
{
	Relation	index = vs->vinfo->index;
	GvHnswInfo	info = vs->info;
	int			ef = info->efConstruction;
	GvHnswMetaPageData meta;
	float	   *own = palloc(sizeof(float) * info->vecFloats);
	const float *vec = GvHnswElementVector(info, tup, own);
	GvHnswCandidate ep;
	GvHnswCandidate *eps;
	int			neps = 1;
	int			top;

	GvHnswReadMeta(index, &meta);
	if (!ItemPointerIsValid(&meta.entry))
		return;
	top = Min(tup->level, meta.entryLevel);
	GvHnswFindEntry(index, info, vec, &meta, top, &ep);
	eps = palloc(sizeof(GvHnswCandidate));
	eps[0] = ep;
	for (int l = top; l >= 0; l--)
	{
		GvHnswHeapData cand;
		GvHnswHeapData result;
		GvHnswTidSetData visited;
		int64		count = 0;

		if (l == 0 && zeroFromEntry)
		{
			GvHnswFindEntry(index, info, vec, &meta, meta.entryLevel, &ep);
			eps = &ep;
			neps = 1;
		}
		GvHnswHeapInit(&cand, ef * 4, false);
		GvHnswHeapInit(&result, ef + 1, true);
		GvHnswTidSetInit(&visited, ef * info->m * 2);
		for (int i = 0; i < neps; i++)
		{
			GvHnswTidSetAdd(&visited, &eps[i].tid);
			GvHnswHeapPush(&cand, &eps[i]);
			GvHnswHeapPush(&result, &eps[i]);
		}
		GvHnswSearchLayerDisk(index, info, vec, &cand, &result, NULL, &visited,
							  ef, l, NULL, &count, PG_INT64_MAX);
		found[l] = palloc(sizeof(GvHnswCandidate) * Max(result.count, 1));
		while (result.count > 0)
			found[l][nfound[l]++] = GvHnswHeapPop(&result);
		/* all of them are the entry points of the level below */
		eps = found[l];
		neps = nfound[l];
		pfree(cand.items);
		pfree(result.items);
		GvHnswTidSetFree(&visited);
	}
}

/*
 * Repair the levels of the element at tid (copied into tup) that link to
 * the dead set, then offer it to its new neighbours as a back-link: the
 * tombstones it loses were often its only way in, and an element nothing
 * links to is one no search can find.
 */
static void
RepairElement(VacuumState vs, ItemPointer tid, GvHnswElementTuple tup,
			  GvHnswElementTuple scratch, GvHnswCandidate *chosen)
{
	Relation	index = vs->vinfo->index;
	GvHnswCandidate **found = palloc0(sizeof(GvHnswCandidate *) * (tup->level + 1));
	int		   *nfound = palloc0(sizeof(int) * (tup->level + 1));

	SearchNeighbourhood(vs, tup, found, nfound, false);
	for (int l = 0; l <= tup->level; l++)
	{
		int			nchosen;
		int			nspares;

		if (!LinksToDead(vs, tup, l))
			continue;
		nchosen = RepairLevel(index, vs->info, &vs->dead, tid, tup, l, scratch,
							  found[l], nfound[l], chosen, &nspares);
		if (!WriteRepairedLevel(vs, tid, tup, l, chosen, nchosen, nspares))
			return;
		/* back-links to the chosen, not to spares, as the build does */
		for (int i = 0; i < nchosen; i++)
			GvHnswAddBackLink(index, vs->info, &chosen[i].tid, l, tid, chosen[i].dist);
	}
}

/*
 * Pass 2: repair every live element that links to a tombstone of the dead
 * set.  Elements placed after the scan passed their page came after the
 * update lock, so they link to no tombstone.
 */
static void
RepairGraph(VacuumState vs)
{
	Relation	index = vs->vinfo->index;
	GvHnswInfo	info = vs->info;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	Size		maxsize = GvHnswTupleSize(info->dataBytes, info->m, info->maxLevel);
	GvHnswElementTuple tup = palloc(maxsize);
	GvHnswElementTuple scratch = palloc(maxsize);
	GvHnswCandidate *chosen = palloc(sizeof(GvHnswCandidate) * 2 * info->m);
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "gv_hnsw repair",
											  ALLOCSET_DEFAULT_SIZES);

	for (BlockNumber blkno = GV_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		OffsetNumber maxoff;
		Buffer		buf;
		Page		page;

		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, vs->vinfo->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		maxoff = IsElementPage(page) ? PageGetMaxOffsetNumber(page) : InvalidOffsetNumber;
		UnlockReleaseBuffer(buf);

		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemPointerData tid;
			MemoryContext old;

			vacuum_delay_point();
			ItemPointerSet(&tid, blkno, off);
			if (!GvHnswGetElementCopy(index, info, &tid, tup) || !LinksToDead(vs, tup, -1))
				continue;
			old = MemoryContextSwitchTo(tmp);
			RepairElement(vs, &tid, tup, scratch, chosen);
			MemoryContextSwitchTo(old);
			MemoryContextReset(tmp);
		}
	}
	MemoryContextDelete(tmp);
	pfree(tup);
	pfree(scratch);
	pfree(chosen);
}

/*
 * Pass 3: the tombstones of the dead set become FREE.  Pass 2 replaced
 * every link to them, and no insert since the update lock links to a
 * tombstone, so from now on only a scan that was already under way can
 * still read one (then routing through a slot reused meanwhile costs it
 * accuracy, not correctness).
 */
static void
ReleaseTombstones(VacuumState vs)
{
	Relation	index = vs->vinfo->index;

	for (int i = 0; i < vs->npages; i++)
	{
		BlockNumber blkno = vs->pages[i];
		Buffer		buf;
		GenericXLogState *state;
		Page		page;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, vs->vinfo->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			ItemPointerData tid;

			ItemPointerSet(&tid, blkno, off);
			if (GvHnswTidSetContains(&vs->dead, &tid))
				GvHnswPageGetElement(page, off)->flags |= HNSW_ELEMENT_FREE;
		}
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
	}
}

IndexBulkDeleteResult *
gvhnswbulkdelete(IndexVacuumInfo *vinfo, IndexBulkDeleteResult *stats,
				 IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = vinfo->index;
	VacuumStateData vs;

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	stats->num_index_tuples = 0;

	vs.vinfo = vinfo;
	vs.info = GvHnswGetInfo(index);
	GvHnswTidSetInit(&vs.dead, 1024);
	vs.maxpages = 64;
	vs.npages = 0;
	vs.pages = palloc(sizeof(BlockNumber) * vs.maxpages);
	MarkDead(&vs, stats, callback, callback_state);
	if (vs.info->keys.nkeys > 0)
	{
		GvHnswMetaPageData meta;

		GvHnswReadMeta(index, &meta);
		if (meta.keyDirHead != GV_METAPAGE_BLKNO)
			GvHnswKeyDirVacuum(vinfo, meta.keyDirHead, callback, callback_state);
	}
	if (vs.dead.count > 0)
	{
		RepairEntryPoint(&vs);
		RepairGraph(&vs);
		ReleaseTombstones(&vs);
	}
	GvHnswTidSetFree(&vs.dead);
	pfree(vs.pages);
	stats->num_pages = RelationGetNumberOfBlocks(index);
	return stats;
}

/*
 * The elements reachable at level 0 from the entry point (tombstones that
 * are not free route too), into reached.
 */
static void
MarkReachable(VacuumState vs, GvHnswTidSet reached)
{
	Relation	index = vs->vinfo->index;
	GvHnswInfo	info = vs->info;
	GvHnswMetaPageData meta;
	GvHnswElementTuple tup = palloc(GvHnswTupleSize(info->dataBytes, info->m, info->maxLevel));
	int64		cap = 1024;
	int64		head = 0,
				tail = 0;
	ItemPointerData *queue;

	GvHnswReadMeta(index, &meta);
	if (!ItemPointerIsValid(&meta.entry))
		return;
	queue = palloc(sizeof(ItemPointerData) * cap);
	GvHnswTidSetAdd(reached, &meta.entry);
	queue[tail++] = meta.entry;
	while (head < tail)
	{
		ItemPointerData cur = queue[head++];
		ItemPointer nbrs;

		vacuum_delay_point();
		GvHnswGetElementCopy(index, info, &cur, tup);
		if (tup->flags & HNSW_ELEMENT_FREE)
			continue;
		nbrs = GvHnswTupleNbrs(tup, info->dataBytes, info->m);
		for (int i = 0; i < GvHnswLevelSlots(info->m, 0); i++)
		{
			if (!ItemPointerIsValid(&nbrs[i]) || !GvHnswTidSetAdd(reached, &nbrs[i]))
				continue;
			if (tail == cap)
			{
				cap *= 2;
				queue = repalloc_huge(queue, sizeof(ItemPointerData) * cap);
			}
			queue[tail++] = nbrs[i];
		}
	}
	pfree(queue);
	pfree(tup);
}

/*
 * Give every live element that no search can reach incoming links again:
 * search for it from the entry point, as an insert does, and offer it as
 * a back-link to the neighbours the heuristic picks at each of its levels.
 * Returns how many were relinked.
 *
 * Inserts orphan an element now and then: a back-link takes the slot of
 * a list's farthest neighbour, and that one may have had no other way in.
 * Pass 2 only repairs elements that link to tombstones, so such orphans
 * outlived every VACUUM (2 or 3 of 2,400 after a minute of mixed load, TAP
 * 071); scans still returned their rows, through the exhaustive pass, but
 * a LIMIT search never did.
 */
/*
 * Keep the candidates the entry point reaches at level 0: links from the
 * others would leave an unreachable element cut off.
 */
static int
KeepReached(GvHnswTidSet reached, GvHnswCandidate *cands, int n)
{
	int			kept = 0;

	for (int i = 0; i < n; i++)
		if (GvHnswTidSetContains(reached, &cands[i].tid))
			cands[kept++] = cands[i];
	return kept;
}

static int64
RelinkUnreachable(VacuumState vs)
{
	Relation	index = vs->vinfo->index;
	GvHnswInfo	info = vs->info;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	GvHnswTidSetData reached;
	Size		maxsize = GvHnswTupleSize(info->dataBytes, info->m, info->maxLevel);
	GvHnswElementTuple tup = palloc(maxsize);
	GvHnswCandidate *chosen = palloc(sizeof(GvHnswCandidate) * 2 * info->m);
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "gv_hnsw relink",
											  ALLOCSET_DEFAULT_SIZES);
	int64		relinked = 0;

	GvHnswTidSetInit(&reached, 1024);
	MarkReachable(vs, &reached);
	for (BlockNumber blkno = GV_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL,
											 vs->vinfo->strategy);
		OffsetNumber maxoff;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		maxoff = IsElementPage(BufferGetPage(buf)) ?
			PageGetMaxOffsetNumber(BufferGetPage(buf)) : InvalidOffsetNumber;
		UnlockReleaseBuffer(buf);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemPointerData tid;
			GvHnswCandidate **found;
			int		   *nfound;
			MemoryContext old;

			vacuum_delay_point();
			ItemPointerSet(&tid, blkno, off);
			if (GvHnswTidSetContains(&reached, &tid) ||
				!GvHnswGetElementCopy(index, info, &tid, tup))
				continue;
			old = MemoryContextSwitchTo(tmp);
			found = palloc0(sizeof(GvHnswCandidate *) * (tup->level + 1));
			nfound = palloc0(sizeof(int) * (tup->level + 1));
			SearchNeighbourhood(vs, tup, found, nfound, true);
			nfound[0] = KeepReached(&reached, found[0], nfound[0]);
			for (int l = 0; l <= tup->level; l++)
			{
				int			n = GvHnswSelectNeighbors(index, info, found[l], nfound[l],
													  GvHnswLevelSlots(info->m, l), &tid, chosen);

				for (int i = 0; i < n; i++)
					GvHnswAddBackLink(index, info, &chosen[i].tid, l, &tid, chosen[i].dist);
			}
			MemoryContextSwitchTo(old);
			MemoryContextReset(tmp);
			relinked++;
		}
	}
	MemoryContextDelete(tmp);
	GvHnswTidSetFree(&reached);
	pfree(tup);
	pfree(chosen);
	return relinked;
}

/*
 * After the passes: give unreachable elements links again, offer the FREE
 * slots to inserts; count what is left.
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

	{
		VacuumStateData vs;
		int64		relinked;
		int64		left;

		vs.vinfo = vinfo;
		vs.info = GvHnswGetInfo(index);
		relinked = RelinkUnreachable(&vs);

		/*
		 * A back-link takes the slot of a farthest neighbour, which may be
		 * orphaned in turn: go again while that leaves fewer (121 left of 427
		 * after one round, 0 after two, TAP 070's binary storage).
		 */
		left = relinked;
		for (int round = 1; left > 0 && round < HNSW_RELINK_ROUNDS; round++)
		{
			int64		again = RelinkUnreachable(&vs);

			if (again >= left)
				break;
			relinked += again;
			left = again;
		}
		if (relinked > 0)
			ereport(vinfo->message_level,
					(errmsg("index \"%s\": %lld unreachable elements linked again",
							RelationGetRelationName(index), (long long) relinked)));
	}

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
		if (IsElementPage(page))
		{
			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			{
				GvHnswElementTuple tup = GvHnswPageGetElement(page, off);

				if (tup->flags & HNSW_ELEMENT_FREE)
					hasFree = true;
				else if (!(tup->flags & HNSW_ELEMENT_DELETED) && !counted)
					stats->num_index_tuples += tup->ntids;
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
