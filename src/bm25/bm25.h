/*
 * bm25.h
 *	  gv_bm25: a BM25 full-text index access method.  Page layout, the
 *	  bm25query type and the functions the files of src/bm25 share; see
 *	  src/bm25/README for the design (pages, locking, WAL, vacuum).
 */
#ifndef GV_BM25_H
#define GV_BM25_H

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/genam.h"
#include "access/reloptions.h"
#include "fmgr.h"
#include "gvpage.h"
#include "nodes/execnodes.h"
#include "storage/dsm.h"
#include "storage/itemptr.h"
#include "storage/shm_toc.h"
#include "utils/relcache.h"

#define BM25_MAGIC			0x424D3235	/* "BM25" */
#define BM25_VERSION		1

/* page kinds (GvPageOpaqueData.flags) */
#define BM25_PAGE_META		1
#define BM25_PAGE_TERMS		2	/* a term-dictionary bucket page (or its
								 * overflow) */
#define BM25_PAGE_POSTINGS	3	/* posting blocks of any terms */
#define BM25_PAGE_DOCS		4	/* the document list */

#define BM25_BLOCK_POSTINGS	128 /* most postings in one block */
#define BM25_MIN_BUCKETS	16
#define BM25_TERMS_PER_BUCKET 100	/* a build sizes the dictionary for this
									 * many */

/* operator strategies */
#define BM25_MATCH_STRATEGY		1	/* @@@ */
#define BM25_SCORE_STRATEGY		2	/* <&> */

/* reloption defaults and limits */
#define BM25_DEFAULT_K1		1.2
#define BM25_DEFAULT_B		0.75
#define BM25_MAX_K1			1000000.0

/* progress subphases */
#define PROGRESS_BM25_PHASE_TOKENIZE	2
#define PROGRESS_BM25_PHASE_WRITE		3
#define PROGRESS_BM25_PHASE_MERGE		4	/* a parallel build's, between
											 * those two */

/*
 * The lock that orders readers and writers: a heavyweight page lock on the
 * metapage's block number (not a buffer lock), share for a search round or
 * a bm25query's statistics, exclusive for an insert or a vacuum step.
 */
#define BM25_LOCK_BLKNO		GV_METAPAGE_BLKNO

typedef struct Bm25Options
{
	int32		vl_len_;
	int			textConfig;		/* offset of the configuration's name, or 0 */
	double		k1;
	double		b;
} Bm25Options;

typedef struct Bm25MetaPageData
{
	GvMetaHeaderData header;	/* dimensions is 0 */
	Oid			cfg;			/* text search configuration, frozen at build */
	uint32		nbuckets;		/* bucket pages are blocks 1 .. nbuckets */
	double		k1;
	double		b;
	uint64		ndocs;			/* documents (rows) indexed and not vacuumed */
	uint64		totalLength;	/* their lexemes, every occurrence */
	uint64		nterms;			/* term entries (some may have df 0) */
	BlockNumber postingTail;	/* the posting page new blocks go to */
	BlockNumber docHead;		/* the document list chain */
	BlockNumber docTail;
} Bm25MetaPageData;

typedef Bm25MetaPageData *Bm25MetaPage;

#define Bm25PageGetMeta(page) ((Bm25MetaPage) PageGetContents(page))

/* A term-dictionary entry (an item on a bucket page). */
typedef struct Bm25TermData
{
	uint32		hash;
	uint32		df;				/* postings (documents) of the term */
	uint32		maxtf;			/* bound of its postings' tf ... */
	uint32		mindl;			/* ... and of their document lengths */
	BlockNumber headBlk;		/* first posting block, InvalidBlockNumber if
								 * none */
	BlockNumber tailBlk;		/* last posting block */
	OffsetNumber headOff;
	OffsetNumber tailOff;
	uint16		len;			/* of the lexeme */
	char		lexeme[FLEXIBLE_ARRAY_MEMBER];
} Bm25TermData;

typedef Bm25TermData *Bm25Term;

