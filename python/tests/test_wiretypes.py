"""HalfVector, BitVector and SparseVector agree with the server's ghalfvec,
gbit and gsparsevec in/out and send/recv byte for byte, and the psycopg
adapters round-trip them (text and binary, numpy float16 / bool, the sparse
(indices, values, dim) form)."""

import random

import numpy as np
import psycopg
import pytest

from gigavector import (BitVector, HalfVector, SparseVector, register_gbit, register_ghalfvec,
                        register_gsparsevec, register_types)


def halves():
    rng = random.Random(11)
    yield HalfVector([1, 2, 3])
    yield HalfVector([0.1, -2, 65504, -65504, 6e-8, -0.0, 0.5])
    for dim in (1, 7, 8, 9, 784):
        yield HalfVector([rng.uniform(-100, 100) for _ in range(dim)])


def bits():
    rng = random.Random(12)
    yield BitVector("1")
    yield BitVector("0101")
    yield BitVector([True, False, True, True, False, False, False, True])
    for n in (9, 63, 64, 65, 1000):
        yield BitVector([rng.random() < 0.5 for _ in range(n)])


def sparses():
    rng = random.Random(13)
    yield SparseVector([0], [1.5], 1)
    yield SparseVector([], [], 5)
    yield SparseVector([6, 0], [2, 0.5], 10000)
    yield SparseVector([999999], [-3.25e38], 1000000)
    idx = sorted(rng.sample(range(30000), 300))
    yield SparseVector(idx, [rng.uniform(-1, 1) for _ in idx], 30000)


SERVER = {
    "ghalfvec": (halves, HalfVector),
    "gbit": (bits, BitVector),
    "gsparsevec": (sparses, SparseVector),
}


@pytest.mark.parametrize("type_name", sorted(SERVER))
def test_binary_matches_send(conn, type_name):
    gen, cls = SERVER[type_name]
    for v in gen():
        server = conn.execute(f"SELECT {type_name}_send(%s::{type_name})", (v.to_text(),)).fetchone()[0]
        assert bytes(server) == v.to_binary(), v
        assert cls.from_binary(bytes(server)) == v


@pytest.mark.parametrize("type_name", sorted(SERVER))
def test_text_round_trips_through_in_out(conn, type_name):
    gen, cls = SERVER[type_name]
    for v in gen():
        server = conn.execute(f"SELECT %s::{type_name}::text", (v.to_text(),)).fetchone()[0]
        assert cls.from_text(server) == v, (server, v)


def test_values_as_the_server_reads_them():
    # rounding to the nearest half, as '[0.1]'::ghalfvec does
    assert HalfVector([0.1]).to_list() == [0.0999755859375]
    assert HalfVector([0.1]).to_text() == "[0.099975586]"
    # sparse: sorted, explicit zeros dropped, 0-based in Python, 1-based in text
    s = SparseVector([4, 1, 2], [2.0, 0.5, 0.0], 6)
    assert (s.indices, s.values, s.dim) == ([1, 4], [0.5, 2.0], 6)
    assert s.to_text() == "{2:0.5,5:2}/6"
    assert s.to_list() == [0, 0.5, 0, 0, 2, 0]
    assert SparseVector.from_dense([0, 0.5, 0, 0, 2, 0]) == s
    assert SparseVector.from_dict({1: 0.5, 4: 2}, 6) == s
    assert BitVector("0101").to_list() == [False, True, False, True]


def test_bad_values_are_errors():
    with pytest.raises(ValueError, match="out of range for type ghalfvec"):
        HalfVector([65520])
    with pytest.raises(ValueError, match="NaN and infinite"):
        HalfVector([float("nan")])
    with pytest.raises(ValueError, match="1 to 16000 dimensions, not 0"):
        HalfVector([])
    with pytest.raises(TypeError, match="real numbers"):
        HalfVector(["1"])
    with pytest.raises(ValueError, match="only 0 and 1"):
        BitVector("0102")
    with pytest.raises(ValueError, match="1 to 64000 bits, not 0"):
        BitVector("")
    with pytest.raises(ValueError, match="bits"):
        BitVector([0, 2])
    with pytest.raises(ValueError, match="appears twice"):
        SparseVector([1, 1], [1, 2], 3)
    with pytest.raises(ValueError, match="outside 0..2"):
        SparseVector([3], [1], 3)
    with pytest.raises(ValueError, match="2 indices but 1 values"):
        SparseVector([0, 1], [1], 3)
    with pytest.raises(ValueError, match="NaN and infinite"):
        SparseVector([0], [float("inf")], 3)
    with pytest.raises(ValueError, match="malformed binary gbit"):
        BitVector.from_binary(b"\x00\x00\x00\x03\xa1")  # a padding bit set
    with pytest.raises(ValueError, match="malformed binary ghalfvec"):
        HalfVector.from_binary(b"\x00\x02\x00\x00\x3c\x00")
    with pytest.raises(ValueError, match="malformed binary gsparsevec"):
        SparseVector.from_binary(b"\x00\x00\x00\x05\x00\x00\x00\x02\x00\x00\x00\x00"
                                 b"\x00\x00\x00\x02\x00\x00\x00\x01" + b"\x3f\x80\x00\x00" * 2)


