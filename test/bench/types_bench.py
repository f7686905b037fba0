#!/usr/bin/python3
"""gsparsevec, gbit and the quantize functions against pgvector's sparsevec,
bit and its quantize pattern, in one cluster and one run.

Needs pgvector installed into the same PostgreSQL (build it from its own
source; nothing here fetches it).  Data: Fashion-MNIST (784 pixels, 0..255).

  sparse   each image as a sparse vector of its non-zero pixels (about half
           of them): gsparsevec(784) + gv_hnsw gsparsevec_l2_ops against
           sparsevec(784) + hnsw sparsevec_l2_ops
  bit      each image's binary_quantize() code (bit i: pixel i > 0):
           gbit(784) + gv_hnsw gbit_hamming_ops against bit(784) + hnsw
           bit_hamming_ops
  rerank   a gvector(784) / vector(784) column with an expression index over
           its binary or half-precision copy, queried with the re-rank
           pattern (40 candidates, re-ordered by the exact L2 distance)
  quantize the time binary_quantize() and quantize_half() take over every
           row, against writing the same in SQL by hand

Ground truth is computed here in numpy (float64).  Recall@k counts a row
whose exact distance is within the k-th exact distance (Hamming distances
tie a lot).  Each ef_search is run for both extensions in turn (the same
machine load); q/s and the server CPU per query (srv ms, the backend's
schedstat) are reported, and the smallest ef_search reaching --target.

    bash test/bench/run types_bench.py --rows 20000 --queries 200
    GV_TYPES_BENCH_LONG=1 bash test/bench/run types_bench.py   (60,000 rows, 1,000 queries)

Prints markdown tables; it never passes or fails.
"""
import argparse
import os
import sys
import time

import numpy as np
import psycopg

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from gvbench.dataset import load_fashion_mnist  # noqa: E402
from gvbench.sweep import backend_cpu_ns  # noqa: E402

EF = (10, 20, 40, 80, 160)
# The re-rank pattern asks the index for 40 candidates: pgvector's hnsw
# returns at most ef_search rows (without its iterative scans), so below 40
# it would re-rank fewer candidates than gv_hnsw does
CANDIDATES = 40
RERANK_EF = (40, 80, 160)
INDEX_OPTIONS = "m = 16, ef_construction = 64"


def sparse_text(v):
    nz = np.nonzero(v)[0]
    return "{" + ",".join(f"{i + 1}:{v[i]:g}" for i in nz) + f"}}/{len(v)}"


def dense_text(v):
    return "[" + ",".join(f"{x:g}" for x in v) + "]"


def bit_text(v):
    return "".join("1" if x > 0 else "0" for x in v)


def load(conn, table, coltype, texts):
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v {coltype})")
    with conn.cursor().copy(f"COPY {table} (id, v) FROM STDIN") as cp:
        for i, t in enumerate(texts):
            cp.write_row((i, t))
    conn.execute(f"VACUUM ANALYZE {table}")


def build(conn, name, table, am, expr):
    t0 = time.perf_counter()
    conn.execute(f"CREATE INDEX {name} ON {table} USING {am} ({expr}) WITH ({INDEX_OPTIONS})")
    return time.perf_counter() - t0, conn.execute(f"SELECT pg_relation_size('{name}')").fetchone()[0]


def run(dsn, stmt, params, settings):
    """Every query once through one prepared statement: ids, q/s, srv ms."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for s in settings:
            conn.execute(s)
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        for p in params[:5]:
            conn.execute(stmt, p, prepare=True).fetchall()
        cpu0, t0 = backend_cpu_ns(pid), time.perf_counter()
        ids = [[r[0] for r in conn.execute(stmt, p, prepare=True).fetchall()] for p in params]
        secs, cpu1 = time.perf_counter() - t0, backend_cpu_ns(pid)
    srv = (cpu1 - cpu0) / 1e6 / len(params) if cpu0 is not None and cpu1 is not None else float("nan")
    return ids, len(params) / secs, srv


def recall(ids, dists, k):
    """Share of returned rows within each query's k-th exact distance."""
    hits = 0
    for qi, got in enumerate(ids):
        kth = np.partition(dists[qi], k - 1)[k - 1]
        hits += sum(1 for i in got[:k] if dists[qi][i] <= kth + 1e-9 * max(1.0, kth))
    return hits / (k * len(ids))


