"""Sharding, replicas and cluster state: GigaVector's ShardManager,
ReplicationManager and Cluster on PostgreSQL's own machinery.

- ShardManager: a collection hash-partitioned over postgres_fdw shard
  servers (``gigavector.add_shard_server``, ``create_distributed_table``,
  ``add_shard``, the ``gigavector.shards`` view); its searches fan out to
  every shard at once (``gigavector.distributed_search``).
- ReplicationManager: streaming standbys as the primary sees them
  (``gigavector.cluster_status``), their lag, and waiting until a standby
  has replayed a write.
- Cluster: the members and the primary, from Patroni's REST API when one is
  given, else from ``gigavector.cluster_status``.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import psycopg

from .database import Database, _scalar
from .errors import GigaVectorError
from .vector import VectorLike

__all__ = ["ShardInfo", "ShardManager", "ReplicaInfo", "ReplicationManager", "Member", "Cluster"]


@dataclass(frozen=True)
class ShardInfo:
    """One shard of a distributed collection (a row of gigavector.shards)."""

    collection: str
    shard: str  # the foreign table (partition) here
    server: str
    remote_table: str
    modulus: int | None  # hash bounds; None for a retired shard
    remainder: int | None
    status: str  # "active" or "retired"


class ShardManager:
    """A Database's collection spread over shard servers.

    >>> shards = ShardManager(db)
    >>> shards.add_shard("s1", "host=10.0.0.2 dbname=app")
    >>> shards.add_shard("s2", "host=10.0.0.3 dbname=app")
    >>> shards.distribute(shard_key="id")      # its rows move to their shards
    >>> db.add_vectors(vectors)                 # new rows are routed to their shards
    >>> shards.search([0.1, ...], k=10)         # every shard at once, merged
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def _regclass(self, collection: str | None) -> str:
        return self._db._regclass if collection is None else collection

    def add_shard(self, name: str, dsn: str) -> None:
        """Register a shard server (a PostgreSQL with gigavector) by a libpq
        key=value connection string; its user and password go to the user mapping."""
        self._db._run(lambda c: c.execute("SELECT gigavector.add_shard_server(%s, %s)", (name, dsn)))

    def distribute(self, collection: str | None = None, shard_key: str = "id",
                   servers: Sequence[str] | None = None) -> None:
        """Make the collection, by default this Database's, a distributed
        table hash-partitioned on shard_key over servers (default: every shard
        server), its indexes created on every shard and its rows moved to the
        shards they hash to (all or none: the call fails unless every row
        arrived)."""
        target = self._regclass(collection)

        def run(c: psycopg.Connection[Any]) -> None:
            names = list(servers) if servers is not None else [r[0] for r in c.execute(
                "SELECT srvname FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w "
                "ON w.oid = s.srvfdw WHERE w.fdwname = 'postgres_fdw' ORDER BY srvname").fetchall()]
            if not names:
                raise GigaVectorError("no shard server: add one with add_shard(name, dsn)")
            c.execute("SELECT gigavector.create_distributed_table(%s::regclass, %s, %s)",
                      (target, shard_key, names))
        self._db._run(run)

    def extend(self, server: str, collection: str | None = None) -> str:
        """Add shard server ``server`` to the live collection: the largest shard
        is split and the rows that now belong on server are copied there
        (gigavector.add_shard).  Returns the new shard; the old one is retired."""
        target = self._regclass(collection)
        return self._db._run(lambda c: str(_scalar(
            c, "SELECT gigavector.add_shard(%s::regclass, %s)::text", (target, server))))

    def drop_retired(self, collection: str | None = None) -> int:
        """Drop the shards extend() retired, with their remote tables; returns how many."""
        target = self._regclass(collection)
        return self._db._run(lambda c: int(_scalar(
            c, "SELECT gigavector.drop_retired_shards(%s::regclass)", (target,))))

    def shards(self, collection: str | None = None) -> list[ShardInfo]:
        """The shards of the collection (active and retired)."""
        rows = self._db._fetch(
            "SELECT tbl::text, shard::text, server, remote_schema || '.' || remote_table, "
            "modulus, remainder, status FROM gigavector.shards WHERE tbl = %s::regclass "
            "ORDER BY status, remainder, shard::text", (self._regclass(collection),))
        return [ShardInfo(*r) for r in rows]

    def search(self, query: VectorLike, k: int = 10, *, filter_columns: Mapping[str, Any] | None = None,
               distance: str = "<->", collection: str | None = None) -> list[tuple[int, float]]:
        """The k nearest (id, distance) of the collection, every shard searched
        at once through its own index and the answers merged.
        ``filter_columns``: column values the rows must have, sent to every
        shard: ``{"label": 3}``, or a list for any of several values (table
        columns, not metadata keys: Database.search filters on metadata)."""
        vec = self._db._vector(query, "query")
        where = json.dumps(dict(filter_columns)) if filter_columns is not None else None
        rows = self._db._fetch(
            "SELECT key::bigint, distance FROM gigavector.distributed_search("
            "%s::regclass, 'embedding', %s, %s, %s, %s::jsonb)",
            (self._regclass(collection), vec, k, distance, where))
        return [(int(r[0]), float(r[1])) for r in rows]


