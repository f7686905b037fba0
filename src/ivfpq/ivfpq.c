/*
 * ivfpq.c
 *	  The gv_ivfpq access method handler: its callbacks, reloptions
 *	  (lists, subquantizers, bits, training_table), settings (gigavector.ivfpq_probes,
 *	  gigavector.ivfpq_rerank, gigavector.ivfpq_max_probes) and cost
 *	  estimate.
 */
#include "compat.h"

#include <float.h>
#include <limits.h>
#include <math.h>

#include "access/amapi.h"
#include "access/reloptions.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "gvam.h"
#include "ivfpq.h"
#include "optimizer/optimizer.h"
#include "parser/scansup.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/selfuncs.h"
#include "utils/spccache.h"
#include "utils/regproc.h"

int			gv_ivfpq_probes = IVFPQ_DEFAULT_PROBES;
int			gv_ivfpq_rerank = IVFPQ_DEFAULT_RERANK;
int			gv_ivfpq_max_probes = IVFPQ_DEFAULT_MAX_PROBES;

static relopt_kind ivfpq_relopt_kind;

/*
 * Split a training_table value, "[schema.]table" or "[schema.]table(column)",
 * into the qualified table name and the column (NULL when not given).
 * Identifiers follow SQL rules: unquoted ones are folded to lower case.
 */
void
IvfpqParseTrainingTable(const char *value, List **names, char **column)
{
	char	   *copy = pstrdup(value);
	char	   *open = NULL;
	char	   *end;
	bool		quoted = false;

	*names = NIL;
	*column = NULL;

	/* the first '(' outside double quotes starts the column */
	for (char *p = copy; *p; p++)
	{
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '(' && !quoted)
		{
			open = p;
			break;
		}
	}
	if (open)
	{
		List	   *col;

		end = copy + strlen(copy);
		while (end > open && scanner_isspace(end[-1]))
			end--;
		if (end == open + 1 || end[-1] != ')')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for training_table: \"%s\"", value),
					 errhint("Name a table, as in 'schema.table', or a table and its gvector column, as in 'schema.table(column)'.")));
		end[-1] = '\0';
		*open = '\0';
		col = stringToQualifiedNameList(open + 1);
		if (list_length(col) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid column name in training_table: \"%s\"", value)));
		*column = strVal(linitial(col));
	}
	*names = stringToQualifiedNameList(copy);
	if (list_length(*names) > 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for training_table: \"%s\"", value),
				 errhint("Name a table of this database, as in 'schema.table' or 'schema.table(column)'.")));
}

/*
 * Reloption validator: the syntax only; the table is looked up at build.
 */
static void
ValidateTrainingTable(const char *value)
{
	List	   *names;
	char	   *column;

	if (value == NULL || value[0] == '\0')
		return;
	IvfpqParseTrainingTable(value, &names, &column);
}

/*
 * Register the reloptions and settings; called once from _PG_init.
 */
