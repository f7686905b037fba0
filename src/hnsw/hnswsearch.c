/*
 * hnswsearch.c
 *	  Searching a gv_hnsw index on disk: the memo of the buffers that held
 *	  its pages, prefetching, the layer search and the greedy descent.
 *
 * Scans (hnswscan.c), inserts (hnswinsert.c) and VACUUM's repair
 * (hnswvacuum.c) all search the graph through these.
 */
/* the memo of recent buffers peeks at buffer descriptors: compat.h */
#define GV_COMPAT_BUFFER_INTERNALS
#include "compat.h"

#include <float.h>
#include <math.h>

#include "hnsw.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"

/* ---------------------------------------------------------------------------
 * Page access for searches
 * ---------------------------------------------------------------------------
 */

/*
 * Which buffer held each element page when this backend last read it, for
 * a few indexes (by relfilenode and owning backend, so a REINDEX just
 * starts a new entry and a temporary index never meets a permanent one's
 * shared buffers).  Every query of an index walks the same upper levels and mostly the same
 * neighbourhoods, so a search usually finds a page where it last saw it:
 * ReadRecentBuffer then pins it without the buffer mapping table lookup,
 * which was the largest single cost of visiting an element.  A remembered
 * buffer that now holds another page is only a miss (ReadRecentBuffer
 * checks the tag under the buffer header lock), so nothing here needs
 * invalidation.  Kept in TopMemoryContext, not in rd_amcache: relcache
 * invalidations (every VACUUM or ANALYZE of the table) free rd_amcache
 * but would leak a separate array hanging off it.
 */
#define HNSW_RECENT_INDEXES		4
#define HNSW_RECENT_MAX_BLOCKS	(1 << 22)	/* 32 GB of index at 8 kB pages */
#define HNSW_RECENT_SCAN_STEP	8192	/* buffer descriptors read per search */

struct GvHnswRecentBuffersData
{
	RelFileNode node;
	BackendId	backend;		/* rd_backend: temporary indexes are local */
	Buffer	   *buffers;		/* by block number; InvalidBuffer = unknown */
	BlockNumber nblocks;		/* allocated entries */
	int			scanNext;		/* next buffer descriptor to learn from */
};

typedef struct GvHnswRecentBuffersData RecentBuffers;

static RecentBuffers recentBuffers[HNSW_RECENT_INDEXES];
static int	recentNext;			/* entry to replace next */

/* Remember that buf held blkno, making room for it if need be. */
static void
RememberBuffer(RecentBuffers *recent, BlockNumber blkno, Buffer buf)
{
	if (blkno >= recent->nblocks)
	{
		BlockNumber n;

		if (blkno >= HNSW_RECENT_MAX_BLOCKS)
			return;
		n = Max(blkno + 1, Min(2 * recent->nblocks, HNSW_RECENT_MAX_BLOCKS));
		recent->buffers = repalloc(recent->buffers, sizeof(Buffer) * n);
		memset(recent->buffers + recent->nblocks, 0,
			   sizeof(Buffer) * (n - recent->nblocks));
		recent->nblocks = n;
	}
	recent->buffers[blkno] = buf;
}

/*
 * A new backend knows no buffer yet, and until it does a search gets
 * neither the cheap pin nor the prefetching: read the next stretch of
 * shared buffer descriptors and remember those that hold pages of the
 * index.  The tags are read without the header locks, so one may be torn
 * or stale; ReadRecentBuffer checks it before any use.  A stretch per
 * search bounds the cost (under 0.1 ms) however large shared_buffers is;
 * after NBuffers / HNSW_RECENT_SCAN_STEP searches the memo knows every
 * page of the index that was in shared buffers when the backend started.
 */
static void
LearnFromDescriptors(RecentBuffers *recent)
{
	int			end = Min(recent->scanNext + HNSW_RECENT_SCAN_STEP, NBuffers);

	if (recent->backend != InvalidBackendId)
	{
		recent->scanNext = NBuffers;	/* a temporary index: local buffers */
		return;
	}
	for (int i = recent->scanNext; i < end; i++)
	{
		BlockNumber blkno;
		Buffer		buf = GvPeekSharedBuffer(i, recent->node, &blkno);

		if (BufferIsValid(buf) &&
			(blkno >= recent->nblocks || !BufferIsValid(recent->buffers[blkno])))
			RememberBuffer(recent, blkno, buf);
	}
	recent->scanNext = end;
}

