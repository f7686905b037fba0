#!/usr/bin/python3
"""Filtered search where the index does not see the filter (issue #20's hard
case): Fashion-MNIST rows, cosine, k nearest among the rows of a class other
than the query's own, with the filter on a column the index does not hold
(`WHERE label = $2`) or on jsonb metadata (`WHERE meta @> $2`).  Compared in
one run and one cluster, interleaved query by query:

  * the exact filtered scan (index scans off: a sequential scan, the filter,
    a top-k sort);
  * gv_hnsw, gv_ivfpq and gv_kdtree (cosine) at their default settings;
  * pgvector's hnsw with iterative scans off, relaxed_order and strict_order
    at its default ef_search, when pgvector's `vector` type is installed.

Every configuration's rows are checked against numpy's exact filtered
answer: recall@k and whether they come back in exact distance order.

    bash test/bench/run filter_bench.py --rows 20000 --queries 100 --k 20

JIT and parallel workers are off for every configuration (one backend
each).  Prints a markdown table (q/s as a ratio to the exact scan and to pgvector's
relaxed_order); it never passes or fails.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gvbench import dataset as dsmod  # noqa: E402


def vec(v):
    return "[" + ",".join(repr(float(x)) for x in v) + "]"


def backend_cpu_ms(conn):
    """CPU time of the connection's backend so far (Linux schedstat; the
    benchmark runs on the server's machine), in ms."""
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e6


def time_queries(conn, qsql, params):
    """EXPLAIN of qsql, then every params' rows (prepared, after 3 warm-up
    runs): (plan, rows, seconds, backend CPU ms per query)."""
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + qsql, params[0], prepare=False))
    for prm in params[:3]:
        conn.execute(qsql, prm, prepare=True).fetchall()
    rows = []
    c0 = backend_cpu_ms(conn)
    t0 = time.perf_counter()
    for prm in params:
        rows.append(conn.execute(qsql, prm, prepare=True).fetchall())
    secs = time.perf_counter() - t0
    return plan, rows, secs, (backend_cpu_ms(conn) - c0) / len(params)


def ratio_cells(r, ex, rel):
    """Table cells of result r: q/s against the exact scan's (ex) and pgvector
    relaxed_order's (rel), server CPU against the exact scan's ("-" where absent)."""
    vs_ex = f"{r['qps'] / ex['qps']:.2f}" if ex else "-"
    vs_rel = f"{r['qps'] / rel['qps']:.2f}" if rel else "-"
    srv_ex = f"{r['srv'] / ex['srv']:.2f}" if ex and ex['srv'] > 0 else "-"
    return vs_ex, vs_rel, srv_ex


def setup(conn, name, type_name, base, labels, index_sql, reuse=False):
    if reuse and dsmod.table_rows(conn, name) == len(base):
        return 0.0
    dsmod.load_table(conn, name, type_name, base, labels, desc=f"COPY {name}")
    conn.execute(f"ALTER TABLE {name} ADD COLUMN meta jsonb")
    conn.execute(f"UPDATE {name} SET meta = jsonb_build_object('label', label, 'tag', 'x')")
    conn.execute(f"VACUUM ANALYZE {name}")
    t = time.perf_counter()
    for s in index_sql:
        conn.execute(s)
    return time.perf_counter() - t


