/*
 * gv_gpu.c
 *	  Always compiled.  Built without CUDA (GV_WITH_CUDA undefined) it
 *	  reports that no GPU is available, so the CPU paths are used.  The GPU
 *	  search worker and its kernels arrive with their own issue; they will
 *	  live beside this file and be built by Makefile.cuda only when nvcc is
 *	  found.
 */
#include "postgres.h"

#include "fmgr.h"
#include "gv_gpu.h"
#include "utils/builtins.h"

#ifndef GV_WITH_CUDA

int
gv_gpu_device_count(void)
{
	return 0;
}

const char *
gv_gpu_description(void)
{
	return "unavailable: gigavector was built without CUDA";
}

#endif							/* !GV_WITH_CUDA */

/* gigavector.gpu_info(): what GPU support this build has. */
PG_FUNCTION_INFO_V1(gv_gpu_info);
Datum
gv_gpu_info(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(gv_gpu_description()));
}
