/*
 * gvhnswbuild.c
 *	  Build a gv_hnsw index.
 *
 * The graph is built in memory first: every heap row's vector is copied
 * into local memory and inserted into an in-memory HNSW graph whose
 * elements refer to each other by array index.  Searches there use a
 * visited array tagged with a per-search epoch (no hashing, no clearing)
 * and flat binary heaps of (distance, index) pairs; distances are direct
 * SIMD kernel calls.  Neighbour lists are chosen with the paper's
 * heuristic, both for the new element and when a back-link overflows a
 * neighbour's list.
 *
 * When the graph is complete, element tuples are laid out page by page,
 * array indexes become item pointers, the pages are written without WAL,
 * and the whole relation is WAL-logged at once (GvLogBuiltIndex).
 *
 * If the graph outgrows maintenance_work_mem, we say so with a NOTICE, write
 * what we have, and insert the remaining rows one by one through the
 * on-disk insert path (gvhnswinsert.c): slower, but the same graph quality.
 */
#include "compat.h"

#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

typedef struct BuildElement
{
	ItemPointerData heaptid;
	ItemPointerData tid;		/* assigned when written */
	int			level;
	float	   *vec;
	char	   *keys;			/* encoded filter columns, or NULL */
	uint8		keyNulls;
	int32	   *nbrs;			/* GvHnswSlots(m, level) slots */
	float	   *dists;
	uint8	   *counts;			/* per level */
} BuildElement;

typedef struct MemCand
{
	float		dist;
	int32		idx;
} MemCand;

typedef struct MemHeap
{
	MemCand    *items;
	int			count;
	int			size;
} MemHeap;

typedef struct GvHnswBuildState
{
	Relation	heap;
	Relation	index;
	GvHnswInfoData info;
	MemoryContext graphCtx;
	MemoryContext tmpCtx;

	BuildElement *elements;
	int			nelements;
	int			capacity;
	int			entry;			/* -1 if empty */
	int			entryLevel;
	Size		memUsed;
	Size		memLimit;
	bool		onDisk;			/* graph flushed: insert through the pages */

	uint32	   *visitedTag;
	uint32		epoch;
	MemHeap		cand;
	MemHeap		result;
	MemCand    *scratch;

	double		indtuples;
	double		reltuples;
	pg_prng_state prng;			/* element levels: fixed seed, so that a build
								 * of the same rows in the same order is the
								 * same graph (reproducible tests, REINDEX) */
} GvHnswBuildState;

/* ---------------------------------------------------------------------------
 * Flat heaps: cand is a min-heap, result a max-heap
 * ---------------------------------------------------------------------------
 */

static inline void
MemHeapPush(MemHeap *h, float dist, int32 idx, bool max)
{
	int			i;

	if (h->count == h->size)
	{
		h->size *= 2;
		h->items = repalloc(h->items, sizeof(MemCand) * h->size);
	}
	i = h->count++;
	while (i > 0)
	{
		int			p = (i - 1) / 2;

		if (max ? h->items[p].dist >= dist : h->items[p].dist <= dist)
			break;
		h->items[i] = h->items[p];
		i = p;
	}
	h->items[i].dist = dist;
	h->items[i].idx = idx;
}

static inline MemCand
MemHeapPop(MemHeap *h, bool max)
{
	MemCand		top = h->items[0];
	MemCand		last = h->items[--h->count];
	int			i = 0;

	for (;;)
	{
		int			c = 2 * i + 1;

		if (c >= h->count)
			break;
		if (c + 1 < h->count &&
			(max ? h->items[c + 1].dist > h->items[c].dist :
			 h->items[c + 1].dist < h->items[c].dist))
			c++;
		if (max ? h->items[c].dist <= last.dist : h->items[c].dist >= last.dist)
			break;
		h->items[i] = h->items[c];
		i = c;
	}
	if (h->count > 0)
		h->items[i] = last;
	return top;
}

