/*
 * gv_gpu.h
 *	  The plain C interface between gigavector and its optional CUDA code.
 *	  No CUDA types appear here, so every other file compiles without the
 *	  CUDA toolkit.  Without CUDA (the default build) gv_gpu.c answers that
 *	  no device is available and callers take their CPU path.
 */
#ifndef GV_GPU_H
#define GV_GPU_H

/* Number of usable CUDA devices; 0 when built without CUDA. */
extern int	gv_gpu_device_count(void);

/* A one-line description of the GPU support compiled in. */
extern const char *gv_gpu_description(void);

#endif							/* GV_GPU_H */
