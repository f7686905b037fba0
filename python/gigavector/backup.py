"""GigaVector's backup API over the extension's ``.gvb`` format.

``backup_create(db, path, options)`` streams ``gigavector.backup`` of the
collection's table from the server into a file the client writes;
``backup_restore(path, target, options)`` sends the file's bytes back (COPY
into a temporary table, then the aggregate ``gigavector.restore``), which
recreates the table, its indexes and sequences, and opens it as a
:class:`Database`.  ``backup_verify`` and ``backup_read_header`` read the
file here, on the client, with a reader of this module written from the
format's description (``src/backup/README``), independent of the server's C
reader: every checksum, every count, every frame's layout.
"""

from __future__ import annotations

import enum
import json
import os
import struct
import sys
import warnings
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterator

import psycopg
from psycopg import sql

from . import embedded as _embedded
from .database import (Database, DistanceType, IndexType, _create_extension, _check_name,
                       _index_prefix, _resolve_dsn)
from .errors import GigaVectorError, GigaVectorWarning

__all__ = ["BackupCompression", "BackupOptions", "RestoreOptions", "BackupResult", "BackupHeader",
           "BackupCheck", "backup_create", "backup_verify", "backup_check", "backup_read_header",
           "backup_restore"]

MAGIC = b"\x89GVB\r\n\x1a\n"
FORMAT_VERSIONS = (1,)  # the versions this reader reads
_PREFIX = 20
_BLOCK = 40
_TRAILER = 44
_MAX_HEADER = 16 * 1024 * 1024
_MAX_FRAME = 256 * 1024 * 1024
_PROGRESS_MIN = 10_000  # rows (or vectors) from which a progress bar is shown
_UPLOAD_CHUNK = 1 << 20


class BackupCompression(enum.IntEnum):
    """How frames are stored: NONE (raw) or ZSTD (each frame kept raw when zstd does not shrink it)."""

    NONE = 0
    ZSTD = 1


@dataclass
class BackupOptions:
    """``compression_level``: zstd's, 1 (fast) to 22; ``include_metadata=False``
    leaves the metadata column out (restored as ``{}``)."""

    compression: BackupCompression = BackupCompression.ZSTD
    include_metadata: bool = True
    compression_level: int = 3


@dataclass
class RestoreOptions:
    """``verify_checksums``: check the whole file here before sending it (the
    server checks again as it restores); ``overwrite``: replace an existing
    collection of the target's name (else the restore is refused)."""

    verify_checksums: bool = True
    overwrite: bool = False


@dataclass(frozen=True)
class BackupResult:
    path: str
    vectors_backed_up: int
    bytes_written: int
    compression_ratio: float  #: raw row bytes / file bytes (above 1 when compression paid)
    frames: int


@dataclass(frozen=True)
class BackupHeader:
    """What a ``.gvb`` file says about itself (the trailer's fields are None
    when the file does not end in a valid trailer)."""

    format_version: int
    gigavector_version: str
    vector_count: int
    dimension: int
    compression: BackupCompression
    compression_level: int
    columns: list[dict[str, Any]]
    definition: dict[str, Any]
    frames: int | None = None
    raw_bytes: int | None = None
    file_bytes: int | None = None

    @property
    def table(self) -> str:
        t = self.definition.get("table", {})
        return f"{t.get('schema')}.{t.get('name')}"

    @property
    def created_at(self) -> str | None:
        return self.definition.get("created_at")


@dataclass(frozen=True)
class BackupCheck:
    """The result of reading a whole file: valid, or the problem (which frame, which byte)."""

    valid: bool
    frames: int
    rows: int
    problem: str | None = None

    def __bool__(self) -> bool:
        return self.valid


class _Invalid(Exception):
    """A problem in the file (message as the server's reader words it)."""


def _crc32c_extender() -> Callable[[int, bytes], int]:
    """crc(previous, data): CRC-32C of (the bytes that gave previous) + data.

    python3-crc32c (hardware), else crcmod's C extension, else pure Python."""
    try:
        import crc32c as _c  # type: ignore[import]
        fn = _c.crc32c
        return lambda previous, data: int(fn(data, previous))
    except ImportError:
        pass
    try:
        import crcmod  # type: ignore[import]
        mk = crcmod.mkCrcFun(0x11EDC6F41, initCrc=0, rev=True, xorOut=0xFFFFFFFF)
        return lambda previous, data: int(mk(data, previous))
    except ImportError:
        pass
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)

    def slow(previous: int, data: bytes) -> int:
        c = previous ^ 0xFFFFFFFF
        for b in data:
            c = table[(c ^ b) & 0xFF] ^ (c >> 8)
        return c ^ 0xFFFFFFFF
    return slow


