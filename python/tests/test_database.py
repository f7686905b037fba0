"""The Database API beyond the seed's examples, in embedded mode and against a DSN:
ids, get/update/upsert/delete, dict filters, every distance under every index,
binary COPY loads, one-round-trip batch search, SQL injection, threads."""

import threading
import warnings

import numpy as np
import psycopg
import pytest

from gigavector import Database, DistanceType, GigaVectorError, GigaVectorWarning, IndexType, Vector

MODES = ["embedded", "dsn"]


def exact(data, q, distance):
    d64, q64 = data.astype(np.float64), np.asarray(q, dtype=np.float64)
    if distance == DistanceType.EUCLIDEAN:
        return np.sqrt(((d64 - q64) ** 2).sum(axis=1))
    if distance == DistanceType.COSINE:
        return 1 - d64 @ q64 / (np.linalg.norm(d64, axis=1) * np.linalg.norm(q64))
    return -(d64 @ q64)


def uses_index(db, distance):
    with db.connection() as c:
        c.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in c.execute(
            "EXPLAIN SELECT id, embedding {} %s::gvector AS distance FROM {} ORDER BY distance LIMIT 5"
            .format(distance.operator, db.table.as_string(c)), ("[" + ",".join(["0.5"] * db.dimension) + "]",)))
        c.execute("RESET enable_seqscan")
    return "Index Scan" in plan


@pytest.mark.parametrize("mode", MODES)
def test_crud(make_db, mode):
    db = make_db(mode, 3)
    a = db.add_vector([1, 2, 3], {"name": "a"})
    b = db.add_vector(np.array([4, 5, 6], dtype=np.float32))
    assert isinstance(a, int) and b > a and db.count() == len(db) == 2
    got = db.get(a)
    assert got.data == [1.0, 2.0, 3.0] and got.metadata == {"name": "a"} and got.id == a
    assert db.get(b).metadata == {} and db.get(10 ** 12) is None
    assert db.update(a, metadata={"name": "A", "n": 1}) and db.get(a).metadata == {"name": "A", "n": 1}
    assert db.update(a, vector=[0, 0, 1]) and db.get(a).data == [0.0, 0.0, 1.0]
    assert not db.update(10 ** 12, metadata={})
    assert db.upsert(b, [7, 8, 9], {"u": True}) == b and db.get(b).metadata == {"u": True}
    assert db.upsert(1000, [1, 1, 1]) == 1000 and db.get(1000).data == [1.0, 1.0, 1.0]
    c = db.add_vector([2, 2, 2])
    assert c > 1000  # generated ids skip explicit ones
    assert db.delete(a) and not db.delete(a) and db.count() == 3
    ids = db.add_vectors([[0, 0, 0], [1, 1, 1]], metadata=[{"k": 1}, None])
    assert [db.get(i).metadata for i in ids] == [{"k": 1}, {}]
    with pytest.raises(ValueError, match="dimension 2"):
        db.add_vector([1, 2])
    with pytest.raises(ValueError, match="NaN"):
        db.add_vector([1, float("nan"), 2])
    with pytest.raises(ValueError):
        db.add_vectors(np.array([[1, 2, np.inf]]))
    with pytest.raises(ValueError):
        db.search([1, 2, 3, 4], k=1)
    with pytest.raises(ValueError):
        db.search_batch([[1, 2, 3], [1, 2]], k=1)
    with pytest.raises(ValueError):
        db.add_vector([1, 2, 3], metadata={1: "x"})
    assert db.search([1, 2, 3], k=0) == []


@pytest.mark.parametrize("mode", MODES)
def test_dict_filters(make_db, mode):
    db = make_db(mode, 2, IndexType.HNSW)
    rows = [({"color": c, "size": s, "n": i}, [float(i), 0.0])
            for i, (c, s) in enumerate([(c, s) for c in "rgb" for s in ("S", "M", "L")] * 5)]
    db.add_vectors([v for _, v in rows], metadata=[m for m, _ in rows])
    hits = db.search([0.0, 0.0], k=100, filter_metadata={"color": "g", "size": "M"})
    assert [h.vector.metadata["n"] for h in hits] == [i for m, _ in rows for i in [m["n"]]
                                                      if m["color"] == "g" and m["size"] == "M"]
    assert db.count({"color": "r"}) == 15 and db.count(("size", "L")) == 15
    assert db.search([0.0, 0.0], k=3, filter_metadata={"n": 7})[0].vector.data == [7.0, 0.0]
    assert db.search([0.0, 0.0], k=3, filter_metadata={"color": "x"}) == []
    batch = db.search_batch([[0.0, 0.0], [44.0, 0.0]], k=2, filter_metadata={"size": "S"})
    assert [[h.vector.metadata["n"] for h in hs] for hs in batch] == [[0, 3], [42, 39]]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("index", list(IndexType))
