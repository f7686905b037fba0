/*
 * hnsw.c
 *	  The gv_hnsw access method handler: its callbacks, reloptions
 *	  (m, ef_construction, storage), settings (gigavector.hnsw_ef_search,
 *	  gigavector.hnsw_max_scan_tuples) and cost estimate.
 */
#include "compat.h"

#include <float.h>
#include <limits.h>
#include <math.h>

#include "access/amapi.h"
#include "access/reloptions.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "hnsw.h"
#include "optimizer/optimizer.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/selfuncs.h"
#include "utils/spccache.h"

int			gv_hnsw_ef_search = HNSW_DEFAULT_EF_SEARCH;
int			gv_hnsw_max_scan_tuples = HNSW_DEFAULT_MAX_SCAN_TUPLES;

static relopt_kind hnsw_relopt_kind;

static relopt_enum_elt_def hnsw_storage_values[] = {
	{"auto", HNSW_STORAGE_AUTO},
	{"float32", HNSW_STORAGE_FLOAT},
	{"float16", HNSW_STORAGE_HALF},
	{"int8", HNSW_STORAGE_INT8},
	{"binary", HNSW_STORAGE_BIT},
	{NULL}
};

/*
 * Register the reloptions and settings; called once from _PG_init.
 */
void
GvHnswInit(void)
{
	hnsw_relopt_kind = add_reloption_kind();
	add_int_reloption(hnsw_relopt_kind, "m",
					  "Maximum number of neighbours of an element per level (twice this at level 0)",
					  HNSW_DEFAULT_M, HNSW_MIN_M, HNSW_MAX_M,
					  AccessExclusiveLock);
	add_int_reloption(hnsw_relopt_kind, "ef_construction",
					  "Size of the candidate list while building the graph",
					  HNSW_DEFAULT_EF_CONSTRUCTION, HNSW_MIN_EF_CONSTRUCTION,
					  HNSW_MAX_EF_CONSTRUCTION, AccessExclusiveLock);
	add_enum_reloption(hnsw_relopt_kind, "storage",
					   "How the graph stores vectors: auto, float32, float16, int8 or binary",
					   hnsw_storage_values, HNSW_STORAGE_AUTO,
					   "Valid values are \"auto\", \"float32\", \"float16\", \"int8\" and \"binary\".",
					   AccessExclusiveLock);

	DefineCustomIntVariable("gigavector.hnsw_ef_search",
							"Size of the candidate list of a gv_hnsw index scan.",
							"Larger values raise recall and cost speed.",
							&gv_hnsw_ef_search, HNSW_DEFAULT_EF_SEARCH,
							HNSW_MIN_EF_SEARCH, HNSW_MAX_EF_SEARCH,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("gigavector.hnsw_max_scan_tuples",
							"Most graph elements a gv_hnsw index scan visits before it stops.",
							"A scan whose filter rejects most rows keeps expanding the graph "
							"until the query's LIMIT is met or this many elements were visited.",
							&gv_hnsw_max_scan_tuples, HNSW_DEFAULT_MAX_SCAN_TUPLES,
							HNSW_MIN_MAX_SCAN_TUPLES, HNSW_MAX_MAX_SCAN_TUPLES,
							PGC_USERSET, 0, NULL, NULL, NULL);
}

/*
 * Parse and validate reloptions.
 */
static bytea *
gvhnswoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"m", RELOPT_TYPE_INT, offsetof(GvHnswOptions, m)},
		{"ef_construction", RELOPT_TYPE_INT, offsetof(GvHnswOptions, efConstruction)},
		{"storage", RELOPT_TYPE_ENUM, offsetof(GvHnswOptions, storage)},
	};

	return (bytea *) build_reloptions(reloptions, validate, hnsw_relopt_kind,
									  sizeof(GvHnswOptions), tab, lengthof(tab));
}

int
GvHnswGetM(Relation index)
{
	GvHnswOptions *opts = (GvHnswOptions *) index->rd_options;

	return opts ? opts->m : HNSW_DEFAULT_M;
}

int
GvHnswGetEfConstruction(Relation index)
{
	GvHnswOptions *opts = (GvHnswOptions *) index->rd_options;

	return opts ? opts->efConstruction : HNSW_DEFAULT_EF_CONSTRUCTION;
}

int
GvHnswGetStorage(Relation index)
{
	GvHnswOptions *opts = (GvHnswOptions *) index->rd_options;

	return opts ? opts->storage : HNSW_STORAGE_AUTO;
}

/*
 * Cost estimate.  A scan first visits about ef_search elements (the startup
 * cost: nothing comes out before the first batch is sorted), then keeps
 * expanding the graph as the executor asks for rows.  Its total cost is
 * modelled as visiting every element once, so the planner's LIMIT
 * interpolation, startup + (k / rows) * (total - startup), charges a query
 * whose other conditions keep a fraction s of the rows about k / s element
 * visits: cheap for ORDER BY ... LIMIT, expensive without a LIMIT (where a
 * sequential scan and a sort win), and expensive when the filter is so
 * selective that the bounded scan might come back short: then the planner
 * falls back to an exact plan.
 */
