/*
 * gvpage.c
 *	  Page, WAL and operator class helpers shared by every gigavector index
 *	  access method.  Metrics are in gvmetric.c, reading heap rows for
 *	  re-ranking in gvheapfetch.c.
 *
 * WAL: every change to an index page after the build goes through
 * GenericXLog (start, register, modify the returned copy, finish), so crash
 * recovery and standbys need no custom resource manager.  Builds write
 * their pages without per-page WAL and log them all at once at the end
 * (GvLogBuiltIndex), as core's GiST and SP-GiST builds do.
 */
#include "compat.h"

#include <math.h>

#include "access/amvalidate.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_class.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "distance.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "gbit.h"
#include "ghalfvec.h"
#include "gsparsevec.h"
#include "gvpage.h"
#include "miscadmin.h"
#include "quantize.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

/*
 * Initialise a page with our opaque area.
 */
void
GvInitPage(Page page, uint16 page_id, uint16 flags)
{
	GvPageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(GvPageOpaqueData));
	opaque = GvPageGetOpaque(page);
	opaque->nextblkno = InvalidBlockNumber;
	opaque->flags = flags;
	opaque->page_id = page_id;
}

/*
 * Add a new block to the relation and return it exclusively locked.  The
 * relation extension lock serialises concurrent extenders (not needed for
 * local relations, which only we can see).
 */
Buffer
GvNewBuffer(Relation index, ForkNumber fork)
{
	Buffer		buffer;
	bool		needLock = !RELATION_IS_LOCAL(index);

	if (needLock)
		LockRelationForExtension(index, ExclusiveLock);
	buffer = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
	if (needLock)
		UnlockRelationForExtension(index, ExclusiveLock);
	return buffer;
}

/*
 * Add item to a chain page if it fits: as a line-pointer item, or packed,
 * copied to pd_lower (an array of same-sized entries, read by position).
 */
static bool
ChainPageAdd(Relation index, Page page, Item item, Size size, bool packed)
{
	PageHeader	header = (PageHeader) page;

	if (packed)
	{
		if (header->pd_upper - header->pd_lower < size)
			return false;
		memcpy((char *) page + header->pd_lower, item, size);
		header->pd_lower += size;
		return true;
	}
	if (PageGetFreeSpace(page) < MAXALIGN(size))
		return false;
	if (PageAddItem(page, item, size, InvalidOffsetNumber, false, false) ==
		InvalidOffsetNumber)
		elog(ERROR, "failed to add item to index \"%s\"",
			 RelationGetRelationName(index));
	return true;
}

/*
 * Append item to the chain whose last page is believed to be blkno.  The
 * belief may be stale (the tail pointer is updated after the chain grows):
 * we follow nextblkno to the real end.  If the last page is full, chain a
 * new page (page_id, flags) holding the item and let setTail record it on
 * page tailPtrBlkno.  Lock order: chain page, new page, tail-pointer page;
 * nothing locks them the other way round.  Returns the item's block.
 * packed: the chain's pages hold items as an array (ChainPageAdd).
 */
BlockNumber
GvChainAppend(Relation index, BlockNumber blkno, uint16 page_id, uint16 flags,
			  Item item, Size size, bool packed, BlockNumber tailPtrBlkno,
			  GvChainSetTail setTail, void *arg)
{
	GenericXLogState *state;
	Buffer		buf;
	Buffer		newbuf;
	Buffer		ptrbuf;
	Page		page;
	Page		newpage;
	BlockNumber newblkno;

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		GvCheckPage(index, page, blkno, page_id);
		if (GvPageGetOpaque(page)->nextblkno == InvalidBlockNumber)
			break;
		blkno = GvPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
	}

	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	if (ChainPageAdd(index, page, item, size, packed))
	{
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
		return blkno;
	}

	newbuf = GvNewBuffer(index, MAIN_FORKNUM);
	newblkno = BufferGetBlockNumber(newbuf);
	ptrbuf = ReadBuffer(index, tailPtrBlkno);
	LockBuffer(ptrbuf, BUFFER_LOCK_EXCLUSIVE);
	newpage = GvXLogRegisterNew(state, newbuf, page_id, flags);
	if (!ChainPageAdd(index, newpage, item, size, packed))
		elog(ERROR, "failed to add item to index \"%s\"",
			 RelationGetRelationName(index));
	GvPageGetOpaque(page)->nextblkno = newblkno;
	setTail(GenericXLogRegisterBuffer(state, ptrbuf, 0), newblkno, arg);
	GenericXLogFinish(state);
	UnlockReleaseBuffer(ptrbuf);
	UnlockReleaseBuffer(newbuf);
	UnlockReleaseBuffer(buf);
	return newblkno;
}

/*
 * Start a chain that has no page yet with a new page holding item, unless
 * someone started it meanwhile (isStarted, asked under the exclusive lock
 * of page ptrBlkno, which points to the chain): then return false and let
 * the caller append as usual.  setHead records the new page as the chain's
 * first and last, in the same WAL record.  Lock order: pointer page, new
 * page.
 */
