/*
 * fuzz_gvector_text.c
 *	  libFuzzer target: gvector's text input (src/gvparse.c, GvParseText),
 *	  the code gvector_in runs, called the way gvector_in calls it.  An
 *	  accepted literal must give 1 .. 16000 finite elements.
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
	/* a cstring, as the server passes it: up to the first NUL */
	char	   *lit = malloc(size + 1);
	int			capacity;
	float	   *values;
	int			dim;
	GvParseError err;

	memcpy(lit, data, size);
	lit[size] = '\0';
	capacity = GvParseTextCapacity(lit);
	values = malloc(sizeof(float) * capacity);
	if (GvParseText(lit, values, capacity, &dim, &err) == GV_PARSE_OK)
	{
		if (dim < 1 || dim > GV_PARSE_MAX_DIM || dim > capacity)
			abort();
		for (int i = 0; i < dim; i++)
			if (!isfinite(values[i]))
				abort();
	}
	free(values);
	free(lit);
	return 0;
}
