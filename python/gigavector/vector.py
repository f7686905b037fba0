"""The gvector value and its two wire formats.

Text: ``[1,2,3]``.  Binary (what the server's ``gvector_send`` writes and
``gvector_recv`` reads): big-endian int16 dimensions, int16 reserved (0),
then one big-endian float4 per dimension.
"""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence, SupportsFloat, Union

try:  # numpy is optional: lists work without it
    import numpy as _np
except ImportError:  # pragma: no cover - exercised only without numpy
    _np = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["Vector", "VectorLike", "VectorBatch", "MAX_DIM", "FLOAT32_MAX"]

MAX_DIM = 16000
FLOAT32_MAX = 3.4028234663852886e38

#: one vector: a Vector, a sequence of real numbers, or a one-dimensional numpy array
VectorLike = Union["Vector", Sequence[SupportsFloat], "NDArray[Any]"]
#: many vectors: an iterable of VectorLike, or a two-dimensional numpy array
VectorBatch = Union[Iterable[VectorLike], "NDArray[Any]"]
_HEADER = struct.Struct(">hh")


class Vector:
    """An immutable vector of float32 values, as stored in a gvector column.

    It is also the seed's ``Vector`` record: ``data`` (the values as a list),
    ``metadata`` (a dict, empty unless the vector came from a collection or
    was given one) and ``id`` (the row id in its collection, else None).
    Equality compares the values and the metadata; the hash uses the values.
    """

    __slots__ = ("_values", "metadata", "id")

    _values: tuple[float, ...]
    metadata: dict[str, Any]
    id: int | None

    def __init__(self, values: VectorLike | Iterable[SupportsFloat],
                 metadata: dict[str, Any] | None = None, id: int | None = None) -> None:
        self.metadata = dict(metadata) if metadata else {}
        self.id = id
        if isinstance(values, Vector):
            self._values = values._values
            return
        if _np is not None and isinstance(values, _np.ndarray):
            if values.ndim != 1:
                raise ValueError("expected a one-dimensional array")
            if values.dtype.kind not in "biufO":
                raise TypeError(f"a gvector holds real numbers, not {values.dtype} values")
            values = values.tolist()
        floats = [_real(v) for v in values]
        if not 1 <= len(floats) <= MAX_DIM:
            raise ValueError(f"a gvector has 1 to {MAX_DIM} dimensions, not {len(floats)}")
        for v in floats:
            if not math.isfinite(v):
                raise ValueError("NaN and infinite values are not allowed in a gvector")
        # Round through float32 so equality matches what the server stores.
        try:
            packed = struct.pack(f">{len(floats)}f", *floats)
        except OverflowError:
            big = next(v for v in floats if not _fits_float32(v))
            raise ValueError(f"{big!r} is beyond the float32 range of a gvector "
                             f"(±{FLOAT32_MAX!r})") from None
        self._values = struct.unpack(f">{len(floats)}f", packed)

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[float]:
        return iter(self._values)

    def __getitem__(self, i: int) -> float:
        return self._values[i]

    @classmethod
    def _trusted(cls, values: tuple[float, ...], metadata: dict[str, Any] | None = None,
                 id: int | None = None) -> "Vector":
        """Wrap float32 values that came from the server (already checked)."""
        v = cls.__new__(cls)
        v._values = values
        v.metadata = metadata if metadata is not None else {}
        v.id = id
        return v

    @property
    def data(self) -> list[float]:
        """The values as a list of floats (the seed's ``Vector.data``)."""
        return list(self._values)

    @property
    def dimension(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Vector) and self._values == other._values
                and self.metadata == other.metadata)

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:
        extra = ""
        if self.metadata:
            extra += f", metadata={self.metadata!r}"
        if self.id is not None:
            extra += f", id={self.id!r}"
        return f"Vector({list(self._values)!r}{extra})"

    def to_list(self) -> list[float]:
        return list(self._values)

    def to_numpy(self) -> NDArray[Any]:
        if _np is None:
            raise RuntimeError("numpy is not installed")
        return _np.array(self._values, dtype=_np.float32)

    # text format
    def to_text(self) -> str:
        return "[" + ",".join(_shortest(v) for v in self._values) + "]"

    @classmethod
    def from_text(cls, text: str) -> "Vector":
        body = text.strip()
        if not (body.startswith("[") and body.endswith("]")):
            raise ValueError(f"invalid gvector literal: {text!r}")
        return cls(float(x) for x in body[1:-1].split(","))

    # binary format
    def to_binary(self) -> bytes:
        n = len(self._values)
        return _HEADER.pack(n, 0) + struct.pack(f">{n}f", *self._values)

    @classmethod
    def from_binary(cls, data: bytes | bytearray | memoryview) -> "Vector":
        data = bytes(data)
        if len(data) < _HEADER.size:
            raise ValueError("truncated gvector header")
        dim, reserved = _HEADER.unpack_from(data)
        if reserved != 0 or len(data) != _HEADER.size + 4 * dim:
            raise ValueError("malformed binary gvector")
        values = struct.unpack_from(f">{dim}f", data, _HEADER.size)
        if not 1 <= dim <= MAX_DIM or not all(map(math.isfinite, values)):
            raise ValueError("malformed binary gvector")
        return cls._trusted(values)


def _real(v: Any) -> float:
    """One value as a float: a real number (int, float, numpy scalar, Decimal ...).

    float() would also parse strings and take complex numbers' __float__
    refusal as the only guard; a vector holds numbers, so both are TypeError,
    and an integer too large for a float is ValueError."""
    if isinstance(v, (str, bytes, complex)) or (_np is not None and isinstance(
            v, (_np.complexfloating, _np.str_, _np.bytes_))):
        raise TypeError(f"a gvector holds real numbers, not {type(v).__name__} values")
    try:
        return float(v)
    except OverflowError:
        raise ValueError(f"{v!r} is beyond the float32 range of a gvector") from None


def _fits_float32(v: float) -> bool:
    """Whether v rounds to a finite float32."""
    try:
        struct.pack(">f", v)
    except OverflowError:
        return False
    return True


def _shortest(v: float) -> str:
    """The shortest decimal that reads back as the same float32."""
    for digits in range(1, 10):
        s = f"{v:.{digits}g}"
        try:
            if struct.unpack(">f", struct.pack(">f", float(s)))[0] == v:
                return s
        except OverflowError:  # rounded past FLT_MAX: needs more digits
            continue
    return repr(v)


def as_vector(value: VectorLike) -> Vector:
    """Accept a Vector, a sequence of numbers or a numpy array."""
    return value if isinstance(value, Vector) else Vector(value)
