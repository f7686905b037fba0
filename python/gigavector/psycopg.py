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


# --- ghalfvec, gbit, gsparsevec -------------------------------------------------------------
#
# One text and one binary dumper and loader each, over the values of
# wiretypes.py.  With numpy=True, ghalfvec loads as float16 arrays and gbit
# as bool arrays (gsparsevec stays a SparseVector: its (indices, values,
# dim) form is the sparse one), and numpy arrays dump by dtype: float16 as
# ghalfvec, bool as gbit, others as gvector.


def _codec_classes(name: str, value_cls: Any, to_numpy: bool) -> list[type]:
    """The text/binary dumper and loader classes of one type."""

    class TextDumper(Dumper):
        format = Format.TEXT

        def dump(self, obj: Any) -> bytes:
            text: str = (obj if isinstance(obj, value_cls) else value_cls(obj)).to_text()
            return text.encode()

    class BinaryDumper(Dumper):
        format = Format.BINARY

        def dump(self, obj: Any) -> bytes:
            data: bytes = (obj if isinstance(obj, value_cls) else value_cls(obj)).to_binary()
            return data

    class TextLoader(Loader):
        format = Format.TEXT

        def load(self, data: Any) -> Any:
            v = value_cls.from_text(bytes(data).decode())
            return v.to_numpy() if to_numpy else v

    class BinaryLoader(Loader):
        format = Format.BINARY

        def load(self, data: Any) -> Any:
            v = value_cls.from_binary(data)
            return v.to_numpy() if to_numpy else v

    for c, kind in ((TextDumper, "TextDumper"), (BinaryDumper, "BinaryDumper"),
                    (TextLoader, "TextLoader"), (BinaryLoader, "BinaryLoader")):
        c.__name__ = c.__qualname__ = f"_{name.capitalize()}{kind}"
    return [TextDumper, BinaryDumper, TextLoader, BinaryLoader]


def _register_type(conn: Connection[Any], name: str, value_cls: Any, to_numpy: bool) -> tuple[int, list[type]]:
    info = TypeInfo.fetch(conn, name)
    if info is None:
        raise GigaVectorError(f"type {name} not found: run CREATE EXTENSION gigavector")
    info.register(conn)
    text_dumper, binary_dumper, text_loader, binary_loader = _codec_classes(name, value_cls, to_numpy)
    dumpers = []
    for base in (text_dumper, binary_dumper):
        dumper = type(base.__name__, (base,), {"oid": info.oid})
        conn.adapters.register_dumper(value_cls, dumper)
        dumpers.append(dumper)
    conn.adapters.register_loader(info.oid, text_loader)
    conn.adapters.register_loader(info.oid, binary_loader)
    return info.oid, dumpers


def register_ghalfvec(conn: Connection[Any], numpy: bool = False) -> None:
    """Teach a connection ghalfvec: HalfVector values dump as ghalfvec; loaded
    values are HalfVector, or numpy float16 arrays with ``numpy=True``."""
    from .wiretypes import HalfVector
    _register_type(conn, "ghalfvec", HalfVector, numpy and _np is not None)


def register_gbit(conn: Connection[Any], numpy: bool = False) -> None:
    """Teach a connection gbit: BitVector values dump as gbit; loaded values
    are BitVector, or numpy bool arrays with ``numpy=True``."""
    from .wiretypes import BitVector
    _register_type(conn, "gbit", BitVector, numpy and _np is not None)


def register_gsparsevec(conn: Connection[Any]) -> None:
    """Teach a connection gsparsevec: SparseVector values dump as gsparsevec
    and gsparsevec values load as SparseVector (``.indices``, 0-based,
    ``.values``, ``.dim``; ``.to_numpy()`` for the dense array)."""
    from .wiretypes import SparseVector
    _register_type(conn, "gsparsevec", SparseVector, False)


class _NumpyByDtypeDumper(Dumper):
    """numpy arrays by dtype: float16 as ghalfvec, bool as gbit, others as
    gvector (psycopg asks get_key for each array, then upgrade)."""

    format = Format.BINARY
    targets: dict[Any, type] = {}

    def __init__(self, cls: type, context: Any = None) -> None:
        super().__init__(cls, context)
        self._context = context

    def get_key(self, obj: Any, format: Any) -> Any:
        kind = obj.dtype.type
        return (self.cls, kind) if kind in self.targets else self.cls

    def upgrade(self, obj: Any, format: Any) -> Dumper:
        dumper = self.targets.get(obj.dtype.type, self.targets[None])
        upgraded: Dumper = dumper(self.cls, self._context)
        return upgraded

    def dump(self, obj: Any) -> bytes:  # pragma: no cover - always upgraded
        return self.upgrade(obj, self.format).dump(obj)


def register_types(conn: Connection[Any], numpy: bool = False) -> None:
    """register_gvector, register_ghalfvec, register_gbit and
    register_gsparsevec in one call.  With ``numpy=True`` loaded ghalfvec /
    gbit / gvector values are numpy arrays, and numpy arrays dump as
    ghalfvec (float16), gbit (bool) or gvector (anything else)."""
    from .wiretypes import BitVector, HalfVector, SparseVector
    use_numpy = numpy and _np is not None
    register_gvector(conn, numpy=use_numpy)
    _, half = _register_type(conn, "ghalfvec", HalfVector, use_numpy)
    _, bit = _register_type(conn, "gbit", BitVector, use_numpy)
    _register_type(conn, "gsparsevec", SparseVector, False)
    if use_numpy:
        gv = TypeInfo.fetch(conn, "gvector")
        assert gv is not None
        gv_binary = type("_GvectorBinaryDumper", (_GvectorBinaryDumper,), {"oid": gv.oid})
        dumper = type("_NumpyByDtypeDumper", (_NumpyByDtypeDumper,), {"targets": {
            _np.float16: half[1], _np.bool_: bit[1], None: gv_binary}})
        conn.adapters.register_dumper(_np.ndarray, dumper)
