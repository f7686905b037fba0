/*-------------------------------------------------------------------------
 *
 * distmemo.h
 *	  The distance memo (distmemo.c): index scans leave the distance of the
 *	  row they return, the distance operators look it up.
 *
 * src/distmemo.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DISTMEMO_H
#define DISTMEMO_H

#include "fmgr.h"

/* Which kernel a memoised distance is the result of */
typedef enum GvMemoKernel
{
	GV_MEMO_L2SQ,				/* GvSafeL2Squared (distance.h) */
	GV_MEMO_IP					/* GvSafeInnerProduct */
} GvMemoKernel;

extern Oid	GvDatumToastId(Datum value);
extern void GvDistanceMemoPut(Oid toastrelid, Oid valueid, GvMemoKernel kernel,
							  Datum query, double value);
extern void GvDistanceMemoForget(void);
extern bool GvDistanceMemoGet(FunctionCallInfo fcinfo, GvMemoKernel kernel,
							  double *value);
extern void GvDistanceMemoInit(void);

#endif							/* DISTMEMO_H */
