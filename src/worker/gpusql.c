/*
 * gpusql.c
 *	  The SQL face of the GPU search service: gigavector.gpu_search and its
 *	  batch form, the load that fills a collection, gpu_status, the device
 *	  functions.
 *
 *	  With shared_preload_libraries = 'gigavector' every request goes to
 *	  the GPU worker (gpu.c) through a DSM segment.  Without it -- or while
 *	  the worker is not up -- the backend answers the same request itself
 *	  with the CPU backend, over a store of its own that lives as long as
 *	  the session: the same code, the same results, only not shared.
 *
 *	  Freshness.  gpu_load (sql/install/80_gpu.sql) records the collection
 *	  in gigavector.gpu_collections and puts a statement trigger on the
 *	  table that sets the collection's version to a new value of a sequence
 *	  on every INSERT, UPDATE, DELETE and TRUNCATE.  A search reads the
 *	  version its snapshot sees and asks for that version; a resident copy
 *	  of another version (or none, after a worker restart) makes the search
 *	  scan the table again -- the version and the rows read by one
 *	  statement, so under one snapshot -- and load it before answering.  So
 *	  a search never answers from data older than its snapshot; the price
 *	  of a change is one full reload, paid by the next search.  Versions
 *	  come from a sequence, never reused, so a copy loaded from a
 *	  transaction that later rolled back can never pass for a committed
 *	  version.
 */
#include "compat.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "gvector.h"
#include "gpu.h"

#define GPU_FETCH_ROWS	4096

PG_FUNCTION_INFO_V1(gv_gpu_available);
PG_FUNCTION_INFO_V1(gv_gpu_device_count);
PG_FUNCTION_INFO_V1(gv_gpu_device_info);
PG_FUNCTION_INFO_V1(gv_gpu_status_rows);
PG_FUNCTION_INFO_V1(gv_gpu_push);
PG_FUNCTION_INFO_V1(gv_gpu_evict);
PG_FUNCTION_INFO_V1(gv_gpu_search);
PG_FUNCTION_INFO_V1(gv_gpu_search_batch);

/* a registered collection, as gigavector.gpu_collections has it */
typedef struct CollectionInfo
{
	Oid			relid;
	int16		attnum;
	char	   *column;
	char	   *id_column;
	bool		use_fp16;
	int64		version;
} CollectionInfo;

/* a request and where it lives: a DSM segment (worker) or palloc'd memory */
typedef struct Call
{
	GpuRequest *req;
	dsm_segment *seg;
} Call;

static GpuStore *local_store = NULL;

static GpuStore *
LocalStore(void)
{
	if (local_store == NULL)
		local_store = GpuStoreCreate(TopMemoryContext, NULL, 0);
	return local_store;
}

static Call
NewCall(GpuOp op, int64 n, int dim, int nq, int k)
{
	Size		size = GpuRequestSize(op, n, dim, nq, k);
	Call		call;

	if (GpuServiceRunning())
	{
		call.seg = dsm_create(size, 0);
		call.req = dsm_segment_address(call.seg);
		memset(call.req, 0, sizeof(GpuRequest));
	}
	else
	{
		call.seg = NULL;
		call.req = palloc_extended(size, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	}
	call.req->op = op;
	call.req->key.dboid = MyDatabaseId;
	call.req->n = n;
	call.req->dim = dim;
	call.req->nq = nq;
	call.req->k = k;
	return call;
}

/* Send (or answer here); an error reply becomes an ERROR. */
static void
Send(Call *call)
{
	GpuRequest *req = call->req;

	req->status = GPU_OK;
	if (call->seg != NULL)
		GpuServiceCall(req, dsm_segment_handle(call->seg));
	else
		GpuStoreServe(LocalStore(), req, (uint64) gv_gpu_memory_limit_mb << 20);
	if (req->status == GPU_ERROR)
		ereport(ERROR, (errcode(req->sqlstate), errmsg("%s", req->message)));
}

static void
EndCall(Call *call)
{
	if (call->seg != NULL)
		dsm_detach(call->seg);
	else
		pfree(call->req);
}

/* The registered collection of tbl.column; an error if there is none. */
static CollectionInfo
LookupCollection(Oid relid, const char *column)
{
	CollectionInfo info;
	Oid			types[2] = {OIDOID, NAMEOID};
	Datum		values[2];
	bool		isnull;
	MemoryContext cxt = CurrentMemoryContext;

	values[0] = ObjectIdGetDatum(relid);
	values[1] = CStringGetDatum(column);
	SPI_connect();
	if (SPI_execute_with_args("SELECT attnum, version, use_float16, id_column::text"
							  " FROM gigavector.gpu_collections WHERE relid = $1 AND column_name = $2",
							  2, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read gigavector.gpu_collections");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("column \"%s\" of table \"%s\" is not loaded for GPU search",
						column, get_rel_name(relid)),
				 errhint("Call gigavector.gpu_load('%s', '%s') first.",
						 get_rel_name(relid), column)));
	info.relid = relid;
	info.attnum = DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	info.version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	info.use_fp16 = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	info.id_column = MemoryContextStrdup(cxt, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4));
	info.column = MemoryContextStrdup(cxt, column);
	SPI_finish();
	return info;
}

