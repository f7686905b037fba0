"""BM25 text search and hybrid search through the REST server: POST
/search/text and /search/hybrid over a Database opened with text=True, with
exact BM25 scores, the answers of Database.hybrid_search, texts stored by
POST /vectors, the error answers for bad input, and each request run as its
API key's role (PostgreSQL's grants decide: 403 with the SQLSTATE)."""

import math
import uuid

import httpx
import pytest

from gigavector import (AuthConfig, AuthManager, Database, FusionType, HybridConfig, IndexType,
                        Server, ServerConfig)

DOCS = [([1, 0, 0, 0], {"c": "x"}, "red fish"),
        ([0, 1, 0, 0], {"c": "y"}, "blue fish fish"),
        ([0, 0, 1, 0], {"c": "x"}, "red cat"),
        ([0, 0, 0, 1], {"c": "y"}, "green dog")]


def bm25(query_terms, docs, k1=1.2, b=0.75):
    """Lucene's BM25 (the (k1 + 1) factor in the numerator) of each doc, by hand."""
    tokens = [d.split() for d in docs]
    n_docs = len(tokens)
    avgdl = sum(len(t) for t in tokens) / n_docs
    out = []
    for t in tokens:
        score = 0.0
        for term in set(query_terms):
            tf = t.count(term)
            if tf == 0:
                continue
            df = sum(1 for u in tokens if term in u)
            idf = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(t) / avgdl))
        out.append(score)
    return out


@pytest.fixture()
def texts(dsn):
    name = "srvtext_" + uuid.uuid4().hex[:8]
    db = Database.open(name, 4, IndexType.HNSW, dsn=dsn, text=True, text_config="simple",
                       pool_size=4)
    ids = [db.add_vector(v, m, text=t) for v, m, t in DOCS]
    yield db, ids
    with db.connection() as c:
        c.execute(f'DROP TABLE IF EXISTS "{name}"')
    db.close()


@pytest.fixture()
def served(texts):
    db, ids = texts
    server = Server(db, ServerConfig(port=0))
    server.start()
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield db, ids, client
    server.stop()


def error(r):
    return r.status_code, r.json()["error"]["message"]


def test_text_search_exact_scores(served):
    db, ids, client = served
    expected = bm25(["fish"], [d[2] for d in DOCS])
    r = client.post("/search/text", json={"text": "fish", "k": 10})
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert [h["id"] for h in hits] == [ids[1], ids[0]]  # tf 2 beats tf 1; no other row matches
    assert [h["score"] for h in hits] == pytest.approx([expected[1], expected[0]], rel=1e-12)
    assert [h["metadata"] for h in hits] == [{"c": "y"}, {"c": "x"}]
    # k, the filter, the modes
    assert [h["id"] for h in client.post("/search/text", json={"text": "fish", "k": 1})
            .json()["hits"]] == [ids[1]]
    assert [h["id"] for h in client.post("/search/text", json={
        "text": "fish red", "filter": {"c": "x"}}).json()["hits"]] == [ids[0], ids[2]]
    assert [h["id"] for h in client.post("/search/text", json={
        "text": "red fish", "mode": "and"}).json()["hits"]] == [ids[0]]
    assert [h["id"] for h in client.post("/search/text", json={
        "text": "fish blue", "mode": "phrase"}).json()["hits"]] == []
    assert [h["id"] for h in client.post("/search/text", json={
        "text": "blue fish", "mode": "phrase"}).json()["hits"]] == [ids[1]]
    assert client.post("/search/text", json={"text": ""}).json() == {"hits": []}
    # the same rows and scores as the Python API
    py = db.text_search("fish red", 10)
    rest = client.post("/search/text", json={"text": "fish red"}).json()["hits"]
    assert [(h.id, h.score) for h in py] == [(h["id"], h["score"]) for h in rest]


