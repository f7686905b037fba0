/*
 * bm25insert.c
 *	  INSERT for gv_bm25: one row's document entry and statistics, then a
 *	  posting per distinct term.  Every page change is a GenericXLog record
 *	  of at most four pages, each record leaving the index readable: new
 *	  blocks are written first and linked in by the record that changes the
 *	  term (see README, "WAL").
 *
 * Inserts and vacuum steps hold the index's writer lock (a heavyweight
 * exclusive lock on BM25_LOCK_BLKNO), so one writer changes the index at
 * a time and a search round (share) sees no half-done change.
 */
#include "compat.h"

#include "bm25.h"
#include "gvam.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"

/* What an insert keeps of the metapage while it works. */
typedef struct InsertState
{
	Relation	index;
	Bm25MetaPageData meta;
} InsertState;

static Page
RegisterMeta(GenericXLogState *state, Buffer *metabuf, Relation index)
{
	*metabuf = ReadBuffer(index, GV_METAPAGE_BLKNO);
	LockBuffer(*metabuf, BUFFER_LOCK_EXCLUSIVE);
	return GenericXLogRegisterBuffer(state, *metabuf, 0);
}

/*
 * Add an item to a page of a kind that new items go to (the posting tail,
 * the document tail), making a new page when it is full.  tailOf says
 * which metapage field names that page; docs chains the new page after
 * the old.  One WAL record; the metapage change (if any) and the caller's
 * metaChange run in it.  Returns where the item went.
 */
typedef void (*MetaChange) (Bm25MetaPage meta, void *arg);

static ItemPointerData
AppendItem(InsertState *is, bool docs, Item item, Size size, MetaChange change, void *arg)
{
	Relation	index = is->index;
	BlockNumber tail = docs ? is->meta.docTail : is->meta.postingTail;
	GenericXLogState *state = GenericXLogStart(index);
	Buffer		buf = InvalidBuffer;
	Buffer		newbuf = InvalidBuffer;
	Buffer		metabuf = InvalidBuffer;
	Page		page = NULL;
	Page		metapage;
	OffsetNumber off = InvalidOffsetNumber;
	ItemPointerData where;

	if (BlockNumberIsValid(tail))
	{
		buf = ReadBuffer(index, tail);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		GvCheckPage(index, BufferGetPage(buf), tail, GV_PAGE_ID_BM25);
		if (PageGetFreeSpace(BufferGetPage(buf)) >= MAXALIGN(size))
		{
			page = GenericXLogRegisterBuffer(state, buf, 0);
			off = PageAddItem(page, item, size, InvalidOffsetNumber, false, false);
		}
	}
	if (off == InvalidOffsetNumber)
	{
		Page		newpage;

		newbuf = GvNewBuffer(index, MAIN_FORKNUM);
		newpage = GvXLogRegisterNew(state, newbuf, GV_PAGE_ID_BM25,
									docs ? BM25_PAGE_DOCS : BM25_PAGE_POSTINGS);
		off = PageAddItem(newpage, item, size, InvalidOffsetNumber, false, false);
		if (off == InvalidOffsetNumber)
			elog(ERROR, "could not add an item of %zu bytes to index \"%s\"", size,
				 RelationGetRelationName(index));
		if (docs && BufferIsValid(buf))
		{
			if (page == NULL)
				page = GenericXLogRegisterBuffer(state, buf, 0);
			GvPageGetOpaque(page)->nextblkno = BufferGetBlockNumber(newbuf);
		}
		ItemPointerSet(&where, BufferGetBlockNumber(newbuf), off);
	}
	else
		ItemPointerSet(&where, BufferGetBlockNumber(buf), off);

	metapage = RegisterMeta(state, &metabuf, index);
	if (BufferIsValid(newbuf))
	{
		Bm25MetaPage m = Bm25PageGetMeta(metapage);

		if (docs)
		{
			m->docTail = BufferGetBlockNumber(newbuf);
			if (!BlockNumberIsValid(m->docHead))
				m->docHead = m->docTail;
		}
		else
			m->postingTail = BufferGetBlockNumber(newbuf);
	}
	if (change)
		change(Bm25PageGetMeta(metapage), arg);
	memcpy(&is->meta, Bm25PageGetMeta(metapage), sizeof(Bm25MetaPageData));
	GenericXLogFinish(state);

	UnlockReleaseBuffer(metabuf);
	if (BufferIsValid(newbuf))
		UnlockReleaseBuffer(newbuf);
	if (BufferIsValid(buf))
		UnlockReleaseBuffer(buf);
	return where;
}

