#!/usr/bin/python3
"""gv_kdtree benchmark: Fashion-MNIST projected with PCA to low dimensions,
against the exact k-NN peers Postgres already has, measured in one cluster
and one run, with the runs being compared interleaved:

  * contrib cube + GiST k-NN (8 and 16 dimensions): queries/s, build s, size
  * SP-GiST kd_point_ops on 2-D point: queries/s, build s, size
  * a sequential scan of gvector: queries/s per dimension, and the crossover
    dimension above which the KD-tree stops beating it

    /usr/bin/python3 test/bench/kdtree_bench.py --dsn "host=... dbname=..."

Needs CREATE EXTENSION rights for gigavector and cube.  Prints a markdown
table of ratios (gv_kdtree / peer); it never passes or fails.
"""
import argparse
import gzip
import time

import numpy as np
import psycopg

FM = "/usr/share/datasets/fashion-mnist"


def load(name, off, shape):
    with gzip.open(f"{FM}/{name}") as f:
        return np.frombuffer(f.read(), np.uint8, offset=off).reshape(shape).astype(np.float64)


def vec(v):
    return "[" + ",".join(repr(float(x)) for x in v) + "]"


def cube(v):
    return "(" + ",".join(repr(float(x)) for x in v) + ")"


def timed(conn, sql):
    t = time.perf_counter()
    conn.execute(sql)
    return time.perf_counter() - t


def size(conn, name):
    return conn.execute("SELECT pg_relation_size(%s::regclass)", (name,)).fetchone()[0]


def qps(conn, sql, params, rounds=1):
    for p in params[:5]:  # warm the cache and the prepared plan
        conn.execute(sql, (p,), prepare=True).fetchall()
    t = time.perf_counter()
    for _ in range(rounds):
        for p in params:
            conn.execute(sql, (p,), prepare=True).fetchall()
    return rounds * len(params) / (time.perf_counter() - t)


def qps_pair(conn, sql_a, params_a, sql_b, params_b, block=30):
    """q/s of two statements run alternately in blocks of `block` queries,
    each side first in turn, so that a machine shared with other work slows
    both alike while each block runs with its own caches warm (query by
    query alternation evicts each side's working set for the other)."""
    for pa, pb in zip(params_a[:5], params_b[:5]):  # warm the caches and plans
        conn.execute(sql_a, (pa,), prepare=True).fetchall()
        conn.execute(sql_b, (pb,), prepare=True).fetchall()
    spent = [0.0, 0.0]
    for n, lo in enumerate(range(0, len(params_a), block)):
        for side in ((0, 1) if n % 2 == 0 else (1, 0)):
            sql, params = ((sql_a, params_a), (sql_b, params_b))[side]
            t = time.perf_counter()
            for p in params[lo:lo + block]:
                conn.execute(sql, (p,), prepare=True).fetchall()
            spent[side] += time.perf_counter() - t
    return len(params_a) / spent[0], len(params_b) / spent[1]


