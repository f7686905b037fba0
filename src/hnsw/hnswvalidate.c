/*
 * hnswvalidate.c
 *	  Checking gv_hnsw: its operator classes (amvalidate) and, for tests and
 *	  for users who suspect corruption, the structure of an index's graph
 *	  (gigavector.hnsw_verify).
 */
#include "compat.h"

#include "access/amvalidate.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

/*
 * amvalidate: see GvValidateOpclass (vector and filter operator classes).
 */
bool
gvhnswvalidate(Oid opclassoid)
{
	return GvValidateOpclass(opclassoid, "gv_hnsw");
}

static void
Corrupt(Relation index, const char *what, BlockNumber blkno, OffsetNumber off)
{
	ereport(ERROR,
			(errcode(ERRCODE_INDEX_CORRUPTED),
			 errmsg("index \"%s\" is corrupt: %s at (%u,%u)",
					RelationGetRelationName(index), what, blkno, off),
			 errhint("Rebuild the index with REINDEX.")));
}

/*
 * Copy the tuple at tid into tup: true if it holds heap TIDs (a live graph
 * element or an overflow tuple).
 */
static bool
CopyHolder(Relation index, GvHnswInfo info, ItemPointer tid, GvHnswElementTuple tup)
{
	return GvHnswGetElementCopy(index, info, tid, tup) ||
		(tup->flags & (HNSW_ELEMENT_OVERFLOW | HNSW_ELEMENT_DELETED)) == HNSW_ELEMENT_OVERFLOW;
}

static bool
ElementHoldsHeapTid(GvHnswInfo info, GvHnswElementTuple tup, ItemPointer heaptid)
{
	for (int i = 0; i < tup->ntids; i++)
		if (ItemPointerEquals(GvHnswElementHeapTid(tup, info->dataBytes, i), heaptid))
			return true;
	return false;
}

/*
 * Live elements the key directory does not list: allowed only for rows no
 * one can see -- an insert that a crash cut short wrote its element but not
 * its entry, and its transaction never committed (VACUUM tombstones such
 * elements).  An unlisted element of a visible row is corruption: filtered
 * scans would miss the row.
 */
static void
CheckUnlisted(Relation index, GvHnswInfo info, OffsetNumber *maxoffs,
			  GvHnswTidSet listed, GvHnswElementTuple tup)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	Relation	heap = table_open(index->rd_index->indrelid, AccessShareLock);
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	struct IndexFetchTableData *fetch = table_index_fetch_begin(heap);
	TupleTableSlot *slot = table_slot_create(heap, NULL);

	for (BlockNumber blkno = GV_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoffs[blkno]; off++)
		{
			ItemPointerData tid;
			bool		callAgain = false;
			bool		allDead = false;

			CHECK_FOR_INTERRUPTS();
			ItemPointerSet(&tid, blkno, off);
			if (GvHnswTidSetContains(listed, &tid) ||
				!CopyHolder(index, info, &tid, tup) || tup->ntids == 0)
				continue;
			for (int i = 0; i < tup->ntids; i++)
			{
				if (table_index_fetch_tuple(fetch, GvHnswElementHeapTid(tup, info->dataBytes, i),
											snapshot,
											slot, &callAgain, &allDead))
					Corrupt(index, "the key directory does not list the element of a visible row",
							blkno, off);
				ExecClearTuple(slot);
			}
		}
	ExecDropSingleTupleTableSlot(slot);
	table_index_fetch_end(fetch);
	UnregisterSnapshot(snapshot);
	table_close(heap, AccessShareLock);
}

/*
 * The key directory: a chain of key pages from the metapage's head to its
 * tail, entries of the right size naming elements, and every live element
 * listed by an entry that agrees with it (heap TID, key codes); live
 * counts the graph's elements and overflow tuples.
 */
