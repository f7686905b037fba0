"""The Python Vector value and the psycopg adapters agree with the server's
gvector_in/out and gvector_send/recv, byte for byte."""

import random
import struct

import numpy as np
import psycopg
import pytest

from gigavector import Vector, register_gvector


def sample_vectors():
    rng = random.Random(7)
    yield Vector([1, 2, 3])
    yield Vector([-0.0, 1e-45, 3.4028235e38, -3.4028235e38, 0.1])
    for dim in (1, 7, 8, 9, 784, 2001):
        yield Vector(rng.uniform(-1e3, 1e3) for _ in range(dim))
    yield Vector(rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30) for _ in range(64))


def test_rejects_bad_values():
    with pytest.raises(ValueError, match="NaN and infinite"):
        Vector([1.0, float("nan")])
    with pytest.raises(ValueError, match="NaN and infinite"):
        Vector([float("inf")])
    with pytest.raises(ValueError, match="1 to 16000 dimensions, not 0"):
        Vector([])
    with pytest.raises(ValueError, match="malformed binary gvector"):
        Vector.from_binary(b"\x00\x02\x00\x00\x3f\x80\x00\x00")


def test_binary_matches_gvector_send(conn):
    for v in sample_vectors():
        server = conn.execute("SELECT gvector_send(%s::gvector)", (v.to_text(),)).fetchone()[0]
        assert bytes(server) == v.to_binary()


def test_text_round_trips_through_gvector_in_out(conn):
    # Both sides print the shortest decimal that reads back exactly; they
    # may pick different spellings (1e+07 vs 10000000) of the same float32.
    for v in sample_vectors():
        server = conn.execute("SELECT %s::gvector::text", (v.to_text(),)).fetchone()[0]
        assert Vector.from_text(server) == v
        same = conn.execute("SELECT %s::gvector = %s::gvector", (server, v.to_text())).fetchone()[0]
        assert same is True


@pytest.mark.parametrize("binary", [False, True])
def test_adapter_round_trip(conn, binary):
    register_gvector(conn)
    conn.execute("CREATE TEMP TABLE t (id int, v gvector)")
    vectors = list(sample_vectors())
    with conn.cursor(binary=binary) as cur:
        for i, v in enumerate(vectors):
            cur.execute("INSERT INTO t VALUES (%s, %s)", (i, v))
        cur.execute("SELECT v FROM t ORDER BY id")
        assert [row[0] for row in cur.fetchall()] == vectors


def test_numpy_and_binary_copy(conn):
    register_gvector(conn, numpy=True)
    conn.execute("CREATE TEMP TABLE t (id int, v gvector(16))")
    data = np.random.default_rng(3).standard_normal((100, 16)).astype(np.float32)
    with conn.cursor() as cur:
        with cur.copy("COPY t (id, v) FROM STDIN WITH (FORMAT binary)") as copy:
            copy.set_types(["int4", "gvector"])
            for i, row in enumerate(data):
                copy.write_row((i, row))
        cur.execute("SELECT v FROM t ORDER BY id")
        loaded = np.stack([r[0] for r in cur.fetchall()])
    assert loaded.dtype == np.float32
    assert np.array_equal(loaded, data)
    # the server computes the same distances numpy does
    got = conn.execute("SELECT v <-> %s FROM t ORDER BY id", (data[0],)).fetchall()
    want = np.sqrt(((data.astype(np.float64) - data[0]) ** 2).sum(axis=1))
    assert np.allclose([g[0] for g in got], want, rtol=1e-5, atol=1e-5)


def binary_copy_stream(*fields: bytes) -> bytes:
    """A whole binary COPY stream with one row of the given raw fields."""
    header = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
    row = struct.pack(">h", len(fields))
    for f in fields:
        row += struct.pack(">i", len(f)) + f
    return header + row + struct.pack(">h", -1)


E = psycopg.errors


@pytest.mark.parametrize("payload, error, message", [
    (struct.pack(">hhI", 1, 0, 0x7FC00000), E.DataException, "NaN not allowed in gvector"),
    (struct.pack(">hhI", 1, 0, 0x7F800000), E.DataException, "infinite value not allowed in gvector"),
    (struct.pack(">hhf", 1, 1, 1.0), E.InvalidBinaryRepresentation, "reserved field is 1, not 0"),
    (struct.pack(">hhf", 2, 0, 1.0), E.InvalidBinaryRepresentation,
     "insufficient data for a gvector of 2 dimensions"),
    (struct.pack(">hh", 16001, 0), E.ProgramLimitExceeded,
     "gvector cannot have more than 16000 dimensions"),
])
def test_server_rejects_corrupt_binary(conn, payload, error, message):
    conn.execute("CREATE TEMP TABLE t (v gvector)")
    with pytest.raises(error, match=message):
        with conn.cursor() as cur:
            with cur.copy("COPY t FROM STDIN WITH (FORMAT binary)") as copy:
                copy.write(binary_copy_stream(payload))
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0
