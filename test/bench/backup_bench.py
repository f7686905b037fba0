#!/usr/bin/python3
"""Backup and restore of the 60,000 x 784 Fashion-MNIST collection: .gvb
against pg_dump -Fc and COPY + the zstd command line, in one run.

Backups (each method --repeat times, the methods interleaved): the .gvb
stream received by the client (gigavector.backup with path NULL, written
by psycopg), the .gvb server file, pg_dump -Fc -t, COPY TO STDOUT (text and
binary) piped into zstd -3.  Each prints seconds, MB/s of row data (the
.gvb raw payload: the values' bytes) and the ratio of that to the output's
size.  Restores (once each, into a fresh table or database): the .gvb server
file, pg_restore of the dump, zstd -d piped into COPY FROM STDIN followed by
the same CREATE INDEX; each includes rebuilding the index.

    bash test/bench/run backup_bench.py [--repeat 3] [--index hnsw|ivfpq|none]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

import psycopg  # noqa: E402

from gvbench import dataset as dsmod  # noqa: E402

INDEXES = {
    "hnsw": "CREATE INDEX {t}_emb ON {t} USING gv_hnsw (emb) WITH (m = 16, ef_construction = 64)",
    "ivfpq": "CREATE INDEX {t}_emb ON {t} USING gv_ivfpq (emb) WITH (lists = 245, subquantizers = 49, bits = 8)",
    "none": None,
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def libpq_env(dsn: str) -> dict:
    """The environment that points pg_dump, pg_restore and psql at the DSN's server."""
    env = dict(os.environ)
    for k, v in psycopg.conninfo.conninfo_to_dict(dsn).items():
        key = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "dbname": "PGDATABASE"}.get(k)
        if key:
            env[key] = str(v)
    return env


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dsn", default="")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--index", choices=sorted(INDEXES), default="hnsw")
    p.add_argument("--level", type=int, default=3, help="zstd level of every method")
    args = p.parse_args(argv)

    from gigavector.backup import backup_read_header  # the client-side reader

    env = libpq_env(args.dsn)
    conn = psycopg.connect(args.dsn, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS gigavector")
    conn.execute("SET maintenance_work_mem = '1GB'")
    ds = dsmod.load_fashion_mnist()
    log(f"loading {len(ds.base)} x {ds.dim} ...")
    dsmod.load_table(conn, "fm", "gvector", ds.base, ds.base_labels, storage="plain")
    index_sql = INDEXES[args.index]
    if index_sql:
        t = timed(lambda: conn.execute(index_sql.format(t="fm")))
        log(f"index {args.index} built in {t:.1f} s")
    work = tempfile.mkdtemp(prefix="gvbackup-bench-")
    os.chmod(work, 0o777)
    srv = conn.execute("SELECT current_setting('data_directory')").fetchone()[0]
    server_dir = os.path.join(os.path.dirname(srv), "bench-files")  # a folder the server may write
    conn.execute(f"COPY (SELECT 1) TO PROGRAM 'mkdir -p {server_dir}'")

    def gvb_stream():
        path = os.path.join(work, "fm.gvb")
        with conn.cursor(binary=True) as cur, open(path, "wb") as f:
            for (chunk,) in cur.stream("SELECT c FROM gigavector.backup('fm', NULL, 'zstd', %s) c",
                                       (args.level,)):
                f.write(chunk)
        return path

    def gvb_file():
        path = os.path.join(server_dir, "fm.gvb")
        if os.path.exists(path):
            conn.execute(f"COPY (SELECT 1) TO PROGRAM 'rm -f {path}'")
        conn.execute("SELECT count(*) FROM gigavector.backup('fm', %s, 'zstd', %s)", (path, args.level))
        return path

    def pg_dump():
        path = os.path.join(work, "fm.dump")
        subprocess.run(["pg_dump", "-Fc", "-t", "fm", "-f", path], env=env, check=True)
        return path

    def copy_zstd(fmt):
        def run():
            path = os.path.join(work, f"fm.{fmt}.zst")
            copy = "COPY fm TO STDOUT" + (" WITH (FORMAT binary)" if fmt == "binary" else "")
            cmd = f"psql -X -q -c \"{copy}\" | zstd -q -{args.level} -f -o {path}"
            subprocess.run(cmd, shell=True, env=env, check=True)
            return path
        return run

    methods = {"gvb stream": gvb_stream, "gvb server file": gvb_file, "pg_dump -Fc": pg_dump,
               "COPY text + zstd": copy_zstd("text"), "COPY binary + zstd": copy_zstd("binary")}
    times = {m: [] for m in methods}
    sizes = {}
    for r in range(args.repeat):
        for name, fn in methods.items():
            t0 = time.perf_counter()
            path = fn()
            times[name].append(time.perf_counter() - t0)
            sizes[name] = os.path.getsize(path) if os.path.exists(path) else \
                conn.execute("SELECT (pg_stat_file(%s)).size", (path,)).fetchone()[0]
            log(f"  {r + 1}/{args.repeat} {name}: {times[name][-1]:.2f} s, {sizes[name] / 1e6:.1f} MB")
    header = backup_read_header(os.path.join(work, "fm.gvb"))
    raw = header.raw_bytes
    print(f"\nrow data (the .gvb raw payload): {raw / 1e6:.1f} MB, {header.vector_count} rows, "
          f"zstd level {args.level} (pg_dump: its default, gzip 6), index: {args.index}")
    print("| backup | median s | MB/s | output MB | ratio |")
    print("|---|---|---|---|---|")
    for name in methods:
        med = statistics.median(times[name])
        print(f"| {name} | {med:.2f} | {raw / 1e6 / med:.0f} | {sizes[name] / 1e6:.1f} | "
              f"{raw / sizes[name]:.2f} |")

    # restores, each with the index rebuilt
    results = []
    conn.execute("DROP TABLE IF EXISTS fm_gvb")
    t = timed(lambda: conn.execute("SELECT gigavector.restore(%s, 'fm_gvb')",
                                   (os.path.join(server_dir, "fm.gvb"),)))
    results.append(("gvb server file (gigavector.restore)", t))
    conn.execute("DROP TABLE fm_gvb")
    chunk_t = timed(lambda: subprocess.run(
        [sys.executable, "-c",
         "import sys, psycopg; c = psycopg.connect(sys.argv[1], autocommit=True)\n"
         "with c.transaction():\n"
         "    c.execute('CREATE TEMP TABLE ch (n int, c bytea) ON COMMIT DROP')\n"
         "    with open(sys.argv[2], 'rb') as f, c.cursor().copy('COPY ch FROM STDIN WITH (FORMAT binary)') as cp:\n"
         "        cp.set_types(['int4', 'bytea'])\n"
         "        n = 0\n"
         "        while b := f.read(1 << 20):\n"
         "            cp.write_row((n, b)); n += 1\n"
         "    c.execute(\"SET maintenance_work_mem = '1GB'\")\n"
         "    c.execute(\"SELECT gigavector.restore(c, 'fm_gvb2' ORDER BY n) FROM ch\")\n",
         args.dsn, os.path.join(work, "fm.gvb")], check=True))
    results.append(("gvb from the client (COPY chunks + aggregate)", chunk_t))
    conn.execute("DROP TABLE fm_gvb2")
    conn.execute("DROP DATABASE IF EXISTS fm_restore")
    conn.execute("CREATE DATABASE fm_restore")
    with psycopg.connect(args.dsn, dbname="fm_restore", autocommit=True) as c2:
        c2.execute("CREATE EXTENSION gigavector")  # pg_dump -t leaves extensions out
    renv = dict(env, PGDATABASE="fm_restore", PGOPTIONS="-c maintenance_work_mem=1GB")
    t = timed(lambda: subprocess.run(["pg_restore", "-d", "fm_restore", os.path.join(work, "fm.dump")],
                                     env=renv, check=True))
    results.append(("pg_restore of pg_dump -Fc", t))
    conn.execute("DROP TABLE IF EXISTS fm_copy")
    conn.execute("CREATE TABLE fm_copy (LIKE fm INCLUDING ALL EXCLUDING INDEXES)")

    def copy_restore():
        subprocess.run(f"zstd -q -d -c {os.path.join(work, 'fm.binary.zst')} | "
                       f"psql -X -q -c \"COPY fm_copy FROM STDIN WITH (FORMAT binary)\"",
                       shell=True, env=env, check=True)
        conn.execute("ALTER TABLE fm_copy ADD PRIMARY KEY (id)")
        if index_sql:
            conn.execute(index_sql.format(t="fm_copy"))
    results.append(("zstd -d + COPY binary + CREATE INDEX", timed(copy_restore)))
    print(f"\n| restore (index: {args.index}, rebuilt) | s | MB/s |")
    print("|---|---|---|")
    for name, t in results:
        print(f"| {name} | {t:.1f} | {raw / 1e6 / t:.0f} |")
    conn.execute("DROP TABLE fm_copy")
    conn.execute("DROP DATABASE fm_restore")
    conn.execute(f"COPY (SELECT 1) TO PROGRAM 'rm -rf {server_dir}'")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