def compare(dsn, pairs, dists, k, efs=EF):
    """pairs: [(name, stmt, params, settings_for(ef))]; each ef in turn for
    every pair.  Returns {name: [(ef, recall, qps, srv)]} and prints rows."""
    out = {p[0]: [] for p in pairs}
    for ef in efs:
        for name, stmt, params, settings in pairs:
            ids, qps, srv = run(dsn, stmt, params, settings(ef))
            r = recall(ids, dists, k)
            out[name].append((ef, r, qps, srv))
            print(f"  {name:<34} ef {ef:<4} recall {r:.4f} {qps:8.1f} q/s {srv:7.3f} ms", file=sys.stderr)
    return out


def at_target(points, target):
    """The first (ef, recall, qps, srv) at recall >= target, else the best recall."""
    for p in points:
        if p[1] >= target:
            return p, True
    return max(points, key=lambda p: p[1]), False


def report(title, curves, sizes, target):
    print(f"\n### {title}\n")
    print("| index | ef_search | recall@10 | q/s | srv ms/q | index MB | table MB | build s |")
    print("|---|---|---|---|---|---|---|---|")
    picked = {}
    for name, points in curves.items():
        p, ok = at_target(points, target)
        picked[name] = p
        idx, tbl, secs = sizes[name]
        mark = "" if ok else f" (best; {target} not reached)"
        print(f"| {name} | {p[0]}{mark} | {p[1]:.4f} | {p[2]:.1f} | {p[3]:.3f} | {idx / 2**20:.1f} | "
              f"{tbl / 2**20:.1f} | {secs:.1f} |")
    names = list(curves)
    if len(names) == 2:
        a, b = picked[names[0]], picked[names[1]]
        ia, ib = sizes[names[0]], sizes[names[1]]
        print(f"\n{names[0]} / {names[1]}: q/s {a[2] / b[2]:.2f}x, server CPU per query "
              f"{a[3] / b[3]:.2f}x, index size {ia[0] / ib[0]:.2f}x, table size {ia[1] / ib[1]:.2f}x, "
              f"build {ia[2] / ib[2]:.2f}x")
    for name, points in curves.items():
        print(f"\n{name}: " + ", ".join(f"ef {e}: {r:.3f} / {q:.0f} q/s" for e, r, q, _ in points))


def ef_gv(ef):
    return ["SET enable_seqscan = off", f"SET gigavector.hnsw_ef_search = {ef}"]


def ef_pg(ef):
    return ["SET enable_seqscan = off", f"SET hnsw.ef_search = {ef}"]


def type_pair(conn, dsn, a, kind, base, queries, dists):
    """gigavector's type against pgvector's on the same rows."""
    if kind == "sparse":
        text, types = sparse_text, [("gsparsevec", "gv_hnsw", "gsparsevec_l2_ops", "<->", ef_gv),
                                    ("sparsevec", "hnsw", "sparsevec_l2_ops", "<->", ef_pg)]
    else:
        text, types = bit_text, [("gbit", "gv_hnsw", "gbit_hamming_ops", "<~>", ef_gv),
                                 ("bit", "hnsw", "bit_hamming_ops", "<~>", ef_pg)]
    pairs, sizes = [], {}
    for typ, am, opclass, op, settings in types:
        table = f"tb_{typ}"
        load(conn, table, f"{typ}({base.shape[1]})", [text(v) for v in base])
        secs, isize = build(conn, f"{table}_idx", table, am, f"v {opclass}")
        name = f"{am} {typ}"
        sizes[name] = (isize, conn.execute(f"SELECT pg_table_size('{table}')").fetchone()[0], secs)
        stmt = f"SELECT id FROM {table} ORDER BY v {op} %s::{typ}({base.shape[1]}) LIMIT {a.k}"
        pairs.append((name, stmt, [(text(q),) for q in queries], settings))
    return compare(dsn, pairs, dists, a.k), sizes


