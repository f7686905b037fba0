"""GPU search — GigaVector's ``gpu_available``, ``gpu_device_count``,
``gpu_get_device_info``, ``GPUConfig`` and ``GPUIndex``.

In GigaVector the GPU index lived in the client process.  Here the device
belongs to the server: its GPU search worker (``gigavector.gpu_*``, running
when the server preloads gigavector, as the embedded server does) keeps each
loaded collection resident and answers exact k-nearest searches, on CUDA when
the server has a device and on its CPU backend otherwise — same results.
:class:`GPUIndex` is a collection (a :class:`~gigavector.Database`) loaded
for GPU search; ``.device`` says which backend answers (``"cuda:0"`` or
``"cpu"``).

The module functions ask a server: the ``db`` given, else the one named by
``$GIGAVECTOR_DSN`` or libpq's PG* variables, else a throwaway embedded one
started once per process.
"""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass
from typing import Any, Sequence

from .database import Database, DistanceType
from .errors import GigaVectorError

__all__ = ["GPUConfig", "GPUDeviceInfo", "GPUHit", "GPUIndex", "gpu_available",
           "gpu_device_count", "gpu_get_device_info"]

_MAX_K = 1024
_DISTANCE_NAMES = {DistanceType.EUCLIDEAN: "l2", DistanceType.COSINE: "cosine",
                   DistanceType.DOT_PRODUCT: "ip"}

_default_lock = threading.Lock()
_default_db: Database | None = None


@dataclass(frozen=True)
class GPUDeviceInfo:
    """A CUDA device of the server: memory in bytes, compute capability "major.minor"."""

    device_id: int
    name: str
    total_memory: int
    free_memory: int
    compute_capability: str


@dataclass(frozen=True)
class GPUConfig:
    """``device_id``: the device (the worker uses device 0); ``use_float16``: keep the
    collection in fp16 on the device (half the memory; approximate distances)."""

    device_id: int = 0
    use_float16: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.device_id, bool) or not isinstance(self.device_id, int) or self.device_id < 0:
            raise ValueError(f"device_id must be a non-negative integer, not {self.device_id!r}")


@dataclass(frozen=True)
class GPUHit:
    """One result: the vector's id (as ``add_vectors`` returned it) and its distance."""

    id: int
    distance: float


def _close_default() -> None:
    global _default_db
    if _default_db is not None:
        _default_db.close()
        _default_db = None


def _server(db: Database | None) -> Database:
    """The database to ask: db, else one shared by this process."""
    global _default_db
    if db is not None:
        return db
    with _default_lock:
        if _default_db is None or _default_db.closed:
            _default_db = Database.open(None, 1)
            atexit.register(_close_default)
        return _default_db


def _scalar(db: Database, query: str, params: tuple[Any, ...] = ()) -> Any:
    with db.connection() as conn:
        row = conn.execute(query, params).fetchone()
    return None if row is None else row[0]


def gpu_available(db: Database | None = None) -> bool:
    """Whether the server's GPU search worker runs on a CUDA device."""
    return bool(_scalar(_server(db), "SELECT gigavector.gpu_available()"))


def gpu_device_count(db: Database | None = None) -> int:
    """The CUDA devices the server's GPU worker found (0 without one)."""
    return int(_scalar(_server(db), "SELECT gigavector.gpu_device_count()"))


def gpu_get_device_info(device_id: int, db: Database | None = None) -> GPUDeviceInfo:
    """A device's name, memory and compute capability; ValueError if there is no such device."""
    count = gpu_device_count(db)
    if not 0 <= device_id < count:
        raise ValueError(f"GPU device {device_id} does not exist ({count} available)")
    with _server(db).connection() as conn:
        row = conn.execute("SELECT * FROM gigavector.gpu_device_info(%s)", (device_id,)).fetchone()
    assert row is not None
    return GPUDeviceInfo(device_id, row[0], int(row[1]), int(row[2]), row[3])


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= _MAX_K:
        raise ValueError(f"k must be an integer from 1 to {_MAX_K}, not {k!r}")


