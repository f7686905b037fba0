/*
 * gvam.h
 *	  What every gigavector access method's handler, cost estimate and
 *	  aminsert start with (gvam.c).
 */
#ifndef GVAM_H
#define GVAM_H

#include "access/amapi.h"
#include "utils/selfuncs.h"

/*
 * One row's work in an aminsert, for a row whose indexed (first) column is
 * not NULL.  It runs in a memory context of its own, deleted afterwards.
 */
typedef void (*GvIndexRowFunc) (Relation index, Datum *values, bool *isnull,
								ItemPointer heap_tid, Relation heap);

extern IndexAmRoutine *GvMakeAmRoutine(void);
extern bool GvCostEstimateStart(bool usable, PlannerInfo *root, IndexPath *path,
								double loop_count, GenericCosts *costs,
								Cost *indexStartupCost, Cost *indexTotalCost,
								Selectivity *indexSelectivity,
								double *indexCorrelation, double *indexPages);
extern bool GvAmInsert(Relation index, Datum *values, bool *isnull,
					   ItemPointer heap_tid, Relation heap,
					   const char *cxtname, GvIndexRowFunc index_row);

#endif
