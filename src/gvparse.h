/*
 * gvparse.h
 *	  The parsing core of gvector's text and binary input, with no backend
 *	  dependency: gvector_in and gvector_recv (gvector.c) report its
 *	  outcomes with ereport, and the fuzzing harnesses (test/fuzz) call it
 *	  outside a server, under ASan and UBSan.
 */
#ifndef GVPARSE_H
#define GVPARSE_H

#include <stddef.h>

/* the most dimensions a gvector holds (GVECTOR_MAX_DIM, checked in gvector.c) */
#define GV_PARSE_MAX_DIM 16000

typedef enum GvParseStatus
{
	GV_PARSE_OK,
	GV_PARSE_SYNTAX,			/* malformed text; detail says how */
	GV_PARSE_EMPTY,				/* "[]": no dimension */
	GV_PARSE_RANGE,				/* a number beyond float4; token/tokenLen */
	GV_PARSE_NAN,
	GV_PARSE_INFINITE,
	GV_PARSE_TOO_MANY_DIMS,		/* more than GV_PARSE_MAX_DIM */
	GV_PARSE_NO_DIMS,			/* binary: a dimension count below 1 */
	GV_PARSE_SHORT_HEADER,		/* binary: fewer than 4 bytes */
	GV_PARSE_RESERVED,			/* binary: reserved field not 0; value */
	GV_PARSE_SHORT_DATA			/* binary: fewer bytes than dim floats; value
								 * = dim */
} GvParseStatus;

/* What went wrong, for the error message. */
typedef struct GvParseError
{
	const char *detail;			/* GV_PARSE_SYNTAX */
	const char *token;			/* GV_PARSE_RANGE: the number, in the input */
	int			tokenLen;
	int			value;			/* GV_PARSE_RESERVED, GV_PARSE_SHORT_DATA */
} GvParseError;

extern int	GvParseTextCapacity(const char *lit);
extern GvParseStatus GvParseText(const char *lit, float *values, int capacity, int *dim,
								 GvParseError *err);
extern GvParseStatus GvParseBinary(const unsigned char *data, size_t len, float *values,
								   int *dim, size_t *used, GvParseError *err);

#endif							/* GVPARSE_H */
