"""The ghalfvec, gbit and gsparsevec values and their wire formats, the
counterparts of :class:`~gigavector.vector.Vector` for the other three types.

Binary forms, as the server's ``*_send`` write them and ``*_recv`` read them
(all big-endian, the same as pgvector's halfvec, bit and sparsevec):

* ghalfvec: int16 dimensions, int16 reserved (0), one IEEE binary16 a value;
* gbit: int32 length in bits, then the bits packed eight a byte, the first
  bit in the high bit of the first byte (as PostgreSQL's ``bit``);
* gsparsevec: int32 dimensions, int32 non-zeros, int32 reserved (0), the
  non-zeros' 0-based indices as int32, then their values as float4.

Text forms: ``[1,2,3]``, ``0101`` and ``{1:0.5,7:2}/10000`` (1-based
indices in text, 0-based in :class:`SparseVector`, as in the binary form).
numpy is optional: with it, :meth:`HalfVector.to_numpy` gives float16,
:meth:`BitVector.to_numpy` bool and :meth:`SparseVector.to_numpy` a dense
float32 array.
"""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING, Any, Iterable, Sequence, SupportsFloat, Union

try:  # numpy is optional: lists work without it
    import numpy as _np
except ImportError:  # pragma: no cover - exercised only without numpy
    _np = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["HalfVector", "BitVector", "SparseVector",
           "HALFVEC_MAX_DIM", "BIT_MAX_LENGTH", "SPARSEVEC_MAX_DIM", "SPARSEVEC_MAX_NNZ"]

HALFVEC_MAX_DIM = 16000
BIT_MAX_LENGTH = 64000
SPARSEVEC_MAX_DIM = 1000000
SPARSEVEC_MAX_NNZ = 16000
HALF_MAX = 65504.0

_HALF_HEADER = struct.Struct(">hh")
_BIT_HEADER = struct.Struct(">i")
_SPARSE_HEADER = struct.Struct(">iii")


def _number(v: Any, type_name: str) -> float:
    """One value as a float; strings, bytes and complex numbers are TypeError."""
    if isinstance(v, (str, bytes, complex)) or (_np is not None and isinstance(
            v, (_np.complexfloating, _np.str_, _np.bytes_))):
        raise TypeError(f"a {type_name} holds real numbers, not {type(v).__name__} values")
    try:
        return float(v)
    except OverflowError:
        raise ValueError(f"{v!r} is out of range for type {type_name}") from None


def _to_half(v: float) -> float:
    """v rounded to the nearest half, which must be finite."""
    if not math.isfinite(v):
        raise ValueError(f"NaN and infinite values are not allowed in ghalfvec, not {v!r}")
    try:
        return float(struct.unpack(">e", struct.pack(">e", v))[0])
    except OverflowError:
        raise ValueError(f"{v!r} is out of range for type ghalfvec (at most {HALF_MAX:g})") from None


def _shortest_float32(v: float) -> str:
    """The shortest decimal that reads back as the same float32."""
    for digits in range(1, 10):
        s = f"{v:.{digits}g}"
        if struct.unpack(">f", struct.pack(">f", float(s)))[0] == v:
            return s
    return repr(v)


class HalfVector:
    """An immutable vector of IEEE half floats, as stored in a ghalfvec column.

    Values are rounded to the nearest half; one past 65504 (after rounding),
    NaN or an infinity is ValueError, as the server's input is an error."""

    __slots__ = ("_values",)
    _values: tuple[float, ...]

    def __init__(self, values: "HalfVector | Sequence[SupportsFloat] | NDArray[Any]") -> None:
        if isinstance(values, HalfVector):
            self._values = values._values
            return
        if _np is not None and isinstance(values, _np.ndarray) and values.ndim != 1:
            raise ValueError("expected a one-dimensional array")
        vals = tuple(_to_half(_number(v, "ghalfvec")) for v in values)
        if not 1 <= len(vals) <= HALFVEC_MAX_DIM:
            raise ValueError(f"a ghalfvec has 1 to {HALFVEC_MAX_DIM} dimensions, not {len(vals)}")
        self._values = vals

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HalfVector) and other._values == self._values

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:
        return f"HalfVector({self.to_text()})"

    def to_list(self) -> list[float]:
        return list(self._values)

    def to_numpy(self) -> "NDArray[Any]":
        if _np is None:
            raise RuntimeError("numpy is not installed")
        return _np.array(self._values, dtype=_np.float16)

    def to_text(self) -> str:
        # a half widens to float32 exactly, and float32's shortest decimal
        # reads back as the same half
        return "[" + ",".join(_shortest_float32(v) for v in self._values) + "]"

    @classmethod
    def from_text(cls, text: str) -> "HalfVector":
        body = text.strip()
        if not (body.startswith("[") and body.endswith("]")):
            raise ValueError(f"invalid ghalfvec literal: {text!r}")
        return cls([float(x) for x in body[1:-1].split(",")])

    def to_binary(self) -> bytes:
        n = len(self._values)
        return _HALF_HEADER.pack(n, 0) + struct.pack(f">{n}e", *self._values)

    @classmethod
    def from_binary(cls, data: bytes | bytearray | memoryview) -> "HalfVector":
        data = bytes(data)
        if len(data) < _HALF_HEADER.size:
            raise ValueError("truncated ghalfvec header")
        dim, reserved = _HALF_HEADER.unpack_from(data)
        if reserved != 0 or dim < 1 or len(data) != _HALF_HEADER.size + 2 * dim:
            raise ValueError("malformed binary ghalfvec")
        return cls(struct.unpack_from(f">{dim}e", data, _HALF_HEADER.size))