static inline float
Dist(GvHnswBuildState *bs, const float *a, const float *b)
{
	return GvMetricDistance(bs->info.metric, a, b, bs->info.dim);
}

/*
 * Search one level of the in-memory graph from the entry points in
 * bs->result (already visited).  Leaves the ef nearest in bs->result.
 */
static void
SearchLayerMem(GvHnswBuildState *bs, const float *q, int ef, int level)
{
	int			m = bs->info.m;
	MemHeap    *cand = &bs->cand;
	MemHeap    *result = &bs->result;

	cand->count = 0;
	bs->epoch++;
	for (int i = 0; i < result->count; i++)
	{
		MemHeapPush(cand, result->items[i].dist, result->items[i].idx, false);
		bs->visitedTag[result->items[i].idx] = bs->epoch;
	}

	while (cand->count > 0)
	{
		MemCand		c;
		BuildElement *e;
		int32	   *nbrs;
		int			n;

		if (cand->items[0].dist > result->items[0].dist && result->count >= ef)
			break;
		c = MemHeapPop(cand, false);
		e = &bs->elements[c.idx];
		nbrs = e->nbrs + GvHnswLevelStart(m, level);
		n = e->counts[level];
		for (int i = 0; i < n; i++)
		{
			int32		j = nbrs[i];
			float		d;

			if (bs->visitedTag[j] == bs->epoch)
				continue;
			bs->visitedTag[j] = bs->epoch;
#ifdef __GNUC__
			if (i + 1 < n)
				__builtin_prefetch(bs->elements[nbrs[i + 1]].vec);
#endif
			d = Dist(bs, q, bs->elements[j].vec);
			if (result->count < ef || d < result->items[0].dist)
			{
				MemHeapPush(cand, d, j, false);
				MemHeapPush(result, d, j, true);
				if (result->count > ef)
					MemHeapPop(result, true);
			}
		}
	}
}

static int
CompareMemCand(const void *a, const void *b)
{
	float		da = ((const MemCand *) a)->dist;
	float		db = ((const MemCand *) b)->dist;

	return da < db ? -1 : da > db ? 1 : 0;
}

/*
 * The selection heuristic over n candidates (distances to the base
 * element); writes at most lm of them to out, returns how many.
 */
static int
SelectMem(GvHnswBuildState *bs, MemCand *cands, int n, int lm, MemCand *out)
{
	int			nout = 0;

	qsort(cands, n, sizeof(MemCand), CompareMemCand);
	for (int i = 0; i < n && nout < lm; i++)
	{
		const float *v = bs->elements[cands[i].idx].vec;
		bool		good = true;

		for (int j = 0; j < nout; j++)
		{
			if (Dist(bs, v, bs->elements[out[j].idx].vec) < cands[i].dist)
			{
				good = false;
				break;
			}
		}
		if (good)
			out[nout++] = cands[i];
	}
	return nout;
}

/*
 * Link element a to b at level, pruning a's list with the heuristic when
 * it is full.
 */
static void
AddLinkMem(GvHnswBuildState *bs, int32 a, int32 b, float dist, int level)
{
	BuildElement *e = &bs->elements[a];
	int			m = bs->info.m;
	int			lm = GvHnswLevelSlots(m, level);
	int			start = GvHnswLevelStart(m, level);
	int			n = e->counts[level];
	MemCand    *cands = bs->scratch;
	MemCand    *out = bs->scratch + lm + 1;
	int			nout;

	if (n < lm)
	{
		e->nbrs[start + n] = b;
		e->dists[start + n] = dist;
		e->counts[level]++;
		return;
	}
	for (int i = 0; i < n; i++)
	{
		cands[i].idx = e->nbrs[start + i];
		cands[i].dist = e->dists[start + i];
	}
	cands[n].idx = b;
	cands[n].dist = dist;
	nout = SelectMem(bs, cands, n + 1, lm, out);
	for (int i = 0; i < nout; i++)
	{
		e->nbrs[start + i] = out[i].idx;
		e->dists[start + i] = out[i].dist;
	}
	e->counts[level] = nout;
}

