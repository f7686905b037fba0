/*
 * ivfpqbuild.c
 *	  Building a gv_ivfpq index: sample, train, encode, write.
 *
 * 1. Sample.  One pass over the table keeps a reservoir sample of the
 *    vectors (in the metric's index space) and counts the rows; options
 *    left at 0 are then derived from the row count and dimension: lists =
 *    sqrt(rows), subquantizers = the divisor of the dimension nearest
 *    below dim / 16, bits = 8 (fewer when there are fewer rows than 256).
 *    With training_table the pass reads that table instead (a chosen
 *    sample: the SQL side of the seed's train_ivfpq(data)); lists then
 *    derive from the larger of its rows and the indexed table's estimate,
 *    and too small a training table is an error, never a silent shrink.
 * 2. Train.  k-means++ and Lloyd iterations on about 50 sample vectors per
 *    list give the coarse centroids; the residuals of (at most 20 * 2^bits
 *    of) the sample to their nearest centroid train one codebook per
 *    subspace (ivfpqkmeans.c, ivfpqcodebook.c).  The seed is fixed, so a
 *    build is deterministic.
 * 3. Encode.  A second pass encodes every row, collecting the entries of
 *    each list in memory (entries are small: the TID and one byte per
 *    subquantizer).
 * 4. Write.  Metapage, centroid/codebook pages, directory pages, then the
 *    segment: every list's entries in turn, packed into pages shared by
 *    consecutive lists (a list starts where the one before it ends, so the
 *    index wastes no partly filled page per list), without WAL; all pages
 *    are WAL-logged at the end (GvLogBuiltIndex).
 *
 * A table without rows gives an untrained index (one list, no codes) that
 * still accepts inserts and answers queries exactly; REINDEX trains it.
 * Progress is reported through pg_stat_progress_create_index at every
 * phase.
 */
#include "compat.h"

#include <math.h>

#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "executor/tuptable.h"
#include "commands/progress.h"
#include "ivfpq.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

typedef struct IvfpqListBufferData
{
	char	   *data;
	int			count;
	int			capacity;
} IvfpqListBufferData;

typedef struct IvfpqBuildStateData
{
	Relation	index;
	GvMetric	metric;
	int			dim;			/* 0 until known */
	double		rows;			/* non-NULL rows seen */
	double		indtuples;

	/* sampling */
	float	   *sample;
	int			sampleCap;
	int			sampleCount;
	pg_prng_state rng;

	/* encoding */
	int			scale;			/* IvfpqScaleExponent of the sample */
	IvfpqCache	cache;
	IvfpqListBufferData *lists;
	IvfpqEntry	entry;
	float	   *scratch;

	MemoryContext tmpCtx;
} IvfpqBuildStateData;

typedef IvfpqBuildStateData *IvfpqBuildState;

/*
 * Detoast and prepare one value into dest, checking dimensions.
 */
