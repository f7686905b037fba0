/*
 * gvmetric.c
 *	  The metrics an operator class stands for (support function 1), and
 *	  what every access method does with a vector under its metric: read it
 *	  as floats, bring it into index space, convert a distance back to SQL's.
 *	  The distances themselves are computed inline (gvmetric.h), by the
 *	  kernels of distance.c.
 */
#include "compat.h"

#include <math.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/tableam.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_type.h"
#include "distance.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "gbit.h"
#include "ghalfvec.h"
#include "gsparsevec.h"
#include "gvpage.h"
#include "miscadmin.h"
#include "quantize.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

/* ---------------------------------------------------------------------------
 * Metrics
 * ---------------------------------------------------------------------------
 */

static const GvMetricData GvMetricL2 = {GV_METRIC_L2, "l2", GV_TYPE_GVECTOR};
static const GvMetricData GvMetricCosine = {GV_METRIC_COSINE, "cosine", GV_TYPE_GVECTOR};
static const GvMetricData GvMetricIp = {GV_METRIC_IP, "ip", GV_TYPE_GVECTOR};
static const GvMetricData GvMetricL1 = {GV_METRIC_L1, "l1", GV_TYPE_GVECTOR};
static const GvMetricData GvMetricHalfL2 = {GV_METRIC_L2, "l2", GV_TYPE_GHALFVEC};
static const GvMetricData GvMetricHalfCosine = {GV_METRIC_COSINE, "cosine", GV_TYPE_GHALFVEC};
static const GvMetricData GvMetricHalfIp = {GV_METRIC_IP, "ip", GV_TYPE_GHALFVEC};
static const GvMetricData GvMetricHalfL1 = {GV_METRIC_L1, "l1", GV_TYPE_GHALFVEC};
static const GvMetricData GvMetricHamming = {GV_METRIC_HAMMING, "hamming", GV_TYPE_GBIT};
static const GvMetricData GvMetricJaccard = {GV_METRIC_JACCARD, "jaccard", GV_TYPE_GBIT};
static const GvMetricData GvMetricSparseL2 = {GV_METRIC_L2, "l2", GV_TYPE_GSPARSEVEC};
static const GvMetricData GvMetricSparseCosine = {GV_METRIC_COSINE, "cosine", GV_TYPE_GSPARSEVEC};
static const GvMetricData GvMetricSparseIp = {GV_METRIC_IP, "ip", GV_TYPE_GSPARSEVEC};
static const GvMetricData GvMetricSparseL1 = {GV_METRIC_L1, "l1", GV_TYPE_GSPARSEVEC};

/*
 * Support function 1 of the operator classes: called with a dummy argument,
 * returns the GvMetricData the class stands for.
 */
#define GV_METRIC_SUPPORT(fname, metric) \
PG_FUNCTION_INFO_V1(fname); \
Datum \
fname(FunctionCallInfo fcinfo pg_attribute_unused()) \
{ \
	PG_RETURN_POINTER(&(metric)); \
}

GV_METRIC_SUPPORT(gvector_l2_metric, GvMetricL2)
GV_METRIC_SUPPORT(gvector_cosine_metric, GvMetricCosine)
GV_METRIC_SUPPORT(gvector_ip_metric, GvMetricIp)
GV_METRIC_SUPPORT(gvector_l1_metric, GvMetricL1)
GV_METRIC_SUPPORT(ghalfvec_l2_metric, GvMetricHalfL2)
GV_METRIC_SUPPORT(ghalfvec_cosine_metric, GvMetricHalfCosine)
GV_METRIC_SUPPORT(ghalfvec_ip_metric, GvMetricHalfIp)
GV_METRIC_SUPPORT(ghalfvec_l1_metric, GvMetricHalfL1)
GV_METRIC_SUPPORT(gbit_hamming_metric, GvMetricHamming)
GV_METRIC_SUPPORT(gbit_jaccard_metric, GvMetricJaccard)
GV_METRIC_SUPPORT(gsparsevec_l2_metric, GvMetricSparseL2)
GV_METRIC_SUPPORT(gsparsevec_cosine_metric, GvMetricSparseCosine)
GV_METRIC_SUPPORT(gsparsevec_ip_metric, GvMetricSparseIp)
GV_METRIC_SUPPORT(gsparsevec_l1_metric, GvMetricSparseL1)