static void
CountDocument(Bm25MetaPage meta, void *arg)
{
	meta->ndocs++;
	meta->totalLength += *(uint32 *) arg;
}

/*
 * A new term: its one-posting block, then its entry in its bucket's chain.
 * The metapage's term count goes up in the second record, with the entry,
 * so that a crash between the two leaves the count equal to the
 * dictionary's (and at worst a posting block nothing points to).
 */
static void
AddTerm(InsertState *is, const char *lexeme, int len, Bm25Posting *p)
{
	Relation	index = is->index;
	Size		blksize;
	Bm25Block	blk = Bm25MakeBlock(p, 1, &blksize);
	ItemPointerData where = AppendItem(is, false, (Item) blk, blksize, NULL, NULL);
	Size		size = BM25_TERM_SIZE(len);
	Bm25Term	entry = palloc0(size);
	BlockNumber blkno;

	entry->hash = Bm25Hash(lexeme, len);
	entry->df = 1;
	entry->maxtf = p->tf;
	entry->mindl = p->dl;
	entry->headBlk = entry->tailBlk = ItemPointerGetBlockNumber(&where);
	entry->headOff = entry->tailOff = ItemPointerGetOffsetNumber(&where);
	entry->len = len;
	memcpy(entry->lexeme, lexeme, len);

	/* the first page of the chain with room, else a new page after the last */
	blkno = 1 + entry->hash % is->meta.nbuckets;
	for (;;)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		BlockNumber next;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		GvCheckPage(index, page, blkno, GV_PAGE_ID_BM25);
		next = GvPageGetOpaque(page)->nextblkno;
		if (PageGetFreeSpace(page) >= MAXALIGN(size) || !BlockNumberIsValid(next))
		{
			GenericXLogState *state = GenericXLogStart(index);
			Buffer		newbuf = InvalidBuffer;
			Buffer		metabuf;
			Page		metapage;

			page = GenericXLogRegisterBuffer(state, buf, 0);
			if (PageAddItem(page, (Item) entry, size, InvalidOffsetNumber, false, false) ==
				InvalidOffsetNumber)
			{
				Page		newpage;

				newbuf = GvNewBuffer(index, MAIN_FORKNUM);
				newpage = GvXLogRegisterNew(state, newbuf, GV_PAGE_ID_BM25, BM25_PAGE_TERMS);
				if (PageAddItem(newpage, (Item) entry, size, InvalidOffsetNumber, false, false) ==
					InvalidOffsetNumber)
					elog(ERROR, "could not add a term to index \"%s\"",
						 RelationGetRelationName(index));
				GvPageGetOpaque(page)->nextblkno = BufferGetBlockNumber(newbuf);
			}
			metapage = RegisterMeta(state, &metabuf, index);
			Bm25PageGetMeta(metapage)->nterms++;
			memcpy(&is->meta, Bm25PageGetMeta(metapage), sizeof(Bm25MetaPageData));
			GenericXLogFinish(state);
			UnlockReleaseBuffer(metabuf);
			if (BufferIsValid(newbuf))
				UnlockReleaseBuffer(newbuf);
			UnlockReleaseBuffer(buf);
			return;
		}
		UnlockReleaseBuffer(buf);
		blkno = next;
	}
}

