/*
 * gvbackup.c
 *	  gigavector.backup(tbl, path, compression, level, columns): a .gvb
 *	  backup of one table, streamed to the client as bytea chunks (the
 *	  header, each frame, the trailer) or written to a server file.
 *
 * The rows are read through SPI (so SELECT privilege and row-level
 * security apply, and TTL tables leave out expired rows) under one
 * snapshot: the row count in the header and the cursor that reads the rows
 * both use the query's active snapshot.  Values are written with their
 * type's send function when its binary form is the same on every server
 * (built-in fixed formats, and gvector), else as text in UTF-8 (see
 * README).  A frame collects about GVB_FRAME_TARGET raw bytes, column by
 * column; zstd compresses it, with the vector columns' bytes shuffled when
 * that compresses better (tried on the first frame and every 16th), and a
 * frame that does not shrink is stored raw.
 */
#include "compat.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "backup/gvbackup.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#define PROBE_EVERY 16			/* frames between tries of both encodings */

typedef struct BackupColumnData
{
	AttrNumber	attnum;
	Oid			typid;
	FmgrInfo	out;			/* send or output function */
} BackupColumnData;

typedef struct BackupStateData
{
	GvbHeader	header;
	GvbWriter	writer;
	BackupColumnData *cols;
	char	   *portal;			/* the cursor over the rows */
	int			step;			/* 0 header, 1 frames, 2 trailer, 3 done */
	int			encoding;		/* the zstd encoding that won the last probe */
	bool		shuffles;		/* some column has the shuffle filter */
	double		rowBytes;		/* raw bytes per row so far */
	MemoryContext frameCxt;
} BackupStateData;

typedef BackupStateData *BackupState;

/* The core's allocations come from a memory context, huge ones too; NULL on failure. */
static void *
ContextAlloc(size_t size, void *arg)
{
	return MemoryContextAllocExtended((MemoryContext) arg, size,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

/* ... and go back to it. */
static void
ContextFree(void *ptr, void *arg pg_attribute_unused())
{
	pfree(ptr);
}

/* The format core's allocator, over a memory context. */
GvbAllocator
GvbContextAllocator(MemoryContext cxt)
{
	GvbAllocator a = {ContextAlloc, ContextFree, cxt};

	return a;
}

/*
 * One zstd compression and one decompression context per backend, made on
 * first use and kept: an error in the middle of a backup leaks nothing.
 */
void *
GvbCompressContext(void)
{
	static ZSTD_CCtx *cctx = NULL;

	if (cctx == NULL && (cctx = ZSTD_createCCtx()) == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory for zstd")));
	return cctx;
}

void *
GvbDecompressContext(void)
{
	static ZSTD_DCtx *dctx = NULL;

	if (dctx == NULL && (dctx = ZSTD_createDCtx()) == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory for zstd")));
	return dctx;
}

/* The schema of extension gigavector (PostgreSQL 15 exports no lookup). */
Oid
GvbExtensionSchema(void)
{
	Oid			ext = get_extension_oid("gigavector", false);
	Relation	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			nsp = InvalidOid;

	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		nsp = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return nsp;
}

/* The OID of type gvector, in whatever schema the extension lives. */
Oid
GvbGvectorTypeOid(void)
{
	return GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("gvector"),
						   ObjectIdGetDatum(GvbExtensionSchema()));
}

/*
 * A server file may be named only by superusers and members of
 * pg_write_server_files (write) or pg_read_server_files (read), as COPY
 * does; the path must be absolute.
 */
void
GvbCheckServerFile(const char *path, bool write)
{
	Oid			role = write ? ROLE_PG_WRITE_SERVER_FILES : ROLE_PG_READ_SERVER_FILES;
	struct stat sb;

	if (!has_privs_of_role(GetUserId(), role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be superuser or a member of %s to %s a backup %s a server file",
						write ? "pg_write_server_files" : "pg_read_server_files",
						write ? "write" : "read", write ? "to" : "from"),
				 errhint(write ? "Call gigavector.backup with path NULL to receive the backup as a stream of bytea chunks."
						 : "Send the file's bytes to the aggregate gigavector.restore(chunk, target, replace) instead.")));
	if (!is_absolute_path(path))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("relative path not allowed for a backup file: \"%s\"", path)));
	/* reading a directory would look like reading an empty file */
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is a directory, not a backup file", path),
				 errhint("Name a .gvb file (inside the directory, for example).")));
}

/*
 * Whether values of typid may travel in binary: types whose send format
 * holds no OID and no text in the session's client encoding (so it reads
 * the same on any server), and gvector.
 */