static void
VerifyKeyDirectory(Relation index, GvHnswInfo info, GvHnswMetaPageData *meta,
				   OffsetNumber *maxoffs, int64 live)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	BlockNumber last = InvalidBlockNumber;
	BlockNumber npages = 0;
	GvHnswTidSetData listed;
	GvHnswElementTuple tup = palloc(GvHnswTupleSize(info->dataBytes, info->m, info->maxLevel));

	GvHnswTidSetInit(&listed, live + 1);
	for (BlockNumber blkno = meta->keyDirHead; blkno != InvalidBlockNumber;)
	{
		Buffer		buf;
		Page		page;

		CHECK_FOR_INTERRUPTS();
		if (blkno <= GV_METAPAGE_BLKNO || blkno >= nblocks || ++npages > nblocks)
			Corrupt(index, "key directory chain leaves the index or loops", blkno, 0);
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		GvCheckPage(index, page, blkno, GV_PAGE_ID_HNSW);
		if (!(GvPageGetOpaque(page)->flags & HNSW_PAGE_KEYS))
			Corrupt(index, "key directory chain reaches a page that is not a key page", blkno, 0);
		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			ItemId		iid = PageGetItemId(page, off);
			GvHnswKeyEntry e = (GvHnswKeyEntry) PageGetItem(page, iid);
			BlockNumber eb = ItemPointerGetBlockNumber(&e->element);

			if (ItemIdGetLength(iid) != GvHnswKeyEntrySize(info))
				Corrupt(index, "key directory entry of the wrong size", blkno, off);
			if (eb <= GV_METAPAGE_BLKNO || eb >= nblocks ||
				ItemPointerGetOffsetNumber(&e->element) > maxoffs[eb])
				Corrupt(index, "key directory entry names no element", blkno, off);
			if (CopyHolder(index, info, &e->element, tup) &&
				ElementHoldsHeapTid(info, tup, &e->heaptid) &&
				tup->keyNulls == e->keyNulls &&
				memcmp(tup->data, e->keys, info->keys.keyBytes) == 0)
				GvHnswTidSetAdd(&listed, &e->element);
		}
		last = blkno;
		blkno = GvPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
	}
	if (last != meta->keyDirTail)
		Corrupt(index, "key directory's last page is not the metapage's tail", last, 0);
	if (listed.count != live)	/* (an empty holder is listed by none) */
		CheckUnlisted(index, info, maxoffs, &listed, tup);
	GvHnswTidSetFree(&listed);
	pfree(tup);
}

/*
 * The overflow chain of the live element at tid: overflow tuples that
 * store the element's bytes, each on one chain once.  Returns how many,
 * each added to reached.
 */
static int64
VerifyOverflowChain(Relation index, GvHnswInfo info, ItemPointer tid, BlockNumber nblocks,
					OffsetNumber *maxoffs, GvHnswTidSet reached)
{
	GvHnswElementTuple head = palloc(GvHnswTupleSize(info->dataBytes, info->m, info->maxLevel));
	GvHnswElementTuple tup = palloc(GvHnswTupleSize(info->dataBytes, info->m, info->maxLevel));
	ItemPointerData next;
	int64		n = 0;

	GvHnswGetElementCopy(index, info, tid, head);
	for (next = head->overflow; ItemPointerIsValid(&next); next = tup->overflow)
	{
		BlockNumber nb = ItemPointerGetBlockNumber(&next);

		CHECK_FOR_INTERRUPTS();
		if (nb <= GV_METAPAGE_BLKNO || nb >= nblocks ||
			ItemPointerGetOffsetNumber(&next) > maxoffs[nb])
			Corrupt(index, "overflow pointer to no element", ItemPointerGetBlockNumber(tid),
					ItemPointerGetOffsetNumber(tid));
		if (!GvHnswTidSetAdd(reached, &next))
			Corrupt(index, "overflow tuple on two chains, or a chain that loops",
					nb, ItemPointerGetOffsetNumber(&next));
		GvHnswGetElementCopy(index, info, &next, tup);
		if ((tup->flags & (HNSW_ELEMENT_OVERFLOW | HNSW_ELEMENT_DELETED)) != HNSW_ELEMENT_OVERFLOW ||
			tup->keyNulls != head->keyNulls ||
			memcmp(tup->data, head->data, info->dataBytes) != 0)
			Corrupt(index, "overflow pointer to a tuple that is not one of the element's",
					nb, ItemPointerGetOffsetNumber(&next));
		n++;
	}
	pfree(head);
	pfree(tup);
	return n;
}

/* What hnsw_verify has learnt so far, and what its passes share. */
typedef struct HnswVerifyState
{
	Relation	index;
	GvHnswInfo	info;
	GvHnswMetaPageData meta;
	BlockNumber nblocks;
	OffsetNumber *maxoffs;		/* tuples on each page (0: no element page) */
	Size		maxsize;		/* of an element tuple */
	GvHnswElementTuple tup;		/* room for one, maxsize */
	int64		live;
	int64		heapTids;
	int64		overflows;
	int64		tombstones;
	int64		links;
	int64		deadLinks;
	int64		unreachable;
} HnswVerifyState;

