"""BM25Index and BM25Config: the seed README's BM25 example as written there,
and the API against a real server, in embedded and DSN mode.  Every score is
checked against the Python oracle (test/bench/gvbench/bm25_oracle.py) over
PostgreSQL's own tokens, to 1e-6 relative.

Tests that need the gv_bm25 access method skip, saying so, on a server
without it."""

import os
import sys
import uuid

import psycopg
import pytest
from psycopg import sql

from gigavector import BM25Config, BM25Index, BM25Result, Database

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "test", "bench"))

from gvbench.bm25_oracle import Analyzer, BM25Oracle, relative_error  # noqa: E402

REL = 1e-6

DOCS = {
    1: "PostgreSQL is a powerful, open source object-relational database system.",
    2: "Vector databases store embeddings and search them by similarity.",
    3: "BM25 ranks documents by term frequency, inverse document frequency and length.",
    4: "Full-text search in PostgreSQL uses tsvector and tsquery; ts_rank is not BM25.",
    5: "search search search: a document that says search many times over, search",
    6: "The the the and of a an",  # stop words only: no lexeme
    7: "Neural networks and deep learning for vector search over text and images, "
       "with approximate nearest neighbour indexes such as HNSW and IVFPQ.",
    8: "naïve café: non-ASCII words are words too",
    9: "state-of-the-art e-mail filtering",
    10: "database " * 40,
}
QUERIES = ["search", "vector search", "postgresql database", "document frequency length",
           "bm25 ts_rank tsvector", "deep neural vector images", "café", "e-mail art",
           "the", "zebra", "database search vector postgresql"]


@pytest.fixture(scope="module")
def bm25_installed(dsn):
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS gigavector")
        if not c.execute("SELECT EXISTS (SELECT FROM pg_am WHERE amname = 'gv_bm25')").fetchone()[0]:
            pytest.skip("the gv_bm25 access method is not installed in this server "
                        "(it is the C side of BM25, src/bm25/)")


@pytest.fixture()
def analyzer(conn):
    return Analyzer(conn, "english")


def oracle_of(analyzer, docs, k1=1.2, b=0.75):
    o = BM25Oracle(k1, b)
    ids = list(docs)
    o.add_many(zip(ids, analyzer.analyze_many([docs[i] for i in ids])))
    return o


def check_results(results, oracle, terms, k, mode="or", live=None):
    """The results are the oracle's top k (tie-aware), best first, with its
    scores.  live: the documents that can be found (default: all the
    oracle's); the others are dead rows that still count in the statistics."""
    live = set(oracle.dl) if live is None else set(live)
    assert all(isinstance(r, BM25Result) and type(r.doc_id) is int for r in results)
    for r in results:
        assert r.doc_id in live and oracle.matches(r.doc_id, terms, mode), (r, terms)
        assert relative_error(r.score, oracle.score(r.doc_id, terms)) <= REL, (r, terms)
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)
    assert len({r.doc_id for r in results}) == len(results)
    want = [x for x in oracle.search(terms, None, mode) if x[0] in live][:k]
    assert len(results) == len(want), (terms, results, want)
    if want:  # each result scores at least the true k-th: the top k up to ties
        assert min(oracle.score(r.doc_id, terms) for r in results) >= want[-1][1] * (1 - 1e-12)


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def embedded_path(tmp_path_factory):
    """One persistent embedded server for the module, kept running by a Database;
    BM25Index(path=...) keeps its documents there in table "documents"."""
    path = str(tmp_path_factory.mktemp("bm25") / "text.db")
    keeper = Database.open(path, 4, embedded=True, collection="keeper")
    yield path
    keeper.close()


@pytest.fixture()
def index_in(request, dsn, bm25_installed):
    """index_in(where, config, **kw): a persistent BM25Index in the module's
    embedded server or in the test DSN; its table is dropped afterwards."""
    opened = []

    def make(where, config=None, **kw):
        if where == "embedded":
            kw.setdefault("path", request.getfixturevalue("embedded_path"))
            idx = BM25Index(config, **kw)
        else:
            kw.setdefault("path", "bm25_" + uuid.uuid4().hex[:12])
            idx = BM25Index(config, dsn=dsn, **kw)
        opened.append((idx, idx.conninfo, idx.table))
        return idx

    yield make
    for idx, conninfo, table in opened:
        idx.close()
        with psycopg.connect(conninfo, autocommit=True) as c:
            c.execute("DROP TABLE IF EXISTS {}".format(table.as_string(c)))


