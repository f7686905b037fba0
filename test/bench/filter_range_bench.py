#!/usr/bin/python3
"""Range filters on gv_hnsw: Fashion-MNIST rows (cosine) with an integer
column `score` spread evenly over 0..9999, queried with `WHERE score < t` and
`WHERE score = ANY($set)` for selectivities 0.1%, 1%, 10% and 50%, in one run
and one cluster:

  * the exact filtered scan (index scans off);
  * gv_hnsw (emb), the range applied by the executor;
  * gv_hnsw (emb, score), the range tested inside the index (a filter column);
  * pgvector's hnsw with relaxed_order iterative scans at its default
    ef_search, when pgvector's `vector` type is installed.

Every configuration's rows are checked against numpy's exact filtered answer
(recall@k, and whether k rows came back in distance order).

    bash test/bench/run filter_range_bench.py --rows 20000 --queries 100 --k 20

Prints a markdown table (q/s, and as a ratio to the exact scan); it never
passes or fails.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gvbench import dataset as dsmod  # noqa: E402

SELECTIVITIES = (0.001, 0.01, 0.1, 0.5)
SCORE_RANGE = 10000


def vec(v):
    return "[" + ",".join(repr(float(x)) for x in v) + "]"


def ground_truth(base, passes, queries, k):
    unit = base / np.maximum(np.linalg.norm(base, axis=1, keepdims=True), 1e-30)
    out = []
    for q in queries:
        qu = q / max(np.linalg.norm(q), 1e-30)
        d = 1.0 - unit @ qu
        d[~passes] = np.inf
        order = np.argsort(d, kind="stable")[:k]
        out.append(set(order[np.isfinite(d[order])].tolist()))   # fewer than k may match
    return out


def load(conn, name, type_name, base, labels, scores):
    dsmod.load_table(conn, name, type_name, base, labels, desc=f"COPY {name}")
    conn.execute(f"ALTER TABLE {name} ADD COLUMN score int")
    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE sc (id bigint, score int)")
        with cur.copy("COPY sc FROM STDIN") as cp:
            for i, s in enumerate(scores):
                cp.write_row((i, int(s)))
        cur.execute(f"UPDATE {name} t SET score = sc.score FROM sc WHERE sc.id = t.id")
        cur.execute("DROP TABLE sc")
    conn.execute(f"VACUUM ANALYZE {name}")


def run_config(conn, table, type_name, sets, queries, where, value, k):
    conn.execute("RESET ALL")
    conn.execute("SET jit = off")
    conn.execute("SET max_parallel_workers_per_gather = 0")
    for s in sets:
        conn.execute(s)
    qsql = (f"SELECT id, emb <=> %s::{type_name} FROM {table} WHERE {where} "
            f"ORDER BY emb <=> %s::{type_name} LIMIT {k}")
    params = [(vec(q), value, vec(q)) for q in queries]
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + qsql, params[0], prepare=False))
    for prm in params[:3]:
        conn.execute(qsql, prm, prepare=True).fetchall()
    t0 = time.perf_counter()
    rows = [conn.execute(qsql, prm, prepare=True).fetchall() for prm in params]
    return rows, len(params) / (time.perf_counter() - t0), plan


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dsn", required=True)
    p.add_argument("--rows", type=int, default=20000)
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--kinds", default="range,in", help="range (score < t), in (score = ANY(set))")
    args = p.parse_args()

    ds = dsmod.load_fashion_mnist()
    base = ds.base[: args.rows]
    labels = ds.base_labels[: args.rows]
    queries = ds.queries[: args.queries]
    scores = np.random.default_rng(7).integers(0, SCORE_RANGE, size=len(base))

    conn = psycopg.connect(args.dsn, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS gigavector")
    have_pgv = conn.execute(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'").fetchone()[0] > 0
    load(conn, "rgv", "gvector", base, labels, scores)
    load(conn, "rgk", "gvector", base, labels, scores)
    conn.execute("CREATE INDEX ON rgv USING gv_hnsw (emb gvector_cosine_ops)")
    conn.execute("CREATE INDEX ON rgk USING gv_hnsw (emb gvector_cosine_ops, score)")
    conn.execute("ANALYZE rgv")
    conn.execute("ANALYZE rgk")
    configs = [("exact", "rgv", "gvector", ["SET enable_indexscan = off", "SET enable_bitmapscan = off"]),
               ("gv_hnsw, filter in the executor", "rgv", "gvector", []),
               ("gv_hnsw, filter in the index", "rgk", "gvector", [])]
    if have_pgv:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        load(conn, "rpv", "vector", base, labels, scores)
        conn.execute("CREATE INDEX ON rpv USING hnsw (emb vector_cosine_ops)")
        configs.append(("pgvector hnsw relaxed_order", "rpv", "vector",
                        ["SET hnsw.iterative_scan = relaxed_order", "SET enable_seqscan = off"]))

    results = {}
    rng = np.random.default_rng(11)
    for kind, sel in [(kd, sel) for kd in args.kinds.split(",") for sel in SELECTIVITIES]:
        if kind == "range":
            where, value = "score < %s", int(sel * SCORE_RANGE)
            passes = scores < value
        else:
            value = sorted(int(x) for x in rng.choice(SCORE_RANGE, int(sel * SCORE_RANGE), replace=False))
            where, passes = "score = ANY(%s)", np.isin(scores, value)
        gts = ground_truth(base, passes, queries, args.k)
        for name, table, type_name, sets in configs:
            rows, qps, plan = run_config(conn, table, type_name, sets, queries, where, value, args.k)
            recall = np.mean([len({r[0] for r in got} & gt) / len(gt) for got, gt in zip(rows, gts)])
            ordered = np.mean([len(got) == len(gt) and
                               all(a[1] <= b[1] + 1e-6 for a, b in zip(got, got[1:]))
                               for got, gt in zip(rows, gts)])
            results[(kind, sel, name)] = (recall, ordered, qps, "Index Cond" in plan)
            print(f"{kind:5s} {sel:6.3f} {name:34s} recall {recall:.3f} ordered {ordered:.2f} q/s {qps:8.1f}",
                  flush=True)

    print()
    print(f"| filter | selectivity | configuration | recall@{args.k} | all rows, in order | q/s | × exact "
          "| index cond |")
    print("|---|---|---|---|---|---|---|---|")
    for (kind, sel, name), (recall, ordered, qps, cond) in results.items():
        ex = results[(kind, sel, "exact")][2]
        print(f"| {'score < t' if kind == 'range' else 'score = ANY(set)'} | {sel * 100:g}% | {name} | "
              f"{recall:.3f} | {ordered:.2f} | {qps:.0f} | "
              f"{qps / ex:.2f} | {'yes' if cond else 'no'} |")


if __name__ == "__main__":
    main()