/* The memo for index, made or taken over if there is none yet. */
RecentBuffers *
GvHnswGetRecentBuffers(Relation index)
{
	RecentBuffers *r = NULL;

	for (int i = 0; i < HNSW_RECENT_INDEXES && r == NULL; i++)
		if (recentBuffers[i].buffers != NULL &&
			RelFileNodeEquals(recentBuffers[i].node, index->rd_node) &&
			recentBuffers[i].backend == index->rd_backend)
			r = &recentBuffers[i];
	if (r == NULL)
	{
		r = &recentBuffers[recentNext];
		recentNext = (recentNext + 1) % HNSW_RECENT_INDEXES;
		if (r->buffers == NULL)
		{
			r->nblocks = 1024;
			r->buffers = MemoryContextAllocZero(TopMemoryContext, sizeof(Buffer) * r->nblocks);
		}
		else
			memset(r->buffers, 0, sizeof(Buffer) * r->nblocks);
		r->node = index->rd_node;
		r->backend = index->rd_backend;
		r->scanNext = 0;
	}
	if (r->scanNext < NBuffers)
		LearnFromDescriptors(r);
	return r;
}

/*
 * Pin page blkno (no lock), through the memo of recent buffers.  Counted in
 * the index's statistics like ReadBuffer.
 */
Buffer
GvHnswPinPage(Relation index, RecentBuffers *recent, BlockNumber blkno)
{
	Buffer		buf;

	if (blkno < recent->nblocks && BufferIsValid(recent->buffers[blkno]) &&
		ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, blkno, recent->buffers[blkno]))
	{
		pgstat_count_buffer_read(index);
		pgstat_count_buffer_hit(index);
		return recent->buffers[blkno];
	}
	buf = ReadBuffer(index, blkno);
	RememberBuffer(recent, blkno, buf);
	return buf;
}

/*
 * Ask the CPU to start loading [p, p + len) into its caches.  The pages a
 * search visits are rarely in the CPU's caches; starting the loads for the
 * next neighbours while one neighbour's distance is computed hides most of
 * that latency.  Only a hint: an address that turns out wrong costs nothing.
 * Always inlined: GCC takes a function that only prefetches for a pure
 * one and drops the calls.
 */
static pg_attribute_always_inline void
PrefetchRange(const void *p, Size len)
{
#if defined(__GNUC__) || defined(__clang__)
	for (Size off = 0; off < len; off += 64)
		__builtin_prefetch((const char *) p + off);
#endif
}

/*
 * The page that the memo says holds blkno, or NULL: a shared buffer's
 * address, valid memory whatever the buffer holds now, for prefetching
 * only.  Nothing read through it without a pin and a lock may be trusted.
 */
static pg_attribute_always_inline Page
RecentPageHint(RecentBuffers *recent, BlockNumber blkno)
{
	Buffer		buf = blkno < recent->nblocks ? recent->buffers[blkno] : InvalidBuffer;

	return buf > 0 ? (Page) BufferGetBlock(buf) : NULL; /* local buffers: no
														 * hint */
}

/*
 * Start loading what pinning and locking the page of tid will touch first:
 * its buffer descriptor and the page's line pointer for tid.
 */
static pg_attribute_always_inline void
PrefetchPin(RecentBuffers *recent, ItemPointer tid)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	Page		page = RecentPageHint(recent, blkno);
	const void *desc;
	Size		desclen;

	if (page == NULL)
		return;
	desc = GvSharedBufferDescriptor(recent->buffers[blkno], &desclen);
	PrefetchRange(desc, desclen);
	PrefetchRange(PageGetItemId(page, ItemPointerGetOffsetNumber(tid)), sizeof(ItemIdData));
}

/*
 * Start loading the part of the element at tid that a visit reads (head,
 * keys, vector).  The line pointer is read without pin or lock, so it may
 * be stale or garbage: it only steers the prefetch.
 */
static pg_attribute_always_inline void
PrefetchElement(GvHnswInfo info, RecentBuffers *recent, ItemPointer tid)
{
	Page		page = RecentPageHint(recent, ItemPointerGetBlockNumber(tid));
	Size		len = offsetof(GvHnswElementTupleData, data) + info->dataBytes;
	Size		off;

	if (page == NULL)
		return;
	off = ItemIdGetOffset(PageGetItemId(page, ItemPointerGetOffsetNumber(tid)));
	if (off <= BLCKSZ - len)
		PrefetchRange(page + off, len);
}

