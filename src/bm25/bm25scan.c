/*
 * bm25scan.c
 *	  Index scans of gv_bm25: rows best first by BM25 (ORDER BY <&>), or the
 *	  rows matching a query (WHERE @@@).
 *
 * A scan works in rounds.  A round finds the k best rows that rank after
 * the last row already returned (score descending, then heap TID), with
 * MaxScore over the query terms' posting lists: terms are ordered by the
 * most they can add to a score, and the longest prefix of them whose
 * bounds sum to no more than the k-th best score so far is not iterated
 * ("non-essential"): their lists are only probed, by skipping blocks, for
 * rows the other lists bring up, and a row is dropped as soon as its
 * partial score plus the bounds of the lists still to probe cannot reach
 * the k-th best.  Each block's own bound (its highest tf and lowest
 * document length) tightens both tests.  The first round takes k = 10, as
 * a LIMIT 10 needs; each further one eight times the last, so a filter
 * that rejects rows never starves the query: the scan goes on until every
 * matching row has been returned.  A row matching no term is never
 * returned.
 *
 * Scores come from the statistics the query value carries (bm25query
 * read them), summed in query-term order, so they are bit for bit the
 * <&> operator's and bm25_score's for the same row.
 */
#include "compat.h"

#include <math.h>

#include "access/relscan.h"
#include "bm25.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#define BM25_FIRST_ROUND	10
#define BM25_ROUND_GROWTH	8
#define BM25_KEY_END		PG_UINT64_MAX
/* bounds are raised by this much so rounding never makes one too low */
#define BM25_BOUND_SLACK	(1.0 + 1e-9)

typedef struct Bm25Hit
{
	double		score;
	uint64		key;
} Bm25Hit;

/* a worse hit: lower score, or the same score and a later row */
#define GV_HEAP_PREFIX		hit
#define GV_HEAP_ELEMENT		Bm25Hit
#define GV_HEAP_LESS(a, b)	((a)->score < (b)->score || \
							 ((a)->score == (b)->score && (a)->key > (b)->key))
#include "gvheap.h"

/* A position in one term's posting list. */
typedef struct Cursor
{
	int			qi;				/* the query term */
	double		idf;
	double		bound;			/* the most the term adds to a score */
	double		blockBound;		/* ... within the current block */
	BlockNumber nextBlk;		/* of the current block */
	OffsetNumber nextOff;
	Bm25Block	blk;			/* the current block (a copy) */
	Size		blkcap;
	Bm25Posting *postings;		/* decoded, or NULL */
	int			pos;
	uint64		key;			/* current row, BM25_KEY_END at the end */
} Cursor;

typedef struct Bm25ScanOpaqueData
{
	MemoryContext roundCtx;
	Bm25Query	query;			/* the query that drives the scan, or NULL */
	bool		empty;			/* a NULL query: nothing matches */
	bool		recheck;		/* the executor rechecks the @@@ quals */
	bool		done;			/* every matching row has been returned */
	int			roundK;
	/* the last row returned: later rounds rank after it */
	bool		started;
	Bm25Hit		last;
	/* this round's hits, best first */
	Bm25Hit    *hits;
	int			nhits;
	int			next;
	uint64		generation;		/* of the query, for LastReturned */
	/* scoring constants */
	double		avgdl;
	Bm25MetaPageData meta;
} Bm25ScanOpaqueData;

typedef Bm25ScanOpaqueData *Bm25ScanOpaque;

/*
 * The row an ordered scan returned last, its score and (a copy of) the
 * query it was scored for, for bm25_scan_distance (bm25planner.c): valid in
 * the transaction that set it, while that scan runs.
 */
typedef struct LastReturnedData
{
	uint64		generation;		/* the scan's query; 0: nothing */
	LocalTransactionId lxid;
	uint64		key;
	double		score;
	char	   *query;			/* in TopMemoryContext */
	Size		qsize;
	Size		qcap;
} LastReturnedData;

static LastReturnedData lastReturned;
static uint64 queryGeneration = 0;

static void
RememberReturned(Bm25ScanOpaque so, Bm25Hit *h)
{
	if (lastReturned.generation != so->generation || lastReturned.lxid != MyProc->lxid)
	{
		Size		size = VARSIZE(so->query);

		if (size > lastReturned.qcap)
		{
			if (lastReturned.query)
				pfree(lastReturned.query);
			lastReturned.query = MemoryContextAlloc(TopMemoryContext, size);
			lastReturned.qcap = size;
		}
		memcpy(lastReturned.query, so->query, size);
		lastReturned.qsize = size;
		lastReturned.generation = so->generation;
		lastReturned.lxid = MyProc->lxid;
	}
	lastReturned.key = h->key;
	lastReturned.score = h->score;
}

