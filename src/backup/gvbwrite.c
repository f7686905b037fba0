/*
 * gvbwrite.c
 *	  Writing the .gvb format: the header, frames (raw, zstd, or zstd over
 *	  byte-shuffled vector data, whichever the caller asks for, falling back
 *	  to raw when compression does not pay) and the trailer, each with its
 *	  CRC-32C, and the running CRC of the whole file.  Plus the helpers the
 *	  reader shares: little-endian integers, the raw payload's layout, the
 *	  shuffle filter.
 *
 * Plain C over caller-provided buffers (see gvb.h): the caller sizes them
 * with GvbHeaderSize and GvbFrameBound.
 */
#include "gvb.h"

#include <stdio.h>
#include <string.h>
#include <zstd.h>

/* Little-endian integers, whatever the host's byte order. */
void
GvbPut16(uint8 *p, uint16 v)
{
	p[0] = (uint8) v;
	p[1] = (uint8) (v >> 8);
}

void
GvbPut32(uint8 *p, uint32 v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8) (v >> (8 * i));
}

void
GvbPut64(uint8 *p, uint64 v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8) (v >> (8 * i));
}

uint16
GvbGet16(const uint8 *p)
{
	return (uint16) (p[0] | (p[1] << 8));
}

uint32
GvbGet32(const uint8 *p)
{
	return (uint32) p[0] | ((uint32) p[1] << 8) | ((uint32) p[2] << 16) | ((uint32) p[3] << 24);
}

uint64
GvbGet64(const uint8 *p)
{
	return (uint64) GvbGet32(p) | ((uint64) GvbGet32(p + 4) << 32);
}

/* CRC-32C (Castagnoli) of a buffer, as every checksum of the format. */
pg_crc32c
GvbCrc(const uint8 *data, size_t len)
{
	pg_crc32c	crc;

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, data, len);
	FIN_CRC32C(crc);
	return crc;
}

/*
 * The running whole-file CRC is kept un-finalized, so that it can be
 * extended by every piece written and finalized when the trailer needs it.
 */
void
GvbWriterInit(GvbWriter *w)
{
	memset(w, 0, sizeof(*w));
	INIT_CRC32C(w->fileCrc);
}

/* Count bytes written into the running CRC and length. */
static void
Account(GvbWriter *w, const uint8 *bytes, size_t len)
{
	COMP_CRC32C(w->fileCrc, bytes, len);
	w->length += len;
}

/* Bytes of the encoded header: prefix, body, body CRC. */
size_t
GvbHeaderSize(const GvbHeader *h)
{
	size_t		size = GVB_PREFIX_SIZE + GVB_BODY_FIXED + 2 + h->gvVersionLen + 4 + h->jsonLen + 4;

	for (int i = 0; i < h->ncolumns; i++)
		size += 3 + h->columns[i].namelen;
	return size;
}

/*
 * Encode the header into out (GvbHeaderSize bytes): the fixed prefix with
 * its own CRC (so that a damaged body length is caught before the body is
 * read), then the body and its CRC.  The version written is always
 * GVB_FORMAT_VERSION.
 */
void
GvbHeaderEncode(GvbWriter *w, const GvbHeader *h, uint8 *out)
{
	size_t		total = GvbHeaderSize(h);
	uint32		bodyLen = (uint32) (total - GVB_PREFIX_SIZE - 4);
	uint8	   *b = out + GVB_PREFIX_SIZE;
	uint8	   *p;

	memcpy(out, GVB_MAGIC, GVB_MAGIC_LEN);
	GvbPut16(out + 8, GVB_FORMAT_VERSION);
	GvbPut16(out + 10, 0);
	GvbPut32(out + 12, bodyLen);
	GvbPut32(out + 16, GvbCrc(out, 16));

	GvbPut64(b, h->rows);
	GvbPut32(b + 8, h->dimension);
	GvbPut16(b + 12, h->ncolumns);
	b[14] = h->compression;
	b[15] = (uint8) h->level;
	GvbPut32(b + 16, h->frameTarget);
	p = b + GVB_BODY_FIXED;
	for (int i = 0; i < h->ncolumns; i++)
	{
		p[0] = h->columns[i].format;
		p[1] = h->columns[i].filter;
		p[2] = h->columns[i].namelen;
		memcpy(p + 3, h->columns[i].name, h->columns[i].namelen);
		p += 3 + h->columns[i].namelen;
	}
	GvbPut16(p, h->gvVersionLen);
	memcpy(p + 2, h->gvVersion, h->gvVersionLen);
	p += 2 + h->gvVersionLen;
	GvbPut32(p, h->jsonLen);
	memcpy(p + 4, h->json, h->jsonLen);
	p += 4 + h->jsonLen;
	GvbPut32(p, GvbCrc(b, bodyLen));
	Account(w, out, total);
}

