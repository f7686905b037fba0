/*
 * ivfpqvalidate.c
 *	  Checking gv_ivfpq: its operator classes (amvalidate), and
 *	  gigavector.ivfpq_info, which reports an index's trained parameters
 *	  and entry count after checking every page is one of ours.
 */
#include "compat.h"

#include "access/amvalidate.h"
#include "access/htup_details.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "ivfpq.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

/*
 * amvalidate: see GvValidateOpclass (vector and filter operator classes).
 */
bool
ivfpqvalidate(Oid opclassoid)
{
	return GvValidateOpclass(opclassoid, "gv_ivfpq");
}

/*
 * gigavector.ivfpq_info(index regclass): trained, lists, subquantizers,
 * bits, entries, pages.  Checks every page's id and every list chain's
 * length along the way.
 */
PG_FUNCTION_INFO_V1(gv_ivfpq_info);
Datum
gv_ivfpq_info(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	Relation	index;
	IvfpqMetaPageData meta;
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {0};
	int64		entries = 0;
	BlockNumber nblocks;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	index = GvOpenIndexToCheck(indexoid, "gv_ivfpq");

	IvfpqReadMeta(index, &meta);
	nblocks = RelationGetNumberOfBlocks(index);
	for (uint32 l = 0; l < meta.lists; l++)
	{
		IvfpqListData dir;
		BlockNumber blkno;
		BlockNumber steps = 0;

		IvfpqGetList(index, &meta, l, &dir);
		blkno = dir.startPage;
		while (BlockNumberIsValid(blkno))
		{
			Buffer		buf;
			Page		page;

			CHECK_FOR_INTERRUPTS();
			if (blkno >= nblocks || ++steps > nblocks)
				ereport(ERROR,
						(errcode(ERRCODE_INDEX_CORRUPTED),
						 errmsg("index \"%s\" has a broken chain in list %u",
								RelationGetRelationName(index), l),
						 errhint("Rebuild the index with REINDEX.")));
			buf = ReadBuffer(index, blkno);
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			page = BufferGetPage(buf);
			GvCheckPage(index, page, blkno, GV_PAGE_ID_IVFPQ);
			entries += PageGetMaxOffsetNumber(page);
			blkno = GvPageGetOpaque(page)->nextblkno;
			UnlockReleaseBuffer(buf);
		}
	}
	index_close(index, AccessShareLock);

	values[0] = BoolGetDatum(meta.trained);
	values[1] = Int32GetDatum(meta.lists);
	values[2] = Int32GetDatum(meta.subquantizers);
	values[3] = Int32GetDatum(meta.bits);
	values[4] = Int64GetDatum(entries);
	values[5] = Int64GetDatum(nblocks);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
