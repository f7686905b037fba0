/*
 * ttl.c
 *	  Rows that expire: the cleanup that deletes them, for the TTL worker
 *	  (a kind of worker.c's frame) and for gigavector.ttl_cleanup().
 *
 *	  The expiry itself is SQL (sql/install/60_ttl.sql): each TTL table has
 *	  a timestamptz column, an index on it, and a forced restrictive
 *	  row-level security policy "column IS NULL OR column > now() OR
 *	  gigavector.ttl_reaping()" that hides expired rows from every query at
 *	  once.  Deleting them is this file's work.  gigavector.ttl_reaping() is
 *	  true only while this file runs one of its own statements (a C flag
 *	  that no SQL can set), so only the cleanup sees the rows it deletes.
 *
 *	  A batch deletes at most gigavector.ttl_batch_size rows:
 *		DELETE FROM t WHERE ctid = ANY (ARRAY(
 *			SELECT ctid FROM t WHERE col <= now() LIMIT n FOR UPDATE SKIP LOCKED))
 *		  AND col <= now()
 *	  Rows a writer holds are skipped (the next round takes them), so a
 *	  batch never waits for a writer and never blocks one for longer than
 *	  its own short transaction; the second condition re-checks the expiry
 *	  of each locked row.  The worker runs every batch in its own
 *	  transaction, as the table's owner (so that the owner's triggers never
 *	  run as a superuser) under SECURITY_RESTRICTED_OPERATION, holding a
 *	  transaction advisory lock on the table so that two cleanups never work
 *	  on one table at once.  An error in one table is logged, recorded in
 *	  gigavector.ttl_tables.last_error, and the worker goes on to the next.
 */
#include "compat.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "worker.h"
#include "ttl.h"

/* first key of the transaction advisory lock a cleanup holds on a table ("GVTL") */
#define TTL_LOCK_KEY			0x4756544C

#define TTL_DEFAULT_INTERVAL	60
#define TTL_MIN_INTERVAL		1
#define TTL_MAX_INTERVAL		86400
#define TTL_DEFAULT_BATCH		5000
#define TTL_MIN_BATCH			1
#define TTL_MAX_BATCH			1000000

int			gv_ttl_cleanup_interval = TTL_DEFAULT_INTERVAL;
int			gv_ttl_batch_size = TTL_DEFAULT_BATCH;

/* True only while this file runs one of its statements. */
static bool reaping = false;

typedef struct TtlTable
{
	Oid			relid;
	Oid			owner;
	char	   *column;
	char	   *name;
} TtlTable;

static GvWorkerRound TtlRound(void);

PG_FUNCTION_INFO_V1(gv_ttl_reaping);
PG_FUNCTION_INFO_V1(gv_ttl_cleanup);
PG_FUNCTION_INFO_V1(gv_ttl_counts);

/*
 * Settings, and the worker when the library is preloaded.
 */
void
GvTtlInit(void)
{
	GvWorkerKind kind;

	DefineCustomIntVariable("gigavector.ttl_cleanup_interval",
							"Seconds between two rounds of the TTL worker in each database.",
							NULL,
							&gv_ttl_cleanup_interval, TTL_DEFAULT_INTERVAL,
							TTL_MIN_INTERVAL, TTL_MAX_INTERVAL,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("gigavector.ttl_batch_size",
							"Most expired rows one TTL cleanup batch deletes.",
							"The worker commits after each batch; gigavector.ttl_cleanup() "
							"runs its batches in the caller's transaction.",
							&gv_ttl_batch_size, TTL_DEFAULT_BATCH,
							TTL_MIN_BATCH, TTL_MAX_BATCH,
							PGC_USERSET, 0, NULL, NULL, NULL);

	memset(&kind, 0, sizeof(kind));
	strlcpy(kind.name, "ttl", GV_WORKER_NAME_LEN);
	kind.interval_s = &gv_ttl_cleanup_interval;
	kind.round = TtlRound;
	(void) GvWorkerRegister(&kind);
}

Datum
gv_ttl_reaping(FunctionCallInfo fcinfo pg_attribute_unused())
{
	PG_RETURN_BOOL(reaping);
}

/* Run one statement with expired rows visible; SPI must be connected. */
static int
ExecuteReaping(const char *query, bool read_only)
{
	int			ret;

	reaping = true;
	PG_TRY();
	{
		ret = SPI_execute(query, read_only, 0);
	}
	PG_FINALLY();
	{
		reaping = false;
	}
	PG_END_TRY();
	return ret;
}

/* The table's name, schema-qualified and quoted; NULL if it is gone. */
static char *
QuotedTableName(Oid relid)
{
	char	   *rel = get_rel_name(relid);

	if (rel == NULL)
		return NULL;
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), rel);
}

/*
 * One batch: delete at most batch expired rows of a table, as run_as
 * (InvalidOid: as the caller).  SPI must be connected.  Returns the count.
 */