static void
gvhnswcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				 Cost *indexStartupCost, Cost *indexTotalCost,
				 Selectivity *indexSelectivity, double *indexCorrelation,
				 double *indexPages)
{
	GenericCosts costs;
	IndexOptInfo *index = path->indexinfo;
	double		tuples = Max(index->tuples, 1.0);
	double		selectivity;
	double		perVisit;
	double		spc_random_page_cost;
	int			m;
	Relation	rel;

	/* Only an ordering scan makes sense. */
	if (path->indexorderbys == NIL)
	{
		*indexStartupCost = get_float8_infinity();
		*indexTotalCost = get_float8_infinity();
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}

	MemSet(&costs, 0, sizeof(costs));
	genericcostestimate(root, path, loop_count, &costs);

	rel = index_open(index->indexoid, NoLock);
	m = GvHnswGetM(rel);
	index_close(rel, NoLock);

	get_tablespace_page_costs(index->reltablespace, &spc_random_page_cost, NULL);

	/*
	 * Visiting an element reads its neighbour list (one page, usually
	 * cached) and computes up to 2m distances, each a kernel call on a
	 * vector in a shared buffer.
	 */
	perVisit = 2 * m * (cpu_operator_cost * 4 + cpu_index_tuple_cost) +
		0.1 * spc_random_page_cost;

	*indexStartupCost = Min(tuples, (double) gv_hnsw_ef_search) * perVisit;
	*indexTotalCost = *indexStartupCost + tuples * perVisit;

	/*
	 * Rows the other conditions keep: if the bounded scan is unlikely to
	 * find enough of them, make the index unattractive so that an exact
	 * plan is chosen.
	 */
	selectivity = index->rel->tuples > 0 ?
		index->rel->rows / index->rel->tuples : 1.0;
	if (selectivity * Min(tuples, (double) gv_hnsw_max_scan_tuples) < 2.0 * gv_hnsw_ef_search &&
		selectivity < 1.0)
		*indexStartupCost = *indexTotalCost = *indexTotalCost * 1e4;

	/* filter columns' conditions are applied in the graph: fewer heap visits */
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}

static char *
gvhnswbuildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case PROGRESS_HNSW_PHASE_LOAD:
			return "loading tuples";
		case PROGRESS_HNSW_PHASE_WRITE:
			return "writing pages";
		default:
			return NULL;
	}
}

PG_FUNCTION_INFO_V1(gv_hnsw_handler);
Datum
gv_hnsw_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *amroutine = makeNode(IndexAmRoutine);

	amroutine->amstrategies = 0;
	amroutine->amsupport = 1;
	amroutine->amoptsprocnum = 0;
	amroutine->amcanorder = false;
	amroutine->amcanorderbyop = true;
	amroutine->amcanbackward = false;
	amroutine->amcanunique = false;
	amroutine->amcanmulticol = true;	/* the vector, then filter columns */
	amroutine->amoptionalkey = true;
	amroutine->amsearcharray = false;
	amroutine->amsearchnulls = false;
	amroutine->amstorage = false;
	amroutine->amclusterable = false;
	amroutine->ampredlocks = false;
	amroutine->amcanparallel = false;
	amroutine->amcaninclude = false;
	amroutine->amusemaintenanceworkmem = false;
	amroutine->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	amroutine->amkeytype = InvalidOid;

	amroutine->ambuild = gvhnswbuild;
	amroutine->ambuildempty = gvhnswbuildempty;
	amroutine->aminsert = gvhnswinsert;
	amroutine->ambulkdelete = gvhnswbulkdelete;
	amroutine->amvacuumcleanup = gvhnswvacuumcleanup;
	amroutine->amcanreturn = NULL;
	amroutine->amcostestimate = gvhnswcostestimate;
	amroutine->amoptions = gvhnswoptions;
	amroutine->amproperty = NULL;
	amroutine->ambuildphasename = gvhnswbuildphasename;
	amroutine->amvalidate = gvhnswvalidate;
	amroutine->amadjustmembers = NULL;
	amroutine->ambeginscan = gvhnswbeginscan;
	amroutine->amrescan = gvhnswrescan;
	amroutine->amgettuple = gvhnswgettuple;
	amroutine->amgetbitmap = NULL;
	amroutine->amendscan = gvhnswendscan;
	amroutine->ammarkpos = NULL;
	amroutine->amrestrpos = NULL;
	amroutine->amestimateparallelscan = NULL;
	amroutine->aminitparallelscan = NULL;
	amroutine->amparallelrescan = NULL;

	PG_RETURN_POINTER(amroutine);
}