static void
CopyValue(IvfpqBuildState bs, Datum value, float *dest)
{
	int			dim;
	float	   *x = GvMetricDatumToFloats(bs->metric, value, &dim);

	if (bs->dim == 0)
		bs->dim = dim;
	if (dim != bs->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", bs->dim, dim)));
	memcpy(dest, x, sizeof(float) * dim);
	pfree(x);
	(void) GvMetricPrepareVector(bs->metric, dest, dim);
}

/*
 * Pass 1: count rows and keep a reservoir sample (Vitter's algorithm R).
 */
static void
SampleCallback(Relation index pg_attribute_unused(), ItemPointer tid pg_attribute_unused(),
			   Datum *values, bool *isnull, bool tupleIsAlive pg_attribute_unused(), void *state)
{
	IvfpqBuildState bs = (IvfpqBuildState) state;
	MemoryContext oldCtx;
	int			dim;
	int			slot = -1;

	if (isnull[0])
		return;

	oldCtx = MemoryContextSwitchTo(bs->tmpCtx);
	dim = GvMetricDatumDims(bs->metric, values[0]);
	if (bs->dim == 0)
	{
		bs->dim = dim;
		bs->sampleCap = Min(bs->sampleCap,
							(int) Min((double) INT_MAX / 2,
									  (double) maintenance_work_mem * 1024.0 / 2 /
									  (sizeof(float) * bs->dim)));
		bs->sampleCap = Max(bs->sampleCap, 1);
		MemoryContextSwitchTo(oldCtx);
		bs->sample = palloc_extended(sizeof(float) * (Size) bs->sampleCap * bs->dim,
									 MCXT_ALLOC_HUGE);
		MemoryContextSwitchTo(bs->tmpCtx);
	}

	bs->rows += 1;
	if (bs->sampleCount < bs->sampleCap)
		slot = bs->sampleCount++;
	else
	{
		uint64		r = pg_prng_uint64_range(&bs->rng, 0, (uint64) bs->rows - 1);

		if (r < (uint64) bs->sampleCap)
			slot = (int) r;
	}
	if (slot >= 0)
		CopyValue(bs, values[0], bs->sample + (Size) slot * bs->dim);
	else if (dim != bs->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", bs->dim, dim)));

	MemoryContextSwitchTo(oldCtx);
	MemoryContextReset(bs->tmpCtx);
}

/*
 * The training table's vector column: the one named, or else its only column
 * of the indexed column's type; with the same type and, when both declare
 * them, the same dimensions (which an index of undeclared dimensions takes).
 */
static AttrNumber
TrainingColumn(IvfpqBuildState bs, Relation rel, const char *value, const char *column)
{
	Form_pg_attribute indexAttr = TupleDescAttr(RelationGetDescr(bs->index), 0);
	TupleDesc	desc;
	AttrNumber	attnum = InvalidAttrNumber;
	int			typmod;

	desc = RelationGetDescr(rel);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		if (column != NULL)
		{
			if (strcmp(NameStr(att->attname), column) == 0)
			{
				attnum = att->attnum;
				break;
			}
			continue;
		}
		if (att->atttypid != indexAttr->atttypid)
			continue;
		if (attnum != InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_AMBIGUOUS_COLUMN),
					 errmsg("training table \"%s\" has more than one %s column",
							RelationGetRelationName(rel),
							format_type_be(indexAttr->atttypid)),
					 errhint("Name the column, as in training_table = '%s(%s)'.",
							 value, quote_identifier(NameStr(att->attname)))));
		attnum = att->attnum;
	}
	if (attnum == InvalidAttrNumber && column != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of training table \"%s\" does not exist",
						column, RelationGetRelationName(rel))));
	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("training table \"%s\" has no %s column",
						RelationGetRelationName(rel),
						format_type_be(indexAttr->atttypid))));
	if (TupleDescAttr(desc, attnum - 1)->atttypid != indexAttr->atttypid)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of training table \"%s\" is of type %s, not %s",
						NameStr(TupleDescAttr(desc, attnum - 1)->attname),
						RelationGetRelationName(rel),
						format_type_be(TupleDescAttr(desc, attnum - 1)->atttypid),
						format_type_be(indexAttr->atttypid))));
	typmod = TupleDescAttr(desc, attnum - 1)->atttypmod;
	if (typmod > 0 && bs->dim > 0 && typmod != bs->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("training column \"%s\" has %d dimensions, the indexed column %d",
						NameStr(TupleDescAttr(desc, attnum - 1)->attname), typmod, bs->dim)));
	if (bs->dim == 0 && typmod > 0)
		bs->dim = typmod;
	return attnum;
}

/*
 * Pass 1 with training_table: the reservoir sample comes from the named
 * table's gvector column (the only one, or the one named), read under a
 * fresh snapshot.  The column must have the indexed column's type and, when
 * both declare them, the same dimensions; every row is checked as it is
 * read.  Returns the table's OID.
 */