/* The SQL name of the type an index column's metric works on. */
const char *
GvMetricTypeName(GvMetric metric)
{
	switch (metric->type)
	{
		case GV_TYPE_GHALFVEC:
			return "ghalfvec";
		case GV_TYPE_GBIT:
			return "gbit";
		case GV_TYPE_GSPARSEVEC:
			return "gsparsevec";
		default:
			return "gvector";
	}
}

/*
 * A value of the metric's type (detoasting it if need be) as a palloc'd
 * array of floats, and its dimensions: a gvector's floats, a ghalfvec's
 * halves widened (exactly), a gbit's bits as 0 and 1, a gsparsevec's
 * non-zeros in place and zeros elsewhere (the index's dimensions bound its
 * size: the build refuses more than fit on a page).
 */
float *
GvMetricDatumToFloats(GvMetric metric, Datum value, int *dim)
{
	float	   *x;

	switch (metric->type)
	{
		case GV_TYPE_GHALFVEC:
			{
				Ghalfvec	h = DatumGetGhalfvec(value);

				*dim = h->dim;
				x = palloc(sizeof(float) * h->dim);
				GvHalfDecode(h->x, x, h->dim);
				break;
			}
		case GV_TYPE_GBIT:
			{
				Gbit		b = DatumGetGbit(value);

				*dim = b->dim;
				x = palloc(sizeof(float) * b->dim);
				for (int i = 0; i < b->dim; i++)
					x[i] = (float) GbitGetBit(b, i);
				break;
			}
		case GV_TYPE_GSPARSEVEC:
			{
				Gsparsevec	s = DatumGetGsparsevec(value);

				*dim = s->dim;
				x = palloc0(sizeof(float) * s->dim);
				for (int i = 0; i < s->nnz; i++)
					x[s->indices[i]] = GsparsevecValues(s)[i];
				break;
			}
		default:
			{
				Gvector		v = DatumGetGvector(value);

				*dim = v->dim;
				x = palloc(sizeof(float) * v->dim);
				memcpy(x, v->x, sizeof(float) * v->dim);
				break;
			}
	}
	return x;
}

/* The dimensions of a value of the metric's type (detoasted if need be). */
int
GvMetricDatumDims(GvMetric metric, Datum value)
{
	switch (metric->type)
	{
		case GV_TYPE_GHALFVEC:
			return DatumGetGhalfvec(value)->dim;
		case GV_TYPE_GBIT:
			return DatumGetGbit(value)->dim;
		case GV_TYPE_GSPARSEVEC:
			return DatumGetGsparsevec(value)->dim;
		default:
			return DatumGetGvector(value)->dim;
	}
}

/*
 * The metric of an index column, from its operator class.
 */
GvMetric
GvIndexGetMetric(Relation index, AttrNumber attno)
{
	FmgrInfo   *proc = index_getprocinfo(index, attno, 1);

	return (GvMetric) DatumGetPointer(FunctionCall1(proc, PointerGetDatum(NULL)));
}

/*
 * Bring a vector into the metric's index space in place: cosine normalises
 * it.  Returns false for a vector the metric cannot place (a zero vector
 * under cosine), which callers index nowhere or handle as "distance 1".
 */
bool
GvMetricPrepareVector(GvMetric metric, float *x, int dim)
{
	if (metric->kind != GV_METRIC_COSINE)
		return true;
	return GvNormalizeFloats(x, dim);
}

/*
 * Scale x[0..n) to unit length, the norm summed in double (so tiny and huge
 * vectors too); false, leaving x as it is, for a zero vector.
 */
bool
GvNormalizeFloats(float *x, int n)
{
	double		norm = 0.0;

	for (int i = 0; i < n; i++)
		norm += (double) x[i] * x[i];
	if (norm == 0.0)
		return false;
	norm = sqrt(norm);
	for (int i = 0; i < n; i++)
		x[i] = (float) (x[i] / norm);
	return true;
}

/*
 * Convert an index-space distance to what the SQL operator returns.
 */
double
GvMetricToSqlDistance(GvMetric metric, double distance)
{
	switch (metric->kind)
	{
		case GV_METRIC_L2:
			return sqrt(Max(distance, 0.0));
		case GV_METRIC_COSINE:
			return Min(Max(distance, 0.0), 2.0);
		case GV_METRIC_IP:
		case GV_METRIC_L1:
		case GV_METRIC_HAMMING:
		case GV_METRIC_JACCARD:
			return distance;
	}
	pg_unreachable();
}