static uint64
DeleteBatch(Oid relid, const char *column, int batch, Oid run_as)
{
	char	   *rel = QuotedTableName(relid);
	const char *col = quote_identifier(column);
	char	   *query;
	Oid			save_userid;
	int			save_sec;
	int			save_nestlevel;
	int			ret;

	if (rel == NULL)
		return 0;
	query = psprintf("DELETE FROM %s WHERE ctid = ANY (ARRAY("
					 "SELECT ctid FROM %s WHERE %s <= now() LIMIT %d FOR UPDATE SKIP LOCKED)) "
					 "AND %s <= now()", rel, rel, col, batch, col);

	GetUserIdAndSecContext(&save_userid, &save_sec);
	if (OidIsValid(run_as))
		SetUserIdAndSecContext(run_as, save_sec | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
	/* settings the owner's code makes end with the batch */
	save_nestlevel = NewGUCNestLevel();
	ret = ExecuteReaping(query, false);
	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "TTL cleanup of %s failed: SPI_execute returned %d", rel, ret);
	return SPI_processed;
}

/*
 * Record a cleanup in gigavector.ttl_tables: rows deleted and the time, or
 * an error.  Written as the bootstrap superuser (the caller of
 * ttl_cleanup() may not own the table).  SPI must be connected.
 */
static void
RecordCleanup(Oid relid, uint64 deleted, const char *error)
{
	Oid			save_userid;
	int			save_sec;
	Oid			types[2] = {OIDOID, error ? TEXTOID : INT8OID};
	Datum		values[2];
	int			ret;

	values[0] = ObjectIdGetDatum(relid);
	values[1] = error ? CStringGetTextDatum(error) : Int64GetDatum((int64) deleted);
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	if (error)
		ret = SPI_execute_with_args("UPDATE gigavector.ttl_tables SET last_error = $2, "
									"last_error_at = now() WHERE tbl = $1::regclass",
									2, types, values, NULL, false, 0);
	else
		ret = SPI_execute_with_args("UPDATE gigavector.ttl_tables SET rows_deleted = rows_deleted + $2, "
									"last_run = now() WHERE tbl = $1::regclass",
									2, types, values, NULL, false, 0);
	SetUserIdAndSecContext(save_userid, save_sec);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "could not record TTL cleanup: SPI_execute returned %d", ret);
}

/*
 * The TTL tables (only one, if only is valid) whose table still exists,
 * allocated in cxt.  SPI must be connected.
 */
static List *
ListTables(Oid only, MemoryContext cxt)
{
	List	   *tables = NIL;
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(only)};
	int			ret;

	ret = SPI_execute_with_args("SELECT t.tbl::oid, c.relowner, t.ttl_column::text "
								"FROM gigavector.ttl_tables t JOIN pg_catalog.pg_class c ON c.oid = t.tbl::oid "
								"WHERE $1 = 0 OR t.tbl::oid = $1 ORDER BY 1",
								1, types, values, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not list TTL tables: SPI_execute returned %d", ret);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(cxt);
		TtlTable   *t = palloc(sizeof(TtlTable));
		bool		isnull;

		t->relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		t->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		t->column = SPI_getvalue(tup, desc, 3);
		t->name = QuotedTableName(t->relid);
		/* a table dropped since the query began is nothing to clean */
		if (t->name != NULL)
			tables = lappend(tables, t);
		MemoryContextSwitchTo(old);
	}
	return tables;
}

static bool
MayClean(Oid relid)
{
	return pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK &&
		pg_class_aclcheck(relid, GetUserId(), ACL_UPDATE) == ACLCHECK_OK &&
		pg_class_aclcheck(relid, GetUserId(), ACL_DELETE) == ACLCHECK_OK;
}

/*
 * gigavector.ttl_cleanup(tbl regclass DEFAULT NULL) → bigint: delete the
 * expired rows of one table, or of every TTL table on which the caller
 * holds SELECT, UPDATE (FOR UPDATE takes it) and DELETE, now, in the
 * caller's transaction and as the caller.
 */
Datum
gv_ttl_cleanup(PG_FUNCTION_ARGS)
{
	Oid			only = PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0);
	MemoryContext fcxt = CurrentMemoryContext;
	List	   *tables;
	ListCell   *lc;
	int64		total = 0;

	SPI_connect();
	tables = ListTables(only, fcxt);
	if (OidIsValid(only) && tables == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table %s has no TTL", QuotedTableName(only)),
				 errhint("Call gigavector.enable_ttl first.")));
	foreach(lc, tables)
	{
		TtlTable   *t = lfirst(lc);
		uint64		deleted = 0;
		uint64		n;

		/*
		 * all tables: those this role may clean; one table: let the DELETE
		 * say why not
		 */
		if (!OidIsValid(only) && !MayClean(t->relid))
			continue;
		DirectFunctionCall2(pg_advisory_xact_lock_int4, Int32GetDatum(TTL_LOCK_KEY),
							Int32GetDatum((int32) t->relid));
		do
		{
			CHECK_FOR_INTERRUPTS();
			n = DeleteBatch(t->relid, t->column, gv_ttl_batch_size, InvalidOid);
			deleted += n;
		} while (n >= (uint64) gv_ttl_batch_size);
		RecordCleanup(t->relid, deleted, NULL);
		total += deleted;
	}
	SPI_finish();
	PG_RETURN_INT64(total);
}

