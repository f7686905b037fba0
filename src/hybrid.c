/*
 * hybrid.c
 *	  Hybrid search: a vector branch and a BM25 text branch over one table,
 *	  fused once by reciprocal rank fusion or a weighted sum of normalised
 *	  scores.
 *
 * gigavector.hybrid_search() checks its arguments and the table, builds the
 * two branch statements from quoted identifiers and a filter that was parsed
 * as an expression over the table (refusing subqueries and functions that
 * are not immutable, then deparsed by ruleutils), and runs each statement
 * through SPI with the query vector and the bm25query as bound parameters.
 * Each branch is an ordinary ORDER BY ... LIMIT candidates query, so the
 * planner uses the column's gv_hnsw / gv_ivfpq / gv_kdtree index (an exact
 * scan and sort when there is none) and the gv_bm25 index, with the filter
 * inside each scan.  Without a gv_bm25 index the text branch is exact too:
 * its bm25query carries statistics counted from the table
 * (Bm25QueryForColumn), so a sequential scan with <&> and @@@ scores rows as
 * an index would.  On a table with TTL both branches also get "not expired"
 * (LiveCondition), which the table's row-level security policy does not
 * impose on superusers.  Prepared plans are kept per statement text for the
 * life of the backend (the plan cache replans them after DDL, a change of
 * search_path or of role), so a repeated call plans nothing.
 *
 * Scores (see README "Hybrid search"):
 *	 RRF:	 score = vw / (rrf_k + vector_rank) + tw / (rrf_k + text_rank),
 *			 a branch that did not find the row adds 0.
 *	 linear: score = vw * norm(vector similarity) + tw * norm(text score),
 *			 a branch that did not find the row adds its weight times the
 *			 lowest normalised value of that branch (0 for min_max).
 *	 vector similarity: l2 1 / (1 + d), cosine 1 - d, ip -d (= the inner
 *	 product), so higher is better and no formula has a pole.
 */
#include "compat.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_index.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "rewrite/rewriteManip.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"

#include "bm25/bm25.h"

extern Datum bm25query_make(PG_FUNCTION_ARGS);

#define HYBRID_DEFAULT_CANDIDATES_FACTOR 3
#define HYBRID_MAX_CANDIDATES	1000000
#define HYBRID_PLAN_CACHE		32

typedef enum HybridDistance
{
	HYBRID_L2,
	HYBRID_COSINE,
	HYBRID_IP
} HybridDistance;

typedef enum HybridNorm
{
	HYBRID_NORM_MIN_MAX,
	HYBRID_NORM_Z_SCORE,
	HYBRID_NORM_L2,
	HYBRID_NORM_NONE
} HybridNorm;

/* One row found by either branch. */
typedef struct HybridRow
{
	int64 id;
	int			vrank;			/* 0 = not found by the vector branch */
	int			trank;			/* 0 = not found by the text branch */
	double		vdist;
	double		vsim;
	double		tscore;
	double		score;
} HybridRow;

/* One ranked branch result: ids and raw values in rank order. */
typedef struct HybridBranch
{
	int			n;
	int64	   *ids;
	double	   *values;			/* vector: distance; text: BM25 score */
	double	   *norm;			/* normalised similarity, for linear */
	double		missing;		/* the normalised value of a row it did not
								 * find */
} HybridBranch;

/* Saved SPI plans by statement text: a small LRU list. */
typedef struct HybridPlan
{
	char	   *sql;
	SPIPlanPtr	plan;
	uint64		used;
} HybridPlan;

static HybridPlan planCache[HYBRID_PLAN_CACHE];
static uint64 planClock = 0;

/* the filter's text, for error positions inside it */
typedef struct FilterErrorArg
{
	const char *filter;
	int			prefix;
} FilterErrorArg;

PG_FUNCTION_INFO_V1(gv_rrf);
/*
 * gigavector.rrf(rank, k): one reciprocal-rank-fusion term, 1 / (k + rank).
 */