/*
 * Insert element idx (vector and level set) into the in-memory graph.
 */
static void
InsertMem(GvHnswBuildState *bs, int32 idx)
{
	BuildElement *e = &bs->elements[idx];
	int			m = bs->info.m;
	int			level = e->level;
	int32		ep;
	float		epDist;

	if (bs->entry < 0)
	{
		bs->entry = idx;
		bs->entryLevel = level;
		return;
	}

	ep = bs->entry;
	epDist = Dist(bs, e->vec, bs->elements[ep].vec);

	/* Greedy descent through the levels above the new element's. */
	for (int l = bs->entryLevel; l > level; l--)
	{
		bool		changed = true;

		while (changed)
		{
			BuildElement *c = &bs->elements[ep];
			int32	   *nbrs = c->nbrs + GvHnswLevelStart(m, l);

			changed = false;
			for (int i = 0; i < c->counts[l]; i++)
			{
				float		d = Dist(bs, e->vec, bs->elements[nbrs[i]].vec);

				if (d < epDist)
				{
					epDist = d;
					ep = nbrs[i];
					changed = true;
				}
			}
		}
	}

	bs->result.count = 0;
	MemHeapPush(&bs->result, epDist, ep, true);

	for (int l = Min(level, bs->entryLevel); l >= 0; l--)
	{
		int			lm = GvHnswLevelSlots(m, l);
		int			start = GvHnswLevelStart(m, l);
		MemCand    *w;
		int			nw = bs->result.count;
		MemCand    *out;
		int			nout;

		SearchLayerMem(bs, e->vec, bs->info.efConstruction, l);
		nw = bs->result.count;
		w = palloc(sizeof(MemCand) * nw);
		memcpy(w, bs->result.items, sizeof(MemCand) * nw);
		out = palloc(sizeof(MemCand) * lm);
		nout = SelectMem(bs, w, nw, lm, out);
		for (int i = 0; i < nout; i++)
		{
			e->nbrs[start + i] = out[i].idx;
			e->dists[start + i] = out[i].dist;
		}
		e->counts[l] = nout;
		for (int i = 0; i < nout; i++)
			AddLinkMem(bs, out[i].idx, idx, out[i].dist, l);
		/* the ef nearest (still in result) seed the next level down */
		pfree(w);
		pfree(out);
	}

	if (level > bs->entryLevel)
	{
		bs->entry = idx;
		bs->entryLevel = level;
	}
}

/* Memory one element takes in the in-memory graph. */
static Size
ElementMemory(GvHnswBuildState *bs, int level)
{
	int			slots = GvHnswSlots(bs->info.m, level);

	return sizeof(BuildElement) + sizeof(uint32) +
		MAXALIGN(sizeof(float) * bs->info.dim) + MAXALIGN(bs->info.keyBytes) +
		MAXALIGN(slots * sizeof(int32)) + MAXALIGN(slots * sizeof(float)) +
		MAXALIGN(level + 1) + 3 * 16;	/* allocation overhead */
}

/* ---------------------------------------------------------------------------
 * Writing the graph
 * ---------------------------------------------------------------------------
 */

static void
WriteMetaPage(Relation index, ForkNumber fork, GvHnswInfo info,
			  ItemPointer entry, int entryLevel, BlockNumber insertPage)
{
	Buffer		buf = GvNewBuffer(index, fork);
	Page		page = BufferGetPage(buf);
	GvHnswMetaPage meta;

	Assert(BufferGetBlockNumber(buf) == GV_METAPAGE_BLKNO);
	START_CRIT_SECTION();
	GvHnswInitMetaPage(page, info);
	meta = GvHnswPageGetMeta(page);
	if (entry)
	{
		meta->entry = *entry;
		meta->entryLevel = entryLevel;
	}
	meta->insertPage = insertPage;
	MarkBufferDirty(buf);
	if (fork == INIT_FORKNUM)
		log_newpage_buffer(buf, true);
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);
}

