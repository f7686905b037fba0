/*
 * test_gvb.c
 *	  Unit test of the .gvb core (src/backup/gvbwrite.c, gvbread.c) outside
 *	  a server: a file of 600 rows in frames of every encoding is read back
 *	  value for value, fed whole and in random pieces; each of 1,000 random
 *	  single-byte changes is detected and blamed on the part of the file it
 *	  is in (header, frame N, trailer); every truncation is reported as one;
 *	  a file of an unknown format version is refused; and, when given its
 *	  path, a committed format-1 file written by the extension still reads.
 *
 *	  test_gvb [v1-file]	(default: test/data/backup-v1.gvb from the top of
 *	  the tree, or ../data/backup-v1.gvb from test/kernels)
 */
#include "../../src/backup/gvb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "tap.h"

#define ROWS 600
#define DIM 24

static void *
TestAlloc(size_t size, void *arg pg_attribute_unused())
{
	return malloc(size);
}

static void
TestFree(void *p, void *arg pg_attribute_unused())
{
	free(p);
}

static const GvbAllocator Mem = {TestAlloc, TestFree, NULL};

/* a small deterministic generator (xorshift64*) */
static uint64 Rng = 88172645463325252ULL;

static uint64
Next(void)
{
	Rng ^= Rng >> 12;
	Rng ^= Rng << 25;
	Rng ^= Rng >> 27;
	return Rng * 2685821657736338717ULL;
}

typedef struct Buffer
{
	uint8	   *data;
	size_t		len;
	size_t		cap;
} Buffer;

