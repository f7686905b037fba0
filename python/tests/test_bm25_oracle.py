"""The BM25 yardstick (test/bench/gvbench/bm25_oracle.py) and the Debian corpus
builder (debian_text.py): they judge gv_bm25's scores in test_bm25.py and in
the benchmark, so they are tested themselves, against PostgreSQL's to_tsvector
and against scores worked out by hand.  None of this needs gv_bm25."""

import math
import os
import sys
from collections import Counter

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "test", "bench"))

from gvbench import bm25_oracle as bo  # noqa: E402
from gvbench import debian_text as dt  # noqa: E402

TRICKY = [
    "The quick brown foxes jumped over the lazy dogs",
    "foo-bar state-of-the-art e-mail",               # hyphenated: the whole word and its parts
    "the and of to a in",                             # stop words only
    "",
    "http://example.org/path/to?x=1 mail me at someone@example.com",
    "version 1.2.3 of libfoo2 and python3.11, 3.14159 and -42",
    "naïve Café façade ÜBER straße",                  # non-ASCII letters
    "PostgreSQL's full-text search: ts_rank() isn't BM25!",
    "cat " * 300,                                     # tf 300: a tsvector keeps 255 positions
    "x" * 3000 + " tail",                             # a 3,000-byte token: skipped
    "x" * 2047 + " " + "z" * 2048,                    # the longest token kept, and one byte more
]


@pytest.fixture()
def analyzer(conn):
    return bo.Analyzer(conn, "english")


def tsvector_positions(conn, text):
    return dict(conn.execute("SELECT lexeme, array_length(positions, 1) FROM "
                             "unnest(to_tsvector('english', %s))", [text]).fetchall())


def test_analyzer_agrees_with_to_tsvector(analyzer):
    assert analyzer.check_tsvector(TRICKY) == []


def test_analyzer_tokens(analyzer, conn):
    assert analyzer.analyze("foo-bar") == ["foo-bar", "foo", "bar"]
    assert analyzer.analyze("the and of to a in") == []
    assert analyzer.analyze("") == []
    assert analyzer.analyze("Running runs RAN") == ["run", "run", "ran"]
    assert analyzer.query_terms("runs running foo-bar foo") == ["run", "foo-bar", "foo", "bar"]
    # every occurrence counts, past tsvector's 255 positions per lexeme
    assert Counter(analyzer.analyze("cat " * 300)) == {"cat": 300}
    assert tsvector_positions(conn, "cat " * 300) == {"cat": 255}
    # a token of more than 2,047 bytes is skipped, as to_tsvector skips it
    assert analyzer.analyze("y" * 2048 + " tail") == ["tail"]
    assert analyzer.analyze("é" * 1024 + " tail") == ["tail"]
    assert analyzer.analyze("y" * 2047 + " tail") == ["y" * 2047, "tail"]
    assert tsvector_positions(conn, "y" * 2048 + " tail") == {"tail": 1}
    assert tsvector_positions(conn, "y" * 2047 + " tail") == {"y" * 2047: 1, "tail": 1}


def test_analyzer_simple_config(conn):
    a = bo.Analyzer(conn, "simple")
    assert a.analyze("The cats and THE dogs") == ["the", "cats", "and", "the", "dogs"]
    assert a.check_tsvector(TRICKY) == []


def test_check_tsvector_detects_a_difference(analyzer, monkeypatch):
    """The check can fail: an analyzer that drops one lexeme disagrees."""
    real = bo.Analyzer.analyze_many
    monkeypatch.setattr(bo.Analyzer, "analyze_many",
                        lambda self, texts, batch=500: [lx[1:] for lx in real(self, texts, batch)])
    assert analyzer.check_tsvector(["alpha beta", "", "gamma"]) == [0, 2]


def test_long_document_positions_clamped(analyzer):
    """Past position 16383 a tsvector clamps positions; only the lexeme sets are compared."""
    text = " ".join(f"w{i % 50}x" for i in range(20000))
    lexemes = analyzer.analyze(text)
    assert len(lexemes) == 20000 and Counter(lexemes)["w7x"] == 400
    assert analyzer.check_tsvector([text]) == []


# --------------------------------------------------------------------------- scores

def hand_score(tf, dl, avgdl, N, n, k1=1.2, b=0.75):
    idf = math.log(1 + (N - n + 0.5) / (n + 0.5))
    return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))


def test_oracle_scores_by_hand():
    o = bo.BM25Oracle()
    o.add(1, ["vector", "search", "vector"])          # dl 3
    o.add(2, ["neural", "network", "deep", "learn"])  # dl 4
    o.add(3, ["vector", "databas"])                   # dl 2
    assert (o.N, o.avgdl, o.df("vector"), o.df("search"), o.df("nothing")) == (3, 3.0, 2, 1, 0)
    assert o.idf("vector") == pytest.approx(math.log(1 + 1.5 / 2.5), rel=1e-15)
    # doc 1: vector tf 2, search tf 1, dl = avgdl, so the length factor is 1
    want1 = (math.log(1.6) * 2 * 2.2 / (2 + 1.2) + math.log(1 + 2.5 / 1.5) * 2.2 / (1 + 1.2))
    assert o.score(1, ["vector", "search"]) == pytest.approx(want1, rel=1e-15)
    want3 = math.log(1.6) * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / 3))
    assert o.score(3, ["vector", "search"]) == pytest.approx(want3, rel=1e-15)
    assert o.score(2, ["vector", "search"]) == 0.0
    assert o.search(["vector", "search"]) == [(1, o.score(1, ["vector", "search"])),
                                              (3, o.score(3, ["vector", "search"]))]
    assert o.search(["vector", "search"], mode="and") == [(1, want1)]
    assert o.search([]) == [] and o.search(["nothing"]) == []
    # duplicated query terms count once
    assert o.score(1, ["vector", "vector", "search"]) == o.score(1, ["vector", "search"])
    with pytest.raises(ValueError):
        o.search(["vector"], mode="phrase")