@pytest.mark.parametrize("binary", [False, True])
def test_adapters_round_trip(conn, binary):
    register_ghalfvec(conn)
    register_gbit(conn)
    register_gsparsevec(conn)
    conn.execute("CREATE TEMP TABLE w (id int, h ghalfvec, b gbit, s gsparsevec)")
    rows = list(zip(halves(), bits(), sparses()))
    with conn.cursor(binary=binary) as cur:
        for i, (h, b, s) in enumerate(rows):
            cur.execute("INSERT INTO w VALUES (%s, %s, %s, %s)", (i, h, b, s))
        cur.execute("SELECT h, b, s FROM w ORDER BY id")
        assert [tuple(r) for r in cur.fetchall()] == rows
        # the server reads the values the Python side meant
        cur.execute("SELECT h::text, b::text, s::text FROM w ORDER BY id")
        assert [tuple(r) for r in cur.fetchall()] == [
            (h.to_text(), b.to_text(), s.to_text()) for h, b, s in rows]


@pytest.mark.parametrize("binary", [False, True])
def test_numpy_round_trip(conn, binary):
    register_types(conn, numpy=True)
    rng = np.random.default_rng(5)
    halfs = rng.uniform(-1000, 1000, (20, 33)).astype(np.float16)
    flags = rng.random((20, 77)) < 0.3
    dense = rng.standard_normal((20, 12)).astype(np.float32)
    conn.execute("CREATE TEMP TABLE n (id int, h ghalfvec(33), b gbit(77), v gvector(12))")
    with conn.cursor(binary=binary) as cur:
        for i in range(20):
            cur.execute("INSERT INTO n VALUES (%s, %s, %s, %s)", (i, halfs[i], flags[i], dense[i]))
        cur.execute("SELECT h, b, v FROM n ORDER BY id")
        got = cur.fetchall()
    h = np.stack([r[0] for r in got])
    b = np.stack([r[1] for r in got])
    v = np.stack([r[2] for r in got])
    assert h.dtype == np.float16 and np.array_equal(h, halfs)
    assert b.dtype == np.bool_ and np.array_equal(b, flags)
    assert v.dtype == np.float32 and np.array_equal(v, dense)
    # distances computed by the server on what was sent equal numpy's
    ham = conn.execute("SELECT b <~> %s FROM n ORDER BY id", (flags[0],)).fetchall()
    assert [r[0] for r in ham] == [float((flags[0] != f).sum()) for f in flags]


def test_sparse_binary_copy_and_distance(conn):
    register_gsparsevec(conn)
    conn.execute("CREATE TEMP TABLE sp (id int, s gsparsevec(1000))")
    rng = random.Random(9)
    vecs = []
    for _ in range(30):
        idx = sorted(rng.sample(range(1000), rng.randint(0, 20)))
        vecs.append(SparseVector(idx, [rng.randint(-9, 9) or 1 for _ in idx], 1000))
    with conn.cursor() as cur:
        with cur.copy("COPY sp (id, s) FROM STDIN WITH (FORMAT binary)") as copy:
            copy.set_types(["int4", "gsparsevec"])
            for i, v in enumerate(vecs):
                copy.write_row((i, v))
    got = [r[0] for r in conn.execute("SELECT s FROM sp ORDER BY id").fetchall()]
    assert got == vecs
    ip = conn.execute("SELECT inner_product(s, %s) FROM sp ORDER BY id", (vecs[0],)).fetchall()
    want = [sum(a * vecs[0].to_dict().get(i, 0.0) for i, a in v.to_dict().items()) for v in vecs]
    assert [r[0] for r in ip] == want


def test_register_without_extension(dsn):
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("DROP DATABASE IF EXISTS gv_wiretypes_bare")
        c.execute("CREATE DATABASE gv_wiretypes_bare")
    bare = psycopg.conninfo.make_conninfo(dsn, dbname="gv_wiretypes_bare")
    try:
        with psycopg.connect(bare, autocommit=True) as c:
            from gigavector import GigaVectorError
            with pytest.raises(GigaVectorError, match="type ghalfvec not found"):
                register_ghalfvec(c)
    finally:
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("DROP DATABASE gv_wiretypes_bare")