static void
Append(Buffer *b, const void *data, size_t len)
{
	if (b->len + len > b->cap)
	{
		b->cap = (b->len + len) * 2;
		b->data = realloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

/* column values of row i: id int8 (big-endian), a gvector, text (or NULL) */
static size_t
Value(int col, int i, uint8 *out)
{
	if (col == 0)
	{
		for (int k = 0; k < 8; k++)
			out[k] = (uint8) ((uint64) (i + 1) >> (8 * (7 - k)));
		return 8;
	}
	if (col == 1)
	{
		out[0] = 0;
		out[1] = DIM;
		out[2] = out[3] = 0;
		for (int d = 0; d < DIM; d++)
		{
			float		f = (float) ((i * 31 + d * 7) % 256);
			uint32		u;

			memcpy(&u, &f, 4);
			for (int k = 0; k < 4; k++)
				out[4 + 4 * d + k] = (uint8) (u >> (8 * (3 - k)));
		}
		return 4 + 4 * DIM;
	}
	if (i % 7 == 3)
		return (size_t) -1;
	return (size_t) snprintf((char *) out, 64, "{\"row\": %d, \"tag\": \"t%d\"}", i, i % 5);
}

static GvbColumn Columns[3] = {
	{GVB_FORMAT_BINARY, GVB_FILTER_NONE, 2, "id"},
	{GVB_FORMAT_BINARY, GVB_FILTER_SHUFFLE4, 3, "emb"},
	{GVB_FORMAT_TEXT, GVB_FILTER_NONE, 4, "meta"},
};

static GvbHeader
TestHeader(void)
{
	GvbHeader	h;
	static const char json[] = "{\"table\": {\"schema\": \"public\", \"name\": \"t\"}}";

	memset(&h, 0, sizeof(h));
	h.rows = ROWS;
	h.dimension = DIM;
	h.ncolumns = 3;
	h.compression = GVB_COMPRESSION_ZSTD;
	h.level = 3;
	h.frameTarget = 4096;
	h.columns = Columns;
	h.gvVersion = "0.1.0";
	h.gvVersionLen = 5;
	h.json = json;
	h.jsonLen = sizeof(json) - 1;
	return h;
}

/* where each frame starts, to check whom an error blames */
static uint64 FrameAt[64];
static int	Frames;
static size_t HeaderEnd;
static size_t TrailerAt;

/* A test file: frames of 100 rows, encodings cycling raw, zstd, shuffled. */
static Buffer
MakeFile(void)
{
	Buffer		file = {0};
	GvbHeader	h = TestHeader();
	GvbWriter	w;
	ZSTD_CCtx  *cctx = ZSTD_createCCtx();
	uint8	   *out;
	char		error[GVB_ERROR_LEN];

	GvbWriterInit(&w);
	out = malloc(GvbHeaderSize(&h));
	GvbHeaderEncode(&w, &h, out);
	Append(&file, out, GvbHeaderSize(&h));
	HeaderEnd = file.len;
	free(out);
	for (int first = 0; first < ROWS; first += 100)
	{
		Buffer		raw = {0};
		uint8		v[256];
		size_t		n;
		uint8	   *scratch;

		for (int c = 0; c < 3; c++)
		{
			for (int i = first; i < first + 100; i++)
			{
				uint8		len[4];

				n = Value(c, i, v);
				GvbPut32(len, n == (size_t) -1 ? (uint32) GVB_NULL_LENGTH : (uint32) n);
				Append(&raw, len, 4);
			}
			for (int i = first; i < first + 100; i++)
				if ((n = Value(c, i, v)) != (size_t) -1)
					Append(&raw, v, n);
		}
		scratch = malloc(raw.len);
		out = malloc(GvbFrameBound(raw.len));
		n = GvbFrameEncode(&w, &h, 100, raw.data, raw.len, (first / 100) % 3, 3, cctx,
						   scratch, out, error);
		if (n == 0)
		{
			printf("# encode: %s\n", error);
			exit(1);
		}
		FrameAt[Frames++] = file.len;
		GvbWriterAddFrame(&w, out, n, 100, raw.len);
		Append(&file, out, n);
		free(out);
		free(scratch);
		free(raw.data);
	}
	TrailerAt = file.len;
	out = malloc(GVB_TRAILER_SIZE);
	GvbTrailerEncode(&w, out);
	Append(&file, out, GVB_TRAILER_SIZE);
	free(out);
	ZSTD_freeCCtx(cctx);
	return file;
}

typedef struct Result
{
	GvbEvent	end;
	char		error[GVB_ERROR_LEN];
	uint64		rows;
	int			frames;
	int			encodings;		/* bit per encoding seen */
	int			bad;			/* values that differ from Value() */
} Result;

/* Read data in pieces of at most piece bytes (0: random sizes). */
static Result
Read(const uint8 *data, size_t len, size_t piece)
{
	Result		res = {0};
	GvbReader	r;
	ZSTD_DCtx  *dctx = ZSTD_createDCtx();
	size_t		at = 0;
	GvbEvent	ev = GVB_MORE;

	GvbReaderInit(&r, &Mem, dctx);
	while (at < len && ev != GVB_FAILED)
	{
		size_t		n = piece ? piece : 1 + Next() % 5000;
		size_t		used;

		n = Min(n, len - at);
		ev = GvbReaderFeed(&r, data + at, n, &used);
		at += used;
		if (ev == GVB_FRAME)
		{
			const uint8 *values[3];
			int32		lengths[3];
			uint64		row = r.frame.firstRow;

			res.frames++;
			res.encodings |= 1 << r.frame.encoding;
			while (GvbReaderNextRow(&r, values, lengths))
			{
				for (int c = 0; c < 3; c++)
				{
					uint8		v[256];
					size_t		n2 = Value(c, (int) row, v);

					if (n2 == (size_t) -1 ? lengths[c] != GVB_NULL_LENGTH :
						(lengths[c] != (int32) n2 || memcmp(values[c], v, n2) != 0))
						res.bad++;
				}
				row++;
			}
		}
	}
	if (ev != GVB_FAILED)
		ev = GvbReaderFinish(&r);
	res.end = ev;
	res.rows = r.rows;
	memcpy(res.error, r.error, GVB_ERROR_LEN);
	GvbReaderFree(&r);
	ZSTD_freeDCtx(dctx);
	return res;
}

/* Does msg blame the part of the file that holds byte pos? */
static bool
Blames(const char *msg, size_t pos)
{
	char		want[64];
	char		alt[64];

	if (pos < HeaderEnd)
		return strstr(msg, "header") != NULL || strstr(msg, "signature") != NULL ||
			strstr(msg, "format version") != NULL;
	if (pos >= TrailerAt)
	{
		snprintf(want, sizeof(want), "block after frame %d ", Frames);
		return strstr(msg, "trailer") != NULL || strstr(msg, want) != NULL;
	}
	for (int f = Frames - 1; f >= 0; f--)
		if (pos >= FrameAt[f])
		{
			snprintf(want, sizeof(want), "frame %d ", f + 1);
			snprintf(alt, sizeof(alt), "block after frame %d ", f);
			return strstr(msg, want) != NULL || (f > 0 && strstr(msg, alt) != NULL);
		}
	return false;
}

int
main(int argc, char **argv)
{
	Buffer		file = MakeFile();
	Result		res;
	int			missed = 0;
	int			misblamed = 0;
	int			notTruncated = 0;

	res = Read(file.data, file.len, file.len);
	Check(res.end == GVB_END && res.rows == ROWS && res.frames == 6 && res.bad == 0,
		  "a written file reads back: 600 rows in 6 frames, every value equal");
	Check(res.encodings == 7, "its frames use all three encodings (raw, zstd, zstd shuffled)");
	res = Read(file.data, file.len, 0);
	Check(res.end == GVB_END && res.rows == ROWS && res.bad == 0,
		  "fed in random pieces of 1 to 5,000 bytes, the same");
	res = Read(file.data, file.len, 1);
	Check(res.end == GVB_END && res.rows == ROWS && res.bad == 0, "fed byte by byte, the same");

	for (int i = 0; i < 1000; i++)
	{
		size_t		pos = Next() % file.len;
		uint8		old = file.data[pos];

		file.data[pos] ^= (uint8) (1 + Next() % 255);
		res = Read(file.data, file.len, 0);
		file.data[pos] = old;
		if (res.end != GVB_FAILED)
			missed++;
		else if (!Blames(res.error, pos))
		{
			if (misblamed++ < 5)
				printf("# byte %zu: \"%s\"\n", pos, res.error);
		}
	}
	Check(missed == 0, "each of 1,000 random single-byte changes is detected");
	Check(misblamed == 0, "and blamed on the header, frame or trailer that holds it");

	for (size_t len = 0; len < file.len; len++)
	{
		res = Read(file.data, len, len ? len : 1);
		if (res.end != GVB_FAILED ||
			(strstr(res.error, "truncated") == NULL && strstr(res.error, "empty") == NULL))
		{
			if (notTruncated++ < 5)
				printf("# cut at %zu: \"%s\"\n", len, res.error);
		}
	}
	Check(notTruncated == 0, "a file cut at any of its lengths is reported as truncated");

	{
		Buffer		longer = {0};

		Append(&longer, file.data, file.len);
		Append(&longer, "x", 1);
		res = Read(longer.data, longer.len, longer.len);
		Check(res.end == GVB_FAILED && strstr(res.error, "after the trailer") != NULL,
			  "a byte after the trailer is refused");
		free(longer.data);
	}
	{
		uint8		copy[GVB_PREFIX_SIZE];

		memcpy(copy, file.data, GVB_PREFIX_SIZE);
		GvbPut16(copy + 8, GVB_FORMAT_VERSION + 1);
		GvbPut32(copy + 16, GvbCrc(copy, 16));
		res = Read(copy, sizeof(copy), sizeof(copy));
		Check(res.end == GVB_FAILED && strstr(res.error, "format version 2") != NULL,
			  "a newer format version is refused by name");
	}

	{
		FILE	   *f = argc > 1 ? fopen(argv[1], "rb") : fopen("test/data/backup-v1.gvb", "rb");
		Buffer		v1 = {0};
		uint8		block[65536];
		size_t		n;
		GvbReader	r;
		ZSTD_DCtx  *dctx = ZSTD_createDCtx();
		GvbEvent	ev = GVB_MORE;
		size_t		used;
		size_t		at = 0;
		uint64		sum = 0;

		if (f == NULL && argc == 1)
			f = fopen("../data/backup-v1.gvb", "rb");
		Check(f != NULL, "the committed format-1 file is there");
		while (f && (n = fread(block, 1, sizeof(block), f)) > 0)
			Append(&v1, block, n);
		if (f)
			fclose(f);
		GvbReaderInit(&r, &Mem, dctx);
		while (at < v1.len && ev != GVB_FAILED)
		{
			ev = GvbReaderFeed(&r, v1.data + at, v1.len - at, &used);
			at += used;
			if (ev == GVB_HEADER)
				Check(r.header.version == 1 && r.header.ncolumns == 3,
					  "the committed format-1 file: version 1, 3 columns");
			if (ev == GVB_FRAME)
			{
				const uint8 *values[3];
				int32		lengths[3];

				while (GvbReaderNextRow(&r, values, lengths))
					for (int c = 0; c < 3; c++)
						sum += (uint64) Max(lengths[c], 0);
			}
		}
		if (ev != GVB_FAILED)
			ev = GvbReaderFinish(&r);
		Check(ev == GVB_END, "the committed format-1 file reads to its end");
		printf("# format-1 file: %llu rows, %llu value bytes; %s\n",
			   (unsigned long long) r.rows, (unsigned long long) sum, r.error);
		GvbReaderFree(&r);
		ZSTD_freeDCtx(dctx);
		free(v1.data);
	}

	free(file.data);
	printf("1..%d\n", TestNumber);
	return Failures > 0;
}
