/*
 * gvmetric.h
 *	  The metric an operator class stands for, and distances under it.
 */
#ifndef GVMETRIC_H
#define GVMETRIC_H

#include "access/attnum.h"
#include "distance.h"
#include "utils/relcache.h"

/*
 * The metric an operator class orders by.  Support function 1 of every
 * gigavector vector operator class returns one of these (see
 * GvIndexGetMetric), so the access methods call the SIMD kernels directly
 * instead of going through fmgr for every distance.
 */
typedef enum GvMetricKind
{
	GV_METRIC_L2,				/* order by <->; distance computed as L2^2 */
	GV_METRIC_COSINE,			/* order by <=>; vectors normalised, 1 - dot */
	GV_METRIC_IP,				/* order by <#>; -dot */
	GV_METRIC_L1,				/* order by <+>; sum |a - b| */
	GV_METRIC_HAMMING,			/* order by <~> on gbit: L2^2 of 0/1 floats */
	GV_METRIC_JACCARD			/* order by <%> on gbit: 1 - |a&b| / |a|b| */
} GvMetricKind;

/*
 * The type an operator class indexes.  Access methods work on floats; a
 * ghalfvec's halves, a gbit's bits (as 0 and 1) and a gsparsevec's
 * elements become floats exactly, so every access method indexes them
 * through GvMetricDatumToFloats.
 */
typedef enum GvMetricType
{
	GV_TYPE_GVECTOR,
	GV_TYPE_GHALFVEC,
	GV_TYPE_GBIT,
	GV_TYPE_GSPARSEVEC			/* densified: its non-zeros, zeros elsewhere */
} GvMetricType;

typedef struct GvMetricData
{
	GvMetricKind kind;
	const char *name;			/* "l2", "cosine", "ip", "l1", "hamming",
								 * "jaccard" */
	GvMetricType type;
} GvMetricData;

typedef const GvMetricData *GvMetric;

extern GvMetric GvIndexGetMetric(Relation index, AttrNumber attno);

/*
 * Distance in the metric's index space: L2^2 for L2, 1 - dot of normalised
 * vectors for cosine, -dot for inner product.  Smaller is nearer in all three.
 *
 * Every access method computes its distances here, so they are right at
 * every magnitude the type accepts (elements from 1e-45 to 3.4e38): L2 and
 * inner product run the float kernel and fall back to double where float
 * would overflow or underflow (GvSafeL2Squared, distance.h), and come back
 * as doubles, which hold any of them (a squared distance of 1e20-sized
 * vectors is 1e40).  Cosine works on unit vectors (GvMetricPrepareVector),
 * whose dot product is at most 1 in magnitude, so the float kernel is as
 * exact as float allows and needs no fallback.  Access methods keep these
 * distances as doubles in memory, and where they keep many of them (index
 * pages, gv_hnsw's build arena) in 32 bits: GvPackDistance.  Inline: it is
 * called for every distance an index computes.
 */
/*
 * Jaccard distance of two 0/1 float vectors (gbit in an index): 1 - |a and
 * b| / |a or b|, with the counts exact in float; 1 when they share no bit
 * (two empty sets too), as gbit's <%> operator says.
 */
static inline double
GvJaccardFromFloats(const float *a, const float *b, int dim)
{
	float		ab,
				aa,
				bb;

	GvCosineParts(a, b, dim, &ab, &aa, &bb);
	if (ab == 0.0f)
		return 1.0;
	return 1.0 - (double) ab / ((double) aa + bb - ab);
}

static inline double
GvMetricDistanceWith(GvMetric metric, GvPairKernel l2, GvPairKernel ip,
					 const float *a, const float *b, int dim)
{
	switch (metric->kind)
	{
		case GV_METRIC_L2:
			return GvSafeL2Squared(l2, a, b, dim);
		case GV_METRIC_COSINE:
			return 1.0f - ip(a, b, dim);
		case GV_METRIC_IP:
			return -GvSafeInnerProduct(ip, a, b, dim);
		case GV_METRIC_L1:
			return GvSafeL1(a, b, dim);
		case GV_METRIC_HAMMING:
			/* 0/1 floats: every term and sum is exact below 2^24 */
			return l2(a, b, dim);
		case GV_METRIC_JACCARD:
			return GvJaccardFromFloats(a, b, dim);
	}
	pg_unreachable();
}

static inline double
GvMetricDistance(GvMetric metric, const float *a, const float *b, int dim)
{
	return GvMetricDistanceWith(metric, GvL2SquaredDistance, GvInnerProduct, a, b, dim);
}

/*
 * The same with the kernels for vectors in the CPU's caches (distance.h):
 * for index builds, whose distances are not the operators' (the distance
 * memo needs the scan's to be).
 */
static inline double
GvMetricDistanceCached(GvMetric metric, const float *a, const float *b, int dim)
{
	return GvMetricDistanceWith(metric, GvL2SquaredDistanceCached, GvInnerProductCached, a, b, dim);
}

extern bool GvMetricPrepareVector(GvMetric metric, float *x, int dim);
extern bool GvNormalizeFloats(float *x, int n);
extern float *GvMetricDatumToFloats(GvMetric metric, Datum value, int *dim);
extern int	GvMetricDatumDims(GvMetric metric, Datum value);
extern const char *GvMetricTypeName(GvMetric metric);
extern double GvMetricToSqlDistance(GvMetric metric, double distance);

#endif							/* GVMETRIC_H */