def test_every_distance_under_every_index(make_db, mode, index):
    rng = np.random.default_rng(int(index) + 10)
    data = rng.standard_normal((400, 16)).astype(np.float32)
    queries = rng.standard_normal((6, 16)).astype(np.float32)
    db = make_db(mode, 16, index)
    assert db.add_vectors(data) == list(range(1, 401))
    if index != IndexType.FLAT:
        assert db.index_distance == DistanceType.EUCLIDEAN and uses_index(db, DistanceType.EUCLIDEAN)
    for distance in DistanceType:
        batch = db.search_batch(queries, k=10, distance=distance)
        for q, hits in zip(queries, batch):
            want = exact(data, q, distance)
            order = np.argsort(want, kind="stable")[:10] + 1
            got = [h.id for h in hits]
            single = db.search(q, k=10, distance=distance)
            assert [h.id for h in single] == got
            assert np.allclose([h.distance for h in hits], want[np.array(got) - 1], rtol=1e-4, atol=1e-4)
            approximate = index in (IndexType.HNSW, IndexType.IVFPQ) and distance == DistanceType.EUCLIDEAN
            if approximate:
                assert len(set(got) & set(order)) >= 8
            else:
                assert np.allclose(sorted(want[np.array(got) - 1]), np.sort(want)[:10], atol=1e-4)


@pytest.mark.parametrize("mode", ["dsn"])
def test_index_distance(make_db, mode):
    db = make_db(mode, 8, IndexType.HNSW, index_distance=DistanceType.COSINE)
    assert db.index_distance == DistanceType.COSINE
    assert uses_index(db, DistanceType.COSINE) and not uses_index(db, DistanceType.EUCLIDEAN)
    # reopening without index_distance keeps the index's distance; a new one rebuilds
    again = Database.open(db.collection, 8, IndexType.HNSW, dsn=db.conninfo)
    assert again.index_distance == DistanceType.COSINE
    again.close()
    again = Database.open(db.collection, 8, IndexType.HNSW, dsn=db.conninfo,
                          index_distance=DistanceType.DOT_PRODUCT)
    assert uses_index(again, DistanceType.DOT_PRODUCT) and not uses_index(again, DistanceType.COSINE)
    again.close()
    # a KD-tree cannot prune on inner product: warn, fall back to exact scans
    with pytest.warns(GigaVectorWarning, match="inner product"):
        kd = make_db(mode, 8, IndexType.KDTREE, index_distance=DistanceType.DOT_PRODUCT)
    assert kd.index_distance is None
    kd.add_vectors([[1.0] * 8, [2.0] * 8])
    assert [h.distance for h in kd.search([1.0] * 8, 2, DistanceType.DOT_PRODUCT)] == [-16.0, -8.0]
    with pytest.warns(GigaVectorWarning, match="at most 128"):
        make_db(mode, 200, IndexType.KDTREE)
    with pytest.raises(ValueError, match="gvector\\(8\\)"):
        Database.open(db.collection, 9, IndexType.HNSW, dsn=db.conninfo)


@pytest.mark.parametrize("mode", MODES)
def test_ivfpq_trains_once_rows_exist(make_db, mode):
    db = make_db(mode, 8, IndexType.IVFPQ)
    data = np.random.default_rng(5).random((600, 8), dtype=np.float32)
    db.add_vectors(data)
    with db.connection() as c:
        info = "SELECT trained FROM gigavector.ivfpq_info(%s::regclass)"
        idx = c.execute("SELECT indexrelid::regclass::text FROM pg_index i JOIN pg_class c "
                        "ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                        "WHERE indrelid = %s::regclass AND amname = 'gv_ivfpq'",
                        (db.table.as_string(c),)).fetchone()[0]
        assert c.execute(info, (idx,)).fetchone()[0] is False
        assert db.search(data[3], k=1)[0].id == 4  # trains (REINDEX) first
        assert c.execute(info, (idx,)).fetchone()[0] is True
    assert [h.id for h in db.search(data[17], k=3)][0] == 18