/*
 * Ask the kernel to read the pages of the neighbours about to be visited
 * that may not be in shared buffers: those the memo does not know.  When
 * the index is larger than shared buffers, or after a restart, each visit
 * to such a page would otherwise wait for its read in turn; with the reads
 * of all a list's neighbours started at once they overlap.  A page found in
 * shared buffers meanwhile is remembered, so that the visit pins it
 * through the memo.  effective_io_concurrency = 0 turns this off.
 */
static void
PrefetchPages(Relation index, RecentBuffers *recent, ItemPointerData *nbrs, int n)
{
#ifdef USE_PREFETCH
	if (effective_io_concurrency <= 0)
		return;
	for (int i = 0; i < n; i++)
	{
		BlockNumber blkno = ItemPointerGetBlockNumber(&nbrs[i]);
		PrefetchBufferResult r;

		if (blkno < recent->nblocks && BufferIsValid(recent->buffers[blkno]))
			continue;
		r = PrefetchBuffer(index, MAIN_FORKNUM, blkno);
		if (BufferIsValid(r.recent_buffer))
			RememberBuffer(recent, blkno, r.recent_buffer);
	}
#endif
}

/* ---------------------------------------------------------------------------
 * On-disk search
 * ---------------------------------------------------------------------------
 */

/*
 * How many neighbours ahead of the one being visited a search has its
 * element's tuple loading into the CPU's caches.
 */
#define HNSW_PREFETCH_AHEAD		1

/*
 * The neighbours at level of the element at tid that are not in visited yet,
 * added to it and written to nbrs; returns how many.
 */
static int
UnvisitedNeighbours(Relation index, GvHnswInfo info, RecentBuffers *recent,
					ItemPointer tid, int level, GvHnswTidSet visited,
					ItemPointerData *nbrs)
{
	Buffer		buf = GvHnswPinPage(index, recent, ItemPointerGetBlockNumber(tid));
	GvHnswElementTuple tup;
	int			n = 0;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	tup = GvHnswGetElementLocked(index, BufferGetPage(buf), tid);
	if (tup->level >= level)
	{
		int			m = info->m;
		ItemPointer src = GvHnswTupleNbrs(tup, info->dataBytes, m) + GvHnswLevelStart(m, level);

		for (int i = 0; i < GvHnswLevelSlots(m, level); i++)
			if (ItemPointerIsValid(&src[i]) && GvHnswTidSetAdd(visited, &src[i]))
				nbrs[n++] = src[i];
	}
	UnlockReleaseBuffer(buf);
	return n;
}

/*
 * Search one layer (Algorithm 2 of the paper), resumable.
 *
 * cand is the min-heap of discovered, unexpanded elements; result the
 * max-heap of the ef nearest returnable elements found (tombstones are
 * expanded but never enter it).  With a discard heap, every discovered
 * element is kept: ones pushed out of result go to discard and all stay
 * in cand, so a scan can resume the search for more rows later.  Stops
 * when the nearest unexpanded element is farther than the ef-th result,
 * or after maxVisited elements (*visitedCount counts them).
 *
 * Expanding an element reads its neighbour list, then visits the unvisited
 * neighbours one at a time, each distance computed on the share-locked
 * page.  Before that, the CPU is asked to load what the visits will touch
 * (PrefetchPin, PrefetchElement), so that the cache misses of several
 * neighbours overlap instead of stalling one visit after the other.
 */
