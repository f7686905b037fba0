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
 * Sketches: when the build can train one (float32 storage, an L2 or cosine
 * operator class, enough rows), every entry also holds its vector's sketch
 * (projection.h: 16 principal coordinates and a residual norm), and the
 * projection (mean and directions) is kept in pages of its own.  A scan then
 * knows a lower bound on each listed element's distance and reads elements
 * in the order of their bounds, stopping as soon as no unread one can be
 * nearer than what it returns next.
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
#include "utils/memutils.h"

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
		  ItemPointer heaptid, uint8 keyNulls, const char *keys, const float *vec)
{
	entry->element = *element;
	entry->heaptid = *heaptid;
	entry->keyNulls = keyNulls;
	memcpy(entry->keys, keys, info->keys.keyBytes);
	if (info->projDims > 0)
	{
		float		sketch[GV_PROJ_SKETCH];

		GvProjSketch(info->projMean, info->projDirs, info->dim, vec, sketch);
		memcpy(GvHnswKeyEntrySketch(info, entry), sketch, sizeof(sketch));
	}
}

void
GvHnswKeyDirWriteAdd(GvHnswKeyDirWriter w, ItemPointer element, ItemPointer heaptid,
					 uint8 keyNulls, const char *keys, const float *vec)
{
	Size		size = GvHnswKeyEntrySize(w->info);

	FillEntry(w->entry, w->info, element, heaptid, keyNulls, keys, vec);
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
SetKeyDirTail(Page metapage, BlockNumber newTail, void *arg pg_attribute_unused())
{
	GvHnswPageGetMeta(metapage)->keyDirTail = newTail;
}

/* Whether the chain has a page (GvChainStart) */
static bool
KeyDirStarted(Page metapage, void *arg pg_attribute_unused())
{
	return GvHnswPageGetMeta(metapage)->keyDirHead != InvalidBlockNumber;
}

static void
SetKeyDirHead(Page metapage, BlockNumber head, void *arg pg_attribute_unused())
{
	GvHnswPageGetMeta(metapage)->keyDirHead = head;
	GvHnswPageGetMeta(metapage)->keyDirTail = head;
}

/*
 * Add the entry of a newly placed element.  Indexes built before the
 * directory existed (keyDirHead 0) have none, and get none.
 */
void
GvHnswKeyDirAppend(Relation index, GvHnswInfo info, ItemPointer element,
				   ItemPointer heaptid, uint8 keyNulls, const char *keys,
				   const float *vec)
{
	Size		size = GvHnswKeyEntrySize(info);
	GvHnswKeyEntry entry = palloc0(size);
	GvHnswMetaPageData meta;

	GvHnswProjectionLoad(index, info);
	FillEntry(entry, info, element, heaptid, keyNulls, keys, vec);
	GvHnswReadMeta(index, &meta);
	if (meta.keyDirHead == InvalidBlockNumber)
	{
		if (GvChainStart(index, GV_METAPAGE_BLKNO, GV_PAGE_ID_HNSW, HNSW_PAGE_KEYS,
						 (Item) entry, size, false, KeyDirStarted, SetKeyDirHead, NULL))
			return;
		GvHnswReadMeta(index, &meta);
	}
	if (meta.keyDirHead != GV_METAPAGE_BLKNO)
		GvChainAppend(index, meta.keyDirTail, GV_PAGE_ID_HNSW, HNSW_PAGE_KEYS,
					  (Item) entry, size, false, GV_METAPAGE_BLKNO, SetKeyDirTail, NULL);
}

/* ---------------------------------------------------------------------------
 * Scans
 * ---------------------------------------------------------------------------
 */

static int
CompareListedTids(const void *a, const void *b)
{
	return ItemPointerCompare((ItemPointer) &((const GvHnswListed *) a)->tid,
							  (ItemPointer) &((const GvHnswListed *) b)->tid);
}

/*
 * The elements whose entries pass filter, sorted by TID (so that a caller
 * reads each element page once) and without duplicates; with qsketch (the
 * query's sketch, in an index with sketches) each with the lower bound on
 * its squared L2 distance to the query.  Gives up, and returns false, as
 * soon as more than limit entries match.
 */
bool
GvHnswKeyDirCollect(Relation index, GvHnswInfo info, BlockNumber head,
					GvKeyFilter filter, int limit, const float *qsketch,
					GvHnswListed **listed, int *nlisted)
{
	int			cap = 1024;
	int			n = 0;
	GvHnswListed *out = palloc(sizeof(GvHnswListed) * cap);
	GvHnswRecentBuffers recent = GvHnswGetRecentBuffers(index);
	bool		sorted = true;

	for (BlockNumber blkno = head; blkno != InvalidBlockNumber;)
	{
		Buffer		buf = GvHnswPinPage(index, recent, blkno);
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

			if (!GvKeyCodesMatch(e->keys, e->keyNulls, filter))
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
				out = repalloc_huge(out, sizeof(GvHnswListed) * cap);
			}
			out[n].tid = e->element;
			out[n].bound = 0;
			if (n > 0 && ItemPointerCompare(&out[n - 1].tid, &out[n].tid) >= 0)
				sorted = false;
			if (qsketch)
			{
				float		sketch[GV_PROJ_SKETCH];

				memcpy(sketch, GvHnswKeyEntrySketch(info, e), sizeof(sketch));
				out[n].bound = GvProjBound2(qsketch, sketch);
			}
			n++;
		}
		blkno = GvPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
	}
	/* the build lists elements in TID order; later appends may not be */
	if (!sorted)
	{
		int			u = 1;

		qsort(out, n, sizeof(GvHnswListed), CompareListedTids);
		for (int i = 1; i < n; i++)
			if (!ItemPointerEquals(&out[i].tid, &out[u - 1].tid))
				out[u++] = out[i];
		n = u;
	}
	*listed = out;
	*nlisted = n;
	return true;
}