static Oid
SampleTrainingTable(IvfpqBuildState bs, const char *value)
{
	Relation	index = bs->index;
	List	   *names;
	char	   *column;
	Oid			relid;
	Relation	rel;
	AttrNumber	attnum;
	AclResult	aclresult;
	Snapshot	snapshot;
	TableScanDesc scan;
	TupleTableSlot *slot;

	IvfpqParseTrainingTable(value, &names, &column);
	relid = RangeVarGetRelid(makeRangeVarFromNameList(names), AccessShareLock, false);
	rel = table_open(relid, AccessShareLock);
	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_MATVIEW)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("training table \"%s\" is not a table or materialized view",
						RelationGetRelationName(rel)),
				 errhint("To train on a query, store its result with CREATE TABLE ... AS or CREATE MATERIALIZED VIEW.")));
	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, get_relkind_objtype(rel->rd_rel->relkind),
					   RelationGetRelationName(rel));

	attnum = TrainingColumn(bs, rel, value, column);

	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = table_beginscan(rel, snapshot, 0, NULL);
	slot = table_slot_create(rel, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		d;

		CHECK_FOR_INTERRUPTS();
		d = slot_getattr(slot, attnum, &isnull);
		if (!isnull && bs->dim > 0 &&
			GvMetricDatumDims(bs->metric, d) != bs->dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("training table \"%s\" has a vector of %d dimensions, the index %d",
							RelationGetRelationName(rel), GvMetricDatumDims(bs->metric, d),
							bs->dim)));
		SampleCallback(index, NULL, &d, &isnull, true, bs);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return relid;
}

/*
 * Record in pg_depend that the index was trained on table trainRelid
 * (InvalidOid: on its own table), replacing what an earlier build recorded.
 * The dependency is what pg_dump and pg_restore order by: with it a
 * parallel restore (pg_restore -j) loads the training table's rows before
 * it rebuilds the index, and DROP TABLE of the training table asks for
 * CASCADE (or a REINDEX after resetting training_table) instead of leaving
 * an index that cannot be rebuilt.  An index has no other normal dependency
 * on a relation (its columns are automatic ones), so those are all ours.
 */
static void
RecordTrainingTable(Relation index, Oid trainRelid)
{
	ObjectAddress indexAddr;
	ObjectAddress tableAddr;

	deleteDependencyRecordsForClass(RelationRelationId, RelationGetRelid(index),
									RelationRelationId, DEPENDENCY_NORMAL);
	if (!OidIsValid(trainRelid))
		return;
	ObjectAddressSet(indexAddr, RelationRelationId, RelationGetRelid(index));
	ObjectAddressSet(tableAddr, RelationRelationId, trainRelid);
	recordDependencyOn(&indexAddr, &tableAddr, DEPENDENCY_NORMAL);
}

/*
 * Pass 2: encode every row into its list's buffer.
 */
static void
EncodeCallback(Relation index pg_attribute_unused(), ItemPointer tid, Datum *values, bool *isnull,
			   bool tupleIsAlive pg_attribute_unused(), void *state)
{
	IvfpqBuildState bs = (IvfpqBuildState) state;
	MemoryContext oldCtx;
	float	   *x;
	int			list;
	IvfpqListBufferData *lb;
	Size		entrySize = bs->cache->layout.size;

	if (isnull[0])
		return;
	/* the directory numbers the build's entries in 32 bits */
	if (bs->indtuples >= (double) PG_UINT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("gv_ivfpq index \"%s\" cannot hold more than %u rows",
						RelationGetRelationName(bs->index), PG_UINT32_MAX)));

	oldCtx = MemoryContextSwitchTo(bs->tmpCtx);
	x = palloc(sizeof(float) * bs->dim);
	CopyValue(bs, values[0], x);
	IvfpqScaleVector(x, bs->dim, bs->scale);
	MemSet(bs->entry, 0, entrySize);
	IvfpqEncode(bs->cache, x, &list, (uint8 *) bs->entry + bs->cache->layout.codesOffset,
				bs->scratch);
	IvfpqFillEntry(bs->cache, tid, values, isnull, bs->entry);
	MemoryContextSwitchTo(oldCtx);
	MemoryContextReset(bs->tmpCtx);

	lb = &bs->lists[list];
	if (lb->count == lb->capacity)
	{
		lb->capacity = Max(16, lb->capacity * 2);
		if (lb->data)
			lb->data = repalloc_huge(lb->data, entrySize * lb->capacity);
		else
			lb->data = palloc_extended(entrySize * lb->capacity, MCXT_ALLOC_HUGE);
	}
	memcpy(lb->data + entrySize * lb->count, bs->entry, entrySize);
	lb->count++;
	bs->indtuples += 1;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->indtuples);
}

