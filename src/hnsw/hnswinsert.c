/*
 * hnswinsert.c
 *	  Insert one vector into a gv_hnsw graph on disk (Algorithm 1 of the
 *	  paper): draw a level, descend greedily from the entry point, search
 *	  each level from the new element's down to 0 with ef_construction
 *	  candidates, pick neighbours with the heuristic, write the element, then
 *	  add the back-links.
 *
 * Locking (see README): a heavyweight lock on the metapage's block number
 * (HNSW_UPDATE_LOCK) is taken in share mode by every insert, for the whole
 * insert, and in exclusive mode by an insert that will move the entry point
 * (and by vacuum once it has marked tombstones), so the entry point never
 * changes under a search that started from it, and vacuum waits for the
 * inserts that may have chosen a neighbour it has since marked.  Buffer
 * locks: at most the metapage and then one element page at a time, in that
 * order.
 *
 * WAL: every page change is one GenericXLog record of at most two buffers
 * (the metapage and the page that receives the element).
 */
#include "compat.h"

#include "gvam.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"

#define HNSW_UPDATE_LOCK	GV_METAPAGE_BLKNO

/* Pages with tombstones an insert looks at before it appends. */
#define HNSW_FREE_SLOT_TRIES	4

/*
 * Fill a freshly built element tuple (in local memory); data is the
 * encoded filter columns followed by the encoded vector.
 */
static void
FillElement(GvHnswElementTuple tup, GvHnswInfo info, int level, int capLevel,
			const char *data, uint8 keyNulls, ItemPointer heaptid, Oid toastid)
{
	int			nslots = GvHnswSlots(info->m, capLevel);
	GvPackedDistance *dists;
	ItemPointer nbrs;

	MemSet(tup, 0, GvHnswTupleSize(info->dataBytes, info->m, capLevel));
	tup->level = level;
	tup->capLevel = capLevel;
	tup->keyNulls = keyNulls;
	tup->heaptid = *heaptid;
	tup->ntids = 1;
	tup->toastid = toastid;
	memcpy(tup->data, data, info->dataBytes);
	dists = GvHnswTupleDists(tup, info->dataBytes);
	nbrs = GvHnswTupleNbrs(tup, info->dataBytes, info->m);
	for (int i = 0; i < nslots; i++)
	{
		dists[i] = 0;
		ItemPointerSetInvalid(&nbrs[i]);
	}
}

/*
 * Put an element into a tombstone's slot that vacuum has released (FREE;
 * pages with such slots are kept in the free space map).  A tombstone that
 * is not FREE yet must stay as it is: vacuum is still repairing the links
 * to it and reads its neighbour list, and a repair would take a new
 * element in its slot for the dead one and drop every link to it.
 * Returns false if no slot could be found.
 */