Datum
gv_rrf(PG_FUNCTION_ARGS)
{
	int32		rank = PG_GETARG_INT32(0);
	int32		k = PG_GETARG_INT32(1);

	if (rank < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rrf rank must be at least 1, not %d", rank),
				 errhint("Ranks count from 1 for the best row.")));
	if (k < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rrf k must not be negative, not %d", k)));
	PG_RETURN_FLOAT8(1.0 / ((double) k + (double) rank));
}

/* An argument that may not be NULL. */
static void
RequireArg(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("hybrid_search argument \"%s\" must not be null", name)));
}

static double
CheckWeight(double w, const char *name)
{
	if (isnan(w) || isinf(w) || w < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite number at least 0, not %g", name, w)));
	return w;
}

static HybridNorm
ParseNormalization(const char *s)
{
	if (strcmp(s, "min_max") == 0)
		return HYBRID_NORM_MIN_MAX;
	if (strcmp(s, "z_score") == 0)
		return HYBRID_NORM_Z_SCORE;
	if (strcmp(s, "l2") == 0)
		return HYBRID_NORM_L2;
	if (strcmp(s, "none") == 0)
		return HYBRID_NORM_NONE;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown normalization \"%s\"", s),
			 errhint("Use min_max, z_score, l2 or none.")));
	return HYBRID_NORM_NONE;	/* keep the compiler quiet */
}

static bool
ParseDistance(const char *s, HybridDistance *d)
{
	if (strcmp(s, "l2") == 0)
		*d = HYBRID_L2;
	else if (strcmp(s, "cosine") == 0)
		*d = HYBRID_COSINE;
	else if (strcmp(s, "ip") == 0)
		*d = HYBRID_IP;
	else
		return false;
	return true;
}

static const char *
DistanceOperator(HybridDistance d)
{
	switch (d)
	{
		case HYBRID_L2:
			return "<->";
		case HYBRID_COSINE:
			return "<=>";
		case HYBRID_IP:
			return "<#>";
	}
	return "<->";
}

/*
 * Distance to "higher is better" similarity, without poles: L2 distances
 * are at least 0, cosine distances lie in [0, 2], and <#> is the negative
 * inner product.
 */
static double
DistanceToSimilarity(HybridDistance d, double dist)
{
	switch (d)
	{
		case HYBRID_L2:
			return 1.0 / (1.0 + dist);
		case HYBRID_COSINE:
			return 1.0 - dist;
		case HYBRID_IP:
			return -dist;
	}
	return -dist;
}

/* The attribute number of a column, or a clear error. */
static AttrNumber
ColumnOf(Relation rel, Name column, Oid *type)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), NameStr(*column));

	if (attnum == InvalidAttrNumber || attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						NameStr(*column), RelationGetRelationName(rel))));
	*type = TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid;
	return attnum;
}

/* The table's single-column integer primary key, or a clear error. */
static AttrNumber
PrimaryKeyOf(Relation rel)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;

	foreach(lc, indexes)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index index;
		AttrNumber	attnum = InvalidAttrNumber;

		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for index %u", lfirst_oid(lc));
		index = (Form_pg_index) GETSTRUCT(tup);
		if (index->indisprimary && index->indnkeyatts == 1)
			attnum = index->indkey.values[0];
		ReleaseSysCache(tup);
		if (attnum > 0)
		{
			Oid			type = TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid;

			if (type == INT2OID || type == INT4OID || type == INT8OID)
				return attnum;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
			 errmsg("relation \"%s\" has no single-column integer primary key",
					RelationGetRelationName(rel)),
			 errhint("hybrid_search returns rows by id: add a smallint, integer or bigint PRIMARY KEY.")));
	return InvalidAttrNumber;
}

/* The name of an operator class. */
static char *
OpclassName(Oid opclass)
{
	HeapTuple	tup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclass));
	char	   *name;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator class %u", opclass);
	name = pstrdup(NameStr(((Form_pg_opclass) GETSTRUCT(tup))->opcname));
	ReleaseSysCache(tup);
	return name;
}

