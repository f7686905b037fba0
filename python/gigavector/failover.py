"""Reads that survive a failover, writes that say when their outcome is unknown.

A Database opened with a multi-host ``dsn`` (``host=a,b,c
target_session_attrs=read-write``) reconnects to whichever server is the
primary: libpq tries the hosts in turn and keeps the one that accepts
writes.  What a lost connection means differs:

- a read (search, get, count) can simply run again: ``read_with_retries``
  retries it on a fresh connection, waiting a little longer each time;
- a write whose connection broke may or may not have committed: it is not
  retried, and ``write_outcome_unknown`` raises a GigaVectorError saying so.

Before a retry the pool's idle connections are checked, so that the broken
ones (to the old primary) are replaced rather than handed out again.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from .errors import GigaVectorError

__all__ = ["connection_lost", "read_with_retries", "write_outcome_unknown", "RETRY_FIRST_WAIT"]

_T = TypeVar("_T")

#: seconds before the first retry of a read; doubled each time, at most RETRY_MAX_WAIT
RETRY_FIRST_WAIT = 0.25
RETRY_MAX_WAIT = 4.0

# SQLSTATE classes of a connection that went away: 08 connection exception,
# 57P01..57P03 the server shutting down or not yet accepting connections
_LOST_STATES = ("08", "57P01", "57P02", "57P03")


def connection_lost(error: BaseException) -> bool:
    """Whether error (a GigaVectorError or psycopg error) is a lost or refused
    connection, not an error in the statement."""
    cause = error.__cause__ if isinstance(error, GigaVectorError) else error
    if isinstance(cause, PoolTimeout):
        return True
    if not isinstance(cause, psycopg.OperationalError):
        return False
    state = cause.sqlstate
    return state is None or state.startswith(_LOST_STATES)


def read_with_retries(pool: ConnectionPool, read: Callable[[], _T], retries: int) -> _T:
    """read(), again up to retries times after a lost connection."""
    wait = RETRY_FIRST_WAIT
    for attempt in range(retries + 1):
        try:
            return read()
        except (GigaVectorError, PoolTimeout) as e:
            if attempt == retries or not connection_lost(e):
                raise
        pool.check()
        time.sleep(wait)
        wait = min(2 * wait, RETRY_MAX_WAIT)
    raise AssertionError("unreachable")  # pragma: no cover


def write_outcome_unknown(pool: ConnectionPool, error: GigaVectorError) -> GigaVectorError:
    """The error for a write whose connection was lost: it may have committed."""
    pool.check()
    return GigaVectorError(
        f"the connection was lost during a write, which may or may not have committed: {error}",
        sqlstate=error.sqlstate,
        hint="Check whether the change is there before repeating it; "
             "the next call connects to the current primary.")
