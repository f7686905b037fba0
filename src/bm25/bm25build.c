/*
 * bm25build.c
 *	  CREATE INDEX for gv_bm25: tokenise every row, gather each term's
 *	  postings in memory, then write the pages (metapage, term-dictionary
 *	  buckets, posting blocks, document list) without WAL and log them all
 *	  at the end (GvLogBuiltIndex), as core's GiST and SP-GiST builds do.
 *
 * Progress: "tokenizing rows" counts the table's blocks (the table scan
 * reports them), "writing posting lists" counts terms.
 *
 * Memory: postings are kept per term in arrays while these stay within
 * maintenance_work_mem; past it every posting (those so far and the rest)
 * goes to a tuplesort on (term, row), which spills to temporary files, and
 * the writer reads each term's postings back from it in the same order.
 * Either way the pages written are the same.  The document list (12 bytes
 * a row) and the vocabulary stay in memory.
 *
 * With parallel workers (bm25buildparallel.c) the rows are tokenised by
 * them and the leader, and the leader feeds the merged postings to the
 * same state (Bm25BuildAddDoc, Bm25BuildAddPosting) before writing.
 */
#include "compat.h"

#include "access/tableam.h"
#include "bm25.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_operator_d.h"
#include "catalog/pg_type_d.h"
#include "commands/progress.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/backend_progress.h"
#include "tsearch/ts_cache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/tuplesort.h"

typedef struct BuildTerm
{
	char	   *lexeme;
	int			len;
	uint32		hash;
	Bm25Posting *postings;
	int			count;
	int			capacity;
} BuildTerm;

struct Bm25BuildState
{
	Oid			cfg;
	Oid			typid;
	MemoryContext buildCtx;		/* terms, postings, documents */
	MemoryContext tupleCtx;		/* one row's tokens */
	/* open-addressing table of terms: slot -> index + 1 (0: empty) */
	int		   *slots;
	int			nslots;
	BuildTerm  *terms;
	int			nterms;
	int			capterms;
	Bm25DocData *docs;
	int64		ndocs;
	int64		capdocs;
	uint64		totalLength;
	double		indtuples;
	Size		postingBytes;	/* of the terms' posting arrays */
	Tuplesortstate *spill;		/* once those outgrew maintenance_work_mem */
	TupleDesc	spillDesc;		/* (term, key, tf, dl) */
	TupleTableSlot *putSlot;
	TupleTableSlot *getSlot;
	bool		spillAhead;		/* getSlot holds the next sorted posting */
	int			spillTerm;		/* its term */
};

/*
 * The configuration an index tokenises with: its text_config option, else
 * default_text_search_config now.
 */
static Oid
IndexTextConfig(Relation index)
{
	Bm25Options *opts = Bm25GetOptions(index);

	if (opts && opts->textConfig != 0 && ((char *) opts + opts->textConfig)[0] != '\0')
		return get_ts_config_oid(stringToQualifiedNameList((char *) opts + opts->textConfig),
								 false);
	return getTSCurrentConfig(true);
}

static void
IndexParams(Relation index, double *k1, double *b)
{
	Bm25Options *opts = Bm25GetOptions(index);

	*k1 = opts ? opts->k1 : BM25_DEFAULT_K1;
	*b = opts ? opts->b : BM25_DEFAULT_B;
}

static void
GrowSlots(Bm25BuildState *bs)
{
	int			nslots = bs->nslots * 2;
	int		   *slots = MemoryContextAllocHuge(bs->buildCtx, sizeof(int) * nslots);

	memset(slots, 0, sizeof(int) * nslots);
	for (int i = 0; i < bs->nterms; i++)
	{
		uint32		s = bs->terms[i].hash & (nslots - 1);

		while (slots[s] != 0)
			s = (s + 1) & (nslots - 1);
		slots[s] = i + 1;
	}
	pfree(bs->slots);
	bs->slots = slots;
	bs->nslots = nslots;
}