/*
 * A new page at the end of the relation, initialised; returned locked.
 */
static Buffer
NewPage(Relation index, ForkNumber fork, uint16 flags, Page *page)
{
	Buffer		buf = GvNewBuffer(index, fork);

	*page = BufferGetPage(buf);
	GvInitPage(*page, GV_PAGE_ID_IVFPQ, flags);
	return buf;
}

/*
 * Done with a page written during a build: dirty it, and for the init fork
 * log it now (the main fork is logged all at once at the end).
 */
static void
FinishPage(Buffer buf, ForkNumber fork)
{
	MarkBufferDirty(buf);
	if (fork == INIT_FORKNUM)
		log_newpage_buffer(buf, true);
	UnlockReleaseBuffer(buf);
}

/*
 * The segment: every list's entries in list order, as one array over
 * consecutive pages, each page filled before the next is started (the last
 * may be partly filled); dir[l] gets list l's run of it.  No list has an
 * insert chain yet.  Without lists (an untrained index) there is none.
 */
static void
WriteSegment(Relation index, ForkNumber fork, IvfpqMetaPage meta,
			 IvfpqCache cache, IvfpqListBufferData *lists, IvfpqListData *dir)
{
	Size		entrySize = cache ? cache->layout.size : 0;
	Buffer		buf = InvalidBuffer;
	Page		page = NULL;
	uint32		ordinal = 0;

	meta->segmentStart = meta->directoryStart + meta->directoryPages;
	meta->segmentPages = 0;
	for (uint32 l = 0; l < meta->lists; l++)
	{
		int			count = lists ? lists[l].count : 0;

		CHECK_FOR_INTERRUPTS();
		dir[l].segmentFirst = ordinal;
		dir[l].segmentCount = count;
		dir[l].startPage = InvalidBlockNumber;
		dir[l].insertPage = InvalidBlockNumber;
		for (int i = 0; i < count; i++, ordinal++)
		{
			PageHeader	header;

			if (ordinal % cache->layout.perPage == 0)
			{
				if (BufferIsValid(buf))
					FinishPage(buf, fork);
				buf = NewPage(index, fork, IVFPQ_PAGE_SEGMENT, &page);
				Assert(BufferGetBlockNumber(buf) == meta->segmentStart + meta->segmentPages);
				meta->segmentPages++;
			}
			header = (PageHeader) page;
			memcpy((char *) page + header->pd_lower, lists[l].data + entrySize * i, entrySize);
			header->pd_lower += entrySize;
		}
	}
	if (BufferIsValid(buf))
		FinishPage(buf, fork);
}

/*
 * Write all pages of an index.  lists == NULL writes an untrained index
 * with one empty list.
 */