/* Write a finished page as the next block of the relation. */
static void
FlushPage(Relation index, Page local)
{
	Buffer		buf = GvNewBuffer(index, MAIN_FORKNUM);

	memcpy(BufferGetPage(buf), local, BLCKSZ);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/* By the first filter column's code (NULLs last), then by build order. */
static int
CompareLayout(const void *a, const void *b, void *arg)
{
	BuildElement *elements = (BuildElement *) arg;
	BuildElement *x = &elements[*(const int32 *) a];
	BuildElement *y = &elements[*(const int32 *) b];
	uint64		kx,
				ky;

	if ((x->keyNulls & 1) != (y->keyNulls & 1))
		return (x->keyNulls & 1) ? 1 : -1;
	memcpy(&kx, x->keys, sizeof(uint64));
	memcpy(&ky, y->keys, sizeof(uint64));
	if (kx != ky)
		return kx < ky ? -1 : 1;
	return *(const int32 *) a - *(const int32 *) b;
}

/*
 * The order elements are laid out in pages.  With filter columns, elements
 * of equal first-column value are put side by side, so that a scan that
 * reads the elements a selective filter matches (hnswkeydir.c) reads about
 * half as many pages; links are item pointers, so the graph is the same.
 */
static int32 *
LayoutOrder(GvHnswBuildState *bs)
{
	int32	   *order = palloc(sizeof(int32) * Max(bs->nelements, 1));

	for (int i = 0; i < bs->nelements; i++)
		order[i] = i;
	if (bs->info.nkeys > 0)
		qsort_arg(order, bs->nelements, sizeof(int32), CompareLayout, bs->elements);
	return order;
}

/* Vectors the key directory's projection is trained on (hnswkeydir.c). */
#define HNSW_PROJ_SAMPLE_WORK	80000000.0	/* sample rows * dim */

/*
 * The key directory, after the element pages (hnswkeydir.c): first the
 * projection that gives entries their sketches, trained on an evenly
 * spread sample of the graph's vectors, then the entries.
 */
static void
WriteKeyDirectory(GvHnswBuildState *bs)
{
	GvHnswKeyDirWriterData w;
	int			nsample = Min(bs->nelements,
							  Max(64, (int) (HNSW_PROJ_SAMPLE_WORK / bs->info.dim)));
	const float **sample = palloc(sizeof(float *) * Max(nsample, 1));

	for (int i = 0; i < nsample; i++)
		sample[i] = bs->elements[(int) ((int64) i * bs->nelements / nsample)].vec;
	GvHnswProjectionTrain(bs->index, &bs->info, sample, nsample);
	pfree(sample);

	GvHnswKeyDirWriteBegin(&w, bs->index, &bs->info);
	for (int i = 0; i < bs->nelements; i++)
	{
		BuildElement *e = &bs->elements[i];

		GvHnswKeyDirWriteAdd(&w, &e->tid, &e->heaptid, e->keyNulls, e->keys, e->vec);
	}
	GvHnswKeyDirWriteEnd(&w);
}

/*
 * Lay the in-memory graph out in pages after the metapage: first assign
 * every element its item pointer, then write the tuples with neighbour
 * indexes turned into item pointers.
 */
static void
WriteGraph(GvHnswBuildState *bs)
{
	Relation	index = bs->index;
	GvHnswInfo	info = &bs->info;
	int			m = info->m;
	Page		page = palloc(BLCKSZ);
	BlockNumber blkno = 1;
	BlockNumber lastPage = InvalidBlockNumber;
	GvHnswElementTuple tup = palloc0(GvHnswTupleSize(info->dataBytes, m, info->maxLevel));
	int32	   *order = LayoutOrder(bs);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_WRITE);

	/* Pass 1: item pointers. */
	GvInitPage(page, GV_PAGE_ID_HNSW, HNSW_PAGE_ELEMENT);
	for (int i = 0; i < bs->nelements; i++)
	{
		BuildElement *e = &bs->elements[order[i]];
		Size		size = GvHnswTupleSize(info->dataBytes, m, e->level);

		if (PageGetFreeSpace(page) < size)
		{
			GvInitPage(page, GV_PAGE_ID_HNSW, HNSW_PAGE_ELEMENT);
			blkno++;
		}
		ItemPointerSet(&e->tid, blkno,
					   PageAddItem(page, (Item) tup, size, InvalidOffsetNumber, false, false));
	}

	/* Pass 2: the pages themselves. */
	WriteMetaPage(index, MAIN_FORKNUM, info,
				  bs->entry >= 0 ? &bs->elements[bs->entry].tid : NULL,
				  bs->entryLevel, bs->nelements > 0 ? blkno : InvalidBlockNumber);
	GvInitPage(page, GV_PAGE_ID_HNSW, HNSW_PAGE_ELEMENT);
	for (int i = 0; i < bs->nelements; i++)
	{
		BuildElement *e = &bs->elements[order[i]];
		Size		size = GvHnswTupleSize(info->dataBytes, m, e->level);
		float	   *dists;
		ItemPointer nbrs;

		CHECK_FOR_INTERRUPTS();
		if (ItemPointerGetOffsetNumber(&e->tid) == FirstOffsetNumber && i > 0)
		{
			FlushPage(index, page);
			GvInitPage(page, GV_PAGE_ID_HNSW, HNSW_PAGE_ELEMENT);
		}
		MemSet(tup, 0, size);
		tup->level = e->level;
		tup->capLevel = e->level;
		tup->heaptid = e->heaptid;
		tup->keyNulls = e->keyNulls;
		if (info->nkeys > 0)
			memcpy(tup->data, e->keys, info->keyBytes);
		GvHnswEncodeVector(index, info, e->vec, tup->data + info->keyBytes);
		dists = GvHnswTupleDists(tup, info->dataBytes);
		nbrs = GvHnswTupleNbrs(tup, info->dataBytes, m);
		for (int l = 0; l <= e->level; l++)
		{
			int			start = GvHnswLevelStart(m, l);

			for (int j = 0; j < GvHnswLevelSlots(m, l); j++)
			{
				if (j < e->counts[l])
				{
					nbrs[start + j] = bs->elements[e->nbrs[start + j]].tid;
					dists[start + j] = e->dists[start + j];
				}
				else
					ItemPointerSetInvalid(&nbrs[start + j]);
			}
		}
		if (PageAddItem(page, (Item) tup, size, InvalidOffsetNumber, false, false) !=
			ItemPointerGetOffsetNumber(&e->tid))
			elog(ERROR, "failed to lay out gv_hnsw element %d", i);
		lastPage = ItemPointerGetBlockNumber(&e->tid);
	}
	if (bs->nelements > 0)
		FlushPage(index, page);
	Assert(lastPage == InvalidBlockNumber || lastPage == blkno);
	pfree(page);
	pfree(tup);
	pfree(order);
	if (info->nkeys > 0)
		WriteKeyDirectory(bs);
}