static void
ForgetReturned(Bm25ScanOpaque so)
{
	if (lastReturned.generation == so->generation)
		lastReturned.generation = 0;
}

/*
 * The score an ordered scan gave the row at tid for query q, if that is
 * the row it returned last: true and *score set, else false.
 */
bool
Bm25ScanScore(Bm25Query q, ItemPointer tid, double *score)
{
	if (lastReturned.generation == 0 || lastReturned.lxid != MyProc->lxid ||
		lastReturned.key != Bm25TidKey(tid) || lastReturned.qsize != VARSIZE(q) ||
		memcmp(lastReturned.query, q, lastReturned.qsize) != 0)
		return false;
	*score = lastReturned.score;
	return true;
}

IndexScanDesc
bm25beginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	Bm25ScanOpaque so = palloc0(sizeof(Bm25ScanOpaqueData));

	so->roundCtx = AllocSetContextCreate(CurrentMemoryContext, "gv_bm25 scan round",
										 ALLOCSET_DEFAULT_SIZES);
	if (norderbys > 0)
	{
		scan->xs_orderbyvals = palloc0(sizeof(Datum) * norderbys);
		scan->xs_orderbynulls = palloc(sizeof(bool) * norderbys);
		memset(scan->xs_orderbynulls, true, sizeof(bool) * norderbys);
	}
	scan->opaque = so;
	return scan;
}

static bool
SameQuery(Bm25Query a, Bm25Query b)
{
	return VARSIZE(a) == VARSIZE(b) && memcmp(a, b, VARSIZE(a)) == 0;
}

void
bm25rescan(IndexScanDesc scan, ScanKey keys, int nkeys pg_attribute_unused(), ScanKey orderbys,
		   int norderbys pg_attribute_unused())
{
	Bm25ScanOpaque so = (Bm25ScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;

	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));

	MemoryContextReset(so->roundCtx);
	ForgetReturned(so);
	so->generation = ++queryGeneration;
	if (so->query)
		pfree(so->query);
	so->query = NULL;
	so->empty = false;
	so->recheck = false;
	so->done = false;
	so->started = false;
	so->roundK = BM25_FIRST_ROUND;
	so->hits = NULL;
	so->nhits = so->next = 0;

	/* the ORDER BY's query drives the scan, else the first @@@'s */
	for (int i = 0; i < scan->numberOfOrderBys && !so->empty; i++)
	{
		ScanKey		k = &scan->orderByData[i];

		if (k->sk_flags & SK_ISNULL)
			so->empty = true;
		else if (so->query == NULL)
		{
			Bm25Query	q = DatumGetBm25Query(k->sk_argument);

			so->query = palloc(VARSIZE(q));
			memcpy(so->query, q, VARSIZE(q));
		}
	}
	for (int i = 0; i < scan->numberOfKeys && !so->empty; i++)
	{
		ScanKey		k = &scan->keyData[i];
		Bm25Query	q;

		if (k->sk_flags & SK_ISNULL)
		{
			so->empty = true;
			break;
		}
		q = DatumGetBm25Query(k->sk_argument);
		if (so->query == NULL)
		{
			so->query = palloc(VARSIZE(q));
			memcpy(so->query, q, VARSIZE(q));
		}
		else if (!SameQuery(so->query, q))
			so->recheck = true;
		if (q->mode == BM25_MODE_PHRASE)
			so->recheck = true;
	}

	if (so->query && so->query->indexoid != RelationGetRelid(index))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the bm25query is for index \"%s\", but the scan uses index \"%s\"",
						get_rel_name(so->query->indexoid) ? get_rel_name(so->query->indexoid) : "?",
						RelationGetRelationName(index)),
				 errhint("Name the gv_bm25 index of the column the query searches in bm25query().")));
	if (so->query == NULL || so->query->nterms == 0)
		so->empty = true;
	if (so->query)
		so->avgdl = Bm25QueryAvgdl(so->query);
}

/* ---------------------------------------------------------------------------
 * Cursors
 * ---------------------------------------------------------------------------
 */

static void
CursorSetEnd(Cursor *c)
{
	c->key = BM25_KEY_END;
	c->blockBound = 0;
}

static double
BlockBound(Bm25ScanOpaque so, Cursor *c, uint32 maxtf, uint32 mindl)
{
	Bm25Query	q = so->query;

	return Bm25TermScore(c->idf, maxtf, mindl, so->avgdl, q->k1, q->b) * BM25_BOUND_SLACK;
}