# --------------------------------------------------------------------------- no server needed

def test_config():
    c = BM25Config()
    assert (c.k1, c.b, c.text_config) == (1.2, 0.75, "english")
    assert BM25Config(k1=2, b=0).k1 == 2.0 and BM25Config(b=1).b == 1.0
    assert BM25Config(text_config="simple").text_config == "simple"
    assert BM25Config(k1=0).k1 == 0.0
    for kw in ({"k1": -0.1}, {"k1": float("nan")}, {"k1": float("inf")}, {"k1": "1.2"},
               {"k1": True}, {"b": 1.5}, {"b": -0.01}, {"b": None}, {"text_config": ""},
               {"text_config": 5}, {"text_config": "a\x00b"}):
        with pytest.raises(ValueError):
            BM25Config(**kw)
    with pytest.raises(Exception):
        c.k1 = 3  # frozen


def test_bad_arguments_before_connecting():
    with pytest.raises(ValueError, match="BM25Config"):
        BM25Index({"k1": 1.2})
    with pytest.raises(ValueError, match="not both"):
        BM25Index(db=object(), dsn="dbname=x")


def test_no_access_method_is_a_clear_error(dsn):
    """Where gv_bm25 is missing, BM25Index says so (and where it is there, opens)."""
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS gigavector")
        have = c.execute("SELECT EXISTS (SELECT FROM pg_am WHERE amname = 'gv_bm25')").fetchone()[0]
    if have:
        with BM25Index(dsn=dsn) as idx:
            assert idx.count() == 0
    else:
        with pytest.raises(RuntimeError, match="gv_bm25 access method is not installed"):
            BM25Index(dsn=dsn)


# --------------------------------------------------------------------------- the seed README

def test_seed_readme_bm25(mode, workdir, bm25_installed, analyzer, monkeypatch, capsys):
    added = {}  # a spy: the documents the example stores, for the oracle
    original = BM25Index.add_document

    def spy(self, doc_id, text):
        added[doc_id] = text
        return original(self, doc_id, text)
    monkeypatch.setattr(BM25Index, "add_document", spy)

    # Create BM25 index for text search
    config = BM25Config(k1=1.2, b=0.75)
    bm25 = BM25Index(config)

    # Add documents
    bm25.add_document(0, "Machine learning for vector databases")
    bm25.add_document(1, "Neural networks and deep learning")
    bm25.add_document(2, "Vector similarity search algorithms")

    # Search
    results = bm25.search("vector search", k=10)
    for r in results:
        print(f"Doc {r.doc_id}: score={r.score:.4f}")

    bm25.close()

    assert bm25.closed
    oracle = oracle_of(analyzer, added)
    terms = analyzer.query_terms("vector search")
    want = oracle.search(terms)
    assert [d for d, _ in want] == [2, 0]
    assert [r.doc_id for r in results] == [2, 0]
    check_results(results, oracle, terms, 10)
    assert capsys.readouterr().out == "".join(f"Doc {d}: score={s:.4f}\n" for d, s in want)


# --------------------------------------------------------------------------- the API

@pytest.mark.parametrize("where", ["embedded", "dsn"])
def test_scores_equal_the_oracle(where, index_in, analyzer):
    idx = index_in(where)
    assert idx.add_documents(DOCS.items()) == len(DOCS)
    assert idx.count() == len(idx) == len(DOCS)
    oracle = oracle_of(analyzer, DOCS)
    for q in QUERIES:
        terms = analyzer.query_terms(q)
        for k in (1, 3, 10):
            check_results(idx.search(q, k=k), oracle, terms, k)
        check_results(idx.search(q, k=10, mode="and"), oracle, terms, 10, "and")
    # a term in every document but one, and a document that repeats it
    assert idx.search("search", k=1)[0].doc_id == 5


