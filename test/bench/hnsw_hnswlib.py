#!/usr/bin/python3
"""gv_hnsw side by side with hnswlib (in-process), Fashion-MNIST.

Both graphs get the same m and ef_construction; each ef_search is run on
both, interleaved: gv_hnsw through one connection and a prepared statement
(gvbench.sweep), hnswlib one query at a time on one thread.  Reported:
recall@k of both against exact ground truth, q/s of both and their ratio,
CPU time per query of both (gv_hnsw's server backend, hnswlib's process),
build seconds (hnswlib on one thread, gv_hnsw with no parallel workers).
SQL adds a round trip, parsing of the query vector and the executor to
every gv_hnsw query.  To tell that apart from the graph search, the same
statement is also run with WHERE id <= k, answered by the primary key and a
sort instead of the graph (parse, plan, k heap fetches and distances): its
server CPU per query is the SQL overhead, and gv_hnsw's server CPU less it
estimates the graph search alone (an over-estimate of the overhead, so an
under-estimate of the search: those k rows are detoasted, which the index
scan's distance memo spares).

    bash test/bench/run hnsw_hnswlib.py [--queries 500] [--ef 20,40,80] [--warmup 500]

Needs python3-hnswlib (bash test/setup --peers).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

from gvbench import dataset as dsmod  # noqa: E402
from gvbench.sweep import sweep  # noqa: E402


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def hnswlib_run(index, queries, gt, ef, k, warmup=10):
    """Search every query alone, as a connection would."""
    index.set_ef(max(ef, k))
    for q in queries[:warmup]:
        index.knn_query(q[None, :], k=k)
    t0 = time.perf_counter()
    c0 = time.process_time()
    results = [index.knn_query(q[None, :], k=k)[0][0] for q in queries]
    cpu_ms = (time.process_time() - c0) * 1000 / len(queries)
    secs = time.perf_counter() - t0
    recall = float(np.mean([gt.recall(i, [int(x) for x in ids], k) for i, ids in enumerate(results)]))
    return len(queries) / secs, recall, cpu_ms


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dsn", default="")
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=64)
    p.add_argument("--ef", default="10,20,40,80")
    p.add_argument("--queries", type=int, default=500)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--warmup", type=int, default=10,
                   help="untimed queries before each run (--warmup 500: a warm backend)")
    p.add_argument("--schema", default="gv_bench")
    p.add_argument("--maintenance-work-mem", default="1GB")
    args = p.parse_args(argv)

    try:
        import hnswlib
    except ImportError:
        log("python3-hnswlib is not installed (bash test/setup --peers): nothing to compare")
        return 1

    setup = dsmod.fmnist_for_peer(args.dsn, args.schema, args.queries)
    base, queries, gt, conn, table = setup.base, setup.queries, setup.gt, setup.conn, setup.table
    dim = base.shape[1]

    opts = f"m = {args.m}, ef_construction = {args.ef_construction}"
    conn.execute(f"DROP INDEX IF EXISTS {args.schema}.gvbench_hnsw_hnswlib")
    conn.execute(f"SET maintenance_work_mem = '{args.maintenance_work_mem}'")
    conn.execute("SET max_parallel_maintenance_workers = 0")
    t0 = time.perf_counter()
    conn.execute(f"CREATE INDEX gvbench_hnsw_hnswlib ON {table} USING gv_hnsw (emb) WITH ({opts})")
    gv_build = time.perf_counter() - t0
    log(f"gv_hnsw ({opts}): built in {gv_build:.1f} s")

    index = hnswlib.Index(space="l2", dim=dim)
    index.init_index(max_elements=len(base), M=args.m, ef_construction=args.ef_construction,
                     random_seed=1)
    index.set_num_threads(1)
    t0 = time.perf_counter()
    index.add_items(base, np.arange(len(base)))
    hl_build = time.perf_counter() - t0
    log(f"hnswlib: built in {hl_build:.1f} s on one thread")

    rows = []
    for ef in [int(x) for x in args.ef.split(",") if x.strip()]:
        label = f"ef_search={ef}"
        res = sweep(args.dsn, table, "emb", "<->", args.k,
                    [(label, ["SET enable_seqscan = off",
                              f"SET gigavector.hnsw_ef_search = {ef}"])],
                    queries, gt, "gvector", name="gv_hnsw", warmup=args.warmup)[0]
        hq, hr, hms = hnswlib_run(index, queries, gt, ef, args.k, warmup=args.warmup)
        log(f"  hnswlib                {label:<16} {hq:9.1f} q/s  recall@{args.k} {hr:.4f}"
            f"  CPU {hms:.3f} ms/q")
        rows.append((ef, res.recall, hr, res.qps, hq, res.srv_ms, hms))
    overhead = sweep(args.dsn, table, "emb", "<->", args.k,
                     [("no graph: id <= k", ["SET enable_seqscan = off"])],
                     queries, None, "gvector", name="SQL overhead", where=f"id <= {args.k}",
                     warmup=args.warmup)[0]
    conn.execute(f"DROP INDEX IF EXISTS {args.schema}.gvbench_hnsw_hnswlib")

    print(f"Fashion-MNIST 60000 x {dim}, {len(queries)} queries, k={args.k}; m {args.m}, "
          f"ef_construction {args.ef_construction}; hnswlib on 1 thread")
    print(f"build: gv_hnsw {gv_build:.1f} s, hnswlib {hl_build:.1f} s "
          f"(ratio {gv_build / hl_build:.2f})")
    print()
    print("CPU ms/q: the gv_hnsw server backend's (parse, plan, execute, heap fetches) against")
    print("hnswlib's process (Python call included); their ratio is robust to a busy machine.")
    print()
    print(f"SQL overhead: {overhead.srv_ms:.3f} ms/q of server CPU for the same statement with "
          f"WHERE id <= {args.k} ({overhead.plan}); graph = gv_hnsw server CPU less that.")
    print()
    print("| ef_search | recall gv_hnsw | recall hnswlib | q/s gv_hnsw | q/s hnswlib | q/s ratio gv/hnswlib "
          "| CPU ms/q gv_hnsw server | CPU ms/q gv_hnsw graph | CPU ms/q hnswlib "
          "| CPU ratio hnswlib/gv server | CPU ratio hnswlib/gv graph |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for ef, gr, hr, gq, hq, gms, hms in rows:
        graph_ms = gms - overhead.srv_ms
        print(f"| {ef} | {gr:.3f} | {hr:.3f} | {gq:.0f} | {hq:.0f} | {gq / hq:.2f} "
              f"| {gms:.3f} | {graph_ms:.3f} | {hms:.3f} | {hms / gms:.2f} "
              f"| {hms / graph_ms if graph_ms > 0 else float('nan'):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
