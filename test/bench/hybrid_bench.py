#!/usr/bin/python3
"""gigavector.hybrid_search against the hand-written way (the two branch
queries sent separately, fused in the client), on Debian's package
descriptions (gvbench/debian_text.py) with LSA vectors.

    bash test/bench/run hybrid_bench.py [--docs 10000] [--queries 200] [--rounds 5] [--k 10]
        [--fusions rrf,linear]

No embedding model is available, so each document's dense vector is LSA:
TF-IDF (log tf, smooth idf, over words of 3+ letters with df >= 2, at most
--vocab terms by df) reduced to 256 dimensions by a randomized truncated SVD
(two power iterations), all in numpy, rows normalised to unit length; a
query's vector is its TF-IDF projected the same way.  The vectors are cached
beside the corpus (keyed by its fingerprint and the options).

The table: (id int primary key, emb gvector(256), body text) with a gv_hnsw
index (gvector_cosine_ops) and a gv_bm25 index (english).  In one run, one
connection, prepared statements, the methods interleaved round by round:

  hybrid_search   SELECT ... FROM gigavector.hybrid_search(t, 'emb', $1, 'body', $2, k, fusion)
                  (RRF, and linear with min_max, each a method of its own)
  two queries     the vector branch (ORDER BY emb <=> $1 LIMIT 3k) and the BM25 branch
                  (ORDER BY body <&> bm25query(...) LIMIT 3k), each a prepared statement
  hand-written    the two queries + the same fusion in Python (gigavector.hybrid.fuse)

and prints q/s (median over rounds), the ratios, and how often hybrid_search's
top k equals the hand-written top k.  Times are reported, never judged.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

import numpy as np  # noqa: E402
import psycopg  # noqa: E402

from gvbench import debian_text as dt  # noqa: E402
from gvbench.groundtruth import cache_dir  # noqa: E402
from gigavector.hybrid import FusionType, fuse  # noqa: E402

WORD = re.compile(r"[a-z][a-z0-9]{2,}")
DIM = 256


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# LSA in numpy: a CSR TF-IDF matrix and a randomized truncated SVD


class Csr:
    def __init__(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, ncols: int):
        self.indptr, self.indices, self.data, self.ncols = indptr, indices, data, ncols
        self.nrows = len(indptr) - 1

    def matmul(self, w: np.ndarray, block: int = 16384) -> np.ndarray:
        """self @ w, a block of about `block` products at a time: each row's
        products summed as differences of one cumulative sum (float64)."""
        w = np.ascontiguousarray(w, dtype=np.float32)
        out = np.zeros((self.nrows, w.shape[1]), dtype=np.float32)
        cuts = np.searchsorted(self.indptr, np.arange(0, self.indptr[-1], block), side="right") - 1
        cuts = np.unique(np.concatenate([cuts, [self.nrows]]))
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            a, b = self.indptr[lo], self.indptr[hi]
            if a == b:
                continue
            prod = w[self.indices[a:b]]
            prod *= self.data[a:b, None]
            cs = np.vstack([np.zeros((1, w.shape[1])), np.cumsum(prod, axis=0, dtype=np.float64)])
            bounds = self.indptr[lo:hi + 1] - a
            out[lo:hi] = cs[bounds[1:]] - cs[bounds[:-1]]
        return out.astype(np.float64)

    def transpose(self) -> "Csr":
        order = np.argsort(self.indices, kind="stable")
        rows = np.repeat(np.arange(self.nrows), np.diff(self.indptr))
        counts = np.bincount(self.indices, minlength=self.ncols)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return Csr(indptr, rows[order], self.data[order], self.nrows)


def tfidf(texts: Sequence[str], vocab_size: int) -> Tuple[Csr, Dict[str, int], np.ndarray]:
    tokens = [WORD.findall(t.lower()) for t in texts]
    df: Dict[str, int] = {}
    for ts in tokens:
        for w in set(ts):
            df[w] = df.get(w, 0) + 1
    terms = sorted((w for w, n in df.items() if n >= 2), key=lambda w: (-df[w], w))[:vocab_size]
    vocab = {w: i for i, w in enumerate(terms)}
    n = len(texts)
    idf = np.array([np.log((1 + n) / (1 + df[w])) + 1 for w in terms])
    indptr, indices, data = [0], [], []
    for ts in tokens:
        counts: Dict[int, int] = {}
        for w in ts:
            j = vocab.get(w)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        row = sorted(counts.items())
        vals = np.array([(1 + np.log(c)) * idf[j] for j, c in row])
        norm = float(np.sqrt((vals ** 2).sum())) if len(vals) else 1.0
        indices.extend(j for j, _ in row)
        data.extend((vals / norm).tolist())
        indptr.append(len(indices))
    return (Csr(np.array(indptr), np.array(indices, dtype=np.int64), np.array(data, dtype=np.float32), len(terms)),
            vocab, idf)


def svd_basis(x: Csr, k: int, oversample: int = 16, power: int = 2, seed: int = 1) -> np.ndarray:
    """V_k (terms × k) of a randomized truncated SVD of x (Halko et al.)."""
    rng = np.random.default_rng(seed)
    xt = x.transpose()
    y = x.matmul(rng.standard_normal((x.ncols, k + oversample)))
    q, _ = np.linalg.qr(y)
    for _ in range(power):
        z, _ = np.linalg.qr(xt.matmul(q))
        q, _ = np.linalg.qr(x.matmul(z))
    b = xt.matmul(q).T  # (k + oversample) × terms
    _, _, vt = np.linalg.svd(b, full_matrices=False)
    return vt[:k].T


def unit(rows: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(rows, axis=1, keepdims=True)
    n[n == 0] = 1
    return rows / n


def lsa(corpus: dt.TextCorpus, ndocs: int, vocab_size: int):
    """Document vectors and a function text -> query vector, cached."""
    path = os.path.join(cache_dir(), "debian-text",
                        f"lsa-{corpus.fingerprint}-{ndocs}-{vocab_size}-{DIM}.npz")
    texts = [d.text for d in corpus.docs[:ndocs]]
    if os.path.exists(path):
        z = np.load(path, allow_pickle=False)
        vocab = {w: i for i, w in enumerate(z["terms"].tolist())}
        idf, basis, docs = z["idf"], z["basis"], z["docs"]
    else:
        t0 = time.perf_counter()
        x, vocab, idf = tfidf(texts, vocab_size)
        basis = svd_basis(x, DIM)
        docs = unit(x.matmul(basis)).astype(np.float32)
        terms = np.array(sorted(vocab, key=vocab.get))
        np.savez(path, terms=terms, idf=idf, basis=basis, docs=docs)
        log(f"LSA of {ndocs} documents, {len(vocab)} terms: {time.perf_counter() - t0:.1f} s")

    def embed(text: str) -> np.ndarray:
        counts: Dict[int, int] = {}
        for w in WORD.findall(text.lower()):
            j = vocab.get(w)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        v = np.zeros(len(vocab))
        for j, c in counts.items():
            v[j] = (1 + np.log(c)) * idf[j]
        e = v @ basis
        n = np.linalg.norm(e)
        return (e / n if n > 0 else e).astype(np.float32)
    return docs, embed


def vec_text(v: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in v) + "]"


# ---------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--docs", type=int, default=10000)
    ap.add_argument("--vocab", type=int, default=30000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--fusions", default="rrf,linear",
                    help="comma-separated: rrf, linear (min_max)")
    args = ap.parse_args(argv)
    fusions = [f.strip() for f in args.fusions.split(",") if f.strip()]
    for f in fusions:
        if f not in ("rrf", "linear"):
            ap.error(f"unknown fusion {f!r}")

    corpus = dt.load_debian_text(log=log)
    ndocs = min(args.docs, len(corpus))
    docs_vec, embed = lsa(corpus, ndocs, args.vocab)
    conn = psycopg.connect(args.dsn, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS gigavector")
    conn.execute("DROP TABLE IF EXISTS hybrid_docs")
    conn.execute("CREATE TABLE hybrid_docs (id int PRIMARY KEY, emb gvector(256), body text)")
    t0 = time.perf_counter()
    with conn.cursor().copy("COPY hybrid_docs FROM STDIN") as cp:
        for d, v in zip(corpus.docs[:ndocs], docs_vec):
            cp.write_row((d.id, vec_text(v), d.text))
    conn.execute("CREATE INDEX hybrid_docs_emb ON hybrid_docs USING gv_hnsw (emb gvector_cosine_ops)")
    conn.execute("CREATE INDEX hybrid_docs_body ON hybrid_docs USING gv_bm25 (body) "
                 "WITH (text_config = 'english')")
    conn.execute("VACUUM ANALYZE hybrid_docs")
    log(f"table and indexes: {time.perf_counter() - t0:.1f} s")

    def analyze(words: List[str]) -> List[List[str]]:
        rows = conn.execute("SELECT array(SELECT lexeme FROM unnest(to_tsvector('english', w))) "
                            "FROM unnest(%s::text[]) WITH ORDINALITY u(w, n) ORDER BY n",
                            (words,)).fetchall()
        return [r[0] for r in rows]
    queries = dt.make_queries(corpus.docs[:ndocs], analyze, args.queries)
    qvecs = [vec_text(embed(q)) for q in queries]
    k, depth = args.k, 3 * args.k

    hyb = ("SELECT id, score FROM gigavector.hybrid_search('hybrid_docs', 'emb', %s::gvector, "
           "'body', %s, %s, %s)")
    vq = ("SELECT id, emb <=> %s::gvector AS d FROM hybrid_docs ORDER BY emb <=> %s::gvector "
          "LIMIT %s")
    tq = ("SELECT id, -(body <&> bm25query('hybrid_docs_body', %s)) FROM hybrid_docs "
          "WHERE body @@@ bm25query('hybrid_docs_body', %s) "
          "ORDER BY body <&> bm25query('hybrid_docs_body', %s) LIMIT %s")
    kinds = {"rrf": FusionType.RRF, "linear": FusionType.LINEAR}

    def run_hybrid(fusion: str):
        def run() -> List[List[int]]:
            return [[r[0] for r in conn.execute(hyb, (qv, qt, k, fusion), prepare=True).fetchall()]
                    for qv, qt in zip(qvecs, queries)]
        return run

    def branches(qv: str, qt: str):
        return (conn.execute(vq, (qv, qv, depth), prepare=True).fetchall(),
                conn.execute(tq, (qt, qt, qt, depth), prepare=True).fetchall())

    def run_two() -> None:
        for qv, qt in zip(qvecs, queries):
            branches(qv, qt)

    def run_hand(fusion: str):
        def run() -> List[List[int]]:
            out = []
            for qv, qt in zip(qvecs, queries):
                vh, th = branches(qv, qt)
                out.append([r.vector_index for r in fuse(vh, th, k, distance="cosine",
                                                          fusion=kinds[fusion])])
            return out
        return run

    # warm-up (plans prepared, pages cached), then agreement
    same: Dict[str, int] = {}
    for f in fusions:
        a, b = run_hybrid(f)(), run_hand(f)()
        same[f] = sum(x == y for x, y in zip(a, b))
    run_two()
    methods = [("two queries", run_two)]
    for f in fusions:
        methods += [(f"hybrid_search {f}", run_hybrid(f)), (f"hand-written {f}", run_hand(f))]
    times: Dict[str, List[float]] = {name: [] for name, _ in methods}
    for r in range(args.rounds):
        shift = r % len(methods)
        for name, fn in methods[shift:] + methods[:shift]:
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
        log(f"round {r + 1} of {args.rounds}")
    qps = {n: len(queries) / statistics.median(ts) for n, ts in times.items()}
    commit = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    print(f"hybrid_bench: {ndocs} Debian descriptions ({corpus.release}, {corpus.fingerprint}), "
          f"LSA {DIM} dims, {len(queries)} queries, k = {k}, candidates {depth} per branch, "
          f"fusions {', '.join(fusions)}; "
          f"commit {commit}, {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC; "
          f"median of {args.rounds} interleaved rounds, one connection, prepared statements")
    print()
    print("| method | q/s | time vs two queries | hybrid_search (same fusion) speed-up |")
    print("|---|---:|---:|---:|")
    for n in times:
        f = n.split()[-1]
        mine = qps.get(f"hybrid_search {f}")
        speedup = f"{mine / qps[n]:.2f}×" if mine else "—"
        print(f"| {n} | {qps[n]:.0f} | {qps['two queries'] / qps[n]:.2f}× | {speedup} |")
    print()
    for f in fusions:
        print(f"{f}: hybrid_search's top {k} equals the hand-written top {k} for {same[f]} of "
              f"{len(queries)} queries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
