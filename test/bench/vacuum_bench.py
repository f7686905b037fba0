#!/usr/bin/python3
"""VACUUM after mass deletes: gv_hnsw against REINDEX and against pgvector hnsw.

N Fashion-MNIST rows (784 dimensions, L2) in one table per type, an HNSW index
on each (m = 16, ef_construction = 64), then a fraction of the rows (random,
the same ids for both) deleted and the table vacuumed.  For each index it
prints the VACUUM time, the REINDEX time of the same table afterwards, their
ratio, and recall@10 over the surviving rows after VACUUM and after REINDEX
(exact ground truth over those rows, numpy), so that "VACUUM repairs the graph"
is checked, not only timed.  pgvector's hnsw is measured when its type
`vector` can be created in the same database.

    bash test/bench/run vacuum_bench.py [--rows 20000] [--delete 0.5] [--queries 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gvbench.dataset import load_fashion_mnist, load_table, vector_text  # noqa: E402
from gvbench.groundtruth import exact_knn  # noqa: E402

K = 10


def timed(conn: psycopg.Connection, stmt: str) -> float:
    t = time.perf_counter()
    conn.execute(stmt)
    return time.perf_counter() - t


def recall(conn: psycopg.Connection, table: str, queries: np.ndarray,
           truth: np.ndarray) -> float:
    stmt = f"SELECT id FROM {table} ORDER BY emb <-> %s::{table.split('_')[-1]} LIMIT {K}"
    hits = 0
    for q, want in zip(queries, truth):
        got = {r[0] for r in conn.execute(stmt, (vector_text(q),), prepare=True)}
        hits += len(got & set(want.tolist()))
    return hits / (len(queries) * K)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dsn", default="")
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--delete", type=float, default=0.5, help="fraction of the rows deleted")
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()

    ds = load_fashion_mnist()
    base = np.ascontiguousarray(ds.base[:args.rows], dtype=np.float32)
    queries = np.ascontiguousarray(ds.queries[:args.queries], dtype=np.float32)
    rng = np.random.default_rng(7)
    doomed = rng.permutation(args.rows)[:int(args.rows * args.delete)]
    alive = np.ones(args.rows, dtype=bool)
    alive[doomed] = False
    kept = np.flatnonzero(alive)
    truth, _ = exact_knn(base[kept], queries, "l2", k=K, base_ids=kept)

    conn = psycopg.connect(args.dsn, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS gigavector")
    sides = [("gvector", "gv_hnsw", "gvector_l2_ops")]
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        sides.append(("vector", "hnsw", "vector_l2_ops"))
    except psycopg.Error:
        print("pgvector is not installed: gv_hnsw alone", file=sys.stderr)
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute("SET max_parallel_maintenance_workers = 0")

    print(f"{args.rows} rows x 784, {len(doomed)} deleted, recall@{K} over {args.queries} queries")
    print(f"{'index':10} {'VACUUM s':>9} {'REINDEX s':>10} {'ratio':>6} {'recall vac':>11} {'recall reidx':>13}")
    for type_name, am, opclass in sides:
        table = f"vac_{type_name}"
        load_table(conn, table, type_name, base, ds.base_labels[:args.rows])
        conn.execute(f"CREATE INDEX {table}_emb ON {table} USING {am} (emb {opclass}) "
                     "WITH (m = 16, ef_construction = 64)")
        conn.execute(f"DELETE FROM {table} WHERE id = ANY(%s)", (doomed.tolist(),))
        t_vac = timed(conn, f"VACUUM {table}")
        r_vac = recall(conn, table, queries, truth)
        t_re = timed(conn, f"REINDEX INDEX {table}_emb")
        r_re = recall(conn, table, queries, truth)
        print(f"{am:10} {t_vac:9.2f} {t_re:10.2f} {t_vac / t_re:6.2f} {r_vac:11.3f} {r_re:13.3f}")
        conn.execute(f"DROP TABLE {table}")


if __name__ == "__main__":
    main()
