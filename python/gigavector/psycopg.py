"""psycopg 3 adapters for gvector: dump Vector, lists and numpy arrays;
load gvector values as Vector (or numpy arrays), in text and binary."""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.adapt import Dumper, Loader
from psycopg.pq import Format
from psycopg.types import TypeInfo

from .errors import GigaVectorError
from .vector import Vector

try:  # numpy is optional: lists work without it
    import numpy as _np
except ImportError:  # pragma: no cover - exercised only without numpy
    _np = None  # type: ignore[assignment]


class _GvectorTextDumper(Dumper):
    format = Format.TEXT

    def dump(self, obj: Any) -> bytes:
        return Vector(obj).to_text().encode()


class _GvectorBinaryDumper(_GvectorTextDumper):
    format = Format.BINARY

    def dump(self, obj: Any) -> bytes:
        return Vector(obj).to_binary()


class _GvectorTextLoader(Loader):
    format = Format.TEXT

    def load(self, data: Any) -> Vector:
        return Vector.from_text(bytes(data).decode())


class _GvectorBinaryLoader(Loader):
    format = Format.BINARY

    def load(self, data: Any) -> Vector:
        return Vector.from_binary(data)


class _GvectorNumpyTextLoader(_GvectorTextLoader):
    def load(self, data: Any) -> Any:
        return super().load(data).to_numpy()


class _GvectorNumpyBinaryLoader(_GvectorBinaryLoader):
    def load(self, data: Any) -> Any:
        return super().load(data).to_numpy()


def register_gvector(conn: Connection[Any], numpy: bool = False) -> None:
    """Teach a connection the gvector type.

    Vector values and lists dump as gvector when passed where a gvector is
    expected.  With ``numpy=True`` numpy arrays dump as gvector too, and
    loaded values are numpy float32 arrays instead of Vector.
    """
    info = TypeInfo.fetch(conn, "gvector")
    if info is None:
        raise GigaVectorError("type gvector not found: run CREATE EXTENSION gigavector")
    info.register(conn)
    adapters = conn.adapters
    use_numpy = numpy and _np is not None
    for base in (_GvectorTextDumper, _GvectorBinaryDumper):
        dumper = type(base.__name__, (base,), {"oid": info.oid})
        adapters.register_dumper(Vector, dumper)
        if use_numpy:
            adapters.register_dumper(_np.ndarray, dumper)
    if use_numpy:
        adapters.register_loader(info.oid, _GvectorNumpyTextLoader)
        adapters.register_loader(info.oid, _GvectorNumpyBinaryLoader)
    else:
        adapters.register_loader(info.oid, _GvectorTextLoader)
        adapters.register_loader(info.oid, _GvectorBinaryLoader)