static BuildTerm *
LookupTerm(Bm25BuildState *bs, const char *lexeme, int len)
{
	uint32		hash = Bm25Hash(lexeme, len);
	uint32		s = hash & (bs->nslots - 1);
	BuildTerm  *t;

	while (bs->slots[s] != 0)
	{
		t = &bs->terms[bs->slots[s] - 1];
		if (t->hash == hash && t->len == len && memcmp(t->lexeme, lexeme, len) == 0)
			return t;
		s = (s + 1) & (bs->nslots - 1);
	}
	if (bs->nterms == bs->capterms)
	{
		bs->capterms *= 2;
		bs->terms = repalloc_huge(bs->terms, sizeof(BuildTerm) * bs->capterms);
	}
	t = &bs->terms[bs->nterms];
	t->lexeme = MemoryContextAlloc(bs->buildCtx, Max(len, 1));
	memcpy(t->lexeme, lexeme, len);
	t->len = len;
	t->hash = hash;
	t->count = 0;
	t->capacity = bs->spill ? 0 : 4;
	t->postings = bs->spill ? NULL :
		MemoryContextAlloc(bs->buildCtx, sizeof(Bm25Posting) * t->capacity);
	bs->postingBytes += sizeof(Bm25Posting) * t->capacity;
	bs->slots[s] = ++bs->nterms;
	if (bs->nterms * 2 > bs->nslots)
		GrowSlots(bs);
	return &bs->terms[bs->nterms - 1];
}

static void
SpillPut(Bm25BuildState *bs, int term, const Bm25Posting *p)
{
	TupleTableSlot *slot = bs->putSlot;

	ExecClearTuple(slot);
	slot->tts_values[0] = Int32GetDatum(term);
	slot->tts_values[1] = Int64GetDatum((int64) p->key);
	slot->tts_values[2] = Int32GetDatum((int32) p->tf);
	slot->tts_values[3] = Int32GetDatum((int32) p->dl);
	memset(slot->tts_isnull, 0, sizeof(bool) * 4);
	ExecStoreVirtualTuple(slot);
	tuplesort_puttupleslot(bs->spill, slot);
}

/* The posting arrays outgrew maintenance_work_mem: move them to a tuplesort. */
static void
StartSpill(Bm25BuildState *bs)
{
	AttrNumber	attNums[2] = {1, 2};
	Oid			sortOps[2] = {Int4LessOperator, Int8LessOperator};
	Oid			collations[2] = {InvalidOid, InvalidOid};
	bool		nullsFirst[2] = {false, false};

	ereport(DEBUG1,
			(errmsg_internal("gv_bm25 build: postings past maintenance_work_mem, sorting them in temporary files")));
	bs->spillDesc = CreateTemplateTupleDesc(4);
	TupleDescInitEntry(bs->spillDesc, 1, "term", INT4OID, -1, 0);
	TupleDescInitEntry(bs->spillDesc, 2, "key", INT8OID, -1, 0);
	TupleDescInitEntry(bs->spillDesc, 3, "tf", INT4OID, -1, 0);
	TupleDescInitEntry(bs->spillDesc, 4, "dl", INT4OID, -1, 0);
	bs->spill = tuplesort_begin_heap(bs->spillDesc, 2, attNums, sortOps, collations, nullsFirst,
									 maintenance_work_mem, NULL, TUPLESORT_NONE);
	bs->putSlot = MakeSingleTupleTableSlot(bs->spillDesc, &TTSOpsVirtual);
	for (int i = 0; i < bs->nterms; i++)
	{
		BuildTerm  *t = &bs->terms[i];

		for (int j = 0; j < t->count; j++)
			SpillPut(bs, i, &t->postings[j]);
		pfree(t->postings);
		t->postings = NULL;
		t->capacity = 0;
	}
	bs->postingBytes = 0;
}

/* A document of the build: its row and length. */
void
Bm25BuildAddDoc(Bm25BuildState *bs, uint64 key, uint32 dl)
{
	if (bs->ndocs == bs->capdocs)
	{
		bs->capdocs *= 2;
		bs->docs = repalloc_huge(bs->docs, sizeof(Bm25DocData) * bs->capdocs);
	}
	/* zero the padding too: pages are then a function of the rows alone */
	memset(&bs->docs[bs->ndocs], 0, sizeof(Bm25DocData));
	bs->docs[bs->ndocs].key = key;
	bs->docs[bs->ndocs].dl = dl;
	bs->ndocs++;
	bs->totalLength += dl;
	bs->indtuples += 1;
}

