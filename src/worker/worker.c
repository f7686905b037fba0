/*
 * worker.c
 *	  The frame of gigavector's background workers, in the manner of
 *	  PostgreSQL's worker_spi.
 *
 *	  Each kind of worker (TTL now, the GPU service later) has a launcher, a
 *	  static background worker registered from shared_preload_libraries that
 *	  starts once recovery is over (so never on a standby, and at once after
 *	  promotion).  The launcher reads pg_database and starts one dynamic
 *	  worker per database that accepts connections, at most one per
 *	  database at a time and at most one per interval (the kind's interval
 *	  setting, re-read on SIGHUP).  A database worker connects, claims its
 *	  database with a session advisory lock (so that even two launchers, one
 *	  of them about to die, never run two workers in one database) and runs
 *	  the kind's rounds: a round that says GV_ROUND_IDLE ends the process,
 *	  and the launcher starts the next one an interval later.  TTL works so:
 *	  a worker that holds no connection between rounds never stands in the
 *	  way of DROP DATABASE.
 *
 *	  Signal handlers only set a flag and the latch.  SIGTERM ends a worker
 *	  at its next safe point (between two batches of a round); SIGHUP
 *	  reloads the configuration; postmaster death ends every wait.  A crash
 *	  of any backend restarts the whole cluster: the launcher is registered
 *	  with a restart time, and starts its database workers again.
 */
#include "compat.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "worker.h"

/* seconds before the postmaster starts a launcher that exited again */
#define GV_LAUNCHER_RESTART_S	5
/* first key of the advisory lock a database worker holds ("GVWK") */
#define GV_WORKER_LOCK_KEY		0x4756574B

typedef struct DatabaseSlot
{
	Oid			dboid;
	TimestampTz last_start;		/* 0: never started */
	BackgroundWorkerHandle *handle;
} DatabaseSlot;

/* Kinds registered by _PG_init; forked workers inherit the array. */
static GvWorkerKind kinds[GV_WORKER_MAX_KINDS];
static int	nkinds = 0;

static volatile sig_atomic_t got_sigterm = false;

static void SetUpSignals(void);

/*
 * Register a kind and its launcher (see worker.h).
 */
bool
GvWorkerRegister(const GvWorkerKind *kind)
{
	BackgroundWorker bgw;

	if (!process_shared_preload_libraries_in_progress)
		return false;
	if (nkinds >= GV_WORKER_MAX_KINDS)
		elog(ERROR, "too many gigavector worker kinds");
	kinds[nkinds++] = *kind;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = GV_LAUNCHER_RESTART_S;
	strlcpy(bgw.bgw_library_name, "gigavector", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "gv_worker_launcher_main", BGW_MAXLEN);
	snprintf(bgw.bgw_name, BGW_MAXLEN, "gigavector %s launcher", kind->name);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "gigavector %s launcher", kind->name);
	strlcpy(bgw.bgw_extra, kind->name, GV_WORKER_NAME_LEN);
	RegisterBackgroundWorker(&bgw);
	return true;
}

/*
 * Register a service (see worker.h): a single static worker, not a
 * launcher, since a service such as the GPU worker owns something there is
 * one of (a device) rather than serving each database.
 */
bool
GvWorkerRegisterService(const char *name, const char *function_name, int restart_s)
{
	BackgroundWorker bgw;

	if (!process_shared_preload_libraries_in_progress)
		return false;
	memset(&bgw, 0, sizeof(bgw));
	/* a connection (to no database) puts it in pg_stat_activity */
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_ConsistentState;
	bgw.bgw_restart_time = restart_s;
	strlcpy(bgw.bgw_library_name, "gigavector", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, function_name, BGW_MAXLEN);
	snprintf(bgw.bgw_name, BGW_MAXLEN, "gigavector %s worker", name);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "gigavector %s worker", name);
	RegisterBackgroundWorker(&bgw);
	return true;
}

void
GvWorkerSetUpSignals(void)
{
	SetUpSignals();
}

bool
GvWorkerStopRequested(void)
{
	return got_sigterm;
}

