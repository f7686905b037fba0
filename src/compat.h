/*
 * compat.h
 *	  Every PostgreSQL version difference gigavector has to paper over, each
 *	  with a one-line reason.  Only PostgreSQL 15 is supported today, so this
 *	  is a guard plus the place to put the next difference.
 */
#ifndef GV_COMPAT_H
#define GV_COMPAT_H

#include "postgres.h"

/* The Debian packages we build against and test with are PostgreSQL 15. */
#if PG_VERSION_NUM < 150000
#error "gigavector requires PostgreSQL 15 or later"
#endif

#endif							/* GV_COMPAT_H */