#define BM25_TERM_SIZE(len) (offsetof(Bm25TermData, lexeme) + (len))

/*
 * A posting block (an item on a posting page): up to BM25_BLOCK_POSTINGS
 * postings of one term in heap TID order, each (TID delta, tf, dl) as
 * variable-byte integers.  A TID is a 48-bit key, block << 16 | offset.
 * first/last/maxtf/mindl let a scan skip the block or bound its scores
 * without decoding it.  The item may be longer than the header and nbytes
 * of data: inserts leave room for postings to come (bm25insert.c).
 */
typedef struct Bm25BlockData
{
	uint64		first;			/* key of the first posting */
	uint64		last;			/* key of the last */
	BlockNumber nextBlk;		/* next block of the term, InvalidBlockNumber
								 * at the end */
	OffsetNumber nextOff;
	uint16		count;			/* postings; 0 once VACUUM removed them all */
	uint32		maxtf;
	uint32		mindl;
	uint16		nbytes;			/* of data */
	char		data[FLEXIBLE_ARRAY_MEMBER];
} Bm25BlockData;

typedef Bm25BlockData *Bm25Block;

#define BM25_BLOCK_HEADER offsetof(Bm25BlockData, data)
#define BM25_POSTING_MAXBYTES 20	/* 10 + 5 + 5 bytes of varbyte */
#define BM25_ROOM_PER_POSTING 5 /* an inserted posting's usual size, for room
								 * left in blocks */

/* A document-list entry: a row and its length. */
typedef struct Bm25DocData
{
	uint64		key;
	uint32		dl;
} Bm25DocData;

typedef Bm25DocData *Bm25Doc;

/* A decoded posting. */
typedef struct Bm25Posting
{
	uint64		key;
	uint32		tf;
	uint32		dl;
} Bm25Posting;

static inline uint64
Bm25TidKey(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumberNoCheck(tid) << 16) |
		ItemPointerGetOffsetNumberNoCheck(tid);
}

static inline void
Bm25KeyTid(uint64 key, ItemPointer tid)
{
	ItemPointerSet(tid, (BlockNumber) (key >> 16), (OffsetNumber) (key & 0xFFFF));
}

/*
 * The terms of a document: distinct lexemes with their occurrence counts,
 * and the document's length (every occurrence).
 */
typedef struct Bm25TermCount
{
	char	   *lexeme;
	int			len;
	uint32		tf;
} Bm25TermCount;

typedef struct Bm25Bag
{
	Bm25TermCount *terms;
	int			nterms;
	uint64		length;
} Bm25Bag;

/* Query modes */
#define BM25_MODE_OR		0
#define BM25_MODE_AND		1
#define BM25_MODE_PHRASE	2

/*
 * bm25query: a query bound to one index, with the statistics it is scored
 * with (read from the index when the value is made, so every row of a
 * statement is scored alike, by the index scan and the operators).
 * After the header: uint32 df[nterms], uint32 offset[nterms + 1] into the
 * lexeme bytes, the lexeme bytes, then the query text (for phrases).
 */
typedef struct Bm25QueryData
{
	int32		vl_len_;
	Oid			indexoid;
	Oid			heapoid;
	Oid			cfg;
	int32		mode;
	int32		nterms;
	uint32		textlen;
	double		k1;
	double		b;
	double		ndocs;
	double		totalLength;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} Bm25QueryData;

typedef Bm25QueryData *Bm25Query;

#define DatumGetBm25Query(d) ((Bm25Query) PG_DETOAST_DATUM(d))
#define PG_GETARG_BM25QUERY(n) DatumGetBm25Query(PG_GETARG_DATUM(n))

static inline uint32 *
Bm25QueryDf(Bm25Query q)
{
	return (uint32 *) q->data;
}

static inline uint32 *
Bm25QueryOffsets(Bm25Query q)
{
	return (uint32 *) q->data + q->nterms;
}