/*
 * Load the block at (blkno, off), or the first non-empty one after it;
 * not decoded.  Sets key to the block's first row.
 */
static void
CursorLoad(Relation index, Bm25ScanOpaque so, Cursor *c, BlockNumber blkno, OffsetNumber off)
{
	while (BlockNumberIsValid(blkno))
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		ItemId		iid;
		Size		len;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		GvCheckPage(index, page, blkno, GV_PAGE_ID_BM25);
		if (off < FirstOffsetNumber || off > PageGetMaxOffsetNumber(page))
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has a posting link to a missing item (%u,%u)",
							RelationGetRelationName(index), blkno, off)));
		iid = PageGetItemId(page, off);
		/* the data, not the room an insert left after it */
		len = Min(ItemIdGetLength(iid),
				  BM25_BLOCK_HEADER + ((Bm25Block) PageGetItem(page, iid))->nbytes);
		if (len > c->blkcap)
		{
			c->blkcap = Max(len, BM25_BLOCK_HEADER + BM25_BLOCK_POSTINGS * BM25_POSTING_MAXBYTES);
			c->blk = c->blk ? repalloc(c->blk, c->blkcap) : palloc(c->blkcap);
		}
		memcpy(c->blk, PageGetItem(page, iid), len);
		UnlockReleaseBuffer(buf);

		blkno = c->blk->nextBlk;
		off = c->blk->nextOff;
		if (c->blk->count == 0)
			continue;
		c->nextBlk = blkno;
		c->nextOff = off;
		c->pos = 0;
		c->key = c->blk->first;
		c->blockBound = BlockBound(so, c, c->blk->maxtf, c->blk->mindl);
		if (c->postings == NULL)
			c->postings = palloc(sizeof(Bm25Posting) * BM25_BLOCK_POSTINGS);
		c->pos = -1;			/* not decoded */
		return;
	}
	CursorSetEnd(c);
}

static inline void
CursorDecode(Cursor *c)
{
	if (c->pos < 0)
	{
		Bm25DecodePostings(c->blk, c->postings);
		c->pos = 0;
	}
}

static void
CursorNext(Relation index, Bm25ScanOpaque so, Cursor *c)
{
	CursorDecode(c);
	if (++c->pos < c->blk->count)
		c->key = c->postings[c->pos].key;
	else
		CursorLoad(index, so, c, c->nextBlk, c->nextOff);
}

/* Move to the first row at or after target. */
static void
CursorSeek(Relation index, Bm25ScanOpaque so, Cursor *c, uint64 target)
{
	while (c->key < target)
	{
		if (c->blk->last < target)
		{
			CursorLoad(index, so, c, c->nextBlk, c->nextOff);
			continue;
		}
		CursorDecode(c);
		while (c->postings[c->pos].key < target)
			c->pos++;
		c->key = c->postings[c->pos].key;
	}
}

static inline double
CursorScore(Bm25ScanOpaque so, Cursor *c)
{
	Bm25Query	q = so->query;
	Bm25Posting *p;

	CursorDecode(c);
	p = &c->postings[c->pos];
	return Bm25TermScore(c->idf, p->tf, p->dl, so->avgdl, q->k1, q->b);
}

/* ---------------------------------------------------------------------------
 * A round
 * ---------------------------------------------------------------------------
 */

typedef struct Round
{
	Bm25ScanOpaque so;
	Relation	index;
	Cursor	   *cursors;
	int			ncursors;
	double	   *contrib;		/* per query term, for the row being scored */
	hit_heap	heap;
	int			k;
} Round;

/* Offer a fully scored row to the round's top k. */
static void
Offer(Round *r, uint64 key, int *touched, int ntouched)
{
	Bm25ScanOpaque so = r->so;
	Bm25Hit		h;

	h.score = 0.0;
	for (int i = 0; i < so->query->nterms; i++)
		h.score += r->contrib[i];
	h.key = key;
	for (int i = 0; i < ntouched; i++)
		r->contrib[touched[i]] = 0.0;
	/* rows up to the last one returned came out in an earlier round */
	if (so->started && !(h.score < so->last.score ||
						 (h.score == so->last.score && h.key > so->last.key)))
		return;
	hit_offer(&r->heap, &h, r->k, NULL);
}

static double
Threshold(Round *r)
{
	if (hit_size(&r->heap) < r->k)
		return -get_float8_infinity();
	return hit_top(&r->heap)->score;
}

