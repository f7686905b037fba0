/*
 * gvparse.c
 *	  Parsing gvector text ("[1,2,3]") and binary (int16 dim, int16 0, dim
 *	  float4, network order) input, without the backend: no palloc, no
 *	  ereport, no Datum.  The caller owns the output buffer and turns a
 *	  status into its error (gvector.c); the fuzzing harnesses in test/fuzz
 *	  link this file alone.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gvparse.h"

/* The characters the SQL scanner takes for white space (scanner_isspace). */
static inline int
IsSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static inline const char *
SkipSpace(const char *p)
{
	while (IsSpace(*p))
		p++;
	return p;
}

static GvParseStatus
Syntax(GvParseError *err, const char *detail)
{
	err->detail = detail;
	return GV_PARSE_SYNTAX;
}

/* NaN and infinities have no place in a distance. */
static GvParseStatus
CheckElement(float value)
{
	if (isnan(value))
		return GV_PARSE_NAN;
	if (isinf(value))
		return GV_PARSE_INFINITE;
	return GV_PARSE_OK;
}

/*
 * Room enough for the elements of text literal lit: one more than its
 * commas, at most GV_PARSE_MAX_DIM + 1 (GvParseText reports more than
 * GV_PARSE_MAX_DIM on its own).
 */
int
GvParseTextCapacity(const char *lit)
{
	int			n = 1;

	for (const char *p = lit; *p && n <= GV_PARSE_MAX_DIM; p++)
		n += *p == ',';
	return n;
}

/*
 * Parse one element at *pos into *value; leave *pos after it.
 */
static GvParseStatus
ParseElement(const char **pos, float *value, GvParseError *err)
{
	const char *start = SkipSpace(*pos);
	char	   *end;

	errno = 0;
	*value = strtof(start, &end);
	if (end == start)
		return Syntax(err, "Expected a number.");
	/* as float4in: overflow, or underflow all the way to zero, is an error */
	if (errno == ERANGE && (isinf(*value) || *value == 0.0f))
	{
		err->token = start;
		err->tokenLen = (int) (end - start);
		return GV_PARSE_RANGE;
	}
	*pos = end;
	return CheckElement(*value);
}

/*
 * Parse text literal lit into values (room for capacity elements, from
 * GvParseTextCapacity); *dim gets their number.
 */
GvParseStatus
GvParseText(const char *lit, float *values, int capacity, int *dim, GvParseError *err)
{
	const char *pos = SkipSpace(lit);

	*dim = 0;
	if (*pos != '[')
		return Syntax(err, "Gvector contents must start with \"[\".");
	pos = SkipSpace(pos + 1);
	if (*pos == ']')
		return GV_PARSE_EMPTY;

	for (;;)
	{
		GvParseStatus status;

		if (*dim == GV_PARSE_MAX_DIM)
			return GV_PARSE_TOO_MANY_DIMS;
		if (*dim == capacity)
			return Syntax(err, "Expected \",\" or \"]\" after a number.");
		status = ParseElement(&pos, &values[*dim], err);
		if (status != GV_PARSE_OK)
			return status;
		(*dim)++;

		pos = SkipSpace(pos);
		if (*pos == ',')
			pos++;
		else if (*pos == ']')
			break;
		else if (*pos == '\0')
			return Syntax(err, "Unexpected end of input.");
		else
			return Syntax(err, "Expected \",\" or \"]\" after a number.");
	}
	if (*SkipSpace(pos + 1) != '\0')
		return Syntax(err, "Junk after closing right bracket.");
	return GV_PARSE_OK;
}

static inline uint32_t
Uint32At(const unsigned char *p)
{
	return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/*
 * Parse binary input data (len bytes) into values (room for (len - 4) / 4
 * elements, at most GV_PARSE_MAX_DIM: no more are written); *dim gets
 * their number and *used the bytes read.
 */
GvParseStatus
GvParseBinary(const unsigned char *data, size_t len, float *values, int *dim,
			  size_t *used, GvParseError *err)
{
	int			reserved;

	*dim = 0;
	*used = 0;
	if (len < 4)
		return GV_PARSE_SHORT_HEADER;
	*dim = (int16_t) (data[0] << 8 | data[1]);
	reserved = (int16_t) (data[2] << 8 | data[3]);
	if (reserved != 0)
	{
		err->value = reserved;
		return GV_PARSE_RESERVED;
	}
	if (*dim < 1)
		return GV_PARSE_NO_DIMS;
	if (*dim > GV_PARSE_MAX_DIM)
		return GV_PARSE_TOO_MANY_DIMS;
	if (len - 4 < sizeof(float) * (size_t) *dim)
	{
		err->value = *dim;
		return GV_PARSE_SHORT_DATA;
	}
	for (int i = 0; i < *dim; i++)
	{
		uint32_t	bits = Uint32At(data + 4 + 4 * (size_t) i);
		GvParseStatus status;

		memcpy(&values[i], &bits, sizeof(float));
		status = CheckElement(values[i]);
		if (status != GV_PARSE_OK)
			return status;
	}
	*used = 4 + sizeof(float) * (size_t) *dim;
	return GV_PARSE_OK;
}
