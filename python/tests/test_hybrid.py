"""Hybrid search: gigavector.hybrid_search against the Python fusion over both
branches' exact results (randomised), HybridSearcher on one server and across
two, Database(text=True).hybrid_search, the seed README's example, bad input."""

import math
import random
import time
import uuid

import psycopg
import pytest

from gigavector import (BM25Index, Database, FusionType, HybridConfig, HybridResult,
                        HybridSearcher, IndexType, TTLConfig, TTLManager)
from gigavector.hybrid import fuse, similarity

WORDS = ("vector search database postgres index graph neural text query rank fusion "
         "score filter table column apple pear plum kiwi lime fig").split()
OPS = {"l2": "<->", "cosine": "<=>", "ip": "<#>"}


@pytest.fixture()
def table(conn):
    """A random table of 400 rows: 8-dim vectors, texts from WORDS, a category."""
    name = "hy_" + uuid.uuid4().hex[:10]
    rnd = random.Random(12)
    conn.execute(f"CREATE TABLE {name} (id bigint PRIMARY KEY, emb gvector(8), body text, cat int)")
    with conn.cursor().copy(f"COPY {name} FROM STDIN") as cp:
        for i in range(1, 401):
            vec = "[" + ",".join(f"{rnd.gauss(0, 1):.6f}" for _ in range(8)) + "]"
            body = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 12)))
            cp.write_row((i, vec, body, i % 5))
    conn.execute(f"CREATE INDEX ON {name} USING gv_bm25 (body) WITH (text_config = 'english')")
    conn.execute(f"ANALYZE {name}")
    yield name
    conn.execute(f"DROP TABLE {name}")


def exact_branches(conn, name, q, text, depth, distance, where):
    """Both branches' exact results: an exact sort of the distances, and BM25
    through the gv_bm25 index (whose scores are exact, see test_bm25_oracle)."""
    op = OPS[distance]
    conn.execute("SET enable_indexscan = off")
    vh = conn.execute(f"SELECT id, emb {op} %s::gvector AS d FROM {name} WHERE {where} "
                      f"ORDER BY d, id LIMIT %s", (q, depth)).fetchall() if q is not None else []
    conn.execute("RESET enable_indexscan")
    th = conn.execute(f"SELECT id, -(body <&> bm25query(%s, %s)) AS s FROM {name} "
                      f"WHERE {where} AND body @@@ bm25query(%s, %s) "
                      f"ORDER BY body <&> bm25query(%s, %s) LIMIT %s",
                      (f"{name}_body_idx", text, f"{name}_body_idx", text,
                       f"{name}_body_idx", text, depth)).fetchall() if text is not None else []
    return vh, th


def test_sql_equals_python_fusion_randomised(conn, table):
    rnd = random.Random(7)
    for trial in range(60):
        fusion = rnd.choice(["rrf", "linear"])
        norm = rnd.choice(["min_max", "z_score", "l2", "none"])
        distance = rnd.choice(["l2", "cosine", "ip"])
        k = rnd.randint(1, 25)
        depth = rnd.randint(k, 3 * k + 5)
        vw, tw = rnd.choice([(0.5, 0.5), (0.7, 0.3), (1, 0), (0, 2), (rnd.random(), rnd.random())])
        rrf_k = rnd.choice([0, 1, 60, 200])
        q = "[" + ",".join(f"{rnd.gauss(0, 1):.6f}" for _ in range(8)) + "]"
        q = None if trial % 11 == 5 else q
        text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 3)))
        text = None if trial % 13 == 7 else text
        cat = rnd.choice([None, 0, 3])
        where = "true" if cat is None else f"cat = {cat}"
        got = conn.execute(
            "SELECT id, score, vector_rank, text_rank, vector_distance, text_score FROM "
            "gigavector.hybrid_search(%s, 'emb', %s, 'body', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (table, q, text, k, fusion, vw, tw, norm, rrf_k, depth,
             None if cat is None else where, distance)).fetchall()
        vh, th = exact_branches(conn, table, q, text, depth, distance, where)
        want = fuse(vh, th, k, distance=distance,
                    fusion=FusionType.RRF if fusion == "rrf" else FusionType.LINEAR,
                    vector_weight=vw, text_weight=tw, normalization=norm, rrf_k=rrf_k)
        ctx = (trial, fusion, norm, distance, k, depth, vw, tw, cat)
        assert len(got) == len(want) == min(k, len({i for i, _ in vh} | {i for i, _ in th})), ctx
        for g, w in zip(got, want):
            assert g[0] == w.vector_index, ctx
            assert g[1] == pytest.approx(w.combined_score, rel=1e-12, abs=1e-15), ctx
            assert (g[2], g[3]) == (w.vector_rank, w.text_rank), ctx
            assert g[4] == (None if w.vector_distance is None else pytest.approx(w.vector_distance)), ctx
            assert g[5] == (None if w.text_score is None else pytest.approx(w.text_score, rel=1e-12)), ctx
        if cat is not None:
            cats = dict(conn.execute(f"SELECT id, cat FROM {table}").fetchall())
            assert all(cats[g[0]] == cat for g in got)


