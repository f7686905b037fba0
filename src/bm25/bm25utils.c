/*
 * bm25utils.c
 *	  What the files of gv_bm25 share: tokenising (PostgreSQL's text search
 *	  parser and dictionaries, every occurrence counted), the term
 *	  dictionary's lookup, the posting blocks' encoding, and the bm25query
 *	  type with its functions and operators (<&>, @@@, bm25_score).
 */
#include "compat.h"

#include <math.h>

#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "bm25.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "utils/array.h"
#include "storage/lmgr.h"
#include "tsearch/ts_cache.h"
#include "tsearch/ts_type.h"
#include "tsearch/ts_utils.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/* Text is tokenised in pieces of about this many bytes, cut at white space. */
#define BM25_CHUNK_BYTES	(1024 * 1024)

Oid
Bm25AmOid(void)
{
	return get_index_am_oid("gv_bm25", false);
}

/*
 * Copy the metapage; checks magic and version.
 */
void
Bm25ReadMeta(Relation index, Bm25MetaPage meta)
{
	(void) GvReadMetaPage(index, GV_PAGE_ID_BM25, meta, sizeof(Bm25MetaPageData));
	GvCheckMetaHeader(index, &meta->header, BM25_MAGIC, BM25_VERSION);
}

uint32
Bm25Hash(const char *lexeme, int len)
{
	return hash_bytes((const unsigned char *) lexeme, len);
}

/* The type of the index's column: text (or varchar) or tsvector. */
Oid
Bm25ColumnType(Relation index)
{
	return TupleDescAttr(RelationGetDescr(index), 0)->atttypid;
}

/* ---------------------------------------------------------------------------
 * Tokens
 * ---------------------------------------------------------------------------
 */

typedef struct Bm25Word
{
	char	   *word;
	int			len;
} Bm25Word;

