/*
 * gvrestore.c
 *	  Reading .gvb backups in the server: gigavector.restore from a server
 *	  file or, as an aggregate, from chunks a client sends;
 *	  gigavector.backup_verify and gigavector.backup_info.
 *
 * A restore is one transaction: at the header it refuses an existing table
 * of the target's name (or drops it, with replace), then
 * gigavector.restore_definition creates the table; each frame's rows are
 * inserted through SPI in batches of a prepared multi-row INSERT (so NOT
 * NULL, CHECK, defaults of the columns left out and generated columns are
 * the executor's, as for any INSERT); after the trailer the primary key,
 * unique constraints, indexes (built once, on all rows, with their
 * options), sequence positions and TTL follow.  Any damage the reader
 * finds is an error naming the frame and byte, and nothing is left behind.
 */
#include "compat.h"

#include "access/htup_details.h"
#include "backup/gvbackup.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"

#define INSERT_BATCH_ROWS	100
#define READ_BLOCK			(1024 * 1024)

typedef struct RestoreColumnData
{
	Oid			typid;
	int32		typmod;
	Oid			ioparam;
	FmgrInfo	in;				/* receive or input function */
} RestoreColumnData;

typedef struct RestoreStateData
{
	MemoryContext cxt;
	GvbReader	reader;
	char	   *target;			/* as given, or NULL */
	bool		replace;
	bool		ended;
	char	   *definition;		/* the header's JSON, NUL-terminated */
	char	   *schema;			/* resolved at the header */
	char	   *table;
	RestoreColumnData *cols;
	char	   *insertHead;		/* INSERT INTO ... VALUES */
	uint64		rows;
	MemoryContext batchCxt;
} RestoreStateData;

typedef RestoreStateData *RestoreState;

/*
 * A restore's state, in its own memory context under parent: the reader,
 * the target as given, and what the header will fill in.
 */
static RestoreState
RestoreCreate(MemoryContext parent, const char *target, bool replace)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "gigavector.restore", ALLOCSET_DEFAULT_SIZES);
	RestoreState st = MemoryContextAllocZero(cxt, sizeof(RestoreStateData));
	GvbAllocator mem = GvbContextAllocator(cxt);

	st->cxt = cxt;
	st->target = target ? MemoryContextStrdup(cxt, target) : NULL;
	st->replace = replace;
	st->batchCxt = AllocSetContextCreate(cxt, "gigavector.restore batch", ALLOCSET_DEFAULT_SIZES);
	GvbReaderInit(&st->reader, &mem, GvbDecompressContext());
	return st;
}

/* The reader found the file damaged or cut: say where, as an error. */
static void
Corrupt(RestoreState st)
{
	ereport(ERROR,
			(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
			 errmsg("invalid .gvb backup: %s", st->reader.error)));
}

/* Run one SQL statement with text arguments through SPI. */
static void
RunSql(const char *sql, int nargs, const char **args)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];

	for (int i = 0; i < nargs; i++)
		values[i] = CStringGetTextDatum(args[i]);
	if (SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0) < 0)
		elog(ERROR, "could not run \"%s\"", sql);
}

/*
 * Run the statements of one phase of gigavector.restore_definition ('table'
 * or 'post'), each prepared on its own, so that a definition crafted into
 * a file cannot smuggle in a second statement; with search_path set to
 * pg_catalog and the extension's schema, as the definition was written.
 */
