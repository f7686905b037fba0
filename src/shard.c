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
#include "shard.h"

#include <poll.h>

#include "catalog/pg_collation.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "common/md5.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "libpq-fe.h"
#include "mb/pg_wchar.h"
#include "parser/analyze.h"
#include "parser/parsetree.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/varlena.h"
#include "utils/guc.h"
#include "utils/inval.h"
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
	Oid			shard;			/* the foreign partition */
	Oid			server;			/* its foreign server */
	char	   *name;			/* the shard as regclass text */
	char	   *stmt;			/* what it runs */
	ShardConn  *sc;
	int			queued;			/* statements sent in the pipeline */
	int			seen;			/* their results taken */
	bool		done;			/* the pipeline's end taken */
} ShardCall;

/* one (key, score) row a shard returned */
typedef struct ShardRow
{
	const char *shard;			/* the ShardCall's name */
	char	   *key;			/* NULL for SQL NULL */
	double		score;
	bool		scorenull;
} ShardRow;

/* the rows of every shard of a call */
typedef struct ShardRows
{
	ShardRow   *rows;
	int			n;
	int			cap;
} ShardRows;

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

	/*
	 * a non-superuser must not borrow this server's own identity (trust,
	 * peer)
	 */
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

	/*
	 * a connection the shard closed, or one to another server or as another
	 * user
	 */
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
	int			code = (state && strlen(state) == 5 ?
						MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]) :
						ERRCODE_CONNECTION_FAILURE);

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
	call->seen = 0;
	call->done = false;
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
		ok = PQsendQueryPrepared(conn, name, 1, vals, lens, fmts, 1);
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

/* a float8 sent in binary (network byte order) */
static double
shard_float8(const char *p)
{
	uint64		u;
	double		d;

	memcpy(&u, p, sizeof(u));
	u = pg_ntoh64(u);
	memcpy(&d, &u, sizeof(d));
	return d;
}

/* the rows of a shard's search result, checked and added to out */
static void
shard_take_rows(ShardCall *call, PGresult *res, ShardRows *out)
{
	int			ntuples = PQntuples(res);
	int			r;

	if (PQnfields(res) != 2 || PQftype(res, 0) != TEXTOID || PQftype(res, 1) != FLOAT8OID)
	{
		int			nfields = PQnfields(res);

		PQclear(res);
		elog(ERROR, "a shard search must return (text, float8), not %d columns", nfields);
	}
	if (out->n + ntuples > out->cap)
	{
		out->cap = Max(out->cap * 2, out->n + ntuples);
		out->rows = out->rows ? repalloc(out->rows, sizeof(ShardRow) * out->cap) :
			palloc(sizeof(ShardRow) * out->cap);
	}
	for (r = 0; r < ntuples; r++)
	{
		ShardRow   *row = &out->rows[out->n++];

		row->shard = call->name;
		row->key = PQgetisnull(res, r, 0) ? NULL :
			pnstrdup(PQgetvalue(res, r, 0), PQgetlength(res, r, 0));
		row->scorenull = PQgetisnull(res, r, 1) || PQgetlength(res, r, 1) != sizeof(double);
		row->score = row->scorenull ? 0 : shard_float8(PQgetvalue(res, r, 1));
	}
}

/*
 * Takes the results a shard has sent so far, without waiting; the rows of
 * its search go to out.  Returns true once its pipeline is through.
 */
static bool
shard_drain(ShardCall *call, ShardRows *out)
{
	PGconn	   *conn = call->sc->conn;

	while (!PQisBusy(conn))
	{
		PGresult   *res = PQgetResult(conn);
		ExecStatusType st;

		if (res == NULL)
			continue;			/* the end of one statement's results */
		st = PQresultStatus(res);
		if (st == PGRES_PIPELINE_SYNC)
		{
			PQclear(res);
			if (!PQexitPipelineMode(conn))
				shard_result_error(NULL, call);
			return true;
		}
		if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
			shard_result_error(res, call);	/* the connection is dropped */
		if (++call->seen == call->queued)
			shard_take_rows(call, res, out);
		PQclear(res);
	}
	return false;
}

/*
 * Collects every shard's results as they come, waiting on all their
 * sockets and the latch at once, so that a cancel works.
 */
