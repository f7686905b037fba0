/*
 * kdtree.c
 *	  gv_kdtree: the access method handler, its options, its cost estimate
 *	  and KdtreeInit.
 *
 * gv_kdtree answers ORDER BY <-> (and <=>) exactly: a best-first scan over
 * a balanced KD-tree whose leaves are whole pages of vectors, returning
 * rows in distance order for as long as the executor asks.  It has no
 * search operators, only ordering ones, so the planner uses it only for
 * ORDER BY ... LIMIT.
 */
#include "compat.h"

#include <math.h>

#include "access/amapi.h"
#include "access/reloptions.h"
#include "commands/vacuum.h"
#include "gvam.h"
#include "kdtree.h"
#include "optimizer/optimizer.h"
#include "utils/guc.h"
#include "utils/selfuncs.h"
#include "utils/spccache.h"

static relopt_kind kdtree_relopt_kind;

/*
 * Register the access method's reloptions.  Called once from _PG_init.
 */
void
KdtreeInit(void)
{
	kdtree_relopt_kind = add_reloption_kind();
	add_int_reloption(kdtree_relopt_kind, "fillfactor",
					  "Packs gv_kdtree leaf pages to this percentage at build",
					  KDTREE_DEFAULT_FILLFACTOR, KDTREE_MIN_FILLFACTOR,
					  KDTREE_MAX_FILLFACTOR, AccessExclusiveLock);
}

/*
 * Parse and validate the reloptions.
 */
bytea *
kdtreeoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"fillfactor", RELOPT_TYPE_INT, offsetof(KdtreeOptions, fillfactor)},
	};

	return (bytea *) build_reloptions(reloptions, validate, kdtree_relopt_kind,
									  sizeof(KdtreeOptions), tab,
									  lengthof(tab));
}

/*
 * Cost estimate.  Without an ORDER BY distance the index is useless (it has
 * no search operators), so it is priced out.  With one, a best-first scan
 * reads about log2(leaves) node items and a few leaf pages before the first
 * row, then roughly one more leaf page per leaf-full of rows: generic costs
 * over all tuples give the total, and the planner's LIMIT arithmetic takes
 * the fraction it needs.
 */
void
kdtreecostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				   Cost *indexStartupCost, Cost *indexTotalCost,
				   Selectivity *indexSelectivity, double *indexCorrelation,
				   double *indexPages)
{
	GenericCosts costs;
	double		spc_random_page_cost;
	double		leaves;
	bool		usable;

	usable = path->indexorderbys != NIL;
	if (!GvCostEstimateStart(usable, root, path, loop_count, &costs,
							 indexStartupCost, indexTotalCost,
							 indexSelectivity, indexCorrelation, indexPages))
		return;

	get_tablespace_page_costs(path->indexinfo->reltablespace,
							  &spc_random_page_cost, NULL);
	leaves = Max(costs.numIndexPages, 1.0);

	/* descend to the first leaf and read a couple of its neighbours */
	*indexStartupCost = (log2(leaves) + 2.0) * cpu_operator_cost * 10 +
		2.0 * spc_random_page_cost;
	*indexTotalCost = Max(costs.indexTotalCost, *indexStartupCost);
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}

/*
 * The handler: what gv_kdtree can do and its callbacks.
 */
PG_FUNCTION_INFO_V1(gv_kdtree_handler);
Datum
gv_kdtree_handler(FunctionCallInfo fcinfo pg_attribute_unused())
{
	IndexAmRoutine *amroutine = GvMakeAmRoutine();

	amroutine->amsupport = 1;
	amroutine->amcanmulticol = false;
	amroutine->amsearcharray = false;
	amroutine->amsearchnulls = false;
	amroutine->amusemaintenanceworkmem = false;
	amroutine->amparallelvacuumoptions =
		VACUUM_OPTION_PARALLEL_BULKDEL | VACUUM_OPTION_PARALLEL_CLEANUP;

	amroutine->ambuild = kdtreebuild;
	amroutine->ambuildempty = kdtreebuildempty;
	amroutine->aminsert = kdtreeinsert;
	amroutine->ambulkdelete = kdtreebulkdelete;
	amroutine->amvacuumcleanup = kdtreevacuumcleanup;
	amroutine->amcostestimate = kdtreecostestimate;
	amroutine->amoptions = kdtreeoptions;
	amroutine->ambuildphasename = NULL;
	amroutine->amvalidate = kdtreevalidate;
	amroutine->ambeginscan = kdtreebeginscan;
	amroutine->amrescan = kdtreerescan;
	amroutine->amgettuple = kdtreegettuple;
	amroutine->amendscan = kdtreeendscan;

	PG_RETURN_POINTER(amroutine);
}
