/*
 * gvbread.c
 *	  Reading the .gvb format: a push parser that takes the file in pieces
 *	  of any size (a server file read in blocks, chunks a client sends, a
 *	  fuzzer's buffer) and reports the header, each decoded frame and the
 *	  end, checking every checksum and every count on the way.
 *
 * Every byte of a file is covered by a CRC-32C that sits at a place found
 * from bytes already checked: the prefix (with the header's length) by its
 * own CRC, the header body by the next, each frame's 40-byte block (with
 * the payload's length) by its CRC, the payload by the CRC after it, the
 * trailer block by its CRC and everything by the whole-file CRC at the end.
 * CRC-32C catches every error within 32 consecutive bits, so any single
 * damaged byte is found, and reported with the frame and byte offset it
 * is in; a file cut anywhere is reported as truncated, saying where.
 *
 * Plain C (see gvb.h): memory through the caller's GvbAllocator, errors in
 * r->error.
 */
#include "gvb.h"

#include <stdio.h>
#include <string.h>
#include <zstd.h>

enum
{
	S_PREFIX,
	S_BODY,
	S_BLOCK,
	S_PAYLOAD,
	S_FILE_CRC,
	S_DONE,
	S_FAILED
};

#define GVB_MAX_VERSION_LEN 64

/* Set r->error (printf-style) and enter the failed state. */
static GvbEvent Fail(GvbReader *r, const char *fmt,...) pg_attribute_printf(2, 3);

static GvbEvent
Fail(GvbReader *r, const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	vsnprintf(r->error, GVB_ERROR_LEN, fmt, args);
	va_end(args);
	r->state = S_FAILED;
	return GVB_FAILED;
}

/* Memory through the caller's allocator. */
static void *
Alloc(GvbReader *r, size_t size)
{
	return r->mem.alloc(size, r->mem.arg);
}

/* Give back what Alloc gave (NULL is nothing). */
static void
Release(GvbReader *r, void *p)
{
	if (p != NULL)
		r->mem.free(p, r->mem.arg);
}

/* Make *buf hold at least size bytes (contents not kept). */
static bool
Reserve(GvbReader *r, uint8 **buf, size_t *cap, size_t size)
{
	if (*cap >= size && *buf != NULL)
		return true;
	Release(r, *buf);
	*buf = Alloc(r, Max(size, 64));
	*cap = *buf ? Max(size, 64) : 0;
	return *buf != NULL;
}

static GvbEvent Expect(GvbReader *r, int state, size_t need);

/*
 * mem allocates; dctx is a ZSTD_DCtx the caller owns (the reader never
 * frees it).
 */
void
GvbReaderInit(GvbReader *r, const GvbAllocator *mem, void *dctx)
{
	memset(r, 0, sizeof(*r));
	r->mem = *mem;
	r->dctx = dctx;
	INIT_CRC32C(r->fileCrc);
	(void) Expect(r, S_PREFIX, GVB_PREFIX_SIZE);
}

/* Give back everything the reader allocated (the zstd context is the caller's). */
void
GvbReaderFree(GvbReader *r)
{
	Release(r, r->unit);
	Release(r, r->body);
	Release(r, r->raw);
	Release(r, r->scratch);
	Release(r, r->layout);
	Release(r, r->cursor);
	Release(r, r->header.columns);
	r->unit = r->body = r->raw = r->scratch = NULL;
	r->layout = NULL;
	r->cursor = NULL;
	r->header.columns = NULL;
}

/* Expect the next unit: need bytes into the unit buffer. */
static GvbEvent
Expect(GvbReader *r, int state, size_t need)
{
	r->state = state;
	r->need = need;
	r->have = 0;
	r->unitOffset = r->offset;
	if (!Reserve(r, &r->unit, &r->unitCap, need))
		return Fail(r, "out of memory for %zu bytes", need);
	return GVB_MORE;
}

