/*
 * shard.c
 *	  gigavector.shard_fan_out: one query on every shard of a distributed
 *	  table at once, over libpq connections kept open for the session.
 *
 * Each shard (a postgres_fdw foreign partition) gets its own connection, so
 * that shards on one server run at once too; the connection string is the
 * foreign server's libpq options plus the caller's user mapping, as
 * postgres_fdw builds it.  A search is one round trip per shard, in libpq
 * pipeline mode: the session's gigavector search settings (only when they
 * changed since that connection last got them), the statement's PREPARE
 * (once per connection) and its execution with the query value as a binary
 * parameter (the type's send format), so neither side prints or parses the
 * vector as text and every value is bound, never spliced.  Results are
 * collected shard by shard while waiting on the sockets with
 * CHECK_FOR_INTERRUPTS, so a cancel works; on any error or cancel the
 * remote queries are cancelled and the connections of this call dropped
 * (the next call opens new ones).  A connection the shard closed while it
 * was idle is noticed before sending and opened again.
 */
#include "compat.h"

#include <poll.h>

#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "common/md5.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "libpq-fe.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

/* the settings that make a search mean the same on every shard */
static const char *const shard_setting_names[] = {
	"gigavector.hnsw_ef_search", "gigavector.hnsw_max_scan_tuples", "gigavector.ivfpq_probes",
	"gigavector.ivfpq_max_probes", "gigavector.ivfpq_rerank",
};
#define N_SHARD_SETTINGS lengthof(shard_setting_names)

/* one open connection to a shard, kept for the session (TopMemoryContext) */
typedef struct ShardConn
{
	Oid			shard;			/* the foreign partition */
	Oid			server;			/* its foreign server when connected */
	Oid			user;			/* the user whose mapping it used */
	PGconn	   *conn;
	char	   *settings;		/* the settings it was last sent */
	List	   *prepared;		/* names of the statements prepared on it */
	struct ShardConn *next;
} ShardConn;

static ShardConn *shard_conns = NULL;

/* the query value as sent: its type's binary format, or a text as text */
typedef struct ShardValue
{
	const char *data;
	int			len;
	int			format;			/* 1 binary, 0 text */
} ShardValue;

/* one shard of this call */
typedef struct ShardCall
{
	ShardConn  *sc;
	char	   *name;			/* the shard as regclass text */
	int			queued;			/* statements sent in the pipeline */
} ShardCall;

static void
shard_conn_drop(ShardConn *sc)
{
	ShardConn **p;

	for (p = &shard_conns; *p; p = &(*p)->next)
		if (*p == sc)
		{
			*p = sc->next;
			break;
		}
	if (sc->conn)
		PQfinish(sc->conn);
	if (sc->settings)
		pfree(sc->settings);
	list_free_deep(sc->prepared);
	pfree(sc);
}

/* whether keyword is a libpq connection option (postgres_fdw's own are not) */
static bool
is_libpq_option(const char *keyword)
{
	static PQconninfoOption *defaults = NULL;
	PQconninfoOption *o;

	if (defaults == NULL)
		defaults = PQconndefaults();
	if (defaults == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	for (o = defaults; o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0 && strchr(o->dispchar, 'D') == NULL)
			return true;
	return false;
}

static PGconn *
shard_connect(Oid serverid)
{
	ForeignServer *server = GetForeignServer(serverid);
	UserMapping *um = GetUserMapping(GetUserId(), serverid);
	List	   *opts = list_concat(list_copy(server->options), um->options);
	int			n = list_length(opts) + 3;
	const char **keys = palloc0(sizeof(char *) * n);
	const char **values = palloc0(sizeof(char *) * n);
	int			i = 0;
	ListCell   *lc;
	PGconn	   *conn;

	foreach(lc, opts)
	{
		DefElem    *d = lfirst(lc);

		if (!is_libpq_option(d->defname))
			continue;
		keys[i] = d->defname;
		values[i++] = defGetString(d);
	}
	keys[i] = "fallback_application_name";
	values[i++] = "gigavector";
	keys[i] = "client_encoding";
	values[i++] = GetDatabaseEncodingName();
	conn = PQconnectdbParams(keys, values, false);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
	{
		char	   *msg = pchomp(conn ? PQerrorMessage(conn) : "out of memory");

		PQfinish(conn);
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("could not establish connection to shard server \"%s\"", server->servername),
				 errdetail_internal("%s", msg)));
	}
	/* a non-superuser must not borrow this server's own identity (trust, peer) */
	if (!superuser() && !PQconnectionUsedPassword(conn))
	{
		PQfinish(conn);
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("password is required to connect to shard server \"%s\"", server->servername),
				 errhint("Give the user mapping a password the shard server asks for.")));
	}
	return conn;
}