/* ---------------------------------------------------------------------------
 * The projection behind the sketches
 * ---------------------------------------------------------------------------
 */

/* Does this index get sketches?  The bound is on L2, which cosine's
 * normalised vectors share; inner product, L1 and the bit metrics have no
 * such bound. */
static bool
WantsProjection(GvHnswInfo info, int n)
{
	return info->keys.nkeys > 0 && info->storage == HNSW_STORAGE_FLOAT &&
		(info->metric->kind == GV_METRIC_L2 || info->metric->kind == GV_METRIC_COSINE) &&
		n >= 4 * GV_PROJ_DIMS;
}

/*
 * Train the projection on sample (vectors in the index's space) and write
 * its pages after the relation's current end, as a build does (no WAL: the
 * build logs the whole relation at its end).  Leaves info with the
 * projection in memory, so that the build can sketch its entries.
 */
void
GvHnswProjectionTrain(Relation index, GvHnswInfo info, const float *const *sample, int n)
{
	Size		bytes = sizeof(float) * (Size) (GV_PROJ_DIMS + 1) * info->dim;
	float	   *floats;
	double	   *work;
	Buffer		metabuf;
	GvHnswMetaPage meta;

	info->projDims = 0;
	if (!WantsProjection(info, n))
		return;
	floats = palloc(bytes);
	work = palloc(sizeof(double) * 2 * GV_PROJ_DIMS * (Size) info->dim);
	GvProjTrain(sample, n, info->dim, UINT64CONST(0x67767072306a3031),
				floats, floats + info->dim, work);
	pfree(work);

	info->projStart = InvalidBlockNumber;
	for (Size done = 0; done < bytes;)
	{
		Buffer		buf = GvNewBuffer(index, MAIN_FORKNUM);
		Page		page = BufferGetPage(buf);
		Size		chunk = Min(bytes - done, GV_BLOB_PER_PAGE);

		GvInitPage(page, GV_PAGE_ID_HNSW, HNSW_PAGE_PROJ);
		GvBlobPutChunk(page, (char *) floats + done, chunk);
		if (info->projStart == InvalidBlockNumber)
			info->projStart = BufferGetBlockNumber(buf);
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
		done += chunk;
	}
	metabuf = ReadBuffer(index, GV_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	meta = GvHnswPageGetMeta(BufferGetPage(metabuf));
	meta->projDims = GV_PROJ_DIMS;
	meta->projStart = info->projStart;
	MarkBufferDirty(metabuf);
	UnlockReleaseBuffer(metabuf);

	info->projDims = GV_PROJ_DIMS;
	info->projMean = floats;
	info->projDirs = floats + info->dim;
}

/* Read the projection into the cached info, once (it never changes). */
void
GvHnswProjectionLoad(Relation index, GvHnswInfo info)
{
	Size		bytes = sizeof(float) * (Size) (GV_PROJ_DIMS + 1) * info->dim;
	float	   *floats;

	if (info->projDims == 0 || info->projMean != NULL)
		return;
	floats = MemoryContextAlloc(index->rd_indexcxt, bytes);
	GvBlobRead(index, info->projStart, GV_PAGE_ID_HNSW, HNSW_PAGE_PROJ, (char *) floats, bytes);
	info->projMean = floats;
	info->projDirs = floats + info->dim;
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
			GvPageDeleteItems(index, buf, dead, ndead);
		blkno = GvPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
	}
}