static int
CompareLexemes(const char *a, int alen, const char *b, int blen)
{
	int			c = memcmp(a, b, Min(alen, blen));

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

static int
CompareWords(const void *a, const void *b)
{
	const Bm25Word *x = a;
	const Bm25Word *y = b;

	return CompareLexemes(x->word, x->len, y->word, y->len);
}

/*
 * Every lexeme occurrence of a text, in text order, as to_tsvector finds
 * them (parsetext) but with no cap on occurrences and no size limit: the
 * text is parsed in pieces cut at ASCII white space, which no token holds.
 */
static Bm25Word *
TextWords(Oid cfg, const char *buf, int64 len, int *nwords)
{
	Bm25Word   *words = NULL;
	int			n = 0;
	int			cap = 0;
	int64		start = 0;

	while (start < len)
	{
		int64		end = Min(len, start + BM25_CHUNK_BYTES);
		ParsedText	prs;

		/* extend to the next white space, so no token is cut */
		while (end < len && !(buf[end] == ' ' || buf[end] == '\n' ||
							  buf[end] == '\t' || buf[end] == '\r'))
			end++;

		prs.lenwords = Max((end - start) / 6, 2);
		prs.curwords = 0;
		prs.pos = 0;
		prs.words = (ParsedWord *) palloc(sizeof(ParsedWord) * prs.lenwords);
		parsetext(cfg, &prs, (char *) buf + start, (int32) (end - start));

		if (n + prs.curwords > cap)
		{
			cap = Max(cap * 2, n + prs.curwords + 16);
			words = words ? repalloc_huge(words, sizeof(Bm25Word) * cap)
				: palloc_extended(sizeof(Bm25Word) * cap, MCXT_ALLOC_HUGE);
		}
		for (int i = 0; i < prs.curwords; i++)
		{
			words[n].word = prs.words[i].word;
			words[n].len = prs.words[i].len;
			n++;
		}
		pfree(prs.words);
		CHECK_FOR_INTERRUPTS();
		start = end;
	}
	*nwords = n;
	return words;
}

/* Distinct words with their counts, sorted by (bytes, length). */
static Bm25Bag *
BagOfWords(Bm25Word *words, int n)
{
	Bm25Bag    *bag = palloc0(sizeof(Bm25Bag));

	bag->length = n;
	if (n == 0)
		return bag;
	qsort(words, n, sizeof(Bm25Word), CompareWords);
	bag->terms = palloc_extended(sizeof(Bm25TermCount) * n, MCXT_ALLOC_HUGE);
	for (int i = 0; i < n; i++)
	{
		if (bag->nterms > 0 &&
			CompareWords(&words[i], &words[i - 1]) == 0)
		{
			bag->terms[bag->nterms - 1].tf++;
			continue;
		}
		bag->terms[bag->nterms].lexeme = words[i].word;
		bag->terms[bag->nterms].len = words[i].len;
		bag->terms[bag->nterms].tf = 1;
		bag->nterms++;
	}
	return bag;
}

static int
CompareTermCounts(const void *a, const void *b)
{
	const Bm25TermCount *x = a;
	const Bm25TermCount *y = b;

	return CompareLexemes(x->lexeme, x->len, y->lexeme, y->len);
}

Bm25Bag *
Bm25TokenizeText(Oid cfg, text *doc)
{
	int			n;
	Bm25Word   *words = TextWords(cfg, VARDATA_ANY(doc), VARSIZE_ANY_EXHDR(doc), &n);

	return BagOfWords(words, n);
}

/*
 * A tsvector's terms: a lexeme's tf is its number of positions (1 when it
 * has none); the tsvector is already tokenised, so cfg does not apply.
 */
static Bm25Bag *
TokenizeTsvector(TSVector tsv)
{
	Bm25Bag    *bag = palloc0(sizeof(Bm25Bag));
	WordEntry  *we = ARRPTR(tsv);
	char	   *str = STRPTR(tsv);

	bag->terms = palloc(sizeof(Bm25TermCount) * Max(tsv->size, 1));
	for (int i = 0; i < tsv->size; i++)
	{
		uint32		tf = we[i].haspos ? POSDATALEN(tsv, &we[i]) : 1;

		bag->terms[i].lexeme = str + we[i].pos;
		bag->terms[i].len = we[i].len;
		bag->terms[i].tf = Max(tf, 1);
		bag->length += bag->terms[i].tf;
	}
	bag->nterms = tsv->size;
	/* tsvector orders lexemes by length first; we order by bytes */
	qsort(bag->terms, bag->nterms, sizeof(Bm25TermCount), CompareTermCounts);
	return bag;
}

Bm25Bag *
Bm25TokenizeDatum(Oid cfg, Oid typid, Datum value)
{
	if (typid == TSVECTOROID)
		return TokenizeTsvector(DatumGetTSVector(value));
	return Bm25TokenizeText(cfg, DatumGetTextPP(value));
}

/* The tf of a lexeme in a bag (0 when absent): binary search. */
static uint32
BagTf(Bm25Bag *bag, const char *lexeme, int len)
{
	int			lo = 0;
	int			hi = bag->nterms - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = CompareLexemes(bag->terms[mid].lexeme, bag->terms[mid].len, lexeme, len);

		if (c == 0)
			return bag->terms[mid].tf;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * The term dictionary
 * ---------------------------------------------------------------------------
 */

/*
 * Look a lexeme up: walk its bucket's chain.  Copies the entry's fixed
 * part to *out and its place to *where.  The caller holds BM25_LOCK_BLKNO.
 */
bool
Bm25FindTerm(Relation index, Bm25MetaPage meta, const char *lexeme, int len,
			 Bm25TermData *out, ItemPointer where)
{
	uint32		hash = Bm25Hash(lexeme, len);
	BlockNumber blkno = 1 + hash % meta->nbuckets;

	while (BlockNumberIsValid(blkno))
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		OffsetNumber maxoff;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		GvCheckPage(index, page, blkno, GV_PAGE_ID_BM25);
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			Bm25Term	t = (Bm25Term) PageGetItem(page, PageGetItemId(page, off));

			if (t->hash == hash && t->len == len && memcmp(t->lexeme, lexeme, len) == 0)
			{
				memcpy(out, t, offsetof(Bm25TermData, lexeme));
				ItemPointerSet(where, blkno, off);
				UnlockReleaseBuffer(buf);
				return true;
			}
		}
		blkno = GvPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
	}
	return false;
}

/* ---------------------------------------------------------------------------
 * Posting blocks
 * ---------------------------------------------------------------------------
 */