/* The most bytes GvbFrameEncode can write for a payload of rawLen bytes. */
size_t
GvbFrameBound(uint32 rawLen)
{
	return GVB_BLOCK_SIZE + Max((size_t) rawLen, ZSTD_compressBound(rawLen)) + 4;
}

/*
 * Where each column's lengths (rows int32s) and data lie in a raw payload,
 * checking that the lengths are -1 or positive and add up to exactly the
 * payload.  The reader calls this on every frame, so a payload that passed
 * its CRC still cannot send it out of bounds.
 */
bool
GvbRawLayout(const GvbHeader *h, uint32 rows, const uint8 *raw, uint32 rawLen,
			 GvbLayout *layout, char *error)
{
	uint64		at = 0;

	for (int c = 0; c < h->ncolumns; c++)
	{
		uint64		sum = 0;

		if (at + (uint64) rows * 4 > rawLen)
		{
			snprintf(error, GVB_ERROR_LEN, "column %d's lengths run past the payload", c + 1);
			return false;
		}
		layout[c].lengthsAt = (uint32) at;
		for (uint32 i = 0; i < rows; i++)
		{
			int32		len = (int32) GvbGet32(raw + at + 4 * (uint64) i);

			if (len < GVB_NULL_LENGTH)
			{
				snprintf(error, GVB_ERROR_LEN, "column %d, row %u: invalid length %d",
						 c + 1, i + 1, len);
				return false;
			}
			if (len > 0)
				sum += (uint64) len;
		}
		at += (uint64) rows * 4;
		if (at + sum > rawLen)
		{
			snprintf(error, GVB_ERROR_LEN, "column %d's values run past the payload", c + 1);
			return false;
		}
		layout[c].dataAt = (uint32) at;
		layout[c].dataLen = (uint32) sum;
		at += sum;
	}
	if (at != rawLen)
	{
		snprintf(error, GVB_ERROR_LEN, "the payload has %llu bytes after its last column",
				 (unsigned long long) (rawLen - at));
		return false;
	}
	return true;
}

/*
 * The shuffle filter: byte j of every 4-byte group goes to plane j (the
 * n % 4 trailing bytes stay in place).  float4 values in big-endian order
 * put their sign and exponent bytes together, which zstd then finds.
 */
void
GvbShuffle4(const uint8 *in, uint8 *out, size_t n)
{
	size_t		m = n / 4;

	for (size_t i = 0; i < m; i++)
		for (int j = 0; j < 4; j++)
			out[j * m + i] = in[i * 4 + j];
	memcpy(out + 4 * m, in + 4 * m, n - 4 * m);
}

/* The inverse of GvbShuffle4. */
void
GvbUnshuffle4(const uint8 *in, uint8 *out, size_t n)
{
	size_t		m = n / 4;

	for (size_t i = 0; i < m; i++)
		for (int j = 0; j < 4; j++)
			out[i * 4 + j] = in[j * m + i];
	memcpy(out + 4 * m, in + 4 * m, n - 4 * m);
}

/*
 * Copy raw to scratch with the data of every SHUFFLE4 column shuffled (the
 * lengths stay as they are, so the reader finds the layout before it
 * unshuffles).
 */
static bool
ShufflePayload(const GvbHeader *h, uint32 rows, const uint8 *raw, uint32 rawLen,
			   uint8 *scratch, char *error)
{
	GvbLayout	layout[GVB_MAX_COLUMNS];

	if (!GvbRawLayout(h, rows, raw, rawLen, layout, error))
		return false;
	memcpy(scratch, raw, rawLen);
	for (int c = 0; c < h->ncolumns; c++)
		if (h->columns[c].filter == GVB_FILTER_SHUFFLE4)
			GvbShuffle4(raw + layout[c].dataAt, scratch + layout[c].dataAt, layout[c].dataLen);
	return true;
}