@dataclass(frozen=True)
class ReplicaInfo:
    """A streaming standby as its primary sees it (a row of gigavector.cluster_status)."""

    name: str
    address: str | None
    state: str | None
    sync_state: str | None
    replay_lsn: str | None
    lag_bytes: float | None


class ReplicationManager:
    """The streaming standbys of a Database's primary.

    ``db`` is opened on the primary (``dsn``); a ``read_dsn`` of the
    Database, or ``replica_dsn`` here, is the standby wait_for_replica polls.
    """

    def __init__(self, db: Database, replica_dsn: str | None = None) -> None:
        self._db = db
        self._replica_dsn = replica_dsn

    def replicas(self) -> list[ReplicaInfo]:
        """Every standby streaming from the primary."""
        rows = self._db._run(lambda c: c.execute(
            "SELECT member, address, state, sync_state, replay_lsn::text, lag_bytes::float8 "
            "FROM gigavector.cluster_status WHERE role = 'primary' AND member IS NOT NULL "
            "ORDER BY member").fetchall())
        return [ReplicaInfo(*r) for r in rows]

    def lag(self) -> dict[str, float]:
        """Bytes of WAL each standby has yet to replay, by name."""
        return {r.name: r.lag_bytes or 0.0 for r in self.replicas()}

    def wait_for_replica(self, lsn: str | None = None, timeout: float = 30.0) -> bool:
        """Wait until the standby has replayed WAL up to lsn (default: the
        primary's position now, i.e. every write committed so far); False
        when timeout seconds pass first."""
        if lsn is None:
            lsn = self._db._run(lambda c: str(_scalar(c, "SELECT pg_current_wal_lsn()::text")))
        deadline = time.monotonic() + timeout
        while True:
            if self._replayed(lsn):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def _replayed(self, lsn: str) -> bool:
        query = "SELECT coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, true)"
        if self._replica_dsn is not None:
            with psycopg.connect(self._replica_dsn, autocommit=True) as c:
                return bool(c.execute(query, (lsn,)).fetchone()[0])  # type: ignore[index]
        return bool(self._db._fetch(query, (lsn,))[0][0])


@dataclass(frozen=True)
class Member:
    """A member of a cluster: its name, role ("primary"/"leader", "replica"/
    "standby"...), state, host and port when known, and lag in bytes."""

    name: str
    role: str
    state: str | None
    host: str | None
    port: int | None
    lag: float | None


class Cluster:
    """A replicated PostgreSQL cluster.

    ``Cluster(dsn, patroni_url="http://127.0.0.1:8008")`` reads members from
    Patroni's REST API (``GET /cluster``); without one, from
    ``gigavector.cluster_status`` on the server dsn connects to.
    """

    def __init__(self, dsn: str, patroni_url: str | None = None, timeout: float = 5.0) -> None:
        self._dsn = dsn
        self._patroni = patroni_url.rstrip("/") if patroni_url else None
        self._timeout = timeout

    def members(self) -> list[Member]:
        """Every member, the primary first."""
        members = self._patroni_members() if self._patroni else self._view_members()
        return sorted(members, key=lambda m: (m.role not in ("leader", "primary"), m.name))

    def primary(self) -> Member | None:
        """The primary (Patroni's leader), or None during a failover."""
        return next((m for m in self.members() if m.role in ("leader", "primary")), None)

    def status(self) -> dict[str, Any]:
        """{"primary": name or None, "members": [Member...], "source": "patroni" or "views"}."""
        members = self.members()
        lead = next((m.name for m in members if m.role in ("leader", "primary")), None)
        return {"primary": lead, "members": members,
                "source": "patroni" if self._patroni else "views"}

    def _patroni_members(self) -> list[Member]:
        try:
            with urllib.request.urlopen(f"{self._patroni}/cluster", timeout=self._timeout) as r:
                body = json.load(r)
        except OSError as e:
            raise GigaVectorError(f"cannot read Patroni's REST API at {self._patroni}: {e}") from e
        return [Member(m["name"], m["role"], m.get("state"), m.get("host"), m.get("port"),
                       _lag_bytes(m.get("lag"))) for m in body.get("members", [])]

    def _view_members(self) -> list[Member]:
        try:
            with psycopg.connect(self._dsn, autocommit=True) as c:
                here = c.execute("SELECT inet_server_addr()::text, current_setting('port')::int, "
                                 "current_setting('cluster_name')").fetchone()
                rows = c.execute("SELECT role, member, address, state, lag_bytes::float8 "
                                 "FROM gigavector.cluster_status").fetchall()
        except psycopg.Error as e:
            raise GigaVectorError.from_psycopg(e) from e
        assert here is not None
        role = rows[0][0] if rows else "primary"
        members = [Member(here[2] or "self", role, "running", here[0], here[1], None)]
        if role == "primary":
            members += [Member(r[1], "standby", r[3], r[2], None, r[4]) for r in rows if r[1]]
        return members


def _lag_bytes(lag: Any) -> float | None:
    """Patroni reports lag in bytes, or "unknown"."""
    return float(lag) if isinstance(lag, (int, float)) else None