/*
 * Scan the table and load the collection: ids and vectors in id order,
 * read with the collection's version by one statement.  Returns the
 * version loaded and the row count in *rows.
 */
static int64
LoadCollection(const CollectionInfo *info, int64 *rows)
{
	MemoryContext cxt = CurrentMemoryContext;
	StringInfoData sql;
	Portal		portal;
	int64		n = 0,
				cap = 1024,
				version = -1;
	int			dim = 0;
	int64	   *ids = palloc(sizeof(int64) * cap);
	float	   *vecs = NULL;
	Call		call;

	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT (SELECT version FROM gigavector.gpu_collections WHERE relid = %u AND attnum = %d),"
					 " %s::bigint, %s FROM %s WHERE %s IS NOT NULL ORDER BY 2",
					 info->relid, info->attnum, quote_identifier(info->id_column),
					 quote_identifier(info->column),
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(info->relid)),
												get_rel_name(info->relid)),
					 quote_identifier(info->column));
	SPI_connect();
	portal = SPI_cursor_open_with_args(NULL, sql.data, 0, NULL, NULL, NULL, true, 0);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, GPU_FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			bool		isnull;
			Gvector		v;

			version = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
			if (isnull)
				version = -1;
			v = DatumGetGvector(SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull));
			if (n == 0)
			{
				dim = v->dim;
				vecs = MemoryContextAllocHuge(cxt, sizeof(float) * cap * dim);
			}
			else if (v->dim != dim)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("column \"%s\" holds gvectors of different dimensions (%d and %d)",
								info->column, dim, v->dim),
						 errhint("GPU search needs one dimension per column: give the column a typmod, as gvector(%d).", dim)));
			if (n == cap)
			{
				cap *= 2;
				ids = repalloc_huge(ids, sizeof(int64) * cap);
				vecs = repalloc_huge(vecs, sizeof(float) * cap * dim);
			}
			ids[n] = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
			memcpy(vecs + (Size) n * dim, v->x, sizeof(float) * dim);
			n++;
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	if (n == 0)
	{
		/* no rows to carry the version: read it alone */
		bool		isnull;

		resetStringInfo(&sql);
		appendStringInfo(&sql, "SELECT version FROM gigavector.gpu_collections WHERE relid = %u AND attnum = %d",
						 info->relid, info->attnum);
		SPI_execute(sql.data, true, 1);
		if (SPI_processed == 1)
			version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();

	call = NewCall(GPU_OP_LOAD, n, dim, 0, 0);
	call.req->key.relid = info->relid;
	call.req->key.attnum = info->attnum;
	call.req->version = version;
	call.req->use_fp16 = info->use_fp16;
	if (n > 0)
	{
		memcpy(GpuReqIds(call.req), ids, sizeof(int64) * n);
		memcpy(GpuReqVectors(call.req), vecs, sizeof(float) * (Size) n * dim);
		pfree(vecs);
	}
	pfree(ids);
	Send(&call);
	EndCall(&call);
	*rows = n;
	return version;
}

