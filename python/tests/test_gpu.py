"""GPUIndex and the gpu_* functions on the server's CPU backend, against numpy."""

import numpy as np
import psycopg
import pytest

from gigavector import (Database, DistanceType, GPUConfig, GPUIndex, gpu_available, gpu_device_count,
                        gpu_get_device_info)


def exact(data, ids, query, k, distance):
    """The k nearest (ids, distances) by numpy in float64, equal distances by id."""
    q = np.asarray(query, dtype=np.float64)
    x = data.astype(np.float64)
    if distance == DistanceType.EUCLIDEAN:
        d = np.sqrt(((x - q) ** 2).sum(axis=1))
    elif distance == DistanceType.DOT_PRODUCT:
        d = -(x @ q)
    else:
        norms = np.linalg.norm(x, axis=1) * np.linalg.norm(q)
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.where(norms == 0, 1.0, 1.0 - np.clip((x @ q) / norms, -1, 1))
    order = np.lexsort((ids, d))[:k]
    return ids[order], d[order]


@pytest.fixture()
def gpu_db(make_db):
    def make(dimension):
        return make_db("dsn", dimension)
    return make


def check(index, data, ids, queries, k, distance):
    got = index.search_batch(queries, k, distance)
    for q, hits in zip(queries, got):
        want_ids, want_d = exact(data, ids, q, k, distance)
        got_d = np.array([h.distance for h in hits])
        assert len(hits) == min(k, len(ids))
        np.testing.assert_allclose(got_d, want_d, rtol=1e-5, atol=1e-5)
        # ids may differ only among distances numpy cannot tell apart from float32's
        mism = [i for i, (h, w) in enumerate(zip(hits, want_ids)) if h.id != w]
        for i in mism:
            assert abs(got_d[i] - want_d[i]) < 1e-5


def test_seed_example_runs_verbatim(dsn_env):
    vectors = np.random.default_rng(0).random((100, 128), dtype=np.float32)
    query = vectors[0]
    # --- the seed README's example, verbatim ---
    if gpu_available():
        print(f"GPU devices: {gpu_device_count()}")
        info = gpu_get_device_info(0)
        print(f"Device 0: {info.name}, {info.total_memory // 1024**2} MB")

        # Create GPU-accelerated index
        config = GPUConfig(device_id=0, use_float16=True)
        gpu_index = GPUIndex(dimension=128, config=config)
        gpu_index.add_vectors(vectors)
        results = gpu_index.search(query, k=10)
    # --- end ---
    else:
        assert gpu_device_count() == 0
        with pytest.raises(ValueError, match="GPU device 0 does not exist"):
            gpu_get_device_info(0)


