/*
 * gv_gpu.c
 *	  Always compiled into gigavector.so: finds the optional CUDA library
 *	  (gigavector_cuda.so, built from the .cu files beside this one when nvcc is present) with
 *	  dlopen, for the GPU search worker only.  Nothing here touches CUDA.
 */
#include "postgres.h"

#include <dlfcn.h>

#include "fmgr.h"
#include "gv_gpu.h"
#include "utils/builtins.h"

int
gv_gpu_cuda_built(void)
{
#ifdef GV_WITH_CUDA
	return 1;
#else
	return 0;
#endif
}

const char *
gv_gpu_description(void)
{
	if (gv_gpu_cuda_built())
		return "cuda library built (gigavector_cuda.so); the GPU worker loads it when a device is present";
	return "unavailable: gigavector was built without CUDA";
}

/*
 * dlopen the CUDA library and fill the API from its symbols.  RTLD_LOCAL:
 * its symbols (and the CUDA runtime's) stay out of the server's namespace.
 */
const GvCudaApi *
gv_gpu_load_cuda(const char *dir, char *err, size_t errlen)
{
	static GvCudaApi api;
	static const char *const names[] = {GV_CUDA_SYMBOLS};
	void	  **slots = (void **) &api;
	char		path[MAXPGPATH];
	void	   *lib;

	snprintf(path, sizeof(path), "%s/gigavector_cuda.so", dir);
	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL)
	{
		snprintf(err, errlen, "could not load %s: %s", path, dlerror());
		return NULL;
	}
	StaticAssertStmt(sizeof(GvCudaApi) == lengthof(names) * sizeof(void *),
					 "GV_CUDA_SYMBOLS must name every member of GvCudaApi");
	for (int i = 0; i < lengthof(names); i++)
	{
		slots[i] = dlsym(lib, names[i]);
		if (slots[i] == NULL)
		{
			snprintf(err, errlen, "%s lacks the symbol %s", path, names[i]);
			dlclose(lib);
			return NULL;
		}
	}
	return &api;
}

/* gigavector.gpu_info(): what GPU support this build has. */
PG_FUNCTION_INFO_V1(gv_gpu_info);
Datum
gv_gpu_info(FunctionCallInfo fcinfo pg_attribute_unused())
{
	PG_RETURN_TEXT_P(cstring_to_text(gv_gpu_description()));
}