/* A copy of the block item at (blkno, off). */
static Bm25Block
ReadBlock(Relation index, BlockNumber blkno, OffsetNumber off)
{
	Buffer		buf = ReadBuffer(index, blkno);
	Page		page;
	ItemId		iid;
	Bm25Block	copy;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	GvCheckPage(index, page, blkno, GV_PAGE_ID_BM25);
	if (off > PageGetMaxOffsetNumber(page))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has a posting link to a missing item (%u,%u)",
						RelationGetRelationName(index), blkno, off)));
	iid = PageGetItemId(page, off);
	copy = palloc(ItemIdGetLength(iid));
	memcpy(copy, PageGetItem(page, iid), ItemIdGetLength(iid));
	UnlockReleaseBuffer(buf);
	return copy;
}

/*
 * Change a term entry (at termAt) and, in the same record, overwrite the
 * block at blockAt with newblk (if given) and/or link the block at linkAt
 * to target.  At most three pages.
 */
typedef struct TermChange
{
	ItemPointerData termAt;
	Bm25Posting *added;			/* the posting added: df + 1, bounds */
	bool		setTail;
	ItemPointerData tail;
	bool		setHead;
	ItemPointerData head;
	ItemPointerData blockAt;	/* valid: overwrite this block with newblk */
	Bm25Block	newblk;
	Size		newsize;
	ItemPointerData linkAt;		/* valid: set this block's next to link */
	ItemPointerData link;
} TermChange;

#define MAX_CHANGE_BUFS 3

static Page
RegisterOnce(GenericXLogState *state, Relation index, BlockNumber blkno,
			 Buffer *bufs, Page *pages, int *nbufs)
{
	for (int i = 0; i < *nbufs; i++)
		if (BufferGetBlockNumber(bufs[i]) == blkno)
			return pages[i];
	Assert(*nbufs < MAX_CHANGE_BUFS);
	bufs[*nbufs] = ReadBuffer(index, blkno);
	LockBuffer(bufs[*nbufs], BUFFER_LOCK_EXCLUSIVE);
	pages[*nbufs] = GenericXLogRegisterBuffer(state, bufs[*nbufs], 0);
	return pages[(*nbufs)++];
}

static void
ApplyTermChange(Relation index, TermChange *c)
{
	GenericXLogState *state = GenericXLogStart(index);
	Buffer		bufs[MAX_CHANGE_BUFS];
	Page		pages[MAX_CHANGE_BUFS];
	int			nbufs = 0;
	Page		page;
	Bm25Term	t;

	if (ItemPointerIsValid(&c->blockAt))
	{
		page = RegisterOnce(state, index, ItemPointerGetBlockNumber(&c->blockAt), bufs, pages, &nbufs);
		if (!PageIndexTupleOverwrite(page, ItemPointerGetOffsetNumber(&c->blockAt),
									 (Item) c->newblk, c->newsize))
			elog(ERROR, "failed to overwrite a posting block in index \"%s\"",
				 RelationGetRelationName(index));
	}
	if (ItemPointerIsValid(&c->linkAt))
	{
		Bm25Block	blk;

		page = RegisterOnce(state, index, ItemPointerGetBlockNumber(&c->linkAt), bufs, pages, &nbufs);
		blk = (Bm25Block) PageGetItem(page, PageGetItemId(page, ItemPointerGetOffsetNumber(&c->linkAt)));
		blk->nextBlk = ItemPointerGetBlockNumber(&c->link);
		blk->nextOff = ItemPointerGetOffsetNumber(&c->link);
	}
	page = RegisterOnce(state, index, ItemPointerGetBlockNumber(&c->termAt), bufs, pages, &nbufs);
	t = (Bm25Term) PageGetItem(page, PageGetItemId(page, ItemPointerGetOffsetNumber(&c->termAt)));
	if (c->added)
	{
		t->df++;
		t->maxtf = Max(t->maxtf, c->added->tf);
		t->mindl = Min(t->mindl, c->added->dl);
	}
	if (c->setTail)
	{
		t->tailBlk = ItemPointerGetBlockNumber(&c->tail);
		t->tailOff = ItemPointerGetOffsetNumber(&c->tail);
	}
	if (c->setHead)
	{
		t->headBlk = ItemPointerGetBlockNumber(&c->head);
		t->headOff = ItemPointerGetOffsetNumber(&c->head);
	}
	GenericXLogFinish(state);
	for (int i = 0; i < nbufs; i++)
		UnlockReleaseBuffer(bufs[i]);
}