/* The fixed prefix: magic, a version this code reads, the body length. */
static GvbEvent
ParsePrefix(GvbReader *r)
{
	const uint8 *p = r->unit;
	uint32		bodyLen;

	if (memcmp(p, GVB_MAGIC, GVB_MAGIC_LEN) != 0)
		return Fail(r, "not a .gvb file (no gigavector backup signature at byte 0)");
	if (GvbGet32(p + 16) != GvbCrc(p, 16))
		return Fail(r, "header (bytes 8-19): checksum mismatch");
	r->header.version = GvbGet16(p + 8);
	r->header.flags = GvbGet16(p + 10);
	bodyLen = GvbGet32(p + 12);
	if (r->header.version < GVB_MIN_FORMAT_VERSION || r->header.version > GVB_FORMAT_VERSION)
		return Fail(r, "format version %u is not one this gigavector reads (%d to %d)",
					r->header.version, GVB_MIN_FORMAT_VERSION, GVB_FORMAT_VERSION);
	if (r->header.flags != 0)
		return Fail(r, "header: unknown flags 0x%x", r->header.flags);
	if (bodyLen < GVB_BODY_FIXED + 6 || bodyLen > GVB_MAX_HEADER_BODY)
		return Fail(r, "header: invalid length %u", bodyLen);
	return Expect(r, S_BODY, (size_t) bodyLen + 4);
}

/* The header body: counts, columns, versions, the definition. */
static GvbEvent
ParseBody(GvbReader *r)
{
	size_t		len = r->need - 4;
	const uint8 *b;
	GvbHeader  *h = &r->header;
	size_t		at;

	if (GvbGet32(r->unit + len) != GvbCrc(r->unit, len))
		return Fail(r, "header (bytes 20-%zu): checksum mismatch", GVB_PREFIX_SIZE + len - 1);
	r->body = Alloc(r, len);
	if (r->body == NULL)
		return Fail(r, "out of memory for the header");
	memcpy(r->body, r->unit, len);
	b = r->body;
	h->rows = GvbGet64(b);
	h->dimension = GvbGet32(b + 8);
	h->ncolumns = GvbGet16(b + 12);
	h->compression = b[14];
	h->level = (int8) b[15];
	h->frameTarget = GvbGet32(b + 16);
	if (h->ncolumns > GVB_MAX_COLUMNS)
		return Fail(r, "header: %u columns (at most %d)", h->ncolumns, GVB_MAX_COLUMNS);
	if (h->compression > GVB_COMPRESSION_ZSTD)
		return Fail(r, "header: unknown compression %u", h->compression);
	h->columns = Alloc(r, sizeof(GvbColumn) * Max(h->ncolumns, 1));
	r->layout = Alloc(r, sizeof(GvbLayout) * Max(h->ncolumns, 1));
	r->cursor = Alloc(r, sizeof(uint32) * Max(h->ncolumns, 1));
	if (h->columns == NULL || r->layout == NULL || r->cursor == NULL)
		return Fail(r, "out of memory for the header");
	at = GVB_BODY_FIXED;
	for (int c = 0; c < h->ncolumns; c++)
	{
		GvbColumn  *col = &h->columns[c];

		if (at + 3 > len)
			return Fail(r, "header: the column list runs past the header");
		col->format = b[at];
		col->filter = b[at + 1];
		col->namelen = b[at + 2];
		if (col->format > GVB_FORMAT_TEXT || col->filter > GVB_FILTER_SHUFFLE4 ||
			col->namelen == 0 || col->namelen > GVB_NAME_MAX || at + 3 + col->namelen > len)
			return Fail(r, "header: column %d is invalid", c + 1);
		memcpy(col->name, b + at + 3, col->namelen);
		col->name[col->namelen] = '\0';
		if (strlen(col->name) != col->namelen)
			return Fail(r, "header: column %d's name holds a NUL byte", c + 1);
		at += 3 + col->namelen;
	}
	if (at + 2 > len || (h->gvVersionLen = GvbGet16(b + at)) > GVB_MAX_VERSION_LEN ||
		at + 2 + h->gvVersionLen + 4 > len)
		return Fail(r, "header: invalid gigavector version");
	h->gvVersion = (const char *) b + at + 2;
	at += 2 + h->gvVersionLen;
	h->jsonLen = GvbGet32(b + at);
	if ((size_t) h->jsonLen != len - at - 4)
		return Fail(r, "header: the table definition's length (%u) does not fill the header",
					h->jsonLen);
	h->json = (const char *) b + at + 4;
	Expect(r, S_BLOCK, GVB_BLOCK_SIZE);
	return r->state == S_FAILED ? GVB_FAILED : GVB_HEADER;
}