static void
WritePages(Relation index, ForkNumber fork, IvfpqMetaPage meta,
		   IvfpqCache cache, IvfpqListBufferData *lists)
{
	Buffer		buf;
	Page		page;
	IvfpqListData *dir = palloc(sizeof(IvfpqListData) * meta->lists);
	BlockNumber blkno;

	/*
	 * metapage first, filled in at the end.  Dirty already: a clean buffer
	 * evicted meanwhile would come back as the zero page P_NEW wrote, not
	 * initialised, and log_newpage_range skips such pages.
	 */
	buf = NewPage(index, fork, IVFPQ_PAGE_META, &page);
	Assert(BufferGetBlockNumber(buf) == GV_METAPAGE_BLKNO);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);

	/* centroids and codebooks as one stream */
	meta->blobStart = GV_METAPAGE_BLKNO + 1;
	meta->blobPages = 0;
	if (meta->trained)
	{
		Size		csize = sizeof(float) * (Size) meta->lists * cache->dim;
		Size		bsize = sizeof(float) * (Size) cache->ksub * cache->dim;
		Size		total = csize + bsize;
		Size		done = 0;
		char	   *blob = palloc(total);

		memcpy(blob, cache->centroids, csize);
		memcpy(blob + csize, cache->codebook, bsize);
		while (done < total)
		{
			Size		chunk = Min(total - done, GV_BLOB_PER_PAGE);

			CHECK_FOR_INTERRUPTS();
			buf = NewPage(index, fork, IVFPQ_PAGE_BLOB, &page);
			GvBlobPutChunk(page, blob + done, chunk);
			FinishPage(buf, fork);
			meta->blobPages++;
			done += chunk;
		}
		pfree(blob);
	}

	/* directory pages, filled in at the end */
	meta->directoryStart = meta->blobStart + meta->blobPages;
	meta->directoryPages = (meta->lists + IVFPQ_LISTS_PER_PAGE - 1) / IVFPQ_LISTS_PER_PAGE;
	for (uint32 i = 0; i < meta->directoryPages; i++)
	{
		buf = NewPage(index, fork, IVFPQ_PAGE_DIRECTORY, &page);
		MarkBufferDirty(buf);	/* as the metapage's */
		UnlockReleaseBuffer(buf);
	}

	/* the segment */
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_IVFPQ_PHASE_WRITE);
	WriteSegment(index, fork, meta, cache, lists, dir);

	/* now the directory ... */
	for (uint32 i = 0; i < meta->directoryPages; i++)
	{
		uint32		first = i * IVFPQ_LISTS_PER_PAGE;
		uint32		n = Min(meta->lists - first, IVFPQ_LISTS_PER_PAGE);

		blkno = meta->directoryStart + i;
		buf = ReadBufferExtended(index, fork, blkno, RBM_NORMAL, NULL);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		memcpy(PageGetContents(page), dir + first, sizeof(IvfpqListData) * n);
		((PageHeader) page)->pd_lower =
			(PageGetContents(page) - (char *) page) + sizeof(IvfpqListData) * n;
		FinishPage(buf, fork);
	}

	/* ... and the metapage */
	buf = ReadBufferExtended(index, fork, GV_METAPAGE_BLKNO, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	memcpy(PageGetContents(page), meta, sizeof(IvfpqMetaPageData));
	((PageHeader) page)->pd_lower =
		(PageGetContents(page) - (char *) page) + sizeof(IvfpqMetaPageData);
	FinishPage(buf, fork);

	pfree(dir);
}

/*
 * Metapage fields of an untrained index.
 */
static void
InitUntrainedMeta(IvfpqMetaPage meta, int dim, GvMetric metric)
{
	MemSet(meta, 0, sizeof(IvfpqMetaPageData));
	meta->header.magic = IVFPQ_MAGIC;
	meta->header.version = IVFPQ_VERSION;
	meta->header.dimensions = dim;
	meta->metric = metric->kind;
	meta->trained = false;
	meta->lists = 1;
	meta->buildTime = GetCurrentTimestamp();
}

/*
 * The divisor of dim nearest below dim / IVFPQ_TARGET_SUBDIM (at least 1),
 * capped so that an entry fits a page.
 */
static int
DefaultSubquantizers(int dim)
{
	int			target = Min(Max(dim / IVFPQ_TARGET_SUBDIM, 1), IVFPQ_MAX_SUBQUANTIZERS);

	for (int m = target; m > 1; m--)
		if (dim % m == 0)
			return m;
	return 1;
}

