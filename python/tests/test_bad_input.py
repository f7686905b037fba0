"""Bad input raises the exception the README promises — ValueError for bad
vectors, metadata, ids and k — in every call that takes it, and changes
nothing; numpy integers are accepted wherever Python integers are.  One
table, run against one collection per mode (embedded and DSN)."""

import uuid

import numpy as np
import psycopg
import pytest

from gigavector import Database, GigaVectorError, IndexType

NAN, INF = float("nan"), float("inf")
BIG = [1e39, 0, 0]              # beyond float32
HUGE_INT = [10 ** 400, 0, 0]    # beyond float64
COMPLEX = np.array([1 + 2j, 0, 0])
INT8_MAX = 2 ** 63 - 1

# (name, call(db, id), exception, message pattern)
CASES = [
    # vectors: beyond float32 / float64, complex, strings, NaN, wrong dimension
    ("add_vector 1e39", lambda db, i: db.add_vector(BIG), ValueError, "float32"),
    ("add_vector numpy 1e39", lambda db, i: db.add_vector(np.array(BIG)), ValueError, "float32"),
    ("add_vector 10**400", lambda db, i: db.add_vector(HUGE_INT), ValueError, "float"),
    ("search 1e39", lambda db, i: db.search(BIG, k=1), ValueError, "float32"),
    ("update 1e39", lambda db, i: db.update(i, vector=BIG), ValueError, "float32"),
    ("upsert 1e39", lambda db, i: db.upsert(i, BIG), ValueError, "float32"),
    ("search_batch 1e39", lambda db, i: db.search_batch([[1, 2, 3], BIG], k=1), ValueError,
     "float32"),
    ("add_vectors 1e39", lambda db, i: db.add_vectors([BIG]), ValueError, "float32"),
    ("add_vectors numpy 1e39", lambda db, i: db.add_vectors(np.array([BIG])), ValueError,
     "float32"),
    ("add_vectors 10**400", lambda db, i: db.add_vectors([HUGE_INT]), ValueError, "float"),
    ("add_vector complex", lambda db, i: db.add_vector(COMPLEX), ValueError, "complex"),
    ("add_vector complex list", lambda db, i: db.add_vector([1j, 0, 0]), ValueError, "complex"),
    ("search complex", lambda db, i: db.search(COMPLEX, k=1), ValueError, "complex"),
    ("add_vectors complex", lambda db, i: db.add_vectors(np.array([COMPLEX])), ValueError,
     "complex"),
    ("add_vectors complex list", lambda db, i: db.add_vectors([[1j, 0, 0]]), ValueError,
     "complex"),
    ("add_vector strings", lambda db, i: db.add_vector(["1", "2", "3"]), ValueError,
     "real numbers"),
    ("add_vectors strings", lambda db, i: db.add_vectors([["1", "2", "3"]]), ValueError,
     "real numbers"),
    ("add_vectors numpy strings", lambda db, i: db.add_vectors(np.array([["1", "2", "3"]])),
     ValueError, "real numbers"),
    ("add_vector NaN", lambda db, i: db.add_vector([NAN, 0, 0]), ValueError, "NaN"),
    ("update dimension", lambda db, i: db.update(i, vector=[1, 2]), ValueError, "dimension 2"),
    # metadata: NaN and infinity (not JSON), NUL and lone surrogates (not storable in jsonb)
    ("add_vector metadata NaN", lambda db, i: db.add_vector([1, 2, 3], {"x": NAN}), ValueError,
     "JSON"),
    ("add_vector metadata inf", lambda db, i: db.add_vector([1, 2, 3], {"x": [INF]}), ValueError,
     "JSON"),
    ("add_vector metadata NUL", lambda db, i: db.add_vector([1, 2, 3], {"x": "a\x00b"}),
     ValueError, "NUL"),
    ("add_vector metadata NUL key", lambda db, i: db.add_vector([1, 2, 3], {"a\x00": 1}),
     ValueError, "NUL"),
    ("add_vector metadata nested NUL",
     lambda db, i: db.add_vector([1, 2, 3], {"x": ["ok", {"y": "\x00"}]}), ValueError, "NUL"),
    ("add_vector metadata surrogate", lambda db, i: db.add_vector([1, 2, 3], {"x": "\ud800"}),
     ValueError, "surrogate"),
    ("add_vector metadata nested int key", lambda db, i: db.add_vector([1, 2, 3], {"x": {1: 2}}),
     ValueError, "keys must be strings"),
    ("add_vectors metadata NaN",
     lambda db, i: db.add_vectors([[1, 2, 3]], metadata=[{"x": NAN}]), ValueError, "JSON"),
    ("add_vectors metadata NUL",
     lambda db, i: db.add_vectors([[1, 2, 3]], metadata=[{"x": "\x00"}]), ValueError, "NUL"),
    ("update metadata NaN", lambda db, i: db.update(i, metadata={"x": NAN}), ValueError, "JSON"),
    ("update metadata NUL", lambda db, i: db.update(i, metadata={"x": "\x00"}), ValueError, "NUL"),
    ("upsert metadata NaN", lambda db, i: db.upsert(i, [1, 2, 3], {"x": NAN}), ValueError, "JSON"),
    ("upsert metadata NUL", lambda db, i: db.upsert(i, [1, 2, 3], {"x": "\x00"}), ValueError,
     "NUL"),
    ("search filter NaN", lambda db, i: db.search([1, 2, 3], 1, filter_metadata={"x": NAN}),
     ValueError, "JSON"),
    ("search filter NUL", lambda db, i: db.search([1, 2, 3], 1, filter_metadata=("x", "\x00")),
     ValueError, "NUL"),
    ("count filter NUL", lambda db, i: db.count({"x": "\x00"}), ValueError, "NUL"),
    # ids: not integers, beyond bigint
    ("get 2**63", lambda db, i: db.get(2 ** 63), ValueError, "bigint"),
    ("get -2**63-1", lambda db, i: db.get(-2 ** 63 - 1), ValueError, "bigint"),
    ("delete 2**63", lambda db, i: db.delete(2 ** 63), ValueError, "bigint"),
    ("update 2**63", lambda db, i: db.update(2 ** 63, metadata={}), ValueError, "bigint"),
    ("upsert 2**63", lambda db, i: db.upsert(2 ** 63, [1, 2, 3]), ValueError, "bigint"),
    ("upsert numpy uint64 2**63", lambda db, i: db.upsert(np.uint64(2 ** 63), [1, 2, 3]),
     ValueError, "bigint"),
    ("get float", lambda db, i: db.get(1.0), ValueError, "integer"),
    ("get bool", lambda db, i: db.get(True), ValueError, "integer"),
    ("get numpy bool", lambda db, i: db.get(np.bool_(True)), ValueError, "integer"),
    # k: beyond bigint, negative, not an integer
    ("search k 2**63", lambda db, i: db.search([1, 2, 3], k=2 ** 63), ValueError, "k must"),
    ("search_batch k 2**63", lambda db, i: db.search_batch([[1, 2, 3]], k=2 ** 63), ValueError,
     "k must"),
    ("search k numpy uint64 2**63", lambda db, i: db.search([1, 2, 3], k=np.uint64(2 ** 63)),
     ValueError, "k must"),
    ("search k -1", lambda db, i: db.search([1, 2, 3], k=-1), ValueError, "k must"),
    ("search k numpy -1", lambda db, i: db.search([1, 2, 3], k=np.int64(-1)), ValueError,
     "k must"),
    ("search k 1.0", lambda db, i: db.search([1, 2, 3], k=1.0), ValueError, "k must"),
    ("search k True", lambda db, i: db.search([1, 2, 3], k=True), ValueError, "k must"),
    ("search k numpy float", lambda db, i: db.search([1, 2, 3], k=np.float64(5)), ValueError,
     "k must"),
]