static int
CompareBound(const void *a, const void *b)
{
	const Cursor *x = a;
	const Cursor *y = b;

	return (x->bound > y->bound) - (x->bound < y->bound);
}

/*
 * Block-max skip: every row up to the first end of an essential list's
 * current block (up) is in the current block of each essential list that
 * has it, so rest (the non-essential lists' bounds) plus those blocks'
 * bounds bounds its score.  If that cannot beat theta, move every essential
 * list past up -- whole blocks, not decoded -- and return true.
 */
static bool
SkipBlocks(Round *r, int e, double rest, double theta)
{
	Cursor	   *cs = r->cursors;
	uint64		up = BM25_KEY_END;
	double		bound = rest;

	for (int i = e; i < r->ncursors; i++)
		if (cs[i].key != BM25_KEY_END)
		{
			bound += cs[i].blockBound;
			up = Min(up, cs[i].blk->last);
		}
	if (bound > theta || up == BM25_KEY_END)
		return false;
	for (int i = e; i < r->ncursors; i++)
		CursorSeek(r->index, r->so, &cs[i], up + 1);
	return true;
}

/* Any term (OR): MaxScore with block bounds. */
static void
RoundOr(Round *r)
{
	Cursor	   *cs = r->cursors;
	int			n = r->ncursors;
	double	   *prefix = palloc(sizeof(double) * n);
	int		   *touched = palloc(sizeof(int) * n);

	qsort(cs, n, sizeof(Cursor), CompareBound);
	for (int i = 0; i < n; i++)
		prefix[i] = cs[i].bound + (i > 0 ? prefix[i - 1] : 0.0);

	for (;;)
	{
		double		theta = Threshold(r);
		int			e = 0;
		uint64		d = BM25_KEY_END;
		double		bound;
		double		s = 0.0;
		int			ntouched = 0;
		bool		pruned = false;

		while (e < n && prefix[e] <= theta)
			e++;
		if (e == n)
			break;				/* no row can enter the top k */
		for (int i = e; i < n; i++)
			d = Min(d, cs[i].key);
		if (d == BM25_KEY_END)
			break;

		bound = e > 0 ? prefix[e - 1] : 0.0;
		if (SkipBlocks(r, e, bound, theta))
			continue;
		for (int i = e; i < n; i++)
			if (cs[i].key == d)
				bound += cs[i].blockBound;
		if (bound <= theta)
		{
			for (int i = e; i < n; i++)
				if (cs[i].key == d)
					CursorNext(r->index, r->so, &cs[i]);
			continue;
		}

		for (int i = e; i < n; i++)
			if (cs[i].key == d)
			{
				double		v = CursorScore(r->so, &cs[i]);

				r->contrib[cs[i].qi] = v;
				touched[ntouched++] = cs[i].qi;
				s += v;
				CursorNext(r->index, r->so, &cs[i]);
			}
		for (int i = e - 1; i >= 0; i--)
		{
			if (s + prefix[i] <= theta)
			{
				pruned = true;
				break;
			}
			CursorSeek(r->index, r->so, &cs[i], d);
			if (cs[i].key == d)
			{
				double		v = CursorScore(r->so, &cs[i]);

				r->contrib[cs[i].qi] = v;
				touched[ntouched++] = cs[i].qi;
				s += v;
			}
		}
		if (pruned)
		{
			for (int i = 0; i < ntouched; i++)
				r->contrib[touched[i]] = 0.0;
			continue;
		}
		Offer(r, d, touched, ntouched);
		CHECK_FOR_INTERRUPTS();
	}
}

static int
CompareDf(const void *a, const void *b)
{
	const Cursor *x = a;
	const Cursor *y = b;

	/* the highest bound is the rarest term */
	return (x->bound < y->bound) - (x->bound > y->bound);
}

/* Every term (AND, and the candidates of a phrase): leapfrog. */
static void
RoundAnd(Round *r)
{
	Cursor	   *cs = r->cursors;
	int			n = r->ncursors;
	int		   *touched = palloc(sizeof(int) * n);
	double		total = 0.0;

	if (n < r->so->query->nterms)
		return;					/* a term no row has */
	qsort(cs, n, sizeof(Cursor), CompareDf);
	for (int i = 0; i < n; i++)
		total += cs[i].bound;

	while (cs[0].key != BM25_KEY_END)
	{
		uint64		d = cs[0].key;
		bool		all = true;
		double		bound = 0.0;

		for (int i = 1; i < n; i++)
		{
			CursorSeek(r->index, r->so, &cs[i], d);
			if (cs[i].key != d)
			{
				all = false;
				if (cs[i].key == BM25_KEY_END)
					return;
				CursorSeek(r->index, r->so, &cs[0], cs[i].key);
				break;
			}
		}
		if (!all)
			continue;
		for (int i = 0; i < n; i++)
			bound += cs[i].blockBound;
		if (bound > Threshold(r) && total > Threshold(r))
		{
			for (int i = 0; i < n; i++)
			{
				r->contrib[cs[i].qi] = CursorScore(r->so, &cs[i]);
				touched[i] = cs[i].qi;
			}
			Offer(r, d, touched, n);
		}
		CursorNext(r->index, r->so, &cs[0]);
		CHECK_FOR_INTERRUPTS();
	}
}