/*
 * Pass 1: the sample, from the training table or from the indexed rows.
 * Its size is set for the largest number of lists we might derive (or
 * were given), capped by maintenance_work_mem.
 */
static void
CollectSample(IvfpqBuildState bs, Relation heap, Relation index, IndexInfo *indexInfo,
			  int lists, const char *trainingTable)
{
	double		est = Max(heap->rd_rel->reltuples, 0.0);
	int			maxLists = (lists > 0 ? lists :
							(int) Min(Max(sqrt(Max(est, 1e6)), 1.0), (double) IVFPQ_MAX_LISTS));

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_IVFPQ_PHASE_SAMPLE);
	bs->sampleCap = Max(maxLists * IVFPQ_SAMPLES_PER_LIST,
						IVFPQ_SAMPLES_PER_CODE * (1 << IVFPQ_MAX_BITS));
	if (bs->dim > 0)
	{
		bs->sampleCap = (int) Min((double) bs->sampleCap,
								  (double) maintenance_work_mem * 1024.0 / 2 /
								  (sizeof(float) * bs->dim));
		bs->sampleCap = Max(bs->sampleCap, 1);
		bs->sample = palloc_extended(sizeof(float) * (Size) bs->sampleCap * bs->dim,
									 MCXT_ALLOC_HUGE);
	}
	if (trainingTable)
		RecordTrainingTable(index, SampleTrainingTable(bs, trainingTable));
	else
	{
		RecordTrainingTable(index, InvalidOid);
		table_index_build_scan(heap, index, indexInfo, true, true,
							   SampleCallback, bs, NULL);
	}
	if (bs->rows == 0 && trainingTable)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("training table \"%s\" has no vectors", trainingTable),
				 errhint("Load the training vectors first, or reset training_table to train on the indexed table.")));
}

/* An index on a table without rows: an untrained metapage only. */
static IndexBuildResult *
BuildUntrained(IvfpqBuildState bs, Relation index, IndexBuildResult *result)
{
	IvfpqMetaPageData meta;

	ereport(NOTICE,
			(errmsg("gv_ivfpq index \"%s\" created on a table without rows: it is untrained",
					RelationGetRelationName(index)),
			 errhint("Until a REINDEX once the table has data, scans compute exact distances for every row.")));
	InitUntrainedMeta(&meta, bs->dim, bs->metric);
	WritePages(index, MAIN_FORKNUM, &meta, NULL, NULL);
	GvLogBuiltIndex(index);
	result->heap_tuples = 0;
	result->index_tuples = 0;
	return result;
}

/*
 * The options the user left out, from the data (lists from the rows,
 * subquantizers from the dimensions, bits from the sample's size), and a
 * check of those given against what the sample can train.
 */
static void
ChooseShape(IvfpqBuildState bs, Relation heap, IvfpqOptions *opts,
			const char *trainingTable, int *listsp, int *mp, int *bitsp)
{
	int			n = bs->sampleCount;
	int			lists = *listsp;
	int			m = *mp;
	int			bits = *bitsp;

	if (m > 0 && bs->dim % m != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("subquantizers (%d) must divide the dimensions (%d)", m, bs->dim),
				 errhint("Choose a divisor of %d, or leave subquantizers out to derive it.", bs->dim)));
	if (lists == 0)
	{
		double		rows = bs->rows;

		if (trainingTable)
			rows = Max(rows, heap->rd_rel->reltuples);
		lists = (int) Min(Max(rint(sqrt(rows)), 1.0), (double) IVFPQ_MAX_LISTS);
	}
	if (trainingTable && (lists > n || (1 << (bits > 0 ? bits : IVFPQ_MAX_BITS)) > n))
	{
		int			need = Max(lists, 1 << (bits > 0 ? bits : IVFPQ_MAX_BITS));

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("too few training vectors in \"%s\": %d, at least %d needed for %d lists and %d bits",
						trainingTable, n, need, lists, bits > 0 ? bits : IVFPQ_MAX_BITS),
				 errhint("The training table needs one vector per list and 2^bits vectors; add rows to it, lower lists or bits, or raise maintenance_work_mem.")));
	}
	if (lists > n)
	{
		if (opts && opts->lists > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("too few training vectors for %d lists: %d", lists, n),
					 errhint("Create the index after loading more rows, lower lists, or raise maintenance_work_mem.")));
		lists = n;
	}
	if (m == 0)
		m = DefaultSubquantizers(bs->dim);
	if (m > bs->dim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("subquantizers (%d) cannot exceed the dimensions (%d)", m, bs->dim)));
	if (bits == 0)
	{
		bits = IVFPQ_MAX_BITS;
		while (bits > 1 && (1 << bits) > n)
			bits--;
	}
	else if ((1 << bits) > n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("too few training vectors for %d bits: %d, at least %d needed",
						bits, n, 1 << bits),
				 errhint("Create the index after loading more rows, or lower bits.")));
	*listsp = lists;
	*mp = m;
	*bitsp = bits;
}

