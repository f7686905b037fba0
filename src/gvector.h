/*
 * gvector.h
 *	  The gvector type: a fixed-dimension array of float4, stored the way
 *	  pgvector stores its vector type so that data moves between the two
 *	  with a cast through text and drivers share the binary codec.
 */
#ifndef GVECTOR_H
#define GVECTOR_H

#include "fmgr.h"
#include "utils/array.h"

/*
 * 16,000 float4 values are 64 kB: a stored value is TOASTed, and the
 * two-byte dimension field has room to spare.
 */
#define GVECTOR_MAX_DIM 16000

typedef struct GvectorData
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of dimensions */
	int16		unused;			/* reserved, always zero */
	float		x[FLEXIBLE_ARRAY_MEMBER];
} GvectorData;

typedef GvectorData *Gvector;

#define GVECTOR_SIZE(_dim)		(offsetof(GvectorData, x) + sizeof(float) * (_dim))
#define DatumGetGvector(x)		((Gvector) PG_DETOAST_DATUM(x))
#define PG_GETARG_GVECTOR_P(x)	DatumGetGvector(PG_GETARG_DATUM(x))
#define PG_RETURN_GVECTOR_P(x)	PG_RETURN_POINTER(x)

extern Gvector InitGvector(int dim);
extern int32 GvTypmodIn(ArrayType *ta, const char *typname, const char *what,
						const char *unit, int maxdim);
extern void GvectorCheckDim(int dim);
extern void GvectorCheckElement(float value);
extern void GvectorCheckSameDims(Gvector a, Gvector b);
extern void GvectorInit(void);

/* the array casts' common part: an array's elements as floats */
struct ArrayType;
extern float *GvArrayToFloats(struct ArrayType *array, int *n);

#include "distmemo.h"

extern bool GvOperatorFromKernel(PGFunction op, GvMemoKernel kernel, double value,
								 double *result);

#endif							/* GVECTOR_H */
