#!/usr/bin/python3
"""GPU search service throughput on its CPU backend, against the exact SQL scan, in one run.

One table of N random rows (gvector(D)), loaded with gigavector.gpu_load into
the worker of an embedded server (which preloads gigavector).  Q queries are
answered three ways, interleaved over ROUNDS rounds so that the machine's
drift hits all alike: one gpu_search_batch call, Q gpu_search calls, and Q
exact scans ``ORDER BY v <-> q, id LIMIT k`` (a sequential scan: the peer
the service replaces).  Prints queries per second of each and the ratios;
the hits of all three are checked equal.  Where the server's worker has a
GPU, the same script measures CUDA (gpu_status.backend says which).

With --threads 1,2 the batch is also timed at each of those
gigavector.gpu_cpu_threads settings (ALTER SYSTEM + reload, outside the
timing), interleaved in the same rounds.

    /usr/bin/python3 test/bench/gpu_bench.py [--rows 20000] [--dim 128] [--queries 100] [--k 10]
                                             [--threads 1,2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

import numpy as np  # noqa: E402

from gigavector import Database  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="", help="comma-separated gpu_cpu_threads settings to time")
    a = ap.parse_args()
    rng = np.random.default_rng(1)
    data = rng.standard_normal((a.rows, a.dim)).astype(np.float32)
    queries = [("[" + ",".join(map(repr, q.tolist())) + "]") for q in
               rng.standard_normal((a.queries, a.dim)).astype(np.float32)]
    with Database.open(None, a.dim, embedded=True) as db:
        db.add_vectors(data)
        with db.connection() as conn:
            t = db.table.as_string(conn)
            conn.execute("SET max_parallel_workers_per_gather = 0")
            conn.execute("SELECT gigavector.gpu_load(%s::regclass, 'embedding')", (t,))
            backend, process = conn.execute("SELECT backend, process FROM gigavector.gpu_status").fetchone()
            times: dict[str, list[float]] = {"batch": [], "single": [], "scan": []}
            settings = [int(x) for x in a.threads.split(",") if x]
            for threads in settings:
                times[f"batch-t{threads}"] = []
            for _ in range(a.rounds):
                for threads in settings:
                    conn.execute(f"ALTER SYSTEM SET gigavector.gpu_cpu_threads = {threads}")
                    conn.execute("SELECT pg_reload_conf()")
                    time.sleep(0.5)
                    t0 = time.perf_counter()
                    conn.execute("SELECT query_no, id FROM gigavector.gpu_search_batch(%s::regclass,"
                                 " 'embedding', %s::gvector[], %s)", (t, queries, a.k)).fetchall()
                    times[f"batch-t{threads}"].append(time.perf_counter() - t0)
                if settings:
                    conn.execute("ALTER SYSTEM RESET gigavector.gpu_cpu_threads")
                    conn.execute("SELECT pg_reload_conf()")
                    time.sleep(0.5)
                t0 = time.perf_counter()
                batch = conn.execute("SELECT query_no, id FROM gigavector.gpu_search_batch(%s::regclass,"
                                     " 'embedding', %s::gvector[], %s)", (t, queries, a.k)).fetchall()
                times["batch"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                single = [conn.execute("SELECT id FROM gigavector.gpu_search(%s::regclass, 'embedding',"
                                       " %s::gvector, %s)", (t, q, a.k)).fetchall() for q in queries]
                times["single"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                scan = [conn.execute(f"SELECT id FROM {t} ORDER BY embedding <-> %s::gvector, id LIMIT %s",
                                     (q, a.k)).fetchall() for q in queries]
                times["scan"].append(time.perf_counter() - t0)
            by_query = [[i for qn, i in batch if qn == n + 1] for n in range(a.queries)]
            assert by_query == [[r[0] for r in s] for s in single] == [[r[0] for r in s] for s in scan]
    qps = {name: a.queries / min(ts) for name, ts in times.items()}
    print(f"{a.rows} rows x {a.dim} dims, {a.queries} queries, k = {a.k}, backend {backend} ({process}),"
          f" best of {a.rounds} interleaved rounds")
    for name in times:
        print(f"  {name:10s} {qps[name]:9.1f} queries/s   {qps[name] / qps['scan']:5.2f}x the exact scan")


if __name__ == "__main__":
    main()