static bool
PortableBinaryType(Oid typid, Oid gvector)
{
	switch (typid)
	{
		case BOOLOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
		case OIDOID:
		case DATEOID:
		case TIMEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case INTERVALOID:
		case UUIDOID:
		case BYTEAOID:
		case BOOLARRAYOID:
		case INT2ARRAYOID:
		case INT4ARRAYOID:
		case INT8ARRAYOID:
		case FLOAT4ARRAYOID:
		case FLOAT8ARRAYOID:
			return true;
		default:
			return typid == gvector;
	}
}

/* The names in a name[] argument (NULL: none given). */
static List *
NameList(ArrayType *arr)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	List	   *names = NIL;

	deconstruct_array(arr, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("columns must not hold NULL")));
		names = lappend(names, NameStr(*DatumGetName(elems[i])));
	}
	return names;
}

/* Is name in the list of C strings wanted? */
static bool
NameWanted(List *wanted, const char *name)
{
	ListCell   *lc;

	foreach(lc, wanted)
	{
		if (strcmp(lfirst(lc), name) == 0)
			return true;
	}
	return false;
}

/*
 * The columns whose values go into the backup: every column that is not
 * dropped or generated (generated ones are recomputed by the restore), or
 * those named.  Fills the header's column list and st->cols; returns the
 * SELECT list.
 */
static char *
ChooseColumns(BackupState st, Relation rel, List *wanted)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			gvector = GvbGvectorTypeOid();
	StringInfoData list;
	int			n = 0;
	ListCell   *lc;

	foreach(lc, wanted)
	{
		AttrNumber	att = get_attnum(RelationGetRelid(rel), lfirst(lc));

		if (att <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"%s\" does not exist",
							(char *) lfirst(lc), RelationGetRelationName(rel))));
		if (TupleDescAttr(desc, att - 1)->attgenerated)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("column \"%s\" is generated: a restore computes it", (char *) lfirst(lc))));
	}
	st->header.columns = palloc0(sizeof(GvbColumn) * Max(desc->natts, 1));
	st->cols = palloc0(sizeof(BackupColumnData) * Max(desc->natts, 1));
	initStringInfo(&list);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		GvbColumn  *col = &st->header.columns[n];
		Oid			func;
		bool		varlena;

		if (att->attisdropped || att->attgenerated)
			continue;
		if (wanted != NIL && !NameWanted(wanted, NameStr(att->attname)))
			continue;
		col->namelen = strlen(NameStr(att->attname));
		memcpy(col->name, NameStr(att->attname), col->namelen + 1);
		col->format = PortableBinaryType(att->atttypid, gvector) ? GVB_FORMAT_BINARY : GVB_FORMAT_TEXT;
		col->filter = att->atttypid == gvector && st->header.compression == GVB_COMPRESSION_ZSTD ?
			GVB_FILTER_SHUFFLE4 : GVB_FILTER_NONE;
		st->shuffles |= col->filter != GVB_FILTER_NONE;
		if (att->atttypid == gvector && st->header.dimension == 0 && att->atttypmod > 0)
			st->header.dimension = att->atttypmod;
		st->cols[n].attnum = att->attnum;
		st->cols[n].typid = att->atttypid;
		if (col->format == GVB_FORMAT_BINARY)
			getTypeBinaryOutputInfo(att->atttypid, &func, &varlena);
		else
			getTypeOutputInfo(att->atttypid, &func, &varlena);
		fmgr_info(func, &st->cols[n].out);
		appendStringInfo(&list, "%s%s", n > 0 ? ", " : "", quote_identifier(NameStr(att->attname)));
		n++;
	}
	st->header.ncolumns = n;
	return list.data;
}

/* The compression and level arguments, checked. */
static void
SetCompression(GvbHeader *h, const char *compression, int level)
{
	if (pg_strcasecmp(compression, "zstd") == 0)
	{
		if (level < 1 || level > ZSTD_maxCLevel())
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("zstd level must be from 1 to %d, not %d", ZSTD_maxCLevel(), level)));
		h->compression = GVB_COMPRESSION_ZSTD;
		h->level = (int8) level;
	}
	else if (pg_strcasecmp(compression, "none") == 0)
		h->compression = GVB_COMPRESSION_NONE;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown compression \"%s\"", compression),
				 errhint("Valid values are \"zstd\" and \"none\".")));
}

/*
 * Everything before the first chunk: the arguments, the table, its
 * definition (gigavector.backup_definition), the row count and the cursor.
 * Runs inside an SPI connection; what it returns lives in the caller's
 * memory context cxt.
 */
