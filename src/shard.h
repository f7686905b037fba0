/*
 * shard.h
 *	  Distributed tables: the fan-out of searches to their shards and the
 *	  check that refuses the INSERT ... ON CONFLICT they cannot route.
 */
#ifndef GV_SHARD_H
#define GV_SHARD_H

extern void ShardInit(void);

#endif							/* GV_SHARD_H */