@pytest.mark.parametrize("mode", MODES)
def test_collection_rows_keep_their_vectors(make_db, mode):
    """Collection tables keep vectors up to a page in the row (re-ranking and
    exact scans read no TOAST); larger ones still go out of line."""
    db = make_db(mode, 1000, IndexType.FLAT)
    big = make_db(mode, 3000, IndexType.FLAT)
    rng = np.random.default_rng(3)
    db.add_vectors(rng.random((3, 1000), dtype=np.float32))
    big.add_vectors(rng.random((3, 3000), dtype=np.float32))
    with db.connection() as c:
        opts = c.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass",
                         (db.table.as_string(c),)).fetchone()[0]
        assert "toast_tuple_target=8160" in opts
        toast = ("SELECT coalesce(pg_relation_size(reltoastrelid), 0) FROM pg_class "
                 "WHERE oid = %s::regclass")
        assert c.execute(toast, (db.table.as_string(c),)).fetchone()[0] == 0  # 4 kB vectors inline
        assert c.execute(toast, (big.table.as_string(c),)).fetchone()[0] > 0  # 12 kB ones are not


def _ivfpq_index(c, db):
    return c.execute("SELECT indexrelid::regclass::text FROM pg_index i JOIN pg_class c "
                     "ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                     "WHERE indrelid = %s::regclass AND amname = 'gv_ivfpq'",
                     (db.table.as_string(c),)).fetchone()[0]


@pytest.mark.parametrize("mode", MODES)
def test_train_ivfpq_is_the_training_table_option(make_db, mode):
    """train_ivfpq(data) trains the index on data at once, even on an empty
    collection, through the index option training_table; later rows are
    encoded with those lists and codebooks."""
    db = make_db(mode, 16, IndexType.IVFPQ)
    rng = np.random.default_rng(11)
    train = rng.random((400, 16), dtype=np.float32)
    db.train_ivfpq(train)
    with db.connection() as c:
        idx = _ivfpq_index(c, db)
        trained, lists, bits = c.execute(
            "SELECT trained, lists, bits FROM gigavector.ivfpq_info(%s::regclass)", (idx,)).fetchone()
        assert (trained, lists, bits) == (True, 20, 8)  # sqrt(400) lists, before any row exists
        opts = c.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass", (idx,)).fetchone()[0]
        assert f"training_table={db._schema}.{db._training_name}(embedding)" in opts
        assert c.execute("SELECT count(*) FROM {}".format(db._training.as_string(c))).fetchone()[0] == 400
    data = rng.random((1000, 16), dtype=np.float32)
    ids = db.add_vectors(data)
    exact = np.argsort(((data - data[7]) ** 2).sum(axis=1))[:10]
    assert [h.id for h in db.search(data[7], k=10)] == [ids[i] for i in exact]
    with db.connection() as c:  # not retrained from the rows: still the training sample's 20 lists
        assert c.execute("SELECT lists FROM gigavector.ivfpq_info(%s::regclass)",
                         (_ivfpq_index(c, db),)).fetchone()[0] == 20
    # few training vectors: fewer bits (2^bits <= n) and lists <= n, with a warning
    with pytest.warns(GigaVectorWarning, match="at least 256"):
        db.train_ivfpq(train[:40])
    with db.connection() as c:
        assert c.execute("SELECT trained, lists, bits FROM gigavector.ivfpq_info(%s::regclass)",
                         (_ivfpq_index(c, db),)).fetchone() == (True, 32, 5)
    assert [h.id for h in db.search(data[7], k=10)] == [ids[i] for i in exact]


def test_train_ivfpq_temporary_collection_drops_its_training_table(dsn):
    db = Database.open(None, 4, IndexType.IVFPQ, dsn=dsn)
    db.train_ivfpq(np.random.default_rng(2).random((300, 4), dtype=np.float32))
    with db.connection() as c:
        training = db._training.as_string(c)
        assert c.execute("SELECT to_regclass(%s) IS NOT NULL", (training,)).fetchone()[0]
    db.close()
    with psycopg.connect(dsn) as c:
        assert c.execute("SELECT to_regclass(%s) IS NULL", (training,)).fetchone()[0]


