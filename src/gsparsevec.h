/*
 * gsparsevec.h
 *	  The gsparsevec type: sparse vectors (learned sparse models such as
 *	  SPLADE), laid out as pgvector lays out sparsevec: the dimensions, the
 *	  number of non-zeros, then their 0-based indices (strictly increasing)
 *	  and their values (finite, never zero).
 */
#ifndef GSPARSEVEC_H
#define GSPARSEVEC_H

#include "fmgr.h"
#include "gvmetric.h"

#define GSPARSEVEC_MAX_DIM	1000000
#define GSPARSEVEC_MAX_NNZ	16000

typedef struct GsparsevecData
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int32		dim;			/* number of dimensions */
	int32		nnz;			/* number of non-zero elements */
	int32		unused;			/* reserved, always zero */
	int32		indices[FLEXIBLE_ARRAY_MEMBER]; /* then float values[nnz] */
} GsparsevecData;

typedef GsparsevecData *Gsparsevec;

#define GSPARSEVEC_SIZE(_nnz) \
	(offsetof(GsparsevecData, indices) + (sizeof(int32) + sizeof(float)) * (_nnz))
#define GsparsevecValues(v)		((float *) ((v)->indices + (v)->nnz))
#define DatumGetGsparsevec(x)	((Gsparsevec) PG_DETOAST_DATUM(x))
#define PG_GETARG_GSPARSEVEC_P(x)	DatumGetGsparsevec(PG_GETARG_DATUM(x))
#define PG_RETURN_GSPARSEVEC_P(x)	PG_RETURN_POINTER(x)

/*
 * gv_hnsw keeps a wide gsparsevec packed into 32-bit words, the same in its
 * element tuples and in its build's memory, so that the index code passes
 * it around as a float array: the number of non-zeros (int32), their
 * indices (int32[nnz]), their values (float[nnz]), then zeros up to the
 * index's capacity of cap non-zeros.
 */
#define GV_SPARSE_PACKED_WORDS(cap)	(1 + 2 * (cap))

extern bool GvSparsePack(Datum value, float *dst, int cap);
extern int	GvSparsePackedNnz(const float *x);
extern bool GvSparsePackedNormalize(float *x);
extern double GvSparsePackedDistance(GvMetricKind kind, const float *a, const float *b);

#endif							/* GSPARSEVEC_H */