bool
GvChainStart(Relation index, BlockNumber ptrBlkno, uint16 page_id, uint16 flags,
			 Item item, Size size, bool packed, GvChainIsStarted isStarted,
			 GvChainSetTail setHead, void *arg)
{
	Buffer		ptrbuf = ReadBuffer(index, ptrBlkno);
	bool		started = false;

	LockBuffer(ptrbuf, BUFFER_LOCK_EXCLUSIVE);
	GvCheckPage(index, BufferGetPage(ptrbuf), ptrBlkno, page_id);
	if (!isStarted(BufferGetPage(ptrbuf), arg))
	{
		GenericXLogState *state = GenericXLogStart(index);
		Buffer		buf = GvNewBuffer(index, MAIN_FORKNUM);
		Page		page = GvXLogRegisterNew(state, buf, page_id, flags);

		if (!ChainPageAdd(index, page, item, size, packed))
			elog(ERROR, "failed to add item to index \"%s\"",
				 RelationGetRelationName(index));
		setHead(GenericXLogRegisterBuffer(state, ptrbuf, 0), BufferGetBlockNumber(buf), arg);
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
		started = true;
	}
	UnlockReleaseBuffer(ptrbuf);
	return started;
}

/* Copy chunk bytes (at most GV_BLOB_PER_PAGE) of a blob into a fresh page. */
void
GvBlobPutChunk(Page page, const char *data, Size chunk)
{
	Assert(chunk <= GV_BLOB_PER_PAGE);
	memcpy(PageGetContents(page), data, chunk);
	((PageHeader) page)->pd_lower = (PageGetContents(page) + chunk) - (char *) page;
}

/*
 * Read size bytes of the blob that starts at block start; every page must
 * be ours (page_id) and a blob page (flags).
 */
void
GvBlobRead(Relation index, BlockNumber start, uint16 page_id, uint16 flags,
		   char *dest, Size size)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);

	for (Size done = 0; done < size; start++)
	{
		Size		chunk = Min(size - done, GV_BLOB_PER_PAGE);
		Buffer		buf;
		Page		page;

		if (start >= nblocks)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" ends inside its training data pages",
							RelationGetRelationName(index)),
					 errhint("Rebuild the index with REINDEX.")));
		buf = ReadBuffer(index, start);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		GvCheckPage(index, page, start, page_id);
		if (!(GvPageGetOpaque(page)->flags & flags) ||
			((PageHeader) page)->pd_lower < (PageGetContents(page) + chunk) - (char *) page)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has a damaged training data page at block %u",
							RelationGetRelationName(index), start),
					 errhint("Rebuild the index with REINDEX.")));
		memcpy(dest + done, PageGetContents(page), chunk);
		UnlockReleaseBuffer(buf);
		done += chunk;
	}
}

/*
 * Copy the first size bytes of the metapage's contents into meta, under a
 * share lock, once the page is known to be one of page_id's; returns the
 * page's LSN.  The caller then checks the header (GvCheckMetaHeader),
 * after reading an older format into the current one if it can.
 */
XLogRecPtr
GvReadMetaPage(Relation index, uint16 page_id, void *meta, Size size)
{
	Buffer		buf = ReadBuffer(index, GV_METAPAGE_BLKNO);
	Page		page;
	XLogRecPtr	lsn;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	GvCheckPage(index, page, GV_METAPAGE_BLKNO, page_id);
	memcpy(meta, PageGetContents(page), size);
	lsn = PageGetLSN(page);
	UnlockReleaseBuffer(buf);
	return lsn;
}

/*
 * Refuse a metapage that is not ours, or of a format this build cannot read.
 */
void
GvCheckMetaHeader(Relation index, GvMetaHeader header, uint32 magic,
				  uint32 version)
{
	if (header->magic != magic)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has a metapage with the wrong magic number",
						RelationGetRelationName(index)),
				 errdetail("Expected 0x%08X, found 0x%08X.", magic, header->magic),
				 errhint("Rebuild the index with REINDEX.")));
	if (header->version != version)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has on-disk format version %u, but this build reads version %u",
						RelationGetRelationName(index), header->version, version),
				 errhint("Rebuild the index with REINDEX.")));
}

/*
 * Refuse a page that is not one of this access method's.
 */
void
GvCheckPage(Relation index, Page page, BlockNumber blkno, uint16 page_id)
{
	if (PageIsNew(page) ||
		PageGetSpecialSize(page) != MAXALIGN(sizeof(GvPageOpaqueData)) ||
		GvPageGetOpaque(page)->page_id != page_id)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" contains unexpected page at block %u",
						RelationGetRelationName(index), blkno),
				 errhint("Rebuild the index with REINDEX.")));
}