/* The block after the last frame: a frame's header, or the trailer. */
static GvbEvent
ParseBlock(GvbReader *r)
{
	const uint8 *p = r->unit;
	GvbFrame   *f = &r->frame;

	if (GvbGet32(p + 36) != GvbCrc(p, 36))
	{
		if (r->frames == 0)
			return Fail(r, "frame 1 (byte %llu): block checksum mismatch",
						(unsigned long long) r->unitOffset);
		return Fail(r, "block after frame %u (byte %llu): checksum mismatch",
					r->frames, (unsigned long long) r->unitOffset);
	}
	if (memcmp(p, GVB_TRAILER_TAG, 4) == 0)
	{
		GvbTrailer *t = &r->trailer;

		t->frames = GvbGet32(p + 4);
		t->rows = GvbGet64(p + 8);
		t->rawBytes = GvbGet64(p + 16);
		t->fileLength = GvbGet64(p + 24);
		if (t->frames != r->frames || t->rows != r->rows || t->rawBytes != r->rawBytes ||
			t->rows != r->header.rows || GvbGet32(p + 32) != 0)
			return Fail(r, "trailer (byte %llu): says %u frames and %llu rows, the file has %u and %llu (the header %llu)",
						(unsigned long long) r->unitOffset, t->frames,
						(unsigned long long) t->rows, r->frames,
						(unsigned long long) r->rows, (unsigned long long) r->header.rows);
		if (t->fileLength != r->unitOffset + GVB_TRAILER_SIZE)
			return Fail(r, "trailer (byte %llu): says the file has %llu bytes, it ends at %llu",
						(unsigned long long) r->unitOffset, (unsigned long long) t->fileLength,
						(unsigned long long) (r->unitOffset + GVB_TRAILER_SIZE));
		return Expect(r, S_FILE_CRC, 4);
	}
	if (memcmp(p, GVB_FRAME_TAG, 4) != 0)
		return Fail(r, "byte %llu: neither a frame nor the trailer", (unsigned long long) r->unitOffset);
	f->number = GvbGet32(p + 4);
	f->firstRow = GvbGet64(p + 8);
	f->rows = GvbGet32(p + 16);
	f->rawLen = GvbGet32(p + 20);
	f->storedLen = GvbGet32(p + 24);
	f->encoding = p[28];
	f->offset = r->unitOffset;
	if (f->number != r->frames || f->firstRow != r->rows)
		return Fail(r, "frame %u (byte %llu): numbered %u from row %llu, expected %u from row %llu",
					r->frames + 1, (unsigned long long) f->offset, f->number,
					(unsigned long long) f->firstRow, r->frames, (unsigned long long) r->rows);
	if (f->rows == 0 || f->rows > r->header.rows - r->rows)
		return Fail(r, "frame %u (byte %llu): %u rows, the header leaves %llu",
					f->number + 1, (unsigned long long) f->offset, f->rows,
					(unsigned long long) (r->header.rows - r->rows));
	if (f->rawLen > GVB_MAX_FRAME_BYTES || f->storedLen > GVB_MAX_FRAME_BYTES ||
		p[29] != 0 || p[30] != 0 || p[31] != 0 || GvbGet32(p + 32) != 0 ||
		f->encoding > GVB_ENCODING_ZSTD_SHUFFLE ||
		(f->encoding == GVB_ENCODING_RAW && f->storedLen != f->rawLen) ||
		(f->encoding != GVB_ENCODING_RAW &&
		 (r->header.compression != GVB_COMPRESSION_ZSTD || f->storedLen >= f->rawLen)))
		return Fail(r, "frame %u (byte %llu): invalid block", f->number + 1,
					(unsigned long long) f->offset);
	return Expect(r, S_PAYLOAD, (size_t) f->storedLen + 4);
}