def test_index_scans_are_used(conn, table):
    """Both branches go through their indexes (pg_stat_user_indexes counts the scans)."""
    conn.execute(f"CREATE INDEX {table}_emb ON {table} USING gv_hnsw (emb)")

    def scans():
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return dict(conn.execute("SELECT indexrelname, idx_scan FROM pg_stat_user_indexes "
                                 "WHERE relname = %s", (table,)).fetchall())

    before = scans()
    with psycopg.connect(conn.info.dsn, autocommit=True) as c2:
        c2.execute("SET enable_seqscan = off")  # 400 rows: a sort could otherwise be cheaper
        c2.execute("SELECT count(*) FROM gigavector.hybrid_search(%s, 'emb', %s, 'body', 'apple', 5)",
                   (table, "[" + ",".join(["0.1"] * 8) + "]"))
    for _ in range(50):
        after = scans()
        if all(after[i] > before[i] for i in (f"{table}_emb", f"{table}_body_idx")):
            break
        time.sleep(0.1)
    assert after[f"{table}_emb"] > before[f"{table}_emb"]
    assert after[f"{table}_body_idx"] > before[f"{table}_body_idx"]


def test_config_validation():
    assert HybridConfig() == HybridConfig(0.5, 0.5, FusionType.LINEAR, 60, None, "min_max")
    for bad in ({"vector_weight": -1}, {"text_weight": float("nan")}, {"vector_weight": 0, "text_weight": 0},
                {"rrf_k": -1}, {"prefetch_k": 0}, {"normalization": "softmax"}, {"vector_weight": "1"}):
        with pytest.raises(ValueError):
            HybridConfig(**bad)
    with pytest.raises(ValueError):
        FusionType(7)


def test_similarity_has_no_pole():
    assert similarity("l2", 0) == 1 and similarity("l2", 3) == 0.25
    assert similarity("cosine", 2) == -1
    assert similarity("ip", -1) == 1 and math.isfinite(similarity("ip", -1.0))


def vecs(n, dim, seed):
    rnd = random.Random(seed)
    return [[rnd.gauss(0, 1) for _ in range(dim)] for _ in range(n)]


def texts(n, seed):
    rnd = random.Random(seed)
    # a different length each (padding words outside WORDS): no two BM25 scores tie,
    # so that both branches' orders are unique and answers compare exactly
    return [" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 8))) + " padword" * i
            for i in range(n)]


@pytest.mark.parametrize("fusion", [FusionType.RRF, FusionType.LINEAR])
def test_searcher_one_server_and_two(mode, dsn, fusion):
    """HybridSearcher's answer equals fuse() over both branches; one statement on one server."""
    vectors, documents = vecs(120, 16, 1), texts(120, 2)
    # gv_kdtree is exact: both ways of running the vector branch find the same rows
    db = Database.open(None, dimension=16, index=IndexType.KDTREE)
    bm25 = BM25Index() if mode == "embedded" else BM25Index(db=db)
    try:
        for vec, text in zip(vectors, documents):
            i = db.add_vector(vec, metadata={"even": 1 - (len(text) % 2)})
            bm25.add_document(i, text)
        cfg = HybridConfig(0.7, 0.3, fusion, prefetch_k=30, normalization="z_score")
        hybrid = HybridSearcher(db, bm25, cfg)
        assert hybrid.same_server == (mode == "dsn")
        results = hybrid.search(vectors[3], "apple vector search", k=10)
        # the branches the searcher ran equal the two objects' own searches (up to the
        # order of tied BM25 scores: gv_bm25 quantises lengths), and it fused them with fuse()
        vh = [(h.id, h.distance) for h in db.search(vectors[3], 30)]
        th = [(r.doc_id, r.score) for r in bm25.search("apple vector search", 30)]
        q = db._vector(vectors[3])
        if hybrid.same_server:
            svh, sth = hybrid._one_statement(q, "apple vector search", 30, db.index_distance, None)
        else:
            svh = hybrid._vector_branch(q, 30, db.index_distance, None)
            sth = hybrid._text_branch("apple vector search", 30, None)
        assert svh == pytest.approx(vh)
        assert sorted(sth) == pytest.approx(sorted(th)) and [s for _, s in sth] == [s for _, s in th]
        want = fuse(svh, sth, 10, fusion=fusion, vector_weight=0.7, text_weight=0.3,
                    normalization="z_score")
        assert [r.vector_index for r in results] == [w.vector_index for w in want]
        assert [r.combined_score for r in results] == pytest.approx([w.combined_score for w in want])
        assert all(isinstance(r, HybridResult) for r in results)
        filtered = hybrid.search(vectors[3], "apple", k=5, filter_metadata={"even": 1})
        evens = {v.id for v in db if v.metadata["even"] == 1}
        assert filtered and all(r.vector_index in evens for r in filtered)
        assert hybrid.search(None, "apple", k=3)[0].vector_rank is None
        with pytest.raises(ValueError):
            hybrid.search(None, None)
        hybrid.close()
    finally:
        bm25.close()
        db.close()


