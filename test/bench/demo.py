#!/usr/bin/python3
"""gigavector demo: k-nearest-neighbour search over Fashion-MNIST in SQL.

    test/bench/demo.py --dsn "host=/tmp/x port=5432 user=postgres dbname=postgres"

Steps (each a function taking the shared Demo state, listed in STEPS):

  1. extension  CREATE EXTENSION IF NOT EXISTS gigavector (falls back to
                pgvector's `vector`, saying so, when gvector is not there)
  2. load       Fashion-MNIST: 60,000 images into fmnist(id, label, emb
                gvector(784)) and the 10,000 test images into fmnist_queries
  3. exact      exact k-NN for a handful of test images (ORDER BY emb <-> q
                LIMIT k), unfiltered, filtered on the query's own label and on
                another label; hits, timings, recall against numpy
  4. hnsw       CREATE INDEX ... USING gv_hnsw (emb, label): the same searches
                through the graph, the label filter tested inside it
  5. ivfpq      CREATE INDEX ... USING gv_ivfpq (emb, label): the same searches
                over product-quantized codes with exact re-ranking, the label
                filter tested on each list entry
  6. summary    one table of timings and recall, per search and per step

Runs in about a minute once the tables are loaded (two with the load and
the index builds) on a 2-core machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from typing import Callable, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from gvbench import dataset as dsmod  # noqa: E402
from gvbench import groundtruth  # noqa: E402
from gvbench.dataset import FMNIST_LABELS  # noqa: E402
from gvbench.sweep import format_table  # noqa: E402


@dataclasses.dataclass
class Demo:
    """State shared by the steps."""

    args: argparse.Namespace
    conn: psycopg.Connection
    ds: Optional[dsmod.Dataset] = None
    type_name: str = "gvector"
    query_ids: List[int] = dataclasses.field(default_factory=list)
    results: List[dict] = dataclasses.field(default_factory=list)  # one per search


def say(msg: str = "") -> None:
    print(msg, flush=True)


def heading(title: str) -> None:
    say()
    say(f"== {title} " + "=" * max(0, 72 - len(title)))


# ---------------------------------------------------------------------------
# steps


def step_extension(demo: Demo) -> None:
    """Create the gigavector extension; fall back to pgvector if need be."""
    heading("1. extension")
    conn = demo.conn
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS gigavector")
    except psycopg.Error as err:
        say(f"CREATE EXTENSION gigavector failed: {str(err).strip().splitlines()[0]}")
    if dsmod.type_exists(conn, "gvector"):
        version = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'gigavector'").fetchone()
        say(f"gigavector {version[0] if version else '?'}: type gvector is ready")
        demo.type_name = "gvector"
        return
    say("NOTE: the type gvector does not exist (gigavector is not installed here).")
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.Error:
        pass
    if dsmod.type_exists(conn, "vector"):
        say("NOTE: falling back to pgvector's type `vector` so that the demo still runs;")
        say("      install gigavector (make install) and run the demo again to use gvector.")
        demo.type_name = "vector"
        return
    raise SystemExit("neither gvector nor pgvector's vector is available: install gigavector first")


def step_load(demo: Demo) -> None:
    """Load base images into fmnist and test images into fmnist_queries."""
    heading("2. load Fashion-MNIST")
    t0 = time.perf_counter()
    demo.ds = ds = dsmod.load_fashion_mnist()
    say(f"read {len(ds.base)} base + {len(ds.queries)} query images of {ds.dim} pixels "
        f"from {dsmod.FMNIST_DIR} in {time.perf_counter() - t0:.1f} s")
    a = demo.args
    # The query vectors are read by a scalar subquery whose value is passed
    # to every distance call; kept in the row (STORAGE PLAIN) that value is
    # an ordinary datum, whereas a TOAST pointer would be fetched again for
    # each of the 60,000 distances (measured: ~250 ms instead of ~160 ms).
    for table, vecs, labels, storage in ((a.table, ds.base, ds.base_labels, None),
                                         (a.table + "_queries", ds.queries, ds.query_labels, "plain")):
        secs = dsmod.ensure_table(demo.conn, table, demo.type_name, vecs, labels, force=a.reload,
                                  storage=storage)
        if secs is None:
            say(f"{table}: already loaded ({len(vecs)} rows)")
        else:
            say(f"{table}: loaded {len(vecs)} rows with binary COPY in {secs:.1f} s")
    size = demo.conn.execute("SELECT pg_size_pretty(pg_total_relation_size(%s::regclass))",
                             [dsmod.ident(a.table).as_string(demo.conn)]).fetchone()[0]
    say(f"CREATE TABLE {a.table} (id int primary key, label int, emb {demo.type_name}({ds.dim}))"
        f"  -- {size} with TOAST and primary key")


def pick_queries(ds: dsmod.Dataset, n: int) -> List[int]:
    """The first test image of n different labels (0, 2, 4, ... then odd)."""
    order = list(range(0, 10, 2)) + list(range(1, 10, 2))
    ids = []
    for lab in order[:n]:
        ids.append(int(np.flatnonzero(ds.query_labels == lab)[0]))
    return ids


def knn_statement(demo: Demo, filtered: bool) -> sql.Composed:
    """k-NN of one stored query image; %s = query id [, label]."""
    a = demo.args
    return sql.SQL(
        "SELECT id, label, emb <-> (SELECT emb FROM {q} WHERE id = %s) AS dist "
        "FROM {t}{where} ORDER BY dist LIMIT {k}"
    ).format(q=dsmod.ident(a.table + "_queries"), t=dsmod.ident(a.table),
             where=sql.SQL(" WHERE label = %s") if filtered else sql.SQL(""),
             k=sql.Literal(a.k))


def search(demo: Demo, step: str, qid: int, label: Optional[int]) -> dict:
    """Run one k-NN search, print its hits and check them against numpy."""
    ds, k = demo.ds, demo.args.k
    stmt = knn_statement(demo, label is not None)
    params = [qid] if label is None else [qid, label]
    cur = demo.conn.cursor()
    t0 = time.perf_counter()
    rows = cur.execute(stmt, params, prepare=True).fetchall()
    ms = (time.perf_counter() - t0) * 1000
    plan = scan_nodes(demo, stmt, params)
    # ground truth with numpy over the same rows
    if label is None:
        base, base_ids = ds.base, None
    else:
        base_ids = np.flatnonzero(ds.base_labels == label)
        base = ds.base[base_ids]
    gt_ids, gt_d = groundtruth.exact_knn(base, ds.queries[qid:qid + 1], demo.args.metric, k, base_ids)
    ids = [r[0] for r in rows]
    hits = groundtruth.count_hits(ds, ds.queries[qid], demo.args.metric, ids, k, gt_d[0, -1], label)
    recall = hits / k
    exact_d = groundtruth.distances(ds.base[ids], ds.queries[qid:qid + 1], demo.args.metric)[0] \
        if ids else np.empty(0)
    err = float(np.max(np.abs(exact_d - np.array([r[2] for r in rows])))) if ids else 0.0
    where = "" if label is None else f"label = {label} ({FMNIST_LABELS[label]})"
    say(f"query {qid} ({FMNIST_LABELS[ds.query_labels[qid]]}){', WHERE ' + where if where else ''}: "
        f"{len(rows)} rows in {ms:.1f} ms, recall@{k} {recall:.2f}, plan {plan}")
    true_ids = set(gt_ids[0].tolist())
    for rank, (rid, rlab, dist) in enumerate(rows[:demo.args.show], 1):
        if rid in true_ids:
            mark = ""
        elif groundtruth.count_hits(ds, ds.queries[qid], demo.args.metric, [rid], k, gt_d[0, -1], label):
            mark = "  (tied with a true neighbour)"
        else:
            mark = "  (not a true neighbour)"
        say(f"   {rank:2d}. id {rid:5d}  label {rlab} {FMNIST_LABELS[rlab]:<11}  distance {dist:9.3f}{mark}")
    if len(rows) > demo.args.show:
        say(f"   ... {len(rows) - demo.args.show} more")
    res = dict(step=step, query=qid, query_label=int(ds.query_labels[qid]), where=where,
               rows=len(rows), ms=ms, recall=recall, max_dist_err=err, plan=plan)
    demo.results.append(res)
    return res


def scan_nodes(demo: Demo, stmt, params) -> str:
    """The plan's scan nodes for stmt with params, leaving out the InitPlan
    that fetches the query vector: 'Seq Scan' or 'Index Scan(<index>)'."""
    plan = demo.conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) ") + stmt, params).fetchone()[0]
    nodes = []

    def walk(n):
        if "Scan" in n.get("Node Type", "") and n.get("Parent Relationship") != "InitPlan" \
                and n.get("Subplan Name") is None:
            nodes.append(f"{n['Node Type']}({n['Index Name']})" if "Index Name" in n else n["Node Type"])
        for c in n.get("Plans", []):
            walk(c)

    walk(plan[0]["Plan"])
    return "+".join(nodes) or plan[0]["Plan"]["Node Type"]


def step_exact(demo: Demo) -> None:
    """Exact k-NN (no index) with and without a label filter."""
    heading(f"3. exact k-NN: ORDER BY emb <-> q LIMIT {demo.args.k} (no index)")
    ds = demo.ds
    demo.query_ids = demo.args.query_ids or pick_queries(ds, demo.args.queries)
    say("SQL: " + knn_statement(demo, True).as_string(demo.conn).replace("%s", "$1", 1).replace("%s", "$2", 1))
    # one untimed search first, so that the first timing is not a cold cache
    demo.conn.execute(knn_statement(demo, False), [demo.query_ids[0]]).fetchall()
    for qid in demo.query_ids:
        own = int(ds.query_labels[qid])
        other = (own + 5) % 10
        say()
        search(demo, "exact", qid, None)
        search(demo, "exact, own label", qid, own)
        search(demo, "exact, other label", qid, other)


def build_index(demo: Demo, name: str, using: str) -> None:
    """CREATE INDEX name ON the base table USING ...; print time and size."""
    conn, table = demo.conn, dsmod.ident(demo.args.table)
    conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(name)))
    stmt = sql.SQL("CREATE INDEX {} ON {} USING " + using).format(sql.Identifier(name), table)
    say("SQL: " + stmt.as_string(conn))
    conn.execute("SET maintenance_work_mem = '512MB'")
    t0 = time.perf_counter()
    conn.execute(stmt)
    secs = time.perf_counter() - t0
    size = conn.execute("SELECT pg_size_pretty(pg_relation_size(%s::regclass))", [name]).fetchone()[0]
    say(f"built in {secs:.1f} s, {size}")


def index_searches(demo: Demo, step: str) -> None:
    ds = demo.ds
    for qid in demo.query_ids:
        own = int(ds.query_labels[qid])
        say()
        search(demo, step, qid, None)
        search(demo, step + ", own label", qid, own)
        search(demo, step + ", other label", qid, (own + 5) % 10)


def index_step(demo: Demo, title: str, name: str, using: str, settings: List[str],
               step: str) -> None:
    """Build one index, run the searches through it, drop it."""
    heading(title)
    if demo.type_name != "gvector":
        say("skipped: needs gigavector")
        return
    demo.query_ids = demo.query_ids or demo.args.query_ids or pick_queries(demo.ds, demo.args.queries)
    build_index(demo, name, using)
    for setting in settings:
        demo.conn.execute(setting)
    index_searches(demo, step)
    demo.conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))


def step_hnsw(demo: Demo) -> None:
    """gv_hnsw with the label as a filter column: approximate, k rows always."""
    index_step(demo, "4. gv_hnsw index (graph), label as a filter column", "fmnist_hnsw",
               "gv_hnsw (emb gvector_l2_ops, label) WITH (m = 16, ef_construction = 64)",
               ["SET gigavector.hnsw_ef_search = 40"], "gv_hnsw")


def step_ivfpq(demo: Demo) -> None:
    """gv_ivfpq with the label as a filter column: product-quantized codes,
    exact re-ranking from the table of the matching rows only."""
    index_step(demo, "5. gv_ivfpq index (IVF + product quantization), label as a filter column",
               "fmnist_ivfpq",
               "gv_ivfpq (emb gvector_l2_ops, label) WITH (lists = 245, subquantizers = 49, bits = 8)",
               ["SET gigavector.ivfpq_probes = 8", "SET gigavector.ivfpq_rerank = 100"], "gv_ivfpq")


def step_summary(demo: Demo) -> None:
    """Timings and recall of every search, then per step."""
    heading("6. summary")
    cols = [("step", "step", ""), ("query", "query", "d"), ("where", "filter", ""),
            ("rows", "rows", "d"), ("ms", "ms", ".1f"), ("recall", "recall", ".2f"),
            ("max_dist_err", "max |d - numpy|", ".2g"), ("plan", "plan", "")]
    say(format_table(demo.results, cols))
    say()
    per_step = {}
    for r in demo.results:
        per_step.setdefault(r["step"], []).append(r)
    rows = [dict(step=s, n=len(rs), ms=statistics.median(r["ms"] for r in rs),
                 recall=statistics.mean(r["recall"] for r in rs))
            for s, rs in per_step.items()]
    say(format_table(rows, [("step", "step", ""), ("n", "searches", "d"),
                            ("ms", "median ms", ".1f"), ("recall", f"mean recall@{demo.args.k}", ".3f")]))
    bad = [r for r in demo.results if r["step"].startswith("exact") and r["recall"] < 1.0]
    short = [r for r in demo.results if r["rows"] < demo.args.k]
    say()
    say(f"type {demo.type_name}; exact searches: "
        + ("all returned the true nearest neighbours (recall 1.0)" if not bad
           else f"{len(bad)} with recall < 1.0 -- a bug"))
    say("every search, filtered or not, with or without an index, returned "
        + (f"{demo.args.k} rows" if not short else f"... {len(short)} searches returned fewer rows -- a bug"))


STEPS: List[Callable[[Demo], None]] = [step_extension, step_load, step_exact, step_hnsw,
                                       step_ivfpq, step_summary]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dsn", default="", help="libpq connection string (default: PG* environment)")
    p.add_argument("--table", default="fmnist", help="base table ([schema.]name); queries in <table>_queries")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--queries", type=int, default=5, help="how many test images to search for")
    p.add_argument("--query-ids", type=lambda s: [int(x) for x in s.split(",")], default=None,
                   help="comma-separated test-image ids instead of --queries")
    p.add_argument("--show", type=int, default=5, help="hits printed per search")
    p.add_argument("--reload", action="store_true", help="reload the tables")
    p.add_argument("--steps", default="", help="comma-separated step names to run (default all)")
    args = p.parse_args(argv)
    args.metric = "l2"
    t0 = time.perf_counter()
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        demo = Demo(args=args, conn=conn)
        wanted = {s.strip() for s in args.steps.split(",") if s.strip()}
        for step in STEPS:
            name = step.__name__[len("step_"):]
            # extension and load are needed by every later step
            if wanted and name not in wanted and name not in ("extension", "load"):
                continue
            step(demo)
    say(f"\ndemo finished in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