_crc_extend = _crc32c_extender()


def _crc(data: bytes) -> int:
    """CRC-32C of data."""
    return _crc_extend(0, data)


def _unshuffle4(data: bytes) -> bytes:
    """Undo the shuffle filter: plane j holds byte j of every 4-byte group."""
    m = len(data) // 4
    try:
        import numpy as np
        head = np.frombuffer(data, dtype=np.uint8, count=4 * m).reshape(4, m).T.tobytes()
    except ImportError:  # pragma: no cover - numpy is installed with the package's tests
        head = bytes(data[j * m + i] for i in range(m) for j in range(4))
    return head + data[4 * m:]


class _Reader:
    """Sequential reader of a .gvb stream from a binary file object.

    ``header()`` first, then ``frames()`` yields (block fields, raw payload)
    and checks the trailer at the end; every problem raises _Invalid."""

    def __init__(self, f: IO[bytes], decode: bool = True):
        self.f = f
        self.decode = decode
        self.offset = 0
        self.frames_read = 0
        self.rows_read = 0
        self.raw_read = 0
        self._running = 0  # CRC-32C of every byte read so far (before the last field)
        self.info: dict[str, Any] = {}

    def _read(self, n: int, where: str) -> bytes:
        data = self.f.read(n)
        if len(data) < n:
            raise _Invalid(where.format(have=len(data), need=n, at=self.offset + len(data)))
        self.offset += n
        return data

    def _fold(self, data: bytes) -> None:
        self._running = _crc_extend(self._running, data)

    def header(self) -> dict[str, Any]:
        p = self._read(_PREFIX, "empty file" if self.offset == 0 else "truncated in the header (byte {at})")
        if p[:8] != MAGIC:
            raise _Invalid("not a .gvb file (no gigavector backup signature at byte 0)")
        if struct.unpack_from("<I", p, 16)[0] != _crc(p[:16]):
            raise _Invalid("header (bytes 8-19): checksum mismatch")
        version, flags, body_len = struct.unpack_from("<HHI", p, 8)
        if version not in FORMAT_VERSIONS:
            raise _Invalid(f"format version {version} is not one this gigavector reads "
                           f"({min(FORMAT_VERSIONS)} to {max(FORMAT_VERSIONS)})")
        if flags != 0:
            raise _Invalid(f"header: unknown flags 0x{flags:x}")
        if not 26 <= body_len <= _MAX_HEADER:
            raise _Invalid(f"header: invalid length {body_len}")
        self._fold(p)
        body = self._read(body_len + 4, "truncated in the header (byte {at})")
        self._fold(body)
        if struct.unpack_from("<I", body, body_len)[0] != _crc(body[:body_len]):
            raise _Invalid(f"header (bytes 20-{20 + body_len - 1}): checksum mismatch")
        rows, dim, ncols, compression, level, target = struct.unpack_from("<QIHBbI", body, 0)
        if ncols > 1600:
            raise _Invalid(f"header: {ncols} columns (at most 1600)")
        if compression > 1:
            raise _Invalid(f"header: unknown compression {compression}")
        at = 20
        columns = []
        for c in range(ncols):
            if at + 3 > body_len:
                raise _Invalid("header: the column list runs past the header")
            fmt, filt, nlen = body[at], body[at + 1], body[at + 2]
            name = body[at + 3:at + 3 + nlen]
            if fmt > 1 or filt > 1 or not 1 <= nlen <= 63 or at + 3 + nlen > body_len or b"\0" in name:
                raise _Invalid(f"header: column {c + 1} is invalid")
            columns.append({"name": name.decode("utf-8", "replace"),
                            "format": "binary" if fmt == 0 else "text", "shuffle": filt == 1})
            at += 3 + nlen
        if at + 2 > body_len:
            raise _Invalid("header: invalid gigavector version")
        vlen = struct.unpack_from("<H", body, at)[0]
        if vlen > 64 or at + 2 + vlen + 4 > body_len:
            raise _Invalid("header: invalid gigavector version")
        gv_version = body[at + 2:at + 2 + vlen].decode("ascii", "replace")
        at += 2 + vlen
        jlen = struct.unpack_from("<I", body, at)[0]
        if jlen != body_len - at - 4:
            raise _Invalid(f"header: the table definition's length ({jlen}) does not fill the header")
        definition = body[at + 4:at + 4 + jlen]
        self.info = dict(format_version=version, gigavector_version=gv_version, rows=rows,
                         dimension=dim, compression=compression, level=level, columns=columns,
                         definition_bytes=definition, frame_target=target)
        return self.info

    def frames(self) -> Iterator[tuple[int, int, bytes]]:
        """(frame number, rows, raw payload or b'' when not decoding) per frame, then the trailer."""
        info = self.info
        while True:
            block_at = self.offset
            first = self.f.read(_BLOCK)
            self.offset += len(first)
            if len(first) < _BLOCK:
                if not first:
                    raise _Invalid(f"truncated after frame {self.frames_read} (byte {self.offset}): no trailer")
                raise _Invalid(f"truncated in the block after frame {self.frames_read} (byte {self.offset})")
            if struct.unpack_from("<I", first, 36)[0] != _crc(first[:36]):
                if self.frames_read == 0:
                    raise _Invalid(f"frame 1 (byte {block_at}): block checksum mismatch")
                raise _Invalid(f"block after frame {self.frames_read} (byte {block_at}): checksum mismatch")
            self._fold(first)
            tag = first[:4]
            if tag == b"GVBT":
                frames, rows, raw_total, length, reserved = struct.unpack_from("<IQQQI", first, 4)
                if (frames != self.frames_read or rows != self.rows_read or raw_total != self.raw_read
                        or rows != info["rows"] or reserved != 0):
                    raise _Invalid(f"trailer (byte {block_at}): says {frames} frames and {rows} rows, "
                                   f"the file has {self.frames_read} and {self.rows_read} "
                                   f"(the header {info['rows']})")
                if length != block_at + _TRAILER:
                    raise _Invalid(f"trailer (byte {block_at}): says the file has {length} bytes, "
                                   f"it ends at {block_at + _TRAILER}")
                tail = self.f.read(4)
                self.offset += len(tail)
                if len(tail) < 4:
                    raise _Invalid(f"truncated in the trailer (byte {self.offset})")
                if struct.unpack("<I", tail)[0] != self._running:
                    raise _Invalid(f"trailer (byte {block_at}): whole-file checksum mismatch")
                if self.f.read(1):
                    raise _Invalid(f"1 or more bytes after the trailer (byte {self.offset})")
                self.info.update(frames=frames, raw_bytes=raw_total, file_bytes=length)
                return
            if tag != b"GVBF":
                raise _Invalid(f"byte {block_at}: neither a frame nor the trailer")
            number, first_row, rows, raw_len, stored_len, enc = struct.unpack_from("<IQIIIB", first, 4)
            n = self.frames_read
            if number != n or first_row != self.rows_read:
                raise _Invalid(f"frame {n + 1} (byte {block_at}): numbered {number} from row {first_row}, "
                               f"expected {n} from row {self.rows_read}")
            if rows == 0 or rows > info["rows"] - self.rows_read:
                raise _Invalid(f"frame {number + 1} (byte {block_at}): {rows} rows, the header leaves "
                               f"{info['rows'] - self.rows_read}")
            if (raw_len > _MAX_FRAME or stored_len > _MAX_FRAME or first[29:36] != bytes(7) or enc > 2
                    or (enc == 0 and stored_len != raw_len)
                    or (enc != 0 and (info["compression"] != 1 or stored_len >= raw_len))):
                raise _Invalid(f"frame {number + 1} (byte {block_at}): invalid block")
            payload = self.f.read(stored_len + 4)
            self.offset += len(payload)
            if len(payload) < stored_len + 4:
                raise _Invalid(f"truncated in frame {number + 1} (byte {block_at}): {len(payload)} of its "
                               f"{stored_len + 4} payload bytes")
            self._fold(payload)
            stored = payload[:stored_len]
            if struct.unpack_from("<I", payload, stored_len)[0] != _crc(stored):
                raise _Invalid(f"frame {number + 1} (byte {block_at}, rows {first_row + 1}-"
                               f"{first_row + rows}): payload checksum mismatch")
            raw = stored
            if enc != 0:
                import zstandard
                try:
                    raw = zstandard.ZstdDecompressor().decompress(stored, max_output_size=raw_len)
                except zstandard.ZstdError as e:
                    raise _Invalid(f"frame {number + 1} (byte {block_at}): zstd data does not "
                                   f"decompress to {raw_len} bytes: {e}") from None
                if len(raw) != raw_len:
                    raise _Invalid(f"frame {number + 1} (byte {block_at}): zstd data does not "
                                   f"decompress to {raw_len} bytes")
            layout = self._layout(raw, rows, number, block_at)
            if enc == 2 and self.decode:
                parts = bytearray(raw)
                for c, (_, data_at, data_len) in enumerate(layout):
                    if info["columns"][c]["shuffle"]:
                        parts[data_at:data_at + data_len] = _unshuffle4(raw[data_at:data_at + data_len])
                raw = bytes(parts)
            self.frames_read += 1
            self.rows_read += rows
            self.raw_read += raw_len
            yield number, rows, raw if self.decode else b""

    def _layout(self, raw: bytes, rows: int, number: int, block_at: int) -> list[tuple[int, int, int]]:
        """(lengths offset, data offset, data length) per column, checked to fill the payload."""
        at = 0
        out = []
        for c in range(len(self.info["columns"])):
            if at + 4 * rows > len(raw):
                raise _Invalid(f"frame {number + 1} (byte {block_at}): column {c + 1}'s lengths run "
                               f"past the payload")
            lengths = struct.unpack_from(f"<{rows}i", raw, at)
            if min(lengths) < -1:
                raise _Invalid(f"frame {number + 1} (byte {block_at}): column {c + 1}: invalid length")
            total = sum(v for v in lengths if v > 0)
            data_at = at + 4 * rows
            if data_at + total > len(raw):
                raise _Invalid(f"frame {number + 1} (byte {block_at}): column {c + 1}'s values run "
                               f"past the payload")
            out.append((at, data_at, total))
            at = data_at + total
        if at != len(raw):
            raise _Invalid(f"frame {number + 1} (byte {block_at}): the payload has {len(raw) - at} "
                           f"bytes after its last column")
        return out