void
IvfpqInit(void)
{
	ivfpq_relopt_kind = add_reloption_kind();
	add_int_reloption(ivfpq_relopt_kind, "lists",
					  "Number of inverted lists (0: the square root of the row count)",
					  IVFPQ_DEFAULT_LISTS, IVFPQ_MIN_LISTS, IVFPQ_MAX_LISTS,
					  AccessExclusiveLock);
	add_int_reloption(ivfpq_relopt_kind, "subquantizers",
					  "Number of subquantizers, bytes of code per row; must divide the dimensions (0: about dimensions / 16)",
					  IVFPQ_DEFAULT_SUBQUANTIZERS, IVFPQ_MIN_SUBQUANTIZERS,
					  IVFPQ_MAX_SUBQUANTIZERS, AccessExclusiveLock);
	add_int_reloption(ivfpq_relopt_kind, "bits",
					  "Bits per subquantizer code (0: 8, fewer for tiny tables)",
					  IVFPQ_DEFAULT_BITS, IVFPQ_MIN_BITS, IVFPQ_MAX_BITS,
					  AccessExclusiveLock);
	add_string_reloption(ivfpq_relopt_kind, "training_table",
						 "Table the lists and codebooks are trained on, as 'schema.table' or 'schema.table(column)' (default: the indexed table)",
						 NULL, ValidateTrainingTable, AccessExclusiveLock);

	DefineCustomIntVariable("gigavector.ivfpq_probes",
							"Number of lists a gv_ivfpq index scan probes first.",
							"Larger values raise recall and cost speed; a scan probes more, "
							"this many at a time, when its estimates say nearer rows may be "
							"in lists not probed or a filter rejects rows.",
							&gv_ivfpq_probes, IVFPQ_DEFAULT_PROBES,
							IVFPQ_MIN_PROBES, IVFPQ_MAX_PROBES,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("gigavector.ivfpq_rerank",
							"Number of candidates a gv_ivfpq index scan re-ranks first with exact distances.",
							"Candidates are the best by their compressed (PQ) distance; "
							"larger values raise recall and cost one table row fetch each. "
							"Later batches re-rank at least this many.",
							&gv_ivfpq_rerank, IVFPQ_DEFAULT_RERANK,
							IVFPQ_MIN_RERANK, IVFPQ_MAX_RERANK,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("gigavector.ivfpq_max_probes",
							"Most lists a gv_ivfpq index scan probes.",
							"A scan probes more lists, gigavector.ivfpq_probes at a time, "
							"while a filter rejects rows or nearer rows may lie in lists not "
							"probed, up to this many lists.",
							&gv_ivfpq_max_probes, IVFPQ_DEFAULT_MAX_PROBES,
							IVFPQ_MIN_MAX_PROBES, IVFPQ_MAX_MAX_PROBES,
							PGC_USERSET, 0, NULL, NULL, NULL);
}

/*
 * Parse and validate reloptions.
 */
static bytea *
ivfpqoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"lists", RELOPT_TYPE_INT, offsetof(IvfpqOptions, lists)},
		{"subquantizers", RELOPT_TYPE_INT, offsetof(IvfpqOptions, subquantizers)},
		{"bits", RELOPT_TYPE_INT, offsetof(IvfpqOptions, bits)},
		{"training_table", RELOPT_TYPE_STRING, offsetof(IvfpqOptions, trainingTable)},
	};

	return (bytea *) build_reloptions(reloptions, validate, ivfpq_relopt_kind,
									  sizeof(IvfpqOptions), tab, lengthof(tab));
}

IvfpqOptions *
IvfpqGetOptions(Relation index)
{
	return (IvfpqOptions *) index->rd_options;
}

/*
 * The training_table option, or NULL when the index trains on its table.
 */
const char *
IvfpqGetTrainingTable(Relation index)
{
	IvfpqOptions *opts = IvfpqGetOptions(index);

	if (opts == NULL || opts->trainingTable == 0)
		return NULL;
	if (((char *) opts + opts->trainingTable)[0] == '\0')
		return NULL;
	return (char *) opts + opts->trainingTable;
}

/*
 * Cost estimate.  A scan's startup cost is the ADC distances of the rows
 * in the first ivfpq_probes lists plus ivfpq_rerank table row fetches;
 * nothing comes out before that.  After it, every row handed out has been
 * fetched from the table and re-ranked (about 1.5 fetches a row: the
 * margin), from lists probed as needed; past half the rows the scan
 * re-ranks them all (ivfpqscan.c).
 *
 * Conditions on filter columns (selectivity f) are tested on each entry's
 * codes while lists are probed: only the rows they pass are fetched and
 * handed out, and to find n of them the scan reads about n / f entries.
 * The rows it must hand out are the query's LIMIT divided by the
 * selectivity s of the conditions the index does not see, and divided by
 * s once more: such a filter may keep rows far from the query (WHERE label
 * = another class than the query's), and then the scan re-ranks most of
 * the table, one heap fetch (and TOAST read) per row, where the exact
 * plan reads only the rows the filter keeps -- 8 times the exact plan's
 * time in issue #20's demo.  Charging 1 / s^2 keeps the index for
 * unselective filters and gives selective ones the exact plan.  The total
 * is set so that the planner's LIMIT interpolation, startup + (k / rows) *
 * (total - startup), gives the cost of those rows.
 */