static void
RunDefinition(RestoreState st, const char *phase)
{
	const char *args[4] = {st->definition, st->schema, st->table, phase};
	int			nest = NewGUCNestLevel();
	List	   *statements = NIL;
	ListCell   *lc;

	(void) set_config_option("search_path",
							 psprintf("pg_catalog, %s, pg_temp",
									  quote_identifier(get_namespace_name(GvbExtensionSchema()))),
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	RunSql("SELECT s FROM gigavector.restore_definition($1::jsonb, $2, $3, $4) s", 4, args);
	for (uint64 i = 0; i < SPI_processed; i++)
		statements = lappend(statements, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	foreach(lc, statements)
	{
		SPIPlanPtr	plan = SPI_prepare(lfirst(lc), 0, NULL);

		if (plan == NULL)
			elog(ERROR, "could not prepare \"%s\": %s", (char *) lfirst(lc),
				 SPI_result_code_string(SPI_result));
		if (SPI_execute_plan(plan, NULL, NULL, false, 0) < 0)
			elog(ERROR, "could not run \"%s\"", (char *) lfirst(lc));
		SPI_freeplan(plan);
	}
	AtEOXact_GUC(true, nest);
}

/*
 * The target table's schema and name: the target argument (schema-qualified
 * or not: then the schema CREATE TABLE would use), else the backed-up
 * table's own.
 */
static void
ResolveTarget(RestoreState st)
{
	MemoryContext old = MemoryContextSwitchTo(st->cxt);

	if (st->target != NULL)
	{
		RangeVar   *rv = makeRangeVarFromNameList(stringToQualifiedNameList(st->target));

		st->table = rv->relname;
		st->schema = rv->schemaname ? rv->schemaname :
			get_namespace_name(RangeVarGetCreationNamespace(rv));
	}
	else
	{
		const char *args[1] = {st->definition};
		bool		isnull;

		RunSql("SELECT $1::jsonb #>> '{table,schema}', $1::jsonb #>> '{table,name}'", 1, args);
		st->schema = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		st->table = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		(void) isnull;
		if (st->schema == NULL || st->table == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
					 errmsg("invalid .gvb backup: the header names no table"),
					 errhint("Give a target.")));
		st->schema = MemoryContextStrdup(st->cxt, st->schema);
		st->table = MemoryContextStrdup(st->cxt, st->table);
	}
	MemoryContextSwitchTo(old);
}

/*
 * At the header: refuse or replace an existing table, create the new one,
 * and match the backup's columns to it.
 */
static void
OnHeader(RestoreState st)
{
	GvbHeader  *h = &st->reader.header;
	Oid			nsp;
	Oid			relid;
	char	   *qualified;
	StringInfoData sql;

	st->definition = MemoryContextAlloc(st->cxt, h->jsonLen + 1);
	memcpy(st->definition, h->json, h->jsonLen);
	st->definition[h->jsonLen] = '\0';
	ResolveTarget(st);
	qualified = quote_qualified_identifier(st->schema, st->table);
	nsp = get_namespace_oid(st->schema, false);
	if (OidIsValid(get_relname_relid(st->table, nsp)))
	{
		if (!st->replace)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_TABLE),
					 errmsg("relation \"%s.%s\" already exists", st->schema, st->table),
					 errhint("Restore under another name (target), or pass replace => true to drop it and restore in its place.")));
		if (SPI_execute(psprintf("DROP TABLE %s", qualified), false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not drop %s", qualified);
	}
	RunDefinition(st, "table");

	relid = get_relname_relid(st->table, nsp);
	st->cols = MemoryContextAllocZero(st->cxt, sizeof(RestoreColumnData) * Max(h->ncolumns, 1));
	initStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s", qualified);
	for (int c = 0; c < h->ncolumns; c++)
	{
		AttrNumber	att = get_attnum(relid, h->columns[c].name);
		RestoreColumnData *col = &st->cols[c];
		Oid			func;
		Oid			collation;

		if (att <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
					 errmsg("invalid .gvb backup: column \"%s\" of its rows is not in its table definition",
							h->columns[c].name)));
		get_atttypetypmodcoll(relid, att, &col->typid, &col->typmod, &collation);
		if (h->columns[c].format == GVB_FORMAT_BINARY)
			getTypeBinaryInputInfo(col->typid, &func, &col->ioparam);
		else
			getTypeInputInfo(col->typid, &func, &col->ioparam);
		fmgr_info_cxt(func, &col->in, st->cxt);
		appendStringInfo(&sql, "%s%s", c == 0 ? " (" : ", ", quote_identifier(h->columns[c].name));
	}
	appendStringInfoString(&sql, h->ncolumns > 0 ? ") OVERRIDING SYSTEM VALUE VALUES " : " DEFAULT VALUES");
	st->insertHead = MemoryContextStrdup(st->cxt, sql.data);
}

/* A prepared INSERT of rows rows (NULL when the table has no data columns). */
static SPIPlanPtr
PrepareInsert(RestoreState st, int rows)
{
	int			ncols = st->reader.header.ncolumns;
	StringInfoData sql;
	Oid		   *types;
	SPIPlanPtr	plan;

	if (ncols == 0)
		return NULL;
	initStringInfo(&sql);
	appendStringInfoString(&sql, st->insertHead);
	types = palloc(sizeof(Oid) * rows * ncols);
	for (int r = 0; r < rows; r++)
	{
		appendStringInfoString(&sql, r == 0 ? "(" : ", (");
		for (int c = 0; c < ncols; c++)
		{
			appendStringInfo(&sql, "%s$%d", c == 0 ? "" : ", ", r * ncols + c + 1);
			types[r * ncols + c] = st->cols[c].typid;
		}
		appendStringInfoChar(&sql, ')');
	}
	plan = SPI_prepare(sql.data, rows * ncols, types);
	if (plan == NULL)
		elog(ERROR, "could not prepare the restore's INSERT: %s", SPI_result_code_string(SPI_result));
	return plan;
}

