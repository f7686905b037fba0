#!/usr/bin/python3
"""Multi-vector MaxSim benchmark: Fashion-MNIST images as documents of patch
vectors, the exact scan (ORDER BY tokens @# query) against the
index-accelerated gigavector.maxsim_search, in one cluster and one run.

Each 28x28 image is cut into 16 patches of 7x7 pixels; each patch, scaled
to unit length, is one 49-dimension token (blank patches, which have no
direction, are left out, as padding tokens are in ColBERT).  The first
--docs training images are the documents, the first --queries test images
the queries.  Ground truth is exact MaxSim computed here in numpy (float64)
from the same float32 values the server holds; the exact scan is checked
against it.

    /usr/bin/python3 test/bench/maxsim_bench.py --dsn "host=... dbname=..."
    bash test/bench/run maxsim_bench.py --docs 10000 --queries 100

Prints a markdown table: recall@k against exact MaxSim, q/s, and the q/s
ratio to the exact scan measured in alternating blocks; it never passes or
fails.
"""
import argparse
import gzip
import time

import numpy as np
import psycopg

FM = "/usr/share/datasets/fashion-mnist"
PATCH = 7


def load(name, count):
    with gzip.open(f"{FM}/{name}") as f:
        a = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    return a[:count].astype(np.float32)