/*
 * Can the block at (blkno, off) be overwritten in place by newsize bytes?
 * Sets *oldsize to its item's size.
 */
static bool
FitsInPlace(Relation index, BlockNumber blkno, OffsetNumber off, Size newsize, Size *oldsize)
{
	Buffer		buf = ReadBuffer(index, blkno);
	Page		page;
	bool		fits;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	*oldsize = ItemIdGetLength(PageGetItemId(page, off));
	fits = MAXALIGN(newsize) <= MAXALIGN(*oldsize) ||
		PageGetExactFreeSpace(page) >= MAXALIGN(newsize) - MAXALIGN(*oldsize);
	UnlockReleaseBuffer(buf);
	return fits;
}

/*
 * The block blk (of *size bytes) as an item of at least itemsize bytes: the
 * room past its data (ignored by readers, which go by nbytes) lets later
 * postings go into it in place.
 */
static Bm25Block
WithRoom(Bm25Block blk, Size *size, Size itemsize)
{
	Bm25Block	out;

	if (itemsize <= *size)
		return blk;
	out = palloc0(itemsize);
	memcpy(out, blk, *size);
	pfree(blk);
	*size = itemsize;
	return out;
}

/*
 * Put posting p into the block at blkAt (whose copy is old; prevAt is the
 * block before it, invalid for the head).  In place when it fits; else the
 * postings are written as one or two new blocks, linked in by the term
 * change, and the old block is emptied in the same record.
 */
static void
PutIntoBlock(InsertState *is, ItemPointer termAt, Bm25Term term, ItemPointer blkAt,
			 ItemPointer prevAt, Bm25Block old, Bm25Posting *p)
{
	Relation	index = is->index;
	Bm25Posting *ps = palloc(sizeof(Bm25Posting) * (old->count + 1));
	int			n = 0;
	Size		size;
	Size		oldsize;
	Bm25Block	blk;
	TermChange	c;
	bool		isTail = (ItemPointerGetBlockNumber(blkAt) == term->tailBlk &&
						  ItemPointerGetOffsetNumber(blkAt) == term->tailOff);

	Bm25DecodePostings(old, ps);
	/* merge p in TID order (n postings decoded into ps[0 .. count)) */
	n = old->count;
	for (int i = n; i >= 0; i--)
	{
		if (i > 0 && ps[i - 1].key > p->key)
			ps[i] = ps[i - 1];
		else
		{
			ps[i] = *p;			/* at i = 0 at the latest */
			break;
		}
	}
	n++;

	memset(&c, 0, sizeof(c));
	c.termAt = *termAt;
	c.added = p;
	ItemPointerSetInvalid(&c.blockAt);
	ItemPointerSetInvalid(&c.linkAt);

	if (n <= BM25_BLOCK_POSTINGS)
	{
		blk = Bm25MakeBlock(ps, n, &size);
		blk->nextBlk = old->nextBlk;
		blk->nextOff = old->nextOff;
		if (FitsInPlace(index, ItemPointerGetBlockNumber(blkAt),
						ItemPointerGetOffsetNumber(blkAt), size, &oldsize))
		{
			blk = WithRoom(blk, &size, oldsize);
			c.blockAt = *blkAt;
			c.newblk = blk;
			c.newsize = size;
			ApplyTermChange(index, &c);
			return;
		}
	}

	/* new blocks: the second half first, so the first can link to it */
	{
		int			half = n <= BM25_BLOCK_POSTINGS ? n : n / 2;
		ItemPointerData second;
		ItemPointerData first;
		Size		emptysize;
		Bm25Block	empty;

		ItemPointerSetInvalid(&second);
		if (half < n)
		{
			Bm25Block	b2 = Bm25MakeBlock(ps + half, n - half, &size);

			b2->nextBlk = old->nextBlk;
			b2->nextOff = old->nextOff;
			second = AppendItem(is, false, (Item) b2, size, NULL, NULL);
		}
		blk = Bm25MakeBlock(ps, half, &size);
		if (ItemPointerIsValid(&second))
		{
			blk->nextBlk = ItemPointerGetBlockNumber(&second);
			blk->nextOff = ItemPointerGetOffsetNumber(&second);
		}
		else
		{
			blk->nextBlk = old->nextBlk;
			blk->nextOff = old->nextOff;
		}
		first = AppendItem(is, false, (Item) blk, size, NULL, NULL);

		/*
		 * the old block stays, empty, pointing on: a reader on it loses
		 * nothing
		 */
		empty = Bm25MakeBlock(NULL, 0, &emptysize);
		empty->first = empty->last = old->last;
		empty->nextBlk = old->nextBlk;
		empty->nextOff = old->nextOff;
		c.blockAt = *blkAt;
		c.newblk = empty;
		c.newsize = emptysize;
		if (ItemPointerIsValid(prevAt))
		{
			c.linkAt = *prevAt;
			c.link = first;
		}
		else
		{
			c.setHead = true;
			c.head = first;
		}
		if (isTail)
		{
			c.setTail = true;
			c.tail = ItemPointerIsValid(&second) ? second : first;
		}
		ApplyTermChange(index, &c);
	}
}