def ground_truth(base, labels, queries, targets, k):
    unit = base / np.maximum(np.linalg.norm(base, axis=1, keepdims=True), 1e-30)
    out = []
    for q, t in zip(queries, targets):
        qu = q / max(np.linalg.norm(q), 1e-30)
        d = 1.0 - unit @ qu
        d[labels != t] = np.inf
        idx = np.argsort(d, kind="stable")[:k]
        out.append((idx, d))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dsn", required=True)
    p.add_argument("--rows", type=int, default=20000)
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--only", default="", help="comma-separated configuration names")
    p.add_argument("--kinds", default="column,jsonb")
    p.add_argument("--ams", default="gv_hnsw,gv_ivfpq")
    p.add_argument("--reuse", action="store_true",
                   help="keep the tables of an earlier run in the same database")
    args = p.parse_args()

    ds = dsmod.load_fashion_mnist()
    base = ds.base[: args.rows]
    labels = ds.base_labels[: args.rows]
    queries = ds.queries[: args.queries]
    targets = (ds.query_labels[: args.queries] + 1) % 10   # another class: ~10% of rows
    gts = ground_truth(base, labels, queries, targets, args.k)

    conn = psycopg.connect(args.dsn, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS gigavector")
    have_pgv = conn.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'").fetchone()[0] > 0
    if have_pgv:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")

    configs = []   # (name, table, index setup tag, [SET ...])
    setup(conn, "fgv", "gvector", base, labels, [], args.reuse)
    configs.append(("exact", "fgv", None, ["SET enable_indexscan = off", "SET enable_bitmapscan = off"]))
    for am in args.ams.split(","):
        configs.append((am, "fgv", am, []))
    if have_pgv:
        setup(conn, "fpv", "vector", base, labels, [], args.reuse)
        conn.execute("CREATE INDEX IF NOT EXISTS fpv_hnsw ON fpv USING hnsw (emb vector_cosine_ops)")
        for mode in ("off", "relaxed_order", "strict_order"):
            configs.append((f"pgvector hnsw {mode}", "fpv", "hnsw", [f"SET hnsw.iterative_scan = {mode}",
                                                                     "SET enable_seqscan = off"]))
    if args.only:
        keep = set(args.only.split(","))
        configs = [c for c in configs if c[0] in keep]

    conn.execute("ANALYZE fgv")
    results = {}
    kinds = args.kinds.split(",")
    for kind in kinds:
        for am in [None] + args.ams.split(","):
            run = [c for c in configs if c[2] == am or (am is None and c[2] in (None, "hnsw"))]
            if not run:
                continue
            if am:
                conn.execute(f"DROP INDEX IF EXISTS fgv_{am}")
                conn.execute(f"CREATE INDEX fgv_{am} ON fgv USING {am} (emb gvector_cosine_ops)")
                conn.execute("ANALYZE fgv")
            for name, table, _, sets in run:
                conn.execute("RESET ALL")
                conn.execute("SET jit = off")
                conn.execute("SET max_parallel_workers_per_gather = 0")
                for s in sets:
                    conn.execute(s)
                where = "label = %s" if kind == "column" else "meta @> %s::jsonb"
                qsql = (f"SELECT id, emb <=> %s::{ 'gvector' if table == 'fgv' else 'vector'} AS d "
                        f"FROM {table} WHERE {where} ORDER BY emb <=> %s::"
                        f"{'gvector' if table == 'fgv' else 'vector'} LIMIT {args.k}")
                params = []
                for q, t in zip(queries, targets):
                    fv = int(t) if kind == "column" else json.dumps({"label": int(t)})
                    params.append((vec(q), fv, vec(q)))
                plan, rows, secs, srv = time_queries(conn, qsql, params)
                recall, ordered = [], 0
                for got, (idx, d) in zip(rows, gts):
                    ids = [r[0] for r in got]
                    recall.append(len(set(ids) & set(idx.tolist())) / args.k)
                    dist = [r[1] for r in got]
                    ordered += all(a <= b + 1e-6 for a, b in zip(dist, dist[1:])) and len(got) == args.k
                results[(kind, name)] = dict(qps=len(params) / secs, srv=srv, recall=float(np.mean(recall)),
                                             ordered=ordered / len(params),
                                             index="Index Scan" in plan and "Seq Scan" not in plan)
                r = results[(kind, name)]
                print(f"{kind:7s} {name:28s} recall {r['recall']:.3f} ordered {r['ordered']:.2f} "
                      f"q/s {r['qps']:8.1f} srv ms {r['srv']:7.2f} plan {'index' if r['index'] else 'seq'}", flush=True)
            if am:
                conn.execute(f"DROP INDEX fgv_{am}")

    print()
    print(f"| filter | configuration | recall@{args.k} | exact order | q/s | × exact | × pgvector relaxed "
          "| srv ms | srv × exact | plan |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (kind, name), r in results.items():
        vs_ex, vs_rel, srv_ex = ratio_cells(r, results.get((kind, "exact")),
                                            results.get((kind, "pgvector hnsw relaxed_order")))
        print(f"| {kind} | {name} | {r['recall']:.3f} | {r['ordered']:.2f} | {r['qps']:.0f} | "
              f"{vs_ex} | {vs_rel} | {r['srv']:.2f} | {srv_ex} | {'index' if r['index'] else 'seq'} |")

if __name__ == "__main__":
    main()