static inline char *
Bm25QueryLexeme(Bm25Query q, int i, int *len)
{
	uint32	   *off = Bm25QueryOffsets(q);
	char	   *pool = (char *) (off + q->nterms + 1);

	*len = off[i + 1] - off[i];
	return pool + off[i];
}

static inline char *
Bm25QueryText(Bm25Query q)
{
	uint32	   *off = Bm25QueryOffsets(q);

	return (char *) (off + q->nterms + 1) + off[q->nterms];
}

/*
 * BM25 with Lucene's IDF.  Every score is computed here, by the index scan
 * and by the operators alike, in this order of operations.
 */
static inline double
Bm25Idf(double ndocs, double df)
{
	return log(1.0 + (ndocs - df + 0.5) / (df + 0.5));
}

static inline double
Bm25TermScore(double idf, double tf, double dl, double avgdl, double k1, double b)
{
	double		norm = 1.0 - b + (avgdl > 0 ? b * dl / avgdl : 0.0);

	return idf * tf * (k1 + 1.0) / (tf + k1 * norm);
}

static inline double
Bm25QueryAvgdl(Bm25Query q)
{
	return q->ndocs > 0 ? q->totalLength / q->ndocs : 0.0;
}

/* bm25.c */
extern void Bm25Init(void);
extern Bm25Options *Bm25GetOptions(Relation index);

/* bm25utils.c */
extern Oid	Bm25AmOid(void);
extern void Bm25ReadMeta(Relation index, Bm25MetaPage meta);
extern uint32 Bm25Hash(const char *lexeme, int len);
extern Bm25Bag *Bm25TokenizeText(Oid cfg, text *doc);
extern Bm25Bag *Bm25TokenizeDatum(Oid cfg, Oid typid, Datum value);
extern bool Bm25FindTerm(Relation index, Bm25MetaPage meta, const char *lexeme,
						 int len, Bm25TermData *out, ItemPointer where);
extern Size Bm25EncodePostings(const Bm25Posting *p, int n, char *out);
extern void Bm25DecodePostings(Bm25Block blk, Bm25Posting *out);
extern Bm25Block Bm25MakeBlock(const Bm25Posting *p, int n, Size *size);
extern Oid	Bm25ColumnType(Relation index);
extern Datum Bm25QueryForColumn(Oid relid, const char *column, text *qtext);

/* bm25build.c */
typedef struct Bm25BuildState Bm25BuildState;
extern void Bm25BuildAddDoc(Bm25BuildState *bs, uint64 key, uint32 dl);
extern void Bm25BuildAddPosting(Bm25BuildState *bs, const char *lexeme, int len,
								const Bm25Posting *p);
extern IndexBuildResult *bm25build(Relation heap, Relation index, IndexInfo *indexInfo);
extern void bm25buildempty(Relation index);

/* bm25buildparallel.c */
extern int	Bm25ParallelWorkers(Relation heap, Relation index);
extern bool Bm25BuildParallel(Relation heap, Relation index, IndexInfo *indexInfo, Oid cfg,
							  Bm25BuildState *bs, int nworkers, double *reltuples);
extern PGDLLEXPORT void Bm25ParallelBuildMain(dsm_segment *seg, shm_toc *toc);

/* bm25insert.c */
extern bool bm25insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
					   Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
					   IndexInfo *indexInfo);

/* bm25scan.c */
extern IndexScanDesc bm25beginscan(Relation index, int nkeys, int norderbys);
extern void bm25rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys,
					   int norderbys);
extern bool bm25gettuple(IndexScanDesc scan, ScanDirection dir);
extern void bm25endscan(IndexScanDesc scan);
extern bool Bm25ScanScore(Bm25Query q, ItemPointer tid, double *score);

/* bm25planner.c */
extern void Bm25PlannerInit(void);

/* bm25vacuum.c */
extern IndexBulkDeleteResult *bm25bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
											 IndexBulkDeleteCallback callback, void *callback_state);
extern IndexBulkDeleteResult *bm25vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);

/* bm25validate.c */
extern bool bm25validate(Oid opclassoid);

#endif							/* GV_BM25_H */
