#!/usr/bin/python3
"""Filtered recall and q/s per filter kind and selectivity: Fashion-MNIST
rows, cosine, k nearest among the rows that pass a filter keeping 0.1%, 1%,
10% (a class other than the query's own) or 50% of them, written on an
integer column (`WHERE m100 = $1`) or on jsonb metadata
(`WHERE meta @> '{"m100": …}'`).  Compared in one run and one cluster:

  * the exact filtered scan (index scans off: a sequential scan, the filter,
    a top-k sort);
  * gv_hnsw without filter columns (the executor applies the filter), and
    with them: `(emb, label, m1000, m100, m2, meta)`, so both kinds are
    index conditions;
  * gv_ivfpq without filter columns (the executor applies the filter), and
    with them: `(emb, label, m1000, m100, m2, meta)`;
  * pgvector's hnsw with iterative scans off, relaxed_order and strict_order
    at its default ef_search, and its ivfflat (lists = rows / 1000 as its
    README advises, at least 10; ivfflat.probes at its default 1 and at 10)
    with iterative scans off and relaxed_order (ivfflat has no strict_order),
    when pgvector's `vector` type is installed.

Every configuration's rows are checked against numpy's exact filtered
answer (recall@k, and whether k rows came back in distance order).

    bash test/bench/run filter_sel_bench.py --rows 20000 --queries 100 --k 20

--phases picks some of: exact, pgvector, pgvector-ivfflat, gv_hnsw,
gv_hnsw-filter, gv_ivfpq, gv_ivfpq-filter (default all).

JIT and parallel workers are off (one backend each).  Prints a markdown table
with q/s as a ratio to the exact scan's and to pgvector relaxed_order's for
the same filter, and the backend's CPU time per query (steadier than q/s on
a shared machine) as a ratio to the exact scan's; it never passes or fails.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from filter_bench import ratio_cells, time_queries, vec  # noqa: E402
from gvbench import dataset as dsmod  # noqa: E402

# selectivity -> (column, the value query qi filters on, numpy mask of ids/labels for that value)
SELECTIVITIES = {
    "0.1%": ("m1000", lambda qi, ql: (qi * 37) % 1000, lambda ids, lab, v: ids % 1000 == v),
    "1%": ("m100", lambda qi, ql: qi % 100, lambda ids, lab, v: ids % 100 == v),
    "10%": ("label", lambda qi, ql: int((ql + 1) % 10), lambda ids, lab, v: lab == v),
    "50%": ("m2", lambda qi, ql: qi % 2, lambda ids, lab, v: ids % 2 == v),
}


def load(conn, name, type_name, base, labels, reuse):
    if reuse and dsmod.table_rows(conn, name) == len(base):
        return
    dsmod.load_table(conn, name, type_name, base, labels, desc=f"COPY {name}")
    conn.execute(f"ALTER TABLE {name} ADD COLUMN m1000 int, ADD COLUMN m100 int, "
                 "ADD COLUMN m2 int, ADD COLUMN meta jsonb")
    conn.execute(f"UPDATE {name} SET m1000 = id % 1000, m100 = id % 100, m2 = id % 2, "
                 "meta = jsonb_build_object('label', label, 'm1000', id % 1000, "
                 "'m100', id % 100, 'm2', id % 2, 'tag', 'x')")
    conn.execute(f"VACUUM ANALYZE {name}")


def truth(unit, labels, q, mask, k):
    d = 1.0 - unit @ (q / max(np.linalg.norm(q), 1e-30))
    d = np.where(mask, d, np.inf)
    return np.argsort(d, kind="stable")[:min(k, int(mask.sum()))]


def run_config(conn, table, sets, where, params, gts, k):
    conn.execute("RESET ALL")
    conn.execute("SET jit = off")
    conn.execute("SET max_parallel_workers_per_gather = 0")
    for s in sets:
        conn.execute(s)
    t = "gvector" if table == "fsg" else "vector"
    qsql = (f"SELECT id, emb <=> %s::{t} AS d FROM {table} WHERE {where} "
            f"ORDER BY emb <=> %s::{t} LIMIT {k}")
    plan, rows, secs, srv = time_queries(conn, qsql, params)
    recall, ordered = [], 0
    for got, idx in zip(rows, gts):
        ids = [r[0] for r in got]
        recall.append(len(set(ids) & set(idx.tolist())) / max(len(idx), 1))
        dist = [r[1] for r in got]
        ordered += all(a <= b + 1e-6 for a, b in zip(dist, dist[1:])) and len(got) == len(idx)
    uses = "Index Cond" if "Index Cond" in plan else ("index" if "Index Scan" in plan else "seq")
    return dict(qps=len(params) / secs, srv=srv, recall=float(np.mean(recall)),
                ordered=ordered / len(params), plan=uses)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dsn", required=True)
    p.add_argument("--rows", type=int, default=20000)
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--kinds", default="column,jsonb")
    p.add_argument("--selectivities", default=",".join(SELECTIVITIES))
    p.add_argument("--phases", default="exact,pgvector,pgvector-ivfflat,gv_hnsw,gv_hnsw-filter,"
                   "gv_ivfpq,gv_ivfpq-filter")
    p.add_argument("--reuse", action="store_true",
                   help="keep the tables of an earlier run in the same database")
    args = p.parse_args()

    ds = dsmod.load_fashion_mnist()
    base = ds.base[: args.rows].astype(np.float64)
    labels = ds.base_labels[: args.rows]
    queries = ds.queries[: args.queries].astype(np.float64)
    qlabels = ds.query_labels[: args.queries]
    unit = base / np.maximum(np.linalg.norm(base, axis=1, keepdims=True), 1e-30)
    ids = np.arange(args.rows)

    conn = psycopg.connect(args.dsn, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS gigavector")
    have_pgv = conn.execute("SELECT count(*) FROM pg_available_extensions "
                            "WHERE name = 'vector'").fetchone()[0] > 0
    load(conn, "fsg", "gvector", base, labels, args.reuse)
    # (phase, configurations (name, table, settings), table to index, USING ...)
    phases = [("exact", [("exact", "fsg", ["SET enable_indexscan = off", "SET enable_bitmapscan = off"])],
               None, None)]
    if have_pgv:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        load(conn, "fsp", "vector", base, labels, args.reuse)
        phases.append(("pgvector", [(f"pgvector hnsw {m}", "fsp", [f"SET hnsw.iterative_scan = {m}",
                                                                  "SET enable_seqscan = off"])
                                    for m in ("off", "relaxed_order", "strict_order")],
                       "fsp", "USING hnsw (emb vector_cosine_ops)"))
        ivf_lists = max(10, args.rows // 1000)
        phases.append(("pgvector-ivfflat",
                       [(f"pgvector ivfflat probes {pr} {m}", "fsp",
                         [f"SET ivfflat.iterative_scan = {m}", f"SET ivfflat.probes = {pr}",
                          "SET enable_seqscan = off"])
                        for pr in (1, 10) for m in ("off", "relaxed_order")],
                       "fsp", f"USING ivfflat (emb vector_cosine_ops) WITH (lists = {ivf_lists})"))
    phases += [
        ("gv_hnsw", [("gv_hnsw", "fsg", [])], "fsg", "USING gv_hnsw (emb gvector_cosine_ops)"),
        ("gv_hnsw-filter", [("gv_hnsw filter columns", "fsg", [])], "fsg",
         "USING gv_hnsw (emb gvector_cosine_ops, label, m1000, m100, m2, meta)"),
        ("gv_ivfpq", [("gv_ivfpq", "fsg", [])], "fsg", "USING gv_ivfpq (emb gvector_cosine_ops)"),
        ("gv_ivfpq-filter", [("gv_ivfpq filter columns", "fsg", [])], "fsg",
         "USING gv_ivfpq (emb gvector_cosine_ops, label, m1000, m100, m2, meta)"),
    ]
    wanted = args.phases.split(",")
    phases = [ph for ph in phases if ph[0] in wanted]

    results = {}
    for phase, configs, itable, index in phases:
        if index:
            t0 = time.perf_counter()
            conn.execute(f"CREATE INDEX {itable}_idx ON {itable} {index}")
            conn.execute(f"ANALYZE {itable}")
            print(f"{phase}: built in {time.perf_counter() - t0:.1f} s", flush=True)
        for kind in args.kinds.split(","):
            for sel in args.selectivities.split(","):
                col, value_of, mask_of = SELECTIVITIES[sel]
                where = f"{col} = %s" if kind == "column" else "meta @> %s::jsonb"
                params, gts = [], []
                for qi, (q, ql) in enumerate(zip(queries, qlabels)):
                    v = value_of(qi, ql)
                    fv = v if kind == "column" else json.dumps({col: v})
                    params.append((vec(q), fv, vec(q)))
                    gts.append(truth(unit, labels, q, mask_of(ids, labels, v), args.k))
                for name, table, sets in configs:
                    r = run_config(conn, table, sets, where, params, gts, args.k)
                    results[(kind, sel, name)] = r
                    print(f"{kind:6s} {sel:5s} {name:34s} recall {r['recall']:.3f} ordered "
                          f"{r['ordered']:.2f} q/s {r['qps']:8.1f} srv ms {r['srv']:7.2f} {r['plan']}",
                          flush=True)
        if index:
            conn.execute(f"DROP INDEX {itable}_idx")

    print()
    print(f"| filter | selectivity | configuration | recall@{args.k} | exact order | q/s | × exact "
          "| × pgvector relaxed | srv ms | srv × exact | plan |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (kind, sel, name), r in sorted(results.items(), key=lambda kv: (kv[0][0], list(SELECTIVITIES).index(kv[0][1]))):
        vs_ex, vs_rel, srv_ex = ratio_cells(r, results.get((kind, sel, "exact")),
                                            results.get((kind, sel, "pgvector hnsw relaxed_order")))
        print(f"| {kind} | {sel} | {name} | {r['recall']:.3f} | {r['ordered']:.2f} | {r['qps']:.0f} | "
              f"{vs_ex} | {vs_rel} | {r['srv']:.2f} | {srv_ex} | {r['plan']} |")


if __name__ == "__main__":
    main()