class GPUIndex:
    """Exact k-nearest search of a collection loaded on the server's GPU worker.

    ``db``: the collection to search (its ``embedding`` column); None: a new
    temporary collection of ``dimension`` on the default server, closed with
    the index.  Vectors added (here or through ``db``) reach the resident copy
    before the next search.
    """

    def __init__(self, dimension: int, config: GPUConfig | None = None, *,
                 db: Database | None = None) -> None:
        self.config = config or GPUConfig()
        self._owns_db = db is None
        self._db = db if db is not None else Database.open(None, dimension)
        if self._db.dimension != dimension:
            raise ValueError(f"the database holds {self._db.dimension}-dimensional vectors, not {dimension}")
        self.dimension = dimension
        with self._db.connection() as conn:
            conn.execute("SELECT gigavector.gpu_load(%s::regclass, 'embedding', %s)",
                         (self._db.table.as_string(conn), self.config.use_float16))
            self._regclass = self._db.table.as_string(conn)

    @property
    def db(self) -> Database:
        return self._db

    @property
    def device(self) -> str:
        """``"cuda:N"`` when the server's worker searches on a GPU, else ``"cpu"``."""
        with self._db.connection() as conn:
            row = conn.execute("SELECT backend FROM gigavector.gpu_status WHERE tbl = %s::regclass"
                               " AND column_name = 'embedding'", (self._regclass,)).fetchone()
        if row is not None and row[0] == "cuda":
            return f"cuda:{self.config.device_id}"
        return "cpu"

    def add_vectors(self, vectors: Any) -> list[int]:
        """Add vectors (a list of sequences or a 2-D numpy array); returns their ids."""
        return self._db.add_vectors(vectors)

    def search(self, query: Sequence[float] | Any, k: int,
               distance: DistanceType = DistanceType.EUCLIDEAN) -> list[GPUHit]:
        """The k nearest vectors to query, nearest first (equal distances by id)."""
        _check_k(k)
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT id, distance FROM gigavector.gpu_search(%s::regclass, 'embedding', %s::gvector, %s, %s)",
                (self._regclass, _text(query), k, _DISTANCE_NAMES[DistanceType(distance)])).fetchall()
        return [GPUHit(int(i), float(d)) for i, d in rows]

    def search_batch(self, queries: Sequence[Sequence[float]] | Any, k: int,
                     distance: DistanceType = DistanceType.EUCLIDEAN) -> list[list[GPUHit]]:
        """search() for each query, in one request to the worker."""
        _check_k(k)
        texts = [_text(q) for q in queries]
        out: list[list[GPUHit]] = [[] for _ in texts]
        if not texts:
            return out
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT query_no, id, distance FROM gigavector.gpu_search_batch(%s::regclass, 'embedding',"
                " %s::gvector[], %s, %s)",
                (self._regclass, texts, k, _DISTANCE_NAMES[DistanceType(distance)])).fetchall()
        for qn, i, d in rows:
            out[qn - 1].append(GPUHit(int(i), float(d)))
        return out

    def close(self) -> None:
        """Unload the collection (and close the database this index opened)."""
        if self._db.closed:
            return
        try:
            with self._db.connection() as conn:
                conn.execute("SELECT gigavector.gpu_unload(%s::regclass, 'embedding')", (self._regclass,))
        except GigaVectorError:
            pass
        if self._owns_db:
            self._db.close()

    def __enter__(self) -> GPUIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _text(vector: Any) -> str:
    """A query as gvector text; ValueError for what is not a flat list of numbers."""
    try:
        values = [float(x) for x in vector]
    except TypeError as e:
        raise ValueError(f"a query must be a sequence of numbers, not {type(vector).__name__}") from e
    return "[" + ",".join(repr(v) for v in values) + "]"