def test_changes_keep_scores_exact(index_in, analyzer):
    """Replaced and removed documents count in N, avgdl and df until VACUUM
    removes their rows; scores are exact before and after."""
    idx = index_in("dsn")
    idx.add_documents(DOCS)  # a dict works too
    docs = dict(DOCS)
    versions = [(i, t) for i, t in DOCS.items()]  # every row the index has seen
    idx.add_document(2, "Vector search, vector search, vector search.")
    docs[2] = "Vector search, vector search, vector search."
    versions.append((2, docs[2]))
    idx.add_documents([(11, "a new document about search engines"), (3, "BM25 again"),
                       (11, "the later pair wins: search engines and databases")])
    docs[11] = "the later pair wins: search engines and databases"
    docs[3] = "BM25 again"
    versions += [(11, docs[11]), (3, docs[3])]
    assert idx.remove_document(4) is True
    assert idx.remove_document(4) is False
    del docs[4]
    assert idx.count() == len(docs)

    def seen_oracle():
        """Live documents under their ids, dead row versions under ("dead", n)."""
        o = BM25Oracle()
        live_version = {i: n for n, (i, _) in enumerate(versions) if i in docs}
        lexemes = analyzer.analyze_many([t for _, t in versions])
        for n, ((i, _), lex) in enumerate(zip(versions, lexemes)):
            o.add(i if live_version.get(i) == n else ("dead", n), lex)
        return o

    queries = QUERIES + ["engines", "tsquery", "bm25"]
    before = seen_oracle()
    assert before.N == len(DOCS) + 3
    for q in queries:
        check_results(idx.search(q), before, analyzer.query_terms(q), 10, live=docs)
    assert idx.search("tsquery") == []
    with idx.connection() as c:
        c.execute("VACUUM {}".format(idx.table.as_string(c)))
    after = oracle_of(analyzer, docs)
    for q in queries:
        check_results(idx.search(q), after, analyzer.query_terms(q), 10)
        check_results(idx.search(q, mode="and"), after, analyzer.query_terms(q), 10, "and")


def test_search_edge_cases(index_in, analyzer):
    idx = index_in("dsn")
    assert idx.search("anything") == []  # an empty index
    idx.add_documents(DOCS)
    assert idx.search("search", k=0) == []
    assert idx.search("") == []
    assert idx.search("   ") == []
    assert idx.search("the and of") == []  # stop words only
    assert idx.search("zebra") == []
    matches = oracle_of(analyzer, DOCS).search(["search"])
    assert len(matches) == 4
    assert [r.doc_id for r in idx.search("search", k=1000)] == [d for d, _ in matches]  # no padding
    assert idx.search("vector zebra", mode="and") == []


def test_phrase_mode(index_in, analyzer, conn):
    """mode="phrase": the documents whose lexemes hold the query's as a
    phrase (as phraseto_tsquery defines it), ranked by their BM25 scores."""
    docs = dict(DOCS)
    docs.update({20: "vector search is fast", 21: "search vector backwards", 22: "a vector of search",
                 23: "vector search vector search, vector searching"})
    idx = index_in("dsn")
    idx.add_documents(docs)
    oracle = oracle_of(analyzer, docs)
    for q in ("vector search", "search vector", "full-text search", "open source", "search"):
        terms = analyzer.query_terms(q)
        phrase = {i for (i,) in conn.execute(
            "SELECT i FROM unnest(%s::int[], %s::text[]) AS d(i, t) "
            "WHERE to_tsvector('english', t) @@ phraseto_tsquery('english', %s)",
            [list(docs), list(docs.values()), q]).fetchall()}
        want = sorted(((oracle.score(i, terms), i) for i in phrase), reverse=True)
        got = idx.search(q, k=100, mode="phrase")
        assert sorted(r.doc_id for r in got) == sorted(phrase), q
        assert [r.score for r in got] == sorted((r.score for r in got), reverse=True)
        for r in got:
            assert relative_error(r.score, oracle.score(r.doc_id, terms)) <= REL
        assert len(got) == len(want)
    assert {r.doc_id for r in idx.search("vector search", mode="phrase")} == {7, 20, 23}


def test_search_uses_the_index(index_in):
    idx = index_in("dsn")
    idx.add_documents((i, f"document {i} about topic{i % 50} and vector search") for i in range(3000))
    with idx.connection() as c:
        c.execute("ANALYZE {}".format(idx.table.as_string(c)))
        stmt, params = idx._search_statement("topic7 vector", 10, "or")
        plan = "\n".join(r[0] for r in c.execute(sql.SQL("EXPLAIN ") + stmt, params).fetchall())
        name = idx.index_name.as_string(c).split(".")[-1].strip('"')
    assert f"Index Scan using {name} " in plan, plan
    assert "Order By: (body <&> bm25query(" in plan, plan
    hits = idx.search("topic7 vector", k=10)
    assert len(hits) == 10 and all(r.doc_id % 50 == 7 for r in hits)


