/*
 * bm25validate.c
 *	  Operator class validation and gigavector.bm25_verify: a full check of
 *	  a gv_bm25 index's structure and statistics.
 */
#include "compat.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "bm25.h"
#include "catalog/index.h"
#include "catalog/pg_opclass.h"
#include "funcapi.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

bool
bm25validate(Oid opclassoid pg_attribute_unused())
{
	return true;
}

static void
Corrupt(Relation index, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INDEX_CORRUPTED),
			 errmsg("index \"%s\" is corrupted: %s", RelationGetRelationName(index), what),
			 errhint("Rebuild the index with REINDEX.")));
}

typedef struct DocEntry
{
	uint64		key;
	uint32		dl;
	uint32		seen;			/* postings pointing to it */
	uint64		tfsum;
} DocEntry;

/* What bm25_verify's passes share. */
typedef struct VerifyState
{
	Relation	index;
	Bm25MetaPageData meta;
	HTAB	   *docs;			/* DocEntry by row key */
	Bm25Posting *ps;			/* one decoded posting block */
	uint64		ndocs;
	uint64		total;
	uint64		nterms;
	uint64		npostings;
} VerifyState;

/* Read and check one page of the index, share-locked, of the given kind. */
static Buffer
ReadCheckedPage(Relation index, BlockNumber blkno, uint16 kind, const char *wrongKind)
{
	Buffer		buf = ReadBuffer(index, blkno);
	Page		page;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	GvCheckPage(index, page, blkno, GV_PAGE_ID_BM25);
	if (GvPageGetOpaque(page)->flags != kind)
		Corrupt(index, wrongKind);
	return buf;
}

/*
 * Pass 1: the document list, into vs->docs; its count and total length
 * must be the metapage's N and total length.
 */
static void
CheckDocuments(VerifyState *vs)
{
	Relation	index = vs->index;
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(DocEntry);
	vs->docs = hash_create("gv_bm25 verify", 1024, &ctl, HASH_ELEM | HASH_BLOBS);

	for (BlockNumber blkno = vs->meta.docHead; BlockNumberIsValid(blkno);)
	{
		Buffer		buf = ReadCheckedPage(index, blkno, BM25_PAGE_DOCS,
										  "the document list holds a page of another kind");
		Page		page = BufferGetPage(buf);

		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			Bm25Doc		doc = (Bm25Doc) PageGetItem(page, PageGetItemId(page, off));
			DocEntry   *d;
			bool		found;

			d = hash_search(vs->docs, &doc->key, HASH_ENTER, &found);
			if (found)
				Corrupt(index, "a row is in the document list twice");
			d->dl = doc->dl;
			d->seen = 0;
			d->tfsum = 0;
			vs->ndocs++;
			vs->total += doc->dl;
		}
		blkno = GvPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
	}
	if (vs->ndocs != vs->meta.ndocs || vs->total != vs->meta.totalLength)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is corrupted: its statistics do not match its documents",
						RelationGetRelationName(index)),
				 errdetail("The metapage says N = " UINT64_FORMAT " and total length " UINT64_FORMAT
						   "; the document list has " UINT64_FORMAT " and " UINT64_FORMAT ".",
						   vs->meta.ndocs, vs->meta.totalLength, vs->ndocs, vs->total)));
}

/*
 * One posting block of term t: in row order after *prevkey (any: a posting
 * came before), within the term's bounds, its header matching its
 * postings, each posting's row in the document list with the same length.
 */