static bool
HasSuffix(const char *s, const char *suffix)
{
	size_t		n = strlen(s);
	size_t		m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * The first index of access method one of ams (NULL-terminated) whose
 * first key is column attnum and that has no predicate (a partial index
 * cannot answer every filter); InvalidOid when there is none.  *opclass is
 * the operator class of that key.
 */
static Oid
ColumnIndex(Relation rel, AttrNumber attnum, const char *const *ams, Oid *opclass)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;

	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		Relation	irel = index_open(indexoid, AccessShareLock);
		bool		match = false;

		for (int i = 0; ams[i] != NULL; i++)
			if (irel->rd_rel->relam == get_am_oid(ams[i], true))
				match = true;
		match = match && irel->rd_index->indkey.values[0] == attnum &&
			heap_attisnull(irel->rd_indextuple, Anum_pg_index_indpred, NULL);
		if (match)
			*opclass = get_index_column_opclass(indexoid, 1);
		index_close(irel, AccessShareLock);
		if (match)
			return indexoid;
	}
	return InvalidOid;
}

/*
 * The distance of the column's vector index, by its operator class name
 * (*_l2_ops, *_cosine_ops, *_ip_ops); l2, the default operator class's,
 * when the column has no vector index.
 */
static HybridDistance
IndexDistance(Relation rel, AttrNumber attnum)
{
	static const char *const ams[] = {"gv_hnsw", "gv_ivfpq", "gv_kdtree", NULL};
	Oid			opclass;
	char	   *name;

	if (!OidIsValid(ColumnIndex(rel, attnum, ams, &opclass)))
		return HYBRID_L2;
	name = OpclassName(opclass);
	if (HasSuffix(name, "_cosine_ops"))
		return HYBRID_COSINE;
	if (HasSuffix(name, "_ip_ops"))
		return HYBRID_IP;
	return HYBRID_L2;
}

/* Error positions inside the filter point into the filter's own text. */
static void
FilterErrorCallback(void *arg)
{
	FilterErrorArg *fa = (FilterErrorArg *) arg;
	int			pos = geterrposition();

	if (pos > fa->prefix)
	{
		errposition(0);
		internalerrposition(pos - fa->prefix);
		internalerrquery(fa->filter);
	}
	errcontext("hybrid_search filter");
}

static void
RefuseFilter(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("hybrid_search filter must be one boolean condition over the table's columns: %s", why),
			 errhint("Write a WHERE condition such as category = 3 AND price < 10, with immutable functions only.")));
}

/*
 * The filter, parsed as a WHERE condition over rel alone, checked and
 * deparsed: the text that goes into the branch statements is ruleutils'
 * rendering of the checked expression, never the caller's text.  Refused:
 * anything but a single condition (other clauses, more statements),
 * subqueries, and functions or operators that are not immutable (which
 * also keeps out functions that write or read other tables).
 */
