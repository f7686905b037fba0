/*
 * compat.h
 *	  Every PostgreSQL version difference gigavector has to paper over, and
 *	  every use of a PostgreSQL internal that is not part of the extension
 *	  API, each with the versions it holds for.
 *
 * gigavector is built and tested against PostgreSQL 15 only (the Debian 12
 * packages), and refuses to build against any other major version: the
 * internals below, and the on-disk formats of the access methods, have
 * been checked for 15 alone.  Supporting another version starts here.
 */
#ifndef GV_COMPAT_H
#define GV_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 160000
#error "gigavector supports PostgreSQL 15 only (see src/compat.h)"
#endif

#endif							/* GV_COMPAT_H */

/*
 * Shared buffer descriptors, read without their header locks (gv_hnsw's
 * memo of recent buffers, hnswsearch.c): only a file that defines
 * GV_COMPAT_BUFFER_INTERNALS before including this header gets them, so
 * that storage/buf_internals.h stays out of everything else.
 *
 * PostgreSQL 15: BufferTag is { RelFileNode rnode; ForkNumber forkNum;
 * BlockNumber blockNum; } and GetBufferDescriptor takes a 0-based index.
 * PostgreSQL 16 renames the tag's fields (spcOid, dbOid, relNumber with
 * BufTagGetRelFileLocator); both functions below are where that would go.
 */
#if defined(GV_COMPAT_BUFFER_INTERNALS) && !defined(GV_COMPAT_BUFFER_INTERNALS_DONE)
#define GV_COMPAT_BUFFER_INTERNALS_DONE

#include "storage/buf_internals.h"

/*
 * The page shared buffer i (0-based) held when its tag was read, without
 * the header lock: the tag may be torn or stale, so the answer is only a
 * hint that ReadRecentBuffer must confirm.  Returns the buffer if it held
 * a page of node's main fork, InvalidBuffer otherwise.
 */
static inline Buffer
GvPeekSharedBuffer(int i, RelFileNode node, BlockNumber *blkno)
{
	BufferDesc *desc = GetBufferDescriptor(i);
	BufferTag	tag = desc->tag;

	if (!RelFileNodeEquals(tag.rnode, node) || tag.forkNum != MAIN_FORKNUM)
		return InvalidBuffer;
	*blkno = tag.blockNum;
	return BufferDescriptorGetBuffer(desc);
}

/* The descriptor of shared buffer buf and its size, for prefetching only. */
static inline const void *
GvSharedBufferDescriptor(Buffer buf, Size *len)
{
	*len = sizeof(BufferDesc);
	return GetBufferDescriptor(buf - 1);
}

#endif							/* GV_COMPAT_BUFFER_INTERNALS */

/*
 * Other backends' PGPROC slots by number (the GPU worker's wake-ups,
 * worker/gpu.c), for a file that defines GV_COMPAT_PROCS.
 *
 * PostgreSQL 15 and 16: MyProc->pgprocno and ProcGlobal->allProcs[n].
 * PostgreSQL 17 replaces pgprocno by MyProcNumber and GetPGProcByNumber.
 */
#if defined(GV_COMPAT_PROCS) && !defined(GV_COMPAT_PROCS_DONE)
#define GV_COMPAT_PROCS_DONE

#include "storage/latch.h"
#include "storage/proc.h"

/* this backend's PGPROC number */
static inline int
GvMyProcNumber(void)
{
	return MyProc->pgprocno;
}

/* wake the backend whose PGPROC number is procno */
static inline void
GvSetProcLatch(int procno)
{
	SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

#endif							/* GV_COMPAT_PROCS */