static BackupState
BackupBegin(Oid relid, const char *compression, int level, ArrayType *columns,
			MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	BackupState st = palloc0(sizeof(BackupStateData));
	Relation	rel = try_relation_open(relid, AccessShareLock);
	AclResult	acl;
	char	   *qualified;
	char	   *select;
	Datum		arg = ObjectIdGetDatum(relid);
	Oid			argtype = REGCLASSOID;
	bool		isnull;
	SPIPlanPtr	plan;
	Portal		portal;

	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (rel->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", RelationGetRelationName(rel)),
				 rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ?
				 errhint("Back up each of its partitions.") : 0));
	acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, RelationGetRelationName(rel));
	SetCompression(&st->header, compression, level);
	st->encoding = GVB_ENCODING_ZSTD;
	select = ChooseColumns(st, rel, columns ? NameList(columns) : NIL);
	qualified = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										   RelationGetRelationName(rel));
	relation_close(rel, NoLock);

	if (SPI_execute_with_args("SELECT gigavector.backup_definition($1)::text", 1, &argtype,
							  &arg, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "gigavector.backup_definition returned no row");
	/* every SPI call returns to SPI's procedure context: back to ours */
	MemoryContextSwitchTo(cxt);
	st->header.json = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0],
														SPI_tuptable->tupdesc, 1, &isnull));
	st->header.jsonLen = strlen(st->header.json);
	if (st->header.jsonLen > GVB_MAX_HEADER_BODY / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the definition of table %s is too large for a backup", qualified)));
	st->header.gvVersion = GV_EXTVERSION;
	st->header.gvVersionLen = strlen(GV_EXTVERSION);
	st->header.frameTarget = GVB_FRAME_TARGET;

	/* read_only: both queries see the calling query's snapshot */
	if (SPI_execute(psprintf("SELECT count(*) FROM ONLY %s", qualified), true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not count the rows of %s", qualified);
	st->header.rows = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
												  1, &isnull));
	MemoryContextSwitchTo(cxt);
	plan = SPI_prepare(psprintf("SELECT %s FROM ONLY %s", st->header.ncolumns > 0 ? select : "",
								qualified), 0, NULL);
	if (plan == NULL)
		elog(ERROR, "could not prepare the scan of %s: %s", qualified, SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	MemoryContextSwitchTo(cxt);
	st->portal = pstrdup(portal->name);
	st->frameCxt = AllocSetContextCreate(cxt, "gigavector.backup frame", ALLOCSET_DEFAULT_SIZES);
	GvbWriterInit(&st->writer);
	MemoryContextSwitchTo(old);
	return st;
}

/* Append a little-endian int32. */
static void
AppendInt32(StringInfo buf, int32 v)
{
	uint8		b[4];

	GvbPut32(b, (uint32) v);
	appendBinaryStringInfo(buf, (char *) b, 4);
}

/* Add the value of column c of one fetched row to its column's buffers. */
static void
AddValue(BackupState st, int c, HeapTuple tuple, TupleDesc desc,
		 StringInfo lengths, StringInfo data)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, c + 1, &isnull);

	if (isnull)
		AppendInt32(lengths, GVB_NULL_LENGTH);
	else if (st->header.columns[c].format == GVB_FORMAT_BINARY)
	{
		bytea	   *b = SendFunctionCall(&st->cols[c].out, d);

		AppendInt32(lengths, VARSIZE(b) - VARHDRSZ);
		appendBinaryStringInfo(data, VARDATA(b), VARSIZE(b) - VARHDRSZ);
	}
	else
	{
		char	   *s = OutputFunctionCall(&st->cols[c].out, d);
		int			len = strlen(s);
		char	   *u = pg_server_to_any(s, len, PG_UTF8);

		if (u != s)
			len = strlen(u);
		AppendInt32(lengths, len);
		appendBinaryStringInfo(data, u, len);
	}
}

/*
 * The next frame's raw payload, from the rows the cursor gives until about
 * GVB_FRAME_TARGET bytes: each column's lengths, then its values.  NULL
 * once the cursor is exhausted.
 */
