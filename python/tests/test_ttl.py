"""TTLManager and TTLConfig (gigavector/ttl.py) over gigavector.enable_ttl,
set_ttl, ttl_cleanup and ttl_stats: the seed README's TTL example with the
database passed in, expired vectors never returned (search still gives k
hits in exact order), the default TTL of Database.open(ttl=...), the
embedded server's worker, a restart keeping TTLs, and every bad input."""

import math
import time

import psycopg
import pytest

from gigavector import Database, GigaVectorError, TTLConfig, TTLManager, TTLStats


def l2(a, b):
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))


def wait_until(check, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def test_seed_example(make_db, mode):
    db = make_db(mode, 3)
    ids = db.add_vectors([[float(i), 0.0, 1.0] for i in range(5)])

    # the seed's example, with the database passed in
    config = TTLConfig(
        default_ttl_seconds=3600,  # 1 hour default
        cleanup_interval_seconds=60
    )
    ttl = TTLManager(config, db)

    # Set TTL for vectors
    ttl.set_ttl(vector_index=ids[0], ttl_seconds=1800)  # 30 minutes

    # Get stats
    stats = ttl.get_stats()
    print(f"Vectors with TTL: {stats.total_vectors_with_ttl}")
    print(f"Expired: {stats.total_expired}")

    ttl.close()

    assert isinstance(stats, TTLStats)
    # the vectors added before TTL have none; the one given a TTL has
    assert (stats.total_vectors_with_ttl, stats.total_expired, stats.total_deleted) == (1, 0, 0)
    # vectors added now get the default hour
    new = db.add_vector([9.0, 9.0, 9.0])
    check = TTLManager(config, db)
    assert 3590 < check.get_ttl(new) <= 3600
    assert 1790 < check.get_ttl(ids[0]) <= 1800
    assert check.get_ttl(ids[1]) is None
    assert check.get_stats().total_vectors_with_ttl == 2
    with pytest.raises(GigaVectorError, match="closed"):
        ttl.get_stats()


def test_expired_vectors_are_never_returned(make_db, mode):
    db = make_db(mode, 2)
    vectors = [[float(i), 0.0] for i in range(20)]
    ids = db.add_vectors(vectors)
    ttl = TTLManager(TTLConfig(), db)
    for i in ids[:5]:  # the five nearest to the query below
        ttl.set_ttl(i, 0.2)
    time.sleep(0.5)
    assert db.count() == 15 and len(db) == 15
    assert db.get(ids[0]) is None and db.get(ids[5]) is not None
    assert [v.id for v in db] == ids[5:]
    hits = db.search([0.0, 0.0], 4)
    expect = sorted(ids[5:], key=lambda i: l2(vectors[ids.index(i)], [0.0, 0.0]))[:4]
    assert [h.id for h in hits] == expect
    assert [h.distance for h in hits] == [pytest.approx(l2(vectors[ids.index(i)], [0, 0])) for i in expect]
    assert [[h.id for h in hs] for hs in db.search_batch([[0.0, 0.0], [1.0, 0.0]], 2)] == [ids[5:7], ids[5:7]]
    assert db.update(ids[0], metadata={"a": 1}) is False
    assert db.delete(ids[1]) is False
    with pytest.raises(GigaVectorError) as e:
        ttl.get_ttl(ids[0])
    assert e.value.sqlstate == "P0002"
    with pytest.raises(GigaVectorError) as e:
        ttl.set_ttl(ids[0], 100)
    assert e.value.sqlstate == "P0002"

    before = ttl.get_stats()
    assert before.total_expired + before.total_deleted == 5  # (the worker may have begun)
    deleted = ttl.cleanup_now()
    after = ttl.get_stats()
    assert deleted == before.total_expired
    assert (after.total_expired, after.total_deleted) == (0, 5)
    assert after.last_cleanup is not None and after.last_error is None
    assert db.count() == 15


def test_open_with_a_default_ttl(make_db, mode):
    db = make_db(mode, 2, ttl=TTLConfig(default_ttl_seconds=3))
    assert db.ttl_column == "expires_at"
    ids = db.add_vectors([[1.0, 2.0], [3.0, 4.0]])
    one = db.add_vector([5.0, 6.0])
    ttl = TTLManager(TTLConfig(default_ttl_seconds=3), db)
    assert 2 < ttl.get_ttl(one) <= 3
    assert ttl.get_stats().total_vectors_with_ttl == 3
    ttl.remove_ttl(ids[0])
    assert ttl.get_ttl(ids[0]) is None
    time.sleep(3.5)
    assert [h.id for h in db.search([0.0, 0.0], 10)] == [ids[0]]
    # a replaced vector starts a new life with the default TTL
    db.upsert(one, [7.0, 7.0])
    assert db.get(one) is not None
    assert 2 < ttl.get_ttl(one) <= 3


def test_reopening_keeps_ttl(make_db, mode, dsn):
    db = make_db(mode, 2)
    ids = db.add_vectors([[1.0, 1.0], [2.0, 2.0]])
    TTLManager(TTLConfig(), db).set_ttl(ids[0], 0.2)
    time.sleep(0.4)
    # another Database on the same collection knows its TTL
    if mode == "dsn":
        again = Database.open(db.collection, 2, dsn=dsn)
    else:
        again = Database.open(db.path, 2, embedded=True, collection=db.collection)
    with again:
        assert again.ttl_column == "expires_at"
        assert again.count() == 1 and again.get(ids[0]) is None
        assert [h.id for h in again.search([1.0, 1.0], 2)] == [ids[1]]


def test_embedded_restart_keeps_ttls_and_the_worker_deletes(tmp_path, embedded_env):
    path = str(tmp_path / "ttl.db")
    with Database.open(path, 2, ttl=TTLConfig(default_ttl_seconds=3600, cleanup_interval_seconds=1)) as db:
        ids = db.add_vectors([[float(i), 1.0] for i in range(10)])
        TTLManager(TTLConfig(cleanup_interval_seconds=1), db).set_ttl(ids[0], 7200)
    # the server stopped with the last Database; a new one starts
    with Database.open(path, 2) as db:
        ttl = TTLManager(TTLConfig(cleanup_interval_seconds=1), db)
        assert 7190 < ttl.get_ttl(ids[0]) <= 7200
        assert 3500 < ttl.get_ttl(ids[1]) <= 3600
        for i in ids[5:]:
            ttl.set_ttl(i, 0.1)
        # the embedded server preloads gigavector: its worker deletes them
        assert wait_until(lambda: ttl.get_stats().total_deleted == 5)
        with db.connection() as c:
            assert c.execute("SELECT count(*) FROM pg_stat_activity "
                             "WHERE backend_type = 'gigavector ttl launcher'").fetchone()[0] == 1
            assert c.execute("SELECT count(*) FROM {}".format(db.table.as_string(c))).fetchone()[0] == 5


@pytest.mark.parametrize("kwargs, message", [
    ({"default_ttl_seconds": -1}, "default_ttl_seconds must be greater than zero, not -1"),
    ({"default_ttl_seconds": 0}, "default_ttl_seconds must be greater than zero, not 0"),
    ({"default_ttl_seconds": float("nan")}, "default_ttl_seconds must be greater than zero, not nan"),
    ({"default_ttl_seconds": "1h"}, "default_ttl_seconds must be a number of seconds, not str"),
    ({"default_ttl_seconds": True}, "default_ttl_seconds must be a number of seconds, not bool"),
    ({"cleanup_interval_seconds": 0}, "cleanup_interval_seconds must be greater than zero, not 0"),
    ({"cleanup_interval_seconds": None}, "cleanup_interval_seconds must be a number of seconds, not None"),
    ({"cleanup_interval_seconds": 100000}, "cleanup_interval_seconds must be from 1 to 86400, not 100000"),
])
def test_bad_config(kwargs, message):
    with pytest.raises(ValueError) as e:
        TTLConfig(**kwargs)
    assert str(e.value) == message


def test_bad_calls(make_db):
    db = make_db("dsn", 2)
    (vid,) = db.add_vectors([[1.0, 1.0]])
    with pytest.raises(ValueError, match="TTLManager needs the Database"):
        TTLManager(TTLConfig())
    with pytest.raises(ValueError, match="config must be a TTLConfig, not int"):
        TTLManager(3600, db)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ttl must be a TTLConfig, not int"):
        Database.open(None, 2, ttl=3600)  # type: ignore[arg-type]
    ttl = TTLManager(TTLConfig(), db)
    with pytest.raises(ValueError, match="ttl_seconds must be greater than zero, not -5"):
        ttl.set_ttl(vid, -5)
    with pytest.raises(ValueError, match="ttl_seconds must be a number of seconds, not str"):
        ttl.set_ttl(vid, "soon")
    with pytest.raises(ValueError, match="vector_index must be an integer, not str"):
        ttl.set_ttl("a", 5)
    with pytest.raises(ValueError, match="vector_index must be an integer, not float"):
        ttl.get_ttl(1.5)
    with pytest.raises(GigaVectorError) as e:
        ttl.set_ttl(vid + 1000, 5)
    assert (str(e.value), e.value.sqlstate) == (f"no vector with id {vid + 1000}", "P0002")


def test_server_refusals_keep_their_sqlstate(make_db, dsn):
    db = make_db("dsn", 2)
    # a role that does not own the collection cannot give it TTL
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("DROP ROLE IF EXISTS gv_ttl_stranger")
        c.execute("CREATE ROLE gv_ttl_stranger")
        c.execute("GRANT SELECT ON {} TO gv_ttl_stranger".format(db.table.as_string(c)))
    try:
        stranger = Database.open(db.collection, 2, dsn=dsn, settings={"role": "gv_ttl_stranger"})
        with pytest.raises(GigaVectorError) as e:
            TTLManager(TTLConfig(), stranger)
        assert e.value.sqlstate == "42501"
        assert str(e.value) == f"must be owner of table public.{db.collection}"
        stranger.close()
    finally:
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("REVOKE ALL ON {} FROM gv_ttl_stranger".format(db.table.as_string(c)))
            c.execute("DROP ROLE gv_ttl_stranger")


def test_collection_names_that_need_quoting(dsn):
    # a dotted name (the seed's "vectors.db"), a quote and a percent sign
    for name in ('ttl.vectors.db', 'ttl "q" 100%'):
        db = Database.open(name, 2, dsn=dsn, ttl=TTLConfig(default_ttl_seconds=60))
        try:
            vid = db.add_vector([1.0, 1.0])
            ttl = TTLManager(TTLConfig(), db)
            assert 50 < ttl.get_ttl(vid) <= 60
            ttl.set_ttl(vid, 0.1)
            time.sleep(0.3)
            assert db.count() == 0
            assert ttl.cleanup_now() == 1  # (the test cluster runs no worker)
            stats = ttl.get_stats()
            assert (stats.total_vectors_with_ttl, stats.total_deleted) == (0, 1)
        finally:
            with db.connection() as c:
                c.execute("DROP TABLE {}".format(db.table.as_string(c)))
            db.close()
