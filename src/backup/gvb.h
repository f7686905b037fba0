/*
 * gvb.h
 *	  The .gvb backup format (layout in src/backup/README): constants, and
 *	  the plain C core that writes and reads it.
 *
 * The core (gvbwrite.c, gvbread.c) depends on c.h, pg_crc32c and libzstd
 * only: no palloc, no ereport, no server state.  The extension calls it
 * from gvbackup.c; a fuzzer or a command-line tool can link it with
 * libpgport and libzstd.  Errors come back as a false or GVB_FAILED return
 * with a message in the caller's buffer; memory comes from the caller's
 * GvbAllocator.
 */
#ifndef GVB_H
#define GVB_H

#include "c.h"
#include "port/pg_crc32c.h"

#define GVB_MAGIC				"\x89GVB\r\n\x1a\n"
#define GVB_MAGIC_LEN			8
#define GVB_FORMAT_VERSION		1	/* what the writer writes */
#define GVB_MIN_FORMAT_VERSION	1	/* the oldest the reader reads */

#define GVB_PREFIX_SIZE			20	/* magic, version, flags, body length, CRC */
#define GVB_BODY_FIXED			20	/* rows .. frame target */
#define GVB_BLOCK_SIZE			40	/* a frame's header, or the trailer's
									 * first part */
#define GVB_TRAILER_SIZE		44	/* the trailer block + the whole-file CRC */
#define GVB_FRAME_TAG			"GVBF"
#define GVB_TRAILER_TAG			"GVBT"

#define GVB_MAX_HEADER_BODY		(16 * 1024 * 1024)
#define GVB_MAX_FRAME_BYTES		(256 * 1024 * 1024) /* raw or stored */
#define GVB_MAX_COLUMNS			1600
#define GVB_NAME_MAX			63

/* header: compression */
#define GVB_COMPRESSION_NONE	0
#define GVB_COMPRESSION_ZSTD	1

/* column: how values are written */
#define GVB_FORMAT_BINARY		0	/* the type's send function (recv reads
									 * it) */
#define GVB_FORMAT_TEXT			1	/* the type's output function, in UTF-8 */

/* column: filter applied to its data in frames of encoding ZSTD_SHUFFLE */
#define GVB_FILTER_NONE			0
#define GVB_FILTER_SHUFFLE4		1	/* bytes regrouped by position mod 4 */

/* frame: encoding of the payload */
#define GVB_ENCODING_RAW		0
#define GVB_ENCODING_ZSTD		1
#define GVB_ENCODING_ZSTD_SHUFFLE 2

#define GVB_NULL_LENGTH			(-1)

typedef struct GvbColumn
{
	uint8		format;
	uint8		filter;
	uint8		namelen;
	char		name[GVB_NAME_MAX + 1];
} GvbColumn;

typedef struct GvbHeader
{
	uint16		version;
	uint16		flags;
	uint64		rows;
	uint32		dimension;		/* of the first gvector column; 0: none */
	uint16		ncolumns;
	uint8		compression;
	int8		level;
	uint32		frameTarget;	/* raw bytes a frame aims at */
	GvbColumn  *columns;		/* ncolumns */
	const char *gvVersion;		/* not NUL-terminated */
	uint16		gvVersionLen;
	const char *json;			/* not NUL-terminated */
	uint32		jsonLen;
} GvbHeader;

typedef struct GvbFrame
{
	uint32		number;
	uint64		firstRow;
	uint32		rows;
	uint32		rawLen;
	uint32		storedLen;
	uint8		encoding;
	uint64		offset;			/* of its first byte in the file */
} GvbFrame;

typedef struct GvbTrailer
{
	uint32		frames;
	uint64		rows;
	uint64		rawBytes;
	uint64		fileLength;
} GvbTrailer;

typedef struct GvbAllocator
{
	void	   *(*alloc) (size_t size, void *arg);	/* NULL on failure */
	void		(*free) (void *ptr, void *arg);
	void	   *arg;
} GvbAllocator;

