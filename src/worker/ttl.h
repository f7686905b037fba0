/*
 * ttl.h
 *	  Rows that expire: settings and the TTL worker (ttl.c).
 */
#ifndef GV_TTL_H
#define GV_TTL_H

extern int	gv_ttl_cleanup_interval;
extern int	gv_ttl_batch_size;

/* Settings; registers the worker when the library is preloaded. */
extern void GvTtlInit(void);

#endif							/* GV_TTL_H */