static int
ParseDistance(text *name)
{
	char	   *s = text_to_cstring(name);

	if (strcmp(s, "l2") == 0 || strcmp(s, "euclidean") == 0 || strcmp(s, "<->") == 0)
		return GV_GPU_METRIC_L2;
	if (strcmp(s, "ip") == 0 || strcmp(s, "inner_product") == 0 || strcmp(s, "<#>") == 0)
		return GV_GPU_METRIC_IP;
	if (strcmp(s, "cosine") == 0 || strcmp(s, "<=>") == 0)
		return GV_GPU_METRIC_COSINE;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown distance \"%s\"", s),
			 errhint("Use l2, cosine or ip (the negative inner product, as <#>).")));
	return 0;					/* keep the compiler quiet */
}

static void
CheckK(int k)
{
	if (k < 1 || k > GV_GPU_MAX_K)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be between 1 and %d, not %d", GV_GPU_MAX_K, k)));
}

/*
 * Search nq queries (each dim floats, packed) in tbl.column; the reply
 * stays in the call, which the caller ends.
 */
static Call
Search(Oid relid, Name column, const float *queries, int nq, int dim, int k, int metric)
{
	CollectionInfo info;
	AclResult	acl;
	Call		call;

	acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, get_rel_name(relid));
	info = LookupCollection(relid, NameStr(*column));
	call = NewCall(GPU_OP_SEARCH, 0, dim, nq, k);
	call.req->key.relid = relid;
	call.req->key.attnum = info.attnum;
	call.req->version = info.version;
	call.req->metric = metric;
	memcpy(GpuReqQueries(call.req), queries, sizeof(float) * (Size) nq * dim);
	/* a reload races with writers at most a few times; then give up */
	for (int attempt = 0;; attempt++)
	{
		int64		rows;

		Send(&call);
		if (call.req->status == GPU_OK)
			break;
		if (attempt == 3)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("table \"%s\" changed during every reload of its GPU collection",
							get_rel_name(relid)),
					 errhint("Run the search again.")));
		call.req->version = LoadCollection(&info, &rows);
	}
	return call;
}

static void
CheckQueryDim(int dim)
{
	GvectorCheckDim(dim);
}

/* gigavector.gpu_search(tbl, column, query, k, distance) */
Datum
gv_gpu_search(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Name		column = PG_GETARG_NAME(1);
	Gvector		query = PG_GETARG_GVECTOR_P(2);
	int			k = PG_GETARG_INT32(3);
	int			metric = ParseDistance(PG_GETARG_TEXT_PP(4));
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Call		call;

	CheckK(k);
	CheckQueryDim(query->dim);
	InitMaterializedSRF(fcinfo, 0);
	call = Search(relid, column, query->x, 1, query->dim, k, metric);
	for (int j = 0; j < GpuReqCounts(call.req)[0]; j++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = Int64GetDatum(GpuReqResultIds(call.req)[j]);
		values[1] = Float8GetDatum(GpuReqResultDists(call.req)[j]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	EndCall(&call);
	return (Datum) 0;
}

/* gigavector.gpu_search(tbl, column, queries gvector[], k, distance) */
Datum
gv_gpu_search_batch(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Name		column = PG_GETARG_NAME(1);
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(2);
	int			k = PG_GETARG_INT32(3);
	int			metric = ParseDistance(PG_GETARG_TEXT_PP(4));
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum	   *elems;
	bool	   *enulls;
	int			nq;
	int			dim = 0;
	float	   *queries = NULL;
	Call		call;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	CheckK(k);
	InitMaterializedSRF(fcinfo, 0);
	get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
	deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign, &elems, &enulls, &nq);
	if (nq == 0)
		return (Datum) 0;
	for (int q = 0; q < nq; q++)
	{
		Gvector		v;

		if (enulls[q])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("query %d of the batch is null", q + 1)));
		v = DatumGetGvector(elems[q]);
		if (q == 0)
		{
			dim = v->dim;
			CheckQueryDim(dim);
			queries = palloc_extended(sizeof(float) * (Size) nq * dim, MCXT_ALLOC_HUGE);
		}
		else if (v->dim != dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different gvector dimensions %d and %d", dim, v->dim),
					 errdetail("Query %d of the batch differs from the first.", q + 1)));
		memcpy(queries + (Size) q * dim, v->x, sizeof(float) * dim);
	}
	call = Search(relid, column, queries, nq, dim, k, metric);
	for (int q = 0; q < nq; q++)
		for (int j = 0; j < GpuReqCounts(call.req)[q]; j++)
		{
			Datum		values[3];
			bool		nulls[3] = {false, false, false};

			values[0] = Int32GetDatum(q + 1);
			values[1] = Int64GetDatum(GpuReqResultIds(call.req)[(Size) q * k + j]);
			values[2] = Float8GetDatum(GpuReqResultDists(call.req)[(Size) q * k + j]);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	EndCall(&call);
	return (Datum) 0;
}