static inline char *
PutVarint(char *p, uint64 v)
{
	while (v >= 0x80)
	{
		*p++ = (char) ((v & 0x7F) | 0x80);
		v >>= 7;
	}
	*p++ = (char) v;
	return p;
}

static inline const char *
GetVarint(const char *p, uint64 *v)
{
	uint64		r = 0;
	int			shift = 0;

	for (;;)
	{
		uint8		c = (uint8) *p++;

		r |= (uint64) (c & 0x7F) << shift;
		if (!(c & 0x80))
			break;
		shift += 7;
	}
	*v = r;
	return p;
}

/* Encode n postings (sorted by key) into out; returns the bytes used. */
Size
Bm25EncodePostings(const Bm25Posting *p, int n, char *out)
{
	char	   *q = out;
	uint64		prev = n > 0 ? p[0].key : 0;

	for (int i = 0; i < n; i++)
	{
		q = PutVarint(q, p[i].key - prev);
		q = PutVarint(q, p[i].tf);
		q = PutVarint(q, p[i].dl);
		prev = p[i].key;
	}
	return q - out;
}

void
Bm25DecodePostings(Bm25Block blk, Bm25Posting *out)
{
	const char *q = blk->data;
	uint64		key = blk->first;

	for (int i = 0; i < blk->count; i++)
	{
		uint64		v;

		q = GetVarint(q, &v);
		key += v;
		out[i].key = key;
		q = GetVarint(q, &v);
		out[i].tf = (uint32) v;
		q = GetVarint(q, &v);
		out[i].dl = (uint32) v;
	}
}

/* A palloc'd block item of n postings (no next link yet). */
Bm25Block
Bm25MakeBlock(const Bm25Posting *p, int n, Size *size)
{
	Bm25Block	blk = palloc0(BM25_BLOCK_HEADER + (Size) n * BM25_POSTING_MAXBYTES + 1);
	Size		nbytes;

	Assert(n <= BM25_BLOCK_POSTINGS);
	blk->nextBlk = InvalidBlockNumber;
	blk->nextOff = InvalidOffsetNumber;
	blk->count = n;
	blk->maxtf = 0;
	blk->mindl = PG_UINT32_MAX;
	for (int i = 0; i < n; i++)
	{
		blk->maxtf = Max(blk->maxtf, p[i].tf);
		blk->mindl = Min(blk->mindl, p[i].dl);
	}
	if (n > 0)
	{
		blk->first = p[0].key;
		blk->last = p[n - 1].key;
	}
	nbytes = Bm25EncodePostings(p, n, blk->data);
	blk->nbytes = (uint16) nbytes;
	*size = BM25_BLOCK_HEADER + nbytes;
	return blk;
}

/* ---------------------------------------------------------------------------
 * bm25query
 * ---------------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(bm25query_in);
Datum
bm25query_in(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("a bm25query cannot be written as a literal"),
			 errhint("Make one with bm25query(index, query text [, mode]).")));
	PG_RETURN_NULL();
}

static const char *
ModeName(int mode)
{
	switch (mode)
	{
		case BM25_MODE_AND:
			return "and";
		case BM25_MODE_PHRASE:
			return "phrase";
		default:
			return "or";
	}
}

PG_FUNCTION_INFO_V1(bm25query_out);
Datum
bm25query_out(PG_FUNCTION_ARGS)
{
	Bm25Query	q = PG_GETARG_BM25QUERY(0);
	StringInfoData s;

	/*
	 * the index by OID, not name: an output function must not read the
	 * catalog
	 */
	initStringInfo(&s);
	appendStringInfo(&s, "bm25query(index=%u, mode=%s, N=%.0f, avgdl=%.6g, terms=[",
					 q->indexoid, ModeName(q->mode), q->ndocs, Bm25QueryAvgdl(q));
	for (int i = 0; i < q->nterms; i++)
	{
		int			len;
		char	   *lex = Bm25QueryLexeme(q, i, &len);

		appendStringInfo(&s, "%s%.*s:%u", i ? ", " : "", len, lex, Bm25QueryDf(q)[i]);
	}
	appendStringInfoString(&s, "])");
	PG_RETURN_CSTRING(s.data);
}