/* A posting of the build: a term's row, its tf and dl. */
void
Bm25BuildAddPosting(Bm25BuildState *bs, const char *lexeme, int len, const Bm25Posting *p)
{
	BuildTerm  *t = LookupTerm(bs, lexeme, len);

	if (bs->spill)
	{
		SpillPut(bs, t - bs->terms, p);
		t->count++;
		return;
	}
	if (t->count == t->capacity)
	{
		bs->postingBytes += sizeof(Bm25Posting) * t->capacity;
		t->capacity *= 2;
		t->postings = repalloc_huge(t->postings, sizeof(Bm25Posting) * t->capacity);
	}
	t->postings[t->count++] = *p;
	if (bs->postingBytes > (Size) maintenance_work_mem * 1024)
		StartSpill(bs);
}

static void
AddDocument(Bm25BuildState *bs, ItemPointer tid, Bm25Bag *bag)
{
	Bm25Posting p;

	p.key = Bm25TidKey(tid);
	p.dl = (uint32) Min(bag->length, PG_UINT32_MAX);
	Bm25BuildAddDoc(bs, p.key, p.dl);
	for (int i = 0; i < bag->nterms; i++)
	{
		p.tf = bag->terms[i].tf;
		Bm25BuildAddPosting(bs, bag->terms[i].lexeme, bag->terms[i].len, &p);
	}
}

static void
BuildCallback(Relation index pg_attribute_unused(), ItemPointer tid, Datum *values, bool *isnull,
			  bool tupleIsAlive pg_attribute_unused(), void *state)
{
	Bm25BuildState *bs = state;
	MemoryContext old;
	Bm25Bag    *bag;

	if (isnull[0])
		return;
	old = MemoryContextSwitchTo(bs->tupleCtx);
	bag = Bm25TokenizeDatum(bs->cfg, bs->typid, values[0]);
	MemoryContextSwitchTo(bs->buildCtx);
	AddDocument(bs, tid, bag);
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tupleCtx);
}

/* ---------------------------------------------------------------------------
 * Writing pages (no WAL: logged at the end)
 * ---------------------------------------------------------------------------
 */

static Buffer
NewPage(Relation index, ForkNumber fork, uint16 flags)
{
	Buffer		buf = GvNewBuffer(index, fork);

	GvInitPage(BufferGetPage(buf), GV_PAGE_ID_BM25, flags);
	return buf;
}