def _header_from(info: dict[str, Any]) -> BackupHeader:
    """A BackupHeader from what _Reader.header() (and the trailer) found."""
    try:
        definition = json.loads(info["definition_bytes"])
    except ValueError:
        definition = {}
    return BackupHeader(
        format_version=info["format_version"], gigavector_version=info["gigavector_version"],
        vector_count=info["rows"], dimension=info["dimension"],
        compression=BackupCompression(info["compression"]), compression_level=info["level"],
        columns=info["columns"], definition=definition if isinstance(definition, dict) else {},
        frames=info.get("frames"), raw_bytes=info.get("raw_bytes"), file_bytes=info.get("file_bytes"))


def backup_check(path: str | os.PathLike[str]) -> BackupCheck:
    """Read the whole file: every checksum, count and frame layout."""
    with open(path, "rb") as f:
        r = _Reader(f, decode=False)
        try:
            r.header()
            for _ in r.frames():
                pass
        except _Invalid as e:
            return BackupCheck(False, r.frames_read, r.rows_read, str(e))
    return BackupCheck(True, r.frames_read, r.rows_read)


def backup_verify(path: str | os.PathLike[str]) -> bool:
    """True when the file is a whole, undamaged .gvb backup (``backup_check`` says what is wrong)."""
    return backup_check(path).valid


