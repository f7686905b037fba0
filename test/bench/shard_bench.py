#!/usr/bin/python3
"""k-NN on a distributed table against one server holding every row:
Fashion-MNIST rows, L2, gv_hnsw (m 16, ef_construction 64) everywhere, at
ef_search 40, k 10.  In one run, interleaved query by query:

  * one server: ORDER BY emb <-> $1 LIMIT k on a table of all the rows;
  * one shard alone: the same on one shard's table (1/2 or 1/3 of the rows),
    straight on its server: the floor a fan-out adds to;
  * gigavector.distributed_search over 2 and 3 shards (every shard at once
    over libpq, answers merged);
  * a plain ORDER BY emb <-> $1 LIMIT k on the partitioned table over 2 and
    3 shards (postgres_fdw sends the ORDER BY; the shards are read one after
    another by a Merge Append).

The shards are databases of the benchmark's server (their own backends,
processes like separate clusters' on one machine).  Every answer is checked
against numpy's exact one (recall@k).

    bash test/bench/run shard_bench.py --rows 20000 --queries 200

Prints a markdown table: median and mean latency per query, the median's
ratio to one server and to one shard alone, the server CPU per query (the
backend's and, for the distributed rows, the shard sessions' serving it:
less disturbed by other jobs than latency), recall@k.  It never passes or fails.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import psycopg
from psycopg.conninfo import make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gvbench import dataset as dsmod  # noqa: E402

INDEX = "USING gv_hnsw (emb) WITH (m = 16, ef_construction = 64)"


def connect(dsn):
    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute("SET gigavector.hnsw_ef_search = 40")
    conn.execute("SET jit = off")
    return conn


def cpu_ms(pids):
    """CPU time so far of backends pids (Linux schedstat; the benchmark runs
    on the servers' machine), in ms."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e6


def remote_backends(shard_dsns, application_name):
    """The pids of the coordinator's connections to the shards (shard_fan_out's or
    postgres_fdw's sessions, by their application_name)."""
    pids = []
    for d in shard_dsns:
        with psycopg.connect(d, autocommit=True) as c:
            pids += [r[0] for r in c.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()",
                (application_name,)).fetchall()]
    return pids


def shard_databases(conn, dsn, n):
    """n fresh shard databases with gigavector; their dsns."""
    out = []
    for i in range(n):
        name = f"gv_bench_shard{i}"
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
        out.append(make_conninfo(dsn, dbname=name))
    return out


