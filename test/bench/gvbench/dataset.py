"""Fashion-MNIST from Debian's dataset-fashion-mnist package, and loading it
into a table of any vector type that speaks pgvector's formats.

The idx files are read with numpy alone.  Tables are loaded with COPY; the
default is binary COPY whose whole stream (signature, rows, trailer) is built
with one numpy structured array per batch, which is several times faster
than text COPY (measured on 60,000 x 784: see load_table's docstring).  Both
pgvector's `vector` and gigavector's `gvector` share the binary wire format
used here: int16 dimensions, int16 unused (0), then one float4 per
dimension, all big-endian.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import struct
import time
from typing import Optional, Sequence, Union

import numpy as np
from psycopg import sql

from .progress import progress

FMNIST_DIR = os.environ.get("GIGAVECTOR_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")

# Fashion-MNIST's ten classes, by label
FMNIST_LABELS = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# idx type codes (third byte of the magic number) -> numpy big-endian dtype
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)

TableName = Union[str, Sequence[str]]


def read_idx(path: str) -> np.ndarray:
    """Read one (optionally gzipped) idx file into a numpy array.

    Format: two zero bytes, a type code, the number of dimensions, then one
    big-endian uint32 per dimension and the data in C order.
    """
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    zero, code, ndim = struct.unpack_from(">HBB", raw, 0)
    if zero != 0 or code not in _IDX_TYPES:
        raise ValueError(f"{path}: not an idx file (magic {raw[:4].hex()})")
    shape = struct.unpack_from(f">{ndim}I", raw, 4)
    dtype = _IDX_TYPES[code]
    data = np.frombuffer(raw, dtype=dtype, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {data.size} values, header says {shape}")
    return data.reshape(shape).astype(dtype.newbyteorder("="))


@dataclasses.dataclass
class Dataset:
    """Base vectors and queries, float32, with integer labels."""

    name: str
    base: np.ndarray  # (n, dim) float32
    base_labels: np.ndarray  # (n,) int32
    queries: np.ndarray  # (nq, dim) float32
    query_labels: np.ndarray  # (nq,) int32
    fingerprint: str  # short hash of the contents, keys on-disk caches

    @property
    def dim(self) -> int:
        return int(self.base.shape[1])


_cache: dict = {}


def load_fashion_mnist(directory: Optional[str] = None) -> Dataset:
    """Fashion-MNIST as ann-benchmarks uses it (fashion-mnist-784-euclidean):
    the 60,000 training images are the base set, the 10,000 test images the
    queries; pixels 0..255 as float32, labels 0..9."""
    directory = directory or FMNIST_DIR
    if directory in _cache:
        return _cache[directory]

    def part(stem: str) -> np.ndarray:
        for name in (f"{stem}.gz", stem):
            path = os.path.join(directory, name)
            if os.path.exists(path):
                return read_idx(path)
        raise FileNotFoundError(
            f"{os.path.join(directory, stem)}.gz not found; install the Debian package "
            "dataset-fashion-mnist or set GIGAVECTOR_FMNIST_DIR"
        )

    train = part("train-images-idx3-ubyte")
    train_labels = part("train-labels-idx1-ubyte")
    test = part("t10k-images-idx3-ubyte")
    test_labels = part("t10k-labels-idx1-ubyte")
    h = hashlib.blake2b(digest_size=6)
    for a in (train, train_labels, test, test_labels):
        h.update(np.ascontiguousarray(a).data)
    ds = Dataset(
        name="fashion-mnist-784",
        base=train.reshape(len(train), -1).astype(np.float32),
        base_labels=train_labels.astype(np.int32),
        queries=test.reshape(len(test), -1).astype(np.float32),
        query_labels=test_labels.astype(np.int32),
        fingerprint=h.hexdigest(),
    )
    _cache[directory] = ds
    return ds


# ---------------------------------------------------------------------------
# text form


def vector_text(v: np.ndarray) -> str:
    """The '[1,2,3]' literal of one vector.  Integral values (all of
    Fashion-MNIST) are written as integers; others with repr(), which
    round-trips every float32 exactly."""
    v = np.asarray(v)
    if np.all(v == np.rint(v)) and np.all(np.abs(v) < 2**24):
        return "[" + ",".join(map(str, v.astype(np.int64).tolist())) + "]"
    return "[" + ",".join(map(repr, v.astype(np.float32).astype(np.float64).tolist())) + "]"


# ---------------------------------------------------------------------------
# names


def ident(name: TableName) -> sql.Identifier:
    """A quoted identifier from 'schema.table', 'table' or ('schema', 'table')."""
    parts = name.split(".") if isinstance(name, str) else list(name)
    return sql.Identifier(*parts)


def type_sql(type_name: str, dim: Optional[int] = None) -> sql.Composable:
    """The column type, quoted, with its typmod: "gvector"(784)."""
    t = ident(type_name)
    return sql.SQL("{}({})").format(t, sql.Literal(int(dim))) if dim else t


def type_exists(conn, type_name: str) -> bool:
    return conn.execute("SELECT to_regtype(%s) IS NOT NULL", [type_name]).fetchone()[0]


def table_rows(conn, table: TableName) -> Optional[int]:
    """Rows in table, or None when it does not exist."""
    exists = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", [ident(table).as_string(conn)]
    ).fetchone()[0]
    if not exists:
        return None
    return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(ident(table))).fetchone()[0]


# ---------------------------------------------------------------------------
# loading


def _binary_rows(ids: np.ndarray, labels: np.ndarray, vectors: np.ndarray) -> bytes:
    """The binary COPY rows for (id int4, label int4, emb vector), built in
    one go as a packed big-endian structured array."""
    n, dim = vectors.shape
    row = np.dtype(
        [
            ("nfields", ">i2"),
            ("id_len", ">i4"),
            ("id", ">i4"),
            ("label_len", ">i4"),
            ("label", ">i4"),
            ("emb_len", ">i4"),
            ("dim", ">i2"),
            ("unused", ">i2"),
            ("x", ">f4", (dim,)),
        ]
    )
    out = np.empty(n, dtype=row)
    out["nfields"] = 3
    out["id_len"] = 4
    out["id"] = ids
    out["label_len"] = 4
    out["label"] = labels
    out["emb_len"] = 4 + 4 * dim
    out["dim"] = dim
    out["unused"] = 0
    out["x"] = vectors
    return out.tobytes()


def _text_rows(ids: np.ndarray, labels: np.ndarray, vectors: np.ndarray) -> bytes:
    """The text COPY rows: id TAB label TAB [..] NEWLINE."""
    lines = [
        f"{i}\t{lab}\t{vector_text(v)}\n"
        for i, lab, v in zip(ids.tolist(), labels.tolist(), vectors)
    ]
    return "".join(lines).encode()


def create_table(conn, table: TableName, type_name: str, dim: int, drop: bool = False,
                 storage: Optional[str] = None) -> None:
    """(id int primary key, label int, emb <type>(dim)); the schema is created
    when the name has one.  The primary key is added after the load.
    storage: None keeps the type's default (external: a 784-dimension vector
    goes to TOAST); 'plain' keeps vectors in the heap row; 'inline' keeps the
    column's storage and sets the table's toast_tuple_target to its maximum,
    so that rows that fit a page stay in it (uncompressed) and only larger
    ones go to TOAST."""
    parts = table.split(".") if isinstance(table, str) else list(table)
    if len(parts) == 2:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(parts[0])))
    if drop:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident(table)))
    conn.execute(
        sql.SQL("CREATE TABLE {} (id int NOT NULL, label int, emb {})").format(
            ident(table), type_sql(type_name, dim)
        )
    )
    if storage == "inline":
        conn.execute(sql.SQL("ALTER TABLE {} SET (toast_tuple_target = 8160)").format(ident(table)))
    elif storage:
        conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN emb SET STORAGE {}").format(
            ident(table), sql.SQL({"plain": "PLAIN", "main": "MAIN", "external": "EXTERNAL",
                                   "extended": "EXTENDED"}[storage.lower()])))


def load_table(
    conn,
    table: TableName,
    type_name: str,
    vectors: np.ndarray,
    labels: np.ndarray,
    ids: Optional[np.ndarray] = None,
    fmt: str = "binary",
    batch: int = 2000,
    desc: Optional[str] = None,
    storage: Optional[str] = None,
) -> float:
    """(Re)create table and COPY the vectors into it; returns seconds.

    fmt='binary' (default) or 'text'.  Measured on 60,000 x 784 Fashion-MNIST
    into pgvector 0.8.6 on a 2-core build machine, twice each, interleaved:
    binary 2.7 / 4.6 s, text 5.0 / 5.7 s (the server parses 47 M numbers),
    psycopg's write_row() with a registered binary Dumper 3.4 s (one Python
    call per row).  All three gave identical tables.
    The table is committed, has its primary key and is vacuumed (autocommit
    connections) and analyzed on return.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    ids = np.arange(n, dtype=np.int32) if ids is None else np.asarray(ids, dtype=np.int32)
    labels = np.asarray(labels, dtype=np.int32)
    name = ident(table)
    t0 = time.perf_counter()
    with conn.transaction():
        create_table(conn, table, type_name, dim, drop=True, storage=storage)
        cur = conn.cursor()
        copy_sql = sql.SQL("COPY {} (id, label, emb) FROM STDIN WITH (FORMAT {})").format(
            name, sql.SQL(fmt)
        )
        with progress(n, desc or f"COPY {name.as_string(conn)}") as bar, cur.copy(copy_sql) as copy:
            if fmt == "binary":
                copy.write(_COPY_SIGNATURE)
            for lo in range(0, n, batch):
                hi = min(lo + batch, n)
                if fmt == "binary":
                    copy.write(_binary_rows(ids[lo:hi], labels[lo:hi], vectors[lo:hi]))
                elif fmt == "text":
                    copy.write(_text_rows(ids[lo:hi], labels[lo:hi], vectors[lo:hi]))
                else:
                    raise ValueError(f"unknown COPY format {fmt!r}")
                bar.update(hi - lo)
            if fmt == "binary":
                copy.write(_COPY_TRAILER)
        conn.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (id)").format(name))
    # VACUUM sets hint bits and the visibility map, so that the first timed
    # scan does not pay for them; it needs autocommit
    verb = "VACUUM (ANALYZE)" if conn.autocommit else "ANALYZE"
    conn.execute(sql.SQL(verb + " {}").format(name))
    return time.perf_counter() - t0