/*
 * Release the in-memory graph and continue through the on-disk path.
 */
static void
SwitchToDisk(GvHnswBuildState *bs)
{
	ereport(NOTICE,
			(errmsg("gv_hnsw graph no longer fits into maintenance_work_mem after %.0f tuples",
					bs->indtuples),
			 errdetail("Building will take significantly more time."),
			 errhint("Increase maintenance_work_mem to speed up builds.")));
	WriteGraph(bs);
	MemoryContextReset(bs->graphCtx);
	bs->elements = NULL;
	bs->onDisk = true;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_LOAD);
}

static void
BuildCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			  bool tupleIsAlive, void *state)
{
	GvHnswBuildState *bs = (GvHnswBuildState *) state;
	MemoryContext old;
	float	   *vec;
	char	   *keys;
	uint8		keyNulls;
	bool		ok;

	if (isnull[0])
		return;

	old = MemoryContextSwitchTo(bs->tmpCtx);
	vec = GvHnswPrepareDatum(index, &bs->info, values[0], &ok);
	keys = palloc(Max(bs->info.keyBytes, 1));
	GvHnswEncodeKeys(&bs->info, values, isnull, keys, &keyNulls);
	if (!ok)
	{
		MemoryContextSwitchTo(old);
		MemoryContextReset(bs->tmpCtx);
		return;
	}

	if (!bs->onDisk)
	{
		int			level = GvHnswRandomLevel(&bs->prng, bs->info.m, bs->info.maxLevel);
		Size		need = ElementMemory(bs, level);
		BuildElement *e;
		int			slots = GvHnswSlots(bs->info.m, level);

		if (bs->memUsed + need > bs->memLimit && bs->nelements > 0)
			SwitchToDisk(bs);
		else
		{
			MemoryContextSwitchTo(bs->graphCtx);
			if (bs->nelements == bs->capacity)
			{
				bs->capacity *= 2;
				bs->elements = repalloc_huge(bs->elements, sizeof(BuildElement) * bs->capacity);
				bs->visitedTag = repalloc_huge(bs->visitedTag, sizeof(uint32) * bs->capacity);
				MemSet(bs->visitedTag + bs->capacity / 2, 0, sizeof(uint32) * bs->capacity / 2);
				bs->memUsed += (sizeof(BuildElement) + sizeof(uint32)) * bs->capacity / 2;
			}
			e = &bs->elements[bs->nelements];
			e->heaptid = *tid;
			e->level = level;
			e->vec = palloc(sizeof(float) * bs->info.dim);
			memcpy(e->vec, vec, sizeof(float) * bs->info.dim);
			e->keys = NULL;
			e->keyNulls = keyNulls;
			if (bs->info.nkeys > 0)
			{
				e->keys = palloc(bs->info.keyBytes);
				memcpy(e->keys, keys, bs->info.keyBytes);
			}
			e->nbrs = palloc(sizeof(int32) * slots);
			e->dists = palloc(sizeof(float) * slots);
			e->counts = palloc0(level + 1);
			bs->memUsed += need;
			MemoryContextSwitchTo(bs->tmpCtx);
			InsertMem(bs, bs->nelements++);
		}
	}
	if (bs->onDisk)
		GvHnswInsertVector(index, GvHnswGetInfo(index), vec, keys, keyNulls, tid);

	bs->indtuples++;
	if ((int64) bs->indtuples % 256 == 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->indtuples);
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpCtx);
}

