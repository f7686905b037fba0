/*
 * hnswkeydir.c
 *	  The key directory of a gv_hnsw index with filter columns: one small
 *	  entry per element (element TID, heap TID, filter column codes) in a
 *	  chain of pages of their own.
 *
 * A filter that few rows match is the graph's worst case: most elements it
 * reaches fail the filter, so it walks through many of them for each one it
 * may return.  The directory lets a scan instead list every element the
 * filter matches by reading a few dense pages (about 290 entries a page
 * with one filter column), then read just those elements and rank them
 * exactly (hnswscan.c decides which way is cheaper).
 *
 * Entries are appended at the end of the chain: by the build, after the
 * element pages, and by every insert, after its element is in place.  An
 * insert's element and entry are two WAL records; a crash between them
 * loses the entry of a row whose transaction cannot have committed (its
 * commit record would come after both).  VACUUM drops the entries of dead
 * heap rows in the same bulkdelete that turns their elements into
 * tombstones, before their slots can be reused.  A scan still checks each
 * element it reads (live, keys equal), and ignores a second entry for the
 * same element, so an entry left over by an interrupted VACUUM costs a
 * page read, never a wrong row.
 *
 * Lock order: chain page, new page, metapage (GvChainAppend); starting the
 * chain: metapage, new page.  Nothing else holds a directory page while
 * taking another lock.
 */
#include "compat.h"

#include "commands/vacuum.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"

/* ---------------------------------------------------------------------------
 * Build: pages written without WAL after the element pages
 * ---------------------------------------------------------------------------
 */

void
GvHnswKeyDirWriteBegin(GvHnswKeyDirWriter w, Relation index, GvHnswInfo info)
{
	w->index = index;
	w->info = info;
	w->page = palloc(BLCKSZ);
	GvInitPage(w->page, GV_PAGE_ID_HNSW, HNSW_PAGE_KEYS);
	w->head = w->tail = InvalidBlockNumber;
	w->entry = palloc0(GvHnswKeyEntrySize(info));
}

/* Write the page being filled as the next block, chained after the last. */
static void
FlushKeyPage(GvHnswKeyDirWriter w)
{
	Buffer		buf = GvNewBuffer(w->index, MAIN_FORKNUM);
	BlockNumber blkno = BufferGetBlockNumber(buf);

	memcpy(BufferGetPage(buf), w->page, BLCKSZ);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
	if (w->tail != InvalidBlockNumber)
	{
		buf = ReadBuffer(w->index, w->tail);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		GvPageGetOpaque(BufferGetPage(buf))->nextblkno = blkno;
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}
	else
		w->head = blkno;
	w->tail = blkno;
	GvInitPage(w->page, GV_PAGE_ID_HNSW, HNSW_PAGE_KEYS);
}

static void
FillEntry(GvHnswKeyEntry entry, GvHnswInfo info, ItemPointer element,
		  ItemPointer heaptid, uint8 keyNulls, const char *keys)
{
	entry->element = *element;
	entry->heaptid = *heaptid;
	entry->keyNulls = keyNulls;
	memcpy(entry->keys, keys, info->keyBytes);
}

void
GvHnswKeyDirWriteAdd(GvHnswKeyDirWriter w, ItemPointer element, ItemPointer heaptid,
					 uint8 keyNulls, const char *keys)
{
	Size		size = GvHnswKeyEntrySize(w->info);

	FillEntry(w->entry, w->info, element, heaptid, keyNulls, keys);
	if (PageGetFreeSpace(w->page) < MAXALIGN(size))
		FlushKeyPage(w);
	if (PageAddItem(w->page, (Item) w->entry, size, InvalidOffsetNumber,
					false, false) == InvalidOffsetNumber)
		elog(ERROR, "failed to add key directory entry to \"%s\"",
			 RelationGetRelationName(w->index));
}