/* count(*) of one query run with expired rows visible; SPI connected. */
static int64
CountReaping(const char *query)
{
	bool		isnull;
	Datum		d;

	if (ExecuteReaping(query, true) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not count TTL rows");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetInt64(d);
}

/*
 * gigavector.ttl_counts(tbl) → (rows_with_ttl, rows_expired): rows whose
 * expiry is set, and rows expired but not yet deleted, counted past the
 * expiry policy but within every other policy that binds the caller.
 * NULLs where the caller may not read the table.
 */
Datum
gv_ttl_counts(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	MemoryContext fcxt = CurrentMemoryContext;
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {true, true};
	List	   *tables;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	SPI_connect();
	tables = ListTables(relid, fcxt);
	if (tables != NIL && pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK)
	{
		TtlTable   *t = linitial(tables);
		char	   *rel = QuotedTableName(relid);
		const char *col = quote_identifier(t->column);

		values[0] = Int64GetDatum(CountReaping(psprintf("SELECT count(*) FROM %s WHERE %s IS NOT NULL",
														rel, col)));
		values[1] = Int64GetDatum(CountReaping(psprintf("SELECT count(*) FROM %s WHERE %s <= now()",
														rel, col)));
		nulls[0] = nulls[1] = false;
	}
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/*
 * One batch of the worker in its own transaction.  Returns the rows
 * deleted, or -1 when another cleanup holds the table.
 */
static int64
WorkerBatch(TtlTable *t, int batch)
{
	int64		n = -1;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING,
						   psprintf("gigavector ttl: deleting expired rows of %s", t->name));
	if (DatumGetBool(DirectFunctionCall2(pg_try_advisory_xact_lock_int4,
										 Int32GetDatum(TTL_LOCK_KEY),
										 Int32GetDatum((int32) t->relid))))
	{
		n = (int64) DeleteBatch(t->relid, t->column, batch, t->owner);
		if (n > 0)
			RecordCleanup(t->relid, n, NULL);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return n;
}

/* After an error in a table: log it and record it, in a new transaction. */
static void
WorkerFailed(TtlTable *t, MemoryContext cxt)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	AbortOutOfAnyTransaction();
	pgstat_report_activity(STATE_IDLE, NULL);
	ereport(LOG,
			(errmsg("gigavector ttl worker could not clean up %s: %s", t->name, edata->message)));

	PG_TRY();
	{
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		RecordCleanup(t->relid, 0, edata->message);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		/* the table's row went with it: nothing to record */
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		AbortOutOfAnyTransaction();
	}
	PG_END_TRY();
	FreeErrorData(edata);
}

/* The worker's batches on one table, until no expired row is left. */
static void
WorkerCleanTable(TtlTable *t, MemoryContext cxt)
{
	for (;;)
	{
		volatile int64 n = 0;
		int			batch;

		CHECK_FOR_INTERRUPTS();
		GvWorkerReloadIfAsked();
		if (GvWorkerStopRequested())
			return;
		batch = gv_ttl_batch_size;
		PG_TRY();
		{
			n = WorkerBatch(t, batch);
		}
		PG_CATCH();
		{
			WorkerFailed(t, cxt);
			return;
		}
		PG_END_TRY();
		if (n < batch)
			return;
	}
}

/* The TTL tables of the connected database, in cxt (NIL: none, or no extension). */
static List *
WorkerTables(MemoryContext cxt)
{
	List	   *tables = NIL;
	bool		isnull;

	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "gigavector ttl: listing TTL tables");
	if (SPI_execute("SELECT pg_catalog.to_regclass('gigavector.ttl_tables') IS NOT NULL",
					true, 0) == SPI_OK_SELECT &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		tables = ListTables(InvalidOid, cxt);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return tables;
}

/*
 * One round of the worker: every TTL table of this database, each until
 * its expired rows are gone.  Then the process ends (GV_ROUND_IDLE) and
 * holds no connection until the launcher starts the next round.
 */
static GvWorkerRound
TtlRound(void)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "gigavector ttl round",
											  ALLOCSET_DEFAULT_SIZES);
	List	   *tables;
	ListCell   *lc;

	/*
	 * never wait long for a table lock: DDL on a table wins, the next round
	 * retries
	 */
	SetConfigOption("lock_timeout", "1000", PGC_SUSET, PGC_S_OVERRIDE);
	MemoryContextSwitchTo(cxt);
	tables = WorkerTables(cxt);
	foreach(lc, tables)
	{
		if (GvWorkerStopRequested())
			break;
		WorkerCleanTable(lfirst(lc), cxt);
		MemoryContextSwitchTo(cxt);
	}
	MemoryContextSwitchTo(TopMemoryContext);
	MemoryContextDelete(cxt);
	return GV_ROUND_IDLE;
}