static int
ParseMode(text *mode)
{
	char	   *m = text_to_cstring(mode);

	if (strcmp(m, "or") == 0)
		return BM25_MODE_OR;
	if (strcmp(m, "and") == 0)
		return BM25_MODE_AND;
	if (strcmp(m, "phrase") == 0)
		return BM25_MODE_PHRASE;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid bm25query mode \"%s\"", m),
			 errhint("The mode is 'or' (any term matches), 'and' (every term) or 'phrase'.")));
	return BM25_MODE_OR;
}

/*
 * Open the index a bm25query names, refusing anything that is not a gv_bm25
 * index, or one whose table the user may not read.
 */
static Relation
OpenQueryIndex(Oid indexoid)
{
	Relation	index = try_relation_open(indexoid, AccessShareLock);
	Oid			heapoid;

	if (index == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("relation with OID %u does not exist", indexoid)));
	if (index->rd_rel->relkind != RELKIND_INDEX || index->rd_rel->relam != Bm25AmOid())
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a gv_bm25 index", RelationGetRelationName(index)),
				 errhint("bm25query() takes the name of a gv_bm25 index, e.g. bm25query('docs_body_bm25', 'words').")));
	heapoid = index->rd_index->indrelid;
	if (pg_class_aclcheck(heapoid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", get_rel_name(heapoid))));
	return index;
}

typedef struct Bm25WordAt
{
	Bm25Word	w;
	int			at;
} Bm25WordAt;

static int
CompareWordsAt(const void *a, const void *b)
{
	const Bm25WordAt *x = a;
	const Bm25WordAt *y = b;
	int			c = CompareWords(&x->w, &y->w);

	return c != 0 ? c : (x->at > y->at) - (x->at < y->at);
}

/*
 * The distinct lexemes of a query text, in order of first occurrence.
 */
static Bm25Word *
QueryTerms(Oid cfg, text *query, int *nterms)
{
	int			n;
	Bm25Word   *words = TextWords(cfg, VARDATA_ANY(query), VARSIZE_ANY_EXHDR(query), &n);
	Bm25WordAt *sorted;
	bool	   *first;
	int			m = 0;

	*nterms = 0;
	if (n == 0)
		return words;
	sorted = palloc(sizeof(Bm25WordAt) * n);
	first = palloc0(sizeof(bool) * n);
	for (int i = 0; i < n; i++)
	{
		sorted[i].w = words[i];
		sorted[i].at = i;
	}
	qsort(sorted, n, sizeof(Bm25WordAt), CompareWordsAt);
	for (int i = 0; i < n; i++)
		if (i == 0 || CompareWords(&sorted[i].w, &sorted[i - 1].w) != 0)
			first[sorted[i].at] = true;
	for (int i = 0; i < n; i++)
		if (first[i])
			words[m++] = words[i];
	*nterms = m;
	return words;
}

/*
 * A bm25query value for a query text's distinct terms, with everything but
 * the statistics (N, the total length, each term's df), which the caller
 * fills in.
 */
static Bm25Query
NewQuery(Oid cfg, int mode, double k1, double b, text *qtext)
{
	Size		textlen = VARSIZE_ANY_EXHDR(qtext);
	int			nterms;
	Bm25Word   *terms = QueryTerms(cfg, qtext, &nterms);
	Size		pool = 0;
	Size		size;
	Bm25Query	q;
	uint32	   *off;
	char	   *p;

	for (int i = 0; i < nterms; i++)
		pool += terms[i].len;
	size = offsetof(Bm25QueryData, data) + sizeof(uint32) * (2 * nterms + 1) + pool + textlen;
	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("bm25query is too long")));
	q = palloc0(size);
	SET_VARSIZE(q, size);
	q->cfg = cfg;
	q->mode = mode;
	q->nterms = nterms;
	q->textlen = textlen;
	q->k1 = k1;
	q->b = b;
	off = Bm25QueryOffsets(q);
	p = (char *) (off + nterms + 1);
	off[0] = 0;
	for (int i = 0; i < nterms; i++)
	{
		memcpy(p + off[i], terms[i].word, terms[i].len);
		off[i + 1] = off[i] + terms[i].len;
	}
	memcpy(p + off[nterms], VARDATA_ANY(qtext), textlen);
	return q;
}