def test_database_text_hybrid_search(mode):
    vectors, documents = vecs(80, 8, 3), texts(80, 4)
    with Database.open(None, dimension=8, index=IndexType.KDTREE, text=True) as db:
        ids = [db.add_vector(v, metadata={"n": i % 3}, text=t)
               for i, (v, t) in enumerate(zip(vectors, documents))]
        got = db.hybrid_search(vectors[0], "pear plum", k=8,
                               config=HybridConfig(fusion=FusionType.RRF, prefetch_k=24))
        vh = [(h.id, h.distance) for h in db.search(vectors[0], 24)]
        with db.connection() as c:
            t = db.table.as_string(c)
            idx = c.execute("SELECT indexrelid::regclass::text FROM pg_index i JOIN pg_class x "
                            "ON x.oid = i.indexrelid JOIN pg_am a ON a.oid = x.relam "
                            "WHERE indrelid = %s::regclass AND amname = 'gv_bm25'", (t,)).fetchone()[0]
            th = c.execute(f"SELECT id, -(body <&> bm25query(%s, 'pear plum')) FROM {t} "
                           f"WHERE body @@@ bm25query(%s, 'pear plum') "
                           f"ORDER BY body <&> bm25query(%s, 'pear plum') LIMIT 24",
                           (idx, idx, idx)).fetchall()
        # tie-aware: the BM25 scores of the text branch's order, and the fused scores
        want = fuse(vh, th, 8, fusion=FusionType.RRF)
        assert got[0].vector_index == want[0].vector_index
        assert [r.combined_score for r in got] == pytest.approx([w.combined_score for w in want])
        assert all(r.vector_score == pytest.approx(1 / (1 + r.vector_distance))
                   for r in got if r.vector_distance is not None)
        only = db.hybrid_search(vectors[0], "pear", k=5, filter_metadata={"n": 1})
        assert only and all(ids.index(r.vector_index) % 3 == 1 for r in only)
        with pytest.raises(ValueError):
            db.add_vector(vectors[0], text=b"bytes")  # type: ignore[arg-type]
    with Database.open(None, dimension=8) as plain:
        with pytest.raises(ValueError, match="text=True"):
            plain.add_vector(vectors[0], text="x")
        with pytest.raises(ValueError, match="text=True"):
            plain.hybrid_search(vectors[0], "x")


def test_seed_readme_hybrid(mode, capsys):
    vectors = vecs(50, 128, 5)
    documents = texts(50, 6)
    query_vector = vectors[7]

    from gigavector import Database, BM25Index, HybridSearcher, HybridConfig, IndexType

    db = Database.open(None, dimension=128, index=IndexType.HNSW)
    bm25 = BM25Index()

    # Add vectors and corresponding documents
    for i, (vec, text) in enumerate(zip(vectors, documents)):
        db.add_vector(vec, metadata={"id": str(i)})
        bm25.add_document(i, text)

    # Create hybrid searcher
    config = HybridConfig(vector_weight=0.7, text_weight=0.3)
    hybrid = HybridSearcher(db, bm25, config)

    # Search with both vector and text
    results = hybrid.search(query_vector, "search query", k=10)
    for r in results:
        print(f"Index {r.vector_index}: combined={r.combined_score:.4f}")

    hybrid.close()

    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(results) == 10
    assert out[0].startswith("Index ")
    # the query vector's own row (id 8: ids count from 1) is the nearest; its
    # normalised vector similarity is 1, so with weight 0.7 it leads
    assert results[0].vector_index == 8 and results[0].vector_rank == 1
    bm25.close()
    db.close()