/*
 * Whether an idle connection is still good: an open one has nothing to read
 * between searches, so a readable socket means the shard closed it (or sent
 * its FATAL message first).
 */
static bool
shard_conn_idle(PGconn *conn)
{
	struct pollfd p = {.fd = PQsocket(conn),.events = POLLIN};

	return PQstatus(conn) == CONNECTION_OK && p.fd >= 0 && poll(&p, 1, 0) == 0;
}

/* the session's connection to a shard, opened or opened again when needed */
static ShardConn *
shard_conn_get(Oid shard, Oid server)
{
	ShardConn  *sc;

	for (sc = shard_conns; sc; sc = sc->next)
		if (sc->shard == shard)
			break;
	/* a connection the shard closed, or one to another server or as another user */
	if (sc && (sc->server != server || sc->user != GetUserId() || !shard_conn_idle(sc->conn)))
	{
		shard_conn_drop(sc);
		sc = NULL;
	}
	if (sc == NULL)
	{
		PGconn	   *conn = shard_connect(server);

		sc = MemoryContextAllocZero(TopMemoryContext, sizeof(ShardConn));
		sc->shard = shard;
		sc->server = server;
		sc->user = GetUserId();
		sc->conn = conn;
		sc->next = shard_conns;
		shard_conns = sc;
	}
	return sc;
}

/* this session's values of the shard settings, one string ('\0' where unset) */
static char *
shard_settings_now(void)
{
	StringInfoData s;
	int			i;

	initStringInfo(&s);
	for (i = 0; i < N_SHARD_SETTINGS; i++)
	{
		const char *v = GetConfigOption(shard_setting_names[i], true, false);

		appendStringInfo(&s, "%c%s;", v ? '=' : '-', v ? v : "");
	}
	return s.data;
}

/* a field of a shard's error result, copied (NULL when absent) */
static char *
shard_error_field(PGresult *res, int field)
{
	const char *v = res ? PQresultErrorField(res, field) : NULL;

	return v ? pstrdup(v) : NULL;
}

/*
 * Raises the error of a shard's result (its SQLSTATE, message, detail, hint)
 * and frees the result; without one, the connection's error.
 */
static void
shard_result_error(PGresult *res, ShardCall *call)
{
	char	   *state = shard_error_field(res, PG_DIAG_SQLSTATE);
	char	   *msg = shard_error_field(res, PG_DIAG_MESSAGE_PRIMARY);
	char	   *detail = shard_error_field(res, PG_DIAG_MESSAGE_DETAIL);
	char	   *hint = shard_error_field(res, PG_DIAG_MESSAGE_HINT);
	char	   *text = msg ? msg : pchomp(PQerrorMessage(call->sc->conn));
	int			code = state && strlen(state) == 5 ?
		MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]) :
		ERRCODE_CONNECTION_FAILURE;

	PQclear(res);
	ereport(ERROR,
			(errcode(code), errmsg_internal("%s", text),
			 detail ? errdetail_internal("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0,
			 errcontext("on shard %s", call->name)));
}