static void
shard_collect(ShardCall *calls, int n, WaitEventSet *set, ShardRows *out)
{
	WaitEvent  *events = palloc(sizeof(WaitEvent) * (n + 2));
	int			pending = n;
	int			i;

	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (i = 0; i < n; i++)
		AddWaitEventToSet(set, WL_SOCKET_READABLE, PQsocket(calls[i].sc->conn), NULL, &calls[i]);
	for (;;)
	{
		int			nev;

		for (i = 0; i < n; i++)
			if (!calls[i].done && shard_drain(&calls[i], out))
			{
				calls[i].done = true;
				pending--;
			}
		if (pending == 0)
			break;
		nev = WaitEventSetWait(set, -1L, events, n + 2, PG_WAIT_EXTENSION);
		for (i = 0; i < nev; i++)
		{
			ShardCall  *call = events[i].user_data;

			if (events[i].events & WL_LATCH_SET)
				ResetLatch(MyLatch);

			/*
			 * a finished shard's socket may turn readable: it closed, noticed
			 * on the next call
			 */
			if (call && !call->done && (events[i].events & WL_SOCKET_READABLE) &&
				!PQconsumeInput(call->sc->conn))
				shard_result_error(NULL, call);
		}
		CHECK_FOR_INTERRUPTS();
	}
	pfree(events);
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


/*
 * Runs each call's statement on its shard at once (connections opened when
 * missing), the query value bound as $1, and gathers the rows into out.
 */
static void
shard_run(ShardCall *calls, int n, const ShardValue *value, ShardRows *out)
{
	char	   *settings = shard_settings_now();
	WaitEventSet *volatile set = NULL;
	int			i;

	PG_TRY();
	{
		for (i = 0; i < n; i++)
		{
			calls[i].sc = shard_conn_get(calls[i].shard, calls[i].server);
			shard_send(&calls[i], calls[i].stmt, settings, value);
		}
		/* not owned by a resource owner: freed here on every path */
		set = CreateWaitEventSet(CurrentMemoryContext, n + 2);
		shard_collect(calls, n, set, out);
	}
	PG_CATCH();
	{
		if (set)
			FreeWaitEventSet(set);
		for (i = 0; i < n; i++)
			shard_abandon(&calls[i]);
		PG_RE_THROW();
	}
	PG_END_TRY();
	FreeWaitEventSet(set);
}

/*
 * The query value as sent: a text as text (parsed there as whatever type
 * the statement takes: text, ghalfvec, ...), any other type in its binary
 * send format.
 */
static void
shard_value(Oid valtype, Datum datum, bool as_text, ShardValue *value)
{
	if (valtype == TEXTOID)
	{
		value->data = TextDatumGetCString(datum);
		value->len = strlen(value->data);
		value->format = 0;
	}
	else if (as_text)
	{
		Oid			outfn;
		bool		isvarlena;

		getTypeOutputInfo(valtype, &outfn, &isvarlena);
		value->data = OidOutputFunctionCall(outfn, datum);
		value->len = strlen(value->data);
		value->format = 0;
	}
	else
	{
		Oid			sendfn;
		bool		isvarlena;
		bytea	   *sent;

		getTypeBinaryOutputInfo(valtype, &sendfn, &isvarlena);
		sent = OidSendFunctionCall(sendfn, datum);
		value->data = VARDATA(sent);
		value->len = VARSIZE(sent) - VARHDRSZ;
		value->format = 1;
	}
}

/* the rows of a call, in a tuplestore of (shard, key, score) */
static void
shard_rows_store(ReturnSetInfo *rsinfo, ShardRow *rows, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		Datum		v[3];
		bool		nulls[3] = {false, rows[i].key == NULL, rows[i].scorenull};

		v[0] = CStringGetTextDatum(rows[i].shard);
		v[1] = nulls[1] ? (Datum) 0 : CStringGetTextDatum(rows[i].key);
		v[2] = Float8GetDatum(rows[i].score);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
	}
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
	ShardValue	value;
	ShardCall  *calls;
	ShardRows	out = {0};
	int			n,
				i;
	MemoryContext callcxt = CurrentMemoryContext;

	InitMaterializedSRF(fcinfo, 0);
	shard_value(get_fn_expr_argtype(fcinfo->flinfo, 2), PG_GETARG_DATUM(2), false, &value);

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
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;

		calls[i].shard = DatumGetObjectId(SPI_getbinval(t, d, 1, &isnull));
		calls[i].server = DatumGetObjectId(SPI_getbinval(t, d, 3, &isnull));
		calls[i].name = MemoryContextStrdup(callcxt, SPI_getvalue(t, d, 2));
		calls[i].stmt = MemoryContextStrdup(callcxt, SPI_getvalue(t, d, 4));
	}
	SPI_finish();
	shard_run(calls, n, &value, &out);
	shard_rows_store(rsinfo, out.rows, out.n);
	return (Datum) 0;
}

