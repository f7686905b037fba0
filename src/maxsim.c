/*
 * maxsim.c
 *	  Multi-vector (late-interaction, ColBERT-style) scoring over gvector[]:
 *	  maxsim(doc, query) = the sum, over the query's token vectors, of the
 *	  largest inner product of that token with one of the document's.
 *
 * A document is a one-dimensional gvector[] of its token vectors, a query
 * the same.  The score is exact: every query token meets every document
 * token, through the shared inner-product kernel (float, recomputed in
 * double where the float sum is not trustworthy, see distance.h), and the
 * per-token maxima are summed in double.
 *
 * The operator @# returns the negative score, so that ORDER BY doc @# query
 * lists the best documents first, as <#> does for single vectors.  A
 * sequential scan runs it on every row; the index-accelerated search
 * (gigavector.maxsim_search, sql/install/70_maxsim.sql) gathers candidate
 * documents per query token from a gv_hnsw index on a table of token
 * vectors and re-ranks them with this same function.
 *
 * In a scan the query is the same value on every row: its parsed form is
 * kept in fn_extra, keyed by a copy of its bytes, so each row costs only
 * the document's parsing and the products.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/lsyscache.h"

#include "distance.h"
#include "gvector.h"

/* A parsed gvector[]: its tokens, all of the same dimension. */
typedef struct TokenListData
{
	int			count;
	int			dim;
	Gvector    *tokens;
} TokenListData;

/* The query kept across calls (fn_extra), in fn_mcxt. */
typedef struct MaxsimCacheData
{
	Oid			elemtype;
	int16		elemlen;
	bool		elembyval;
	char		elemalign;
	struct varlena *query_bytes;	/* the query as last seen, flat */
	TokenListData query;
} MaxsimCacheData;

typedef MaxsimCacheData *MaxsimCache;

/*
 * Parse one argument into its token vectors.  what names the argument in
 * errors ("document", "query"); want_dim is the dimension every token must
 * have (0: the first token's).
 */
static void
ParseTokens(ArrayType *arr, MaxsimCache cache, const char *what, int want_dim,
			TokenListData *out)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("maxsim %s must be a one-dimensional gvector array", what),
				 errdetail("It has %d dimensions.", ARR_NDIM(arr))));
	if (ARR_ELEMTYPE(arr) != cache->elemtype)
		elog(ERROR, "maxsim %s is not a gvector array", what);

	deconstruct_array(arr, cache->elemtype, cache->elemlen, cache->elembyval,
					  cache->elemalign, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("maxsim %s must have at least one token vector", what)));

	out->count = n;
	out->dim = want_dim;
	out->tokens = palloc(sizeof(Gvector) * n);
	for (int i = 0; i < n; i++)
	{
		Gvector		v;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("maxsim %s must not contain a null token vector", what),
					 errdetail("Token %d is null.", i + 1)));
		/* detoasts, and widens a short header so that x[] is aligned */
		v = DatumGetGvector(elems[i]);
		if (out->dim == 0)
			out->dim = v->dim;
		else if (v->dim != out->dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different gvector dimensions %d and %d", out->dim, v->dim),
					 errdetail("Token %d of the maxsim %s has %d dimensions, where %d were expected.",
							   i + 1, what, v->dim, out->dim)));
		out->tokens[i] = v;
	}
	pfree(elems);
	pfree(nulls);
}

/*
 * The query's parsed tokens: from the cache when its bytes are those of the
 * last call, else parsed again into fn_mcxt.
 */
static TokenListData *
QueryTokens(FunctionCallInfo fcinfo, Datum query_datum)
{
	MaxsimCache cache = (MaxsimCache) fcinfo->flinfo->fn_extra;
	struct varlena *flat = PG_DETOAST_DATUM(query_datum);
	Size		size = VARSIZE(flat);
	MemoryContext old;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(MaxsimCacheData));
		cache->elemtype = ARR_ELEMTYPE((ArrayType *) flat);
		get_typlenbyvalalign(cache->elemtype, &cache->elemlen, &cache->elembyval,
							 &cache->elemalign);
		fcinfo->flinfo->fn_extra = cache;
	}
	else if (cache->query_bytes != NULL && VARSIZE(cache->query_bytes) == size &&
			 memcmp(cache->query_bytes, flat, size) == 0)
		return &cache->query;

	/* parse a copy in fn_mcxt, so the tokens outlive this call */
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	if (cache->query_bytes != NULL)
	{
		pfree(cache->query_bytes);
		cache->query_bytes = NULL;
		pfree(cache->query.tokens);
	}
	{
		struct varlena *copy = palloc(size);

		memcpy(copy, flat, size);
		ParseTokens((ArrayType *) copy, cache, "query", 0, &cache->query);
		cache->query_bytes = copy;
	}
	MemoryContextSwitchTo(old);
	return &cache->query;
}

/* Σ over query tokens of the largest inner product with a document token. */
static double
MaxsimScore(const TokenListData *doc, const TokenListData *query)
{
	double		sum = 0.0;

	for (int i = 0; i < query->count; i++)
	{
		const float *q = query->tokens[i]->x;
		double		best = -DBL_MAX;

		for (int j = 0; j < doc->count; j++)
		{
			double		ip = GvSafeInnerProduct(GvInnerProduct, q, doc->tokens[j]->x,
												query->dim);

			if (ip > best)
				best = ip;
		}
		sum += best;
	}
	return sum;
}

/* maxsim(doc, query) for one call, parsing the document against the query. */
static double
MaxsimFromArgs(FunctionCallInfo fcinfo)
{
	TokenListData *query = QueryTokens(fcinfo, PG_GETARG_DATUM(1));
	MaxsimCache cache = (MaxsimCache) fcinfo->flinfo->fn_extra;
	ArrayType  *docarr = PG_GETARG_ARRAYTYPE_P(0);
	TokenListData doc;

	ParseTokens(docarr, cache, "document", query->dim, &doc);
	return MaxsimScore(&doc, query);
}

PG_FUNCTION_INFO_V1(gvector_maxsim);
Datum
gvector_maxsim(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(MaxsimFromArgs(fcinfo));
}

/* The operator @#: -maxsim, so that ascending order is best first. */
PG_FUNCTION_INFO_V1(gvector_negative_maxsim);
Datum
gvector_negative_maxsim(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(-MaxsimFromArgs(fcinfo));
}