static char *
DeparseFilter(Relation rel, const char *filter)
{
	static const char prefix[] = "SELECT WHERE ";
	char	   *sql = psprintf("%s%s", prefix, filter);
	FilterErrorArg fa = {filter, (int) strlen(prefix)};
	ErrorContextCallback callback;
	List	   *parsed;
	SelectStmt *select;
	ParseState *pstate;
	ParseNamespaceItem *nsitem;
	Node	   *expr;
	char	   *text;

	callback.callback = FilterErrorCallback;
	callback.arg = &fa;
	callback.previous = error_context_stack;
	error_context_stack = &callback;

	parsed = raw_parser(sql, RAW_PARSE_DEFAULT);
	if (list_length(parsed) != 1)
		RefuseFilter("it holds more than one statement");
	select = (SelectStmt *) ((RawStmt *) linitial(parsed))->stmt;
	if (!IsA(select, SelectStmt) || select->op != SETOP_NONE ||
		select->whereClause == NULL || select->targetList != NIL ||
		select->fromClause != NIL || select->intoClause != NULL ||
		select->distinctClause != NIL || select->groupClause != NIL ||
		select->havingClause != NULL || select->windowClause != NIL ||
		select->valuesLists != NIL || select->sortClause != NIL ||
		select->limitOffset != NULL || select->limitCount != NULL ||
		select->lockingClause != NIL || select->withClause != NULL)
		RefuseFilter("it holds more than a condition");

	pstate = make_parsestate(NULL);
	pstate->p_sourcetext = sql;
	nsitem = addRangeTableEntryForRelation(pstate, rel, AccessShareLock, NULL, false, true);
	addNSItemToQuery(pstate, nsitem, false, true, true);
	expr = transformExpr(pstate, select->whereClause, EXPR_KIND_WHERE);
	expr = coerce_to_boolean(pstate, expr, "hybrid_search filter");
	assign_expr_collations(pstate, expr);
	if (checkExprHasSubLink(expr))
		RefuseFilter("subqueries are not allowed");
	if (contain_mutable_functions(expr))
		RefuseFilter("functions and operators in it must be immutable");
	free_parsestate(pstate);

	text = deparse_expression(expr,
							  deparse_context_for(RelationGetRelationName(rel), RelationGetRelid(rel)),
							  false, false);

	error_context_stack = callback.previous;
	return text;
}

/*
 * A saved plan for a statement text, prepared on first use.  The plan
 * cache revalidates saved plans (DDL, search_path, role), so keeping them
 * for the backend's life is safe; the least recently used one goes when
 * the list is full.
 */
static SPIPlanPtr
BranchPlan(const char *sql, int nargs, Oid *argtypes)
{
	int			victim = 0;
	SPIPlanPtr	plan;

	for (int i = 0; i < HYBRID_PLAN_CACHE; i++)
	{
		if (planCache[i].sql != NULL && strcmp(planCache[i].sql, sql) == 0)
		{
			planCache[i].used = ++planClock;
			return planCache[i].plan;
		}
		if (planCache[i].used < planCache[victim].used)
			victim = i;
	}
	plan = SPI_prepare(sql, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare a hybrid_search branch: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep a hybrid_search branch plan");
	if (planCache[victim].sql != NULL)
	{
		SPI_freeplan(planCache[victim].plan);
		pfree(planCache[victim].sql);
	}
	planCache[victim].sql = MemoryContextStrdup(TopMemoryContext, sql);
	planCache[victim].plan = plan;
	planCache[victim].used = ++planClock;
	return plan;
}

/*
 * Run one branch statement (columns: id int8, value float8) with one bound
 * parameter, keeping its rows in rank order in the caller's context.
 */
static void
RunBranch(const char *sql, Oid argtype, Datum arg, HybridBranch *b, MemoryContext keep)
{
	SPIPlanPtr	plan = BranchPlan(sql, 1, &argtype);
	MemoryContext old;

	if (SPI_execute_plan(plan, &arg, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "hybrid_search branch failed: %s", sql);
	old = MemoryContextSwitchTo(keep);
	b->n = 0;
	b->ids = palloc(sizeof(int64) * Max(SPI_processed, 1));
	b->values = palloc(sizeof(double) * Max(SPI_processed, 1));
	b->norm = palloc(sizeof(double) * Max(SPI_processed, 1));
	MemoryContextSwitchTo(old);

	/*
	 * rows whose vector or text is NULL have no distance: an exact scan sorts
	 * them last
	 */
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		isnull;
		Datum id = SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull);
		Datum		value = SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull);

		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		b->ids[b->n] = DatumGetInt64(id);
		b->values[b->n] = DatumGetFloat8(value);
		b->n++;
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Normalise a branch's similarities (sim[i], higher is better) for linear
 * fusion, and the value a row the branch did not find gets: the lowest
 * normalised value, which is 0 for min_max (a branch whose candidates all
 * score the same maps them to 1).
 */
static void
Normalize(HybridBranch *b, const double *sim, HybridNorm norm)
{
	double		lo = INFINITY,
				hi = -INFINITY,
				mean = 0,
				sd = 0,
				length = 0;

	b->missing = 0;
	if (b->n == 0)
		return;
	for (int i = 0; i < b->n; i++)
	{
		lo = Min(lo, sim[i]);
		hi = Max(hi, sim[i]);
		mean += sim[i];
		length += sim[i] * sim[i];
	}
	mean /= b->n;
	length = sqrt(length);
	for (int i = 0; i < b->n; i++)
		sd += (sim[i] - mean) * (sim[i] - mean);
	sd = sqrt(sd / b->n);

	for (int i = 0; i < b->n; i++)
	{
		double		x = sim[i];

		if (norm == HYBRID_NORM_MIN_MAX)
			x = hi > lo ? (x - lo) / (hi - lo) : 1.0;
		else if (norm == HYBRID_NORM_Z_SCORE)
			x = sd > 0 ? (x - mean) / sd : 0.0;
		else if (norm == HYBRID_NORM_L2)
			x = length > 0 ? x / length : 0.0;
		b->norm[i] = x;
	}
	if (norm != HYBRID_NORM_MIN_MAX)
	{
		b->missing = b->norm[0];
		for (int i = 1; i < b->n; i++)
			b->missing = Min(b->missing, b->norm[i]);
	}
}

/* best first: score descending, then id ascending */
static int
CompareRows(const void *a, const void *b)
{
	const HybridRow *x = (const HybridRow *) a;
	const HybridRow *y = (const HybridRow *) b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->id !=y->id)
		return x->id <y->id ? -1 : 1;
	return 0;
}

