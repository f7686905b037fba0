/*-------------------------------------------------------------------------
 *
 * distmemo.c
 *	  The distance memo: the distance an index scan computed for the row it
 *	  returns, which the distance operators read instead of detoasting the
 *	  row's vector again.
 *
 * src/distmemo.c
 *
 *-------------------------------------------------------------------------
 */
#include "compat.h"

#include <math.h>

#include "access/detoast.h"
#include "access/xact.h"
#include "distmemo.h"
#include "fmgr.h"
#include "utils/memutils.h"

/* ---------------------------------------------------------------------------
 * The distance memo
 *
 * For ORDER BY emb <-> q LIMIT k, PostgreSQL evaluates emb <-> q again for
 * every row the index scan returns (the sort key is a column of the plan's
 * target list).  When emb is stored out of line that means fetching and
 * copying the whole TOASTed vector, which costs as much as the whole graph
 * search of a small ef_search: a third of the server's time per query on
 * Fashion-MNIST's 3 kB vectors.  The index already computed that distance,
 * from the same floats with the same kernel, so before returning a row it
 * leaves it here, keyed by the row's TOAST pointer (relation and value id),
 * the query's bytes and the kernel; the operators look here first and do
 * not detoast on a match.
 *
 * A TOAST value is never changed in place, and its id cannot be reused while
 * any snapshot can see the row that holds it.  The entry is made for the
 * row being returned, so the executor evaluates the operator on that row
 * (or skips it as invisible and asks for the next, replacing the entry)
 * before anything else runs; scans forget it when they end or restart, and
 * so does the end of every (sub)transaction, so no entry outlives the
 * snapshot that saw its row.  Only kernels whose result does not depend on
 * the argument order are memoised (L2 and inner product).  The value is the
 * safe kernel's (GvSafeL2Squared, GvSafeInnerProduct: float, or double
 * where float would overflow or underflow), exactly what the operator
 * computes.
 * ---------------------------------------------------------------------------
 */

typedef struct GvDistanceMemoData
{
	bool		valid;
	GvMemoKernel kernel;
	Oid			toastrelid;
	Oid			valueid;
	double		value;			/* the safe kernel's result (distance.h) */
	Size		querylen;		/* bytes of the query's payload */
	Size		queryalloc;
	char	   *query;			/* in TopMemoryContext */
} GvDistanceMemoData;

static GvDistanceMemoData memo;

/* The TOAST value id of a stored vector, InvalidOid unless out of line. */
Oid
GvDatumToastId(Datum value)
{
	struct varlena *ptr = (struct varlena *) DatumGetPointer(value);
	struct varatt_external toast;

	if (!VARATT_IS_EXTERNAL_ONDISK(ptr))
		return InvalidOid;
	VARATT_EXTERNAL_GET_POINTER(toast, ptr);
	return toast.va_valueid;
}

/*
 * Remember that kernel(row's vector, query) = value, the row's vector being
 * TOAST value valueid of relation toastrelid.  query is the scan's query
 * (the order-by argument, as the executor passes it to the operator).
 */
void
GvDistanceMemoPut(Oid toastrelid, Oid valueid, GvMemoKernel kernel, Datum query,
				  double value)
{
	struct varlena *q = (struct varlena *) DatumGetPointer(query);
	Size		len;

	memo.valid = false;
	if (!OidIsValid(valueid) || !OidIsValid(toastrelid) || !isfinite(value) ||
		(VARATT_IS_EXTENDED(q) && !VARATT_IS_SHORT(q)))
		return;
	len = VARSIZE_ANY_EXHDR(q);
	if (len != memo.querylen || memcmp(memo.query, VARDATA_ANY(q), len) != 0)
	{
		if (len > memo.queryalloc)
		{
			if (memo.query)
				pfree(memo.query);
			memo.query = MemoryContextAlloc(TopMemoryContext, len);
			memo.queryalloc = len;
		}
		memcpy(memo.query, VARDATA_ANY(q), len);
		memo.querylen = len;
	}
	memo.kernel = kernel;
	memo.toastrelid = toastrelid;
	memo.valueid = valueid;
	memo.value = value;
	memo.valid = true;
}

void
GvDistanceMemoForget(void)
{
	memo.valid = false;
}

/* Is one argument the memoised row and the other the memoised query? */
bool
GvDistanceMemoGet(FunctionCallInfo fcinfo, GvMemoKernel kernel, double *value)
{
	struct varlena *a = (struct varlena *) PG_GETARG_POINTER(0);
	struct varlena *b = (struct varlena *) PG_GETARG_POINTER(1);
	struct varlena *q;
	struct varatt_external toast;

	if (!memo.valid || memo.kernel != kernel)
		return false;
	if (VARATT_IS_EXTERNAL_ONDISK(a))
		q = b;
	else if (VARATT_IS_EXTERNAL_ONDISK(b))
	{
		q = a;
		a = b;
	}
	else
		return false;
	VARATT_EXTERNAL_GET_POINTER(toast, a);
	if (toast.va_valueid != memo.valueid || toast.va_toastrelid != memo.toastrelid ||
		(VARATT_IS_EXTENDED(q) && !VARATT_IS_SHORT(q)) ||
		VARSIZE_ANY_EXHDR(q) != memo.querylen ||
		memcmp(VARDATA_ANY(q), memo.query, memo.querylen) != 0)
		return false;
	*value = memo.value;
	return true;
}

static void
DistanceMemoXactCallback(XactEvent event pg_attribute_unused(), void *arg pg_attribute_unused())
{
	memo.valid = false;
}

static void
DistanceMemoSubXactCallback(SubXactEvent event pg_attribute_unused(),
							SubTransactionId mySubid pg_attribute_unused(),
							SubTransactionId parentSubid pg_attribute_unused(),
							void *arg pg_attribute_unused())
{
	memo.valid = false;
}

/* Forget the memo at the end of every (sub)transaction; once, from _PG_init. */
void
GvDistanceMemoInit(void)
{
	RegisterXactCallback(DistanceMemoXactCallback, NULL);
	RegisterSubXactCallback(DistanceMemoSubXactCallback, NULL);
}