/* gigavector.gpu_push(tbl, column): load now (gpu_load calls it); rows loaded */
Datum
gv_gpu_push(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Name		column = PG_GETARG_NAME(1);
	CollectionInfo info = LookupCollection(relid, NameStr(*column));
	int64		rows;

	(void) LoadCollection(&info, &rows);
	PG_RETURN_INT64(rows);
}

/* gigavector.gpu_evict(tbl, attnum): drop the resident copy */
Datum
gv_gpu_evict(PG_FUNCTION_ARGS)
{
	Call		call;

	if (!pg_class_ownercheck(PG_GETARG_OID(0), GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(PG_GETARG_OID(0)));
	call = NewCall(GPU_OP_UNLOAD, 0, 0, 0, 0);

	call.req->key.relid = PG_GETARG_OID(0);
	call.req->key.attnum = PG_GETARG_INT16(1);
	Send(&call);
	EndCall(&call);
	PG_RETURN_VOID();
}

Datum
gv_gpu_available(FunctionCallInfo fcinfo pg_attribute_unused())
{
	GvGpuDeviceInfo devices[GPU_MAX_DEVICES];

	PG_RETURN_BOOL(GpuServiceDevices(devices, GPU_MAX_DEVICES) > 0);
}

Datum
gv_gpu_device_count(FunctionCallInfo fcinfo pg_attribute_unused())
{
	GvGpuDeviceInfo devices[GPU_MAX_DEVICES];

	PG_RETURN_INT32(GpuServiceDevices(devices, GPU_MAX_DEVICES));
}

/* gigavector.gpu_device_info(i): name, memory, compute capability */
Datum
gv_gpu_device_info(PG_FUNCTION_ARGS)
{
	int			i = PG_GETARG_INT32(0);
	GvGpuDeviceInfo devices[GPU_MAX_DEVICES];
	int			n = GpuServiceDevices(devices, GPU_MAX_DEVICES);
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	char		cc[32];

	if (i < 0 || i >= n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("GPU device %d does not exist", i),
				 n == 0 ? errhint("No GPU is available: see gigavector.gpu_status for the backend in use.")
				 : errhint("Devices are numbered 0 to %d.", n - 1)));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "gpu_device_info must return a record");
	snprintf(cc, sizeof(cc), "%d.%d", devices[i].major, devices[i].minor);
	values[0] = CStringGetTextDatum(devices[i].name);
	values[1] = Int64GetDatum((int64) devices[i].total_memory);
	values[2] = Int64GetDatum((int64) devices[i].free_memory);
	values[3] = CStringGetTextDatum(cc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/* The resident collections of this database, for gigavector.gpu_status. */
Datum
gv_gpu_status_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	GpuCollectionStatus *status = palloc(sizeof(GpuCollectionStatus) * GPU_MAX_COLLECTIONS);
	bool		worker = GpuServiceRunning();
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	if (worker)
		n = GpuServiceStatus(status, GPU_MAX_COLLECTIONS);
	else
		n = local_store ? GpuStoreStatus(local_store, status, GPU_MAX_COLLECTIONS) : 0;
	for (int i = 0; i < n; i++)
	{
		Datum		values[9];
		bool		nulls[9] = {0};

		if (status[i].key.dboid != MyDatabaseId)
			continue;
		values[0] = ObjectIdGetDatum(status[i].key.relid);
		values[1] = Int16GetDatum(status[i].key.attnum);
		values[2] = Int64GetDatum(status[i].vectors);
		values[3] = Int32GetDatum(status[i].dim);
		values[4] = Int64GetDatum((int64) status[i].bytes);
		values[5] = Int64GetDatum((int64) status[i].queries);
		values[6] = Int64GetDatum(status[i].version);
		values[7] = CStringGetTextDatum(status[i].on_device ? "cuda" : "cpu");
		values[8] = CStringGetTextDatum(worker ? "worker" : "backend");
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