/* Check one tuple of an element page (element, overflow tuple, tombstone) and count it. */
static void
VerifyElement(HnswVerifyState *vs, Page page, BlockNumber blkno, OffsetNumber off)
{
	Relation	index = vs->index;
	GvHnswInfo	info = vs->info;
	ItemId		iid = PageGetItemId(page, off);
	GvHnswElementTuple e;

	if (!ItemIdIsNormal(iid))
		Corrupt(index, "unused line pointer", blkno, off);
	e = (GvHnswElementTuple) PageGetItem(page, iid);
	if ((e->flags & (HNSW_ELEMENT_OVERFLOW | HNSW_ELEMENT_DELETED)) == HNSW_ELEMENT_OVERFLOW)
	{
		if (e->spares < 1 || e->spares > info->maxTids ||
			ItemIdGetLength(iid) != GvHnswOverflowSize(info->dataBytes, e->spares))
			Corrupt(index, "overflow tuple of the wrong size", blkno, off);
		if (e->level != 0 || e->capLevel != 0 || e->ntids > e->spares)
			Corrupt(index, "overflow tuple of a level above 0, or with too many heap pointers",
					blkno, off);
		for (int i = 0; i < e->ntids; i++)
			if (!ItemPointerIsValid(GvHnswElementHeapTid(e, info->dataBytes, i)))
				Corrupt(index, "overflow tuple with an invalid heap pointer", blkno, off);
		vs->overflows++;
		vs->heapTids += e->ntids;
		return;
	}
	if (ItemIdGetLength(iid) != GvHnswTupleSize(info->dataBytes, info->m, e->capLevel))
		Corrupt(index, "element tuple of the wrong size", blkno, off);
	if (e->level > e->capLevel || e->capLevel > info->maxLevel)
		Corrupt(index, "element level beyond its capacity", blkno, off);
	if (e->spares > 2 * info->m)
		Corrupt(index, "more spare links than level-0 slots", blkno, off);
	if ((e->flags & HNSW_ELEMENT_FREE) && !(e->flags & HNSW_ELEMENT_DELETED))
		Corrupt(index, "free slot that is not a tombstone", blkno, off);
	if (e->flags & HNSW_ELEMENT_DELETED)
	{
		if (ItemPointerIsValid(&e->heaptid) || e->ntids != 0)
			Corrupt(index, "tombstone with a heap pointer", blkno, off);
		vs->tombstones++;
	}
	else
	{
		if (e->ntids > 1 || (e->ntids == 0 && !ItemPointerIsValid(&e->overflow)))
			Corrupt(index, "live element without a heap pointer, or with too many", blkno, off);
		if (e->ntids == 1 && !ItemPointerIsValid(&e->heaptid))
			Corrupt(index, "live element without a heap pointer", blkno, off);
		vs->heapTids += e->ntids;
		if (!ItemPointerIsValid(&vs->meta.entry) || e->level > vs->meta.entryLevel)
			Corrupt(index, "live element above the entry point's level", blkno, off);
		vs->live++;
	}
}

/* Pass 1: every page's id, and every tuple of the element pages. */
static void
VerifyPages(HnswVerifyState *vs)
{
	Relation	index = vs->index;

	for (BlockNumber blkno = GV_METAPAGE_BLKNO + 1; blkno < vs->nblocks; blkno++)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);

		/*
		 * An all-zero page is what a crash leaves when it came between
		 * extending the file and logging the new page: nothing links to it,
		 * and VACUUM hands it to the free space map.
		 */
		if (PageIsNew(page))
		{
			UnlockReleaseBuffer(buf);
			continue;
		}
		GvCheckPage(index, page, blkno, GV_PAGE_ID_HNSW);
		if (GvPageGetOpaque(page)->flags & (HNSW_PAGE_KEYS | HNSW_PAGE_PROJ))
		{
			UnlockReleaseBuffer(buf);
			continue;			/* checked with the key directory below */
		}
		if (!(GvPageGetOpaque(page)->flags & HNSW_PAGE_ELEMENT))
			Corrupt(index, "page is not an element page", blkno, 0);
		vs->maxoffs[blkno] = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= vs->maxoffs[blkno]; off++)
			VerifyElement(vs, page, blkno, off);
		UnlockReleaseBuffer(buf);
	}
}