@pytest.fixture(scope="module", params=["embedded", "dsn"])
def one_row_db(request, dsn):
    """A collection holding one vector ([1, 2, 3], {"n": 1})."""
    name = "bad_" + uuid.uuid4().hex[:12]
    if request.param == "embedded":
        path = request.getfixturevalue("shared_embedded")
        db = Database.open(path, 3, IndexType.HNSW, embedded=True, collection=name)
    else:
        db = Database.open(name, 3, IndexType.HNSW, dsn=dsn)
    i = db.add_vector([1, 2, 3], {"n": 1})
    yield db, i
    with db.connection() as c:
        c.execute("DROP TABLE {}".format(db.table.as_string(c)))
    db.close()


@pytest.mark.parametrize("name, call, exc, match", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_the_documented_exception(one_row_db, name, call, exc, match):
    db, i = one_row_db
    with pytest.raises(exc, match=match):
        call(db, i)
    assert db.count() == 1  # nothing was written
    got = db.get(i)
    assert (got.data, got.metadata) == ([1.0, 2.0, 3.0], {"n": 1})


def test_numpy_integers_are_accepted_as_k_and_ids(one_row_db):
    db, i = one_row_db
    for k in (np.int64(5), np.int32(1), np.uint8(2), INT8_MAX):
        assert [h.id for h in db.search([1, 2, 3], k=k)] == [i]
        assert [[h.id for h in hs] for hs in db.search_batch([[1, 2, 3]], k=k)] == [[i]]
    assert db.get(np.int64(i)).id == i and db.get(INT8_MAX) is None and db.get(-2 ** 63) is None
    assert db.update(np.int32(i), metadata={"n": 1})
    assert db.upsert(np.int64(i), [1, 2, 3], {"n": 1}) == i
    assert not db.delete(np.uint64(INT8_MAX))


def test_numpy_integer_dimension(dsn):
    with Database.open(None, np.int64(3), dsn=dsn) as db:
        assert db.dimension == 3 and type(db.dimension) is int
        db.add_vector(np.array([1, 2, 3], dtype=np.int16))
        assert db.search(np.array([1, 2, 3], dtype=np.uint8), k=np.int64(1))[0].distance == 0.0
    with pytest.raises(ValueError, match="dimension"):
        Database.open(None, np.bool_(True), dsn=dsn)


def test_server_errors_keep_sqlstate_and_detail(dsn):
    """What the server refuses is a GigaVectorError (a RuntimeError) with its
    SQLSTATE, detail and hint; a user who may not create the extension is told so."""
    name = "gv_noext_" + uuid.uuid4().hex[:8]
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
        c.execute("DROP ROLE IF EXISTS gv_plain")
        c.execute("CREATE ROLE gv_plain LOGIN")
    try:
        target = psycopg.conninfo.make_conninfo(dsn, dbname=name, user="gv_plain")
        with pytest.raises(GigaVectorError, match="may not create it") as info:
            Database.open("t", 3, dsn=target)
        assert isinstance(info.value, RuntimeError) and info.value.sqlstate == "42501"
        with pytest.raises(GigaVectorError) as info:
            Database.open("t", 3, dsn=dsn, settings={"gigavector.hnsw_ef_search": 0})
        assert info.value.sqlstate == "22023" and "hnsw_ef_search" in str(info.value)
        with Database.open(None, 3, dsn=dsn) as db:  # a user's trigger refuses a row
            with db.connection() as c:
                c.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                          "$$BEGIN RAISE 'refused' USING DETAIL = 'the detail', "
                          "HINT = 'the hint', ERRCODE = '22000'; END$$")
                c.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON {db.table.as_string(c)} "
                          f"FOR EACH ROW EXECUTE FUNCTION {name}()")
            with pytest.raises(GigaVectorError) as info:
                db.add_vector([1, 2, 3])
            e = info.value
            assert (str(e), e.sqlstate, e.detail, e.hint) == ("refused", "22000", "the detail",
                                                              "the hint")
            assert isinstance(e, RuntimeError) and isinstance(e.__cause__, psycopg.Error)
            assert db.count() == 0
    finally:
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(f"DROP DATABASE {name} WITH (FORCE)")
            c.execute("DROP ROLE gv_plain")
            c.execute(f"DROP FUNCTION IF EXISTS {name}() CASCADE")