/* A frame's payload: its CRC, then decompress, unshuffle, lay out. */
static GvbEvent
ParsePayload(GvbReader *r)
{
	GvbFrame   *f = &r->frame;
	const uint8 *stored = r->unit;
	uint8	   *raw;

	if (GvbGet32(stored + f->storedLen) != GvbCrc(stored, f->storedLen))
		return Fail(r, "frame %u (byte %llu, rows %llu-%llu): payload checksum mismatch",
					f->number + 1, (unsigned long long) f->offset,
					(unsigned long long) f->firstRow + 1,
					(unsigned long long) (f->firstRow + f->rows));
	if (!Reserve(r, &r->raw, &r->rawCap, f->rawLen))
		return Fail(r, "out of memory for frame %u", f->number + 1);
	raw = r->raw;
	if (f->encoding == GVB_ENCODING_RAW)
		memcpy(raw, stored, f->rawLen);
	else
	{
		size_t		n = ZSTD_decompressDCtx((ZSTD_DCtx *) r->dctx, raw, f->rawLen,
											stored, f->storedLen);

		if (ZSTD_isError(n) || n != f->rawLen)
			return Fail(r, "frame %u (byte %llu): zstd data does not decompress to %u bytes%s%s",
						f->number + 1, (unsigned long long) f->offset, f->rawLen,
						ZSTD_isError(n) ? ": " : "", ZSTD_isError(n) ? ZSTD_getErrorName(n) : "");
	}
	if (!GvbRawLayout(&r->header, f->rows, raw, f->rawLen, r->layout, r->error))
	{
		char		why[GVB_ERROR_LEN];

		memcpy(why, r->error, GVB_ERROR_LEN);
		return Fail(r, "frame %u (byte %llu): %s", f->number + 1, (unsigned long long) f->offset, why);
	}
	if (f->encoding == GVB_ENCODING_ZSTD_SHUFFLE)
	{
		if (!Reserve(r, &r->scratch, &r->scratchCap, f->rawLen))
			return Fail(r, "out of memory for frame %u", f->number + 1);
		for (int c = 0; c < r->header.ncolumns; c++)
		{
			GvbLayout  *l = &r->layout[c];

			if (r->header.columns[c].filter != GVB_FILTER_SHUFFLE4)
				continue;
			GvbUnshuffle4(raw + l->dataAt, r->scratch, l->dataLen);
			memcpy(raw + l->dataAt, r->scratch, l->dataLen);
		}
	}
	for (int c = 0; c < r->header.ncolumns; c++)
		r->cursor[c] = 0;
	r->row = 0;
	r->frames++;
	r->rows += f->rows;
	r->rawBytes += f->rawLen;
	Expect(r, S_BLOCK, GVB_BLOCK_SIZE);
	return r->state == S_FAILED ? GVB_FAILED : GVB_FRAME;
}

/* The last 4 bytes: the CRC of everything before them. */
static GvbEvent
ParseFileCrc(GvbReader *r)
{
	pg_crc32c	crc = r->fileCrc;

	FIN_CRC32C(crc);
	if (GvbGet32(r->unit) != crc)
		return Fail(r, "trailer (byte %llu): whole-file checksum mismatch",
					(unsigned long long) r->unitOffset);
	r->state = S_DONE;
	return GVB_END;
}