PG_FUNCTION_INFO_V1(bm25query_make);
Datum
bm25query_make(PG_FUNCTION_ARGS)
{
	Oid			indexoid;
	int			mode;
	Relation	index;
	Bm25MetaPageData meta;
	Bm25Query	q;

	for (int i = 0; i < PG_NARGS(); i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the %s of a bm25query must not be NULL",
							i == 0 ? "index" : i == 1 ? "query text" : "mode")));
	indexoid = PG_GETARG_OID(0);
	mode = PG_NARGS() > 2 ? ParseMode(PG_GETARG_TEXT_PP(2)) : BM25_MODE_OR;
	index = OpenQueryIndex(indexoid);
	Bm25ReadMeta(index, &meta);
	q = NewQuery(meta.cfg, mode, meta.k1, meta.b, PG_GETARG_TEXT_PP(1));
	q->indexoid = indexoid;
	q->heapoid = index->rd_index->indrelid;

	/* statistics of one moment: no insert or vacuum step in between */
	LockPage(index, BM25_LOCK_BLKNO, ShareLock);
	Bm25ReadMeta(index, &meta);
	q->ndocs = (double) meta.ndocs;
	q->totalLength = (double) meta.totalLength;
	for (int i = 0; i < q->nterms; i++)
	{
		Bm25TermData t;
		ItemPointerData where;
		int			len;
		char	   *lex = Bm25QueryLexeme(q, i, &len);

		Bm25QueryDf(q)[i] = Bm25FindTerm(index, &meta, lex, len, &t, &where) ? t.df : 0;
	}
	UnlockPage(index, BM25_LOCK_BLKNO, ShareLock);
	relation_close(index, AccessShareLock);
	PG_RETURN_POINTER(q);
}

/*
 * The statistics a bm25query carries, one (key, value) row each: "N" the
 * documents, "length" their total length, "df:" || lexeme each term's
 * document frequency.  A distributed search sums them over its shards
 * (gigavector.distributed_text_search) to score with global statistics.
 */
PG_FUNCTION_INFO_V1(bm25query_statistics);
Datum
bm25query_statistics(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Bm25Query	q = PG_GETARG_BM25QUERY(0);
	Datum		v[2];
	bool		nulls[2] = {false, false};

	InitMaterializedSRF(fcinfo, 0);
	v[0] = CStringGetTextDatum("N");
	v[1] = Float8GetDatum(q->ndocs);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
	v[0] = CStringGetTextDatum("length");
	v[1] = Float8GetDatum(q->totalLength);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
	for (int i = 0; i < q->nterms; i++)
	{
		int			len;
		char	   *lex = Bm25QueryLexeme(q, i, &len);

		v[0] = PointerGetDatum(cstring_to_text(psprintf("df:%.*s", len, lex)));
		v[1] = Float8GetDatum((double) Bm25QueryDf(q)[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
	}
	return (Datum) 0;
}

/*
 * A copy of a bm25query with other statistics: ndocs, total_length, and
 * for each of its terms the df given for that lexeme in terms/df (0 for a
 * lexeme not given) -- the sums over a distributed table's shards, so that
 * every shard scores as one server holding all the rows would.
 */
PG_FUNCTION_INFO_V1(bm25query_with_statistics);
Datum
bm25query_with_statistics(PG_FUNCTION_ARGS)
{
	Bm25Query	q;
	double		ndocs = PG_GETARG_FLOAT8(1);
	double		total = PG_GETARG_FLOAT8(2);
	Datum	   *terms;
	Datum	   *dfs;
	bool	   *tnulls;
	bool	   *dnulls;
	int			nt,
				nd;

	q = (Bm25Query) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0));
	deconstruct_array_builtin(PG_GETARG_ARRAYTYPE_P(3), TEXTOID, &terms, &tnulls, &nt);
	deconstruct_array_builtin(PG_GETARG_ARRAYTYPE_P(4), FLOAT8OID, &dfs, &dnulls, &nd);
	if (nt != nd || ndocs < 0 || total < 0 || isnan(ndocs) || isnan(total))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bm25 statistics need N >= 0, a total length >= 0 and as many document frequencies as terms")));
	q->ndocs = ndocs;
	q->totalLength = total;
	for (int i = 0; i < q->nterms; i++)
	{
		int			len;
		char	   *lex = Bm25QueryLexeme(q, i, &len);
		double		df = 0;

		for (int j = 0; j < nt; j++)
			if (!tnulls[j] && !dnulls[j] && VARSIZE_ANY_EXHDR(DatumGetPointer(terms[j])) == len &&
				memcmp(VARDATA_ANY(DatumGetPointer(terms[j])), lex, len) == 0)
				df = DatumGetFloat8(dfs[j]);
		if (df < 0 || df > ndocs || df > (double) PG_UINT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the document frequency of \"%.*s\" must be between 0 and N, not %g", len, lex, df)));
		Bm25QueryDf(q)[i] = (uint32) df;
	}
	PG_RETURN_POINTER(q);
}

