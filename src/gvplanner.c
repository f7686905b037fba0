/*
 * gvplanner.c
 *	  Lets "filter_column = ANY(array)" (and IN (...)), and "jsonb_column
 *	  ->> key = value", be index conditions of an ordered gv_hnsw or
 *	  gv_ivfpq scan.
 *
 * PostgreSQL 15's planner (build_index_paths) gives up an index's order as
 * soon as it takes a ScalarArrayOpExpr on a column after the first, since
 * for btree that order would be lost.  Our indexes' order comes from their
 * ORDER BY operator, which array conditions do not disturb, and the vector
 * is always their first column, so the planner would never let an IN list be
 * tested inside the index.  A set_rel_pathlist hook adds, for each ordered
 * gv_hnsw or gv_ivfpq path the planner built, a copy with the rel's array
 * conditions on filter columns as index clauses too, costed by the access method like any
 * other path; add_path keeps the cheaper.  The executor already turns such
 * clauses into SK_SEARCHARRAY scan keys (amsearcharray), which
 * gvfilter.c tests.
 *
 * "metadata ->> 'k' = $1" on a jsonb filter column is no indexable clause
 * at all (its left side is not the column); the same hook gives such paths
 * a lossy derived condition the index can test (FieldTextIndexClause).
 */
#include "compat.h"

#include "catalog/pg_type.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_operator.h"
#include "commands/defrem.h"
#include "gvfilter.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "parser/parse_func.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"

static set_rel_pathlist_hook_type prev_set_rel_pathlist_hook = NULL;

/* Is node index column indexcol, a plain Var of the index's rel? */
static bool
IsIndexColumn(Node *node, IndexOptInfo *index, int indexcol)
{
	return IsA(node, Var) && ((Var *) node)->varno == index->rel->relid &&
		((Var *) node)->varattno == index->indexkeys[indexcol] &&
		((Var *) node)->varlevelsup == 0;
}

/* Is expr known when the scan starts (no Var of the query level, not volatile)? */
static bool
KnownAtScanStart(PlannerInfo *root, Node *expr)
{
	return bms_is_empty(pull_varnos(root, expr)) && !contain_volatile_functions(expr);
}

static IndexClause *
MakeIndexClause(RestrictInfo *rinfo, RestrictInfo *indexqual, bool lossy, int indexcol)
{
	IndexClause *iclause = makeNode(IndexClause);

	iclause->rinfo = rinfo;
	iclause->indexquals = list_make1(indexqual);
	iclause->lossy = lossy;
	iclause->indexcol = indexcol;
	iclause->indexcols = NIL;
	return iclause;
}

/*
 * If rinfo is "indexed column op ANY(array)" for filter column indexcol
 * (op in the column's operator family, the column a plain Var of rel on the
 * left), an IndexClause for it; else NULL.
 */
static IndexClause *
ArrayIndexClause(PlannerInfo *root, IndexOptInfo *index, RestrictInfo *rinfo, int indexcol)
{
	ScalarArrayOpExpr *saop;
	Node	   *left;

	if (!IsA(rinfo->clause, ScalarArrayOpExpr) || rinfo->pseudoconstant)
		return NULL;
	saop = (ScalarArrayOpExpr *) rinfo->clause;
	if (!saop->useOr || list_length(saop->args) != 2)
		return NULL;
	left = linitial(saop->args);
	if (IsA(left, RelabelType))
		left = (Node *) ((RelabelType *) left)->arg;
	if (!IsIndexColumn(left, index, indexcol) ||
		!op_in_opfamily(saop->opno, index->opfamily[indexcol]) ||
		!KnownAtScanStart(root, lsecond(saop->args)))
		return NULL;
	return MakeIndexClause(rinfo, rinfo, false, indexcol);
}

/*
 * If rinfo is "jsonb filter column ->> key = value" (either way round; key
 * and value known when the scan starts, a deterministic collation) for
 * filter column indexcol, an IndexClause with a lossy derived condition:
 * "column @> ANY(gigavector.jsonb_field_candidates(key, value))", the
 * objects of which one must be contained for ->> to give value (gvfilterjsonb.c
 * tests it on the signatures); the executor rechecks the ->> clause.
 */