static void
CheckPostingBlock(VerifyState *vs, Bm25Term t, Bm25Block blk, bool *any, uint64 *prevkey)
{
	Relation	index = vs->index;
	Bm25Posting *ps = vs->ps;
	uint32		maxtf = 0,
				mindl = PG_UINT32_MAX;

	Bm25DecodePostings(blk, ps);
	for (int i = 0; i < blk->count; i++)
	{
		DocEntry   *d;

		if (*any && ps[i].key <= *prevkey)
			Corrupt(index, "a posting list is not in row order");
		*any = true;
		*prevkey = ps[i].key;
		maxtf = Max(maxtf, ps[i].tf);
		mindl = Min(mindl, ps[i].dl);
		if (ps[i].tf > t->maxtf || ps[i].dl < t->mindl)
			Corrupt(index, "a posting is outside its term's bounds");
		d = hash_search(vs->docs, &ps[i].key, HASH_FIND, NULL);
		if (d == NULL)
			Corrupt(index, "a posting's row is not in the document list");
		if (d->dl != ps[i].dl)
			Corrupt(index, "a posting's document length differs from the document list's");
		d->seen++;
		d->tfsum += ps[i].tf;
	}
	if (blk->count > 0 &&
		(blk->first != ps[0].key || blk->last != ps[blk->count - 1].key ||
		 blk->maxtf != maxtf || blk->mindl != mindl))
		Corrupt(index, "a posting block's header does not match its postings");
}

/*
 * One term of bucket's chain: in the right bucket, its posting chain
 * checked block by block, as many postings as its df, its tail link the
 * chain's last block.
 */
static void
CheckTerm(VerifyState *vs, Bm25Term t, uint32 bucket)
{
	Relation	index = vs->index;
	uint64		count = 0;
	uint64		prevkey = 0;
	bool		any = false;
	BlockNumber pb = t->headBlk;
	OffsetNumber po = t->headOff;
	BlockNumber lastBlk = InvalidBlockNumber;
	OffsetNumber lastOff = InvalidOffsetNumber;

	if (t->hash != Bm25Hash(t->lexeme, t->len) || t->hash % vs->meta.nbuckets != bucket)
		Corrupt(index, "a term is in the wrong bucket");
	while (BlockNumberIsValid(pb))
	{
		Buffer		pbuf = ReadCheckedPage(index, pb, BM25_PAGE_POSTINGS,
										   "a posting link points to no posting block");
		Page		ppage = BufferGetPage(pbuf);
		Bm25Block	blk;

		if (po < FirstOffsetNumber || po > PageGetMaxOffsetNumber(ppage))
			Corrupt(index, "a posting link points to no posting block");
		blk = (Bm25Block) PageGetItem(ppage, PageGetItemId(ppage, po));
		CheckPostingBlock(vs, t, blk, &any, &prevkey);
		count += blk->count;
		lastBlk = pb;
		lastOff = po;
		pb = blk->nextBlk;
		po = blk->nextOff;
		UnlockReleaseBuffer(pbuf);
	}
	if (count != t->df)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is corrupted: term \"%.*s\" has df %u but " UINT64_FORMAT " postings",
						RelationGetRelationName(index), t->len, t->lexeme, t->df, count)));
	if (BlockNumberIsValid(t->headBlk) &&
		(lastBlk != t->tailBlk || lastOff != t->tailOff))
		Corrupt(index, "a term's tail link is not its last posting block");
	vs->npostings += count;
}

/* Pass 2: every term of every bucket, as many as the metapage says. */
static void
CheckDictionary(VerifyState *vs)
{
	for (uint32 bucket = 0; bucket < vs->meta.nbuckets; bucket++)
	{
		for (BlockNumber blkno = 1 + bucket; BlockNumberIsValid(blkno);)
		{
			Buffer		buf = ReadCheckedPage(vs->index, blkno, BM25_PAGE_TERMS,
											  "a term bucket chain holds a page of another kind");
			Page		page = BufferGetPage(buf);

			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			{
				vs->nterms++;
				CheckTerm(vs, (Bm25Term) PageGetItem(page, PageGetItemId(page, off)), bucket);
			}
			blkno = GvPageGetOpaque(page)->nextblkno;
			UnlockReleaseBuffer(buf);
		}
	}
	if (vs->nterms != vs->meta.nterms)
		Corrupt(vs->index, "the metapage's term count does not match the dictionary");
}