/*
 * Add one table's rows to an index-less query's statistics: every row the
 * snapshot sees whose column is not NULL counts in N, its length in the
 * total, and each query term it holds in that term's df -- what a gv_bm25
 * index built on the column now would count (Bm25TokenizeDatum, as
 * bm25build does).  Row-level security does not apply, as it does not to
 * an index's statistics.
 */
static void
CountTableStatistics(Bm25Query q, Relation rel, const char *column)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), column);
	Oid			typid;
	TableScanDesc scan;
	TupleTableSlot *slot;
	MemoryContext rowcxt,
				old;

	if (attnum == InvalidAttrNumber)
		elog(ERROR, "column \"%s\" of relation \"%s\" does not exist", column,
			 RelationGetRelationName(rel));
	typid = TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid;
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "bm25 table statistics",
								   ALLOCSET_DEFAULT_SIZES);
	slot = table_slot_create(rel, NULL);
	scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		value = slot_getattr(slot, attnum, &isnull);
		Bm25Bag    *bag;

		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		old = MemoryContextSwitchTo(rowcxt);
		bag = Bm25TokenizeDatum(q->cfg, typid, value);
		q->ndocs += 1;
		q->totalLength += (double) bag->length;
		for (int i = 0; i < q->nterms; i++)
		{
			int			len;
			char	   *lex = Bm25QueryLexeme(q, i, &len);

			if (BagTf(bag, lex, len) > 0)
				Bm25QueryDf(q)[i]++;
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(rowcxt);
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	MemoryContextDelete(rowcxt);
}

/*
 * A bm25query (mode or) over a text or tsvector column that has no gv_bm25
 * index, for gigavector.hybrid_search's exact text branch: scored as a
 * gv_bm25 index built on the column now with its defaults would score it
 * (default_text_search_config, k1 1.2, b 0.75), its statistics counted by
 * reading the table and every table that inherits from it (the partitions
 * of a partitioned table) -- so the operators <&> and @@@ give, row for
 * row, the scores and matches of that index.  (An index counts the rows
 * deleted since its last VACUUM too; this counts the rows the snapshot
 * sees.)  The caller checks the column and the user's right to read it.
 */
Datum
Bm25QueryForColumn(Oid relid, const char *column, text *qtext)
{
	Bm25Query	q = NewQuery(getTSCurrentConfig(true), BM25_MODE_OR,
							 BM25_DEFAULT_K1, BM25_DEFAULT_B, qtext);
	List	   *tables = find_all_inheritors(relid, AccessShareLock, NULL);
	ListCell   *lc;

	q->indexoid = InvalidOid;
	q->heapoid = relid;
	foreach(lc, tables)
	{
		Relation	rel = table_open(lfirst_oid(lc), AccessShareLock);

		if (RELKIND_HAS_TABLE_AM(rel->rd_rel->relkind))
			CountTableStatistics(q, rel, column);
		table_close(rel, AccessShareLock);
	}
	return PointerGetDatum(q);
}

/* ---------------------------------------------------------------------------
 * Operators
 * ---------------------------------------------------------------------------
 */

static double
BagScore(Bm25Bag *bag, Bm25Query q)
{
	double		avgdl = Bm25QueryAvgdl(q);
	double		score = 0.0;

	for (int i = 0; i < q->nterms; i++)
	{
		int			len;
		char	   *lex = Bm25QueryLexeme(q, i, &len);
		uint32		tf = BagTf(bag, lex, len);

		if (tf > 0)
			score += Bm25TermScore(Bm25Idf(q->ndocs, Bm25QueryDf(q)[i]), tf,
								   (double) bag->length, avgdl, q->k1, q->b);
	}
	return score;
}

