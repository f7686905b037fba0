/*
 * ghalfvec.h
 *	  The ghalfvec type: a fixed-dimension array of IEEE half floats, laid
 *	  out as pgvector lays out halfvec (so the text and binary forms move
 *	  between the two), at half the size of a gvector.
 */
#ifndef GHALFVEC_H
#define GHALFVEC_H

#include "fmgr.h"

#define GHALFVEC_MAX_DIM 16000

typedef struct GhalfvecData
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of dimensions */
	int16		unused;			/* reserved, always zero */
	uint16		x[FLEXIBLE_ARRAY_MEMBER];	/* IEEE binary16 bit patterns */
} GhalfvecData;

typedef GhalfvecData *Ghalfvec;

#define GHALFVEC_SIZE(_dim)		(offsetof(GhalfvecData, x) + sizeof(uint16) * (_dim))
#define DatumGetGhalfvec(x)		((Ghalfvec) PG_DETOAST_DATUM(x))
#define PG_GETARG_GHALFVEC_P(x)	DatumGetGhalfvec(PG_GETARG_DATUM(x))
#define PG_RETURN_GHALFVEC_P(x)	PG_RETURN_POINTER(x)

extern Ghalfvec InitGhalfvec(int dim);
extern Ghalfvec GhalfvecFromFloats(const float *x, int dim);

#endif							/* GHALFVEC_H */