static bool
PlaceInFreeSlot(Relation index, GvHnswInfo info, GvHnswElementTuple tup,
				ItemPointer result)
{
	BlockNumber skipped[HNSW_FREE_SLOT_TRIES];
	int			nskipped = 0;
	bool		placed = false;

	/*
	 * A page whose tombstones are all too small for this element goes back
	 * into the map afterwards (re-recording it at once would hand it to us
	 * again).
	 */
	for (int tries = 0; tries < HNSW_FREE_SLOT_TRIES && !placed; tries++)
	{
		BlockNumber blkno = GetFreeIndexPage(index);
		Buffer		buf;
		Page		page;
		int			remaining = 0;

		CHECK_FOR_INTERRUPTS();
		if (blkno == InvalidBlockNumber)
			break;
		if (blkno >= RelationGetNumberOfBlocks(index) || blkno == GV_METAPAGE_BLKNO)
			continue;
		buf = ReadBuffer(index, blkno);
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
			GvHnswElementTuple old = GvHnswPageGetElement(page, off);

			if (!(old->flags & HNSW_ELEMENT_FREE))
				continue;
			if (!placed && old->capLevel >= tup->level)
			{
				GenericXLogState *state = GenericXLogStart(index);
				Page		wpage = GenericXLogRegisterBuffer(state, buf, 0);
				GvHnswElementTuple dst = GvHnswPageGetElement(wpage, off);
				int			cap = old->capLevel;

				FillElement(dst, info, tup->level, cap, tup->data, tup->keyNulls,
							&tup->heaptid, tup->toastid);
				dst->flags = 0;
				/* copy the neighbours chosen for the levels we have */
				for (int l = 0; l <= tup->level; l++)
				{
					int			start = GvHnswLevelStart(info->m, l);
					int			n = GvHnswLevelSlots(info->m, l);

					memcpy(GvHnswTupleDists(dst, info->dataBytes) + start,
						   GvHnswTupleDists(tup, info->dataBytes) + start,
						   sizeof(GvPackedDistance) * n);
					memcpy(GvHnswTupleNbrs(dst, info->dataBytes, info->m) + start,
						   GvHnswTupleNbrs(tup, info->dataBytes, info->m) + start,
						   sizeof(ItemPointerData) * n);
				}
				GenericXLogFinish(state);
				ItemPointerSet(result, blkno, off);
				placed = true;
			}
			else
				remaining++;
		}
		UnlockReleaseBuffer(buf);
		if (placed && remaining > 0)
			RecordFreeIndexPage(index, blkno);
		else if (!placed && remaining > 0)
			skipped[nskipped++] = blkno;
	}
	for (int i = 0; i < nskipped; i++)
		RecordFreeIndexPage(index, skipped[i]);
	return placed;
}

/*
 * Append an element to the last page, or to a new one.  Lock order:
 * metapage, then the data page.
 */
static void
AppendElement(Relation index, GvHnswElementTuple tup, Size size, ItemPointer result)
{
	Buffer		metabuf = ReadBuffer(index, GV_METAPAGE_BLKNO);
	Buffer		buf = InvalidBuffer;
	GenericXLogState *state;
	GvHnswMetaPage meta;
	Page		page;
	OffsetNumber off;

	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	meta = GvHnswPageGetMeta(BufferGetPage(metabuf));
	state = GenericXLogStart(index);
	if (meta->insertPage != InvalidBlockNumber)
	{
		buf = ReadBuffer(index, meta->insertPage);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		if (PageGetFreeSpace(page) < size)
		{
			GenericXLogAbort(state);
			UnlockReleaseBuffer(buf);
			buf = InvalidBuffer;
			state = GenericXLogStart(index);
		}
	}
	if (!BufferIsValid(buf))
	{
		Page		wmeta;

		buf = GvNewBuffer(index, MAIN_FORKNUM);
		page = GvXLogRegisterNew(state, buf, GV_PAGE_ID_HNSW, HNSW_PAGE_ELEMENT);
		wmeta = GenericXLogRegisterBuffer(state, metabuf, 0);
		GvHnswPageGetMeta(wmeta)->insertPage = BufferGetBlockNumber(buf);
	}
	off = PageAddItem(page, (Item) tup, size, InvalidOffsetNumber, false, false);
	if (off == InvalidOffsetNumber)
		elog(ERROR, "failed to add element to index \"%s\"",
			 RelationGetRelationName(index));
	GenericXLogFinish(state);
	ItemPointerSet(result, BufferGetBlockNumber(buf), off);
	UnlockReleaseBuffer(buf);
	UnlockReleaseBuffer(metabuf);
}

/*
 * Add a back-link from element nbr to the element newtid at level l, whose
 * distance to nbr is dist: into a free slot, or in place of nbr's farthest
 * neighbour if newtid is nearer.  Nothing happens if nbr is a tombstone or
 * links to newtid already.  Inserts link each new element this way, and
 * vacuum each repaired one.  The links' distances are compared as stored
 * (packed into 32 bits, GvPackDistance), the new one too, so that the order
 * is the one the stored values give.
 */
