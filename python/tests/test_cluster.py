"""ShardManager, ReplicationManager, Cluster and the failover behaviour of
Database reads and writes, against the test server: its shards are other
databases of the same server (postgres_fdw and dblink connect back to it)."""

import uuid

import numpy as np
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from gigavector import (Cluster, Database, GigaVectorError, ReplicationManager, ShardManager)

DIM = 8


@pytest.fixture()
def shard_dsns(dsn):
    """Three empty databases on the test server, dropped afterwards."""
    names = [f"gv_shard_{uuid.uuid4().hex[:8]}" for _ in range(3)]
    with psycopg.connect(dsn, autocommit=True) as c:
        for n in names:
            c.execute(f'CREATE DATABASE "{n}"')
    yield [make_conninfo(dsn, dbname=n) for n in names]
    with psycopg.connect(dsn, autocommit=True) as c:
        for n in names:
            c.execute(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)')


@pytest.fixture()
def sharded(dsn, shard_dsns):
    """An empty collection distributed over the first two shard databases."""
    db = Database.open(f"sharded_{uuid.uuid4().hex[:8]}", DIM, dsn=dsn)
    shards = ShardManager(db)
    servers = [f"s_{uuid.uuid4().hex[:8]}" for _ in shard_dsns]
    for name, d in zip(servers, shard_dsns):
        shards.add_shard(name, d)
    shards.distribute(shard_key="id", servers=servers[:2])
    yield db, shards, servers
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f"DROP TABLE IF EXISTS {db.table.as_string(c)} CASCADE")
        for name in servers:
            c.execute(f'DROP SERVER IF EXISTS "{name}" CASCADE')
    db.close()


def exact(vectors, query, k):
    d = np.linalg.norm(vectors - query, axis=1)
    return [int(i) + 1 for i in np.argsort(d, kind="stable")[:k]], np.sort(d)[:k]


def test_sharded_collection_search_equals_exact(sharded):
    db, shards, _ = sharded
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((600, DIM)).astype(np.float32)
    ids = db.add_vectors(vectors, [{"label": int(i % 5)} for i in range(600)])
    assert ids == list(range(1, 601))
    assert [s.status for s in shards.shards()] == ["active", "active"]
    for q in vectors[:20] + 0.01:
        want_ids, want_d = exact(vectors, q, 10)
        got = shards.search(q, k=10)
        assert [i for i, _ in got] == want_ids
        assert np.allclose([d for _, d in got], want_d, rtol=1e-5)
        # the Database's own search runs through the partitioned table
        assert [h.id for h in db.search(q, 10)] == want_ids
    assert len(db) == 600
    near = shards.search(vectors[5], k=10, filter_columns={"id": [2, 6, 9]})
    assert [i for i, _ in near][0] == 6 and sorted(i for i, _ in near) == [2, 6, 9]


def test_extend_moves_rows_and_loses_none(sharded):
    db, shards, servers = sharded
    rng = np.random.default_rng(8)
    vectors = rng.standard_normal((400, DIM)).astype(np.float32)
    db.add_vectors(vectors)
    new = shards.extend(servers[2])
    active = [s for s in shards.shards() if s.status == "active"]
    assert len(active) == 3 and any(s.shard.endswith(new.split(".")[-1]) for s in active)
    assert [s.status for s in shards.shards()].count("retired") == 1
    assert len(db) == 400
    q = vectors[3]
    assert [i for i, _ in shards.search(q, k=5)] == exact(vectors, q, 5)[0]
    assert shards.drop_retired() == 1
    assert all(s.status == "active" for s in shards.shards())


def test_shard_errors(sharded, dsn):
    db, shards, servers = sharded
    with pytest.raises(GigaVectorError, match=f'shard server "{servers[0]}" already exists'):
        shards.add_shard(servers[0], "host=localhost")