def test_oracle_statistics_follow_changes():
    o = bo.BM25Oracle(k1=2.0, b=0.5)
    o.add_many([(i, ["common"] + ["rare"] * (i == 0) + ["pad"] * i) for i in range(10)])
    assert (o.N, o.total, o.df("common"), o.df("rare")) == (10, 10 + 1 + 45, 10, 1)
    before = o.score(0, ["rare", "common"])
    assert before == pytest.approx(
        hand_score(1, 2, 5.6, 10, 1, 2.0, 0.5) + hand_score(1, 2, 5.6, 10, 10, 2.0, 0.5), rel=1e-14)
    o.remove(9)
    o.add(0, ["rare", "rare"])  # replaces document 0
    assert (o.N, o.total, o.df("common"), o.df("pad")) == (9, 2 + 44, 8, 8)
    assert o.score(0, ["rare", "common"]) == pytest.approx(hand_score(2, 2, 46 / 9, 9, 1, 2.0, 0.5),
                                                           rel=1e-14)
    sub = o.subset(range(1, 5))
    assert (sub.N, sub.total, sub.df("rare")) == (4, 4 + 10, 0)
    assert sub.score(2, ["pad"]) == pytest.approx(hand_score(2, 3, 3.5, 4, 4, 2.0, 0.5), rel=1e-14)


def test_oracle_empty_documents():
    o = bo.BM25Oracle()
    o.add_many([(1, ["a"]), (2, []), (3, ["a", "b"])])
    assert (o.N, o.avgdl) == (3, 1.0)
    e = bo.BM25Oracle(count_empty=False)
    e.add_many([(1, ["a"]), (2, []), (3, ["a", "b"])])
    assert (e.N, e.avgdl) == (2, 1.5)


def test_oracle_hits_tie_aware():
    o = bo.BM25Oracle()
    o.add_many([(i, ["same"]) for i in range(1, 6)] + [(9, ["other"])])
    # five documents tie: any two of them are the true top 2
    assert o.hits([5, 3], ["same"], 2) == (2, 2)
    assert o.hits([5, 9], ["same"], 2) == (1, 2)
    assert o.hits([5, 5, 4], ["same"], 2) == (2, 2)  # an id returned twice counts once
    assert o.hits([], ["none"], 10) == (0, 0)
    assert bo.relative_error(1.0 + 1e-7, 1.0) == pytest.approx(1e-7)


# --------------------------------------------------------------------------- corpus

DUMPAVAIL = """Package: beta-tool
Version: 1.0
Description: a tool for beta
Description-md5: 22222222222222222222222222222222
Tag: role::program,
 use::testing

Package: alpha
Version: 2.0
Description: alpha things
Description-md5: 11111111111111111111111111111111

Package: gamma
Version: 3.0
Description: gamma synopsis only
Description-md5: 33333333333333333333333333333333
"""

TRANSLATIONS = """Package: alpha
Description-md5: 11111111111111111111111111111111
Description-en: alpha things
 Alpha does things.
 .
 A second paragraph.

Package: beta-tool
Description-md5: 22222222222222222222222222222222
Description-en: a tool for beta
 Beta tool long text.
"""


def test_build_documents():
    docs, untranslated = dt.build_documents(DUMPAVAIL, TRANSLATIONS)
    assert [(d.id, d.package, d.text) for d in docs] == [
        (1, "alpha", "alpha things\nAlpha does things.\n\nA second paragraph."),
        (2, "beta-tool", "a tool for beta\nBeta tool long text."),
        (3, "gamma", "gamma synopsis only"),
    ]
    assert untranslated == 1
    assert dt.fingerprint(docs) == dt.fingerprint(dt.build_documents(DUMPAVAIL, TRANSLATIONS)[0])
    assert dt.fingerprint(docs) != dt.fingerprint(docs[:2])


def test_make_queries_reproducible():
    docs = [dt.Document(i, f"pkg{i}-tools", f"Words number{i} shared common text again")
            for i in range(1, 40)]

    def analyze(words):  # a stand-in configuration: "again" is a stop word, "text" = "texts"
        return [[] if w == "again" else [w.rstrip("s")] for w in words]

    q1 = dt.make_queries(docs, analyze, 200, seed=7)
    assert q1 == dt.make_queries(docs, analyze, 200, seed=7)
    assert q1 != dt.make_queries(docs, analyze, 200, seed=8)
    assert len(q1) == 200
    assert {len(q.split()) for q in q1} == {1, 2, 3, 4}
    for q in q1:
        words = q.split()
        assert "again" not in words
        assert len({analyze([w])[0][0] for w in words}) == len(words)
    assert any(q.split()[0].startswith("pkg") for q in q1)