/*
 * A distributed table's shard key and shards (foreign partition, its text,
 * server, remote table quoted); one row of NULL shard for a distributed
 * table without any, none for a table that is not distributed.
 */
static const char *const search_list_sql =
"SELECT p.inhrelid, (SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c "
"JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
"WHERE c.oid OPERATOR(pg_catalog.=) p.inhrelid), f.ftserver, "
"pg_catalog.format('%I.%I', "
"(SELECT pg_catalog.substr(o, 13) FROM pg_catalog.unnest(f.ftoptions) o WHERE o OPERATOR(pg_catalog.~~) 'schema_name=%'), "
"(SELECT pg_catalog.substr(o, 12) FROM pg_catalog.unnest(f.ftoptions) o WHERE o OPERATOR(pg_catalog.~~) 'table_name=%')), "
"d.shard_key "
"FROM gigavector.distributed_tables d LEFT JOIN (pg_catalog.pg_inherits p "
"JOIN pg_catalog.pg_foreign_table f ON f.ftrelid OPERATOR(pg_catalog.=) p.inhrelid) "
"ON p.inhparent OPERATOR(pg_catalog.=) d.tbl "
"WHERE d.tbl OPERATOR(pg_catalog.=) $1 ORDER BY p.inhrelid";

/* a table's name, schema-qualified (as a regclass prints in the install scripts) */
static char *
shard_rel_name(Oid tbl)
{
	char	   *rel = get_rel_name(tbl);

	if (rel == NULL)
		return psprintf("%u", tbl);
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(tbl)), rel);
}

/* a shard of a distributed table, as the shard list cache keeps it */
typedef struct ShardListItem
{
	Oid			shard;
	Oid			server;
	char	   *name;			/* the foreign table, schema-qualified */
	char	   *remote;			/* the remote table, quoted */
} ShardListItem;

/*
 * A distributed table's shard key and shards, kept for the session until a
 * relcache invalidation of the table or of one of its shards (ATTACH or
 * DETACH PARTITION, ALTER FOREIGN TABLE, DROP) or of every relation: a
 * search then needs no catalog query.
 */
typedef struct ShardList
{
	Oid			tbl;
	bool		valid;
	MemoryContext cxt;			/* holds this entry's strings and items */
	char	   *key;
	int			n;
	ShardListItem *items;
	struct ShardList *next;
} ShardList;

static ShardList *shard_lists = NULL;

static void
shard_list_invalidate(Datum arg pg_attribute_unused(), Oid relid)
{
	ShardList  *l;
	int			i;

	for (l = shard_lists; l; l = l->next)
	{
		if (!OidIsValid(relid) || relid == l->tbl)
			l->valid = false;
		for (i = 0; l->valid && i < l->n; i++)
			if (l->items[i].shard == relid)
				l->valid = false;
	}
}

/* reads a distributed table's shard list from the catalogs into l */
static void
shard_list_load(ShardList *l)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(l->tbl)};
	int			i;

	SPI_connect();
	if (plan == NULL)
	{
		plan = SPI_prepare(search_list_sql, 1, argtypes);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
	}
	if (SPI_execute_plan(plan, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the shards");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("table %s is not distributed", shard_rel_name(l->tbl)),
				 errhint("Make it one with gigavector.create_distributed_table.")));
	l->key = MemoryContextStrdup(l->cxt, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5));
	l->items = MemoryContextAllocZero(l->cxt, sizeof(ShardListItem) * SPI_processed);
	l->n = 0;
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		ShardListItem *item = &l->items[l->n];
		bool		isnull;

		item->shard = DatumGetObjectId(SPI_getbinval(t, d, 1, &isnull));
		if (isnull)
			continue;			/* a distributed table without a shard */
		item->server = DatumGetObjectId(SPI_getbinval(t, d, 3, &isnull));
		item->name = MemoryContextStrdup(l->cxt, SPI_getvalue(t, d, 2));
		item->remote = MemoryContextStrdup(l->cxt, SPI_getvalue(t, d, 4));
		l->n++;
	}
	SPI_finish();
}