#define GVB_ERROR_LEN 256

/* where each column's lengths and data lie in a frame's raw payload */
typedef struct GvbLayout
{
	uint32		lengthsAt;
	uint32		dataAt;
	uint32		dataLen;
} GvbLayout;

/* gvbwrite.c */
typedef struct GvbWriter
{
	pg_crc32c	fileCrc;		/* running CRC of everything written */
	uint64		length;
	uint32		frames;
	uint64		rows;
	uint64		rawBytes;
} GvbWriter;

extern void GvbWriterInit(GvbWriter *w);
extern size_t GvbHeaderSize(const GvbHeader *h);
extern void GvbHeaderEncode(GvbWriter *w, const GvbHeader *h, uint8 *out);
extern size_t GvbFrameBound(uint32 rawLen);
extern size_t GvbFrameEncode(const GvbWriter *w, const GvbHeader *h, uint32 rows,
							 const uint8 *raw, uint32 rawLen, int encoding, int level,
							 void *cctx, uint8 *scratch, uint8 *out, char *error);
extern void GvbWriterAddFrame(GvbWriter *w, const uint8 *frame, size_t len,
							  uint32 rows, uint32 rawLen);
extern void GvbTrailerEncode(GvbWriter *w, uint8 *out);
extern bool GvbRawLayout(const GvbHeader *h, uint32 rows, const uint8 *raw, uint32 rawLen,
						 GvbLayout *layout, char *error);
extern void GvbShuffle4(const uint8 *in, uint8 *out, size_t n);
extern void GvbUnshuffle4(const uint8 *in, uint8 *out, size_t n);
extern void GvbPut16(uint8 *p, uint16 v);
extern void GvbPut32(uint8 *p, uint32 v);
extern void GvbPut64(uint8 *p, uint64 v);
extern uint16 GvbGet16(const uint8 *p);
extern uint32 GvbGet32(const uint8 *p);
extern uint64 GvbGet64(const uint8 *p);
extern pg_crc32c GvbCrc(const uint8 *data, size_t len);

/* gvbread.c: a push parser, fed bytes in pieces of any size */
typedef enum GvbEvent
{
	GVB_MORE,					/* all input consumed; feed more */
	GVB_HEADER,					/* r->header is complete */
	GVB_FRAME,					/* r->frame is decoded: read its rows */
	GVB_END,					/* the trailer checked out; r->trailer */
	GVB_FAILED					/* r->error says what and where */
} GvbEvent;

typedef struct GvbReader
{
	GvbAllocator mem;
	void	   *dctx;			/* a ZSTD_DCtx of the caller's */
	int			state;
	uint8	   *unit;			/* the piece being assembled */
	size_t		unitCap;
	size_t		have;
	size_t		need;
	uint64		offset;			/* file offset of the next byte */
	uint64		unitOffset;
	pg_crc32c	fileCrc;
	uint8	   *body;
	GvbHeader	header;
	GvbFrame	frame;
	uint8	   *raw;
	size_t		rawCap;
	uint8	   *scratch;
	size_t		scratchCap;
	GvbLayout  *layout;			/* ncolumns, of the current frame */
	uint32	   *cursor;			/* ncolumns: next value's offset in its data */
	uint32		row;			/* next row of the current frame */
	uint32		frames;
	uint64		rows;
	uint64		rawBytes;
	GvbTrailer	trailer;
	char		error[GVB_ERROR_LEN];
} GvbReader;

extern void GvbReaderInit(GvbReader *r, const GvbAllocator *mem, void *dctx);
extern GvbEvent GvbReaderFeed(GvbReader *r, const uint8 *data, size_t len, size_t *used);
extern GvbEvent GvbReaderFinish(GvbReader *r);
extern bool GvbReaderNextRow(GvbReader *r, const uint8 **values, int32 *lengths);
extern void GvbReaderFree(GvbReader *r);

#endif							/* GVB_H */