/*
 * The first column is the vector (an operator class with the metric support
 * function); the others are filter columns (equality operator classes).
 * Filter columns stored as hashes need a deterministic collation, where
 * equal means equal bytes.
 */
static void
CheckColumns(Relation index)
{
	int			ncols = IndexRelationGetNumberOfKeyAttributes(index);

	if (!OidIsValid(index_getprocid(index, 1, 1)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the first column of a gv_hnsw index must be the vector"),
				 errhint("Write the vector column first: (embedding gvector_l2_ops, category).")));
	if (ncols - 1 > HNSW_MAX_KEYS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("gv_hnsw indexes at most %d filter columns after the vector", HNSW_MAX_KEYS)));
	for (int k = 2; k <= ncols; k++)
	{
		Oid			coll = index->rd_indcollation[k - 1];

		if (OidIsValid(index_getprocid(index, k, 1)))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a gv_hnsw index has one vector column, the first"),
					 errhint("Create one index per vector column.")));
		if (OidIsValid(coll) && !get_collation_isdeterministic(coll))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("gv_hnsw filter columns cannot use a nondeterministic collation")));
	}
}

/*
 * Check the indexed column and work out the index's shape.
 */
static void
InitInfo(Relation index, GvHnswInfo info)
{
	int			typmod = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;

	CheckColumns(index);
	if (typmod < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column does not have dimensions"),
				 errhint("Declare the column with dimensions, such as gvector(128).")));
	info->dim = typmod;
	info->m = GvHnswGetM(index);
	info->efConstruction = GvHnswGetEfConstruction(index);
	if (info->efConstruction < 2 * info->m)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ef_construction must be greater than or equal to 2 * m"),
				 errhint("Raise ef_construction to at least %d or lower m.", 2 * info->m)));
	info->vecBytes = 0;
	GvHnswInitKeys(index, info);
	info->storage = GvHnswChooseStorage(index, GvHnswGetStorage(index), info->dim, info->m,
										info->keyBytes);
	if (info->storage != HNSW_STORAGE_FLOAT && index->rd_index->indkey.values[0] == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("gv_hnsw with storage = %s cannot index an expression",
						GvHnswStorageName(info->storage)),
				 errhint("Scans re-rank with exact distances read from the table's column: index a column, or use storage = float32.")));
	if (info->storage != HNSW_STORAGE_FLOAT && GvHnswGetStorage(index) == HNSW_STORAGE_AUTO)
		ereport(NOTICE,
				(errmsg("gv_hnsw index \"%s\" stores its vectors as %s: %d float32 dimensions do not fit on a page with m = %d",
						RelationGetRelationName(index), GvHnswStorageName(info->storage),
						info->dim, info->m),
				 errdetail("Scans re-rank each batch with exact distances from the table.")));
	info->vecBytes = GvHnswVectorBytes(info->storage, info->dim);
	info->dataBytes = info->keyBytes + info->vecBytes;
	info->maxLevel = GvHnswMaxLevelFor(info->dataBytes, info->m);
	Assert(info->maxLevel >= 0);
	info->metric = GvIndexGetMetric(index, 1);
}