/* Parse the unit just completed, by state. */
static GvbEvent
ParseUnit(GvbReader *r)
{
	switch (r->state)
	{
		case S_PREFIX:
			return ParsePrefix(r);
		case S_BODY:
			return ParseBody(r);
		case S_BLOCK:
			return ParseBlock(r);
		case S_PAYLOAD:
			return ParsePayload(r);
		case S_FILE_CRC:
			return ParseFileCrc(r);
	}
	return Fail(r, "reader in an impossible state %d", r->state);
}

/*
 * Take up to len bytes of the file.  Returns an event as soon as one
 * happens (after *used bytes: feed the rest again), or GVB_MORE once all of
 * data is consumed.  After GVB_FRAME, read the frame's rows with
 * GvbReaderNextRow before feeding on.
 */
GvbEvent
GvbReaderFeed(GvbReader *r, const uint8 *data, size_t len, size_t *used)
{
	size_t		done = 0;

	*used = 0;
	if (r->state == S_FAILED)
		return GVB_FAILED;
	while (done < len)
	{
		size_t		take;
		GvbEvent	ev;

		if (r->state == S_DONE)
		{
			*used = done;
			return Fail(r, "%zu or more bytes after the trailer (byte %llu)",
						len - done, (unsigned long long) r->offset);
		}
		take = Min(r->need - r->have, len - done);
		memcpy(r->unit + r->have, data + done, take);
		if (r->state != S_FILE_CRC)
			COMP_CRC32C(r->fileCrc, data + done, take);
		r->have += take;
		r->offset += take;
		done += take;
		if (r->have < r->need)
			break;
		ev = ParseUnit(r);
		if (ev != GVB_MORE)
		{
			*used = done;
			return ev;
		}
	}
	*used = done;
	return GVB_MORE;
}

/*
 * The input has ended: GVB_END when the trailer was read, else GVB_FAILED
 * with where the file was cut.
 */
GvbEvent
GvbReaderFinish(GvbReader *r)
{
	switch (r->state)
	{
		case S_DONE:
			return GVB_END;
		case S_FAILED:
			return GVB_FAILED;
		case S_PREFIX:
			if (r->offset == 0)
				return Fail(r, "empty file");
			return Fail(r, "truncated in the header (byte %llu)", (unsigned long long) r->offset);
		case S_BODY:
			return Fail(r, "truncated in the header (byte %llu)", (unsigned long long) r->offset);
		case S_BLOCK:
			if (r->have == 0)
				return Fail(r, "truncated after frame %u (byte %llu): no trailer",
							r->frames, (unsigned long long) r->offset);
			return Fail(r, "truncated in the block after frame %u (byte %llu)",
						r->frames, (unsigned long long) r->offset);
		case S_PAYLOAD:
			return Fail(r, "truncated in frame %u (byte %llu): %zu of its %zu payload bytes",
						r->frame.number + 1, (unsigned long long) r->frame.offset,
						r->have, r->need);
		case S_FILE_CRC:
			return Fail(r, "truncated in the trailer (byte %llu)", (unsigned long long) r->offset);
	}
	return Fail(r, "reader in an impossible state %d", r->state);
}

/*
 * The next row of the frame just decoded: for each column a pointer to its
 * value and its length (GVB_NULL_LENGTH for NULL).  false after the last.
 */
bool
GvbReaderNextRow(GvbReader *r, const uint8 **values, int32 *lengths)
{
	if (r->row >= r->frame.rows)
		return false;
	for (int c = 0; c < r->header.ncolumns; c++)
	{
		GvbLayout  *l = &r->layout[c];
		int32		len = (int32) GvbGet32(r->raw + l->lengthsAt + 4 * r->row);

		lengths[c] = len;
		values[c] = r->raw + l->dataAt + r->cursor[c];
		if (len > 0)
			r->cursor[c] += (uint32) len;
	}
	r->row++;
	return true;
}