def test_hybrid_search_matches_the_python_api(served):
    db, ids, client = served
    body = {"vector": [0.1, 1, 0, 0], "text": "fish", "k": 3}
    r = client.post("/search/hybrid", json=body)
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    want = db.hybrid_search([0.1, 1, 0, 0], "fish", 3)
    assert [(h["id"], h["score"], h["vector_rank"], h["text_rank"], h["vector_distance"],
             h["text_score"]) for h in hits] == \
        [(w.vector_index, w.combined_score, w.vector_rank, w.text_rank, w.vector_distance,
          w.text_score) for w in want]
    assert len(hits) == 3
    assert hits[0]["id"] == ids[1]  # the nearest vector and the best text match
    assert (hits[0]["vector_rank"], hits[0]["text_rank"], hits[0]["metadata"]) == (1, 1, {"c": "y"})
    # rrf with its own weights, a filter, one query only
    cfg = HybridConfig(vector_weight=0.3, text_weight=0.7, fusion=FusionType.RRF, rrf_k=10)
    rrf = client.post("/search/hybrid", json={**body, "fusion": "rrf", "vector_weight": 0.3,
                                              "text_weight": 0.7, "rrf_k": 10}).json()["hits"]
    assert [(h["id"], h["score"]) for h in rrf] == \
        [(w.vector_index, w.combined_score) for w in db.hybrid_search([0.1, 1, 0, 0], "fish", 3, cfg)]
    only_y = client.post("/search/hybrid", json={**body, "filter": {"c": "y"}}).json()["hits"]
    assert {h["id"] for h in only_y} == {ids[1], ids[3]}
    text_only = client.post("/search/hybrid", json={"text": "dog"}).json()["hits"]
    assert [(h["id"], h["vector_rank"], h["text_rank"]) for h in text_only] == [(ids[3], None, 1)]


def test_vectors_with_texts(served):
    db, ids, client = served
    one = client.post("/vectors", json={"vector": [1, 1, 0, 0], "text": "purple whale"})
    assert one.status_code == 200, one.text
    many = client.post("/vectors", json={"vectors": [[0, 1, 1, 0], [0, 0, 1, 1]],
                                         "metadata": [{"n": 1}, {"n": 2}],
                                         "texts": ["whale song", None]})
    assert many.status_code == 200, many.text
    new = many.json()["ids"]
    hits = client.post("/search/text", json={"text": "whale"}).json()["hits"]
    assert sorted(h["id"] for h in hits) == sorted([one.json()["id"], new[0]])
    assert db.get(new[1]).metadata == {"n": 2}
    assert error(client.post("/vectors", json={"vectors": [[0, 1, 1, 0]], "texts": ["a", "b"]})) \
        == (400, "1 vectors but 2 texts")
    assert error(client.post("/vectors", json={"vector": [0, 1, 1, 0], "texts": ["a"]}))[0] == 400


def test_bad_text_and_hybrid_requests(served, collection_without_text):
    db, ids, client = served
    assert error(client.post("/search/text", json={"k": 3})) == (422, "body.text: field required")
    assert error(client.post("/search/text", json={"text": 5}))[0] == 422
    assert error(client.post("/search/text", json={"text": "fish", "mode": "fuzzy"}))[0] == 422
    assert error(client.post("/search/text", json={"text": "fish", "k": -1})) == \
        (400, "k must be at least 0, not -1")
    assert error(client.post("/search/text", json={"text": "fish", "k": 10001})) == \
        (400, "k must be at most 10000, not 10001")
    assert error(client.post("/search/text", json={"text": "a\u0000b"})) == \
        (400, "query_text must not contain NUL characters")
    assert error(client.post("/search/hybrid", json={"k": 3})) == (400, 'give "vector", "text" or both')
    assert error(client.post("/search/hybrid", json={"vector": [1, 0, 0], "text": "fish"})) == \
        (400, "query has dimension 3, the database has 4")
    assert error(client.post("/search/hybrid", json={"text": "fish", "vector_weight": 0,
                                                     "text_weight": 0})) == \
        (400, "vector_weight and text_weight must not both be 0")
    assert error(client.post("/search/hybrid", json={"text": "fish", "normalization": "max"}))[0] \
        == 422
    assert error(client.post("/search/hybrid", json={"text": "fish", "candidates": 0}))[0] == 400
    assert error(client.post("/search/hybrid", json={"text": "fish", "vector_weight": "1"}))[0] \
        == 422
    # a collection without text
    with Server(collection_without_text, ServerConfig(port=0)) as plain:
        plain.start()
        for path, body in (("/search/text", {"text": "fish"}),
                           ("/search/hybrid", {"text": "fish"}),
                           ("/vectors", {"vector": [1, 0, 0, 0], "text": "fish"})):
            status, message = error(httpx.post(plain.url + path, json=body, timeout=60))
            assert status == 400
            assert message.startswith("this collection holds no text")