static char *
CollectFrame(BackupState st, uint32 *rows, uint32 *rawLen)
{
	Portal		portal = SPI_cursor_find(st->portal);
	int			ncols = st->header.ncolumns;
	StringInfoData *lengths = palloc(sizeof(StringInfoData) * Max(ncols, 1));
	StringInfoData *data = palloc(sizeof(StringInfoData) * Max(ncols, 1));
	uint64		raw = 0;
	uint32		n = 0;
	StringInfoData out;

	if (portal == NULL)
		elog(ERROR, "the backup's cursor \"%s\" is gone", st->portal);
	for (int c = 0; c < ncols; c++)
	{
		initStringInfo(&lengths[c]);
		initStringInfo(&data[c]);
	}
	while (raw < GVB_FRAME_TARGET)
	{
		/* as many rows as should fill the frame, judging by those so far */
		long		want = (st->rowBytes > 0 ?
							(long) Min(Max((GVB_FRAME_TARGET - raw) / st->rowBytes, 1), 1000) : 1);

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, want);
		MemoryContextSwitchTo(st->frameCxt);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			for (int c = 0; c < ncols; c++)
				AddValue(st, c, SPI_tuptable->vals[i], SPI_tuptable->tupdesc, &lengths[c], &data[c]);
			n++;
		}
		SPI_freetuptable(SPI_tuptable);
		MemoryContextSwitchTo(st->frameCxt);
		raw = 0;
		for (int c = 0; c < ncols; c++)
			raw += lengths[c].len + data[c].len;
		st->rowBytes = (double) Max(raw, 1) / n;
		if (raw > GVB_MAX_FRAME_BYTES)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("rows too large for a .gvb frame (%llu bytes, at most %d)",
							(unsigned long long) raw, GVB_MAX_FRAME_BYTES)));
	}
	if (n == 0)
		return NULL;
	initStringInfo(&out);
	enlargeStringInfo(&out, (int) raw);
	for (int c = 0; c < ncols; c++)
	{
		appendBinaryStringInfo(&out, lengths[c].data, lengths[c].len);
		appendBinaryStringInfo(&out, data[c].data, data[c].len);
	}
	*rows = n;
	*rawLen = (uint32) raw;
	return out.data;
}

/*
 * Encode a frame, choosing its encoding: raw without compression; with
 * zstd, the smaller of plain and shuffled on probe frames, the last
 * winner otherwise.  Returns a bytea in memory context cxt.
 */
static bytea *
EncodeFrame(BackupState st, const char *raw, uint32 rows, uint32 rawLen, MemoryContext cxt)
{
	size_t		bound = GvbFrameBound(rawLen);
	bytea	   *best = MemoryContextAllocHuge(cxt, VARHDRSZ + bound);
	uint8	   *scratch = palloc_extended(Max(rawLen, 1), MCXT_ALLOC_HUGE);
	char		error[GVB_ERROR_LEN];
	size_t		n;
	int			encoding = (st->header.compression == GVB_COMPRESSION_NONE ?
							GVB_ENCODING_RAW : st->encoding);

	n = GvbFrameEncode(&st->writer, &st->header, rows, (const uint8 *) raw, rawLen, encoding,
					   st->header.level, GvbCompressContext(), scratch, (uint8 *) VARDATA(best), error);
	if (n > 0 && encoding != GVB_ENCODING_RAW && st->shuffles &&
		st->writer.frames % PROBE_EVERY == 0)
	{
		int			other = encoding == GVB_ENCODING_ZSTD ? GVB_ENCODING_ZSTD_SHUFFLE : GVB_ENCODING_ZSTD;
		bytea	   *alt = palloc_extended(VARHDRSZ + bound, MCXT_ALLOC_HUGE);
		size_t		m = GvbFrameEncode(&st->writer, &st->header, rows, (const uint8 *) raw, rawLen,
									   other, st->header.level, GvbCompressContext(), scratch,
									   (uint8 *) VARDATA(alt), error);

		if (m > 0 && m < n)
		{
			memcpy(VARDATA(best), VARDATA(alt), m);
			n = m;
			st->encoding = other;
		}
	}
	if (n == 0)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not encode a backup frame: %s", error)));
	SET_VARSIZE(best, VARHDRSZ + n);
	GvbWriterAddFrame(&st->writer, (uint8 *) VARDATA(best), n, rows, rawLen);
	return best;
}

/*
 * The next chunk of the file, in memory context cxt: the header, then one
 * frame per call, then the trailer; NULL when the file is complete.
 * Inside an SPI connection (whose procedure context every SPI call
 * returns to, so the code switches back to its own after each).
 */