/* The rows of both branches, one per id, with ranks, raw values and norms. */
static HybridRow *
MergeBranches(HybridBranch *v, HybridBranch *t, int *nrows)
{
	HASHCTL		ctl;
	HTAB	   *byid;
	HybridRow  *rows = palloc0(sizeof(HybridRow) * Max(v->n + t->n, 1));
	int			n = 0;

	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(int64) + sizeof(int);
	ctl.hcxt = CurrentMemoryContext;
	byid = hash_create("hybrid_search rows", Max(v->n + t->n, 16), &ctl,
					   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (int side = 0; side < 2; side++)
	{
		HybridBranch *b = side == 0 ? v : t;

		for (int i = 0; i < b->n; i++)
		{
			bool		found;
			char	   *entry = hash_search(byid, &b->ids[i], HASH_ENTER, &found);
			int		   *slot = (int *) (entry + sizeof(int64));
			HybridRow  *row;

			if (!found)
			{
				*slot = n++;
				rows[*slot].id = b->ids[i];
			}
			row = &rows[*slot];
			if (side == 0 && row->vrank == 0)
			{
				row->vrank = i + 1;
				row->vdist = b->values[i];
				row->vsim = b->norm[i];
			}
			else if (side == 1 && row->trank == 0)
			{
				row->trank = i + 1;
				row->tscore = b->values[i];
			}
		}
	}
	hash_destroy(byid);
	*nrows = n;
	return rows;
}

/* The arguments of one call, checked. */
typedef struct HybridArgs
{
	Oid			relid;
	Name		vcolumn;
	Name		tcolumn;
	Datum		qvector;		/* valid when hasVector */
	text	   *qtext;			/* NULL when no text query */
	bool		hasVector;
	int			k;
	bool		rrf;
	double		vw;
	double		tw;
	HybridNorm	norm;
	int			rrfk;
	int			candidates;
	char	   *filter;			/* NULL when none */
	bool		hasDistance;
	HybridDistance distance;
} HybridArgs;

static void
ReadArgs(FunctionCallInfo fcinfo, HybridArgs *a)
{
	char	   *fusion;

	RequireArg(fcinfo, 0, "tbl");
	RequireArg(fcinfo, 1, "vector_column");
	RequireArg(fcinfo, 3, "text_column");
	RequireArg(fcinfo, 5, "k");
	RequireArg(fcinfo, 6, "fusion");
	RequireArg(fcinfo, 7, "vector_weight");
	RequireArg(fcinfo, 8, "text_weight");
	RequireArg(fcinfo, 9, "normalization");
	RequireArg(fcinfo, 10, "rrf_k");
	a->relid = PG_GETARG_OID(0);
	a->vcolumn = PG_GETARG_NAME(1);
	a->tcolumn = PG_GETARG_NAME(3);
	a->hasVector = !PG_ARGISNULL(2);
	if (a->hasVector)
		a->qvector = PG_GETARG_DATUM(2);
	a->qtext = PG_ARGISNULL(4) ? NULL : PG_GETARG_TEXT_PP(4);
	if (!a->hasVector && a->qtext == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("hybrid_search needs a query vector, a query text or both"),
				 errhint("Pass NULL for at most one of query_vector and query_text.")));
	a->k = PG_GETARG_INT32(5);
	if (a->k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be at least 1, not %d", a->k)));
	fusion = text_to_cstring(PG_GETARG_TEXT_PP(6));
	if (strcmp(fusion, "rrf") == 0)
		a->rrf = true;
	else if (strcmp(fusion, "linear") == 0)
		a->rrf = false;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown fusion \"%s\"", fusion),
				 errhint("Use rrf or linear.")));
	a->vw = CheckWeight(PG_GETARG_FLOAT8(7), "vector_weight");
	a->tw = CheckWeight(PG_GETARG_FLOAT8(8), "text_weight");
	if (a->vw == 0 && a->tw == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("vector_weight and text_weight must not both be 0")));
	a->norm = ParseNormalization(text_to_cstring(PG_GETARG_TEXT_PP(9)));
	a->rrfk = PG_GETARG_INT32(10);
	if (a->rrfk < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rrf_k must not be negative, not %d", a->rrfk)));
	if (PG_ARGISNULL(11))
		a->candidates = (int) Min((int64) a->k * HYBRID_DEFAULT_CANDIDATES_FACTOR,
								  HYBRID_MAX_CANDIDATES);
	else
	{
		a->candidates = PG_GETARG_INT32(11);
		if (a->candidates < 1 || a->candidates > HYBRID_MAX_CANDIDATES)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("candidates must be between 1 and %d, not %d",
							HYBRID_MAX_CANDIDATES, a->candidates)));
	}
	a->candidates = Max(a->candidates, 1);
	a->filter = PG_ARGISNULL(12) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(12));
	a->hasDistance = !PG_ARGISNULL(13);
	if (a->hasDistance)
	{
		char	   *d = text_to_cstring(PG_GETARG_TEXT_PP(13));

		if (!ParseDistance(d, &a->distance))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown distance \"%s\"", d),
					 errhint("Use l2, cosine or ip, or NULL for the vector index's.")));
	}
}