@pytest.mark.parametrize("mode", MODES)
def test_search_batch_is_one_statement(make_db, mode, monkeypatch):
    db = make_db(mode, 4, IndexType.HNSW)
    data = np.random.default_rng(1).random((200, 4), dtype=np.float32)
    db.add_vectors(data)
    calls = []
    original = psycopg.Cursor.execute

    def counting(self, query, *a, **kw):
        calls.append(query)
        return original(self, query, *a, **kw)
    monkeypatch.setattr(psycopg.Cursor, "execute", counting)
    results = db.search_batch(data[:50], k=3)
    assert len(calls) == 1
    assert [r[0].id for r in results] == list(range(1, 51))


@pytest.mark.parametrize("mode", MODES)
def test_add_vectors_numpy_and_progress(make_db, mode, capsys):
    db = make_db(mode, 32, IndexType.FLAT)
    data = np.random.default_rng(2).standard_normal((12000, 32)).astype(np.float32)
    ids = db.add_vectors(data)  # >= 10,000 rows: a progress bar
    assert len(ids) == 12000 and db.count() == 12000
    assert "add_vectors" in capsys.readouterr().err
    assert np.array_equal(np.array(db.get(ids[1234]).data, dtype=np.float32), data[1234])
    db.add_vectors(data[:5].astype(np.float64).tolist(), progress=False)
    assert db.count() == 12005
    assert "add_vectors" not in capsys.readouterr().err


EVIL = ['x"; DROP TABLE keeper; --', "Robert'); DROP TABLE students;--", "a.b", "ünïcode \\ \"q\"",
        "$1 %s %(x)s {}"]


@pytest.mark.parametrize("mode", MODES)
def test_no_sql_injection(mode, dsn, request, make_db):
    victim = make_db(mode, 2)
    victim.add_vector([1, 1])
    for name in EVIL:
        if mode == "dsn":
            db = Database.open(name, 2, IndexType.HNSW, dsn=dsn)
        else:
            db = Database.open(request.getfixturevalue("shared_embedded"), 2, IndexType.HNSW,
                               embedded=True, collection=name)
        try:
            assert db.collection == name
            i = db.add_vector([0, 1], {name: name, "k'); DROP TABLE x; --": "v' OR '1'='1"})
            db.add_vector([0, 2], {"other": "row"})
            assert db.search([0, 1], 5, filter_metadata=(name, name))[0].id == i
            assert db.search([0, 1], 5, filter_metadata=("other", "' OR 1=1 --")) == []
            assert db.count({"k'); DROP TABLE x; --": "v' OR '1'='1"}) == 1
            assert db.count({"k": "v' OR '1'='1"}) == 0
            assert db.get(i).metadata[name] == name
        finally:
            with db.connection() as c:
                c.execute("DROP TABLE {}".format(db.table.as_string(c)))
            db.close()
    assert victim.count() == 1  # nothing else was touched
    with pytest.raises(ValueError):
        Database.open("x" * 64, 2, dsn=dsn)
    with pytest.raises(ValueError):
        victim.search([0, 0], k="1; DROP TABLE keeper")
    with pytest.raises(ValueError):
        victim.get("1 OR 1=1")


@pytest.mark.parametrize("mode", MODES)
def test_threads_share_one_database(make_db, mode):
    db = make_db(mode, 8, IndexType.HNSW, pool_size=4)
    errors, found = [], []

    def work(t):
        try:
            rng = np.random.default_rng(t)
            mine = rng.random((25, 8), dtype=np.float32) + t * 10
            ids = [db.add_vector(v, {"thread": t}) for v in mine[:15]]
            ids += db.add_vectors(mine[15:], metadata=[{"thread": t}] * 10)
            for v, i in zip(mine, ids):
                hit = db.search(v, k=1, filter_metadata={"thread": t})[0]
                found.append(hit.id == i and hit.distance == 0.0)
            db.search_batch(mine, k=3)
            db.update(ids[0], metadata={"thread": t, "updated": True})
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(found) == 200 and all(found)
    assert db.count() == 200 and db.count({"updated": True}) == 8


@pytest.mark.parametrize("mode", ["dsn"])
def test_temporary_collection_and_errors(mode, dsn):
    db = Database.open(None, 4, dsn=dsn)
    name = db.collection
    db.add_vector([1, 2, 3, 4])
    db.close()
    with psycopg.connect(dsn) as c:
        assert c.execute("SELECT to_regclass(%s)", (f'"{name}"',)).fetchone()[0] is None
        c.execute("CREATE TABLE not_ours (x int)")
        c.commit()
    try:
        with pytest.raises(RuntimeError, match="not a gigavector collection"):
            Database.open("not_ours", 4, dsn=dsn)
    finally:
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("DROP TABLE not_ours")
    with pytest.raises(RuntimeError):
        Database.open("x", 4, dsn="host=/nonexistent port=1")
    with pytest.raises(ValueError):
        Database.open("x", 0, dsn=dsn)