/* Pass 3: no document's postings add up to more than its length. */
static void
CheckDocumentLengths(VerifyState *vs)
{
	HASH_SEQ_STATUS seq;
	DocEntry   *d;

	hash_seq_init(&seq, vs->docs);
	while ((d = hash_seq_search(&seq)) != NULL)
		if (d->tfsum > d->dl)
		{
			/*
			 * Less is possible: an insert cut short by a crash (its row never
			 * committed; VACUUM removes it).  More never is.
			 */
			hash_seq_term(&seq);
			Corrupt(vs->index, "a document's postings add up to more than its length");
		}
}

/*
 * Check every document entry, term and posting block, under the reader
 * lock (so no insert or vacuum step is half seen): the metapage's N and
 * total length equal a recount of the document list; each term's df its
 * postings; each block's bounds its postings; blocks in TID order; every
 * posting's row in the document list with the same length, no length
 * less than the sum of its postings' tf (see README, "WAL").
 */
PG_FUNCTION_INFO_V1(gv_bm25_verify);
Datum
gv_bm25_verify(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	VerifyState vs;
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {0};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	MemSet(&vs, 0, sizeof(vs));
	vs.index = GvOpenIndexToCheck(indexoid, "gv_bm25");
	vs.ps = palloc(sizeof(Bm25Posting) * BM25_BLOCK_POSTINGS);
	LockPage(vs.index, BM25_LOCK_BLKNO, ShareLock);
	Bm25ReadMeta(vs.index, &vs.meta);
	CheckDocuments(&vs);
	CheckDictionary(&vs);
	CheckDocumentLengths(&vs);
	UnlockPage(vs.index, BM25_LOCK_BLKNO, ShareLock);

	values[0] = Int64GetDatum((int64) vs.ndocs);
	values[1] = Int64GetDatum((int64) vs.total);
	values[2] = Int64GetDatum((int64) vs.nterms);
	values[3] = Int64GetDatum((int64) vs.npostings);
	values[4] = Int64GetDatum((int64) RelationGetNumberOfBlocks(vs.index));
	relation_close(vs.index, AccessShareLock);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* ---------------------------------------------------------------------------
 * gigavector.bm25_verify_table: the index against its table
 * ---------------------------------------------------------------------------
 */

/* A posting of the index, by row and term (the term entry's place). */
typedef struct PostingKey
{
	uint64		doc;
	uint64		term;			/* block << 16 | offset of the term entry */
} PostingKey;

typedef struct PostingEntry
{
	PostingKey	key;
	uint32		tf;
	bool		seen;			/* a visible row has it */
} PostingEntry;

typedef struct TableDoc
{
	uint64		key;
	uint32		dl;
	uint32		npostings;
	bool		seen;			/* a visible row */
} TableDoc;

typedef struct TableCheckState
{
	Relation	index;
	Bm25MetaPageData meta;
	Oid			typid;
	HTAB	   *docs;
	HTAB	   *postings;
	MemoryContext rowCtx;
	int64		rows;
	int64		postingsChecked;
} TableCheckState;

static void
CorruptRow(Relation index, ItemPointer tid, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INDEX_CORRUPTED),
			 errmsg("index \"%s\" does not match its table: %s",
					RelationGetRelationName(index), what),
			 errdetail("The row is at (%u,%u) in the table.",
					   ItemPointerGetBlockNumber(tid), ItemPointerGetOffsetNumber(tid)),
			 errhint("Rebuild the index with REINDEX.")));
}

