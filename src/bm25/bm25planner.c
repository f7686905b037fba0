/*
 * bm25planner.c
 *	  Lets an ordered gv_bm25 scan hand its scores to the select list, so
 *	  that "ORDER BY body <&> q LIMIT k" does not tokenise each row it returns.
 *
 * PostgreSQL puts an ORDER BY expression into the scan's target list (a
 * resjunk column) and evaluates it for every row the scan returns, even
 * when the index already ordered the rows by it.  For gv_bm25 that means
 * tokenising each returned text again, which costs more than the whole
 * top-k search.  A planner hook replaces, in the target list of each index
 * scan on a gv_bm25 index, every copy of the scan's ORDER BY expression
 * "col <&> q" by bm25_scan_distance(col, q, ctid): it returns the score the
 * scan computed for that row (bm25scan.c keeps the last row it returned
 * and its query, Bm25ScanScore) when row and query are the ones the scan
 * just returned, and otherwise computes "col <&> q" itself -- so its value
 * is always the operator's, bit for bit.
 */
#include "compat.h"

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "bm25.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "catalog/pg_type_d.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/planner.h"
#include "parser/parse_func.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

static planner_hook_type prev_planner_hook = NULL;

/* The access method of index relation indexoid. */
static Oid
IndexAm(Oid indexoid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(indexoid));
	Oid			am = InvalidOid;

	if (HeapTupleIsValid(tup))
	{
		am = ((Form_pg_class) GETSTRUCT(tup))->relam;
		ReleaseSysCache(tup);
	}
	return am;
}

/*
 * bm25_scan_distance(type of the operator's left side, bm25query, tid), in
 * the schema of the operator's function; InvalidOid if not installed.
 */
static Oid
ScanDistanceFunc(OpExpr *op)
{
	Oid			argtypes[3];
	char	   *nsp = get_namespace_name(get_func_namespace(op->opfuncid));

	if (nsp == NULL)
		return InvalidOid;
	argtypes[0] = exprType(linitial(op->args));
	argtypes[1] = exprType(lsecond(op->args));
	argtypes[2] = TIDOID;
	return LookupFuncName(list_make2(makeString(nsp), makeString("bm25_scan_distance")),
						  3, argtypes, true);
}

typedef struct SwapContext
{
	OpExpr	   *orderby;		/* the scan's ORDER BY expression */
	Oid			func;			/* bm25_scan_distance for its types */
	Index		scanrelid;
} SwapContext;

/* An expression with each copy of the ORDER BY expression swapped. */
static Node *
SwapMutator(Node *node, SwapContext *cxt)
{
	if (node == NULL)
		return NULL;
	if (equal(node, cxt->orderby))
	{
		Var		   *ctid = makeVar(cxt->scanrelid, SelfItemPointerAttributeNumber, TIDOID, -1,
								   InvalidOid, 0);

		return (Node *) makeFuncExpr(cxt->func, FLOAT8OID,
									 list_make3(copyObject(linitial(cxt->orderby->args)),
												copyObject(lsecond(cxt->orderby->args)),
												ctid),
									 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	}
	return expression_tree_mutator(node, SwapMutator, (void *) cxt);
}

/* Swap the ORDER BY expression in an index scan's target list. */
static void
RewriteIndexScan(IndexScan *scan)
{
	SwapContext cxt;

	if (list_length(scan->indexorderbyorig) != 1 ||
		IndexAm(scan->indexid) != get_index_am_oid("gv_bm25", true))
		return;
	cxt.orderby = (OpExpr *) linitial(scan->indexorderbyorig);
	if (!IsA(cxt.orderby, OpExpr) || list_length(cxt.orderby->args) != 2 ||
		!OidIsValid(cxt.func = ScanDistanceFunc(cxt.orderby)))
		return;
	cxt.scanrelid = scan->scan.scanrelid;
	scan->scan.plan.targetlist = (List *)
		SwapMutator((Node *) scan->scan.plan.targetlist, &cxt);
}

static void
RewritePlan(Plan *plan)
{
	ListCell   *lc;
	List	   *children = NIL;

	if (plan == NULL)
		return;
	check_stack_depth();
	if (IsA(plan, IndexScan))
		RewriteIndexScan((IndexScan *) plan);
	else if (IsA(plan, Append))
		children = ((Append *) plan)->appendplans;
	else if (IsA(plan, MergeAppend))
		children = ((MergeAppend *) plan)->mergeplans;
	else if (IsA(plan, SubqueryScan))
		RewritePlan(((SubqueryScan *) plan)->subplan);
	else if (IsA(plan, CustomScan))
		children = ((CustomScan *) plan)->custom_plans;
	foreach(lc, children)
		RewritePlan((Plan *) lfirst(lc));
	RewritePlan(plan->lefttree);
	RewritePlan(plan->righttree);
}

static PlannedStmt *
Bm25Planner(Query *parse, const char *queryString, int cursorOptions,
			ParamListInfo boundParams)
{
	PlannedStmt *stmt;
	ListCell   *lc;

	if (prev_planner_hook)
		stmt = prev_planner_hook(parse, queryString, cursorOptions, boundParams);
	else
		stmt = standard_planner(parse, queryString, cursorOptions, boundParams);

	RewritePlan(stmt->planTree);
	foreach(lc, stmt->subplans)
		RewritePlan((Plan *) lfirst(lc));
	return stmt;
}

void
Bm25PlannerInit(void)
{
	prev_planner_hook = planner_hook;
	planner_hook = Bm25Planner;
}