/* a distributed table's shard list, from the cache or the catalogs */
static ShardList *
shard_list_get(Oid tbl)
{
	static bool registered = false;
	ShardList  *l;

	if (!registered)
	{
		CacheRegisterRelcacheCallback(shard_list_invalidate, (Datum) 0);
		registered = true;
	}

	/*
	 * invalidations not yet seen (a DDL of this transaction, another
	 * session's)
	 */
	AcceptInvalidationMessages();
	for (l = shard_lists; l; l = l->next)
		if (l->tbl == tbl)
			break;
	if (l && l->valid)
		return l;
	if (l == NULL)
	{
		l = MemoryContextAllocZero(TopMemoryContext, sizeof(ShardList));
		l->tbl = tbl;
		l->cxt = AllocSetContextCreate(TopMemoryContext, "gigavector shard list", ALLOCSET_SMALL_SIZES);
		l->next = shard_lists;
		shard_lists = l;
	}
	MemoryContextReset(l->cxt);
	l->n = 0;
	l->valid = true;			/* an invalidation while loading clears it
								 * again */
	PG_TRY();
	{
		shard_list_load(l);
	}
	PG_CATCH();
	{
		l->valid = false;
		l->n = 0;
		PG_RE_THROW();
	}
	PG_END_TRY();
	return l;
}

/*
 * The shards of a distributed table, each with its statement: stmt(shard
 * key, remote table quoted, arg).  Raises for a table that is not
 * distributed.
 */
static ShardCall *
shard_calls(Oid tbl, const char *(*stmt) (const char *key, const char *remote, void *arg), void *arg, int *n)
{
	ShardList  *l = shard_list_get(tbl);
	ShardCall  *calls = palloc0(sizeof(ShardCall) * Max(l->n, 1));
	int			i;

	for (i = 0; i < l->n; i++)
	{
		calls[i].shard = l->items[i].shard;
		calls[i].server = l->items[i].server;
		calls[i].name = l->items[i].name;
		calls[i].stmt = (char *) stmt(l->key, l->items[i].remote, arg);
	}
	*n = l->n;
	return calls;
}

/* what a distributed search sends to every shard */
typedef struct SearchStmt
{
	const char *column;			/* the vector column, quoted */
	const char *op;
	const char *where;			/* the filter's condition */
	int			k;
} SearchStmt;

static const char *
search_stmt(const char *key, const char *remote, void *arg)
{
	SearchStmt *s = arg;

	return psprintf("SELECT %s::text, (%s %s $1)::float8 FROM %s WHERE %s ORDER BY %s %s $1 LIMIT %d",
					quote_identifier(key), s->column, s->op, remote, s->where, s->column, s->op, s->k);
}

/* the best first: lower score, then key (text order); NULLs last */
static int
shard_row_cmp(const void *a, const void *b)
{
	const ShardRow *x = a;
	const ShardRow *y = b;

	if (x->scorenull != y->scorenull)
		return x->scorenull ? 1 : -1;
	if (!x->scorenull && x->score != y->score)
		return x->score < y->score ? -1 : 1;
	if ((x->key == NULL) != (y->key == NULL))
		return x->key == NULL ? 1 : -1;
	if (x->key == NULL)
		return 0;
	return varstr_cmp(x->key, strlen(x->key), y->key, strlen(y->key), DEFAULT_COLLATION_OID);
}