/*
 * Shuffle the reservoir so that any prefix of it is a uniform sample, and
 * bring it into the index's space.
 */
static void
PrepareSample(IvfpqBuildState bs)
{
	int			n = bs->sampleCount;

	for (int i = n - 1; i > 0; i--)
	{
		int			j = (int) pg_prng_uint64_range(&bs->rng, 0, i);

		if (i != j)
		{
			float	   *a = bs->sample + (Size) i * bs->dim;
			float	   *b = bs->sample + (Size) j * bs->dim;

			for (int d = 0; d < bs->dim; d++)
			{
				float		t = a[d];

				a[d] = b[d];
				b[d] = t;
			}
		}
	}
	bs->scale = IvfpqScaleExponent(bs->metric, bs->sample, n, bs->dim);
	for (int i = 0; i < n; i++)
		IvfpqScaleVector(bs->sample + (Size) i * bs->dim, bs->dim, bs->scale);
}

/* The metapage of a trained index of this shape. */
static void
InitTrainedMeta(IvfpqMetaPageData *meta, IvfpqBuildState bs, int lists, int m, int bits)
{
	MemSet(meta, 0, sizeof(*meta));
	meta->header.magic = IVFPQ_MAGIC;
	meta->header.version = IVFPQ_VERSION;
	meta->header.dimensions = bs->dim;
	meta->metric = bs->metric->kind;
	meta->trained = true;
	meta->lists = lists;
	meta->subquantizers = m;
	meta->bits = bits;
	meta->buildTime = GetCurrentTimestamp();
	meta->scale = bs->scale;
}

/*
 * Train: coarse centroids on up to 50 vectors per list, then codebooks on
 * the residuals of the sample (which they overwrite); the sample is freed.
 */
static void
Train(IvfpqBuildState bs, const IvfpqMetaPageData *meta, IvfpqCacheData *cache)
{
	int			n = bs->sampleCount;
	int			lists = meta->lists;
	int			m = meta->subquantizers;
	int			ksub = 1 << meta->bits;
	float	   *residuals;
	int			pqn;

	MemSet(cache, 0, sizeof(*cache));
	cache->meta = *meta;
	cache->dim = bs->dim;
	cache->dsub = bs->dim / m;
	cache->ksub = ksub;
	cache->centroids = palloc_extended(sizeof(float) * (Size) lists * bs->dim, MCXT_ALLOC_HUGE);
	cache->codebook = palloc_extended(sizeof(float) * (Size) ksub * bs->dim, MCXT_ALLOC_HUGE);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_IVFPQ_PHASE_KMEANS);
	IvfpqKmeans(bs->sample, Min(n, lists * IVFPQ_SAMPLES_PER_LIST), bs->dim, lists,
				IVFPQ_KMEANS_ITERATIONS, &bs->rng, cache->centroids);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_IVFPQ_PHASE_CODEBOOK);
	pqn = Min(n, IVFPQ_SAMPLES_PER_CODE * ksub);
	residuals = bs->sample;		/* residuals overwrite the sample in place */
	for (int i = 0; i < pqn; i++)
	{
		float	   *x = residuals + (Size) i * bs->dim;
		const float *c = cache->centroids + (Size) IvfpqNearestList(cache, x) * bs->dim;

		if ((i & 255) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int d = 0; d < bs->dim; d++)
			x[d] -= c[d];
	}
	IvfpqTrainCodebooks(residuals, pqn, bs->dim, m, ksub, &bs->rng, cache->codebook);
	pfree(bs->sample);
	bs->sample = NULL;
	IvfpqFinishCache(cache);
}