def distribute(conn, name, servers, shard_dsns):
    """Table name, distributed over servers, loaded from table single; the
    vector index built on each shard after the load (a bulk build)."""
    conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, label int, emb gvector(784))")
    conn.execute(f"ALTER TABLE {name} ALTER COLUMN emb SET STORAGE PLAIN")
    conn.execute("SELECT gigavector.create_distributed_table(%s, 'id', %s)", (name, servers))
    t = time.perf_counter()
    conn.execute(f"INSERT INTO {name} SELECT * FROM single")
    load = time.perf_counter() - t
    for (shard, server) in conn.execute(
            "SELECT remote_table, server FROM gigavector.shards WHERE tbl = %s::regclass", (name,)).fetchall():
        with psycopg.connect(shard_dsns[servers.index(server)], autocommit=True) as c:
            c.execute(f"CREATE INDEX ON {shard} {INDEX}")
            c.execute(f"VACUUM ANALYZE {shard}")
    return load


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dsn", required=True)
    p.add_argument("--rows", type=int, default=20000)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--k", type=int, default=10)
    args = p.parse_args()

    ds = dsmod.load_fashion_mnist()
    base, queries, k = ds.base[: args.rows], ds.queries[: args.queries], args.k
    sq = (base * base).sum(1)
    truth = [set(np.argsort(sq - 2 * base @ q, kind="stable")[:k].tolist()) for q in queries]

    conn = connect(args.dsn)
    conn.execute("CREATE EXTENSION IF NOT EXISTS gigavector")
    dsmod.load_table(conn, "single", "gvector", base, ds.base_labels[: args.rows], storage="plain")
    conn.execute(f"CREATE INDEX ON single {INDEX}")
    shard_dsns = shard_databases(conn, args.dsn, 3)
    servers = []
    for i, d in enumerate(shard_dsns):
        conn.execute(f"DROP SERVER IF EXISTS bench_s{i} CASCADE")
        conn.execute("SELECT gigavector.add_shard_server(%s, %s)", (f"bench_s{i}", d))
        servers.append(f"bench_s{i}")
    for n in (2, 3):
        secs = distribute(conn, f"dist{n}", servers[:n], shard_dsns)
        print(f"loaded dist{n} ({n} shards) in {secs:.1f} s", file=sys.stderr)

    one_of = {n: connect(shard_dsns[0]) for n in (2, 3)}
    plain = "SELECT id FROM {} ORDER BY emb <-> %s::gvector LIMIT %s"
    configs = {
        "one server": (conn, plain.format("single"), True),
        "one shard of 2": (one_of[2], plain.format("dist2_shard0"), None),
        "one shard of 3": (one_of[3], plain.format("dist3_shard0"), None),
        "distributed_search, 2 shards": (
            conn, "SELECT key::int FROM gigavector.distributed_search('dist2', 'emb', %s::gvector, %s)", True),
        "distributed_search, 3 shards": (
            conn, "SELECT key::int FROM gigavector.distributed_search('dist3', 'emb', %s::gvector, %s)", True),
        "ORDER BY ... LIMIT, 2 shards": (conn, plain.format("dist2"), True),
        "ORDER BY ... LIMIT, 3 shards": (conn, plain.format("dist3"), True),
    }
    times = {name: [] for name in configs}
    cpu = {name: 0.0 for name in configs}
    hits = {name: 0 for name in configs}
    pid = {id(c): c.execute("SELECT pg_backend_pid()").fetchone()[0] for c in (conn, *one_of.values())}
    pids = {}
    for rnd in range(2):  # the first round warms caches and opens the shard connections
        for qi, q in enumerate(queries):
            text = dsmod.vector_text(q)
            for name, (c, stmt, full) in configs.items():
                t = time.perf_counter()
                before = cpu_ms(pids.get(name, [pid[id(c)]])) if rnd else 0.0
                rows = c.execute(stmt, (text, k), prepare=True).fetchall()
                if rnd:
                    times[name].append(time.perf_counter() - t)
                    cpu[name] += cpu_ms(pids[name]) - before
                    if full:
                        hits[name] += len(truth[qi] & {r[0] for r in rows})
        # every backend a configuration's query runs in: its own, and the shards'
        fan, fdw = remote_backends(shard_dsns, "gigavector"), remote_backends(shard_dsns, "postgres_fdw")
        for name, (c, _, _) in configs.items():
            pids[name] = [pid[id(c)]] + (fan if "distributed_search" in name else fdw if "LIMIT," in name else [])
    one = statistics.median(times["one server"])
    print(f"\n{args.rows} Fashion-MNIST rows, {args.queries} queries, k = {k}, gv_hnsw ef_search 40\n")
    print("| configuration | median ms | mean ms | vs one server | vs one shard alone | CPU ms | CPU vs one shard alone | recall@10 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    nq = len(queries)
    for name in configs:
        med = statistics.median(times[name])
        n = 3 if "3" in name else 2
        alone = statistics.median(times[f"one shard of {n}"])
        alone_cpu = cpu[f"one shard of {n}"] / nq
        recall = f"{hits[name] / (k * nq):.3f}" if configs[name][2] else "-"
        vs = (f"{med / alone:.2f}x", f"{cpu[name] / nq / alone_cpu:.2f}x") if name != "one server" else ("-", "-")
        print(f"| {name} | {med * 1000:.2f} | {statistics.mean(times[name]) * 1000:.2f} | "
              f"{med / one:.2f}x | {vs[0]} | {cpu[name] / nq:.2f} | {vs[1]} | {recall} |")

if __name__ == "__main__":
    main()