def test_vector_record():
    v = Vector([1, 2], metadata={"a": "b"}, id=7)
    assert v.data == [1.0, 2.0] and v.metadata == {"a": "b"} and v.id == 7
    assert v == Vector([1, 2], {"a": "b"}) and v != Vector([1, 2])
    assert Vector(v).to_binary() == Vector([1, 2]).to_binary()


@pytest.mark.parametrize("mode", MODES)
def test_iteration_streams_through_a_server_side_cursor(make_db, mode, dsn):
    """iter(db) fetches 1,000 rows at a time from one snapshot, and holds its
    connection only while it runs (or until the iterator is dropped)."""
    db = make_db(mode, 2, IndexType.FLAT)
    n = 2500
    ids = db.add_vectors(np.arange(2 * n, dtype=np.float32).reshape(n, 2),
                         metadata=[{"n": i} for i in range(n)])

    def in_transaction():
        """The last query of every session in this database inside a transaction."""
        with db.connection() as c:
            return [r[0] for r in c.execute(
                "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'idle in transaction'")]
    it = iter(db)
    first = next(it)
    assert (first.id, first.data, first.metadata) == (ids[0], [0.0, 1.0], {"n": 0})
    assert in_transaction() == ['FETCH FORWARD 1000 FROM "gigavector_iter"']
    late = db.add_vector([-1, -1])  # committed after the cursor opened: not seen
    rest = list(it)
    assert [v.id for v in rest] == ids[1:] and rest[-1].data == [2.0 * n - 2, 2.0 * n - 1]
    assert [v.metadata["n"] for v in rest] == list(range(1, n))
    assert in_transaction() == []
    it = iter(db)
    next(it)
    del it  # dropped half-way: the transaction ends, the connection goes back
    assert in_transaction() == []
    assert [v.id for v in db][-1] == late
    db.close()
    with pytest.raises(GigaVectorError, match="closed"):
        iter(db)


@pytest.mark.parametrize("mode", ["dsn"])
def test_open_never_drops_an_index_silently(make_db, mode):
    db = make_db(mode, 4, IndexType.HNSW)
    db.add_vectors(np.random.default_rng(4).random((50, 4), dtype=np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error", GigaVectorWarning)  # the same index: kept, no warning
        Database.open(db.collection, 4, IndexType.HNSW, dsn=db.conninfo).close()
    with pytest.warns(GigaVectorWarning, match=r"dropping index gv_\w+_hnsw_euclidean \(gv_hnsw "
                      r"for EUCLIDEAN\) .* IndexType.IVFPQ \(gv_ivfpq for EUCLIDEAN\)"):
        other = Database.open(db.collection, 4, IndexType.IVFPQ, dsn=db.conninfo)
    assert other.index_distance == DistanceType.EUCLIDEAN and uses_index(other, DistanceType.EUCLIDEAN)
    other.close()
    with pytest.warns(GigaVectorWarning, match=r"gv_ivfpq for EUCLIDEAN\) .* IndexType.FLAT "
                      r"\(no vector index\)"):
        flat = Database.open(db.collection, 4, IndexType.FLAT, dsn=db.conninfo)
    assert flat.index_distance is None and not uses_index(flat, DistanceType.EUCLIDEAN)
    flat.close()


def test_database_is_made_by_open_only(dsn):
    with pytest.raises(TypeError):
        Database("x", 3)
    with pytest.raises(TypeError, match="Database.open"):
        Database(None, conninfo="", dsn="", path=None, dimension=3, index=IndexType.FLAT,
                 collection=None, vector_index=None)
    db = Database.open(None, 3, dsn=dsn)
    db.close()
    with pytest.raises(GigaVectorError, match="the database is closed") as info:
        db.search([1, 2, 3], k=1)
    assert isinstance(info.value, RuntimeError) and info.value.sqlstate is None
    with pytest.raises(GigaVectorError) as info:
        Database.open("x", 4, dsn="host=/nonexistent port=1")
    assert info.value.sqlstate is None and "connection" in str(info.value)