/* Append p after the term's last block, in a new block. */
static void
AppendBlock(InsertState *is, ItemPointer termAt, Bm25Term term, Bm25Posting *p, int room)
{
	Size		size;
	Bm25Block	blk = Bm25MakeBlock(p, 1, &size);
	ItemPointerData at;
	TermChange	c;

	blk = WithRoom(blk, &size, size + Min(room, BM25_BLOCK_POSTINGS - 1) * BM25_ROOM_PER_POSTING);
	at = AppendItem(is, false, (Item) blk, size, NULL, NULL);

	memset(&c, 0, sizeof(c));
	c.termAt = *termAt;
	c.added = p;
	ItemPointerSetInvalid(&c.blockAt);
	c.setTail = true;
	c.tail = at;
	if (BlockNumberIsValid(term->tailBlk))
	{
		ItemPointerSet(&c.linkAt, term->tailBlk, term->tailOff);
		c.link = at;
	}
	else
	{
		ItemPointerSetInvalid(&c.linkAt);
		c.setHead = true;
		c.head = at;
	}
	ApplyTermChange(is->index, &c);
}

static void
InsertPosting(InsertState *is, const char *lexeme, int len, Bm25Posting *p)
{
	Relation	index = is->index;
	Bm25TermData term;
	ItemPointerData termAt;
	ItemPointerData at;
	ItemPointerData prev;
	Bm25Block	blk;

	if (!Bm25FindTerm(index, &is->meta, lexeme, len, &term, &termAt))
	{
		AddTerm(is, lexeme, len, p);
		return;
	}
	if (!BlockNumberIsValid(term.tailBlk))
	{
		AppendBlock(is, &termAt, &term, p, 0);
		return;
	}

	/* the usual case: a row after every row of the term */
	blk = ReadBlock(index, term.tailBlk, term.tailOff);
	if (blk->count > 0 && blk->last < p->key)
	{
		ItemPointerSet(&at, term.tailBlk, term.tailOff);
		if (blk->count < BM25_BLOCK_POSTINGS)
		{
			/* into the tail block, if it fits where it is */
			Bm25Posting *ps = palloc(sizeof(Bm25Posting) * (blk->count + 1));
			Size		size;
			Size		oldsize;
			Bm25Block	nb;

			Bm25DecodePostings(blk, ps);
			ps[blk->count] = *p;
			nb = Bm25MakeBlock(ps, blk->count + 1, &size);
			nb->nextBlk = blk->nextBlk;
			nb->nextOff = blk->nextOff;
			if (FitsInPlace(index, term.tailBlk, term.tailOff, size, &oldsize))
			{
				TermChange	c;

				/* keep the room left: the block stays the size it was */
				nb = WithRoom(nb, &size, oldsize);
				memset(&c, 0, sizeof(c));
				c.termAt = termAt;
				c.added = p;
				c.blockAt = at;
				c.newblk = nb;
				c.newsize = size;
				ItemPointerSetInvalid(&c.linkAt);
				ApplyTermChange(index, &c);
				return;
			}
		}

		/*
		 * A new tail block, with room for as many postings again as the last
		 * one holds: a term's inserted postings then fill blocks
		 * geometrically instead of one small block per page they land on.
		 */
		AppendBlock(is, &termAt, &term, p, blk->count);
		return;
	}

	/*
	 * A reused row address (or an emptied last block): the first block that
	 * ends at or after it.
	 */
	ItemPointerSet(&at, term.headBlk, term.headOff);
	ItemPointerSetInvalid(&prev);
	for (;;)
	{
		blk = ReadBlock(index, ItemPointerGetBlockNumber(&at), ItemPointerGetOffsetNumber(&at));
		if (blk->count > 0 && blk->last >= p->key)
			break;
		if (!BlockNumberIsValid(blk->nextBlk))
		{
			/*
			 * after every posting left (the last blocks were emptied by
			 * VACUUM)
			 */
			AppendBlock(is, &termAt, &term, p, 0);
			return;
		}
		prev = at;
		ItemPointerSet(&at, blk->nextBlk, blk->nextOff);
	}
	PutIntoBlock(is, &termAt, &term, &at, &prev, blk, p);
}