/* queues settings, PREPARE and execution of stmt on a shard, and sends them */
static void
shard_send(ShardCall *call, const char *stmt, const char *settings, const ShardValue *value)
{
	ShardConn  *sc = call->sc;
	PGconn	   *conn = sc->conn;
	char		name[36] = "gv_";
	const char *errstr = NULL;
	const char *vals[1] = {value->data};
	int			lens[1] = {value->len};
	int			fmts[1] = {value->format};
	bool		ok;

	if (!pg_md5_hash(stmt, strlen(stmt), name + 3, &errstr))
		elog(ERROR, "could not hash a shard statement: %s", errstr);
	name[23] = '\0';
	ok = PQenterPipelineMode(conn);
	call->queued = 0;
	if (ok && (sc->settings == NULL || strcmp(sc->settings, settings) != 0))
	{
		int			i;

		for (i = 0; ok && i < N_SHARD_SETTINGS; i++)
		{
			const char *v = GetConfigOption(shard_setting_names[i], true, false);
			const char *p[2] = {shard_setting_names[i], v};

			if (v == NULL)
				continue;
			ok = PQsendQueryParams(conn, "SELECT pg_catalog.set_config($1, $2, false)",
								   2, NULL, p, NULL, NULL, 0);
			call->queued++;
		}
	}
	if (ok && !list_member(sc->prepared, makeString(name)))
	{
		ok = PQsendPrepare(conn, name, stmt, 1, NULL);
		call->queued++;
	}
	if (ok)
		ok = PQsendQueryPrepared(conn, name, 1, vals, lens, fmts, 0);
	call->queued++;
	if (ok)
		ok = PQpipelineSync(conn);
	if (!ok)
		shard_result_error(NULL, call);
	/* remembered now: should a statement fail, the connection is dropped */
	if (sc->settings == NULL || strcmp(sc->settings, settings) != 0)
	{
		if (sc->settings)
			pfree(sc->settings);
		sc->settings = MemoryContextStrdup(TopMemoryContext, settings);
	}
	if (!list_member(sc->prepared, makeString(name)))
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		sc->prepared = lappend(sc->prepared, makeString(pstrdup(name)));
		MemoryContextSwitchTo(old);
	}
}

/* the next result of a shard, waiting on its socket so that a cancel works */
static PGresult *
shard_next_result(ShardCall *call)
{
	PGconn	   *conn = call->sc->conn;

	while (PQisBusy(conn))
	{
		int			rc = WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_SOCKET_READABLE | WL_EXIT_ON_PM_DEATH,
										   PQsocket(conn), -1L, PG_WAIT_EXTENSION);

		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if ((rc & WL_SOCKET_READABLE) && !PQconsumeInput(conn))
			shard_result_error(NULL, call);
	}
	return PQgetResult(conn);
}

/* collects a shard's results; the rows of its search go to the tuplestore */
static void
shard_collect(ShardCall *call, Tuplestorestate *ts, TupleDesc desc)
{
	int			seen = 0;

	for (;;)
	{
		PGresult   *res = shard_next_result(call);
		ExecStatusType st;

		if (res == NULL)
			continue;			/* the end of one statement's results */
		st = PQresultStatus(res);
		if (st == PGRES_PIPELINE_SYNC)
		{
			PQclear(res);
			break;
		}
		if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
			shard_result_error(res, call);	/* the connection is dropped */
		if (++seen == call->queued)
		{
			int			r;

			if (PQnfields(res) != 2)
			{
				int			nfields = PQnfields(res);

				PQclear(res);
				elog(ERROR, "a shard search must return two columns, not %d", nfields);
			}
			for (r = 0; r < PQntuples(res); r++)
			{
				Datum		v[3];
				bool		nulls[3] = {false, PQgetisnull(res, r, 0), PQgetisnull(res, r, 1)};

				v[0] = CStringGetTextDatum(call->name);
				v[1] = nulls[1] ? (Datum) 0 : CStringGetTextDatum(PQgetvalue(res, r, 0));
				v[2] = nulls[2] ? (Datum) 0 :
					DirectFunctionCall1(float8in, CStringGetDatum(PQgetvalue(res, r, 1)));
				tuplestore_putvalues(ts, desc, v, nulls);
			}
		}
		PQclear(res);
	}
	if (!PQexitPipelineMode(call->sc->conn))
		shard_result_error(NULL, call);
}