static void
ivfpqcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				  Cost *indexStartupCost, Cost *indexTotalCost,
				  Selectivity *indexSelectivity, double *indexCorrelation,
				  double *indexPages)
{
	GenericCosts costs;
	IndexOptInfo *index = path->indexinfo;
	double		tuples = Max(index->tuples, 1.0);
	double		lists;
	double		perRow;
	double		perFetch;
	double		firstRows;
	double		selIndex;
	double		selOther;
	double		matches;
	double		need;
	double		planned;
	double		fetches;
	double		probedRows;
	double		scanCost;
	double		spc_random_page_cost;
	bool		usable;

	usable = path->indexorderbys != NIL;
	if (!GvCostEstimateStart(usable, root, path, loop_count, &costs,
							 indexStartupCost, indexTotalCost,
							 indexSelectivity, indexCorrelation, indexPages))
		return;
	get_tablespace_page_costs(index->reltablespace, &spc_random_page_cost, NULL);

	/* About sqrt(rows) lists unless set; the planner only needs a scale. */
	lists = Max(rint(sqrt(tuples)), 1.0);
	{
		Relation	rel = index_open(index->indexoid, NoLock);
		IvfpqOptions *opts = IvfpqGetOptions(rel);

		if (opts && opts->lists > 0)
			lists = opts->lists;
		index_close(rel, NoLock);
	}

	perRow = cpu_index_tuple_cost + cpu_operator_cost;
	perFetch = cpu_tuple_cost + cpu_operator_cost * 10 + 0.1 * spc_random_page_cost;
	firstRows = tuples * Min(1.0, gv_ivfpq_probes / lists);

	/* rows the filter columns pass, and the share of those the rest keep */
	selIndex = Min(Max(costs.indexSelectivity, 1.0 / tuples), 1.0);
	matches = Max(tuples * selIndex, 1.0);
	selOther = index->rel->tuples > 0 ? index->rel->rows / index->rel->tuples : 1.0;
	selOther = Min(Max(selOther / selIndex, 1e-10), 1.0);
	need = planned = matches;
	if (root->limit_tuples > 0)
	{
		need = Min(matches, Max(root->limit_tuples, 1.0) / (selOther * selOther));
		planned = Min(matches, Max(root->limit_tuples, 1.0) / selOther);
	}
	fetches = Max(Min((double) gv_ivfpq_rerank, matches), 1.5 * need);
	if (fetches > 0.5 * matches)
		fetches = matches;
	probedRows = Min(tuples, Max(firstRows, 2.0 * fetches / selIndex));
	scanCost = probedRows * perRow + fetches * perFetch;

	*indexStartupCost = Min(scanCost,
							firstRows * perRow + Min((double) gv_ivfpq_rerank, matches) * perFetch);
	/* the planner interpolates at LIMIT / s rows (not our LIMIT / s^2) */
	*indexTotalCost = *indexStartupCost + (scanCost - *indexStartupCost) * matches / planned;

	/* filter columns' conditions are applied in the index: fewer heap visits */
	*indexSelectivity = selIndex;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}

static char *
ivfpqbuildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case PROGRESS_IVFPQ_PHASE_SAMPLE:
			return "sampling rows";
		case PROGRESS_IVFPQ_PHASE_KMEANS:
			return "training lists (k-means)";
		case PROGRESS_IVFPQ_PHASE_CODEBOOK:
			return "training codebooks";
		case PROGRESS_IVFPQ_PHASE_ENCODE:
			return "encoding rows";
		case PROGRESS_IVFPQ_PHASE_WRITE:
			return "writing pages";
		default:
			return NULL;
	}
}

PG_FUNCTION_INFO_V1(gv_ivfpq_handler);
Datum
gv_ivfpq_handler(FunctionCallInfo fcinfo pg_attribute_unused())
{
	IndexAmRoutine *amroutine = GvMakeAmRoutine();

	amroutine->amsupport = 1;
	amroutine->amcanmulticol = true;	/* the vector, then filter columns */
	amroutine->amsearcharray = true;	/* filter column = ANY(array) */
	amroutine->amsearchnulls = true;	/* filter column IS [NOT] NULL */
	amroutine->amusemaintenanceworkmem = true;
	amroutine->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;

	amroutine->ambuild = ivfpqbuild;
	amroutine->ambuildempty = ivfpqbuildempty;
	amroutine->aminsert = ivfpqinsert;
	amroutine->ambulkdelete = ivfpqbulkdelete;
	amroutine->amvacuumcleanup = ivfpqvacuumcleanup;
	amroutine->amcostestimate = ivfpqcostestimate;
	amroutine->amoptions = ivfpqoptions;
	amroutine->ambuildphasename = ivfpqbuildphasename;
	amroutine->amvalidate = ivfpqvalidate;
	amroutine->ambeginscan = ivfpqbeginscan;
	amroutine->amrescan = ivfpqrescan;
	amroutine->amgettuple = ivfpqgettuple;
	amroutine->amendscan = ivfpqendscan;

	PG_RETURN_POINTER(amroutine);
}
