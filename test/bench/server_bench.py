#!/usr/bin/python3
"""The REST server against the same searches sent straight to PostgreSQL,
and a bounded load test of the server.

    bash test/bench/run server_bench.py [--rows 20000] [--clients 8] [--seconds 10] [--repeat 3]
                                        [--load-clients 16] [--load-seconds 30]

Fashion-MNIST (Debian's dataset-fashion-mnist): --rows training images in a
gv_hnsw collection (Database.add_vectors), test images as queries, k = 10.
In one run, in rotating order, --repeat times each:
  * direct:     --clients threads, each with its own psycopg connection, run
                Database.search's statement (prepared, binary), which also
                returns each hit's vector (decoded in the client);
  * direct-lean: the same without the vectors: id, metadata and distance,
                what the server's answer holds;
  * server:     --clients threads, each with one keep-alive HTTP connection
                (http.client), POST /search to `python3 -m gigavector serve`
                running in its own process, without authentication;
  * server+key: the same with an API key whose role may read the table, so
                every request also reads its key and runs SET LOCAL ROLE.
Both sides are Python clients on the same machine (the direct clients decode
their rows in the benchmark's process, under one GIL; the server decodes in
its own); the table gives q/s and the ratios to direct and direct-lean
(medians of the repeats).

The load test then runs --load-clients clients for --load-seconds against
the keyed server: each request is an insert (1 in 4) or a search; it counts
errors, checks that the collection grew by exactly the acknowledged inserts,
and reports p50/p99 latency of each kind.  Nothing passes or fails on a time.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import numpy as np
import psycopg

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
sys.path.insert(0, os.path.dirname(__file__))

from gigavector import AuthConfig, AuthManager, Database, IndexType, Vector  # noqa: E402
from gigavector.psycopg import register_gvector  # noqa: E402
from gvbench.dataset import load_fashion_mnist  # noqa: E402

PYTHON_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "python")
TABLE = "bench_server"
ROLE = "gv_bench_reader"


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=os.path.dirname(__file__)).stdout.strip() or "?"
    except OSError:
        return "?"


def run_clients(n: int, seconds: float, one: "callable") -> tuple[int, int]:
    """Run one(i, state) in n threads for seconds; (requests done, errors)."""
    done = [0] * n
    errors = [0] * n
    stop = time.monotonic() + seconds

    def loop(w: int) -> None:
        state: dict = {}
        i = w
        while time.monotonic() < stop:
            try:
                one(i, state)
                done[w] += 1
            except Exception as e:  # counted, shown once
                if errors[w] == 0:
                    print(f"  client {w}: {e!r}", file=sys.stderr)
                errors[w] += 1
            i += n
        if "close" in state:
            state["close"]()

    threads = [threading.Thread(target=loop, args=(w,)) for w in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done), sum(errors)


def direct_search(dsn: str, queries: np.ndarray, lean: bool = False):
    columns = "id, metadata" if lean else "id, embedding, metadata"
    stmt = (f'SELECT {columns}, embedding <-> %b AS distance FROM "{TABLE}" '
            f"ORDER BY distance LIMIT 10")

    def one(i: int, state: dict) -> None:
        conn = state.get("conn")
        if conn is None:
            conn = state["conn"] = psycopg.connect(dsn, autocommit=True)
            register_gvector(conn)
            state["close"] = conn.close
        rows = conn.execute(stmt, (Vector(queries[i % len(queries)]),), binary=True,
                            prepare=True).fetchall()
        if len(rows) != 10:
            raise RuntimeError(f"{len(rows)} rows")
    return one


def http_search(port: int, bodies: list[bytes], key: str | None):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["X-API-Key"] = key

    def one(i: int, state: dict) -> None:
        conn = state.get("conn")
        if conn is None:
            conn = state["conn"] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            state["close"] = conn.close
        conn.request("POST", "/search", body=bodies[i % len(bodies)], headers=headers)
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"{r.status}: {data[:200]!r}")
        if len(json.loads(data)["hits"]) != 10:
            raise RuntimeError("not 10 hits")
    return one


def start_server(dsn: str, auth: bool, dim: int, clients: int) -> tuple[subprocess.Popen, int]:
    args = [sys.executable, "-m", "gigavector", "serve", "--dsn", dsn, "--path", TABLE,
            "--dimension", str(dim), "--port", "0", "--pool-size", str(clients)]
    if auth:
        args += ["--auth", "api_key"]
    proc = subprocess.Popen(args, cwd=PYTHON_DIR, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("gigavector: listening on"):
        proc.kill()
        raise RuntimeError(f"the server did not start: {line!r}")
    return proc, int(line.rsplit(":", 1)[1])


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    rc = proc.wait(60)
    if rc != 0:
        raise RuntimeError(f"the server exited with {rc} on SIGTERM")


def load_test(port: int, key: str, dim: int, queries: np.ndarray, clients: int, seconds: float,
              db: Database) -> dict:
    before = db.count()
    acked: list[int] = []
    lat: dict[str, list[float]] = {"insert": [], "search": []}
    lock = threading.Lock()
    headers = {"Content-Type": "application/json", "X-API-Key": key}
    bodies = [json.dumps({"vector": q.tolist(), "k": 10}).encode() for q in queries[:200]]
    inserts = [json.dumps({"vector": q.tolist(), "metadata": {"load": True}}).encode()
               for q in queries[200:400]]

    def one(i: int, state: dict) -> None:
        conn = state.get("conn")
        if conn is None:
            conn = state["conn"] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            state["close"] = conn.close
        kind = "insert" if i % 4 == 0 else "search"
        body = inserts[i % len(inserts)] if kind == "insert" else bodies[i % len(bodies)]
        t0 = time.perf_counter()
        conn.request("POST", "/vectors" if kind == "insert" else "/search", body=body,
                     headers=headers)
        r = conn.getresponse()
        data = r.read()
        took = time.perf_counter() - t0
        if r.status != 200:
            raise RuntimeError(f"{r.status}: {data[:200]!r}")
        with lock:
            lat[kind].append(took)
            if kind == "insert":
                acked.append(json.loads(data)["id"])

    done, errors = run_clients(clients, seconds, one)
    after = db.count()

    def pct(xs: list[float], p: float) -> float:
        return float(np.percentile(xs, p) * 1000) if xs else float("nan")
    return {"requests": done, "errors": errors, "acked_inserts": len(acked),
            "distinct_ids": len(set(acked)), "rows_added": after - before,
            "insert_p50": pct(lat["insert"], 50), "insert_p99": pct(lat["insert"], 99),
            "search_p50": pct(lat["search"], 50), "search_p99": pct(lat["search"], 99),
            "rps": done / seconds}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--load-clients", type=int, default=16)
    ap.add_argument("--load-seconds", type=float, default=30)
    args = ap.parse_args()
    started = datetime.datetime.now(datetime.timezone.utc)

    ds = load_fashion_mnist()
    base = ds.base[:args.rows]
    queries = ds.queries[:args.queries]
    print(f"loading {len(base)} vectors of {ds.dim} dimensions ...", file=sys.stderr)
    db = Database.open(TABLE, ds.dim, IndexType.HNSW, dsn=args.dsn)
    with db.connection() as c:
        c.execute(f'TRUNCATE "{TABLE}"')
        c.execute(f'DROP ROLE IF EXISTS {ROLE}')
        c.execute(f"CREATE ROLE {ROLE} NOLOGIN")
        c.execute(f'GRANT SELECT, INSERT ON "{TABLE}" TO {ROLE}')
        c.execute(f'GRANT USAGE ON SEQUENCE "{TABLE}_id_seq" TO {ROLE}')
    db.add_vectors(base, progress=False)
    with db.connection() as c:
        c.execute(f'VACUUM ANALYZE "{TABLE}"')
        c.execute("TRUNCATE gigavector.api_keys")
    auth = AuthManager(AuthConfig(), db)
    key, _ = auth.generate_api_key("bench", role=ROLE)
    auth.close()

    bodies = [json.dumps({"vector": q.tolist(), "k": 10}).encode() for q in queries]
    plain, plain_port = start_server(args.dsn, False, ds.dim, args.clients)
    keyed, keyed_port = start_server(args.dsn, True, ds.dim, args.clients)
    modes = {"direct": direct_search(args.dsn, queries),
             "direct-lean": direct_search(args.dsn, queries, lean=True),
             "server": http_search(plain_port, bodies, None),
             "server+key": http_search(keyed_port, bodies, key)}
    qps: dict[str, list[float]] = {m: [] for m in modes}
    errors = {m: 0 for m in modes}
    order = list(modes)
    try:
        for m in order:  # warm-up: caches, prepared statements, pools
            run_clients(args.clients, 2, modes[m])
        for r in range(args.repeat):
            for m in order[r % len(order):] + order[:r % len(order)]:
                done, errs = run_clients(args.clients, args.seconds, modes[m])
                qps[m].append(done / args.seconds)
                errors[m] += errs
                print(f"  {m}: {done / args.seconds:.0f} q/s", file=sys.stderr)
        stop_server(plain)
        load = load_test(keyed_port, key, ds.dim, ds.queries, args.load_clients,
                         args.load_seconds, db)
    finally:
        for p in (plain, keyed):
            if p.poll() is None:
                stop_server(p)
    direct = statistics.median(qps["direct"])
    lean = statistics.median(qps["direct-lean"])
    print(f"\nCommand: `bash test/bench/run server_bench.py --rows {args.rows} --clients "
          f"{args.clients} --seconds {args.seconds:g} --repeat {args.repeat} --load-clients "
          f"{args.load_clients} --load-seconds {args.load_seconds:g}`  ")
    print(f"Commit {commit()}, run at {started:%Y-%m-%d %H:%M} UTC; fashion-mnist {len(base)} rows "
          f"x {ds.dim}, gv_hnsw (default settings), k = 10, {args.clients} clients\n")
    print("| path | q/s (median) | runs | errors | ratio to direct | ratio to direct-lean |")
    print("|---|---:|---|---:|---:|---:|")
    for m in order:
        runs = ", ".join(f"{x:.0f}" for x in qps[m])
        print(f"| {m} | {statistics.median(qps[m]):.0f} | {runs} | {errors[m]} | "
              f"{statistics.median(qps[m]) / direct:.2f}x | {statistics.median(qps[m]) / lean:.2f}x |")
    print(f"\nLoad test: {args.load_clients} clients, {args.load_seconds:g} s, 1 insert in 4, "
          f"API key: {load['requests']} requests ({load['rps']:.0f}/s), {load['errors']} errors, "
          f"{load['acked_inserts']} inserts acknowledged ({load['distinct_ids']} distinct ids), "
          f"rows added {load['rows_added']}; insert p50 {load['insert_p50']:.1f} ms, p99 "
          f"{load['insert_p99']:.1f} ms; search p50 {load['search_p50']:.1f} ms, p99 "
          f"{load['search_p99']:.1f} ms")
    ok = load["errors"] == 0 and load["acked_inserts"] == load["rows_added"] == load["distinct_ids"]
    print(f"Load test {'consistent' if ok else 'INCONSISTENT'}: "
          f"final count = acknowledged inserts: {load['acked_inserts'] == load['rows_added']}")
    with db.connection() as c:
        c.execute(f'DROP TABLE "{TABLE}"')
        c.execute("TRUNCATE gigavector.api_keys")
        c.execute(f"DROP ROLE {ROLE}")
    db.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