void
GvHnswSearchLayerDisk(Relation index, GvHnswInfo info, const float *q,
					  GvHnswHeap cand, GvHnswHeap result, GvHnswHeap discard,
					  GvHnswTidSet visited, int ef, int level,
					  GvKeyFilter filter, int64 *visitedCount, int64 maxVisited)
{
	int			dim = info->vecFloats;
	int			nslots = GvHnswLevelSlots(info->m, level);
	ItemPointerData *nbrs = palloc(sizeof(ItemPointerData) * nslots);
	float	   *decoded = palloc(sizeof(float) * dim);
	uint8	   *qbits = GvHnswQueryBits(info, q);
	RecentBuffers *recent = GvHnswGetRecentBuffers(index);

	while (cand->count > 0)
	{
		GvHnswCandidate c;
		int			n;

		CHECK_FOR_INTERRUPTS();

		if (result->count >= ef && GvHnswHeapTop(cand)->dist > GvHnswHeapTop(result)->dist)
			break;
		if (*visitedCount >= maxVisited)
			break;
		c = GvHnswHeapPop(cand);
		n = UnvisitedNeighbours(index, info, recent, &c.tid, level, visited, nbrs);
		*visitedCount += n;

		/* pages from disk first, then descriptors, line pointers, tuples */
		PrefetchPages(index, recent, nbrs, n);
		for (int i = 0; i < n; i++)
			PrefetchPin(recent, &nbrs[i]);
		for (int i = 0; i < n && i < HNSW_PREFETCH_AHEAD; i++)
			PrefetchElement(info, recent, &nbrs[i]);

		for (int i = 0; i < n; i++)
		{
			Buffer		buf;
			GvHnswElementTuple tup;
			GvHnswCandidate e;
			bool		live;

			if (i + HNSW_PREFETCH_AHEAD < n)
				PrefetchElement(info, recent, &nbrs[i + HNSW_PREFETCH_AHEAD]);
			buf = GvHnswPinPage(index, recent, ItemPointerGetBlockNumber(&nbrs[i]));
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			tup = GvHnswGetElementLocked(index, BufferGetPage(buf), &nbrs[i]);
			e.dist = GvHnswElementDistance(info, q, qbits, tup, decoded);
			e.tid = nbrs[i];
			e.heaptid = tup->heaptid;
			e.toastid = GvHnswCandidateToastId(tup);
			live = !(tup->flags & HNSW_ELEMENT_DELETED) && GvHnswKeysMatch(tup, filter);
			UnlockReleaseBuffer(buf);

			if (result->count < ef || e.dist < GvHnswHeapTop(result)->dist)
			{
				GvHnswHeapPush(cand, &e);
				if (live)
				{
					GvHnswHeapPush(result, &e);
					if (result->count > ef)
					{
						GvHnswCandidate out = GvHnswHeapPop(result);

						if (discard)
							GvHnswHeapPush(discard, &out);
					}
				}
			}
			else if (discard)
			{
				GvHnswHeapPush(cand, &e);
				if (live)
					GvHnswHeapPush(discard, &e);
			}
		}
	}
	pfree(nbrs);
	pfree(decoded);
	if (qbits)
		pfree(qbits);
}

/*
 * Greedy descent from the entry point through the levels above toLevel.
 * ep gets the nearest element found at level toLevel + 1 (or the entry
 * point itself).  The entry point may be a tombstone: it still routes.
 */
void
GvHnswFindEntry(Relation index, GvHnswInfo info, const float *q,
				GvHnswMetaPageData *meta, int toLevel, GvHnswCandidate *ep)
{
	GvHnswElementTuple tup = palloc(GvHnswTupleSize(info->dataBytes, info->m, info->maxLevel));
	float	   *decoded = palloc(sizeof(float) * info->vecFloats);

	ep->tid = meta->entry;
	GvHnswGetElementCopy(index, info, &ep->tid, tup);
	ep->dist = GvHnswDistance(info, q, GvHnswElementVector(info, tup, decoded));
	ep->heaptid = tup->heaptid;
	ep->toastid = GvHnswCandidateToastId(tup);
	pfree(tup);
	pfree(decoded);

	for (int level = meta->entryLevel; level > toLevel; level--)
	{
		GvHnswHeapData cand;
		GvHnswHeapData result;
		GvHnswTidSetData visited;
		int64		count = 0;

		GvHnswHeapInit(&cand, 64, false);
		GvHnswHeapInit(&result, 4, true);
		GvHnswTidSetInit(&visited, 256);
		GvHnswTidSetAdd(&visited, &ep->tid);
		GvHnswHeapPush(&cand, ep);
		GvHnswHeapPush(&result, ep);
		GvHnswSearchLayerDisk(index, info, q, &cand, &result, NULL, &visited,
							  1, level, NULL, &count, PG_INT64_MAX);
		/* result may have dropped a tombstone entry point; keep the best */
		while (result.count > 0)
		{
			GvHnswCandidate c = GvHnswHeapPop(&result);

			if (c.dist <= ep->dist)
				*ep = c;
		}
		pfree(cand.items);
		pfree(result.items);
		GvHnswTidSetFree(&visited);
	}
}