/* One row's text: its document entry, then one posting per term. */
static void
IndexRow(Relation index, Datum *values, bool *isnull pg_attribute_unused(), ItemPointer heap_tid,
		 Relation heap pg_attribute_unused())
{
	InsertState is;
	Bm25Bag    *bag;
	Bm25DocData doc;
	uint32		dl;

	is.index = index;
	Bm25ReadMeta(index, &is.meta);
	bag = Bm25TokenizeDatum(is.meta.cfg, Bm25ColumnType(index), values[0]);
	dl = (uint32) Min(bag->length, PG_UINT32_MAX);

	LockPage(index, BM25_LOCK_BLKNO, ExclusiveLock);
	Bm25ReadMeta(index, &is.meta);

	/* the document (and N, total length) first: see README, "WAL" */
	doc.key = Bm25TidKey(heap_tid);
	doc.dl = dl;
	AppendItem(&is, true, (Item) &doc, sizeof(Bm25DocData), CountDocument, &dl);

	for (int i = 0; i < bag->nterms; i++)
	{
		Bm25Posting p;

		p.key = doc.key;
		p.tf = bag->terms[i].tf;
		p.dl = dl;
		InsertPosting(&is, bag->terms[i].lexeme, bag->terms[i].len, &p);
		CHECK_FOR_INTERRUPTS();
	}
	UnlockPage(index, BM25_LOCK_BLKNO, ExclusiveLock);
}

/*
 * aminsert (NULLs are not indexed)
 */
bool
bm25insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation heap,
		   IndexUniqueCheck checkUnique pg_attribute_unused(),
		   bool indexUnchanged pg_attribute_unused(), IndexInfo *indexInfo pg_attribute_unused())
{
	return GvAmInsert(index, values, isnull, heap_tid, heap, "gv_bm25 insert",
					  IndexRow);
}
