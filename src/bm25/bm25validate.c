/*
 * bm25validate.c
 *	  Operator class validation and gigavector.bm25_verify: a full check of
 *	  a gv_bm25 index's structure and statistics.
 */
#include "compat.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "bm25.h"
#include "catalog/pg_opclass.h"
#include "funcapi.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/syscache.h"

bool
bm25validate(Oid opclassoid)
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
	Relation	index = GvOpenIndexToCheck(indexoid, "gv_bm25");
	Bm25MetaPageData meta;
	TupleDesc	tupdesc;
	HASHCTL		ctl;
	HTAB	   *docs;
	uint64		ndocs = 0;
	uint64		total = 0;
	uint64		nterms = 0;
	uint64		npostings = 0;
	Bm25Posting *ps = palloc(sizeof(Bm25Posting) * BM25_BLOCK_POSTINGS);
	Datum		values[5];
	bool		nulls[5] = {0};
	HASH_SEQ_STATUS seq;
	DocEntry   *d;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	LockPage(index, BM25_LOCK_BLKNO, ShareLock);
	Bm25ReadMeta(index, &meta);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(DocEntry);
	docs = hash_create("gv_bm25 verify", 1024, &ctl, HASH_ELEM | HASH_BLOBS);

	for (BlockNumber blkno = meta.docHead; BlockNumberIsValid(blkno);)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		GvCheckPage(index, page, blkno, GV_PAGE_ID_BM25);
		if (GvPageGetOpaque(page)->flags != BM25_PAGE_DOCS)
			Corrupt(index, "the document list holds a page of another kind");
		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			Bm25Doc		doc = (Bm25Doc) PageGetItem(page, PageGetItemId(page, off));
			bool		found;

			d = hash_search(docs, &doc->key, HASH_ENTER, &found);
			if (found)
				Corrupt(index, "a row is in the document list twice");
			d->dl = doc->dl;
			d->seen = 0;
			d->tfsum = 0;
			ndocs++;
			total += doc->dl;
		}
		blkno = GvPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
	}
	if (ndocs != meta.ndocs || total != meta.totalLength)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is corrupted: its statistics do not match its documents",
						RelationGetRelationName(index)),
				 errdetail("The metapage says N = " UINT64_FORMAT " and total length " UINT64_FORMAT
						   "; the document list has " UINT64_FORMAT " and " UINT64_FORMAT ".",
						   meta.ndocs, meta.totalLength, ndocs, total)));

	for (uint32 bucket = 0; bucket < meta.nbuckets; bucket++)
	{
		for (BlockNumber blkno = 1 + bucket; BlockNumberIsValid(blkno);)
		{
			Buffer		buf = ReadBuffer(index, blkno);
			Page		page;

			LockBuffer(buf, BUFFER_LOCK_SHARE);
			page = BufferGetPage(buf);
			GvCheckPage(index, page, blkno, GV_PAGE_ID_BM25);
			if (GvPageGetOpaque(page)->flags != BM25_PAGE_TERMS)
				Corrupt(index, "a term bucket chain holds a page of another kind");
			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			{
				Bm25Term	t = (Bm25Term) PageGetItem(page, PageGetItemId(page, off));
				uint64		count = 0;
				uint64		prevkey = 0;
				bool		any = false;
				BlockNumber pb = t->headBlk;
				OffsetNumber po = t->headOff;
				BlockNumber lastBlk = InvalidBlockNumber;
				OffsetNumber lastOff = InvalidOffsetNumber;

				nterms++;
				if (t->hash != Bm25Hash(t->lexeme, t->len) || t->hash % meta.nbuckets != bucket)
					Corrupt(index, "a term is in the wrong bucket");
				while (BlockNumberIsValid(pb))
				{
					Buffer		pbuf = ReadBuffer(index, pb);
					Page		ppage;
					Bm25Block	blk;
					uint32		maxtf = 0,
								mindl = PG_UINT32_MAX;

					LockBuffer(pbuf, BUFFER_LOCK_SHARE);
					ppage = BufferGetPage(pbuf);
					GvCheckPage(index, ppage, pb, GV_PAGE_ID_BM25);
					if (GvPageGetOpaque(ppage)->flags != BM25_PAGE_POSTINGS ||
						po < FirstOffsetNumber || po > PageGetMaxOffsetNumber(ppage))
						Corrupt(index, "a posting link points to no posting block");
					blk = (Bm25Block) PageGetItem(ppage, PageGetItemId(ppage, po));
					Bm25DecodePostings(blk, ps);
					for (int i = 0; i < blk->count; i++)
					{
						if (any && ps[i].key <= prevkey)
							Corrupt(index, "a posting list is not in row order");
						any = true;
						prevkey = ps[i].key;
						maxtf = Max(maxtf, ps[i].tf);
						mindl = Min(mindl, ps[i].dl);
						if (ps[i].tf > t->maxtf || ps[i].dl < t->mindl)
							Corrupt(index, "a posting is outside its term's bounds");
						d = hash_search(docs, &ps[i].key, HASH_FIND, NULL);
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
				npostings += count;
			}
			blkno = GvPageGetOpaque(page)->nextblkno;
			UnlockReleaseBuffer(buf);
		}
	}
	if (nterms != meta.nterms)
		Corrupt(index, "the metapage's term count does not match the dictionary");

	hash_seq_init(&seq, docs);
	while ((d = hash_seq_search(&seq)) != NULL)
		if (d->tfsum > d->dl)
		{
			/*
			 * Less is possible: an insert cut short by a crash (its row
			 * never committed; VACUUM removes it).  More never is.
			 */
			hash_seq_term(&seq);
			Corrupt(index, "a document's postings add up to more than its length");
		}

	UnlockPage(index, BM25_LOCK_BLKNO, ShareLock);
	values[0] = Int64GetDatum((int64) ndocs);
	values[1] = Int64GetDatum((int64) total);
	values[2] = Int64GetDatum((int64) nterms);
	values[3] = Int64GetDatum((int64) npostings);
	values[4] = Int64GetDatum((int64) RelationGetNumberOfBlocks(index));
	relation_close(index, AccessShareLock);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