def backup_read_header(path: str | os.PathLike[str]) -> BackupHeader:
    """The file's header, and its trailer's counts when its last 44 bytes are a valid trailer."""
    with open(path, "rb") as f:
        r = _Reader(f, decode=False)
        try:
            info = r.header()
        except _Invalid as e:
            raise GigaVectorError(f"invalid .gvb backup {os.fspath(path)}: {e}") from None
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size >= _TRAILER:
            f.seek(size - _TRAILER)
            tail = f.read(_TRAILER)
            if tail[:4] == b"GVBT" and struct.unpack_from("<I", tail, 36)[0] == _crc(tail[:36]):
                frames, _, raw_total, length = struct.unpack_from("<IQQQ", tail, 4)
                info.update(frames=frames, raw_bytes=raw_total, file_bytes=length)
    return _header_from(info)


def _progress(total: int, unit: str, desc: str, show: bool | None) -> Any:
    """A tqdm bar on stderr for large jobs (or as ``show`` says); None without tqdm."""
    if show is False or (show is None and total < _PROGRESS_MIN):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, unit_scale=unit == "B")


def backup_create(db: Database, path: str | os.PathLike[str], options: BackupOptions | None = None,
                  *, progress: bool | None = None) -> BackupResult:
    """Back up the collection of ``db`` into the file ``path`` (written here, on the client).

    A progress bar (tqdm) shows from 10,000 vectors, or as ``progress`` says."""
    options = options or BackupOptions()
    compression = BackupCompression(options.compression)
    level = int(options.compression_level)
    if compression == BackupCompression.ZSTD and not 1 <= level <= 22:
        raise ValueError(f"compression_level must be from 1 to 22, not {options.compression_level!r}")
    target = os.fspath(path)
    tmp = target + ".tmp"
    bar = None
    try:
        with db.connection() as conn, conn.transaction():
            cols = None
            if not options.include_metadata:
                cols = [r[0] for r in conn.execute(
                    "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                    "AND NOT attisdropped AND attgenerated = '' AND attname <> 'metadata' ORDER BY attnum",
                    (db.table.as_string(conn),)).fetchall()]
            query = "SELECT c FROM gigavector.backup(%s::regclass, NULL, %s, %s, %s::name[]) c"
            params = (db.table.as_string(conn), "zstd" if compression else "none",
                      level if compression else 0, cols)
            with open(tmp, "wb") as out, conn.cursor(binary=True) as cur:
                for n, (chunk,) in enumerate(cur.stream(query, params)):
                    chunk = bytes(chunk)
                    out.write(chunk)
                    if n == 0 and len(chunk) >= 28:
                        bar = _progress(struct.unpack_from("<Q", chunk, 20)[0], "vec", "backup", progress)
                    elif bar is not None and chunk[:4] == b"GVBF":
                        bar.update(struct.unpack_from("<I", chunk, 16)[0])
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, target)
    except psycopg.Error as e:
        _unlink(tmp)
        raise GigaVectorError.from_psycopg(e) from e
    except BaseException:
        _unlink(tmp)
        raise
    finally:
        if bar is not None:
            bar.close()
    header = backup_read_header(target)
    size = os.path.getsize(target)
    return BackupResult(path=target, vectors_backed_up=header.vector_count, bytes_written=size,
                        compression_ratio=(header.raw_bytes or 0) / size if size else 0.0,
                        frames=header.frames or 0)


