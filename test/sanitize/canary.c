/*
 * canary.c — a C function with a heap overrun, built with the same
 * sanitizer flags as the extension: test/sanitize/run calls it first on
 * each sanitized server and requires the report in its log, so that a
 * layer which could no longer see a report (a runtime not preloaded, a
 * log not read) fails instead of passing.
 */
#include "postgres.h"

#include <stdlib.h>

#include "fmgr.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(gv_sanitize_canary);

Datum
gv_sanitize_canary(PG_FUNCTION_ARGS)
{
	int			n = PG_GETARG_INT32(0);
	char	   *volatile buf = calloc(n, 1);
	int			sum = 0;

	/* reads one byte past the end */
	for (int i = 0; i <= n; i++)
		sum += buf[i];
	free(buf);
	PG_RETURN_INT32(sum);
}
