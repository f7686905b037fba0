"""Namespaces (multi-tenancy): ``NamespaceManager`` and ``NamespaceConfig``.

A namespace is what ``gigavector.create_namespace`` makes: a schema of the
namespace's name holding one collection table, ``vectors``, with its indexes
and a quota, and a role of its own, ``gv_ns_<name>``, that may use that schema
and nothing else.  PostgreSQL's privileges keep tenants apart: a request run
as one namespace's role (``acting_role``, the REST server's API keys and
tokens) cannot read, count, search or write another's vectors.

A :class:`Namespace` is a :class:`Database` on the namespace's table, with
the namespace's ``name``, ``role`` and ``max_vectors`` beside.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from typing import Any, ContextManager, Iterator, List, cast

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from . import embedded as _embedded
from .database import (Database, DistanceType, IndexType, MetadataFilter, _Conn, _create_extension,
                       _index_prefix, _resolve_dsn, run_in_pool)
from .errors import GigaVectorError

__all__ = ["Namespace", "NamespaceConfig", "NamespaceInfo", "NamespaceManager"]

_NAME = re.compile(r"[a-z][a-z0-9_]{0,47}")
_RESERVED = ("public", "gigavector", "information_schema")
_TABLE = "vectors"
_SQL_INDEX = {IndexType.HNSW: "hnsw", IndexType.IVFPQ: "ivfpq", IndexType.KDTREE: "kdtree",
              IndexType.FLAT: "flat"}
_SQL_DISTANCE = {DistanceType.EUCLIDEAN: "l2", DistanceType.COSINE: "cosine",
                 DistanceType.DOT_PRODUCT: "ip"}


def check_namespace_name(name: str) -> str:
    """name when it is a valid namespace name, else ValueError (the SQL function's rule)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"invalid namespace name {name!r}: 1 to 48 characters, lowercase "
                         f"letters, digits and underscores, starting with a letter")
    if name.startswith("pg_") or name in _RESERVED:
        raise ValueError(f"namespace name {name!r} is reserved")
    return name


@dataclass(frozen=True)
class NamespaceConfig:
    """A namespace to create: its name, dimension, index, the distance the index
    serves and an optional quota (None: unlimited)."""

    name: str
    dimension: int
    index: IndexType = IndexType.HNSW
    distance: DistanceType = DistanceType.EUCLIDEAN
    max_vectors: int | None = None


@dataclass(frozen=True)
class NamespaceInfo:
    """A row of the ``gigavector.namespaces`` view."""

    name: str
    dimension: int
    index: str
    distance: str
    rows: int
    max_vectors: int | None
    owner: str


class _Count(int):
    """A vector count that may also be called as Database.count(filter) is.

    The seed reads ``namespace.count`` as an attribute; Database's callers
    call ``count()``: this int answers both."""

    _db: Database

    def __call__(self, filter_metadata: MetadataFilter = None) -> int:
        if filter_metadata is None:
            return int(self)
        return Database.count(self._db, filter_metadata)


class Namespace(Database):
    """A namespace's collection: the Database API plus ``name``, ``role`` and ``max_vectors``."""

    name: str
    role: str
    max_vectors: int | None

    @property
    def count(self) -> _Count:  # an int that is also callable, see _Count
        n = _Count(Database.count(self))
        n._db = self
        return n

    def __len__(self) -> int:
        return Database.count(self)


def _namespace_conninfo(conninfo: str, name: str, extschema: str) -> str:
    """conninfo for a namespace's own pool: search_path set to its schema, then
    the extension's, and the session's role to the namespace's role, so that
    every statement on it runs with the tenant's privileges only (names of
    letters, digits and underscores need no escaping)."""
    params = conninfo_to_dict(conninfo)
    options = str(params.get("options") or "")
    name = check_namespace_name(name)
    params["options"] = f"{options} -c search_path={name},{extschema} -c role=gv_ns_{name}".strip()
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


