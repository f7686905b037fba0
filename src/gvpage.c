/*
 * gvpage.c
 *	  Page, WAL and metric helpers shared by every gigavector index access
 *	  method.
 *
 * WAL: every change to an index page after the build goes through
 * GenericXLog (start, register, modify the returned copy, finish), so crash
 * recovery and standbys need no custom resource manager.  Builds write
 * their pages without per-page WAL and log them all at once at the end
 * (GvLogBuiltIndex), as core's GiST and SP-GiST builds do.
 */
#include "compat.h"

#include <math.h>

#include "access/xloginsert.h"
#include "distance.h"
#include "fmgr.h"
#include "gvpage.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"

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
 * Metrics
 * ---------------------------------------------------------------------------
 */

static const GvMetricData GvMetricL2 = {GV_METRIC_L2, "l2"};
static const GvMetricData GvMetricCosine = {GV_METRIC_COSINE, "cosine"};
static const GvMetricData GvMetricIp = {GV_METRIC_IP, "ip"};

/*
 * Support function 1 of the operator classes: called with a dummy argument,
 * returns the GvMetricData the class stands for.
 */
PG_FUNCTION_INFO_V1(gvector_l2_metric);
Datum
gvector_l2_metric(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(&GvMetricL2);
}

PG_FUNCTION_INFO_V1(gvector_cosine_metric);
Datum
gvector_cosine_metric(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(&GvMetricCosine);
}

PG_FUNCTION_INFO_V1(gvector_ip_metric);
Datum
gvector_ip_metric(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(&GvMetricIp);
}

/*
 * The metric of an index column, from its operator class.
 */
GvMetric
GvIndexGetMetric(Relation index, AttrNumber attno)
{
	FmgrInfo   *proc = index_getprocinfo(index, attno, 1);

	return (GvMetric) DatumGetPointer(FunctionCall1(proc, PointerGetDatum(NULL)));
}

/*
 * Distance in the metric's index space: L2^2 for L2, 1 - dot of normalised
 * vectors for cosine, -dot for inner product.  Smaller is nearer in all three.
 */
float
GvMetricDistance(GvMetric metric, const float *a, const float *b, int dim)
{
	switch (metric->kind)
	{
		case GV_METRIC_L2:
			return GvL2SquaredDistance(a, b, dim);
		case GV_METRIC_COSINE:
			return 1.0f - GvInnerProduct(a, b, dim);
		case GV_METRIC_IP:
			return -GvInnerProduct(a, b, dim);
	}
	pg_unreachable();
}

/*
 * Bring a vector into the metric's index space in place: cosine normalises
 * it.  Returns false for a vector the metric cannot place (a zero vector
 * under cosine), which callers index nowhere or handle as "distance 1".
 */
bool
GvMetricPrepareVector(GvMetric metric, float *x, int dim)
{
	double		norm = 0.0;

	if (metric->kind != GV_METRIC_COSINE)
		return true;
	for (int i = 0; i < dim; i++)
		norm += (double) x[i] * x[i];
	if (norm == 0.0)
		return false;
	norm = sqrt(norm);
	for (int i = 0; i < dim; i++)
		x[i] = (float) (x[i] / norm);
	return true;
}

/*
 * Convert an index-space distance to what the SQL operator returns.
 */
double
GvMetricToSqlDistance(GvMetric metric, float distance)
{
	switch (metric->kind)
	{
		case GV_METRIC_L2:
			return sqrt((double) Max(distance, 0.0f));
		case GV_METRIC_COSINE:
			return Min(Max((double) distance, 0.0), 2.0);
		case GV_METRIC_IP:
			return distance;
	}
	pg_unreachable();
}