void
GvHnswAddBackLink(Relation index, GvHnswInfo info, ItemPointer nbr, int level,
				  ItemPointer newtid, double dist)
{
	Buffer		buf = ReadBuffer(index, ItemPointerGetBlockNumber(nbr));
	GenericXLogState *state;
	Page		page;
	GvHnswElementTuple tup;
	GvPackedDistance *dists;
	GvPackedDistance packed = GvPackDistance(dist);
	double		newDist = GvUnpackDistance(packed);
	double		farthest = 0;
	ItemPointer nbrs;
	int			start = GvHnswLevelStart(info->m, level);
	int			n = GvHnswLevelSlots(info->m, level);
	int			slot = -1;
	bool		spareTaken = false;
	int			spareMovesTo = -1;
	OffsetNumber off = ItemPointerGetOffsetNumber(nbr);

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	if (off > PageGetMaxOffsetNumber(page))
	{
		UnlockReleaseBuffer(buf);
		return;
	}
	tup = GvHnswPageGetElement(page, off);
	if ((tup->flags & HNSW_ELEMENT_DELETED) || tup->level < level)
	{
		UnlockReleaseBuffer(buf);
		return;
	}
	dists = GvHnswTupleDists(tup, info->dataBytes) + start;
	nbrs = GvHnswTupleNbrs(tup, info->dataBytes, info->m) + start;
	for (int i = 0; i < n; i++)
	{
		if (!ItemPointerIsValid(&nbrs[i]))
		{
			slot = i;
			break;
		}
		if (ItemPointerEquals(&nbrs[i], newtid))
		{
			UnlockReleaseBuffer(buf);
			return;
		}
		if (GvUnpackDistance(dists[i]) > newDist &&
			(slot < 0 || GvUnpackDistance(dists[i]) > farthest))
		{
			slot = i;
			farthest = GvUnpackDistance(dists[i]);
		}
	}

	/*
	 * Spares (links the build added to fill the list; the last tup->spares
	 * valid ones, see the README) give way to a back-link like free slots: it
	 * takes the first spare's slot, and that spare moves to a free slot after
	 * the others if there is one, so the spares stay last.
	 */
	if (level == 0 && tup->spares > 0)
	{
		int			valid = 0;

		while (valid < n && ItemPointerIsValid(&nbrs[valid]))
			valid++;
		slot = valid - tup->spares;
		spareTaken = true;
		spareMovesTo = valid < n ? valid : -1;
	}
	if (slot < 0)
	{
		UnlockReleaseBuffer(buf);
		return;
	}

	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	tup = GvHnswPageGetElement(page, off);
	dists = GvHnswTupleDists(tup, info->dataBytes) + start;
	nbrs = GvHnswTupleNbrs(tup, info->dataBytes, info->m) + start;
	if (spareMovesTo >= 0)
	{
		dists[spareMovesTo] = dists[slot];
		nbrs[spareMovesTo] = nbrs[slot];
	}
	else if (spareTaken)
		tup->spares--;
	dists[slot] = packed;
	nbrs[slot] = *newtid;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/* What an insert found at one tuple of a duplicate's chain. */
typedef enum ChainStep
{
	CHAIN_NO_MATCH,				/* not an element of these bytes */
	CHAIN_ADDED,				/* the heap TID went into it */
	CHAIN_NEXT,					/* full: *next is the next overflow tuple */
	CHAIN_END					/* full, and the last of the chain */
} ChainStep;

/*
 * One step along the chain of an element that stores the same bytes as tup
 * (filter columns and encoded vector): add tup's heap TID to the tuple at
 * tid if it has room.  first: tid is the graph element, which must be live
 * and match; later tuples are its overflow tuples.  A full tuple adds its
 * room to *held.
 */
static ChainStep
AddToChainTuple(Relation index, GvHnswInfo info, ItemPointer tid, bool first,
				GvHnswElementTuple tup, ItemPointer next, int *held)
{
	Buffer		buf = ReadBuffer(index, ItemPointerGetBlockNumber(tid));
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	GvHnswElementTuple cur;
	ChainStep	step;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	cur = GvHnswPageGetElement(BufferGetPage(buf), off);
	if ((cur->flags & HNSW_ELEMENT_DELETED) ||
		((cur->flags & HNSW_ELEMENT_OVERFLOW) != 0) == first ||
		cur->keyNulls != tup->keyNulls ||
		memcmp(cur->data, tup->data, info->dataBytes) != 0)
		step = CHAIN_NO_MATCH;
	else if (cur->ntids < GvHnswTupleTidRoom(cur))
	{
		GenericXLogState *state = GenericXLogStart(index);
		Page		page = GenericXLogRegisterBuffer(state, buf, 0);

		cur = GvHnswPageGetElement(page, off);
		*GvHnswElementHeapTid(cur, info->dataBytes, cur->ntids) = tup->heaptid;
		cur->ntids++;
		cur->toastid = InvalidOid;	/* the rows' TOAST values differ */
		GenericXLogFinish(state);
		step = CHAIN_ADDED;
	}
	else
	{
		*next = cur->overflow;
		*held += GvHnswTupleTidRoom(cur);
		step = ItemPointerIsValid(next) ? CHAIN_NEXT : CHAIN_END;
	}
	UnlockReleaseBuffer(buf);
	return step;
}

/*
 * Make the overflow tuple at otid the next of the chain's last tuple,
 * from last on (concurrent inserts may have made the chain longer).
 */
static void
LinkOverflow(Relation index, ItemPointer last, ItemPointer otid)
{
	ItemPointerData cur = *last;

	for (;;)
	{
		Buffer		buf = ReadBuffer(index, ItemPointerGetBlockNumber(&cur));
		OffsetNumber off = ItemPointerGetOffsetNumber(&cur);
		GvHnswElementTuple t;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		t = GvHnswPageGetElement(BufferGetPage(buf), off);
		if (!ItemPointerIsValid(&t->overflow))
		{
			GenericXLogState *state = GenericXLogStart(index);
			Page		page = GenericXLogRegisterBuffer(state, buf, 0);

			GvHnswPageGetElement(page, off)->overflow = *otid;
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
			return;
		}
		cur = t->overflow;
		UnlockReleaseBuffer(buf);
	}
}

/*
 * A new overflow tuple for a chain that holds held heap TIDs already, with
 * the first TID in it: room for as many again (so a chain's tuples grow
 * geometrically), within HNSW_OVERFLOW_MIN_TIDS and info->maxTids.
 * palloc'd; *size is its size.
 */
static GvHnswElementTuple
MakeOverflowTuple(GvHnswInfo info, GvHnswElementTuple tup, int held, Size *size)
{
	int			room = Max(Min(held, info->maxTids), Min(HNSW_OVERFLOW_MIN_TIDS, info->maxTids));
	GvHnswElementTuple otup;

	*size = GvHnswOverflowSize(info->dataBytes, room);
	otup = palloc0(*size);
	otup->flags = HNSW_ELEMENT_OVERFLOW;
	otup->keyNulls = tup->keyNulls;
	otup->heaptid = tup->heaptid;
	otup->spares = room;
	otup->toastid = InvalidOid;
	otup->ntids = 1;
	ItemPointerSetInvalid(&otup->overflow);
	memcpy(otup->data, tup->data, info->dataBytes);
	for (int i = 1; i < room; i++)
		ItemPointerSetInvalid(GvHnswElementHeapTid(otup, info->dataBytes, i));
	return otup;
}

/*
 * Add tup's heap TID to the element at tid, if it stores the same bytes:
 * into the first tuple of its chain with room, else into a new overflow
 * tuple appended and linked at the chain's end.  Returns the tuple that
 * took it in *where.  (Overflow tuples are not put into free slots: those
 * are sized for elements, and an overflow tuple is never freed.)
 */
static bool
AddToDuplicate(Relation index, GvHnswInfo info, ItemPointer tid,
			   GvHnswElementTuple tup, ItemPointer where)
{
	ItemPointerData cur = *tid;
	ItemPointerData next;
	bool		first = true;
	int			held = 0;
	Size		size;
	GvHnswElementTuple otup;

	for (;;)
	{
		ChainStep	step = AddToChainTuple(index, info, &cur, first, tup, &next, &held);

		if (step == CHAIN_NO_MATCH)
			return false;
		if (step == CHAIN_ADDED)
		{
			*where = cur;
			return true;
		}
		if (step == CHAIN_END)
			break;
		cur = next;
		first = false;
	}
	otup = MakeOverflowTuple(info, tup, held, &size);
	AppendElement(index, otup, size, where);
	LinkOverflow(index, &cur, where);
	pfree(otup);
	return true;
}

/*
 * A row whose vector the index stores as the same bytes as an element's
 * joins that element rather than becoming one of its own: two hundred
 * copies of a vector as two hundred elements at distance 0 from each other
 * filled each other's neighbour lists, and most of them lost every link
 * to them.  Such an element is at the distance of tup's own decoded vector
 * from vec, among the nearest, which the level-0 search w has found if
 * anything has.  Returns the tuple that took the row in *where, or false
 * if none did.
 */
static bool
JoinDuplicate(Relation index, GvHnswInfo info, const float *vec,
			  GvHnswElementTuple tup, GvHnswCandidate *w, int nw, ItemPointer where)
{
	float	   *decoded = palloc(sizeof(float) * info->vecFloats);
	double		self = GvHnswDistance(info, vec,
									  GvHnswElementVector(info, tup, decoded));
	bool		joined = false;

	for (int i = 0; i < nw && !joined; i++)
		joined = w[i].dist == self && AddToDuplicate(index, info, &w[i].tid, tup, where);
	pfree(decoded);
	return joined;
}

/*
 * Insert vec (already in the metric's space) for heap row heaptid.
 */
void
GvHnswInsertVector(Relation index, GvHnswInfo info, const GvHnswRowData *row,
				   ItemPointer heaptid)
{
	const float *vec = row->vec;
	int			m = info->m;
	int			level = GvHnswRandomLevel(&pg_global_prng_state, m, info->maxLevel);
	LOCKMODE	lockmode = ShareLock;
	GvHnswMetaPageData meta;
	GvHnswElementTuple tup;
	Size		size = GvHnswTupleSize(info->dataBytes, m, level);
	ItemPointerData newtid;
	GvHnswCandidate **chosen;
	int		   *nchosen;
	int			top;
	char	   *data = palloc(info->dataBytes);

	/* encode first: a value half precision cannot hold fails before any lock */
	if (info->keys.nkeys > 0)
		memcpy(data, row->keys, info->keys.keyBytes);
	GvHnswEncodeVector(index, info, vec, data + info->keys.keyBytes);
	LockPage(index, HNSW_UPDATE_LOCK, lockmode);
	GvHnswReadMeta(index, &meta);
	if (!ItemPointerIsValid(&meta.entry) || level > meta.entryLevel)
	{
		UnlockPage(index, HNSW_UPDATE_LOCK, lockmode);
		lockmode = ExclusiveLock;
		LockPage(index, HNSW_UPDATE_LOCK, lockmode);
		GvHnswReadMeta(index, &meta);
	}

	tup = palloc(size);
	FillElement(tup, info, level, level, data, row->keyNulls, heaptid, row->toastid);

	top = ItemPointerIsValid(&meta.entry) ? Min(level, meta.entryLevel) : -1;
	chosen = palloc0(sizeof(GvHnswCandidate *) * (level + 1));
	nchosen = palloc0(sizeof(int) * (level + 1));
	if (top >= 0)
	{
		GvHnswCandidate ep;
		GvHnswHeapData cand;
		GvHnswHeapData result;
		GvHnswCandidate *eps;
		int			neps = 1;

		GvHnswFindEntry(index, info, vec, &meta, top, &ep);
		eps = palloc(sizeof(GvHnswCandidate));
		eps[0] = ep;
		for (int l = top; l >= 0; l--)
		{
			GvHnswTidSetData visited;
			int64		count = 0;
			GvHnswCandidate *w;
			int			nw = 0;
			int			lm = GvHnswLevelSlots(m, l);

			GvHnswHeapInit(&cand, info->efConstruction * 4, false);
			GvHnswHeapInit(&result, info->efConstruction + 1, true);
			GvHnswTidSetInit(&visited, info->efConstruction * m * 2);
			for (int i = 0; i < neps; i++)
			{
				GvHnswTidSetAdd(&visited, &eps[i].tid);
				GvHnswHeapPush(&cand, &eps[i]);
				GvHnswHeapPush(&result, &eps[i]);
			}
			GvHnswSearchLayerDisk(index, info, vec, &cand, &result, NULL, &visited,
								  info->efConstruction, l, NULL, &count, PG_INT64_MAX);
			w = palloc(sizeof(GvHnswCandidate) * Max(result.count, 1));
			while (result.count > 0)
				w[nw++] = GvHnswHeapPop(&result);
			if (l == 0 && JoinDuplicate(index, info, vec, tup, w, nw, &newtid))
			{
				if (info->keys.nkeys > 0)
					GvHnswKeyDirAppend(index, info, &newtid, heaptid, row->keyNulls,
									   data, vec);
				UnlockPage(index, HNSW_UPDATE_LOCK, lockmode);
				return;
			}
			chosen[l] = palloc(sizeof(GvHnswCandidate) * lm);
			nchosen[l] = GvHnswSelectNeighbors(index, info, w, nw, lm, NULL, chosen[l]);
			for (int i = 0; i < nchosen[l]; i++)
			{
				GvHnswTupleDists(tup, info->dataBytes)[GvHnswLevelStart(m, l) + i] =
					GvPackDistance(chosen[l][i].dist);
				GvHnswTupleNbrs(tup, info->dataBytes, m)[GvHnswLevelStart(m, l) + i] = chosen[l][i].tid;
			}
			/* w is sorted nearest first: the entry points of the next level */
			pfree(eps);
			eps = w;
			neps = nw;
			pfree(cand.items);
			pfree(result.items);
			GvHnswTidSetFree(&visited);
		}
		pfree(eps);
	}

	if (!PlaceInFreeSlot(index, info, tup, &newtid))
		AppendElement(index, tup, size, &newtid);
	if (info->keys.nkeys > 0)
		GvHnswKeyDirAppend(index, info, &newtid, heaptid, row->keyNulls, data, vec);

	/* Back-links, one page at a time. */
	for (int l = top; l >= 0; l--)
		for (int i = 0; i < nchosen[l]; i++)
			GvHnswAddBackLink(index, info, &chosen[l][i].tid, l, &newtid, chosen[l][i].dist);

	/* A higher level than the entry point's (or the first element). */
	if (!ItemPointerIsValid(&meta.entry) || level > meta.entryLevel)
	{
		Buffer		metabuf = ReadBuffer(index, GV_METAPAGE_BLKNO);
		GenericXLogState *state;
		Page		page;

		LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, metabuf, 0);
		GvHnswPageGetMeta(page)->entry = newtid;
		GvHnswPageGetMeta(page)->entryLevel = level;
		GenericXLogFinish(state);
		UnlockReleaseBuffer(metabuf);
	}
	UnlockPage(index, HNSW_UPDATE_LOCK, lockmode);
}

/* One row with a vector; zero vectors under cosine are not indexed. */
static void
IndexRow(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
		 Relation heap)
{
	GvHnswInfo	info = GvHnswGetInfo(index);
	GvHnswRowData row;

	if (GvHnswPrepareRow(index, info, values, isnull, &row))
	{
		/* an INSERT passes its in-memory value; the stored row may be TOASTed */
		if (!OidIsValid(row.toastid))
			row.toastid = GvHeapToastId(heap, index, heap_tid);
		GvHnswInsertVector(index, info, &row, heap_tid);
	}
}

/*
 * aminsert: index one row.  NULLs, and zero vectors under cosine, are not
 * indexed.
 */
bool
gvhnswinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation heap,
			 IndexUniqueCheck checkUnique pg_attribute_unused(),
			 bool indexUnchanged pg_attribute_unused(), IndexInfo *indexInfo pg_attribute_unused())
{
	return GvAmInsert(index, values, isnull, heap_tid, heap, "gv_hnsw insert",
					  IndexRow);
}
