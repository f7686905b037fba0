/*
 * gvbackup.h
 *	  What the server side of backups (gvbackup.c: gigavector.backup;
 *	  gvrestore.c: gigavector.restore, backup_verify, backup_info) shares on
 *	  top of the plain format core in gvb.h.
 */
#ifndef GVBACKUP_H
#define GVBACKUP_H

#include "backup/gvb.h"
#include "utils/palloc.h"

/* raw bytes a frame aims at: large enough for zstd, small enough to stream */
#define GVB_FRAME_TARGET		(1024 * 1024)

extern GvbAllocator GvbContextAllocator(MemoryContext cxt);
extern void *GvbCompressContext(void);
extern void *GvbDecompressContext(void);
extern Oid	GvbExtensionSchema(void);
extern Oid	GvbGvectorTypeOid(void);
extern void GvbCheckServerFile(const char *path, bool write);

#endif							/* GVBACKUP_H */