static Oid
TypeNamespace(Oid type)
{
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
	Oid			nsp;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for type %u", type);
	nsp = ((Form_pg_type) GETSTRUCT(tup))->typnamespace;
	ReleaseSysCache(tup);
	return nsp;
}

/* The two branch statements and what they need, from the checked arguments. */
typedef struct HybridPlanText
{
	char	   *vsql;
	char	   *tsql;
	Oid			gvectorType;
	Oid			bm25Type;
	Oid			bm25Index;		/* InvalidOid: none, the text branch is exact */
	AttrNumber	textAttnum;
} HybridPlanText;

/*
 * The condition of a row that has not expired, when the table has TTL
 * (gigavector.enable_ttl); NULL when it has none.  The table's row-level
 * security policy says the same but binds neither superusers nor BYPASSRLS
 * roles: hybrid_search never returns an expired row to anyone.  The column
 * comes from gigavector.ttl_tables and goes in as a quoted identifier.
 */
static char *
LiveCondition(Oid relid)
{
	static const char sql[] = "SELECT ttl_column::pg_catalog.text FROM gigavector.ttl_tables WHERE tbl = $1";
	Oid			nsp = get_namespace_oid("gigavector", true);
	Oid			argtype = REGCLASSOID;
	Datum		arg = ObjectIdGetDatum(relid);
	char	   *result = NULL;

	if (!OidIsValid(nsp) || !OidIsValid(get_relname_relid("ttl_tables", nsp)))
		return NULL;			/* an install without TTL */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_plan(BranchPlan(sql, 1, &argtype), &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read gigavector.ttl_tables");
	if (SPI_processed > 0)
	{
		char	   *column = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		const char *quoted = quote_identifier(column);
		char	   *cond = psprintf("(%s IS NULL OR %s > pg_catalog.now())", quoted, quoted);

		/* in the caller's context, which SPI_finish keeps */
		result = strcpy(SPI_palloc(strlen(cond) + 1), cond);
	}
	SPI_finish();
	return result;
}

static void
BuildStatements(FunctionCallInfo fcinfo, HybridArgs *a, HybridPlanText *p)
{
	static const char *const textAms[] = {"gv_bm25", NULL};
	Relation	rel = try_relation_open(a->relid, AccessShareLock);
	const char *table;
	const char *ext;
	AttrNumber	pk,
				vatt,
				tatt;
	Oid			vtype,
				ttype,
				opclass;
	const char *where;
	Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, 2);
	char	   *ttl;

	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", a->relid)));
	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE &&
		rel->rd_rel->relkind != RELKIND_MATVIEW)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", RelationGetRelationName(rel))));
	table = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
									   RelationGetRelationName(rel));
	pk = PrimaryKeyOf(rel);
	vatt = ColumnOf(rel, a->vcolumn, &vtype);
	tatt = ColumnOf(rel, a->tcolumn, &ttype);
	p->gvectorType = argtype;
	ext = quote_identifier(get_namespace_name(TypeNamespace(argtype)));
	if (vtype != argtype)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" is of type %s, not gvector",
						NameStr(*a->vcolumn), format_type_be(vtype))));
	if (ttype != TEXTOID && ttype != VARCHAROID && ttype != BPCHAROID && ttype != TSVECTOROID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" is of type %s, not text or tsvector",
						NameStr(*a->tcolumn), format_type_be(ttype))));
	/* without a gv_bm25 index the text branch is exact: see TextQuery */
	p->bm25Index = ColumnIndex(rel, tatt, textAms, &opclass);
	p->textAttnum = tatt;
	p->bm25Type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("bm25query"),
								  ObjectIdGetDatum(TypeNamespace(argtype)));
	if (!a->hasDistance)
		a->distance = IndexDistance(rel, vatt);
	where = a->filter == NULL ? "true" : DeparseFilter(rel, a->filter);
	ttl = LiveCondition(a->relid);
	if (ttl != NULL)
		where = psprintf("(%s) AND %s", where, ttl);

	p->vsql = psprintf("SELECT %s::pg_catalog.int8, (%s OPERATOR(%s.%s) $1)::pg_catalog.float8 FROM %s"
					   " WHERE (%s) ORDER BY %s OPERATOR(%s.%s) $1 LIMIT %d",
					   quote_identifier(get_attname(a->relid, pk, false)),
					   quote_identifier(NameStr(*a->vcolumn)), ext, DistanceOperator(a->distance),
					   table, where,
					   quote_identifier(NameStr(*a->vcolumn)), ext, DistanceOperator(a->distance),
					   a->candidates);
	p->tsql = psprintf("SELECT %s::pg_catalog.int8, (-(%s OPERATOR(%s.<&>) $1))::pg_catalog.float8 FROM %s"
					   " WHERE (%s) AND %s OPERATOR(%s.@@@) $1 ORDER BY %s OPERATOR(%s.<&>) $1 LIMIT %d",
					   quote_identifier(get_attname(a->relid, pk, false)),
					   quote_identifier(NameStr(*a->tcolumn)), ext, table, where,
					   quote_identifier(NameStr(*a->tcolumn)), ext,
					   quote_identifier(NameStr(*a->tcolumn)), ext, a->candidates);
	relation_close(rel, AccessShareLock);
}