void
GvWorkerReloadIfAsked(void)
{
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/* SIGTERM: only a flag and the latch; the loops look at the flag. */
static void
HandleSigterm(int postgres_signal_arg pg_attribute_unused())
{
	int			save_errno = errno;

	got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

/* The kind this worker serves, named in its bgw_extra; its index in *index. */
static const GvWorkerKind *
ThisKind(int *index)
{
	for (int i = 0; i < nkinds; i++)
		if (strncmp(kinds[i].name, MyBgworkerEntry->bgw_extra, GV_WORKER_NAME_LEN) == 0)
		{
			*index = i;
			return &kinds[i];
		}
	/* The library was not preloaded in this process: nothing to serve. */
	elog(ERROR, "gigavector worker kind \"%.*s\" is not registered",
		 GV_WORKER_NAME_LEN, MyBgworkerEntry->bgw_extra);
	return NULL;				/* keep the compiler quiet */
}

static void
SetUpSignals(void)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, HandleSigterm);
	BackgroundWorkerUnblockSignals();
}

/* Wait on the latch for at most ms, handling reloads and interrupts. */
static void
WaitAwhile(long ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 Max(ms, 1), PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	GvWorkerReloadIfAsked();
}

static long
IntervalMs(const GvWorkerKind *kind)
{
	return (long) *kind->interval_s * 1000L;
}

/*
 * The databases a launcher serves: every one that accepts connections,
 * templates and half-dropped ones left out.  Read from the shared catalog
 * as autovacuum does; the list lives in the caller's memory context.
 */
static List *
ListDatabases(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *dbs = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;

		if (!db->datallowconn || db->datistemplate || database_is_invalid_form(db))
			continue;
		old = MemoryContextSwitchTo(cxt);
		dbs = lappend_oid(dbs, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return dbs;
}

/* Whether the slot's worker is still registered or running. */
static bool
SlotBusy(DatabaseSlot *slot)
{
	pid_t		pid;

	if (slot->handle == NULL)
		return false;
	switch (GetBackgroundWorkerPid(slot->handle, &pid))
	{
		case BGWH_STARTED:
		case BGWH_NOT_YET_STARTED:
			return true;
		default:
			pfree(slot->handle);
			slot->handle = NULL;
			return false;
	}
}

/* Start the kind's worker for one database; false if no slot was free. */
static bool
StartDatabaseWorker(const GvWorkerKind *kind, DatabaseSlot *slot)
{
	BackgroundWorker bgw;
	MemoryContext old;
	bool		ok;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(bgw.bgw_library_name, "gigavector", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "gv_worker_database_main", BGW_MAXLEN);
	snprintf(bgw.bgw_name, BGW_MAXLEN, "gigavector %s worker for database %u",
			 kind->name, slot->dboid);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "gigavector %s worker", kind->name);
	strlcpy(bgw.bgw_extra, kind->name, GV_WORKER_NAME_LEN);
	bgw.bgw_main_arg = ObjectIdGetDatum(slot->dboid);
	bgw.bgw_notify_pid = MyProcPid;

	old = MemoryContextSwitchTo(TopMemoryContext);
	ok = RegisterDynamicBackgroundWorker(&bgw, &slot->handle);
	MemoryContextSwitchTo(old);
	if (!ok)
		slot->handle = NULL;
	return ok;
}

/* The slot of a database, made if new; slots of dropped databases are reused. */
static DatabaseSlot *
SlotFor(DatabaseSlot **slots, int *nslots, int *cap, Oid dboid, List *live)
{
	int			freeslot = -1;

	for (int i = 0; i < *nslots; i++)
	{
		if ((*slots)[i].dboid == dboid)
			return &(*slots)[i];
		if (freeslot < 0 && (*slots)[i].handle == NULL &&
			!list_member_oid(live, (*slots)[i].dboid))
			freeslot = i;
	}
	if (freeslot < 0)
	{
		if (*nslots == *cap)
		{
			*cap *= 2;
			*slots = repalloc(*slots, sizeof(DatabaseSlot) * *cap);
		}
		freeslot = (*nslots)++;
	}
	(*slots)[freeslot].dboid = dboid;
	(*slots)[freeslot].last_start = 0;
	(*slots)[freeslot].handle = NULL;
	return &(*slots)[freeslot];
}