/* The Datum of one value of column c, in the current memory context. */
static Datum
ValueDatum(RestoreState st, int c, const uint8 *value, int32 len)
{
	RestoreColumnData *col = &st->cols[c];
	GvbColumn  *gc = &st->reader.header.columns[c];
	char	   *copy = palloc(len + 1);

	memcpy(copy, value, len);
	copy[len] = '\0';
	if (gc->format == GVB_FORMAT_BINARY)
	{
		StringInfoData buf;
		Datum		d;

		buf.data = copy;
		buf.len = len;
		buf.maxlen = len + 1;
		buf.cursor = 0;
		d = ReceiveFunctionCall(&col->in, &buf, col->ioparam, col->typmod);
		if (buf.cursor != buf.len)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("incorrect binary data format in column \"%s\"", gc->name)));
		return d;
	}
	if (strlen(copy) != (size_t) len)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("invalid .gvb backup: a text value of column \"%s\" holds a NUL byte", gc->name)));
	return InputFunctionCall(&col->in, pg_any_to_server(copy, len, PG_UTF8), col->ioparam, col->typmod);
}

/* Execute a prepared INSERT with one batch of values (nothing without data columns). */
static void
RunInsert(SPIPlanPtr plan, Datum *values, char *nulls)
{
	if (plan == NULL)
		return;
	if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "the restore's INSERT failed");
}

/* Insert the rows of the frame just decoded, INSERT_BATCH_ROWS at a time. */
static void
OnFrame(RestoreState st)
{
	int			ncols = st->reader.header.ncolumns;
	int			batch = Min(INSERT_BATCH_ROWS, (int) st->reader.frame.rows);
	SPIPlanPtr	full;
	Datum	   *values = palloc(sizeof(Datum) * batch * Max(ncols, 1));
	char	   *nulls = palloc(batch * Max(ncols, 1));
	const uint8 **ptrs = palloc(sizeof(uint8 *) * Max(ncols, 1));
	int32	   *lens = palloc(sizeof(int32) * Max(ncols, 1));
	int			n = 0;
	MemoryContext old;

	full = PrepareInsert(st, batch);
	old = MemoryContextSwitchTo(st->batchCxt);
	while (GvbReaderNextRow(&st->reader, ptrs, lens))
	{
		CHECK_FOR_INTERRUPTS();
		if (ncols == 0)
		{
			if (SPI_execute(st->insertHead, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "the restore's INSERT failed");
			MemoryContextSwitchTo(st->batchCxt);
		}
		for (int c = 0; c < ncols; c++)
		{
			nulls[n * ncols + c] = lens[c] == GVB_NULL_LENGTH ? 'n' : ' ';
			values[n * ncols + c] = lens[c] == GVB_NULL_LENGTH ? (Datum) 0 :
				ValueDatum(st, c, ptrs[c], lens[c]);
		}
		st->rows++;
		if (++n == batch)
		{
			RunInsert(full, values, nulls);
			/* SPI returned to its procedure context: back to the batch's */
			MemoryContextSwitchTo(st->batchCxt);
			n = 0;
			MemoryContextReset(st->batchCxt);
		}
	}
	MemoryContextSwitchTo(old);
	if (n > 0)
	{
		SPIPlanPtr	rest = PrepareInsert(st, n);

		RunInsert(rest, values, nulls);
		if (rest)
			SPI_freeplan(rest);
	}
	if (full)
		SPI_freeplan(full);
	MemoryContextSwitchTo(old);
	MemoryContextReset(st->batchCxt);
}

/* Error context: where in the backup a restore was. */
static void
RestoreErrorContext(void *arg)
{
	RestoreState st = (RestoreState) arg;

	if (st->reader.frames > 0)
		errcontext("restoring frame %u of a .gvb backup", st->reader.frames);
}

/* Feed len bytes of the backup, acting on what they complete. */
static void
RestoreFeed(RestoreState st, const uint8 *data, size_t len)
{
	ErrorContextCallback cb;

	cb.callback = RestoreErrorContext;
	cb.arg = st;
	cb.previous = error_context_stack;
	error_context_stack = &cb;
	while (len > 0)
	{
		size_t		used;
		GvbEvent	ev = GvbReaderFeed(&st->reader, data, len, &used);

		data += used;
		len -= used;
		if (ev == GVB_FAILED)
			Corrupt(st);
		else if (ev == GVB_HEADER)
			OnHeader(st);
		else if (ev == GVB_FRAME)
			OnFrame(st);
		else if (ev == GVB_END)
			st->ended = true;
	}
	error_context_stack = cb.previous;
}

/* After the last byte: the post-data definition; the rows restored. */
static int64
RestoreFinish(RestoreState st)
{
	if (GvbReaderFinish(&st->reader) != GVB_END)
		Corrupt(st);
	RunDefinition(st, "post");
	GvbReaderFree(&st->reader);
	return (int64) st->rows;
}

/* Feed a server file to reader-driven code, block by block. */
typedef void (*FileSink) (void *arg, const uint8 *data, size_t len);

static void
ReadServerFile(const char *path, FileSink sink, void *arg)
{
	FILE	   *f = AllocateFile(path, PG_BINARY_R);
	uint8	   *block;
	size_t		n;

	if (f == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\" for reading: %m", path)));
	block = palloc(READ_BLOCK);
	while ((n = fread(block, 1, READ_BLOCK, f)) > 0)
	{
		CHECK_FOR_INTERRUPTS();
		sink(arg, block, n);
	}
	if (ferror(f))
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read file \"%s\": %m", path)));
	FreeFile(f);
	pfree(block);
}

