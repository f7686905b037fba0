"""TTL: vectors that expire — GigaVector's ``TTLManager`` and ``TTLConfig``.

In GigaVector the TTLs lived in memory and nothing enforced them.  Here a
vector's expiry is a ``timestamptz`` column of its table
(``gigavector.enable_ttl``): an expired vector is never returned — not by
:class:`Database` (which adds the condition to every query), not by plain SQL
(a row-level security policy) — and the server's TTL worker deletes it
within ``gigavector.ttl_cleanup_interval`` (when the library is preloaded;
the embedded server preloads it).  ``cleanup_now()`` deletes at once.
"""

from __future__ import annotations

import datetime
import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psycopg import sql

from .errors import GigaVectorError

if TYPE_CHECKING:
    from .database import Database

__all__ = ["TTLConfig", "TTLManager", "TTLStats"]

# gigavector.ttl_cleanup_interval's range (seconds)
_MIN_INTERVAL = 1
_MAX_INTERVAL = 86400


def _seconds(value: Any, what: str, *, allow_none: bool) -> float | None:
    """A positive, finite number of seconds (or None where allowed); ValueError otherwise."""
    if value is None:
        if allow_none:
            return None
        raise ValueError(f"{what} must be a number of seconds, not None")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what} must be a number of seconds, not {type(value).__name__}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{what} must be greater than zero, not {value!r}")
    return seconds


@dataclass(frozen=True)
class TTLConfig:
    """How vectors expire.

    ``default_ttl_seconds``: the life of every vector added (None: vectors
    live until given a TTL).  ``cleanup_interval_seconds``: how often the
    server's TTL worker deletes expired vectors; the package sets it on its
    embedded server only (elsewhere it is the server's
    ``gigavector.ttl_cleanup_interval``, set by its administrator).
    """

    default_ttl_seconds: float | None = None
    cleanup_interval_seconds: float = 60

    def __post_init__(self) -> None:
        _seconds(self.default_ttl_seconds, "default_ttl_seconds", allow_none=True)
        interval = _seconds(self.cleanup_interval_seconds, "cleanup_interval_seconds",
                            allow_none=False)
        assert interval is not None
        if not _MIN_INTERVAL <= interval <= _MAX_INTERVAL:
            raise ValueError(f"cleanup_interval_seconds must be from {_MIN_INTERVAL} to "
                             f"{_MAX_INTERVAL}, not {self.cleanup_interval_seconds!r}")

    @property
    def default_ttl(self) -> datetime.timedelta | None:
        """The default TTL as the interval the server stores."""
        if self.default_ttl_seconds is None:
            return None
        return datetime.timedelta(seconds=float(self.default_ttl_seconds))

    @property
    def interval_setting(self) -> str:
        """gigavector.ttl_cleanup_interval's value, in whole seconds."""
        return f"{max(_MIN_INTERVAL, round(float(self.cleanup_interval_seconds)))}s"


@dataclass(frozen=True)
class TTLStats:
    """What ``gigavector.ttl_stats`` says about one collection."""

    total_vectors_with_ttl: int   # vectors that have an expiry (expired or not)
    total_expired: int            # expired and not yet deleted (never returned)
    total_deleted: int            # deleted by the worker or cleanup_now() so far
    last_cleanup: datetime.datetime | None
    last_error: str | None


class TTLManager:
    """Expiry of the vectors of one :class:`Database`.

    ``TTLManager(config, db)`` gives the collection TTL (``enable_ttl``) with
    ``config.default_ttl_seconds`` for vectors added from then on.
    """

    def __init__(self, config: TTLConfig | None = None, db: Database | None = None) -> None:
        from .database import Database  # (database imports this module)
        if config is None:
            config = TTLConfig()
        if not isinstance(config, TTLConfig):
            raise ValueError(f"config must be a TTLConfig, not {type(config).__name__}")
        if not isinstance(db, Database):
            raise ValueError("TTLManager needs the Database whose vectors expire: "
                             "TTLManager(config, db)")
        self._config = config
        self._db: Database | None = db
        db._enable_ttl(config)

    @property
    def config(self) -> TTLConfig:
        return self._config

    def _database(self) -> Database:
        if self._db is None or self._db.closed:
            raise GigaVectorError("the TTL manager is closed")
        return self._db

    def set_ttl(self, vector_index: int, ttl_seconds: float | None) -> datetime.datetime | None:
        """Make a vector expire ``ttl_seconds`` from now (None: never); returns
        its new expiry.  GigaVectorError (SQLSTATE P0002) when there is no such
        (unexpired) vector."""
        db = self._database()
        key = _vector_id(vector_index)
        seconds = _seconds(ttl_seconds, "ttl_seconds", allow_none=True)
        ttl = None if seconds is None else datetime.timedelta(seconds=seconds)
        live = db._and_live()
        q = sql.SQL("SELECT gigavector.set_ttl(%s::regclass, id, %s) FROM {} WHERE id = %s{}").format(
            db._t, live)

        def run(conn: Any) -> datetime.datetime | None:
            row = conn.execute(q, (db._regclass, ttl, key)).fetchone()
            if row is None:
                raise GigaVectorError(f"no vector with id {key}", sqlstate="P0002")
            expiry: datetime.datetime | None = row[0]
            return expiry
        return db._run(run)

    def get_ttl(self, vector_index: int) -> float | None:
        """Seconds until the vector expires (None: it never does).
        GigaVectorError (SQLSTATE P0002) when there is no such (unexpired) vector."""
        db = self._database()
        key = _vector_id(vector_index)
        col = sql.Identifier(db._ttl_column or "expires_at")
        q = sql.SQL("SELECT extract(epoch FROM {} - now())::float8 FROM {} WHERE id = %s{}").format(
            col, db._t, db._and_live())

        def run(conn: Any) -> float | None:
            row = conn.execute(q, (key,)).fetchone()
            if row is None:
                raise GigaVectorError(f"no vector with id {key}", sqlstate="P0002")
            return None if row[0] is None else float(row[0])
        return db._run(run)

    def remove_ttl(self, vector_index: int) -> None:
        """The vector never expires."""
        self.set_ttl(vector_index, None)

    def cleanup_now(self) -> int:
        """Delete the collection's expired vectors now; returns how many."""
        db = self._database()
        def run(conn: Any) -> int:
            row = conn.execute("SELECT gigavector.ttl_cleanup(%s::regclass)", (db._regclass,)).fetchone()
            return int(row[0])
        return db._run(run)

    def get_stats(self) -> TTLStats:
        """Counts from gigavector.ttl_stats."""
        db = self._database()

        def run(conn: Any) -> TTLStats:
            row = conn.execute("SELECT rows_with_ttl, rows_expired, rows_deleted, last_run, "
                               "last_error FROM gigavector.ttl_stats "
                               "WHERE table_name = %s::regclass", (db._regclass,)).fetchone()
            if row is None:
                raise GigaVectorError(f"collection {db.collection} has no TTL", sqlstate="55000")
            return TTLStats(int(row[0] or 0), int(row[1] or 0), int(row[2]), row[3], row[4])
        return db._run(run)

    def close(self) -> None:
        """Forget the database (its vectors keep their TTLs, and the worker goes on)."""
        self._db = None

    def __enter__(self) -> TTLManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _vector_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"vector_index must be an integer, not {type(value).__name__}")
    return int(value)