def copy_rows(conn, table, rows):
    with conn.cursor().copy(f"COPY {table} FROM STDIN") as cp:
        for r in rows:
            cp.write_row(r)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dsn", default="")
    ap.add_argument("--rows", type=int, default=60000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of queries, alternating with the peer in blocks of --block; "
                         "q/s over all rounds, ratio the median of the rounds'")
    ap.add_argument("--block", type=int, default=30, help="queries per alternation block")
    ap.add_argument("--only", choices=("cube", "2d", "seq"), action="append",
                    help="run only these parts (repeatable); default all")
    ap.add_argument("--crossover-dims", default="2,4,8,16,24,32,48,64")
    a = ap.parse_args()

    X = load("train-images-idx3-ubyte.gz", 16, (-1, 784))[: a.rows]
    Q = load("t10k-images-idx3-ubyte.gz", 16, (-1, 784))[: a.queries]
    mu = X.mean(0)
    _, _, vt = np.linalg.svd(X[::6] - mu, full_matrices=False)

    def proj(M, d):
        return ((M - mu) @ vt[:d].T).astype(np.float32)

    conn = psycopg.connect(a.dsn, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS gigavector")
    conn.execute("CREATE EXTENSION IF NOT EXISTS cube")
    conn.execute("SET max_parallel_workers_per_gather = 0")
    conn.execute("SET max_parallel_maintenance_workers = 0")
    rows = []
    k = a.k
    parts = set(a.only or ("cube", "2d", "seq"))

    def compare(sql_a, qa, sql_b, qb):
        ra, rb = [], []
        for _ in range(a.rounds):
            x, y = qps_pair(conn, sql_a, qa, sql_b, qb, a.block)
            ra.append(x)
            rb.append(y)
        ratios = sorted(x / y for x, y in zip(ra, rb))
        return (a.rounds / sum(1 / x for x in ra), a.rounds / sum(1 / y for y in rb),
                ratios[len(ratios) // 2])

    # --- cube + GiST at 8 and 16 dimensions --------------------------------
    for d in ((8, 16) if "cube" in parts else ()):
        P, PQ = proj(X, d), proj(Q, d)
        conn.execute(f"DROP TABLE IF EXISTS kb_g{d}, kb_c{d}")
        conn.execute(f"CREATE TABLE kb_g{d} (id int, emb gvector({d}))")
        conn.execute(f"CREATE TABLE kb_c{d} (id int, c cube)")
        copy_rows(conn, f"kb_g{d}", ((i, vec(v)) for i, v in enumerate(P)))
        copy_rows(conn, f"kb_c{d}", ((i, cube(v)) for i, v in enumerate(P)))
        conn.execute(f"VACUUM ANALYZE kb_g{d}")
        conn.execute(f"VACUUM ANALYZE kb_c{d}")
        bg, bc = [], []
        for _ in range(2):  # interleaved builds
            conn.execute(f"DROP INDEX IF EXISTS kb_g{d}_i")
            bg.append(timed(conn, f"CREATE INDEX kb_g{d}_i ON kb_g{d} USING gv_kdtree (emb)"))
            conn.execute(f"DROP INDEX IF EXISTS kb_c{d}_i")
            bc.append(timed(conn, f"CREATE INDEX kb_c{d}_i ON kb_c{d} USING gist (c)"))
        qg = [vec(v) for v in PQ]
        qc = [cube(v) for v in PQ]
        sg, sc, ratio = compare(f"SELECT id FROM kb_g{d} ORDER BY emb <-> %s::gvector LIMIT {k}", qg,
                                f"SELECT id FROM kb_c{d} ORDER BY c <-> %s::cube LIMIT {k}", qc)
        # same answers?
        same = sum(
            conn.execute(f"SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM kb_g{d} ORDER BY emb <-> %s::gvector LIMIT {k}) s", (g,)).fetchone()[0]
            == conn.execute(f"SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM kb_c{d} ORDER BY c <-> %s::cube LIMIT {k}) s", (c,)).fetchone()[0]
            for g, c in zip(qg[:50], qc[:50]))
        rows.append((f"{d}-D vs cube+GiST", sg, sc, ratio, min(bg), min(bc),
                     size(conn, f"kb_g{d}_i"), size(conn, f"kb_c{d}_i"), f"{same}/50 identical"))

    # --- SP-GiST kd_point_ops on 2-D points --------------------------------
    if "2d" in parts:
        rows.append(compare_2d(conn, a, proj(X, 2), proj(Q, 2), compare))
    print_table(a, rows)
    if "seq" in parts:
        crossover(conn, a, X, Q, proj)
    conn.execute("DROP TABLE IF EXISTS kb_g8, kb_c8, kb_g16, kb_c16, kb_g2, kb_p2, kb_x")


def compare_2d(conn, a, P, PQ, compare):
    k = a.k
    conn.execute("DROP TABLE IF EXISTS kb_g2, kb_p2")
    conn.execute("CREATE TABLE kb_g2 (id int, emb gvector(2))")
    conn.execute("CREATE TABLE kb_p2 (id int, p point)")
    copy_rows(conn, "kb_g2", ((i, vec(v)) for i, v in enumerate(P)))
    copy_rows(conn, "kb_p2", ((i, f"({float(v[0])!r},{float(v[1])!r})") for i, v in enumerate(P)))
    conn.execute("VACUUM ANALYZE kb_g2")
    conn.execute("VACUUM ANALYZE kb_p2")
    bg, bp = [], []
    for _ in range(2):
        conn.execute("DROP INDEX IF EXISTS kb_g2_i")
        bg.append(timed(conn, "CREATE INDEX kb_g2_i ON kb_g2 USING gv_kdtree (emb)"))
        conn.execute("DROP INDEX IF EXISTS kb_p2_i")
        bp.append(timed(conn, "CREATE INDEX kb_p2_i ON kb_p2 USING spgist (p kd_point_ops)"))
    qg = [vec(v) for v in PQ]
    qp = [f"({float(v[0])!r},{float(v[1])!r})" for v in PQ]
    sg, sp, ratio = compare(f"SELECT id FROM kb_g2 ORDER BY emb <-> %s::gvector LIMIT {k}", qg,
                            f"SELECT id FROM kb_p2 ORDER BY p <-> %s::point LIMIT {k}", qp)
    same = sum(
        conn.execute(f"SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM kb_g2 ORDER BY emb <-> %s::gvector LIMIT {k}) s", (g,)).fetchone()[0]
        == conn.execute(f"SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM kb_p2 ORDER BY p <-> %s::point LIMIT {k}) s", (p,)).fetchone()[0]
        for g, p in zip(qg[:50], qp[:50]))
    return ("2-D vs SP-GiST kd_point_ops", sg, sp, ratio, min(bg), min(bp),
            size(conn, "kb_g2_i"), size(conn, "kb_p2_i"), f"{same}/50 identical")


def print_table(a, rows):
    print(f"\n{a.rows} Fashion-MNIST rows (PCA), {a.queries} queries, k={a.k}, one connection, prepared, "
          f"{a.rounds} rounds alternating with the peer in blocks of {a.block} queries\n")
    print("| comparison | gv_kdtree q/s | peer q/s | q/s ratio (median round) | build s (kd / peer) | build ratio | size MB (kd / peer) | size ratio | note |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, a1, b1, r, a2, b2, a3, b3, note in rows:
        print(f"| {name} | {a1:.0f} | {b1:.0f} | **{r:.2f}x** | {a2:.2f} / {b2:.2f} | {a2 / b2:.2f}x | "
              f"{a3 / 1e6:.1f} / {b3 / 1e6:.1f} | {a3 / b3:.2f}x | {note} |")


def crossover(conn, a, X, Q, proj):
    """KD-tree against a sequential scan of the same table, per dimension."""
    k = a.k
    print("\n| dims | gv_kdtree q/s | seq scan q/s | ratio |")
    print("|---|---|---|---|")
    crossover = None
    for d in [int(x) for x in a.crossover_dims.split(",")]:
        P, PQ = proj(X, d), proj(Q, d)
        conn.execute("DROP TABLE IF EXISTS kb_x")
        conn.execute(f"CREATE TABLE kb_x (id int, emb gvector({d}))")
        copy_rows(conn, "kb_x", ((i, vec(v)) for i, v in enumerate(P)))
        conn.execute("SET client_min_messages = warning")
        conn.execute("CREATE INDEX kb_x_i ON kb_x USING gv_kdtree (emb)")
        conn.execute("RESET client_min_messages")
        conn.execute("VACUUM ANALYZE kb_x")
        qx = [vec(v) for v in PQ[:30]]
        si, ss = [], []
        # distinct statement texts: a prepared plan does not see SET changes
        for _ in range(a.rounds):
            conn.execute("SET enable_seqscan = off")
            si.append(qps(conn, f"SELECT id FROM kb_x ORDER BY emb <-> %s::gvector LIMIT {k}", qx))
            conn.execute("RESET enable_seqscan")
            conn.execute("SET enable_indexscan = off")
            ss.append(qps(conn, f"SELECT /* seq */ id FROM kb_x ORDER BY emb <-> %s::gvector LIMIT {k}", qx))
            conn.execute("RESET enable_indexscan")
        r = max(si) / max(ss)
        if r < 1 and crossover is None:
            crossover = d
        print(f"| {d} | {max(si):.0f} | {max(ss):.0f} | {r:.2f}x |")
    print(f"\ncrossover: the KD-tree stops beating a sequential scan at "
          f"{crossover if crossover else '> ' + a.crossover_dims.split(',')[-1]} dimensions")


if __name__ == "__main__":
    main()