static int
CompareHits(const void *a, const void *b)
{
	const Bm25Hit *x = a;
	const Bm25Hit *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return (x->key > y->key) - (x->key < y->key);
}

/*
 * Find the next roundK rows.  Holds the index's reader lock (share) while
 * it reads, so no insert or vacuum step is half seen.
 */
static void
RunRound(IndexScanDesc scan)
{
	Bm25ScanOpaque so = (Bm25ScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	Bm25Query	q = so->query;
	MemoryContext old;
	Round		r;

	MemoryContextReset(so->roundCtx);
	old = MemoryContextSwitchTo(so->roundCtx);

	r.so = so;
	r.index = index;
	r.k = so->roundK;
	r.cursors = palloc0(sizeof(Cursor) * q->nterms);
	r.ncursors = 0;
	r.contrib = palloc0(sizeof(double) * q->nterms);
	hit_init_alloc(&r.heap, Min(r.k, 1 << 20));

	LockPage(index, BM25_LOCK_BLKNO, ShareLock);
	Bm25ReadMeta(index, &so->meta);
	for (int i = 0; i < q->nterms; i++)
	{
		int			len;
		char	   *lex = Bm25QueryLexeme(q, i, &len);
		Bm25TermData t;
		ItemPointerData where;
		Cursor	   *c = &r.cursors[r.ncursors];

		if (!Bm25FindTerm(index, &so->meta, lex, len, &t, &where) || t.df == 0 ||
			!BlockNumberIsValid(t.headBlk))
			continue;
		c->qi = i;
		c->idf = Bm25Idf(q->ndocs, Bm25QueryDf(q)[i]);
		c->bound = Bm25TermScore(c->idf, t.maxtf, t.mindl, so->avgdl, q->k1, q->b) *
			BM25_BOUND_SLACK;
		CursorLoad(index, so, c, t.headBlk, t.headOff);
		if (c->key != BM25_KEY_END)
			r.ncursors++;
	}
	if (r.ncursors > 0)
	{
		if (q->mode == BM25_MODE_OR)
			RoundOr(&r);
		else
			RoundAnd(&r);
	}
	UnlockPage(index, BM25_LOCK_BLKNO, ShareLock);

	so->nhits = hit_size(&r.heap);
	so->hits = r.heap.items;
	qsort(so->hits, so->nhits, sizeof(Bm25Hit), CompareHits);
	so->next = 0;
	if (so->nhits < r.k)
		so->done = true;
	so->roundK = (int) Min((int64) so->roundK * BM25_ROUND_GROWTH, 1 << 20);
	MemoryContextSwitchTo(old);
}

bool
bm25gettuple(IndexScanDesc scan, ScanDirection dir pg_attribute_unused())
{
	Bm25ScanOpaque so = (Bm25ScanOpaque) scan->opaque;
	Bm25Hit    *h;

	if (so->empty)
		return false;
	if (so->next >= so->nhits)
	{
		if (so->done)
			return false;
		if (!so->started)
			pgstat_count_index_scan(scan->indexRelation);
		RunRound(scan);
		if (so->nhits == 0)
			return false;
	}
	h = &so->hits[so->next++];
	so->last = *h;
	so->started = true;
	Bm25KeyTid(h->key, &scan->xs_heaptid);
	scan->xs_recheck = so->recheck;
	if (scan->numberOfOrderBys > 0)
	{
		scan->xs_orderbyvals[0] = Float8GetDatum(-h->score);
		scan->xs_orderbynulls[0] = false;
		scan->xs_recheckorderby = false;
		RememberReturned(so, h);
	}
	return true;
}

void
bm25endscan(IndexScanDesc scan)
{
	Bm25ScanOpaque so = (Bm25ScanOpaque) scan->opaque;

	ForgetReturned(so);
	MemoryContextDelete(so->roundCtx);
	if (so->query)
		pfree(so->query);
	pfree(so);
	scan->opaque = NULL;
}
