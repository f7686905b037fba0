/*
 * gvam.c
 *	  What every gigavector access method's handler, cost estimate and
 *	  aminsert start with, so that each AM's file holds only what is its own.
 */
#include "compat.h"

#include "gvam.h"
#include "utils/float.h"
#include "utils/memutils.h"

/*
 * An IndexAmRoutine with what all our AMs share: each answers ORDER BY a
 * distance operator (not ORDER BY the column), forward only, without
 * uniqueness, INCLUDE columns, predicate locks, index-only or bitmap scans,
 * mark/restore or parallel scans.  The caller sets the rest: amsupport,
 * the key and option flags that differ, and its callbacks.
 */
IndexAmRoutine *
GvMakeAmRoutine(void)
{
	IndexAmRoutine *amroutine = makeNode(IndexAmRoutine);

	amroutine->amstrategies = 0;
	amroutine->amoptsprocnum = 0;
	amroutine->amcanorder = false;
	amroutine->amcanorderbyop = true;
	amroutine->amcanbackward = false;
	amroutine->amcanunique = false;
	amroutine->amoptionalkey = true;
	amroutine->amstorage = false;
	amroutine->amclusterable = false;
	amroutine->ampredlocks = false;
	amroutine->amcanparallel = false;
	amroutine->amcaninclude = false;
	amroutine->amkeytype = InvalidOid;

	amroutine->amcanreturn = NULL;
	amroutine->amproperty = NULL;
	amroutine->amadjustmembers = NULL;
	amroutine->amgetbitmap = NULL;
	amroutine->ammarkpos = NULL;
	amroutine->amrestrpos = NULL;
	amroutine->amestimateparallelscan = NULL;
	amroutine->aminitparallelscan = NULL;
	amroutine->amparallelrescan = NULL;
	return amroutine;
}

/* Does the path have a condition "vector IS NULL" (on the first column)? */
static bool
VectorIsNullClause(IndexPath *path)
{
	ListCell   *lc;

	foreach(lc, path->indexclauses)
	{
		IndexClause *iclause = lfirst_node(IndexClause, lc);
		Node	   *clause = (Node *) iclause->rinfo->clause;

		if (iclause->indexcol == 0 && IsA(clause, NullTest) &&
			((NullTest *) clause)->nulltesttype == IS_NULL)
			return true;
	}
	return false;
}

/*
 * The start of every amcostestimate of ours.  A path the index cannot
 * serve (usable false: no ORDER BY distance, or one meant for another
 * index; or one for rows whose vector IS NULL, of which an index with
 * filter columns, amsearchnulls, holds none: gvfilter.c) gets an
 * infinite cost, so that the planner never picks it, and
 * false comes back: the estimate is done.  Otherwise costs gets
 * PostgreSQL's generic figures (pages, selectivity of the index quals)
 * that the AM's own cost model starts from.
 */
bool
GvCostEstimateStart(bool usable, PlannerInfo *root, IndexPath *path,
					double loop_count, GenericCosts *costs,
					Cost *indexStartupCost, Cost *indexTotalCost,
					Selectivity *indexSelectivity, double *indexCorrelation,
					double *indexPages)
{
	if (!usable || VectorIsNullClause(path))
	{
		*indexStartupCost = get_float8_infinity();
		*indexTotalCost = get_float8_infinity();
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return false;
	}
	MemSet(costs, 0, sizeof(*costs));
	genericcostestimate(root, path, loop_count, costs);
	return true;
}

/*
 * aminsert: a row whose indexed column is NULL is not indexed; any other is
 * handed to index_row in a memory context named cxtname (a string constant:
 * the context keeps the pointer), deleted afterwards, so that nothing one
 * row allocates outlives it.  Always false: no AM of ours checks uniqueness.
 */
bool
GvAmInsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
		   Relation heap, const char *cxtname, GvIndexRowFunc index_row)
{
	MemoryContext rowcxt;
	MemoryContext oldcxt;

	if (isnull[0])
		return false;

	/*
	 * not AllocSetContextCreate: its check for a constant name sees a
	 * variable
	 */
	rowcxt = AllocSetContextCreateInternal(CurrentMemoryContext, cxtname,
										   ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(rowcxt);
	index_row(index, values, isnull, heap_tid, heap);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(rowcxt);
	return false;
}