def rerank_pair(conn, dsn, a, kind, base, queries, dists):
    """The re-rank pattern over an expression index, gigavector and pgvector."""
    dim = base.shape[1]
    sides = [("gvector", ef_gv, f"binary_quantize(v)::gbit({dim})", "gbit_hamming_ops", "<~>",
              f"quantize_half(v)::ghalfvec({dim})", "ghalfvec_l2_ops", "<->", "gv_hnsw"),
             ("vector", ef_pg, f"binary_quantize(v)::bit({dim})", "bit_hamming_ops", "<~>",
              f"v::halfvec({dim})", "halfvec_l2_ops", "<->", "hnsw")]
    pairs, sizes = [], {}
    for typ, settings, bexpr, bops, bop, hexpr, hops, hop, am in sides:
        table = f"tb_{typ}"
        if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
            load(conn, table, f"{typ}({dim})", [dense_text(v) for v in base])
        conn.execute(f"DROP INDEX IF EXISTS {table}_q")
        expr, ops, op = (bexpr, bops, bop) if kind == "binary" else (hexpr, hops, hop)
        secs, isize = build(conn, f"{table}_q", table, am, f"({expr}) {ops}")
        qexpr = expr.replace("(v)", f"(%s::{typ})").replace("v::", f"%s::{typ}::")
        stmt = (f"SELECT id FROM (SELECT id, v FROM {table} ORDER BY {expr} {op} {qexpr} LIMIT {CANDIDATES}) c "
                f"ORDER BY v <-> %s::{typ} LIMIT {a.k}")
        name = f"{am} {kind} + re-rank ({typ})"
        sizes[name] = (isize, conn.execute(f"SELECT pg_table_size('{table}')").fetchone()[0], secs)
        pairs.append((name, stmt, [(dense_text(q), dense_text(q)) for q in queries], settings))
    return compare(dsn, pairs, dists, a.k, RERANK_EF), sizes


def quantize_times(conn, repeat):
    """Seconds to quantize every row: the functions against SQL by hand."""
    cases = [
        ("binary_quantize(v)", "SELECT count(binary_quantize(v)) FROM tb_gvector"),
        ("by hand: string_agg(x > 0)::gbit",
         "SELECT count((SELECT string_agg(CASE WHEN x > 0 THEN '1' ELSE '0' END, '') "
         "FROM unnest(v::real[]) x)::gbit) FROM tb_gvector"),
        ("quantize_half(v)", "SELECT count(quantize_half(v)) FROM tb_gvector"),
        ("by hand: v::text::ghalfvec", "SELECT count(v::text::ghalfvec) FROM tb_gvector"),
    ]
    print("\n### Quantizing every row\n\n| expression | s (best of %d) |\n|---|---|" % repeat)
    for label, q in cases:
        best = min(_timed(conn, q) for _ in range(repeat))
        print(f"| `{label}` | {best:.3f} |")


def _timed(conn, q):
    t0 = time.perf_counter()
    conn.execute(q).fetchall()
    return time.perf_counter() - t0


def main():
    long = os.environ.get("GV_TYPES_BENCH_LONG") == "1"
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dsn", default="")
    ap.add_argument("--rows", type=int, default=60000 if long else 20000)
    ap.add_argument("--queries", type=int, default=1000 if long else 200)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--target", type=float, default=0.99)
    ap.add_argument("--only", default="sparse,bit,rerank,quantize")
    a = ap.parse_args()
    only = a.only.split(",")

    ds = load_fashion_mnist()
    base, queries = ds.base[:a.rows], ds.queries[:a.queries]
    conn = psycopg.connect(a.dsn, autocommit=True)
    for ext in ("gigavector", "vector"):
        conn.execute(f"CREATE EXTENSION IF NOT EXISTS {ext}")
    conn.execute("SET max_parallel_maintenance_workers = 0")
    version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
    print(f"{a.rows} rows, {a.queries} queries, k = {a.k}, {INDEX_OPTIONS}, pgvector {version}, "
          f"serial builds", file=sys.stderr)

    b64, q64 = base.astype(np.float64), queries.astype(np.float64)
    l2 = ((q64 ** 2).sum(1)[:, None] + (b64 ** 2).sum(1)[None, :] - 2 * q64 @ b64.T)
    if "sparse" in only:
        report("gsparsevec against sparsevec (L2)", *type_pair(conn, a.dsn, a, "sparse", base, queries, l2),
               a.target)
    if "bit" in only:
        bb, qb = (base > 0).astype(np.float64), (queries > 0).astype(np.float64)
        ham = qb.sum(1)[:, None] + bb.sum(1)[None, :] - 2 * qb @ bb.T
        report("gbit against bit (Hamming)", *type_pair(conn, a.dsn, a, "bit", base, queries, ham), a.target)
    if "rerank" in only:
        for kind in ("binary", "half"):
            report(f"{kind} expression index + re-rank (L2)",
                   *rerank_pair(conn, a.dsn, a, kind, base, queries, l2), a.target)
    if "quantize" in only:
        if conn.execute("SELECT to_regclass('tb_gvector')").fetchone()[0] is None:
            load(conn, "tb_gvector", f"gvector({base.shape[1]})", [dense_text(v) for v in base])
        quantize_times(conn, 3)


if __name__ == "__main__":
    main()