@pytest.fixture()
def collection_without_text(dsn):
    name = "srvplain_" + uuid.uuid4().hex[:8]
    db = Database.open(name, 4, IndexType.HNSW, dsn=dsn)
    yield db
    with db.connection() as c:
        c.execute(f'DROP TABLE IF EXISTS "{name}"')
    db.close()


def test_text_routes_run_as_the_keys_role(texts):
    db, ids = texts
    suffix = uuid.uuid4().hex[:6]
    reader, stranger = f"gv_txt_reader_{suffix}", f"gv_txt_stranger_{suffix}"
    table = '"' + db.collection + '"'
    with db.connection() as c:
        c.execute(f"CREATE ROLE {reader} NOLOGIN")
        c.execute(f"CREATE ROLE {stranger} NOLOGIN")
        c.execute(f"GRANT SELECT ON {table} TO {reader}")
    auth = AuthManager(AuthConfig(), db)
    good, _ = auth.generate_api_key("reader", role=reader)
    bad, _ = auth.generate_api_key("stranger", role=stranger)
    try:
        with Server(db, ServerConfig(port=0, auth=auth)) as srv:
            srv.start()
            with httpx.Client(base_url=srv.url, timeout=60) as client:
                for path, body in (("/search/text", {"text": "fish"}),
                                   ("/search/hybrid", {"vector": [1, 0, 0, 0], "text": "fish"})):
                    r = client.post(path, json=body)
                    assert r.status_code == 401, path
                    r = client.post(path, json=body, headers={"X-API-Key": good})
                    assert r.status_code == 200, (path, r.text)
                    assert ids[0] in [h["id"] for h in r.json()["hits"]]
                    r = client.post(path, json=body, headers={"Authorization": f"Bearer {bad}"})
                    assert r.status_code == 403, (path, r.text)
                    assert r.json()["error"]["sqlstate"] == "42501"
                    assert "permission denied" in r.json()["error"]["message"]
                # the reader may search but not write
                r = client.post("/vectors", json={"vector": [1, 0, 0, 0], "text": "x"},
                                headers={"X-API-Key": good})
                assert r.status_code == 403 and r.json()["error"]["sqlstate"] == "42501"
    finally:
        auth.close()
        with db.connection() as c:
            c.execute("DELETE FROM gigavector.api_keys WHERE role IN (%s, %s)", (reader, stranger))
            c.execute(f"REVOKE ALL ON {table} FROM {reader}")
            c.execute(f"DROP ROLE {reader}")
            c.execute(f"DROP ROLE {stranger}")


def test_database_text_search_bad_input(texts, collection_without_text):
    db, ids = texts
    cases = [(lambda: collection_without_text.text_search("fish"),
              "this database holds no text: open it with text=True"),
             (lambda: db.text_search(b"fish"), "query_text must be a string, not bytes"),
             (lambda: db.text_search("fish", mode="fuzzy"),
              "mode must be 'or', 'and' or 'phrase', not 'fuzzy'"),
             (lambda: db.text_search("fish", k=-1), "k must be an integer from 0 to 2**63-1, not -1"),
             (lambda: db.add_vectors([[1, 0, 0, 0]], texts="ab"),
              "texts must be a list of strings (one per vector), not a string"),
             (lambda: db.add_vectors([[1, 0, 0, 0]], texts=[5]),
              "text 0 must be a string without NUL characters"),
             (lambda: collection_without_text.add_vectors([[1, 0, 0, 0]], texts=["a"]),
              "this database holds no text: open it with text=True")]
    for call, message in cases:
        with pytest.raises(ValueError) as e:
            call()
        assert str(e.value) == message
    assert db.text_search("fish", k=0) == []
    assert [h.id for h in db.text_search("fish", filter_metadata={"c": {"$ne": "y"}})] == [ids[0]]
    assert db.count() == 4  # nothing was written
