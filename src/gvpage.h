/*
 * gvpage.h
 *	  The core every gigavector index access method shares: self-describing
 *	  pages (a metapage with magic and format version at block 0, a page
 *	  opaque area ending in a page id) and GenericXLog helpers; with it come
 *	  the metrics (gvmetric.h) and heap fetches for re-ranking
 *	  (gvheapfetch.h).
 *
 * Each access method keeps its own metapage struct, whose first member is
 * a GvMetaHeaderData, and its own page kinds in GvPageOpaqueData.flags.
 */
#ifndef GVPAGE_H
#define GVPAGE_H

#include "access/generic_xlog.h"
#include "access/genam.h"
#include "access/relscan.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "utils/rel.h"

#include "distance.h"
#include "gvector.h"
#include "gvheapfetch.h"
#include "gvmetric.h"

#define GV_METAPAGE_BLKNO	0

/*
 * Page ids, stored last in every page's opaque area, so that tools such as
 * pageinspect (and our own verify functions) can tell whose page it is.
 * Values are chosen not to collide with core's (0xFF80-0xFF8x).
 */
#define GV_PAGE_ID_HNSW		0xFF91
#define GV_PAGE_ID_IVFPQ	0xFF92
#define GV_PAGE_ID_KDTREE	0xFF93
#define GV_PAGE_ID_BM25		0xFF94

typedef struct GvPageOpaqueData
{
	BlockNumber nextblkno;		/* next page of a chain, or InvalidBlockNumber */
	uint16		flags;			/* page kind and state; meaning is per AM */
	uint16		page_id;		/* GV_PAGE_ID_* */
} GvPageOpaqueData;

typedef GvPageOpaqueData *GvPageOpaque;

#define GvPageGetOpaque(page) ((GvPageOpaque) PageGetSpecialPointer(page))

/* The common head of every access method's metapage. */
typedef struct GvMetaHeaderData
{
	uint32		magic;			/* per access method */
	uint32		version;		/* on-disk format version */
	uint32		dimensions;		/* of the indexed vectors */
} GvMetaHeaderData;

typedef GvMetaHeaderData *GvMetaHeader;


/* page helpers */
extern void GvInitPage(Page page, uint16 page_id, uint16 flags);
extern Buffer GvNewBuffer(Relation index, ForkNumber fork);
extern XLogRecPtr GvReadMetaPage(Relation index, uint16 page_id, void *meta, Size size);
extern void GvCheckMetaHeader(Relation index, GvMetaHeader header,
							  uint32 magic, uint32 version);
extern void GvCheckPage(Relation index, Page page, BlockNumber blkno,
						uint16 page_id);
extern Relation GvOpenIndexToCheck(Oid indexoid, const char *amname);

/*
 * Chains of pages linked by nextblkno, appended to at the end (gv_ivfpq's
 * lists, whose entries are packed, gv_hnsw's key directory, items).  When the last page is full a new page
 * is chained after it, and the caller's GvChainSetTail records the new
 * last page on the page that remembers it (a directory page, a metapage),
 * in the same WAL record.
 */
typedef void (*GvChainSetTail) (Page tailPtrPage, BlockNumber newTail, void *arg);
typedef bool (*GvChainIsStarted) (Page ptrPage, void *arg);

extern BlockNumber GvChainAppend(Relation index, BlockNumber blkno, uint16 page_id,
								 uint16 flags, Item item, Size size, bool packed,
								 BlockNumber tailPtrBlkno, GvChainSetTail setTail,
								 void *arg);
extern bool GvChainStart(Relation index, BlockNumber ptrBlkno, uint16 page_id,
						 uint16 flags, Item item, Size size, bool packed,
						 GvChainIsStarted isStarted, GvChainSetTail setHead,
						 void *arg);

/*
 * Blobs: a build's read-only arrays (IVFPQ centroids and codebooks, HNSW's
 * key directory projection) laid over consecutive pages, GV_BLOB_PER_PAGE
 * bytes each after the page header.  GvBlobPutChunk sets pd_lower past the
 * data, so a full-page image (which leaves out the hole between pd_lower
 * and pd_upper) keeps it.
 */
#define GV_BLOB_PER_PAGE \
	((BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(GvPageOpaqueData))) & ~((Size) 7))

extern void GvBlobPutChunk(Page page, const char *data, Size chunk);
extern void GvBlobRead(Relation index, BlockNumber start, uint16 page_id, uint16 flags,
					   char *dest, Size size);

/* WAL helpers */
extern Page GvXLogRegisterNew(GenericXLogState *state, Buffer buffer,
							  uint16 page_id, uint16 flags);
extern void GvLogBuiltIndex(Relation index);
extern void GvPageDeleteItems(Relation index, Buffer buf, OffsetNumber *offsets, int n);

/* operator classes and metrics */
extern bool GvValidateVectorOpclass(Oid opclassoid, const char *amname);

#endif							/* GVPAGE_H */
