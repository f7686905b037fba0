#!/usr/bin/python3
"""TTL expiry throughput: the TTL worker against a plain DELETE loop, in one run.

Two tables of the same N rows (a gvector(D) column with a gv_hnsw index, a
btree on the expiry), every row already expired.  The worker (an embedded
server the package starts, which preloads gigavector) deletes one table's
rows after its interval is cut from an hour to a second; the other table is
emptied by the loop a cron job would run — ``DELETE ... WHERE id IN (SELECT
id ... WHERE expires_at < now() LIMIT batch)``, one transaction per batch —
and by one ``DELETE ... WHERE expires_at < now()``.  Each prints rows per
second; the worker's is also given as a ratio to the loop's.  Meanwhile one
reader runs k-NN queries (k = 10) on a third, untouched table; its q/s while
the worker deletes is compared with its q/s just before, idle.

    /usr/bin/python3 test/bench/ttl_bench.py [--rows 50000] [--dim 32] [--batch 5000]
        [--reader-rows N] [--no-one-delete]

--reader-rows sizes the readers' table apart (default: --rows); --no-one-delete
leaves out the single unbatched DELETE (and its table), so that a 1M-row run
builds three indexes instead of four.

(Its own server: the test/bench/run cluster does not preload the library.)
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

import psycopg  # noqa: E402

from gigavector import Database, IndexType  # noqa: E402


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_table(conn: psycopg.Connection, name: str, rows: int, dim: int, expired: bool) -> None:
    t0 = time.perf_counter()
    conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, emb gvector({dim}), expires_at timestamptz)")
    when = "now() - interval '1 minute'" if expired else "NULL"
    conn.execute(f"INSERT INTO {name} SELECT i, (SELECT array_agg(random()::real) FROM "
                 f"generate_series(1, {dim}) j WHERE i > 0)::gvector, {when} FROM generate_series(1, {rows}) i")
    conn.execute(f"CREATE INDEX ON {name} USING gv_hnsw (emb) WITH (m = 16, ef_construction = 64)")
    conn.execute(f"CREATE INDEX ON {name} (expires_at)")
    conn.execute(f"VACUUM ANALYZE {name}")
    log(f"  {name}: {rows} rows and indexes in {time.perf_counter() - t0:.0f} s")


class Reader(threading.Thread):
    """k-NN queries on one connection; counts them per phase."""

    def __init__(self, conninfo: str, dim: int) -> None:
        super().__init__(daemon=True)
        self.conninfo, self.dim = conninfo, dim
        self.phase: str | None = None
        self.counts: dict[str, int] = {}
        self.stop = False

    def run(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as c:
            q = "SELECT id FROM readers ORDER BY emb <-> %s::gvector LIMIT 10"
            vec = "[" + ",".join("0.5" for _ in range(self.dim)) + "]"
            while not self.stop:
                c.execute(q, (vec,), prepare=True).fetchall()
                if self.phase is not None:
                    self.counts[self.phase] = self.counts.get(self.phase, 0) + 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=50000)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--reader-rows", type=int, default=None)
    ap.add_argument("--no-one-delete", action="store_true")
    args = ap.parse_args()
    reader_rows = args.reader_rows or args.rows
    started = datetime.datetime.utcnow()

    with Database.open(None, 2, index=IndexType.HNSW, embedded=True) as holder:
        conninfo = holder.conninfo
        with psycopg.connect(conninfo, autocommit=True) as c:
            c.execute("CREATE EXTENSION IF NOT EXISTS gigavector")
            c.execute("ALTER SYSTEM SET gigavector.ttl_cleanup_interval = 3600")
            c.execute(f"ALTER SYSTEM SET gigavector.ttl_batch_size = {args.batch}")
            c.execute("SELECT pg_reload_conf()")
            # a 1M-row graph fits in memory: the build does not spill
            c.execute("SET maintenance_work_mem = '2GB'")
            version = c.execute("SELECT extversion FROM pg_extension WHERE extname = 'gigavector'").fetchone()
            log(f"gigavector {version[0]}, {args.rows} rows x {args.dim} dims, batch {args.batch}")
            log("loading readers, by_worker, by_loop ...")
            make_table(c, "readers", reader_rows, args.dim, expired=False)
            make_table(c, "by_worker", args.rows, args.dim, expired=True)
            c.execute("SELECT gigavector.enable_ttl('by_worker')")
            make_table(c, "by_loop", args.rows, args.dim, expired=True)
            if not args.no_one_delete:
                make_table(c, "by_one", args.rows, args.dim, expired=True)
            c.execute("CHECKPOINT")

            reader = Reader(conninfo, args.dim)
            reader.start()
            time.sleep(1)
            # idle: as long as the worker will take, measured after it
            # the worker: cut the interval, wait until every row is gone
            reader.phase = "worker"
            t0 = time.perf_counter()
            c.execute("ALTER SYSTEM SET gigavector.ttl_cleanup_interval = 1")
            c.execute("SELECT pg_reload_conf()")
            first = None  # when the first batch committed: the worker process is up
            while (done := c.execute("SELECT rows_deleted FROM gigavector.ttl_stats").fetchone()[0]) < args.rows:
                if first is None and done > 0:
                    first = (time.perf_counter(), done)
                time.sleep(0.01)
            worker_s = time.perf_counter() - t0
            if first is None:
                first = (time.perf_counter(), args.rows)
            steady_s = time.perf_counter() - first[0]
            steady_rows = args.rows - first[1]
            reader.phase = None
            c.execute("ALTER SYSTEM SET gigavector.ttl_cleanup_interval = 3600")
            c.execute("SELECT pg_reload_conf()")
            time.sleep(1)
            reader.phase = "idle"
            time.sleep(worker_s)
            reader.phase = None

            # the cron loop: one transaction per batch
            reader.phase = "loop"
            t0 = time.perf_counter()
            while c.execute(f"DELETE FROM by_loop WHERE id IN (SELECT id FROM by_loop "
                            f"WHERE expires_at < now() LIMIT {args.batch})").rowcount:
                pass
            loop_s = time.perf_counter() - t0
            reader.phase = None
            one_s = None
            if not args.no_one_delete:
                t0 = time.perf_counter()
                c.execute("DELETE FROM by_one WHERE expires_at < now()")
                one_s = time.perf_counter() - t0
            reader.stop = True
            reader.join()

    n = args.rows
    commit = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse", "--short",
                             "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"ttl_bench: {n} rows x {args.dim} dims (readers' table {reader_rows} rows), batch {args.batch}; "
          f"commit {commit}, started {started:%Y-%m-%d %H:%M} UTC")
    print()
    print(f"| method | seconds | rows/s | vs DELETE loop |")
    print(f"|---|---:|---:|---:|")
    print(f"| TTL worker (batches of {args.batch}, one transaction each) | {worker_s:.2f} | {n / worker_s:,.0f} | {loop_s / worker_s:.2f}× |")
    if steady_rows > 0:
        print(f"| TTL worker after its first batch (process started, connected) | {steady_s:.2f} | "
              f"{steady_rows / steady_s:,.0f} | {(steady_rows / steady_s) / (n / loop_s):.2f}× |")
    print(f"| DELETE … WHERE id IN (… LIMIT {args.batch}) loop | {loop_s:.2f} | {n / loop_s:,.0f} | 1.00× |")
    if one_s is not None:
        print(f"| one DELETE … WHERE expires_at < now() | {one_s:.2f} | {n / one_s:,.0f} | {loop_s / one_s:.2f}× |")
    idle = reader.counts.get("idle", 0) / worker_s
    during = reader.counts.get("worker", 0) / worker_s
    loop_q = reader.counts.get("loop", 0) / loop_s
    print()
    print("| concurrent k-NN reader (k = 10, one connection) | q/s | vs idle |")
    print("|---|---:|---:|")
    print(f"| idle | {idle:,.0f} | 1.00× |")
    print(f"| while the TTL worker deletes | {during:,.0f} | {during / idle:.2f}× |")
    print(f"| while the DELETE loop runs | {loop_q:,.0f} | {loop_q / idle:.2f}× |")


if __name__ == "__main__":
    main()