/* Write the last page and record the chain in the metapage. */
void
GvHnswKeyDirWriteEnd(GvHnswKeyDirWriter w)
{
	Buffer		metabuf;
	GvHnswMetaPage meta;

	if (PageGetMaxOffsetNumber(w->page) > 0)
		FlushKeyPage(w);
	metabuf = ReadBuffer(w->index, GV_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	meta = GvHnswPageGetMeta(BufferGetPage(metabuf));
	meta->keyDirHead = w->head;
	meta->keyDirTail = w->tail;
	MarkBufferDirty(metabuf);
	UnlockReleaseBuffer(metabuf);
	pfree(w->page);
	pfree(w->entry);
}

/* ---------------------------------------------------------------------------
 * Inserts
 * ---------------------------------------------------------------------------
 */

static void
SetKeyDirTail(Page metapage, BlockNumber newTail, void *arg)
{
	GvHnswPageGetMeta(metapage)->keyDirTail = newTail;
}

/*
 * Start the chain with a page holding entry.  Returns false if someone
 * else started it meanwhile (then append as usual).
 */
static bool
StartChain(Relation index, GvHnswKeyEntry entry, Size size)
{
	Buffer		metabuf = ReadBuffer(index, GV_METAPAGE_BLKNO);
	GvHnswMetaPage meta;
	bool		started = false;

	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	meta = GvHnswPageGetMeta(BufferGetPage(metabuf));
	if (meta->keyDirHead == InvalidBlockNumber)
	{
		GenericXLogState *state = GenericXLogStart(index);
		Buffer		buf = GvNewBuffer(index, MAIN_FORKNUM);
		Page		page = GvXLogRegisterNew(state, buf, GV_PAGE_ID_HNSW, HNSW_PAGE_KEYS);

		meta = GvHnswPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
		if (PageAddItem(page, (Item) entry, size, InvalidOffsetNumber,
						false, false) == InvalidOffsetNumber)
			elog(ERROR, "failed to add key directory entry to \"%s\"",
				 RelationGetRelationName(index));
		meta->keyDirHead = meta->keyDirTail = BufferGetBlockNumber(buf);
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
		started = true;
	}
	UnlockReleaseBuffer(metabuf);
	return started;
}

/*
 * Add the entry of a newly placed element.  Indexes built before the
 * directory existed (keyDirHead 0) have none, and get none.
 */
void
GvHnswKeyDirAppend(Relation index, GvHnswInfo info, ItemPointer element,
				   ItemPointer heaptid, uint8 keyNulls, const char *keys)
{
	Size		size = GvHnswKeyEntrySize(info);
	GvHnswKeyEntry entry = palloc0(size);
	GvHnswMetaPageData meta;

	FillEntry(entry, info, element, heaptid, keyNulls, keys);
	GvHnswReadMeta(index, &meta);
	if (meta.keyDirHead == InvalidBlockNumber)
	{
		if (StartChain(index, entry, size))
			return;
		GvHnswReadMeta(index, &meta);
	}
	if (meta.keyDirHead != GV_METAPAGE_BLKNO)
		GvChainAppend(index, meta.keyDirTail, GV_PAGE_ID_HNSW, HNSW_PAGE_KEYS,
					  (Item) entry, size, GV_METAPAGE_BLKNO, SetKeyDirTail, NULL);
}

/* ---------------------------------------------------------------------------
 * Scans
 * ---------------------------------------------------------------------------
 */

static int
CompareTids(const void *a, const void *b)
{
	return ItemPointerCompare((ItemPointer) a, (ItemPointer) b);
}

/*
 * The elements whose entries pass filter, sorted by TID (so that a caller
 * reads each element page once) and without duplicates.  Gives up, and
 * returns false, as soon as more than limit entries match.
 */
bool
GvHnswKeyDirCollect(Relation index, GvHnswInfo info, BlockNumber head,
					GvHnswKeyFilter filter, int limit, ItemPointer *tids, int *ntids)
{
	int			cap = 1024;
	int			n = 0;
	ItemPointer out = palloc(sizeof(ItemPointerData) * cap);

	for (BlockNumber blkno = head; blkno != InvalidBlockNumber;)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		OffsetNumber maxoff;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		GvCheckPage(index, page, blkno, GV_PAGE_ID_HNSW);
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			GvHnswKeyEntry e = (GvHnswKeyEntry) PageGetItem(page, PageGetItemId(page, off));

			if (!GvHnswKeyCodesMatch(e->keys, e->keyNulls, filter))
				continue;
			if (n == limit)
			{
				UnlockReleaseBuffer(buf);
				pfree(out);
				return false;
			}
			if (n == cap)
			{
				cap *= 2;
				out = repalloc_huge(out, sizeof(ItemPointerData) * cap);
			}
			out[n++] = e->element;
		}
		blkno = GvPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
	}
	if (n > 1)
	{
		int			u = 1;

		qsort(out, n, sizeof(ItemPointerData), CompareTids);
		for (int i = 1; i < n; i++)
			if (!ItemPointerEquals(&out[i], &out[u - 1]))
				out[u++] = out[i];
		n = u;
	}
	*tids = out;
	*ntids = n;
	return true;
}

/* ---------------------------------------------------------------------------
 * VACUUM
 * ---------------------------------------------------------------------------
 */

/* Drop the entries whose heap rows are dead. */
void
GvHnswKeyDirVacuum(IndexVacuumInfo *vinfo, BlockNumber head,
				   IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = vinfo->index;
	OffsetNumber dead[MaxOffsetNumber];

	for (BlockNumber blkno = head; blkno != InvalidBlockNumber;)
	{
		Buffer		buf;
		Page		page;
		int			ndead = 0;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, vinfo->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		GvCheckPage(index, page, blkno, GV_PAGE_ID_HNSW);
		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			GvHnswKeyEntry e = (GvHnswKeyEntry) PageGetItem(page, PageGetItemId(page, off));

			if (callback(&e->heaptid, callback_state))
				dead[ndead++] = off;
		}
		if (ndead > 0)
		{
			GenericXLogState *state = GenericXLogStart(index);

			page = GenericXLogRegisterBuffer(state, buf, 0);
			PageIndexMultiDelete(page, dead, ndead);
			GenericXLogFinish(state);
		}
		blkno = GvPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
	}
}