def ensure_table(
    conn,
    table: TableName,
    type_name: str,
    vectors: np.ndarray,
    labels: np.ndarray,
    fmt: str = "binary",
    force: bool = False,
    storage: Optional[str] = None,
) -> Optional[float]:
    """Load table unless it already holds len(vectors) rows of the right
    type; returns the load seconds, or None when nothing was done."""
    if not force and table_rows(conn, table) == len(vectors):
        col = conn.execute(
            "SELECT format_type(atttypid, NULL), attstorage, "
            "       coalesce(array_to_string(reloptions, ','), '') "
            "FROM pg_attribute JOIN pg_class c ON c.oid = attrelid "
            "WHERE attrelid = %s::regclass AND attname = 'emb'",
            [ident(table).as_string(conn)],
        ).fetchone()
        want = conn.execute("SELECT format_type(%s::regtype, NULL)", [type_name]).fetchone()[0]
        inline = "toast_tuple_target=8160" in (col[2] if col else "")
        if storage == "inline":
            ok = inline
        else:
            ok = not inline and (not storage or col[1] == storage[0].lower())
        if col and col[0] == want and ok:
            return None
    return load_table(conn, table, type_name, vectors, labels, fmt=fmt, storage=storage)


@dataclasses.dataclass
class PeerSetup:
    """What a side-by-side script against an in-process peer needs."""

    ds: "Dataset"
    base: np.ndarray        # float32, contiguous
    queries: np.ndarray     # the first n test images, float32
    gt: object              # groundtruth.GroundTruth of those queries (L2)
    conn: object            # autocommit psycopg connection, gigavector created
    table: str              # schema.fmnist_gvector, loaded


def fmnist_for_peer(dsn: str, schema: str, nqueries: int) -> PeerSetup:
    """Load Fashion-MNIST, its L2 ground truth for nqueries queries, and the
    gvector table in the cluster at dsn."""
    import psycopg

    from . import groundtruth
    ds = load_fashion_mnist()
    queries = np.ascontiguousarray(ds.queries[:nqueries], dtype=np.float32)
    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS gigavector")
    table = f"{schema}.fmnist_gvector"
    ensure_table(conn, table, "gvector", ds.base, ds.base_labels)
    return PeerSetup(ds, np.ascontiguousarray(ds.base, dtype=np.float32), queries,
                     groundtruth.ground_truth(ds, "l2", len(queries)), conn, table)