static bool
BagMatches(Bm25Bag *bag, Bm25Query q)
{
	int			found = 0;

	for (int i = 0; i < q->nterms; i++)
	{
		int			len;
		char	   *lex = Bm25QueryLexeme(q, i, &len);

		if (BagTf(bag, lex, len) > 0)
			found++;
		else if (q->mode != BM25_MODE_OR)
			return false;
	}
	return found > 0;
}

/* Is the query's text a phrase of the document (phraseto_tsquery's rule)? */
static bool
PhraseMatches(Bm25Query q, Datum tsv)
{
	Datum		tsq = DirectFunctionCall2(phraseto_tsquery_byid, ObjectIdGetDatum(q->cfg),
										  PointerGetDatum(cstring_to_text_with_len(Bm25QueryText(q),
																				   q->textlen)));

	return DatumGetBool(DirectFunctionCall2(ts_match_vq, tsv, tsq));
}

static double
ScoreArgs(FunctionCallInfo fcinfo, bool tsvector)
{
	Bm25Query	q = PG_GETARG_BM25QUERY(1);
	Bm25Bag    *bag = (tsvector ? TokenizeTsvector(PG_GETARG_TSVECTOR(0))
					   : Bm25TokenizeText(q->cfg, PG_GETARG_TEXT_PP(0)));

	return BagScore(bag, q);
}

static bool
MatchArgs(FunctionCallInfo fcinfo, bool tsvector)
{
	Bm25Query	q = PG_GETARG_BM25QUERY(1);
	Bm25Bag    *bag = (tsvector ? TokenizeTsvector(PG_GETARG_TSVECTOR(0))
					   : Bm25TokenizeText(q->cfg, PG_GETARG_TEXT_PP(0)));

	if (!BagMatches(bag, q))
		return false;
	if (q->mode != BM25_MODE_PHRASE)
		return true;
	if (tsvector)
		return PhraseMatches(q, PG_GETARG_DATUM(0));
	return PhraseMatches(q, DirectFunctionCall2(to_tsvector_byid, ObjectIdGetDatum(q->cfg),
												PG_GETARG_DATUM(0)));
}

PG_FUNCTION_INFO_V1(bm25_text_distance);
Datum
bm25_text_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(-ScoreArgs(fcinfo, false));
}

PG_FUNCTION_INFO_V1(bm25_tsvector_distance);
Datum
bm25_tsvector_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(-ScoreArgs(fcinfo, true));
}

/*
 * bm25_scan_distance(col, q, ctid): what col <&> q is, taken from the
 * ordered scan that just returned the row at ctid when it did (see
 * bm25planner.c), else computed.
 */
static double
ScanDistanceArgs(FunctionCallInfo fcinfo, bool tsvector)
{
	double		score;

	if (Bm25ScanScore(PG_GETARG_BM25QUERY(1), (ItemPointer) PG_GETARG_POINTER(2), &score))
		return -score;
	return -ScoreArgs(fcinfo, tsvector);
}

PG_FUNCTION_INFO_V1(bm25_text_scan_distance);
Datum
bm25_text_scan_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(ScanDistanceArgs(fcinfo, false));
}

PG_FUNCTION_INFO_V1(bm25_tsvector_scan_distance);
Datum
bm25_tsvector_scan_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(ScanDistanceArgs(fcinfo, true));
}

PG_FUNCTION_INFO_V1(bm25_text_score);
Datum
bm25_text_score(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(ScoreArgs(fcinfo, false));
}

PG_FUNCTION_INFO_V1(bm25_tsvector_score);
Datum
bm25_tsvector_score(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(ScoreArgs(fcinfo, true));
}

PG_FUNCTION_INFO_V1(bm25_text_match);
Datum
bm25_text_match(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(MatchArgs(fcinfo, false));
}

PG_FUNCTION_INFO_V1(bm25_tsvector_match);
Datum
bm25_tsvector_match(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(MatchArgs(fcinfo, true));
}
