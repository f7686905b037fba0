/*
 * worker.h
 *	  A small frame for gigavector's background workers (README beside this
 *	  file): one launcher per kind of worker visits every database and
 *	  starts one worker per database; the frame handles signals, settings
 *	  reloads, postmaster death, one-worker-per-database and restarts, and a
 *	  kind supplies only what one round of its work is.
 */
#ifndef GV_WORKER_H
#define GV_WORKER_H

#include "postgres.h"

/* The longest kind name (it travels in bgw_extra). */
#define GV_WORKER_NAME_LEN	32
/* Most kinds one library registers (TTL now, the GPU service later). */
#define GV_WORKER_MAX_KINDS	4

/* What a round reports to the frame. */
typedef enum GvWorkerRound
{
	GV_ROUND_AGAIN,				/* sleep an interval, then run another round */
	GV_ROUND_IDLE				/* nothing to do in this database: exit, the
								 * launcher looks again an interval later */
} GvWorkerRound;

typedef struct GvWorkerKind
{
	char		name[GV_WORKER_NAME_LEN];	/* "ttl": "gigavector ttl worker" */
	int		   *interval_s;		/* the setting that spaces rounds, seconds */
	/* one round in the connected database, outside any transaction */
	GvWorkerRound (*round) (void);
} GvWorkerKind;

/*
 * Register a kind and its launcher.  Only while shared_preload_libraries is
 * being processed; otherwise a no-op that returns false (the kind is off).
 */
extern bool GvWorkerRegister(const GvWorkerKind *kind);

/*
 * Register a service: one static worker for the whole cluster, connected
 * to no database, running function_name (exported by name), started again
 * restart_s seconds after it exits.  Only from shared_preload_libraries;
 * otherwise a no-op that returns false.
 */
extern bool GvWorkerRegisterService(const char *name, const char *function_name,
									int restart_s);

/* The frame's signal handlers (SIGTERM a flag, SIGHUP a reload), unblocked. */
extern void GvWorkerSetUpSignals(void);

/* True once SIGTERM arrived: a round stops at its next safe point. */
extern bool GvWorkerStopRequested(void);

/* Reload the configuration file if SIGHUP arrived. */
extern void GvWorkerReloadIfAsked(void);

/* Background worker entry points (the postmaster finds them by name). */
extern PGDLLEXPORT void gv_worker_launcher_main(Datum arg);
extern PGDLLEXPORT void gv_worker_database_main(Datum arg);

#endif							/* GV_WORKER_H */
