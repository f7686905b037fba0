"""Every code example of the seed GigaVector README's Quick Start, Database API,
Persistent Storage with WAL, IVFPQ, Metadata Filtering and Batch Operations
sections, as written there (only the imports moved to the top), once with an
embedded server and once against a DSN.  Each is followed by checks of what
it returned."""

import math
import random

import psycopg
import pytest

from gigavector import Database, DistanceType, IndexType, SearchHit, Vector


@pytest.fixture()
def workdir(tmp_path, monkeypatch, mode, dsn):
    """Relative paths such as "vectors.db" land in a temp folder (embedded) or name
    collections that are dropped afterwards (DSN)."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    if mode == "dsn":
        with psycopg.connect(dsn, autocommit=True) as c:
            for name in ("vectors.db", "backup.db"):
                c.execute(f'DROP TABLE IF EXISTS "{name}"')


def l2(a, b):
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))


def test_quick_start(workdir, capsys):
    # Create an in-memory database
    with Database.open(None, dimension=128, index=IndexType.HNSW) as db:
        # Add vectors with metadata
        db.add_vector([0.1] * 128, metadata={"id": "vec1", "category": "A"})
        db.add_vector([0.2] * 128, metadata={"id": "vec2", "category": "B"})

        # Search for similar vectors
        hits = db.search([0.1] * 128, k=5, distance=DistanceType.EUCLIDEAN)
        for hit in hits:
            print(f"Distance: {hit.distance}, Metadata: {hit.vector.metadata}")

    assert db.closed
    assert [h.vector.metadata for h in hits] == [{"id": "vec1", "category": "A"},
                                                 {"id": "vec2", "category": "B"}]
    assert hits[0].distance == 0.0
    assert hits[1].distance == pytest.approx(l2([0.1] * 128, [0.2] * 128), rel=1e-5)
    assert all(isinstance(h, SearchHit) and isinstance(h.vector, Vector) for h in hits)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Distance: 0.0, Metadata: {'id': 'vec1', 'category': 'A'}"


def test_api_open(workdir):
    # In-memory database
    db = Database.open(None, dimension=128, index=IndexType.HNSW)
    db.close()

    # Persistent database
    db = Database.open("vectors.db", dimension=128, index=IndexType.KDTREE)
    assert db.dimension == 128 and db.index == IndexType.KDTREE and db.count() == 0
    db.close()


@pytest.fixture()
def db3(workdir):
    with Database.open("vectors.db", dimension=3, index=IndexType.KDTREE) as db:
        yield db


def test_api_add_vector(db3):
    db = db3
    # Vector without metadata
    db.add_vector([1.0, 2.0, 3.0])

    # Vector with single metadata entry
    db.add_vector([1.0, 2.0, 3.0], metadata={"id": "123"})

    # Vector with multiple metadata entries
    db.add_vector([1.0, 2.0, 3.0], metadata={
        "id": "123",
        "category": "electronics",
        "price": "99.99"
    })

    assert sorted((v.metadata.get("price", ""), len(v.metadata)) for v in db) == \
        [("", 0), ("", 1), ("99.99", 3)]
    with pytest.raises(ValueError):
        db.add_vector([1.0, 2.0])


def test_api_add_vectors(db3):
    db = db3
    vectors = [
        [1.0, 2.0, 3.0],
        [4.0, 5.0, 6.0],
        [7.0, 8.0, 9.0]
    ]
    db.add_vectors(vectors)

    assert [v.data for v in db] == vectors
    with pytest.raises(ValueError):
        db.add_vectors([[1.0, 2.0, 3.0], [1.0, 2.0]])
    assert db.count() == 3


def test_api_search(db3):
    db = db3
    db.add_vectors([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    db.add_vector([1.5, 2.0, 3.0], metadata={"category": "electronics"})
    db.add_vector([9.0, 9.0, 9.0], metadata={"category": "electronics"})

    # Basic search
    hits = db.search([1.0, 2.0, 3.0], k=5, distance=DistanceType.EUCLIDEAN)

    assert [h.vector.data for h in hits] == [[1.0, 2.0, 3.0], [1.5, 2.0, 3.0], [4.0, 5.0, 6.0],
                                             [7.0, 8.0, 9.0], [9.0, 9.0, 9.0]]
    assert hits[1].distance == pytest.approx(0.5)

    # Search with metadata filter
    hits = db.search(
        [1.0, 2.0, 3.0],
        k=5,
        distance=DistanceType.EUCLIDEAN,
        filter_metadata=("category", "electronics")
    )

    assert [h.vector.data for h in hits] == [[1.5, 2.0, 3.0], [9.0, 9.0, 9.0]]
    with pytest.raises(ValueError):
        db.search([1.0, 2.0], k=5)


def test_api_search_batch(db3, capsys):
    db = db3
    db.add_vectors([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    queries = [
        [1.0, 2.0, 3.0],
        [4.0, 5.0, 6.0]
    ]
    results = db.search_batch(queries, k=5)
    for i, hits in enumerate(results):
        print(f"Query {i}: {len(hits)} results")

    assert capsys.readouterr().out == "Query 0: 3 results\nQuery 1: 3 results\n"
    assert [r[0].vector.data for r in results] == queries
    assert [r[0].distance for r in results] == [0.0, 0.0]


def test_api_save(db3, mode):
    db = db3
    db.add_vector([1.0, 2.0, 3.0], metadata={"id": "123"})
    # Save to the path used when opening
    db.save()

    # Save to a different path
    db.save("backup.db")

    with Database.open("backup.db", dimension=3, index=IndexType.KDTREE) as backup:
        assert [(v.data, v.metadata) for v in backup] == [([1.0, 2.0, 3.0], {"id": "123"})]
        # the copy is independent of the original
        backup.add_vector([0.0, 0.0, 0.0])
    assert db.count() == 1
    with pytest.raises(RuntimeError):
        with Database.open(None, dimension=3) as tmp:
            tmp.save()


def test_api_train_ivfpq(workdir):
    with Database.open(None, dimension=128, index=IndexType.IVFPQ) as db:
        # Train with at least 256 vectors (recommended)
        train_data = [[(i % 10) / 10.0 for _ in range(128)] for i in range(256)]
        db.train_ivfpq(train_data)

        with pytest.raises(ValueError):
            db.train_ivfpq([])
        with pytest.raises(ValueError):
            db.train_ivfpq([[0.0] * 127] * 256)
        db.add_vector([0.5] * 128, metadata={"id": "x"})
        assert db.search([0.5] * 128, k=1)[0].vector.metadata == {"id": "x"}


def test_api_close(workdir):
    db = Database.open(None, dimension=128)
    # ... use database ...
    db.close()

    assert db.closed
    with pytest.raises(RuntimeError):
        db.add_vector([0.0] * 128)
    db.close()  # idempotent


def test_persistent_storage_with_wal(workdir, mode):
    # Create a persistent database
    with Database.open("vectors.db", dimension=128, index=IndexType.KDTREE) as db:
        db.add_vector([0.1] * 128, metadata={"id": "1", "tag": "A"})
        db.add_vector([0.2] * 128, metadata={"id": "2", "tag": "B"})
        db.save()  # Create snapshot

    if mode == "embedded":  # the server stopped when the last user closed it
        assert not (workdir / "vectors.db" / "pgdata" / "postmaster.pid").exists()

    # Reopen - WAL automatically replays any uncommitted changes
    with Database.open("vectors.db", dimension=128, index=IndexType.KDTREE) as db:
        hits = db.search([0.1] * 128, k=5)
        # All vectors are restored, including metadata

    assert [h.vector.metadata for h in hits] == [{"id": "1", "tag": "A"}, {"id": "2", "tag": "B"}]
    assert hits[0].vector.data == Vector([0.1] * 128).data and hits[0].distance == 0.0


def test_ivfpq_index_with_training(workdir, monkeypatch):
    added = {}  # a spy: what the example stores, to compute the exact answer
    original = Database.add_vector

    def spy(self, vector, metadata=None):
        added[metadata["id"]] = list(vector)
        return original(self, vector, metadata)
    monkeypatch.setattr(Database, "add_vector", spy)

    # Create IVFPQ database
    db = Database.open(None, dimension=64, index=IndexType.IVFPQ)

    # Generate training data (at least 256 vectors recommended)
    train_data = [
        [random.random() for _ in range(64)]
        for _ in range(256)
    ]
    db.train_ivfpq(train_data)

    # Add vectors
    with db:
        for i in range(1000):
            vec = [random.random() for _ in range(64)]
            db.add_vector(vec, metadata={"id": str(i)})

        # Search
        query = [random.random() for _ in range(64)]
        hits = db.search(query, k=10, distance=DistanceType.EUCLIDEAN)

    f32 = [Vector(added[str(i)]).data for i in range(1000)]
    exact = sorted(range(1000), key=lambda i: l2(f32[i], query))[:10]
    got = [int(h.vector.metadata["id"]) for h in hits]
    assert len(hits) == 10
    assert len(set(got) & set(exact)) >= 8  # approximate index: recall@10 >= 0.8
    for h in hits:
        assert h.vector.data == f32[int(h.vector.metadata["id"])]
        assert h.distance == pytest.approx(l2(h.vector.data, query), rel=1e-5)
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)


def test_metadata_filtering(workdir):
    with Database.open(None, dimension=128, index=IndexType.HNSW) as db:
        # Add vectors with different categories
        db.add_vector([0.1] * 128, metadata={"category": "A", "price": "10"})
        db.add_vector([0.2] * 128, metadata={"category": "B", "price": "20"})
        db.add_vector([0.15] * 128, metadata={"category": "A", "price": "15"})

        # Search only in category A
        hits = db.search(
            [0.1] * 128,
            k=10,
            distance=DistanceType.EUCLIDEAN,
            filter_metadata=("category", "A")
        )
        # Returns only vectors with category="A"

    assert [h.vector.metadata for h in hits] == [{"category": "A", "price": "10"},
                                                 {"category": "A", "price": "15"}]


def test_batch_operations(workdir, capsys):
    with Database.open(None, dimension=128, index=IndexType.KDTREE) as db:
        # Batch insert vectors (without metadata)
        vectors = [[i * 0.01] * 128 for i in range(1000)]
        db.add_vectors(vectors)

        # Batch search
        queries = [[i * 0.01] * 128 for i in range(10)]
        results = db.search_batch(queries, k=5)
        for i, hits in enumerate(results):
            print(f"Query {i}: {len(hits)} results")

        assert db.count() == 1000

    assert capsys.readouterr().out == "".join(f"Query {i}: 5 results\n" for i in range(10))
    for q, hits in zip(queries, results):
        assert hits[0].vector.data == Vector(q).data and hits[0].distance == 0.0
        assert [h.distance for h in hits] == sorted(h.distance for h in hits)