static void
FinishPage(Buffer buf)
{
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/* Appends items to a run of pages of one kind, chaining them. */
typedef struct PageWriter
{
	Relation	index;
	uint16		flags;
	bool		chain;			/* link each page to the next */
	Buffer		buf;
	BlockNumber first;
} PageWriter;

static void
WriterInit(PageWriter *w, Relation index, uint16 flags, bool chain)
{
	w->index = index;
	w->flags = flags;
	w->chain = chain;
	w->buf = InvalidBuffer;
	w->first = InvalidBlockNumber;
}

static ItemPointerData
WriterAdd(PageWriter *w, Item item, Size size)
{
	ItemPointerData where;
	OffsetNumber off = InvalidOffsetNumber;

	if (BufferIsValid(w->buf))
		off = PageAddItem(BufferGetPage(w->buf), item, size, InvalidOffsetNumber, false, false);
	if (off == InvalidOffsetNumber)
	{
		Buffer		next = NewPage(w->index, MAIN_FORKNUM, w->flags);

		if (BufferIsValid(w->buf))
		{
			if (w->chain)
				GvPageGetOpaque(BufferGetPage(w->buf))->nextblkno = BufferGetBlockNumber(next);
			FinishPage(w->buf);
		}
		else
			w->first = BufferGetBlockNumber(next);
		w->buf = next;
		off = PageAddItem(BufferGetPage(w->buf), item, size, InvalidOffsetNumber, false, false);
		if (off == InvalidOffsetNumber)
			elog(ERROR, "could not add an item of %zu bytes to a gv_bm25 page", size);
	}
	ItemPointerSet(&where, BufferGetBlockNumber(w->buf), off);
	return where;
}

static BlockNumber
WriterEnd(PageWriter *w)
{
	BlockNumber last = InvalidBlockNumber;

	if (BufferIsValid(w->buf))
	{
		last = BufferGetBlockNumber(w->buf);
		FinishPage(w->buf);
	}
	w->buf = InvalidBuffer;
	return last;
}

/* Point the block at prev to the block at next. */
static void
LinkBlock(PageWriter *w, ItemPointer prev, ItemPointer next)
{
	Buffer		buf;
	bool		same = (BufferIsValid(w->buf) &&
						BufferGetBlockNumber(w->buf) == ItemPointerGetBlockNumber(prev));
	Bm25Block	blk;
	Page		page;

	if (same)
		buf = w->buf;
	else
	{
		buf = ReadBuffer(w->index, ItemPointerGetBlockNumber(prev));
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	}
	page = BufferGetPage(buf);
	blk = (Bm25Block) PageGetItem(page, PageGetItemId(page, ItemPointerGetOffsetNumber(prev)));
	blk->nextBlk = ItemPointerGetBlockNumber(next);
	blk->nextOff = ItemPointerGetOffsetNumber(next);
	if (!same)
		FinishPage(buf);
}

static int
ComparePostings(const void *a, const void *b)
{
	const Bm25Posting *x = a;
	const Bm25Posting *y = b;

	return (x->key > y->key) - (x->key < y->key);
}

static int
CompareDocs(const void *a, const void *b)
{
	const Bm25DocData *x = a;
	const Bm25DocData *y = b;

	return (x->key > y->key) - (x->key < y->key);
}

/* Read the next sorted posting of the spill into getSlot, if any. */
static void
SpillAdvance(Bm25BuildState *bs)
{
	bs->spillAhead = tuplesort_gettupleslot(bs->spill, true, false, bs->getSlot, NULL);
	if (bs->spillAhead)
	{
		slot_getallattrs(bs->getSlot);
		bs->spillTerm = DatumGetInt32(bs->getSlot->tts_values[0]);
	}
}

/*
 * The postings of term ti from done on, at most a block's worth, into out:
 * from its array, or from the spill (sorted by term, then row).
 */
static int
NextPostings(Bm25BuildState *bs, int ti, int done, Bm25Posting *out)
{
	BuildTerm  *t = &bs->terms[ti];
	int			n = 0;

	if (bs->spill == NULL)
	{
		n = Min(BM25_BLOCK_POSTINGS, t->count - done);
		memcpy(out, &t->postings[done], sizeof(Bm25Posting) * n);
		return n;
	}
	while (n < BM25_BLOCK_POSTINGS && bs->spillAhead && bs->spillTerm == ti)
	{
		Datum	   *v = bs->getSlot->tts_values;

		out[n].key = (uint64) DatumGetInt64(v[1]);
		out[n].tf = (uint32) DatumGetInt32(v[2]);
		out[n].dl = (uint32) DatumGetInt32(v[3]);
		n++;
		SpillAdvance(bs);
	}
	return n;
}

/*
 * Write term ti's posting blocks; fills the entry's head, tail and bounds.
 */
static void
WritePostings(PageWriter *w, Bm25BuildState *bs, int ti, Bm25Term entry, Bm25Posting *batch)
{
	BuildTerm  *t = &bs->terms[ti];
	ItemPointerData prev;
	int			n;

	ItemPointerSetInvalid(&prev);

	/*
	 * a synchronised scan may start mid-table: sort by TID (the spill is
	 * sorted)
	 */
	for (int i = 1; bs->spill == NULL && i < t->count; i++)
		if (t->postings[i].key < t->postings[i - 1].key)
		{
			qsort(t->postings, t->count, sizeof(Bm25Posting), ComparePostings);
			break;
		}

	entry->df = t->count;
	entry->maxtf = 0;
	entry->mindl = PG_UINT32_MAX;
	for (int i = 0; (n = NextPostings(bs, ti, i, batch)) > 0; i += n)
	{
		Size		size;
		Bm25Block	blk = Bm25MakeBlock(batch, n, &size);
		ItemPointerData where = WriterAdd(w, (Item) blk, size);

		entry->maxtf = Max(entry->maxtf, blk->maxtf);
		entry->mindl = Min(entry->mindl, blk->mindl);
		if (i == 0)
		{
			entry->headBlk = ItemPointerGetBlockNumber(&where);
			entry->headOff = ItemPointerGetOffsetNumber(&where);
		}
		else
			LinkBlock(w, &prev, &where);
		prev = where;
		pfree(blk);
	}
	entry->tailBlk = ItemPointerGetBlockNumber(&prev);
	entry->tailOff = ItemPointerGetOffsetNumber(&prev);
}

/* Add a term entry to its bucket's chain; lastPage[bucket] is its last page. */
static void
AddTermToBucket(Relation index, Bm25Term entry, Size size, uint32 nbuckets,
				BlockNumber *lastPage)
{
	uint32		bucket = entry->hash % nbuckets;
	Buffer		buf = ReadBuffer(index, lastPage[bucket]);
	Page		page;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	if (PageAddItem(page, (Item) entry, size, InvalidOffsetNumber, false, false) ==
		InvalidOffsetNumber)
	{
		Buffer		next = NewPage(index, MAIN_FORKNUM, BM25_PAGE_TERMS);

		GvPageGetOpaque(page)->nextblkno = BufferGetBlockNumber(next);
		lastPage[bucket] = BufferGetBlockNumber(next);
		FinishPage(buf);
		buf = next;
		if (PageAddItem(BufferGetPage(buf), (Item) entry, size, InvalidOffsetNumber,
						false, false) == InvalidOffsetNumber)
			elog(ERROR, "could not add a term of %zu bytes to a gv_bm25 page", size);
	}
	FinishPage(buf);
}

static void
InitMetaPage(Page page, Oid cfg, double k1, double b, uint32 nbuckets)
{
	Bm25MetaPage meta;

	GvInitPage(page, GV_PAGE_ID_BM25, BM25_PAGE_META);
	meta = Bm25PageGetMeta(page);
	memset(meta, 0, sizeof(Bm25MetaPageData));
	meta->header.magic = BM25_MAGIC;
	meta->header.version = BM25_VERSION;
	meta->header.dimensions = 0;
	meta->cfg = cfg;
	meta->nbuckets = nbuckets;
	meta->k1 = k1;
	meta->b = b;
	meta->postingTail = InvalidBlockNumber;
	meta->docHead = InvalidBlockNumber;
	meta->docTail = InvalidBlockNumber;
	((PageHeader) page)->pd_lower = ((char *) meta + sizeof(Bm25MetaPageData)) - (char *) page;
}

/* Metapage and empty buckets: blocks 0 .. nbuckets of fork. */
static void
WriteSkeleton(Relation index, ForkNumber fork, Oid cfg, uint32 nbuckets, bool logIt)
{
	double		k1,
				b;
	Buffer		buf = GvNewBuffer(index, fork);

	IndexParams(index, &k1, &b);
	Assert(BufferGetBlockNumber(buf) == GV_METAPAGE_BLKNO);
	START_CRIT_SECTION();
	InitMetaPage(BufferGetPage(buf), cfg, k1, b, nbuckets);
	MarkBufferDirty(buf);
	if (logIt)
		log_newpage_buffer(buf, true);
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);
	for (uint32 i = 0; i < nbuckets; i++)
	{
		buf = NewPage(index, fork, BM25_PAGE_TERMS);
		START_CRIT_SECTION();
		MarkBufferDirty(buf);
		if (logIt)
			log_newpage_buffer(buf, true);
		END_CRIT_SECTION();
		UnlockReleaseBuffer(buf);
	}
}