/* Check the neighbour list of the tuple at (blkno, off) and count its links. */
static void
VerifyElementLinks(HnswVerifyState *vs, BlockNumber blkno, OffsetNumber off)
{
	Relation	index = vs->index;
	GvHnswInfo	info = vs->info;
	ItemPointerData tid;
	ItemPointer nbrs;

	ItemPointerSet(&tid, blkno, off);
	GvHnswGetElementCopy(index, info, &tid, vs->tup);
	if (vs->tup->flags & HNSW_ELEMENT_OVERFLOW)
		return;					/* heap TIDs, no links */
	nbrs = GvHnswTupleNbrs(vs->tup, info->dataBytes, info->m);
	for (int l = 0; l <= vs->tup->level; l++)
	{
		int			start = GvHnswLevelStart(info->m, l);
		int			n = GvHnswLevelSlots(info->m, l);

		for (int i = 0; i < n; i++)
		{
			ItemPointer t = &nbrs[start + i];
			BlockNumber tb;
			OffsetNumber to;

			if (!ItemPointerIsValid(t))
				continue;
			tb = ItemPointerGetBlockNumber(t);
			to = ItemPointerGetOffsetNumber(t);
			if (tb <= GV_METAPAGE_BLKNO || tb >= vs->nblocks ||
				to < FirstOffsetNumber || to > vs->maxoffs[tb])
				Corrupt(index, "neighbour pointer to no element", blkno, off);
			if (ItemPointerEquals(t, &tid))
				Corrupt(index, "element links to itself", blkno, off);
			for (int j = 0; j < i; j++)
				if (ItemPointerEquals(t, &nbrs[start + j]))
					Corrupt(index, "neighbour listed twice", blkno, off);
			vs->links++;
		}
	}
}

/* Pass 2: every neighbour pointer. */
static void
VerifyLinks(HnswVerifyState *vs)
{
	for (BlockNumber blkno = GV_METAPAGE_BLKNO + 1; blkno < vs->nblocks; blkno++)
	{
		for (OffsetNumber off = FirstOffsetNumber; off <= vs->maxoffs[blkno]; off++)
		{
			CHECK_FOR_INTERRUPTS();
			VerifyElementLinks(vs, blkno, off);
		}
	}
}

/* Pass 3a: the entry point names an element that may route searches, at its level. */
static void
VerifyEntryPoint(HnswVerifyState *vs)
{
	Relation	index = vs->index;
	ItemPointer entry = &vs->meta.entry;

	if (ItemPointerGetBlockNumber(entry) >= vs->nblocks ||
		ItemPointerGetOffsetNumber(entry) > vs->maxoffs[ItemPointerGetBlockNumber(entry)])
		Corrupt(index, "entry point names no element", 0, 0);

	/*
	 * A tombstone that is not free yet may be the entry point: VACUUM marks
	 * dead elements before it moves the entry point off one, and a crash or
	 * cancel in between leaves it so until the next VACUUM.  It still routes
	 * (searches and inserts descend through it).  A free one may be reused
	 * for another row at any level: corruption.
	 */
	if (!GvHnswGetElementCopy(index, vs->info, entry, vs->tup) &&
		(vs->tup->flags & HNSW_ELEMENT_FREE))
		Corrupt(index, "entry point is a free slot", 0, 0);
	if (vs->tup->level != vs->meta.entryLevel)
		Corrupt(index, "entry point's level differs from the metapage's", 0, 0);
}

/*
 * Pass 3b: a breadth-first walk of level 0 from the entry point, checking
 * each live element's overflow chain; counts the live elements and
 * overflow tuples it misses.
 */
static void
CountUnreachable(HnswVerifyState *vs)
{
	Relation	index = vs->index;
	GvHnswInfo	info = vs->info;
	GvHnswTidSetData reached;
	ItemPointerData *queue;
	int64		head = 0,
				tail = 0;

	queue = palloc(sizeof(ItemPointerData) * (vs->live + vs->tombstones + 1));
	GvHnswTidSetInit(&reached, vs->live + vs->overflows + vs->tombstones + 1);
	GvHnswTidSetAdd(&reached, &vs->meta.entry);
	queue[tail++] = vs->meta.entry;
	while (head < tail)
	{
		ItemPointerData cur = queue[head++];
		ItemPointer nbrs;
		bool		isLive;

		CHECK_FOR_INTERRUPTS();
		isLive = GvHnswGetElementCopy(index, info, &cur, vs->tup);
		if (isLive)
		{
			vs->unreachable--;
			vs->unreachable -= VerifyOverflowChain(index, info, &cur, vs->nblocks,
												   vs->maxoffs, &reached);
			GvHnswGetElementCopy(index, info, &cur, vs->tup);
		}
		nbrs = GvHnswTupleNbrs(vs->tup, info->dataBytes, info->m);
		for (int i = 0; i < 2 * info->m; i++)
			if (ItemPointerIsValid(&nbrs[i]) && GvHnswTidSetAdd(&reached, &nbrs[i]))
				queue[tail++] = nbrs[i];
	}
	vs->unreachable += vs->live + vs->overflows;
}

