/*
 * gbit.h
 *	  The gbit type: a fixed-length string of bits for binary embeddings,
 *	  written '0101' as PostgreSQL's bit type (and so pgvector's) writes it,
 *	  with the same binary form (int32 length, then the bits packed most
 *	  significant first, unused trailing bits zero).
 */
#ifndef GBIT_H
#define GBIT_H

#include "fmgr.h"

/*
 * The type holds up to 64,000 bits; gv_hnsw indexes as many as fit on a page
 * as storage = binary (62,464 with m = 16).
 */
#define GBIT_MAX_DIM 64000

typedef struct GbitData
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int32		dim;			/* number of bits */
	uint8		data[FLEXIBLE_ARRAY_MEMBER];	/* bit i: data[i/8] & (0x80 >>
												 * i%8) */
} GbitData;

typedef GbitData *Gbit;

#define GBIT_BYTES(_dim)		(((_dim) + 7) / 8)
#define GBIT_SIZE(_dim)			(offsetof(GbitData, data) + GBIT_BYTES(_dim))
#define GbitGetBit(v, i)		(((v)->data[(i) >> 3] >> (7 - ((i) & 7))) & 1)
#define DatumGetGbit(x)			((Gbit) PG_DETOAST_DATUM(x))
#define PG_GETARG_GBIT_P(x)		DatumGetGbit(PG_GETARG_DATUM(x))
#define PG_RETURN_GBIT_P(x)		PG_RETURN_POINTER(x)

extern Gbit InitGbit(int dim);

typedef enum GvBitOp
{
	COUNT_XOR,
	COUNT_AND,
	COUNT_OR
} GvBitOp;

extern uint64 GvCountBits(const uint8 *a, const uint8 *b, int bytes, GvBitOp op);

#endif							/* GBIT_H */