/* One block of a server file, in an SPI connection of its own. */
static void
RestoreSink(void *arg, const uint8 *data, size_t len)
{
	SPI_connect();
	RestoreFeed((RestoreState) arg, data, len);
	SPI_finish();
}

/*
 * gigavector.restore(path text, target text, replace boolean) RETURNS bigint
 */
PG_FUNCTION_INFO_V1(gv_restore_file);
Datum
gv_restore_file(PG_FUNCTION_ARGS)
{
	char	   *path;
	RestoreState st;
	int64		rows;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("path must not be NULL")));
	path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	GvbCheckServerFile(path, false);
	st = RestoreCreate(CurrentMemoryContext, PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)),
					   !PG_ARGISNULL(2) && PG_GETARG_BOOL(2));
	ReadServerFile(path, RestoreSink, st);
	SPI_connect();
	rows = RestoreFinish(st);
	SPI_finish();
	MemoryContextDelete(st->cxt);
	PG_RETURN_INT64(rows);
}

/*
 * The aggregate's transition: restore_accum(state, chunk[, target[,
 * replace]]); target and replace are taken from the first row.
 */
PG_FUNCTION_INFO_V1(gv_restore_accum);
Datum
gv_restore_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	RestoreState st = PG_ARGISNULL(0) ? NULL : (RestoreState) PG_GETARG_POINTER(0);
	bytea	   *chunk;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("gigavector.restore_accum can only be called by the aggregate gigavector.restore")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a chunk of the backup is NULL")));
	if (st == NULL)
		st = RestoreCreate(aggcxt,
						   PG_NARGS() > 2 && !PG_ARGISNULL(2) ? text_to_cstring(PG_GETARG_TEXT_PP(2)) : NULL,
						   PG_NARGS() > 3 && !PG_ARGISNULL(3) && PG_GETARG_BOOL(3));
	chunk = PG_GETARG_BYTEA_PP(1);
	SPI_connect();
	RestoreFeed(st, (const uint8 *) VARDATA_ANY(chunk), VARSIZE_ANY_EXHDR(chunk));
	SPI_finish();
	PG_RETURN_POINTER(st);
}

/* The aggregate's final function: the post-data definition, the rows restored. */
PG_FUNCTION_INFO_V1(gv_restore_final);
Datum
gv_restore_final(PG_FUNCTION_ARGS)
{
	RestoreState st = PG_ARGISNULL(0) ? NULL : (RestoreState) PG_GETARG_POINTER(0);
	int64		rows;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("gigavector.restore_final can only be called by the aggregate gigavector.restore")));
	if (st == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("invalid .gvb backup: empty file (the aggregate got no chunks)")));
	SPI_connect();
	rows = RestoreFinish(st);
	SPI_finish();
	PG_RETURN_INT64(rows);
}

/* ------------------------------------------------------------------------
 * backup_verify, backup_info
 * ------------------------------------------------------------------------
 */

/* Feed a block to a reader that only checks; stop at the first problem. */
static void
VerifySink(void *arg, const uint8 *data, size_t len)
{
	GvbReader  *r = (GvbReader *) arg;

	while (len > 0)
	{
		size_t		used;
		GvbEvent	ev = GvbReaderFeed(r, data, len, &used);

		data += used;
		len -= used;
		if (ev == GVB_FAILED)
			return;
	}
}

/*
 * gigavector.backup_verify(path) -> (valid, frames, rows, problem): every
 * checksum, count and column layout of a server file, without restoring.
 */