/*
 * Open an index for a checking function (gigavector.hnsw_verify,
 * ivfpq_info) with AccessShareLock, refusing with a user error what it
 * cannot check: an OID that names no relation, a relation that is not an
 * index of access method amname, a partitioned index (it has no pages of
 * its own) and an invalid index.  An index is invalid while a CREATE INDEX
 * CONCURRENTLY or REINDEX CONCURRENTLY builds it, and stays so when one
 * fails or is cancelled: then it may have no pages at all, or miss rows.
 */
Relation
GvOpenIndexToCheck(Oid indexoid, const char *amname)
{
	Relation	index = try_relation_open(indexoid, AccessShareLock);

	if (index == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", indexoid)));
	if ((index->rd_rel->relkind != RELKIND_INDEX &&
		 index->rd_rel->relkind != RELKIND_PARTITIONED_INDEX) ||
		index->rd_rel->relam != get_index_am_oid(amname, false))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a %s index", RelationGetRelationName(index), amname),
				 errhint("Pass the name of an index created USING %s.", amname)));
	if (index->rd_rel->relkind == RELKIND_PARTITIONED_INDEX)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is a partitioned index", RelationGetRelationName(index)),
				 errhint("Check the index of each partition.")));
	if (!index->rd_index->indisvalid)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("index \"%s\" is not valid", RelationGetRelationName(index)),
				 errdetail("A CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY that failed, was cancelled or is still running leaves an index invalid."),
				 errhint("Drop the index and create it again, or rebuild it with REINDEX INDEX.")));
	return index;
}

/*
 * Register a freshly extended buffer in a GenericXLog record as a full page
 * image and initialise the working copy.
 */
Page
GvXLogRegisterNew(GenericXLogState *state, Buffer buffer, uint16 page_id,
				  uint16 flags)
{
	Page		page = GenericXLogRegisterBuffer(state, buffer,
												 GENERIC_XLOG_FULL_IMAGE);

	GvInitPage(page, page_id, flags);
	return page;
}

/*
 * VACUUM's step on one page: delete the items at offsets[0, n) of the page
 * in buf (exclusively locked by the caller) in one GenericXLog record.
 */
void
GvPageDeleteItems(Relation index, Buffer buf, OffsetNumber *offsets, int n)
{
	GenericXLogState *state = GenericXLogStart(index);
	Page		page = GenericXLogRegisterBuffer(state, buf, 0);

	PageIndexMultiDelete(page, offsets, n);
	GenericXLogFinish(state);
}

/*
 * WAL-log every page of a freshly built index in one pass, if the relation
 * needs WAL at all (not for unlogged or temporary indexes).
 */
void
GvLogBuiltIndex(Relation index)
{
	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0,
						  RelationGetNumberOfBlocks(index), true);
}

/* ---------------------------------------------------------------------------
 * Operator classes
 * ---------------------------------------------------------------------------
 */

/*
 * amvalidate shared by the vector access methods: every operator class has
 * exactly one ORDER BY operator (strategy 1) returning float8, and support
 * function 1 taking internal (the metric descriptor).  amname is used in
 * the messages.
 */
bool
GvValidateVectorOpclass(Oid opclassoid, const char *amname)
{
	bool		result = true;
	HeapTuple	classtup;
	Form_pg_opclass classform;
	Oid			opfamilyoid;
	CatCList   *oprlist;
	CatCList   *proclist;
	char	   *opclassname;

	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	opfamilyoid = classform->opcfamily;
	opclassname = NameStr(classform->opcname);

	oprlist = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(opfamilyoid));
	proclist = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(opfamilyoid));

	for (int i = 0; i < oprlist->n_members; i++)
	{
		Form_pg_amop op = (Form_pg_amop) GETSTRUCT(&oprlist->members[i]->tuple);

		if (op->amopstrategy != 1 || op->amoppurpose != AMOP_ORDER ||
			!check_amop_signature(op->amopopr, FLOAT8OID, op->amoplefttype,
								  op->amoprighttype))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("%s operator class \"%s\" contains invalid operator %s",
							amname, opclassname, format_operator(op->amopopr))));
			result = false;
		}
	}
	for (int i = 0; i < proclist->n_members; i++)
	{
		Form_pg_amproc proc = (Form_pg_amproc) GETSTRUCT(&proclist->members[i]->tuple);

		if (proc->amprocnum != 1 ||
			!check_amproc_signature(proc->amproc, INTERNALOID, true, 1, 1, INTERNALOID))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("%s operator class \"%s\" contains invalid support function %s",
							amname, opclassname, format_procedure(proc->amproc))));
			result = false;
		}
	}
	if (proclist->n_members != 1 || oprlist->n_members != 1)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("%s operator class \"%s\" needs exactly one operator and one support function",
						amname, opclassname)));
		result = false;
	}

	ReleaseCatCacheList(proclist);
	ReleaseCatCacheList(oprlist);
	ReleaseSysCache(classtup);
	return result;
}
