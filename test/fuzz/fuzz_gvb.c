/*
 * fuzz_gvb.c
 *	  libFuzzer target: the .gvb reader (src/backup/gvbread.c), the push
 *	  parser behind gigavector.restore, backup_verify and backup_info.  The
 *	  input's first byte sets the size of the pieces the rest is fed in
 *	  (1 .. 256 bytes), so the reader's reassembly of units split across
 *	  pieces is fuzzed too; every row of every frame is read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <zstd.h>

#include "backup/gvb.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *
Alloc(size_t size, void *arg)
{
	(void) arg;
	return malloc(size);
}

static void
Free(void *ptr, void *arg)
{
	(void) arg;
	free(ptr);
}

static void
ReadRows(GvbReader *r)
{
	const uint8 *values[GVB_MAX_COLUMNS];
	int32		lengths[GVB_MAX_COLUMNS];

	while (GvbReaderNextRow(r, values, lengths))
		;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ZSTD_DCtx *dctx;
	GvbAllocator mem = {Alloc, Free, NULL};
	GvbReader	r;
	size_t		piece;
	GvbEvent	ev = GVB_MORE;

	if (size == 0)
		return 0;
	if (dctx == NULL)
		dctx = ZSTD_createDCtx();
	piece = (size_t) data[0] + 1;
	data++;
	size--;
	GvbReaderInit(&r, &mem, dctx);
	while (size > 0 && ev != GVB_FAILED)
	{
		size_t		len = size < piece ? size : piece;
		size_t		used;

		ev = GvbReaderFeed(&r, data, len, &used);
		if (used > len)
			abort();
		data += used;
		size -= used;
		if (ev == GVB_FRAME)
			ReadRows(&r);
	}
	if (ev != GVB_FAILED)
		(void) GvbReaderFinish(&r);
	GvbReaderFree(&r);
	return 0;
}