PG_FUNCTION_INFO_V1(gv_backup_verify);
Datum
gv_backup_verify(PG_FUNCTION_ARGS)
{
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "gigavector.backup_verify",
											  ALLOCSET_DEFAULT_SIZES);
	GvbAllocator mem = GvbContextAllocator(cxt);
	GvbReader	r;
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	bool		valid;

	GvbCheckServerFile(path, false);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	GvbReaderInit(&r, &mem, GvbDecompressContext());
	ReadServerFile(path, VerifySink, &r);
	valid = GvbReaderFinish(&r) == GVB_END;
	values[0] = BoolGetDatum(valid);
	values[1] = Int64GetDatum(r.frames);
	values[2] = Int64GetDatum(r.rows);
	if (valid)
		nulls[3] = true;
	else
		values[3] = CStringGetTextDatum(r.error);
	MemoryContextDelete(cxt);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/* Append "key": "value" (JSON-escaped) to buf. */
static void
JsonString(StringInfo buf, const char *key, const char *value, int len)
{
	char	   *copy = pnstrdup(value, len);

	appendStringInfo(buf, "\"%s\": ", key);
	escape_json(buf, copy);
	appendStringInfoString(buf, ", ");
}

/*
 * gigavector.backup_info(path) -> jsonb: the header of a server file and,
 * read from its last 44 bytes, the trailer (null when those bytes are not
 * a trailer whose checksum holds).
 */
PG_FUNCTION_INFO_V1(gv_backup_info);
Datum
gv_backup_info(PG_FUNCTION_ARGS)
{
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	GvbAllocator mem = GvbContextAllocator(CurrentMemoryContext);
	GvbReader	r;
	FILE	   *f;
	uint8		block[65536];
	size_t		n;
	GvbEvent	ev = GVB_MORE;
	GvbHeader  *h = &r.header;
	StringInfoData buf;
	uint8		tail[GVB_TRAILER_SIZE];
	long		size;

	GvbCheckServerFile(path, false);
	f = AllocateFile(path, PG_BINARY_R);
	if (f == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\" for reading: %m", path)));
	GvbReaderInit(&r, &mem, GvbDecompressContext());
	while (ev == GVB_MORE && (n = fread(block, 1, sizeof(block), f)) > 0)
	{
		size_t		at = 0;

		while (at < n && ev == GVB_MORE)
		{
			size_t		used;

			ev = GvbReaderFeed(&r, block + at, n - at, &used);
			at += used;
		}
	}
	if (ev == GVB_MORE)
		ev = GvbReaderFinish(&r);
	if (ev != GVB_HEADER)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("invalid .gvb backup: %s", r.error)));
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"format_version\": %u, ", h->version);
	JsonString(&buf, "gigavector_version", h->gvVersion, h->gvVersionLen);
	appendStringInfo(&buf, "\"rows\": %llu, \"dimension\": %u, \"compression\": \"%s\", \"level\": %d, \"columns\": [",
					 (unsigned long long) h->rows, h->dimension,
					 h->compression == GVB_COMPRESSION_ZSTD ? "zstd" : "none", h->level);
	for (int c = 0; c < h->ncolumns; c++)
	{
		appendStringInfoString(&buf, c ? ", {" : "{");
		JsonString(&buf, "name", h->columns[c].name, h->columns[c].namelen);
		appendStringInfo(&buf, "\"format\": \"%s\", \"shuffle\": %s}",
						 h->columns[c].format == GVB_FORMAT_BINARY ? "binary" : "text",
						 h->columns[c].filter == GVB_FILTER_SHUFFLE4 ? "true" : "false");
	}
	appendStringInfoString(&buf, "], \"definition\": ");
	appendBinaryStringInfo(&buf, h->json, h->jsonLen);
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= GVB_TRAILER_SIZE &&
		fseek(f, size - GVB_TRAILER_SIZE, SEEK_SET) == 0 &&
		fread(tail, 1, GVB_TRAILER_SIZE, f) == GVB_TRAILER_SIZE &&
		memcmp(tail, GVB_TRAILER_TAG, 4) == 0 && GvbGet32(tail + 36) == GvbCrc(tail, 36))
		appendStringInfo(&buf, ", \"frames\": %u, \"raw_bytes\": %llu, \"file_bytes\": %llu}",
						 GvbGet32(tail + 4), (unsigned long long) GvbGet64(tail + 16),
						 (unsigned long long) GvbGet64(tail + 24));
	else
		appendStringInfoString(&buf, ", \"frames\": null, \"raw_bytes\": null, \"file_bytes\": null}");
	FreeFile(f);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