def patches(images):
    """(n, 16, 49) unit-length patch vectors and a (n, 16) mask of the
    non-blank ones."""
    n = len(images)
    p = images.reshape(n, 28 // PATCH, PATCH, 28 // PATCH, PATCH).transpose(0, 1, 3, 2, 4)
    p = p.reshape(n, (28 // PATCH) ** 2, PATCH * PATCH)
    norms = np.linalg.norm(p, axis=2, keepdims=True)
    mask = norms[..., 0] > 0
    p = np.where(norms > 0, p / np.where(norms > 0, norms, 1), 0).astype(np.float32)
    return p, mask


def vec_text(v):
    return "[" + ",".join(map(repr, v.astype(np.float64).tolist())) + "]"


def array_text(tokens):
    return "{" + ",".join('"' + vec_text(t) + '"' for t in tokens) + "}"


def exact_topk(doc_tok, doc_mask, q_tok, q_mask, k):
    """Top-k document ids by exact MaxSim (float64), best first."""
    n, t, d = doc_tok.shape
    flat = doc_tok.reshape(n * t, d).astype(np.float64)
    q = q_tok[q_mask].astype(np.float64)
    ip = (q @ flat.T).reshape(len(q), n, t)
    ip = np.where(doc_mask[None, :, :], ip, -np.inf)
    scores = ip.max(axis=2).sum(axis=0)
    order = np.lexsort((np.arange(n), -scores))
    return order[:k], scores


def run_block(conn, sql, params):
    t = time.perf_counter()
    out = [[r[0] for r in conn.execute(sql, p, prepare=True).fetchall()] for p in params]
    return time.perf_counter() - t, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dsn", default="")
    ap.add_argument("--docs", type=int, default=10000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--candidates", default="16,32,64,128,256",
                    help="maxsim_search candidates per query token, the sweep")
    ap.add_argument("--block", type=int, default=10, help="queries per alternation block")
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=64)
    a = ap.parse_args()
    cands = [int(c) for c in a.candidates.split(",")]

    D, dmask = patches(load("train-images-idx3-ubyte.gz", a.docs))
    Q, qmask = patches(load("t10k-images-idx3-ubyte.gz", a.queries))
    qtexts = [array_text(Q[i][qmask[i]]) for i in range(len(Q))]

    conn = psycopg.connect(a.dsn, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS gigavector")
    conn.execute("SET max_parallel_workers_per_gather = 0")
    conn.execute("SET max_parallel_maintenance_workers = 0")
    conn.execute("DROP TABLE IF EXISTS ms_docs, ms_tokens")
    # A document's 16 x 49 floats (3.3 kB) are over the 2 kB TOAST
    # threshold: out of line, every score would first cost a TOAST index
    # lookup (two thirds of the exact scan's time, measured with perf).
    # toast_tuple_target keeps rows up to 8 kB inline and uncompressed.
    conn.execute("CREATE TABLE ms_docs (id int PRIMARY KEY, tokens gvector[]) "
                 "WITH (toast_tuple_target = 8160)")
    conn.execute("ALTER TABLE ms_docs ALTER COLUMN tokens SET STORAGE MAIN")
    conn.execute("CREATE TABLE ms_tokens (doc_id int, token gvector(49))")
    t0 = time.perf_counter()
    with conn.cursor().copy("COPY ms_docs FROM STDIN") as cp:
        for i in range(len(D)):
            cp.write_row((i, array_text(D[i][dmask[i]])))
    conn.execute("INSERT INTO ms_tokens SELECT id, unnest(tokens) FROM ms_docs")
    conn.execute("VACUUM ANALYZE ms_docs")
    conn.execute("VACUUM ANALYZE ms_tokens")
    load_s = time.perf_counter() - t0
    ntok = conn.execute("SELECT count(*) FROM ms_tokens").fetchone()[0]
    t0 = time.perf_counter()
    conn.execute(f"CREATE INDEX ms_tokens_idx ON ms_tokens USING gv_hnsw (token gvector_ip_ops) "
                 f"WITH (m = {a.m}, ef_construction = {a.ef_construction})")
    build_s = time.perf_counter() - t0
    index_mb = conn.execute("SELECT pg_relation_size('ms_tokens_idx')").fetchone()[0] / 2**20
    conn.execute("ANALYZE ms_tokens")
    print(f"{len(D)} documents, {ntok} tokens of 49 dimensions ({ntok / len(D):.1f} per document), "
          f"{len(Q)} queries ({qmask.sum() / len(Q):.1f} tokens each); loaded in {load_s:.1f} s, "
          f"gv_hnsw (m={a.m}, ef_construction={a.ef_construction}) built in {build_s:.1f} s, "
          f"{index_mb:.1f} MiB", flush=True)

    truth = [set(exact_topk(D, dmask, Q[i], qmask[i], a.k)[0].tolist()) for i in range(len(Q))]

    exact_sql = f"SELECT id FROM ms_docs ORDER BY tokens @# %s LIMIT {a.k}"
    index_sql = {c: f"SELECT id FROM gigavector.maxsim_search('ms_docs', 'ms_tokens', %s, {a.k}, {c})"
                 for c in cands}
    plan = conn.execute("EXPLAIN (COSTS OFF) SELECT c.doc FROM unnest(%s::gvector[]) q(v), LATERAL "
                        "(SELECT doc_id AS doc FROM ms_tokens t ORDER BY t.token <#> q.v LIMIT 8) c",
                        (qtexts[0],)).fetchall()
    assert any("ms_tokens_idx" in r[0] for r in plan), plan

    params = [(q,) for q in qtexts]
    for p in params[:3]:  # warm caches and plans
        conn.execute(exact_sql, p, prepare=True).fetchall()
        for c in cands:
            conn.execute(index_sql[c], p, prepare=True).fetchall()
    names = ["exact"] + cands
    spent = {n: 0.0 for n in names}
    found = {n: [] for n in names}
    for b, lo in enumerate(range(0, len(params), a.block)):
        block = params[lo:lo + a.block]
        order = names if b % 2 == 0 else names[::-1]
        for n in order:
            s, out = run_block(conn, exact_sql if n == "exact" else index_sql[n], block)
            spent[n] += s
            found[n].extend(out)

    def recall(n):
        return float(np.mean([len(set(f) & t) / a.k for f, t in zip(found[n], truth)]))

    qps = {n: len(params) / spent[n] for n in names}
    print(f"\n| search | recall@{a.k} | q/s | q/s ÷ exact scan |")
    print("|---|---|---|---|")
    print(f"| exact scan (`ORDER BY tokens @# q`) | {recall('exact'):.3f} | {qps['exact']:.1f} | 1.00 |")
    for c in cands:
        print(f"| `maxsim_search`, candidates {c} | {recall(c):.3f} | {qps[c]:.1f} | "
              f"{qps[c] / qps['exact']:.2f} |")


if __name__ == "__main__":
    main()