static void
WriteIndex(Relation index, Bm25BuildState *bs)
{
	uint32		nbuckets = Max(BM25_MIN_BUCKETS, bs->nterms / BM25_TERMS_PER_BUCKET + 1);
	BlockNumber *lastPage = palloc(sizeof(BlockNumber) * nbuckets);
	PageWriter	pw;
	PageWriter	dw;
	Bm25Term	entry;
	int			maxlen = 1;
	Buffer		metabuf;
	Bm25MetaPage meta;
	BlockNumber postingTail;
	BlockNumber docTail;
	Bm25Posting *batch = palloc(sizeof(Bm25Posting) * BM25_BLOCK_POSTINGS);

	for (int i = 0; i < bs->nterms; i++)
		maxlen = Max(maxlen, bs->terms[i].len);
	entry = palloc0(BM25_TERM_SIZE(maxlen));
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_BM25_PHASE_WRITE);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, bs->nterms);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, 0);

	WriteSkeleton(index, MAIN_FORKNUM, bs->cfg, nbuckets, false);
	for (uint32 i = 0; i < nbuckets; i++)
		lastPage[i] = 1 + i;

	if (bs->spill)
	{
		tuplesort_performsort(bs->spill);
		bs->getSlot = MakeSingleTupleTableSlot(bs->spillDesc, &TTSOpsMinimalTuple);
		SpillAdvance(bs);
	}
	WriterInit(&pw, index, BM25_PAGE_POSTINGS, false);
	for (int i = 0; i < bs->nterms; i++)
	{
		BuildTerm  *t = &bs->terms[i];

		entry->hash = t->hash;
		entry->len = t->len;
		memcpy(entry->lexeme, t->lexeme, t->len);
		WritePostings(&pw, bs, i, entry, batch);
		AddTermToBucket(index, entry, BM25_TERM_SIZE(t->len), nbuckets, lastPage);
		if ((i & 1023) == 0)
		{
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, i);
			CHECK_FOR_INTERRUPTS();
		}
	}
	postingTail = WriterEnd(&pw);
	if (bs->spill)
	{
		Assert(!bs->spillAhead);
		tuplesort_end(bs->spill);
		ExecDropSingleTupleTableSlot(bs->putSlot);
		ExecDropSingleTupleTableSlot(bs->getSlot);
	}

	qsort(bs->docs, bs->ndocs, sizeof(Bm25DocData), CompareDocs);
	WriterInit(&dw, index, BM25_PAGE_DOCS, true);
	for (int64 i = 0; i < bs->ndocs; i++)
		WriterAdd(&dw, (Item) &bs->docs[i], sizeof(Bm25DocData));
	docTail = WriterEnd(&dw);

	metabuf = ReadBuffer(index, GV_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	meta = Bm25PageGetMeta(BufferGetPage(metabuf));
	meta->ndocs = bs->ndocs;
	meta->totalLength = bs->totalLength;
	meta->nterms = bs->nterms;
	meta->postingTail = postingTail;
	meta->docHead = dw.first;
	meta->docTail = docTail;
	FinishPage(metabuf);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, bs->nterms);
}