/*
 * Encode one frame of rows rows (the raw payload: column by column, each
 * column's int32 lengths then its values) into out (GvbFrameBound bytes),
 * numbered after the frames w has seen.  encoding ZSTD or ZSTD_SHUFFLE
 * compresses at level with cctx (a ZSTD_CCtx), ZSTD_SHUFFLE first
 * shuffling into scratch (rawLen bytes); a result no smaller than raw is
 * stored raw.  Returns the bytes written, or 0 with error set.
 */
size_t
GvbFrameEncode(const GvbWriter *w, const GvbHeader *h, uint32 rows,
			   const uint8 *raw, uint32 rawLen, int encoding, int level,
			   void *cctx, uint8 *scratch, uint8 *out, char *error)
{
	uint8	   *payload = out + GVB_BLOCK_SIZE;
	size_t		stored = rawLen;

	if (rows == 0 || rawLen > GVB_MAX_FRAME_BYTES)
	{
		snprintf(error, GVB_ERROR_LEN, "a frame holds 1 or more rows and at most %d bytes",
				 GVB_MAX_FRAME_BYTES);
		return 0;
	}
	if (encoding != GVB_ENCODING_RAW && rawLen > 0)
	{
		const uint8 *src = raw;
		size_t		n;

		if (encoding == GVB_ENCODING_ZSTD_SHUFFLE)
		{
			if (!ShufflePayload(h, rows, raw, rawLen, scratch, error))
				return 0;
			src = scratch;
		}
		n = ZSTD_compressCCtx((ZSTD_CCtx *) cctx, payload, ZSTD_compressBound(rawLen),
							  src, rawLen, level);
		if (ZSTD_isError(n))
		{
			snprintf(error, GVB_ERROR_LEN, "zstd: %s", ZSTD_getErrorName(n));
			return 0;
		}
		if (n < rawLen)
			stored = n;
		else
			encoding = GVB_ENCODING_RAW;
	}
	else
		encoding = GVB_ENCODING_RAW;
	if (encoding == GVB_ENCODING_RAW)
		memcpy(payload, raw, rawLen);

	memcpy(out, GVB_FRAME_TAG, 4);
	GvbPut32(out + 4, w->frames);
	GvbPut64(out + 8, w->rows);
	GvbPut32(out + 16, rows);
	GvbPut32(out + 20, rawLen);
	GvbPut32(out + 24, (uint32) stored);
	memset(out + 28, 0, 8);
	out[28] = (uint8) encoding;
	GvbPut32(out + 36, GvbCrc(out, 36));
	GvbPut32(payload + stored, GvbCrc(payload, stored));
	return GVB_BLOCK_SIZE + stored + 4;
}

/* Count a frame GvbFrameEncode made, once the caller has chosen to keep it. */
void
GvbWriterAddFrame(GvbWriter *w, const uint8 *frame, size_t len, uint32 rows, uint32 rawLen)
{
	Account(w, frame, len);
	w->frames++;
	w->rows += rows;
	w->rawBytes += rawLen;
}

/*
 * The trailer (GVB_TRAILER_SIZE bytes): counts, the file's length, the
 * block's CRC, then the CRC of every byte of the file before that last
 * field.
 */
void
GvbTrailerEncode(GvbWriter *w, uint8 *out)
{
	pg_crc32c	crc;

	memcpy(out, GVB_TRAILER_TAG, 4);
	GvbPut32(out + 4, w->frames);
	GvbPut64(out + 8, w->rows);
	GvbPut64(out + 16, w->rawBytes);
	GvbPut64(out + 24, w->length + GVB_TRAILER_SIZE);
	GvbPut32(out + 32, 0);
	GvbPut32(out + 36, GvbCrc(out, 36));
	Account(w, out, GVB_BLOCK_SIZE);
	crc = w->fileCrc;
	FIN_CRC32C(crc);
	GvbPut32(out + 40, crc);
	w->length += 4;
}