@pytest.mark.parametrize("distance", list(DistanceType))
@pytest.mark.parametrize("n", [1, 7, 1500])
def test_every_distance_and_size(gpu_db, distance, n):
    rng = np.random.default_rng(n)
    db = gpu_db(8)
    data = rng.standard_normal((n, 8)).astype(np.float32)
    data[n // 2:n // 2 + min(3, n // 2)] = data[0]  # duplicates: ties by id
    index = GPUIndex(8, GPUConfig(), db=db)
    ids = np.array(index.add_vectors(data))
    assert index.device == "cpu"
    queries = rng.standard_normal((5, 8)).astype(np.float32).tolist() + [data[0].tolist()]
    for k in (1, 10, 1024):
        check(index, data, ids, queries, k, distance)


def test_large_n_and_batches(gpu_db):
    rng = np.random.default_rng(7)
    db = gpu_db(16)
    data = rng.standard_normal((20000, 16)).astype(np.float32)
    index = GPUIndex(16, db=db)
    ids = np.array(index.add_vectors(data))
    for batch in (1, 1000):
        queries = rng.standard_normal((batch, 16)).astype(np.float32)
        got = index.search_batch(queries, 5)
        assert len(got) == batch
        for q, hits in list(zip(queries, got))[:50]:
            want_ids, _ = exact(data, ids, q, 5, DistanceType.EUCLIDEAN)
            assert [h.id for h in hits] == list(want_ids)
    # k = 1024 over 20,000: every hit, in order
    q = queries[0]
    hits = index.search(q, 1024)
    want_ids, want_d = exact(data, ids, q, 1024, DistanceType.EUCLIDEAN)
    assert [h.id for h in hits] == list(want_ids)
    np.testing.assert_allclose([h.distance for h in hits], want_d, rtol=1e-6)


@pytest.mark.parametrize("distance", ["l2", "inner_product", "cosine"])
def test_threads_give_the_serial_answer_at_100k(gpu_db, conn, distance):
    """100,000 rows with ties: every thread count returns what one thread does, and numpy."""
    rng = np.random.default_rng(11)
    db = gpu_db(8)
    data = rng.standard_normal((100_000, 8)).astype(np.float32)
    data[50_000:50_400] = data[:400]  # exact duplicates: ties broken by id across thread ranges
    index = GPUIndex(8, db=db)
    ids = np.array(index.add_vectors(data))
    queries = np.concatenate([data[:3], rng.standard_normal((37, 8)).astype(np.float32)])
    texts = ["[" + ",".join(repr(float(x)) for x in q) + "]" for q in queries]
    answers = {}
    for threads in (1, 2, 3, 7):
        conn.execute(f"SET gigavector.gpu_cpu_threads = {threads}")
        answers[threads] = conn.execute(
            "SELECT query_no, id, distance FROM gigavector.gpu_search_batch(%s::regclass, 'embedding',"
            " %s::gvector[], 1024, %s)", (index._regclass, texts, distance)).fetchall()
        assert len(answers[threads]) == 1024 * len(queries)
    assert answers[2] == answers[1] and answers[3] == answers[1] and answers[7] == answers[1]
    kind = {"l2": DistanceType.EUCLIDEAN, "inner_product": DistanceType.DOT_PRODUCT,
            "cosine": DistanceType.COSINE}[distance]
    for qn in (1, 2, 40):
        got = [(i, d) for n, i, d in answers[1] if n == qn]
        want_ids, want_d = exact(data, ids, queries[qn - 1], 1024, kind)
        np.testing.assert_allclose([d for _, d in got], want_d, rtol=1e-5, atol=1e-5)
        same = sum(1 for (i, _), w in zip(got, want_ids) if i == w)
        assert same >= 1000  # ids differ only where float32 cannot separate distances
    if distance == "l2":
        # a cancel while the threads run: the statement ends, the backend stays usable
        many = ["[" + ",".join(repr(float(x)) for x in q) + "]"
                for q in rng.standard_normal((3000, 8)).astype(np.float32)]
        conn.execute("SET gigavector.gpu_cpu_threads = 2")
        conn.execute("SET statement_timeout = '50ms'")
        with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
            conn.execute("SELECT count(*) FROM gigavector.gpu_search_batch(%s::regclass, 'embedding',"
                         " %s::gvector[], 100, 'l2')", (index._regclass, many))
        conn.execute("RESET statement_timeout")
        again = conn.execute(
            "SELECT query_no, id, distance FROM gigavector.gpu_search_batch(%s::regclass, 'embedding',"
            " %s::gvector[], 1024, 'l2')", (index._regclass, texts)).fetchall()
        assert again == answers[1]


def test_thread_setting_is_checked(conn):
    conn.execute("SELECT gigavector.gpu_available()")  # loads the library, which defines the setting
    with pytest.raises(psycopg.errors.InvalidParameterValue,
                       match='65 is outside the valid range for parameter "gigavector.gpu_cpu_threads"'):
        conn.execute("SET gigavector.gpu_cpu_threads = 65")


def test_added_vectors_reach_the_index(gpu_db):
    db = gpu_db(3)
    index = GPUIndex(3, db=db)
    index.add_vectors([[0, 0, 0], [1, 1, 1]])
    assert [h.id for h in index.search([1, 1, 1], 1)] == [2]
    (new,) = db.add_vectors([[5, 5, 5]])
    assert [h.id for h in index.search([5, 5, 5], 1)] == [new]


def test_own_database_and_bad_input(dsn_env):
    with GPUIndex(4) as index:
        assert index.device == "cpu"
        index.add_vectors([[1, 2, 3, 4]])
        assert index.search([1, 2, 3, 4], 3)[0].distance == 0
        for k in (0, 1025, True):
            with pytest.raises(ValueError, match="k must be an integer"):
                index.search([1, 2, 3, 4], k)
        with pytest.raises(ValueError, match="sequence of numbers"):
            index.search(5, 1)
        assert index.search_batch([], 3) == []
    with pytest.raises(ValueError, match="device_id"):
        GPUConfig(device_id=-1)