class NamespaceManager:
    """Creates, opens, lists and drops the namespaces of one database.

    ``path_or_dsn``: a libpq connection string (it holds "=" or starts with
    postgres:// or postgresql://), a data folder for an embedded server, or
    None: ``$GIGAVECTOR_DSN`` / libpq's PG* variables if set, else a throwaway
    embedded server.  The manager's login role creates and drops namespaces
    (it needs CREATEROLE and CREATE on the database, or superuser).  Each
    namespace gets a pool of its own whose sessions run as the namespace's
    role (``-c role=gv_ns_<name>``): a login that is a member of the tenants'
    roles, NOINHERIT and without grants of its own, can serve namespaces.
    """

    def __init__(self, path_or_dsn: str | os.PathLike[str] | None = None, *,
                 pool_size: int = 4) -> None:
        self._server: _embedded.EmbeddedServer | None = None
        self._pool_size = max(1, pool_size)
        self._open: dict[str, Namespace] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._extschema = "public"
        where = os.fspath(path_or_dsn) if path_or_dsn is not None else None
        if where is not None and ("=" in where or re.match(r"postgres(ql)?://", where)):
            conninfo = where
        elif where is not None:
            self._server = _embedded.acquire(where)
            conninfo = self._server.conninfo()
        else:
            dsn = _resolve_dsn(None, None)
            if dsn is None:
                self._server = _embedded.acquire(None)
                conninfo = self._server.conninfo()
            else:
                conninfo = dsn
        self._conninfo = conninfo
        try:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                row = conn.execute("SELECT to_regclass('gigavector.namespace_registry') IS NULL").fetchone()
                if row is not None and row[0]:
                    _create_extension(conn)
                row = conn.execute("SELECT extnamespace::regnamespace::text FROM pg_extension "
                                   "WHERE extname = 'gigavector'").fetchone()
            extschema = str(row[0]) if row is not None else "public"
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", extschema):
                raise GigaVectorError(f"the gigavector extension lives in schema {extschema!r}: "
                                      f"namespaces need a schema name of lowercase letters, "
                                      f"digits and underscores")
            self._extschema = extschema
            self._admin = ConnectionPool(conninfo, min_size=1, max_size=self._pool_size, open=True,
                                         kwargs={"autocommit": True}, name="gigavector:namespaces")
        except psycopg.Error as e:
            self._release_server()
            raise GigaVectorError.from_psycopg(e) from e
        except BaseException:
            self._release_server()
            raise

    @property
    def conninfo(self) -> str:
        return self._conninfo

    def connection(self) -> ContextManager[_Conn]:
        """A connection of the manager's pool (its login role), for your own SQL."""
        if self._closed:
            raise GigaVectorError("the namespace manager is closed")
        return self._admin.connection()

    def _run(self, fn: Any) -> Any:
        if self._closed:
            raise GigaVectorError("the namespace manager is closed")
        return run_in_pool(self._admin, fn)

    def create(self, config: NamespaceConfig) -> Namespace:
        """Create a namespace (GigaVectorError 42P06 when it exists) and open it."""
        name = check_namespace_name(config.name)
        index = IndexType(config.index)
        distance = DistanceType(config.distance)
        index_name = None
        if index.access_method is not None:
            index_name = (_index_prefix(name, _TABLE) + index.access_method[3:] + "_"
                          + distance.name.lower())
        self._run(lambda c: c.execute(
            "SELECT gigavector.create_namespace(%s, %s, %s, %s, %s, %s)",
            (name, config.dimension, _SQL_INDEX[index], _SQL_DISTANCE[distance],
             config.max_vectors, index_name)))
        found = self.get(name)
        if found is None:  # pragma: no cover - dropped by another session at once
            raise GigaVectorError(f'namespace "{name}" does not exist', sqlstate="3F000")
        return found

    def info(self, name: str) -> NamespaceInfo | None:
        """The namespace's row of gigavector.namespaces (as the acting role), or None."""
        rows = self._list("WHERE name = %s", (name,))
        return rows[0] if rows else None

    def list(self) -> List[NamespaceInfo]:
        """The namespaces the acting role (default: the manager's login) may use, by name."""
        return self._list("", ())

    def _list(self, where: str, params: tuple[Any, ...]) -> List[NamespaceInfo]:
        q = ("SELECT name, dimension, index, distance, rows, max_vectors, owner "
             "FROM gigavector.namespaces " + where + " ORDER BY name")
        rows = self._run(lambda c: c.execute(q, params).fetchall())
        return [NamespaceInfo(str(r[0]), int(r[1]), r[2], r[3], int(r[4]),
                              None if r[5] is None else int(r[5]), str(r[6])) for r in rows]

    def get(self, name: str) -> Namespace | None:
        """The namespace called name, opened once and kept (None when there is none)."""
        check_namespace_name(name)
        with self._lock:
            ns = self._open.get(name)
            if ns is not None:
                return ns
            # the view: a login that is only a member of the tenants' roles reads it
            row = self._run(lambda c: c.execute(
                "SELECT dimension, index, distance, owner, max_vectors "
                "FROM gigavector.namespaces WHERE name = %s", (name,)).fetchone())
            if row is None:
                return None
            index = {v: k for k, v in _SQL_INDEX.items()}[row[1]]
            distance = {v: k for k, v in _SQL_DISTANCE.items()}[row[2]]
            opened = Namespace.open(None, int(row[0]), index, index_distance=distance,
                                    dsn=_namespace_conninfo(self._conninfo, name, self._extschema),
                                    collection=_TABLE, pool_size=self._pool_size)
            ns = cast(Namespace, opened)
            ns.name, ns.role, ns.max_vectors = name, str(row[3]), row[4]
            self._open[name] = ns
            return ns

    def drop(self, name: str) -> None:
        """Drop a namespace: its vectors, its API keys and its role."""
        check_namespace_name(name)
        with self._lock:
            ns = self._open.pop(name, None)
        if ns is not None:
            ns.close()
        self._run(lambda c: c.execute("SELECT gigavector.drop_namespace(%s)", (name,)))

    def __iter__(self) -> Iterator[NamespaceInfo]:
        return iter(self.list())

    def close(self) -> None:
        """Close every opened namespace and the manager's connections."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            opened, self._open = list(self._open.values()), {}
        for ns in opened:
            ns.close()
        self._admin.close()
        self._release_server()

    def _release_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            _embedded.release(server)

    def __enter__(self) -> NamespaceManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
