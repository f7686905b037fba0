/*
 * bm25.c
 *	  The gv_bm25 access method handler: its callbacks, reloptions
 *	  (text_config, k1, b) and cost estimate.
 */
#include "compat.h"

#include <float.h>
#include <math.h>

#include "access/amapi.h"
#include "access/reloptions.h"
#include "bm25.h"
#include "catalog/pg_type.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "gvam.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/float.h"
#include "utils/selfuncs.h"

static relopt_kind bm25_relopt_kind;

void
Bm25Init(void)
{
	bm25_relopt_kind = add_reloption_kind();
	add_string_reloption(bm25_relopt_kind, "text_config",
						 "Text search configuration that makes the terms (default: default_text_search_config at build)",
						 NULL, NULL, AccessExclusiveLock);
	add_real_reloption(bm25_relopt_kind, "k1",
					   "BM25 term-frequency saturation k1",
					   BM25_DEFAULT_K1, 0.0, BM25_MAX_K1, AccessExclusiveLock);
	add_real_reloption(bm25_relopt_kind, "b",
					   "BM25 length normalisation b",
					   BM25_DEFAULT_B, 0.0, 1.0, AccessExclusiveLock);
	Bm25PlannerInit();
}

static bytea *
bm25options(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"text_config", RELOPT_TYPE_STRING, offsetof(Bm25Options, textConfig)},
		{"k1", RELOPT_TYPE_REAL, offsetof(Bm25Options, k1)},
		{"b", RELOPT_TYPE_REAL, offsetof(Bm25Options, b)},
	};

	return (bytea *) build_reloptions(reloptions, validate, bm25_relopt_kind,
									  sizeof(Bm25Options), tab, lengthof(tab));
}

Bm25Options *
Bm25GetOptions(Relation index)
{
	return (Bm25Options *) index->rd_options;
}

/*
 * Does a scan key's or ORDER BY's bm25query name another index?  Only
 * knowable when the index argument is a constant; then this index must
 * not be used for it (the scan would refuse it).
 */
static bool
NamesAnotherIndex(Node *clause, Oid indexoid)
{
	Node	   *arg;
	FuncExpr   *fn;
	Node	   *first;

	if (IsA(clause, RestrictInfo))
		clause = (Node *) ((RestrictInfo *) clause)->clause;
	if (!IsA(clause, OpExpr) || list_length(((OpExpr *) clause)->args) != 2)
		return false;
	arg = lsecond(((OpExpr *) clause)->args);
	if (!IsA(arg, FuncExpr))
		return false;
	fn = (FuncExpr *) arg;
	if (fn->args == NIL)
		return false;
	first = linitial(fn->args);
	while (IsA(first, RelabelType))
		first = (Node *) ((RelabelType *) first)->arg;
	if (!IsA(first, Const) || ((Const *) first)->consttype != REGCLASSOID ||
		((Const *) first)->constisnull)
		return false;
	return DatumGetObjectId(((Const *) first)->constvalue) != indexoid;
}

/*
 * Cost estimate: a top-k scan reads the query terms' posting lists, a
 * fraction of the index, and returns rows best first, so its startup cost
 * is that work and each further row is cheap.
 */
static void
bm25costestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				 Cost *indexStartupCost, Cost *indexTotalCost,
				 Selectivity *indexSelectivity, double *indexCorrelation,
				 double *indexPages)
{
	GenericCosts costs;
	IndexOptInfo *index = path->indexinfo;
	ListCell   *lc;
	bool		other = false;
	bool		usable;

	foreach(lc, path->indexorderbys)
		other |= NamesAnotherIndex(lfirst(lc), index->indexoid);
	foreach(lc, path->indexclauses)
	{
		IndexClause *ic = lfirst(lc);
		ListCell   *lc2;

		foreach(lc2, ic->indexquals)
			other |= NamesAnotherIndex(lfirst(lc2), index->indexoid);
	}
	usable = (path->indexorderbys != NIL || path->indexclauses != NIL) &&
		!other;
	if (!GvCostEstimateStart(usable, root, path, loop_count, &costs,
							 indexStartupCost, indexTotalCost,
							 indexSelectivity, indexCorrelation, indexPages))
		return;

	/* about a tenth of the pages hold the query's posting lists */
	*indexStartupCost = 0.1 * costs.numIndexPages * random_page_cost +
		0.1 * index->tuples * cpu_operator_cost;
	*indexTotalCost = *indexStartupCost + costs.numIndexTuples * cpu_index_tuple_cost;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}

static char *
bm25buildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case PROGRESS_BM25_PHASE_TOKENIZE:
			return "tokenizing rows";
		case PROGRESS_BM25_PHASE_MERGE:
			return "merging the workers' postings";
		case PROGRESS_BM25_PHASE_WRITE:
			return "writing posting lists";
		default:
			return NULL;
	}
}

PG_FUNCTION_INFO_V1(gv_bm25_handler);
Datum
gv_bm25_handler(FunctionCallInfo fcinfo pg_attribute_unused())
{
	IndexAmRoutine *amroutine = GvMakeAmRoutine();

	amroutine->amsupport = 0;
	amroutine->amcanmulticol = false;
	amroutine->amsearcharray = false;
	amroutine->amsearchnulls = false;
	amroutine->amusemaintenanceworkmem = true;
	amroutine->amparallelvacuumoptions = 0;

	amroutine->ambuild = bm25build;
	amroutine->ambuildempty = bm25buildempty;
	amroutine->aminsert = bm25insert;
	amroutine->ambulkdelete = bm25bulkdelete;
	amroutine->amvacuumcleanup = bm25vacuumcleanup;
	amroutine->amcostestimate = bm25costestimate;
	amroutine->amoptions = bm25options;
	amroutine->ambuildphasename = bm25buildphasename;
	amroutine->amvalidate = bm25validate;
	amroutine->ambeginscan = bm25beginscan;
	amroutine->amrescan = bm25rescan;
	amroutine->amgettuple = bm25gettuple;
	amroutine->amendscan = bm25endscan;

	PG_RETURN_POINTER(amroutine);
}