def _unlink(path: str) -> None:
    """Remove a file that may not exist."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


_AM_INDEX = {"gv_hnsw": IndexType.HNSW, "gv_ivfpq": IndexType.IVFPQ, "gv_kdtree": IndexType.KDTREE}
_OPCLASS = {d.opclass: d for d in DistanceType}


def _collection_index(definition: dict[str, Any]) -> tuple[IndexType, DistanceType | None]:
    """The IndexType and distance of the backed-up collection's vector index (FLAT: none)."""
    for ix in definition.get("indexes") or []:
        cols = ix.get("columns") or []
        if ix.get("method") in _AM_INDEX and cols and cols[0].get("expression") == "embedding":
            return _AM_INDEX[ix["method"]], _OPCLASS.get(str(cols[0].get("opclass")).split(".")[-1])
    return IndexType.FLAT, None


def _check_collection(header: BackupHeader) -> None:
    """Refuse a backup of a table that is not a collection (id, embedding, metadata)."""
    cols = {c.get("name"): c.get("type", "") for c in header.definition.get("columns") or []}
    if cols.get("id") != "bigint" or cols.get("metadata") != "jsonb" \
            or not str(cols.get("embedding", "")).startswith("gvector"):
        raise ValueError(f"the backup holds table {header.table}, which is not a gigavector "
                         f"collection: restore it with SQL, gigavector.restore")