/* the SQL condition of a distributed search's filter (gigavector.shard_filter) */
static char *
search_filter(Datum filter)
{
	Oid			argtypes[1] = {JSONBOID};
	MemoryContext callcxt = CurrentMemoryContext;
	char	   *cond;

	SPI_connect();
	if (SPI_execute_with_args("SELECT gigavector.shard_filter($1)", 1, argtypes, &filter, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not make the shard filter");
	cond = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	cond = MemoryContextStrdup(callcxt, cond ? cond : "true");
	SPI_finish();
	return cond;
}

PG_FUNCTION_INFO_V1(gv_distributed_search);

/*
 * distributed_search(tbl regclass, vector_column name, query gvector, k int,
 * op text, filter jsonb) -> (shard text, key text, distance float8): every
 * shard's ORDER BY column op $1 LIMIT k at once, merged (see 75_scaleout.sql).
 */
Datum
gv_distributed_search(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	static const char *const ops[] = {"<->", "<=>", "<#>", "<+>"};
	SearchStmt	s = {0};
	Oid			tbl;
	Oid			valtype = get_fn_expr_argtype(fcinfo->flinfo, 2);
	char	   *column;
	AttrNumber	attnum;
	ShardValue	value;
	ShardCall  *calls;
	ShardRows	out = {0};
	int			n,
				i;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the table and vector column of a distributed search must not be NULL")));
	tbl = PG_GETARG_OID(0);
	column = NameStr(*PG_GETARG_NAME(1));
	if (PG_ARGISNULL(3) || PG_GETARG_INT32(3) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be at least 1, not %s",
						PG_ARGISNULL(3) ? "NULL" : psprintf("%d", PG_GETARG_INT32(3)))));
	s.k = PG_GETARG_INT32(3);
	s.op = PG_ARGISNULL(4) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(4));
	for (i = 0; s.op && i < lengthof(ops); i++)
		if (strcmp(s.op, ops[i]) == 0)
			break;
	if (s.op == NULL || i == lengthof(ops))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown distance operator \"%s\"", s.op ? s.op : "NULL"),
				 errhint("Use <-> (L2), <=> (cosine), <#> (negative inner product) or <+> (L1).")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the query vector must not be NULL")));
	s.column = quote_identifier(column);
	s.where = PG_ARGISNULL(5) ? "true" : search_filter(PG_GETARG_DATUM(5));

	InitMaterializedSRF(fcinfo, 0);
	calls = shard_calls(tbl, search_stmt, &s, &n);
	attnum = get_attnum(tbl, column);
	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of table %s does not exist", column, shard_rel_name(tbl))));

	/*
	 * a gvector column gets the query in binary, another type (ghalfvec, ...)
	 * as text
	 */
	shard_value(valtype, PG_GETARG_DATUM(2), get_atttype(tbl, attnum) != valtype, &value);
	shard_run(calls, n, &value, &out);
	if (out.n > 1)
		qsort(out.rows, out.n, sizeof(ShardRow), shard_row_cmp);
	shard_rows_store(rsinfo, out.rows, Min(out.n, s.k));
	return (Datum) 0;
}

static post_parse_analyze_hook_type prev_post_parse_analyze_hook = NULL;

/* whether a table is partitioned with foreign partitions (a distributed table) */
static bool
has_foreign_partitions(Oid relid)
{
	List	   *parts;
	ListCell   *lc;

	if (get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE)
		return false;
	parts = find_inheritance_children(relid, NoLock);
	foreach(lc, parts)
	{
		if (get_rel_relkind(lfirst_oid(lc)) == RELKIND_FOREIGN_TABLE)
			return true;
	}
	return false;
}

/*
 * Refuses, with a clear error and what to do instead, the INSERT ... ON
 * CONFLICT that a distributed table cannot route: DO UPDATE, and a conflict
 * target (postgres_fdw sends only a plain ON CONFLICT DO NOTHING to a
 * foreign partition, and the partitioned table has no unique index to
 * infer a target from; without this check the planner says "there is no
 * unique or exclusion constraint matching the ON CONFLICT specification").
 */
static void
ShardPostParseAnalyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (prev_post_parse_analyze_hook)
		prev_post_parse_analyze_hook(pstate, query, jstate);
	if (query->commandType == CMD_INSERT && query->onConflict &&
		(query->onConflict->action == ONCONFLICT_UPDATE || query->onConflict->arbiterElems != NIL ||
		 OidIsValid(query->onConflict->constraint)))
	{
		Oid			relid = rt_fetch(query->resultRelation, query->rtable)->relid;

		if (!has_foreign_partitions(relid))
			return;
		if (query->onConflict->action == ONCONFLICT_UPDATE)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("INSERT ... ON CONFLICT DO UPDATE is not supported on distributed table %s",
							shard_rel_name(relid)),
					 errdetail("Its partitions are foreign tables on shard servers, to which postgres_fdw cannot send an upsert."),
					 errhint("Upsert with gigavector.distributed_upsert(table, query).")));
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("INSERT ... ON CONFLICT with a conflict target is not supported on distributed table %s",
						shard_rel_name(relid)),
				 errhint("Write ON CONFLICT DO NOTHING without a target: each shard then skips the rows that conflict with its unique constraints.")));
	}
}

/* installs the ON CONFLICT check */
void
ShardInit(void)
{
	prev_post_parse_analyze_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = ShardPostParseAnalyze;
}