@pytest.mark.parametrize("fusion", [FusionType.RRF, FusionType.LINEAR])
def test_expired_vectors_are_never_returned(mode, fusion):
    """TTL: HybridSearcher (one statement on one server, two queries across
    two) and Database(text=True).hybrid_search (gigavector.hybrid_search)
    return no expired vector, by either branch, and still k of them: the
    answer is the fusion of both branches over the live rows alone."""
    vectors, documents = vecs(60, 8, 21), texts(60, 22)
    q, words = vectors[0], "apple pear"
    with Database.open(None, dimension=8, index=IndexType.KDTREE) as db:
        bm25 = BM25Index() if mode == "embedded" else BM25Index(db=db)
        try:
            for vec, text in zip(vectors, documents):
                bm25.add_document(db.add_vector(vec), text)
            hybrid = HybridSearcher(db, bm25, HybridConfig(0.6, 0.4, fusion, prefetch_k=30))
            nearest = [h.id for h in db.search(q, 5)]
            best_text = [r.doc_id for r in bm25.search(words, 3)]
            ttl = TTLManager(TTLConfig(), db)
            expired = set(nearest) | set(best_text)
            for i in expired:
                ttl.set_ttl(i, 0.2)
            time.sleep(0.5)
            assert db.count() == 60 - len(expired)
            got = hybrid.search(q, words, k=10)
            live = {v.id for v in db}
            vh = [(h.id, h.distance) for h in db.search(q, 30)]
            th = [(r.doc_id, r.score) for r in bm25.search(words, 60) if r.doc_id in live][:30]
            want = fuse(vh, th, 10, fusion=fusion, vector_weight=0.6, text_weight=0.4)
            assert len(got) == 10 and not expired & {r.vector_index for r in got}
            assert [r.vector_index for r in got] == [w.vector_index for w in want]
            assert [r.combined_score for r in got] == pytest.approx([w.combined_score for w in want])
            text_only = hybrid.search(None, words, k=5)
            assert len(text_only) == 5 and not expired & {r.vector_index for r in text_only}
        finally:
            bm25.close()

    with Database.open(None, dimension=8, index=IndexType.KDTREE, text=True,
                       ttl=TTLConfig(default_ttl_seconds=3600)) as db:
        ids = [db.add_vector(v, text=t) for v, t in zip(vectors, documents)]
        ttl = TTLManager(TTLConfig(default_ttl_seconds=3600), db)
        cfg = HybridConfig(fusion=fusion, prefetch_k=30)
        before = db.hybrid_search(q, words, k=6, config=cfg)
        expired = {r.vector_index for r in before[:3]}
        for i in expired:
            ttl.set_ttl(i, 0.2)
        time.sleep(0.5)
        after = db.hybrid_search(q, words, k=6, config=cfg)
        assert len(after) == 6 and not expired & {r.vector_index for r in after}
        # the fusion of both branches over the live rows (the BM25 statistics
        # still count the expired rows until they are deleted: the index's)
        vh = [(h.id, h.distance) for h in db.search(q, 30)]
        with db.connection() as c:
            t = db.table.as_string(c)
            idx = c.execute("SELECT indexrelid::regclass::text FROM pg_index i JOIN pg_class x "
                            "ON x.oid = i.indexrelid JOIN pg_am a ON a.oid = x.relam "
                            "WHERE indrelid = %s::regclass AND amname = 'gv_bm25'", (t,)).fetchone()[0]
            th = c.execute(f"SELECT id, -(body <&> bm25query(%s, %s)) FROM {t} "
                           f"WHERE body @@@ bm25query(%s, %s) AND (expires_at IS NULL OR expires_at > now()) "
                           f"ORDER BY body <&> bm25query(%s, %s) LIMIT 30",
                           (idx, words, idx, words, idx, words)).fetchall()
        want = fuse(vh, th, 6, fusion=fusion)
        assert [r.vector_index for r in after] == [w.vector_index for w in want]
        assert [r.combined_score for r in after] == pytest.approx([w.combined_score for w in want])
        assert len(ids) == 60