def test_bad_input(index_in):
    idx = index_in("dsn")
    for doc_id in ("1", 1.0, True, None, 2**63):
        with pytest.raises(ValueError):
            idx.add_document(doc_id, "text")
    for text in (None, b"bytes", 42, "nul\x00inside"):
        with pytest.raises(ValueError):
            idx.add_document(1, text)
    with pytest.raises(ValueError):
        idx.add_documents([(1, "ok"), (2,)])
    with pytest.raises(ValueError):
        idx.add_documents([(1, "ok"), ("two", "text")])
    assert idx.count() == 0  # nothing of a bad batch is stored
    with pytest.raises(ValueError):
        idx.remove_document("1")
    for q in (None, 5, b"vector", "nul\x00"):
        with pytest.raises(ValueError):
            idx.search(q)
    for k in (-1, 1.5, "10", True):
        with pytest.raises(ValueError):
            idx.search("vector", k=k)
    with pytest.raises(ValueError, match="mode"):
        idx.search("vector", mode="phrase?")
    assert idx.add_documents([]) == 0


def test_unknown_text_config(dsn, bm25_installed):
    with pytest.raises(ValueError, match="no_such_config"):
        BM25Index(BM25Config(text_config="no_such_config"), dsn=dsn)


@pytest.mark.parametrize("where", ["embedded", "dsn"])
def test_persistent_reopen_and_config(where, index_in, analyzer, conn):
    first = index_in(where, BM25Config(k1=2.0, b=0.5, text_config="simple"))
    path = first.path
    first.add_documents(DOCS)
    first.close()
    with pytest.raises(RuntimeError, match="closed"):
        first.search("x")
    first.close()  # idempotent

    again = index_in(where, path=path)  # config=None: the stored one
    assert again.config == BM25Config(k1=2.0, b=0.5, text_config="simple")
    assert again.count() == len(DOCS)
    simple = Analyzer(conn, "simple")
    oracle = oracle_of(simple, DOCS, k1=2.0, b=0.5)
    for q in ("the search", "and vector"):  # "the" and "and" are words under simple
        check_results(again.search(q), oracle, simple.query_terms(q), 10)
    again.close()

    other = index_in(where, BM25Config(), path=path)  # another config rebuilds the index
    assert other.config == BM25Config()
    oracle = oracle_of(analyzer, DOCS)
    check_results(other.search("vector search"), oracle, analyzer.query_terms("vector search"), 10)
    assert other.search("the") == []


def test_temporary_index_is_dropped(dsn, bm25_installed):
    with BM25Index(dsn=dsn) as idx:
        idx.add_document(1, "temporary text")
        table = idx.table
        assert [r.doc_id for r in idx.search("text")] == [1]
    assert idx.closed
    with psycopg.connect(dsn) as c:
        assert c.execute("SELECT to_regclass(%s)", [table.as_string(c)]).fetchone()[0] is None


def test_on_a_database(dsn, bm25_installed, analyzer, make_db):
    db = make_db("dsn", 3)
    with BM25Index(db=db) as idx:
        assert idx.conninfo == db.conninfo
        idx.add_documents(DOCS)
        with db.connection() as c:  # the same database as the vectors
            assert c.execute("SELECT count(*) FROM {}".format(idx.table.as_string(c))).fetchone()[0] \
                == len(DOCS)
        check_results(idx.search("postgresql database"), oracle_of(analyzer, DOCS),
                      analyzer.query_terms("postgresql database"), 10)
    assert not db.closed
    named = BM25Index(db=db, path="docs_" + uuid.uuid4().hex[:8])
    named.add_document(1, "kept")
    named.close()
    with db.connection() as c:
        assert c.execute("SELECT count(*) FROM {}".format(named.table.as_string(c))).fetchone()[0] == 1
        c.execute("DROP TABLE {}".format(named.table.as_string(c)))


def test_existing_table_of_another_kind(dsn, bm25_installed):
    name = "not_bm25_" + uuid.uuid4().hex[:8]
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f'CREATE TABLE "{name}" (id int)')
        try:
            with pytest.raises(RuntimeError, match="not a BM25Index"):
                BM25Index(dsn=dsn, path=name)
        finally:
            c.execute(f'DROP TABLE "{name}"')