/*
 * The launcher: every database gets a worker at most once an interval and
 * never two at once.  It wakes when the interval is up for some database,
 * when one of its workers exits (bgw_notify_pid) and on SIGHUP.
 */
void
gv_worker_launcher_main(Datum arg pg_attribute_unused())
{
	int			index;
	const GvWorkerKind *kind = ThisKind(&index);
	MemoryContext roundcxt;
	int			cap = 16;
	int			nslots = 0;
	DatabaseSlot *slots;
	bool		warned_full = false;

	SetUpSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	ereport(LOG, (errmsg("gigavector %s launcher started", kind->name)));

	slots = MemoryContextAlloc(TopMemoryContext, sizeof(DatabaseSlot) * cap);
	roundcxt = AllocSetContextCreate(TopMemoryContext, "gigavector launcher",
									 ALLOCSET_DEFAULT_SIZES);
	while (!got_sigterm)
	{
		TimestampTz now;
		long		sleep_ms = IntervalMs(kind);
		List	   *dbs;
		ListCell   *lc;
		bool		full = false;

		MemoryContextReset(roundcxt);
		MemoryContextSwitchTo(roundcxt);
		dbs = ListDatabases();
		now = GetCurrentTimestamp();
		foreach(lc, dbs)
		{
			DatabaseSlot *slot = SlotFor(&slots, &nslots, &cap, lfirst_oid(lc), dbs);
			long		due_in;

			if (SlotBusy(slot))
				continue;
			due_in = TimestampDifferenceMilliseconds(now,
													 TimestampTzPlusMilliseconds(slot->last_start, IntervalMs(kind)));
			if (slot->last_start == 0 || due_in <= 0)
			{
				if (StartDatabaseWorker(kind, slot))
					slot->last_start = now;
				else
					full = true;
			}
			else
				sleep_ms = Min(sleep_ms, due_in);
		}
		/* Out of worker slots: say so once, try again in a second. */
		if (full && !warned_full)
			ereport(WARNING,
					(errmsg("gigavector %s launcher could not start a worker", kind->name),
					 errhint("Raise max_worker_processes.")));
		warned_full = full;
		if (full)
			sleep_ms = Min(sleep_ms, 1000L);
		MemoryContextSwitchTo(TopMemoryContext);
		if (!got_sigterm)
			WaitAwhile(sleep_ms);
	}
	ereport(LOG, (errmsg("gigavector %s launcher shutting down", kind->name)));
	/* exit code 1: the postmaster starts a terminated launcher again */
	proc_exit(1);
}

/*
 * Claim the connected database for this kind: a session advisory lock,
 * held until the process exits, crash or not.
 */
static bool
ClaimDatabase(int index)
{
	bool		claimed;

	StartTransactionCommand();
	claimed = DatumGetBool(DirectFunctionCall2(pg_try_advisory_lock_int4,
											   Int32GetDatum(GV_WORKER_LOCK_KEY),
											   Int32GetDatum(index + 1)));
	CommitTransactionCommand();
	return claimed;
}

/*
 * A database worker: connect, claim the database, run rounds an interval
 * apart until the kind is idle or SIGTERM arrives.
 */
void
gv_worker_database_main(Datum arg)
{
	int			index;
	const GvWorkerKind *kind = ThisKind(&index);

	SetUpSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(arg), InvalidOid, 0);
	if (!ClaimDatabase(index))
	{
		ereport(DEBUG1, (errmsg("another gigavector %s worker serves this database", kind->name)));
		proc_exit(0);
	}
	while (!got_sigterm)
	{
		TimestampTz start = GetCurrentTimestamp();

		if (kind->round() == GV_ROUND_IDLE)
			break;
		while (!got_sigterm)
		{
			long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
															   TimestampTzPlusMilliseconds(start, IntervalMs(kind)));

			if (left <= 0)
				break;
			WaitAwhile(left);
		}
	}
	if (got_sigterm)
		ereport(LOG, (errmsg("gigavector %s worker shutting down", kind->name)));
	proc_exit(0);
}