/* Pass 2: encode every row into its list's buffer; returns the heap rows read. */
static double
EncodeRows(IvfpqBuildState bs, Relation heap, Relation index, IndexInfo *indexInfo,
		   IvfpqCacheData *cache)
{
	int			m = cache->meta.subquantizers;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_IVFPQ_PHASE_ENCODE);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) bs->rows);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, 0);
	bs->cache = cache;
	bs->lists = palloc0(sizeof(IvfpqListBufferData) * cache->meta.lists);
	GvFilterInitKeys(index, &cache->keys);
	IvfpqInitLayout(&cache->layout, m, &cache->keys);
	bs->entry = palloc0(cache->layout.size);
	bs->scratch = palloc(sizeof(float) * (bs->dim + cache->ksub));
	return table_index_build_scan(heap, index, indexInfo, true, true,
								  EncodeCallback, bs, NULL);
}

/*
 * ambuild
 */
IndexBuildResult *
ivfpqbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result = palloc0(sizeof(IndexBuildResult));
	IvfpqBuildStateData bs;
	IvfpqOptions *opts = IvfpqGetOptions(index);
	int			typmod = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	int			lists = opts ? opts->lists : 0;
	int			m = opts ? opts->subquantizers : 0;
	int			bits = opts ? opts->bits : 0;
	const char *trainingTable = IvfpqGetTrainingTable(index);
	IvfpqMetaPageData meta;
	IvfpqCacheData cache;

	IvfpqCheckIndex(index);

	MemSet(&bs, 0, sizeof(bs));
	bs.index = index;
	bs.metric = GvIndexGetMetric(index, 1);
	bs.dim = typmod > 0 ? typmod : 0;
	pg_prng_seed(&bs.rng, IVFPQ_SEED);
	bs.tmpCtx = AllocSetContextCreate(CurrentMemoryContext, "gv_ivfpq build tuple",
									  ALLOCSET_DEFAULT_SIZES);

	if (m > 0 && bs.dim > 0 && (bs.dim % m != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("subquantizers (%d) must divide the dimensions (%d)", m, bs.dim),
				 errhint("Choose a divisor of %d, or leave subquantizers out to derive it.", bs.dim)));

	CollectSample(&bs, heap, index, indexInfo, lists, trainingTable);
	if (bs.rows == 0)
		return BuildUntrained(&bs, index, result);
	ChooseShape(&bs, heap, opts, trainingTable, &lists, &m, &bits);
	PrepareSample(&bs);
	InitTrainedMeta(&meta, &bs, lists, m, bits);
	Train(&bs, &meta, &cache);
	result->heap_tuples = EncodeRows(&bs, heap, index, indexInfo, &cache);
	result->index_tuples = bs.indtuples;

	WritePages(index, MAIN_FORKNUM, &meta, &cache, bs.lists);
	GvLogBuiltIndex(index);

	MemoryContextDelete(bs.tmpCtx);
	return result;
}

/*
 * ambuildempty: an untrained index in the init fork.
 */
void
ivfpqbuildempty(Relation index)
{
	IvfpqMetaPageData meta;
	int			typmod = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;

	InitUntrainedMeta(&meta, typmod > 0 ? typmod : 0, GvIndexGetMetric(index, 1));
	WritePages(index, INIT_FORKNUM, &meta, NULL, NULL);
}
