/*
 * ivfpqinsert.c
 *	  Inserting into a gv_ivfpq index: encode the vector with the trained
 *	  centroids and codebooks and append the entry to its list's last page
 *	  (IvfpqAppendEntry, which WAL-logs through GenericXLog), the filter
 *	  columns' codes after the PQ codes.  An untrained
 *	  index puts every entry, without codes, into its single list.
 */
#include "compat.h"

#include "gvam.h"
#include "ivfpq.h"

/* One row with a vector: encoded, or code-less in an untrained index. */
static void
IndexRow(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
		 Relation heap pg_attribute_unused())
{
	IvfpqCache	cache = IvfpqGetCache(index);
	IvfpqEntry	entry = palloc0(cache->layout.size);
	int			list = 0;

	if (cache->meta.trained)
	{
		int			dim;
		float	   *x = IvfpqPrepareValue(GvIndexGetMetric(index, 1), values[0],
										  cache->dim, cache->meta.scale, &dim);
		float	   *scratch = palloc(sizeof(float) * (dim + cache->ksub));

		IvfpqEncode(cache, x, &list, (uint8 *) entry + cache->layout.codesOffset, scratch);
	}
	else
	{
		int			dim = GvMetricDatumDims(GvIndexGetMetric(index, 1), values[0]);

		if (cache->dim > 0 && dim != cache->dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("expected %d dimensions, not %d", cache->dim, dim)));
	}
	IvfpqFillEntry(cache, heap_tid, values, isnull, entry);
	IvfpqAppendEntry(index, cache, list, entry);
}

/*
 * aminsert (NULLs are not indexed)
 */
bool
ivfpqinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation heap,
			IndexUniqueCheck checkUnique pg_attribute_unused(),
			bool indexUnchanged pg_attribute_unused(), IndexInfo *indexInfo pg_attribute_unused())
{
	return GvAmInsert(index, values, isnull, heap_tid, heap, "gv_ivfpq insert",
					  IndexRow);
}