/* Every document entry and posting of the index, into s->docs and s->postings. */
static void
CollectIndex(TableCheckState *s, Bm25Posting *ps)
{
	Relation	index = s->index;
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(TableDoc);
	s->docs = hash_create("gv_bm25 verify_table documents", 1024, &ctl, HASH_ELEM | HASH_BLOBS);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(PostingKey);
	ctl.entrysize = sizeof(PostingEntry);
	s->postings = hash_create("gv_bm25 verify_table postings", 4096, &ctl, HASH_ELEM | HASH_BLOBS);

	for (BlockNumber blkno = s->meta.docHead; BlockNumberIsValid(blkno);)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		GvCheckPage(index, page, blkno, GV_PAGE_ID_BM25);
		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			Bm25Doc		doc = (Bm25Doc) PageGetItem(page, PageGetItemId(page, off));
			TableDoc   *d = hash_search(s->docs, &doc->key, HASH_ENTER, NULL);

			d->dl = doc->dl;
			d->npostings = 0;
			d->seen = false;
		}
		blkno = GvPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
	}

	for (uint32 bucket = 0; bucket < s->meta.nbuckets; bucket++)
	{
		for (BlockNumber blkno = 1 + bucket; BlockNumberIsValid(blkno);)
		{
			Buffer		buf = ReadBuffer(index, blkno);
			Page		page;

			LockBuffer(buf, BUFFER_LOCK_SHARE);
			page = BufferGetPage(buf);
			GvCheckPage(index, page, blkno, GV_PAGE_ID_BM25);
			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			{
				Bm25Term	t = (Bm25Term) PageGetItem(page, PageGetItemId(page, off));
				BlockNumber pb = t->headBlk;
				OffsetNumber po = t->headOff;

				while (BlockNumberIsValid(pb))
				{
					Buffer		pbuf = ReadBuffer(index, pb);
					Bm25Block	blk;

					LockBuffer(pbuf, BUFFER_LOCK_SHARE);
					blk = (Bm25Block) PageGetItem(BufferGetPage(pbuf),
												  PageGetItemId(BufferGetPage(pbuf), po));
					Bm25DecodePostings(blk, ps);
					for (int i = 0; i < blk->count; i++)
					{
						PostingKey	key = {ps[i].key, (uint64) blkno << 16 | off};
						PostingEntry *p = hash_search(s->postings, &key, HASH_ENTER, NULL);
						TableDoc   *d = hash_search(s->docs, &ps[i].key, HASH_FIND, NULL);

						p->tf = ps[i].tf;
						p->seen = false;
						if (d)
							d->npostings++;
					}
					pb = blk->nextBlk;
					po = blk->nextOff;
					UnlockReleaseBuffer(pbuf);
				}
			}
			blkno = GvPageGetOpaque(page)->nextblkno;
			UnlockReleaseBuffer(buf);
		}
	}
}

/*
 * A row the snapshot sees: it has a document entry of its length and a
 * posting of each of its terms with its tf, and no other posting (the
 * count of its postings equals its distinct terms).
 */
static void
CheckRowCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
				 bool tupleIsAlive pg_attribute_unused(), void *state)
{
	TableCheckState *s = state;
	uint64		key = Bm25TidKey(tid);
	TableDoc   *d;
	Bm25Bag    *bag;
	MemoryContext old;

	if (isnull[0])
	{
		if (hash_search(s->docs, &key, HASH_FIND, NULL) != NULL)
			CorruptRow(index, tid, "a row whose value is NULL has a document entry");
		return;
	}
	d = hash_search(s->docs, &key, HASH_FIND, NULL);
	if (d == NULL)
		CorruptRow(index, tid, "a row of the table is not in the document list");
	old = MemoryContextSwitchTo(s->rowCtx);
	bag = Bm25TokenizeDatum(s->meta.cfg, s->typid, values[0]);
	if (d->dl != (uint32) Min(bag->length, PG_UINT32_MAX))
		CorruptRow(index, tid, "a row's length differs from its document entry's");
	for (int i = 0; i < bag->nterms; i++)
	{
		Bm25TermData term;
		ItemPointerData where;
		PostingKey	pk;
		PostingEntry *p;

		if (!Bm25FindTerm(index, &s->meta, bag->terms[i].lexeme, bag->terms[i].len, &term, &where))
			CorruptRow(index, tid, "a term of a row is not in the term dictionary");
		pk.doc = key;
		pk.term = (uint64) ItemPointerGetBlockNumber(&where) << 16 | ItemPointerGetOffsetNumber(&where);
		p = hash_search(s->postings, &pk, HASH_FIND, NULL);
		if (p == NULL)
			CorruptRow(index, tid, "a term of a row has no posting for it");
		if (p->tf != bag->terms[i].tf)
			CorruptRow(index, tid, "a posting's term frequency differs from the row's");
		p->seen = true;
	}
	if (d->npostings != (uint32) bag->nterms)
		CorruptRow(index, tid, "a row has postings of terms it does not contain");
	d->seen = true;
	s->rows++;
	s->postingsChecked += bag->nterms;
	MemoryContextSwitchTo(old);
	MemoryContextReset(s->rowCtx);
}