/*
 * The text branch's bm25query: the gv_bm25 index's, or without one a query
 * whose statistics are counted from the table (Bm25QueryForColumn), so
 * that the exact scan with <&> and @@@ gives the scores such an index
 * would.  Counting reads every row, so it needs the right to read the text
 * column first (the branch statement checks the rest before any row).
 */
static Datum
TextQuery(HybridArgs *a, HybridPlanText *p)
{
	if (OidIsValid(p->bm25Index))
		return DirectFunctionCall2(bm25query_make, ObjectIdGetDatum(p->bm25Index),
								   PointerGetDatum(a->qtext));
	if (pg_class_aclcheck(a->relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK &&
		pg_attribute_aclcheck(a->relid, p->textAttnum, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", get_rel_name(a->relid))));
	return Bm25QueryForColumn(a->relid, NameStr(*a->tcolumn), a->qtext);
}

/* One output row. */
static void
EmitRow(Tuplestorestate *store, TupleDesc desc, HybridRow *row)
{
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	values[0] = Int64GetDatum(row->id);
	values[1] = Float8GetDatum(row->score);
	values[2] = Int32GetDatum(row->vrank);
	values[3] = Int32GetDatum(row->trank);
	values[4] = Float8GetDatum(row->vdist);
	values[5] = Float8GetDatum(row->tscore);
	nulls[2] = nulls[4] = row->vrank == 0;
	nulls[3] = nulls[5] = row->trank == 0;
	tuplestore_putvalues(store, desc, values, nulls);
}

PG_FUNCTION_INFO_V1(gv_hybrid_search);
/*
 * gigavector.hybrid_search(tbl, vector_column, query_vector, text_column,
 * query_text, k, fusion, vector_weight, text_weight, normalization, rrf_k,
 * candidates, filter, distance): see the file header and README.
 */
Datum
gv_hybrid_search(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HybridArgs	a = {0};
	HybridPlanText p;
	HybridBranch v = {0},
				t = {0};
	HybridRow  *rows;
	int			nrows;
	MemoryContext keep = CurrentMemoryContext;
	double	   *sim;

	ReadArgs(fcinfo, &a);
	BuildStatements(fcinfo, &a, &p);
	InitMaterializedSRF(fcinfo, 0);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (a.hasVector)
		RunBranch(p.vsql, p.gvectorType, a.qvector, &v, keep);
	if (a.qtext != NULL)
	{
		Datum		q = TextQuery(&a, &p);

		RunBranch(p.tsql, p.bm25Type, q, &t, keep);
	}
	SPI_finish();

	/* the vector branch's similarities, then each branch normalised */
	sim = palloc(sizeof(double) * Max(v.n, 1));
	for (int i = 0; i < v.n; i++)
		sim[i] = DistanceToSimilarity(a.distance, v.values[i]);
	Normalize(&v, sim, a.rrf ? HYBRID_NORM_NONE : a.norm);
	Normalize(&t, t.values, a.rrf ? HYBRID_NORM_NONE : a.norm);

	rows = MergeBranches(&v, &t, &nrows);
	for (int i = 0; i < nrows; i++)
	{
		HybridRow  *r = &rows[i];

		if (a.rrf)
			r->score = (r->vrank > 0 ? a.vw / ((double) a.rrfk + r->vrank) : 0.0) +
				(r->trank > 0 ? a.tw / ((double) a.rrfk + r->trank) : 0.0);
		else
			r->score = a.vw * (r->vrank > 0 ? r->vsim : v.missing) +
				a.tw * (r->trank > 0 ? t.norm[r->trank - 1] : t.missing);
	}
	qsort(rows, nrows, sizeof(HybridRow), CompareRows);
	for (int i = 0; i < Min(nrows, a.k); i++)
		EmitRow(rsinfo->setResult, rsinfo->setDesc, &rows[i]);
	return (Datum) 0;
}