/* cancels what a shard still runs and drops its connection */
static void
shard_abandon(ShardCall *call)
{
	PGcancel   *cancel;
	char		buf[256];

	if (call->sc == NULL)
		return;
	if (PQtransactionStatus(call->sc->conn) == PQTRANS_ACTIVE &&
		(cancel = PQgetCancel(call->sc->conn)) != NULL)
	{
		PQcancel(cancel, buf, sizeof(buf));
		PQfreeCancel(cancel);
	}
	shard_conn_drop(call->sc);
	call->sc = NULL;
}

/* the shards of tbl with their servers and their statements */
static const char *const shard_list_sql =
"SELECT p.inhrelid, p.inhrelid::pg_catalog.regclass::text, f.ftserver, "
"pg_catalog.format($2, VARIADIC ARRAY[r.remote, r.remote] || $3) "
"FROM pg_catalog.pg_inherits p JOIN pg_catalog.pg_foreign_table f ON f.ftrelid = p.inhrelid, "
"LATERAL (SELECT pg_catalog.format('%I.%I', "
"(SELECT pg_catalog.substr(o, 13) FROM pg_catalog.unnest(f.ftoptions) o WHERE o LIKE 'schema_name=%'), "
"(SELECT pg_catalog.substr(o, 12) FROM pg_catalog.unnest(f.ftoptions) o WHERE o LIKE 'table_name=%')) AS remote) r "
"WHERE p.inhparent = $1 ORDER BY p.inhrelid";

PG_FUNCTION_INFO_V1(gv_shard_fan_out);

/*
 * shard_fan_out(tbl regclass, template text, value anyelement, VARIADIC args
 * text[]) -> (shard text, key text, score float8): see 75_scaleout.sql.
 */
Datum
gv_shard_fan_out(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[3] = {OIDOID, TEXTOID, TEXTARRAYOID};
	Datum		args[3] = {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1), PG_GETARG_DATUM(3)};
	Oid			valtype = get_fn_expr_argtype(fcinfo->flinfo, 2);
	ShardValue	value;
	char	   *settings = shard_settings_now();
	ShardCall  *calls;
	int			n,
				i;
	MemoryContext callcxt = CurrentMemoryContext;

	InitMaterializedSRF(fcinfo, 0);
	if (valtype == TEXTOID)
	{
		/* parsed there as whatever the statement takes (text, ghalfvec, ...) */
		value.data = text_to_cstring(PG_GETARG_TEXT_PP(2));
		value.len = strlen(value.data);
		value.format = 0;
	}
	else
	{
		Oid			sendfn;
		bool		isvarlena;
		bytea	   *sent;

		getTypeBinaryOutputInfo(valtype, &sendfn, &isvarlena);
		sent = OidSendFunctionCall(sendfn, PG_GETARG_DATUM(2));
		value.data = VARDATA(sent);
		value.len = VARSIZE(sent) - VARHDRSZ;
		value.format = 1;
	}

	SPI_connect();
	if (plan == NULL)
	{
		plan = SPI_prepare(shard_list_sql, 3, argtypes);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
	}
	if (SPI_execute_plan(plan, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the shards");
	n = SPI_processed;
	calls = MemoryContextAllocZero(callcxt, sizeof(ShardCall) * Max(n, 1));
	PG_TRY();
	{
		for (i = 0; i < n; i++)
		{
			HeapTuple	t = SPI_tuptable->vals[i];
			TupleDesc	d = SPI_tuptable->tupdesc;
			bool		isnull;
			Oid			shard = DatumGetObjectId(SPI_getbinval(t, d, 1, &isnull));
			Oid			server = DatumGetObjectId(SPI_getbinval(t, d, 3, &isnull));

			calls[i].name = MemoryContextStrdup(callcxt, SPI_getvalue(t, d, 2));
			calls[i].sc = shard_conn_get(shard, server);
			shard_send(&calls[i], SPI_getvalue(t, d, 4), settings, &value);
		}
		for (i = 0; i < n; i++)
			shard_collect(&calls[i], rsinfo->setResult, rsinfo->setDesc);
	}
	PG_CATCH();
	{
		for (i = 0; i < n; i++)
			shard_abandon(&calls[i]);
		PG_RE_THROW();
	}
	PG_END_TRY();
	SPI_finish();
	return (Datum) 0;
}