static IndexClause *
FieldTextIndexClause(PlannerInfo *root, IndexOptInfo *index, RestrictInfo *rinfo, int indexcol)
{
	OpExpr	   *eq;
	OpExpr	   *field = NULL;
	Node	   *value = NULL;
	Node	   *column;
	Oid			contains;
	Oid			candidates;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	ScalarArrayOpExpr *saop;

	if (!IsA(rinfo->clause, OpExpr) || rinfo->pseudoconstant ||
		((OpExpr *) rinfo->clause)->opno != TextEqualOperator)
		return NULL;
	eq = (OpExpr *) rinfo->clause;
	if (OidIsValid(eq->inputcollid) && !get_collation_isdeterministic(eq->inputcollid))
		return NULL;
	for (int side = 0; side < 2 && field == NULL; side++)
	{
		Node	   *arg = (Node *) list_nth(eq->args, side);

		if (IsA(arg, OpExpr) && get_opcode(((OpExpr *) arg)->opno) == F_JSONB_OBJECT_FIELD_TEXT)
		{
			field = (OpExpr *) arg;
			value = (Node *) list_nth(eq->args, 1 - side);
		}
	}
	if (field == NULL)
		return NULL;
	column = linitial(field->args);
	contains = get_opfamily_member(index->opfamily[indexcol], JSONBOID, JSONBOID,
								   GV_KEY_CONTAINS);
	if (!IsIndexColumn(column, index, indexcol) || !OidIsValid(contains) ||
		!KnownAtScanStart(root, (Node *) list_make2(lsecond(field->args), value)))
		return NULL;
	candidates = LookupFuncName(list_make2(makeString("gigavector"),
										   makeString("jsonb_field_candidates")),
								2, argtypes, true);
	if (!OidIsValid(candidates))
		return NULL;

	saop = makeNode(ScalarArrayOpExpr);
	saop->opno = contains;
	saop->opfuncid = get_opcode(contains);
	saop->useOr = true;
	saop->inputcollid = InvalidOid;
	saop->args = list_make2(copyObject(column),
							makeFuncExpr(candidates, JSONBARRAYOID,
										 list_make2(copyObject(lsecond(field->args)),
													copyObject(value)),
										 InvalidOid, DEFAULT_COLLATION_OID,
										 COERCE_EXPLICIT_CALL));
	saop->location = -1;
	return MakeIndexClause(rinfo, make_simple_restrictinfo(root, (Expr *) saop), true, indexcol);
}

/*
 * The path's index clauses with the array conditions merged in, in
 * index-column order (the executor expects that); NIL if there are none to
 * add.
 */
static List *
WithArrayClauses(PlannerInfo *root, IndexPath *path, RelOptInfo *rel)
{
	IndexOptInfo *index = path->indexinfo;
	List	   *extra = NIL;
	List	   *merged = NIL;
	ListCell   *lc;

	foreach(lc, rel->baserestrictinfo)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		ListCell   *lc2;
		bool		present = false;

		foreach(lc2, path->indexclauses)
			present |= lfirst_node(IndexClause, lc2)->rinfo == rinfo;
		for (int col = 1; col < index->nkeycolumns && !present; col++)
		{
			IndexClause *iclause = ArrayIndexClause(root, index, rinfo, col);

			if (iclause == NULL)
				iclause = FieldTextIndexClause(root, index, rinfo, col);

			if (iclause)
			{
				extra = lappend(extra, iclause);
				break;
			}
		}
	}
	if (extra == NIL)
		return NIL;
	for (int col = 0; col < index->nkeycolumns; col++)
	{
		foreach(lc, path->indexclauses)
		{
			if (lfirst_node(IndexClause, lc)->indexcol == col)
				merged = lappend(merged, lfirst(lc));
		}
		foreach(lc, extra)
		{
			if (lfirst_node(IndexClause, lc)->indexcol == col)
				merged = lappend(merged, lfirst(lc));
		}
	}
	return merged;
}

static void
SetRelPathlist(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte)
{
	List	   *added = NIL;
	ListCell   *lc;
	Oid			hnswAm;
	Oid			ivfpqAm;

	if (prev_set_rel_pathlist_hook)
		prev_set_rel_pathlist_hook(root, rel, rti, rte);
	if (rel->reloptkind != RELOPT_BASEREL || rte->rtekind != RTE_RELATION ||
		rel->indexlist == NIL || rel->baserestrictinfo == NIL)
		return;
	hnswAm = get_am_oid("gv_hnsw", true);
	ivfpqAm = get_am_oid("gv_ivfpq", true);
	if (!OidIsValid(hnswAm) && !OidIsValid(ivfpqAm))
		return;

	foreach(lc, rel->pathlist)
	{
		IndexPath  *path = (IndexPath *) lfirst(lc);
		List	   *clauses;

		/*
		 * unparameterized ordered scans (a parameterized one's loop count is
		 * the planner's own)
		 */
		if (!IsA(path, IndexPath) ||
			(path->indexinfo->relam != hnswAm && path->indexinfo->relam != ivfpqAm) ||
			path->indexorderbys == NIL || PATH_REQ_OUTER(&path->path) != NULL)
			continue;
		clauses = WithArrayClauses(root, path, rel);
		if (clauses == NIL)
			continue;
		added = lappend(added,
						create_index_path(root, path->indexinfo, clauses,
										  path->indexorderbys, path->indexorderbycols,
										  path->path.pathkeys, path->indexscandir,
										  false, NULL, 1.0, false));
	}
	foreach(lc, added)
		add_path(rel, (Path *) lfirst(lc));
}

void
GvFilterPlannerInit(void)
{
	prev_set_rel_pathlist_hook = set_rel_pathlist_hook;
	set_rel_pathlist_hook = SetRelPathlist;
}