/*
 * A document entry no visible row claimed: its row is deleted and not yet
 * vacuumed, or not committed (yet, or ever).  Either way its line pointer
 * is still in use; one VACUUM has set unused (or a block or item beyond
 * the table's end) means VACUUM removed the row and left its entry.
 */
static bool
RowRemoved(Relation heap, BlockNumber nblocks, ItemPointer tid)
{
	Buffer		buf;
	Page		page;
	bool		removed;
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);

	if (ItemPointerGetBlockNumber(tid) >= nblocks)
		return true;
	buf = ReadBuffer(heap, ItemPointerGetBlockNumber(tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	removed = off > PageGetMaxOffsetNumber(page) || !ItemIdIsUsed(PageGetItemId(page, off));
	UnlockReleaseBuffer(buf);
	return removed;
}

/*
 * Check the index against its table under an MVCC snapshot and the reader
 * lock (no insert or VACUUM step of the index meanwhile): every row the
 * snapshot sees is indexed exactly (CheckRowCallback); every other document
 * entry's row is still there, dead or uncommitted (RowRemoved): after a
 * VACUUM with no older snapshot open there is none left, so the count
 * returned, invisible_documents, is 0.  Postings of rows no snapshot sees
 * are left to bm25_verify (they point to a document entry).
 */
PG_FUNCTION_INFO_V1(gv_bm25_verify_table);
Datum
gv_bm25_verify_table(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	TableCheckState s = {0};
	Relation	heap;
	IndexInfo  *indexInfo;
	TableScanDesc scan;
	Snapshot	snapshot;
	TupleDesc	tupdesc;
	HASH_SEQ_STATUS seq;
	TableDoc   *d;
	int64		invisible = 0;
	BlockNumber nblocks;
	Datum		values[3];
	bool		nulls[3] = {0};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	s.index = GvOpenIndexToCheck(indexoid, "gv_bm25");
	heap = table_open(s.index->rd_index->indrelid, AccessShareLock);
	s.typid = Bm25ColumnType(s.index);
	s.rowCtx = AllocSetContextCreate(CurrentMemoryContext, "gv_bm25 verify_table row",
									 ALLOCSET_DEFAULT_SIZES);

	LockPage(s.index, BM25_LOCK_BLKNO, ShareLock);
	Bm25ReadMeta(s.index, &s.meta);
	CollectIndex(&s, palloc(sizeof(Bm25Posting) * BM25_BLOCK_POSTINGS));

	/* a snapshot taken under the lock: every row it sees is in the index */
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	indexInfo = BuildIndexInfo(s.index);
	indexInfo->ii_Concurrent = true;	/* an MVCC scan, as CREATE INDEX
										 * CONCURRENTLY's */
	scan = table_beginscan_strat(heap, snapshot, 0, NULL, true, true);
	table_index_build_scan(heap, s.index, indexInfo, true, false, CheckRowCallback, &s, scan);

	nblocks = RelationGetNumberOfBlocks(heap);
	hash_seq_init(&seq, s.docs);
	while ((d = hash_seq_search(&seq)) != NULL)
	{
		ItemPointerData tid;

		if (d->seen)
			continue;
		Bm25KeyTid(d->key, &tid);
		if (RowRemoved(heap, nblocks, &tid))
		{
			hash_seq_term(&seq);
			CorruptRow(s.index, &tid, "a document entry's row has been removed from the table");
		}
		invisible++;
	}
	UnregisterSnapshot(snapshot);
	UnlockPage(s.index, BM25_LOCK_BLKNO, ShareLock);

	values[0] = Int64GetDatum(s.rows);
	values[1] = Int64GetDatum(s.postingsChecked);
	values[2] = Int64GetDatum(invisible);
	table_close(heap, AccessShareLock);
	relation_close(s.index, AccessShareLock);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