class BitVector:
    """An immutable string of bits, as stored in a gbit column.

    From a str of '0' and '1', a sequence of bools (or 0/1), or a numpy
    bool array."""

    __slots__ = ("_length", "_bytes")
    _length: int
    _bytes: bytes

    def __init__(self, bits: "BitVector | str | Sequence[Any] | NDArray[Any]") -> None:
        if isinstance(bits, BitVector):
            self._length, self._bytes = bits._length, bits._bytes
            return
        if isinstance(bits, str):
            if bits.strip("01"):
                raise ValueError(f"a gbit literal holds only 0 and 1: {bits!r}")
            flags = [c == "1" for c in bits]
        else:
            if _np is not None and isinstance(bits, _np.ndarray) and bits.ndim != 1:
                raise ValueError("expected a one-dimensional array")
            flags = []
            for b in bits:
                if b not in (0, 1):  # True/False and numpy bools compare equal to 1/0
                    raise ValueError(f"a gbit holds bits (0/1, False/True), not {b!r}")
                flags.append(bool(b))
        if not 1 <= len(flags) <= BIT_MAX_LENGTH:
            raise ValueError(f"a gbit has 1 to {BIT_MAX_LENGTH} bits, not {len(flags)}")
        packed = bytearray((len(flags) + 7) // 8)
        for i, f in enumerate(flags):
            if f:
                packed[i >> 3] |= 0x80 >> (i & 7)
        self._length, self._bytes = len(flags), bytes(packed)

    def __len__(self) -> int:
        return self._length

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, BitVector) and other._length == self._length
                and other._bytes == self._bytes)

    def __hash__(self) -> int:
        return hash((self._length, self._bytes))

    def __repr__(self) -> str:
        return f"BitVector({self.to_text()!r})"

    def to_list(self) -> list[bool]:
        return [bool(self._bytes[i >> 3] & (0x80 >> (i & 7))) for i in range(self._length)]

    def to_numpy(self) -> "NDArray[Any]":
        if _np is None:
            raise RuntimeError("numpy is not installed")
        return _np.unpackbits(_np.frombuffer(self._bytes, dtype=_np.uint8))[:self._length].astype(bool)

    def to_text(self) -> str:
        return "".join("1" if b else "0" for b in self.to_list())

    @classmethod
    def from_text(cls, text: str) -> "BitVector":
        return cls(text.strip())

    def to_binary(self) -> bytes:
        return _BIT_HEADER.pack(self._length) + self._bytes

    @classmethod
    def from_binary(cls, data: bytes | bytearray | memoryview) -> "BitVector":
        data = bytes(data)
        if len(data) < _BIT_HEADER.size:
            raise ValueError("truncated gbit header")
        (length,) = _BIT_HEADER.unpack_from(data)
        body = data[_BIT_HEADER.size:]
        if not 1 <= length <= BIT_MAX_LENGTH or len(body) != (length + 7) // 8:
            raise ValueError("malformed binary gbit")
        if length % 8 and body[-1] & (0xFF >> (length % 8)):
            raise ValueError("malformed binary gbit: the unused bits of the last byte are not zero")
        v = cls.__new__(cls)
        v._length, v._bytes = length, body
        return v