IndexBuildResult *
bm25build(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	double		heapTuples;
	Bm25BuildState bs;
	MemoryContext old;
	int			nworkers;
	bool		parallel;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	memset(&bs, 0, sizeof(bs));
	bs.cfg = IndexTextConfig(index);
	bs.typid = Bm25ColumnType(index);
	bs.buildCtx = AllocSetContextCreate(CurrentMemoryContext, "gv_bm25 build",
										ALLOCSET_DEFAULT_SIZES);
	bs.tupleCtx = AllocSetContextCreate(CurrentMemoryContext, "gv_bm25 build row",
										ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(bs.buildCtx);
	bs.nslots = 1024;
	bs.slots = palloc0(sizeof(int) * bs.nslots);
	bs.capterms = 512;
	bs.terms = palloc(sizeof(BuildTerm) * bs.capterms);
	bs.capdocs = 1024;
	bs.docs = palloc(sizeof(Bm25DocData) * bs.capdocs);
	MemoryContextSwitchTo(old);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_BM25_PHASE_TOKENIZE);
	nworkers = Bm25ParallelWorkers(heap, index);
	old = MemoryContextSwitchTo(bs.buildCtx);
	parallel = nworkers > 0 &&
		Bm25BuildParallel(heap, index, indexInfo, bs.cfg, &bs, nworkers, &heapTuples);
	MemoryContextSwitchTo(old);
	if (!parallel)
		heapTuples = table_index_build_scan(heap, index, indexInfo, true, true, BuildCallback,
											&bs, NULL);

	old = MemoryContextSwitchTo(bs.buildCtx);
	WriteIndex(index, &bs);
	MemoryContextSwitchTo(old);
	GvLogBuiltIndex(index);

	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = heapTuples;
	result->index_tuples = bs.indtuples;
	MemoryContextDelete(bs.buildCtx);
	MemoryContextDelete(bs.tupleCtx);
	return result;
}

/* The init fork of an unlogged index: an empty index. */
void
bm25buildempty(Relation index)
{
	WriteSkeleton(index, INIT_FORKNUM, IndexTextConfig(index), BM25_MIN_BUCKETS, true);
}