/* Pass 4: count the links from live elements to tombstones. */
static void
CountDeadLinks(HnswVerifyState *vs)
{
	GvHnswInfo	info = vs->info;

	for (BlockNumber blkno = GV_METAPAGE_BLKNO + 1; blkno < vs->nblocks; blkno++)
		for (OffsetNumber off = FirstOffsetNumber; off <= vs->maxoffs[blkno]; off++)
		{
			ItemPointerData tid;
			ItemPointer nbrs;
			GvHnswElementTuple other = palloc(vs->maxsize);

			ItemPointerSet(&tid, blkno, off);
			if (!GvHnswGetElementCopy(vs->index, info, &tid, vs->tup))
				continue;
			nbrs = GvHnswTupleNbrs(vs->tup, info->dataBytes, info->m);
			for (int i = 0; i < GvHnswSlots(info->m, vs->tup->level); i++)
				if (ItemPointerIsValid(&nbrs[i]) &&
					!GvHnswGetElementCopy(vs->index, info, &nbrs[i], other))
					vs->deadLinks++;
			pfree(other);
		}
}

/*
 * gigavector.hnsw_verify(index regclass): check the graph's structural
 * invariants and raise an error at the first violation:
 *	 - the metapage's magic, version, and every page's page id;
 *	 - every element's level within its tuple's capacity and the index's
 *	   limit, no live element above the entry point's level, and every
 *	   free slot a tombstone;
 *	 - every neighbour pointer names an element tuple of the index, no
 *	   element links to itself, no list names an element twice;
 *	 - the entry point is an element of the recorded level that is live or
 *	   a tombstone not yet free (or the index has no live element and no
 *	   entry point).
 * Returns counts: live elements, tombstones, links, links to tombstones,
 * and live elements not reachable from the entry point at level 0 (a
 * quality measure, not an error: vacuum repairs most of them).
 */
PG_FUNCTION_INFO_V1(gv_hnsw_verify);
Datum
gv_hnsw_verify(PG_FUNCTION_ARGS)
{
	HnswVerifyState vs = {0};
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {0};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	vs.index = GvOpenIndexToCheck(PG_GETARG_OID(0), "gv_hnsw");
	vs.info = GvHnswGetInfo(vs.index);
	GvHnswReadMeta(vs.index, &vs.meta);
	vs.maxsize = GvHnswTupleSize(vs.info->dataBytes, vs.info->m, vs.info->maxLevel);
	vs.tup = palloc(vs.maxsize);
	vs.nblocks = RelationGetNumberOfBlocks(vs.index);
	vs.maxoffs = palloc0(sizeof(OffsetNumber) * Max(vs.nblocks, 1));

	VerifyPages(&vs);
	VerifyLinks(&vs);
	if (ItemPointerIsValid(&vs.meta.entry))
	{
		VerifyEntryPoint(&vs);
		CountUnreachable(&vs);
	}
	else if (vs.live > 0)
		Corrupt(vs.index, "live elements but no entry point", 0, 0);
	if (vs.tombstones > 0)
		CountDeadLinks(&vs);
	if (vs.info->keys.nkeys > 0 && vs.meta.keyDirHead != GV_METAPAGE_BLKNO)
		VerifyKeyDirectory(vs.index, vs.info, &vs.meta, vs.maxoffs, vs.live + vs.overflows);

	index_close(vs.index, AccessShareLock);

	values[0] = Int64GetDatum(vs.live);
	values[1] = Int64GetDatum(vs.tombstones);
	values[2] = Int64GetDatum(vs.links);
	values[3] = Int64GetDatum(vs.deadLinks);
	values[4] = Int64GetDatum(vs.unreachable);
	values[5] = Int64GetDatum(vs.heapTids);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
