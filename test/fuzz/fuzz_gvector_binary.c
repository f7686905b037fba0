/*
 * fuzz_gvector_binary.c
 *	  libFuzzer target: gvector's binary input (src/gvparse.c,
 *	  GvParseBinary), with the output buffer gvector_recv gives it (room
 *	  for as many floats as the data holds).  Accepted data must give 1 ..
 *	  16000 finite elements and consume exactly 4 + 4 * dim bytes.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gvparse.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long		room = size < 4 ? 0 : (long) (size - 4) / 4;
	float	   *values;
	int			dim;
	size_t		used;
	GvParseError err;

	if (room > GV_PARSE_MAX_DIM)
		room = GV_PARSE_MAX_DIM;
	if (room < 1)
		room = 1;
	values = malloc(sizeof(float) * room);
	if (GvParseBinary(data, size, values, &dim, &used, &err) == GV_PARSE_OK)
	{
		if (dim < 1 || dim > room || used != 4 + 4 * (size_t) dim || used > size)
			abort();
		for (int i = 0; i < dim; i++)
			if (!isfinite(values[i]))
				abort();
	}
	free(values);
	return 0;
}