class SparseVector:
    """An immutable sparse vector, as stored in a gsparsevec column:
    ``dim`` dimensions, non-zero ``values`` at 0-based ``indices``.

    ``SparseVector(indices, values, dim)``, or ``SparseVector.from_dense(seq)``
    or ``SparseVector.from_dict({index: value}, dim)``.  Indices are sorted
    and explicit zeros dropped, as the server does; a repeated index, one
    outside 0..dim-1, or a value that is NaN, infinite or past float32 is
    ValueError."""

    __slots__ = ("_dim", "_indices", "_values")
    _dim: int
    _indices: tuple[int, ...]
    _values: tuple[float, ...]

    def __init__(self, indices: Iterable[int], values: Iterable[SupportsFloat], dim: int) -> None:
        idx = [int(i) for i in indices]
        vals = [_number(v, "gsparsevec") for v in values]
        if len(idx) != len(vals):
            raise ValueError(f"{len(idx)} indices but {len(vals)} values")
        if not 1 <= int(dim) <= SPARSEVEC_MAX_DIM:
            raise ValueError(f"a gsparsevec has 1 to {SPARSEVEC_MAX_DIM} dimensions, not {dim}")
        pairs = sorted(zip(idx, vals))
        for n, (i, v) in enumerate(pairs):
            if not 0 <= i < dim:
                raise ValueError(f"index {i} is outside 0..{int(dim) - 1}")
            if n and pairs[n - 1][0] == i:
                raise ValueError(f"index {i} appears twice")
            if not math.isfinite(v):
                raise ValueError(f"NaN and infinite values are not allowed in gsparsevec, not {v!r}")
            try:
                struct.pack(">f", v)
            except OverflowError:
                raise ValueError(f"{v!r} is out of range for type gsparsevec") from None
        pairs = [(i, float(struct.unpack(">f", struct.pack(">f", v))[0]))
                 for i, v in pairs if v != 0]
        if len(pairs) > SPARSEVEC_MAX_NNZ:
            raise ValueError(f"a gsparsevec has at most {SPARSEVEC_MAX_NNZ} non-zeros, not {len(pairs)}")
        self._dim = int(dim)
        self._indices = tuple(i for i, _ in pairs)
        self._values = tuple(v for _, v in pairs)

    @classmethod
    def from_dense(cls, values: "Sequence[SupportsFloat] | NDArray[Any]") -> "SparseVector":
        vals = [_number(v, "gsparsevec") for v in values]
        nz = [i for i, v in enumerate(vals) if v != 0]
        return cls(nz, [vals[i] for i in nz], len(vals))

    @classmethod
    def from_dict(cls, entries: dict[int, SupportsFloat], dim: int) -> "SparseVector":
        return cls(entries.keys(), entries.values(), dim)

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def indices(self) -> list[int]:
        return list(self._indices)

    @property
    def values(self) -> list[float]:
        return list(self._values)

    def __len__(self) -> int:
        return self._dim

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SparseVector) and other._dim == self._dim
                and other._indices == self._indices and other._values == self._values)

    def __hash__(self) -> int:
        return hash((self._dim, self._indices, self._values))

    def __repr__(self) -> str:
        return f"SparseVector({self.to_text()})"

    def to_dict(self) -> dict[int, float]:
        return dict(zip(self._indices, self._values))

    def to_list(self) -> list[float]:
        dense = [0.0] * self._dim
        for i, v in zip(self._indices, self._values):
            dense[i] = v
        return dense

    def to_numpy(self) -> "NDArray[Any]":
        if _np is None:
            raise RuntimeError("numpy is not installed")
        dense = _np.zeros(self._dim, dtype=_np.float32)
        dense[list(self._indices)] = self._values
        return dense

    def to_text(self) -> str:
        body = ",".join(f"{i + 1}:{_shortest_float32(v)}" for i, v in zip(self._indices, self._values))
        return "{" + body + "}/" + str(self._dim)

    @classmethod
    def from_text(cls, text: str) -> "SparseVector":
        body = text.strip()
        head, sep, dim = body.rpartition("/")
        if not sep or not (head.startswith("{") and head.endswith("}")):
            raise ValueError(f"invalid gsparsevec literal: {text!r}")
        idx, vals = [], []
        for entry in filter(None, head[1:-1].split(",")):
            i, colon, v = entry.partition(":")
            if not colon:
                raise ValueError(f"invalid gsparsevec literal: {text!r}")
            idx.append(int(i) - 1)
            vals.append(float(v))
        return cls(idx, vals, int(dim))

    def to_binary(self) -> bytes:
        n = len(self._indices)
        return (_SPARSE_HEADER.pack(self._dim, n, 0) + struct.pack(f">{n}i", *self._indices)
                + struct.pack(f">{n}f", *self._values))

    @classmethod
    def from_binary(cls, data: bytes | bytearray | memoryview) -> "SparseVector":
        data = bytes(data)
        if len(data) < _SPARSE_HEADER.size:
            raise ValueError("truncated gsparsevec header")
        dim, nnz, reserved = _SPARSE_HEADER.unpack_from(data)
        if reserved != 0 or nnz < 0 or len(data) != _SPARSE_HEADER.size + 8 * nnz:
            raise ValueError("malformed binary gsparsevec")
        idx = struct.unpack_from(f">{nnz}i", data, _SPARSE_HEADER.size)
        vals = struct.unpack_from(f">{nnz}f", data, _SPARSE_HEADER.size + 4 * nnz)
        if list(idx) != sorted(set(idx)) or 0.0 in vals:
            raise ValueError("malformed binary gsparsevec")
        return cls(idx, vals, dim)


#: what the dumpers accept for each type
HalfVectorLike = Union[HalfVector, Sequence[SupportsFloat], "NDArray[Any]"]
BitVectorLike = Union[BitVector, str, Sequence[Any], "NDArray[Any]"]