def test_distribute_moves_existing_rows(dsn, shard_dsns):
    """A collection with rows: distribute() moves them to the shards, none lost,
    and the searches answer as before; the ids go on where they were."""
    db = Database.open(f"full_{uuid.uuid4().hex[:8]}", DIM, dsn=dsn)
    shards = ShardManager(db)
    servers = [f"s_{uuid.uuid4().hex[:8]}" for _ in shard_dsns[:2]]
    try:
        for name, d in zip(servers, shard_dsns):
            shards.add_shard(name, d)
        rng = np.random.default_rng(9)
        vectors = rng.standard_normal((300, DIM)).astype(np.float32)
        db.add_vectors(vectors)
        before = [[h.id for h in db.search(q, 10)] for q in vectors[:10] + 0.01]
        shards.distribute(servers=servers)
        assert len(db) == 300
        assert [s.status for s in shards.shards()] == ["active", "active"]
        for q, want in zip(vectors[:10] + 0.01, before):
            assert [i for i, _ in shards.search(q, k=10)] == want == exact(vectors, q, 10)[0]
        assert db.add_vector([0.5] * DIM) == 301
    finally:
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(f"DROP TABLE IF EXISTS {db.table.as_string(c)} CASCADE")
            for name in servers:
                c.execute(f'DROP SERVER IF EXISTS "{name}" CASCADE')
        db.close()


def test_replication_manager_without_standbys(dsn):
    with Database.open(None, DIM, dsn=dsn, read_dsn=dsn) as db:
        repl = ReplicationManager(db)
        assert repl.replicas() == []
        assert repl.lag() == {}
        db.add_vector([0.5] * DIM)
        assert repl.wait_for_replica(timeout=5)  # read_dsn is the primary itself
        assert ReplicationManager(db, replica_dsn=dsn).wait_for_replica(timeout=5)


def test_cluster_from_views(dsn):
    members = Cluster(dsn).members()
    assert [m.role for m in members] == ["primary"]
    assert Cluster(dsn).primary() == members[0]
    assert Cluster(dsn).status()["source"] == "views"


def test_cluster_without_patroni_says_so(dsn):
    with pytest.raises(GigaVectorError, match="cannot read Patroni's REST API at http://127.0.0.1:9"):
        Cluster(dsn, patroni_url="http://127.0.0.1:9", timeout=1).members()


def _terminate_pool(db, dsn):
    """End every server connection of db's pools, as a failover would."""
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  "WHERE application_name = 'gv_failover_test' AND pid <> pg_backend_pid()")


def test_reads_retry_and_writes_report_unknown_outcome(dsn):
    tagged = make_conninfo(dsn, application_name="gv_failover_test")
    with Database.open(None, DIM, dsn=tagged, read_dsn=tagged, pool_size=2) as db:
        db.add_vector([1.0] * DIM)
        assert len(db.search([1.0] * DIM, 1)) == 1
        _terminate_pool(db, dsn)
        assert len(db.search([1.0] * DIM, 1)) == 1  # retried on a new connection
        _terminate_pool(db, dsn)
        with pytest.raises(GigaVectorError, match="may or may not have committed"):
            db.add_vector([2.0] * DIM)
        db.add_vector([3.0] * DIM)  # the pool reconnected
        assert db.count() in (2, 3)


def test_no_retries_means_the_error(dsn):
    tagged = make_conninfo(dsn, application_name="gv_failover_test")
    with Database.open(None, DIM, dsn=tagged, read_retries=0, pool_size=1) as db:
        db.add_vector([1.0] * DIM)
        _terminate_pool(db, dsn)
        with pytest.raises(GigaVectorError):
            db.search([1.0] * DIM, 1)
    with pytest.raises(ValueError, match="read_retries must be an integer >= 0"):
        Database.open(None, DIM, dsn=dsn, read_retries=-1)


def test_multi_host_dsn(dsn):
    """libpq's multi-host form with target_session_attrs: the first host is
    down, the test server is found as the read-write one."""
    params = conninfo_to_dict(dsn)
    multi = make_conninfo(dsn, host=f"127.0.0.1,{params['host']}", port=f"1,{params['port']}",
                          target_session_attrs="read-write")
    with Database.open(None, DIM, dsn=multi) as db:
        db.add_vector([1.0] * DIM)
        assert len(db) == 1