IndexBuildResult *
gvhnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	GvHnswBuildState bs;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	MemSet(&bs, 0, sizeof(bs));
	bs.heap = heap;
	bs.index = index;
	InitInfo(index, &bs.info);
	pg_prng_seed(&bs.prng, UINT64CONST(0x67766873776e6831));
	bs.graphCtx = AllocSetContextCreate(CurrentMemoryContext, "gv_hnsw build graph",
										ALLOCSET_DEFAULT_SIZES);
	bs.tmpCtx = AllocSetContextCreate(CurrentMemoryContext, "gv_hnsw build tuple",
									  ALLOCSET_DEFAULT_SIZES);
	bs.memLimit = (Size) maintenance_work_mem * 1024;
	bs.capacity = 1024;
	bs.elements = MemoryContextAlloc(bs.graphCtx, sizeof(BuildElement) * bs.capacity);
	bs.visitedTag = MemoryContextAllocZero(bs.graphCtx, sizeof(uint32) * bs.capacity);
	bs.memUsed = (sizeof(BuildElement) + sizeof(uint32)) * bs.capacity;
	bs.entry = -1;
	bs.cand.size = bs.result.size = 256;
	bs.cand.items = MemoryContextAlloc(bs.graphCtx, sizeof(MemCand) * 256);
	bs.result.items = MemoryContextAlloc(bs.graphCtx, sizeof(MemCand) * 256);
	bs.scratch = MemoryContextAlloc(bs.graphCtx,
									sizeof(MemCand) * 2 * (2 * bs.info.m + 1));

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_LOAD);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL,
								 (int64) Max(heap->rd_rel->reltuples, 0));
	bs.reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
										  BuildCallback, &bs, NULL);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs.indtuples);

	if (!bs.onDisk)
		WriteGraph(&bs);
	GvLogBuiltIndex(index);

	MemoryContextDelete(bs.graphCtx);
	MemoryContextDelete(bs.tmpCtx);

	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = bs.reltuples;
	result->index_tuples = bs.indtuples;
	return result;
}

/*
 * The init fork of an unlogged index: an empty graph's metapage.
 */
void
gvhnswbuildempty(Relation index)
{
	GvHnswInfoData info;

	MemSet(&info, 0, sizeof(info));
	InitInfo(index, &info);
	WriteMetaPage(index, INIT_FORKNUM, &info, NULL, 0, InvalidBlockNumber);
}