def backup_restore(path: str | os.PathLike[str], target: str | os.PathLike[str] | None,
                   options: RestoreOptions | None = None, *, dsn: str | None = None,
                   embedded: bool | None = None, collection: str | None = None,
                   progress: bool | None = None) -> Database:
    """Restore the collection backed up in ``path`` as ``target`` and open it.

    ``target`` is what ``Database.open`` takes as its path (with ``dsn``,
    ``embedded`` and ``collection`` as there): an embedded data folder, or a
    collection's name on a server.  The table, its indexes (built again,
    with the same options), its identity sequence and TTL come back in one
    transaction; an existing collection of that name is refused unless
    ``options.overwrite``.
    """
    options = options or RestoreOptions()
    source = os.fspath(path)
    header = backup_read_header(source)
    _check_collection(header)
    if options.verify_checksums:
        check = backup_check(source)
        if not check.valid:
            raise GigaVectorError(f"invalid .gvb backup {source}: {check.problem}")
    index, distance = _collection_index(header.definition)
    where = os.fspath(target) if target is not None else None
    conn_target = _resolve_dsn(dsn, embedded)
    server = None
    try:
        if conn_target is None:
            server = _embedded.acquire(where)
            conninfo = server.conninfo()
            name = _check_name(collection or "vectors")
        else:
            conninfo = conn_target
            if collection is not None:
                name = _check_name(collection)
            elif where is not None:
                name = _check_name(where)
            else:
                raise ValueError("backup_restore needs a target: a collection name or a data folder")
        with psycopg.connect(conninfo, autocommit=True) as conn:
            if conn.execute("SELECT to_regtype('gvector') IS NULL").fetchone() == (True,):
                _create_extension(conn)
            _upload_and_restore(conn, source, name, options.overwrite, header, progress)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GigaVectorWarning)
            if conn_target is None:
                return Database.open(where, header.dimension, index, index_distance=distance,
                                     embedded=True, collection=collection)
            return Database.open(where, header.dimension, index, index_distance=distance,
                                 dsn=conn_target, collection=collection)
    except psycopg.Error as e:
        raise GigaVectorError.from_psycopg(e) from e
    finally:
        if server is not None:
            _embedded.release(server)


def _upload_and_restore(conn: psycopg.Connection[Any], source: str, name: str, overwrite: bool,
                        header: BackupHeader, progress: bool | None) -> None:
    """COPY the file into a temporary table, restore it with the aggregate, and give the
    package's own indexes (named after the source collection) the target's names."""
    size = os.path.getsize(source)
    bar = _progress(size if header.vector_count >= _PROGRESS_MIN else 0, "B", "restore", progress)
    try:
        with conn.transaction():
            conn.execute("CREATE TEMP TABLE gv_restore_chunks (n int, c bytea) ON COMMIT DROP")
            with open(source, "rb") as f, conn.cursor() as cur, \
                    cur.copy("COPY gv_restore_chunks (n, c) FROM STDIN WITH (FORMAT binary)") as copy:
                copy.set_types(["int4", "bytea"])
                n = 0
                while True:
                    block = f.read(_UPLOAD_CHUNK)
                    if not block:
                        break
                    copy.write_row((n, block))
                    n += 1
                    if bar is not None:
                        bar.update(len(block))
            schema = conn.execute("SELECT current_schema()").fetchone()
            target = sql.Identifier(name).as_string(conn)
            conn.execute("SELECT gigavector.restore(c, %s, %s ORDER BY n) FROM gv_restore_chunks",
                         (target, overwrite))
            src = header.definition.get("table", {})
            old = _index_prefix(str(src.get("schema")), str(src.get("name")))
            nsp = str(schema[0]) if schema else "public"
            new = _index_prefix(nsp, name)
            if old != new:
                _rename_indexes(conn, header.definition, target, nsp, old, new)
    finally:
        if bar is not None:
            bar.close()


def _rename_indexes(conn: psycopg.Connection[Any], definition: dict[str, Any], target: str,
                    schema: str, old: str, new: str) -> None:
    """Give the package's indexes of the restored collection (named with the source
    collection's prefix, or by PostgreSQL when that name was taken) the target's prefix,
    so that Database.open finds them; matched by method, first column and operator class."""
    restored = conn.execute(
        "SELECT c.relname, a.amname, pg_get_indexdef(i.indexrelid, 1, true), o.opcname "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
        "JOIN pg_opclass o ON o.oid = i.indclass[0] WHERE i.indrelid = %s::regclass",
        (target,)).fetchall()
    for ix in definition.get("indexes") or []:
        name = str(ix.get("name", ""))
        cols = ix.get("columns") or [{}]
        if not name.startswith(old):
            continue
        key = (ix.get("method"), cols[0].get("expression"), str(cols[0].get("opclass")).split(".")[-1])
        for relname, am, col, opc in restored:
            if (am, col, opc) == key:
                conn.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                    sql.Identifier(schema, relname), sql.Identifier(new + name[len(old):])), ())
                restored.remove((relname, am, col, opc))
                break