static bytea *
BackupNextChunk(BackupState st, MemoryContext cxt)
{
	bytea	   *chunk = NULL;
	MemoryContext old = MemoryContextSwitchTo(st->frameCxt);

	if (st->step == 0)
	{
		size_t		size = GvbHeaderSize(&st->header);

		chunk = MemoryContextAlloc(cxt, VARHDRSZ + size);
		SET_VARSIZE(chunk, VARHDRSZ + size);
		GvbHeaderEncode(&st->writer, &st->header, (uint8 *) VARDATA(chunk));
		st->step = 1;
	}
	else if (st->step == 1)
	{
		uint32		rows;
		uint32		rawLen;
		char	   *raw = CollectFrame(st, &rows, &rawLen);

		if (raw != NULL)
			chunk = EncodeFrame(st, raw, rows, rawLen, cxt);
		else
		{
			if (st->writer.rows != st->header.rows)
				elog(ERROR, "the backup read %llu rows, counted %llu",
					 (unsigned long long) st->writer.rows, (unsigned long long) st->header.rows);
			st->step = 2;
		}
	}
	if (st->step == 2 && chunk == NULL)
	{
		chunk = MemoryContextAlloc(cxt, VARHDRSZ + GVB_TRAILER_SIZE);
		SET_VARSIZE(chunk, VARHDRSZ + GVB_TRAILER_SIZE);
		GvbTrailerEncode(&st->writer, (uint8 *) VARDATA(chunk));
		st->step = 3;
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(st->frameCxt);
	return chunk;
}

/* Write len bytes to the open file fd, whose name is path. */
static void
WriteAll(int fd, const char *path, const char *data, size_t len)
{
	while (len > 0)
	{
		ssize_t		n = write(fd, data, len);

		if (n <= 0)
		{
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0)
				errno = ENOSPC;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write to file \"%s\": %m", path)));
		}
		data += n;
		len -= n;
	}
}

/*
 * The whole backup into path, each chunk in an SPI connection of its own:
 * written to path.tmp (which must not exist:
 * another backup to this path may be running), synced, then linked into
 * place only if path still does not exist; the temporary file is removed
 * on any error.
 */
static void
BackupToFile(BackupState st, const char *path)
{
	char	   *tmp = psprintf("%s.tmp", path);
	struct stat sb;
	int			fd;

	if (stat(path, &sb) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_FILE),
				 errmsg("file \"%s\" already exists", path),
				 errhint("Remove it first, or write the backup to another path.")));
	fd = OpenTransientFile(tmp, O_WRONLY | O_CREAT | O_EXCL | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", tmp)));
	PG_TRY();
	{
		bytea	   *chunk;

		for (;;)
		{
			MemoryContext cxt = CurrentMemoryContext;

			SPI_connect();
			chunk = BackupNextChunk(st, cxt);
			SPI_finish();
			if (chunk == NULL)
				break;
			WriteAll(fd, tmp, VARDATA(chunk), VARSIZE(chunk) - VARHDRSZ);
			pfree(chunk);
		}
		if (pg_fsync(fd) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not fsync file \"%s\": %m", tmp)));
		if (CloseTransientFile(fd) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not close file \"%s\": %m", tmp)));
		fd = -1;
		durable_rename_excl(tmp, path, ERROR);
	}
	PG_CATCH();
	{
		if (fd >= 0)
			CloseTransientFile(fd);
		unlink(tmp);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * gigavector.backup(tbl regclass, path text, compression text, level int,
 * columns name[]) RETURNS SETOF bytea
 */
PG_FUNCTION_INFO_V1(gv_backup);
Datum
gv_backup(PG_FUNCTION_ARGS)
{
	FuncCallContext *fc;
	BackupState st;
	MemoryContext out = CurrentMemoryContext;
	bytea	   *chunk;

	if (SRF_IS_FIRSTCALL())
	{
		const char *path;

		fc = SRF_FIRSTCALL_INIT();
		for (int i = 0; i < 4; i++)
			if (i != 1 && PG_ARGISNULL(i))
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("%s must not be NULL", i == 0 ? "tbl" : i == 2 ? "compression" : "level")));
		path = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
		if (path)
			GvbCheckServerFile(path, true);
		SPI_connect();
		st = BackupBegin(PG_GETARG_OID(0), text_to_cstring(PG_GETARG_TEXT_PP(2)), PG_GETARG_INT32(3),
						 PG_ARGISNULL(4) ? NULL : PG_GETARG_ARRAYTYPE_P(4), fc->multi_call_memory_ctx);
		SPI_finish();
		if (path)
		{
			BackupToFile(st, path);
			SRF_RETURN_DONE(fc);
		}
		fc->user_fctx = st;
	}
	fc = SRF_PERCALL_SETUP();
	st = fc->user_fctx;
	SPI_connect();
	chunk = BackupNextChunk(st, out);
	SPI_finish();
	if (chunk == NULL)
		SRF_RETURN_DONE(fc);
	SRF_RETURN_NEXT(fc, PointerGetDatum(chunk));
}
