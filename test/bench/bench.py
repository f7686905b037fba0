#!/usr/bin/python3
"""Side-by-side recall/speed benchmark on Fashion-MNIST (784 dimensions).

Loads the data set once per vector type into gv_bench.fmnist_<type>, then
runs every sweep whose type and access method are present, in the same
cluster and the same run, and reports ratios to a baseline measured in that
run (the build machines are noisy: absolute numbers mean little, ratios
measured side by side are what count).

    test/bench/bench.py --dsn "host=/tmp/x port=5432 dbname=postgres" \\
        --types gvector,vector --queries 1000 --k 10 [--repeat 3] [--filter-label 3]

Filtered search, WHERE label = 3 for every query (docs/benchmarks.md, gv_ivfpq):
    bash test/bench/run --only exact,ivf_filter --filter-label 3 --queries 200

Sweeps (see SWEEPS below; add an index by appending an entry):
  * exact scan of each type (index scans disabled),
  * pgvector hnsw and ivfflat when the type `vector` exists,
  * gigavector gv_hnsw and gv_ivfpq when their access methods exist
    (gv_kdtree, limited to 128 dimensions, has test/bench/kdtree_bench.py).
Entries of one "group" live on different tables, so they are built side by
side and their runs are interleaved (with --repeat > 1, in rotating order).

Output: tables on stdout, and under --out/<timestamp>/: raw.csv (every run),
summary.csv and summary.txt (medians over repeats, ratios), indexes.csv
(build seconds, bytes), recall_qps.png, env.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from gvbench import METRICS  # noqa: E402
from gvbench import dataset as dsmod  # noqa: E402
from gvbench import groundtruth, plot  # noqa: E402
from gvbench.sweep import format_table, sweep, write_csv  # noqa: E402

# Vector types the harness knows: the extension that provides each and the
# prefix of its operator classes (<prefix>_l2_ops, ...).
TYPES = {
    "gvector": {"extension": "gigavector", "opclass": "gvector"},
    "vector": {"extension": "vector", "opclass": "vector"},
    # half precision; loaded through the text form (the binary COPY rows
    # the loader builds are float4)
    "ghalfvec": {"extension": "gigavector", "opclass": "ghalfvec", "copy": "text"},
    "halfvec": {"extension": "vector", "opclass": "halfvec", "copy": "text"},
}

# Index sweeps measure the index: with a WHERE clause the planner may prefer
# a sequential scan (exact, and slow), which would hide what the index does.
# --planner-choice leaves the choice to the planner.
INDEX_SETTINGS = ["SET enable_seqscan = off"]

EXACT_SETTINGS = [
    "SET enable_indexscan = off",
    "SET enable_bitmapscan = off",
    "SET enable_indexonlyscan = off",
]

# ef_search values of the graph sweeps, the same for both graphs.  Steps of
# 5 around recall 0.99, where the targets compare "the smallest ef_search
# that reaches it": with steps of 2x the ratio mostly measured where the
# grid happened to fall.
GRAPH_EF_SEARCH = (10, 15, 20, 25, 30, 40, 80, 160)

# The sweep registry.  Keys:
#   name      shown in tables and plots
#   group     entries of one group are built together and interleaved; they
#             must be on different types (tables)
#   type      the vector type (its table is gv_bench.fmnist_<type>)
#   am        index access method, None for an exact scan; skipped when the
#             access method is not in pg_am
#   with      reloptions for CREATE INDEX ... WITH (...), or None
#   configs   [(label, [SET statements])], run in this order
#   filtered_configs  extra configurations used only with --filter-label
#   filter_columns    columns indexed after the vector (gv_hnsw filter columns)
#   exact     True: run with --exact-queries queries instead of --queries
# The gv_* entries' options and settings are placeholders until those access
# methods land: fix them here when they do (a failing CREATE INDEX is
# reported and the entry skipped, the run goes on).
SWEEPS: List[dict] = [
    dict(name="gvector exact", group="exact", type="gvector", am=None, exact=True,
         configs=[("seqscan", EXACT_SETTINGS)]),
    dict(name="vector exact", group="exact", type="vector", am=None, exact=True,
         configs=[("seqscan", EXACT_SETTINGS)]),
    dict(name="gv_hnsw", group="graph", type="gvector", am="gv_hnsw",
         **{"with": "m = 16, ef_construction = 64"},
         configs=[(f"ef_search={ef}", [f"SET gigavector.hnsw_ef_search = {ef}"])
                  for ef in GRAPH_EF_SEARCH]),
    # the same graph with quantized storage (auto picks these above ~1,900
    # dimensions; forced here to measure what they cost at 784)
    *[dict(name=f"gv_hnsw {st}", group="storage", type="gvector", am="gv_hnsw",
           **{"with": f"m = 16, ef_construction = 64, storage = {st}"},
           configs=[(f"ef_search={ef}", [f"SET gigavector.hnsw_ef_search = {ef}"])
                    for ef in (10, 20, 40, 80)])
      for st in ("float16", "int8", "binary")],
    # filter columns inside the graph: WHERE label = ... is tested during the search
    dict(name="gv_hnsw +label", group="filter", type="gvector", am="gv_hnsw",
         filter_columns=("label",), **{"with": "m = 16, ef_construction = 64"},
         configs=[(f"ef_search={ef}", [f"SET gigavector.hnsw_ef_search = {ef}"])
                  for ef in (20, 40, 80)]),
    # half precision in the table and the index: ghalfvec + gv_hnsw (stored
    # float16, exact: no re-ranking) against pgvector's halfvec + hnsw; in
    # group "graph", so that they interleave with the float32 graphs
    dict(name="gv_hnsw ghalfvec", group="graph", type="ghalfvec", am="gv_hnsw",
         **{"with": "m = 16, ef_construction = 64"},
         configs=[(f"ef_search={ef}", [f"SET gigavector.hnsw_ef_search = {ef}"])
                  for ef in GRAPH_EF_SEARCH]),
    dict(name="pgvector hnsw halfvec", group="graph", type="halfvec", am="hnsw",
         **{"with": "m = 16, ef_construction = 64"},
         configs=[(f"ef_search={ef}", [f"SET hnsw.ef_search = {ef}"])
                  for ef in GRAPH_EF_SEARCH]),
    dict(name="pgvector hnsw", group="graph", type="vector", am="hnsw",
         **{"with": "m = 16, ef_construction = 64"},
         configs=[(f"ef_search={ef}", [f"SET hnsw.ef_search = {ef}"])
                  for ef in GRAPH_EF_SEARCH],
         filtered_configs=[(f"ef_search={ef} iter", [f"SET hnsw.ef_search = {ef}",
                                                     "SET hnsw.iterative_scan = relaxed_order"])
                           for ef in (40,)]),
    # 4 dimensions a code byte (196 subquantizers): finer codes than the
    # default 16, so fewer candidates to fetch from the heap before a row can
    # be returned (docs/benchmarks.md, gv_ivfpq).  rerank is the
    # first batch only: the scan re-ranks on until no row not yet re-ranked
    # is expected nearer, so small values are the cheap end of the curve.
    dict(name="gv_ivfpq", group="ivf", type="gvector", am="gv_ivfpq",
         **{"with": "lists = 245, subquantizers = 196, bits = 8"},
         configs=[(f"probes={p} rerank={r}", [f"SET gigavector.ivfpq_probes = {p}",
                                               f"SET gigavector.ivfpq_rerank = {r}"])
                  for p, r in ((1, 10), (2, 10), (2, 20), (4, 10), (4, 20), (8, 20), (8, 100))]),
    # Filtered search (run with --filter-label 3): gv_ivfpq at its default
    # settings and two others, against ivfflat's iterative scan (relaxed
    # order) and the exact scans of group "exact".
    dict(name="gv_ivfpq filter", group="ivf_filter", type="gvector", am="gv_ivfpq",
         **{"with": "lists = 245, subquantizers = 49, bits = 8"},
         configs=[(f"probes={p} rerank={r}", [f"SET gigavector.ivfpq_probes = {p}",
                                               f"SET gigavector.ivfpq_rerank = {r}"])
                  for p, r in ((4, 40), (10, 100), (16, 100))]),
    dict(name="pgvector ivfflat filter", group="ivf_filter", type="vector", am="ivfflat",
         **{"with": "lists = 245"},
         configs=[(f"probes={p} iter", [f"SET ivfflat.probes = {p}",
                                        "SET ivfflat.iterative_scan = relaxed_order"])
                  for p in (4, 10)]),
    dict(name="pgvector ivfflat", group="ivf", type="vector", am="ivfflat",
         **{"with": "lists = 245"},
         configs=[(f"probes={p}", [f"SET ivfflat.probes = {p}"]) for p in (1, 2, 4, 8, 16, 32)],
         filtered_configs=[("probes=4 iter", ["SET ivfflat.probes = 4",
                                              "SET ivfflat.iterative_scan = relaxed_order"])]),
]

SUMMARY_COLUMNS = [
    ("name", "sweep", ""),
    ("config", "config", ""),
    ("where", "where", ""),
    ("nqueries", "queries", "d"),
    ("qps", "q/s", ".1f"),
    ("qps_min", "min", ".1f"),
    ("qps_max", "max", ".1f"),
    ("ratio", "x base", ".2f"),
    ("recall", "recall", ".4f"),
    ("mean_rows", "rows", ".2f"),
    ("p50_ms", "p50 ms", ".2f"),
    ("p99_ms", "p99 ms", ".2f"),
    ("srv_ms", "srv ms", ".3f"),
    ("srv_ratio", "x base srv", ".2f"),
    ("plan", "plan", ""),
]
INDEX_COLUMNS = [
    ("name", "index", ""),
    ("type", "type", ""),
    ("am", "am", ""),
    ("with", "with", ""),
    ("build_s", "build s", ".1f"),
    ("builds", "workers:build s/CPU s", ""),
    ("index_mb", "size MB", ".1f"),
    ("status", "status", ""),
]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def table_for(args, type_name: str) -> str:
    return f"{args.schema}.fmnist_{type_name}"


def prepare_types(conn, args) -> List[str]:
    """The requested types that exist (creating their extension when it is
    available and --no-create-extension is not given)."""
    ready = []
    for t in args.types:
        info = TYPES.get(t, {"extension": None})
        if not dsmod.type_exists(conn, t) and info["extension"] and not args.no_create_extension:
            avail = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s",
                                 [info["extension"]]).fetchone()
            if avail:
                log(f"CREATE EXTENSION {info['extension']}")
                try:
                    conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(
                        sql.Identifier(info["extension"])))
                except psycopg.Error as err:
                    log(f"CREATE EXTENSION {info['extension']} failed: "
                        f"{str(err).strip().splitlines()[0]}")
        if dsmod.type_exists(conn, t):
            ready.append(t)
        else:
            log(f"type {t} does not exist (extension {info['extension']} not installed): skipping it")
    return ready


def environment(conn) -> dict:
    env = {
        "when": datetime.datetime.now().isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "server": conn.execute("SELECT version()").fetchone()[0],
        "extensions": dict(conn.execute("SELECT extname, extversion FROM pg_extension").fetchall()),
    }
    try:
        with open("/proc/cpuinfo") as f:
            env["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    for g in ("shared_buffers", "work_mem", "maintenance_work_mem", "max_parallel_workers_per_gather",
              "max_parallel_maintenance_workers", "jit"):
        env[g] = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(g))).fetchone()[0]
    return env


def server_cpu_s(conn) -> Optional[float]:
    """CPU seconds used so far by this session's backend plus the server's
    exited children (parallel workers, once reaped): a build's CPU cost when
    the server runs on this machine; None when it cannot be read."""
    try:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        datadir = conn.execute("SHOW data_directory").fetchone()[0]
        with open(os.path.join(datadir, "postmaster.pid")) as f:
            pm = int(f.readline())
        hz = os.sysconf("SC_CLK_TCK")

        def fields(p):
            with open(f"/proc/{p}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()
        # after the name: state is field 3, utime 14, stime 15, cutime 16, cstime 17
        be, post = fields(pid), fields(pm)
        return (int(be[11]) + int(be[12]) + int(post[13]) + int(post[14])) / hz
    except (OSError, ValueError, psycopg.Error):
        return None


def build_index(conn, args, entry: dict, metric: str) -> dict:
    """CREATE INDEX for entry; returns its index row (build seconds, bytes)."""
    t = entry["type"]
    table = table_for(args, t)
    opclass = f"{TYPES.get(t, {'opclass': t})['opclass']}_{METRICS[metric][1]}"
    idx_name = f"gvbench_{entry['am']}_{t}"
    info = dict(name=entry["name"], type=t, am=entry["am"], with_=entry.get("with") or "",
                index=f"{args.schema}.{idx_name}")
    conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(args.schema, idx_name)))
    stmt = sql.SQL("CREATE INDEX {} ON {} USING {} (emb {}{}){}").format(
        sql.Identifier(idx_name), dsmod.ident(table), sql.Identifier(entry["am"]),
        sql.Identifier(opclass),
        sql.SQL("".join(f", {c}" for c in entry.get("filter_columns", ()))),
        sql.SQL(f" WITH ({entry['with']})") if entry.get("with") else sql.SQL(""))
    log(f"{entry['name']}: {stmt.as_string(conn)}")
    conn.execute(sql.SQL("SET maintenance_work_mem = {}").format(sql.Literal(args.maintenance_work_mem)))
    # --build-workers 0,1,2: build once per value (the last build is kept);
    # max_parallel_maintenance_workers caps the workers CREATE INDEX asks for
    workers = [int(w) for w in args.build_workers.split(",")] if args.build_workers else [None]
    builds = []
    for i, w in enumerate(workers):
        if w is not None:
            conn.execute(sql.SQL("SET max_parallel_maintenance_workers = {}").format(sql.Literal(w)))
        if i > 0:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(args.schema, idx_name)))
        cpu0 = server_cpu_s(conn) if w is not None else None
        t0 = time.perf_counter()
        conn.execute(stmt)
        info["build_s"] = time.perf_counter() - t0
        if w is not None:
            time.sleep(0.5)     # let the postmaster reap the workers
            cpu1 = server_cpu_s(conn)
            cpu = f"/{cpu1 - cpu0:.1f}cpu" if cpu0 is not None and cpu1 is not None else ""
            builds.append(f"{w}:{info['build_s']:.1f}{cpu}")
            log(f"{entry['name']}: max_parallel_maintenance_workers = {w}: built in "
                f"{info['build_s']:.1f} s{', ' + cpu[1:-3] + ' CPU s' if cpu else ''}")
    conn.execute("RESET max_parallel_maintenance_workers")
    info["builds"] = " ".join(builds)
    info["index_bytes"] = conn.execute("SELECT pg_relation_size(%s::regclass)",
                                       [f"{args.schema}.{idx_name}"]).fetchone()[0]
    info["index_mb"] = info["index_bytes"] / 2**20
    conn.execute("RESET maintenance_work_mem")
    log(f"{entry['name']}: built in {info['build_s']:.1f} s, {info['index_mb']:.1f} MB")
    return info


def drop_index(conn, info: dict) -> None:
    conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(dsmod.ident(info["index"])))


def batches_of(entries: List[dict]) -> List[List[dict]]:
    """Split a group into batches whose entries are on different tables."""
    batches: List[List[dict]] = []
    for e in entries:
        for b in batches:
            if all(x["type"] != e["type"] for x in b):
                b.append(e)
                break
        else:
            batches.append([e])
    return batches


def summarize(raw: List[dict], baseline: Optional[str]) -> List[dict]:
    """Medians over repeats per (name, where, config), with qps ratios to the
    baseline row ("NAME" = its first configuration, or "NAME@CONFIG")."""
    keyed: Dict[tuple, List[dict]] = {}
    for r in raw:
        keyed.setdefault((r["name"], r["where"], r["config"]), []).append(r)
    rows = []
    for (name, where, config), rs in keyed.items():
        s = dict(rs[0])
        for col in ("qps", "recall", "mean_rows", "p50_ms", "p99_ms", "seconds"):
            s[col] = statistics.median(x[col] for x in rs)
        srv = [x["srv_ms"] for x in rs if x.get("srv_ms") == x.get("srv_ms")]  # not NaN
        s["srv_ms"] = statistics.median(srv) if srv else float("nan")
        s["qps_min"] = min(x["qps"] for x in rs)
        s["qps_max"] = max(x["qps"] for x in rs)
        s["repeats"] = len(rs)
        rows.append(s)
    base = None
    if baseline:
        bname, _, bconf = baseline.partition("@")
        cands = [r for r in rows if r["name"] == bname and (not bconf or r["config"] == bconf)]
        base = cands[0] if cands else None
        if base is None:
            log(f"baseline {baseline!r} was not measured in this run: no ratios")
    for r in rows:
        # a filtered row is compared with the baseline's filtered row, if any
        b = base
        if base is not None and r["where"] != base["where"]:
            b = next((x for x in rows if x["name"] == base["name"] and x["config"] == base["config"]
                      and x["where"] == r["where"]), base)
        r["ratio"] = r["qps"] / b["qps"] if b else float("nan")
        # the same ratio from server CPU per query (baseline's / this one's)
        r["srv_ratio"] = b["srv_ms"] / r["srv_ms"] if b and r["srv_ms"] > 0 else float("nan")
        r["baseline"] = f"{b['name']}@{b['config']}" if b else ""
    return rows


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dsn", default="", help="libpq connection string (default: PG* environment)")
    p.add_argument("--types", default="gvector,vector",
                   help="vector types to compare, comma-separated (default gvector,vector)")
    p.add_argument("--metric", choices=sorted(METRICS), default="l2")
    p.add_argument("--queries", type=int, default=1000, help="queries per index configuration")
    p.add_argument("--exact-queries", type=int, default=200,
                   help="queries per exact-scan run (an exact scan takes ~0.1-0.2 s; default 200)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--repeat", type=int, default=1, help="interleaved repetitions of every run")
    p.add_argument("--warmup", type=int, default=10, help="untimed queries before each run")
    p.add_argument("--filter-label", type=int, action="append", default=[],
                   help="also run every sweep with WHERE label = L (repeatable)")
    p.add_argument("--only", default="", help="comma-separated sweep names or groups to run")
    p.add_argument("--skip", default="", help="comma-separated sweep names or groups to skip")
    p.add_argument("--baseline", default=None,
                   help='row the q/s ratios refer to, "NAME" or "NAME@CONFIG" '
                        '(default: "vector exact" if measured, else the first exact scan)')
    p.add_argument("--schema", default="gv_bench")
    p.add_argument("--reload", action="store_true", help="reload the tables even if present")
    p.add_argument("--copy-format", choices=("binary", "text"), default="binary")
    p.add_argument("--storage", choices=("default", "inline", "plain"), default="default",
                   help="how both tables keep vectors: each type's default (both: out of line, "
                        "TOAST), inline (toast_tuple_target = 8160: in the row while it fits a "
                        "page) or plain (SET STORAGE PLAIN)")
    p.add_argument("--maintenance-work-mem", default="1GB", help="for index builds")
    p.add_argument("--build-workers", default="",
                   help="comma-separated max_parallel_maintenance_workers values: build each index "
                        "once per value (wall and server CPU seconds in the index table; the last "
                        "build is queried)")
    p.add_argument("--planner-choice", action="store_true",
                   help="do not SET enable_seqscan = off for index sweeps")
    p.add_argument("--keep-indexes", action="store_true", help="do not drop the indexes at the end")
    p.add_argument("--no-create-extension", action="store_true")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--list", action="store_true", help="print the sweep registry and exit")
    args = p.parse_args(argv)
    args.types = [t.strip() for t in args.types.split(",") if t.strip()]
    args.only = {s.strip() for s in args.only.split(",") if s.strip()}
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        for e in SWEEPS:
            print(f"{e['name']:<20} group={e['group']:<6} type={e['type']:<8} am={e['am'] or '-':<10} "
                  f"with={e.get('with') or '-'}  configs={[c[0] for c in e['configs']]}")
        return 0
    t_run = time.perf_counter()
    operator = METRICS[args.metric][0]
    conn = psycopg.connect(args.dsn, autocommit=True)
    types = prepare_types(conn, args)
    if not types:
        log("none of the requested types exists: nothing to do")
        return 1
    ams = {r[0] for r in conn.execute("SELECT amname FROM pg_am").fetchall()}

    # which sweeps run
    active = []
    for e in SWEEPS:
        if args.only and e["name"] not in args.only and e["group"] not in args.only:
            continue
        if e["name"] in args.skip or e["group"] in args.skip:
            continue
        if e["type"] not in types:
            continue
        if e["am"] and e["am"] not in ams:
            log(f"{e['name']}: access method {e['am']} does not exist: skipped")
            continue
        active.append(e)
    if not active:
        log("no sweep to run")
        return 1

    # data and ground truth
    ds = dsmod.load_fashion_mnist()
    for t in sorted({e["type"] for e in active}):
        secs = dsmod.ensure_table(conn, table_for(args, t), t, ds.base, ds.base_labels,
                                  fmt=TYPES.get(t, {}).get("copy", args.copy_format),
                                  force=args.reload,
                                  storage=None if args.storage == "default" else args.storage)
        log(f"{table_for(args, t)}: " + (f"loaded in {secs:.1f} s" if secs else "present"))
    nq = min(args.queries, len(ds.queries))
    t0 = time.perf_counter()
    gts = {None: groundtruth.ground_truth(ds, args.metric, max(nq, args.exact_queries))}
    for lab in args.filter_label:
        gts[lab] = groundtruth.ground_truth(ds, args.metric, max(nq, args.exact_queries), label=lab)
    log(f"ground truth ({args.metric}, {max(nq, args.exact_queries)} queries) ready in "
        f"{time.perf_counter() - t0:.1f} s (cache {groundtruth.cache_dir()})")

    env = environment(conn)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    outdir = os.path.join(args.out, stamp)
    os.makedirs(outdir, exist_ok=True)

    raw: List[dict] = []
    indexes: List[dict] = []
    groups = list(dict.fromkeys(e["group"] for e in active))
    for group in groups:
        for batch in batches_of([e for e in active if e["group"] == group]):
            built = []
            for e in batch:
                if not e["am"]:
                    built.append((e, None))
                    continue
                try:
                    info = build_index(conn, args, e, args.metric)
                    info["status"] = "ok"
                    indexes.append(info)
                    built.append((e, info))
                except psycopg.Error as err:
                    msg = str(err).strip().splitlines()[0]
                    log(f"{e['name']}: CREATE INDEX failed: {msg}: skipped")
                    indexes.append(dict(name=e["name"], type=e["type"], am=e["am"],
                                        with_=e.get("with") or "", status=f"failed: {msg}"))
            for rep in range(args.repeat):
                # rotate the order so that no entry always runs first
                order = built[rep % len(built):] + built[:rep % len(built)] if built else []
                for e, info in order:
                    filters = [None] + list(args.filter_label)
                    for lab in filters:
                        configs = list(e["configs"])
                        if lab is not None:
                            configs += e.get("filtered_configs", [])
                        if e["am"] and not args.planner_choice:
                            configs = [(c, INDEX_SETTINGS + list(s)) for c, s in configs]
                        log(f"{e['name']}: repeat {rep + 1}/{args.repeat}"
                            + (f", label = {lab}" if lab is not None else ""))
                        extra = dict(group=group, type=e["type"], am=e["am"] or "", repeat=rep + 1,
                                     metric=args.metric)
                        if info:
                            extra.update(build_s=info["build_s"], index_bytes=info["index_bytes"])
                        try:
                            res = sweep(args.dsn, table_for(args, e["type"]), "emb", operator, args.k,
                                        configs, ds.queries, gts[lab], e["type"],
                                        where=f"label = {int(lab)}" if lab is not None else None,
                                        nqueries=args.exact_queries if e.get("exact") else nq,
                                        name=e["name"], warmup=args.warmup, extra=extra)
                        except psycopg.Error as err:
                            log(f"{e['name']}: query failed: {str(err).strip().splitlines()[0]}")
                            continue
                        raw.extend(r.row() for r in res)
            if not args.keep_indexes:
                for _, info in built:
                    if info:
                        drop_index(conn, info)

    if not raw:
        log("nothing was measured")
        return 1
    baseline = args.baseline
    if baseline is None:
        names = [r["name"] for r in raw]
        baseline = "vector exact" if "vector exact" in names else next(
            (n for n in names if n.endswith(" exact")), names[0])
    summary = summarize(raw, baseline)

    # report
    for r in indexes:
        r["with"] = r.pop("with_", "")
    head = (f"Fashion-MNIST 60000 x 784, metric {args.metric} ({operator}), k={args.k}, "
            f"{nq} queries per index config, {args.exact_queries} per exact scan, "
            f"repeat {args.repeat}, vectors stored {args.storage}; baseline for 'x base': {baseline}")
    text = [head, "", format_table(summary, SUMMARY_COLUMNS)]
    if indexes:
        text += ["", format_table(indexes, INDEX_COLUMNS)]
    text += ["", f"server: {env['server'].split(',')[0]}; extensions: "
             + ", ".join(f"{k} {v}" for k, v in env["extensions"].items() if k != "plpgsql"),
             f"total {time.perf_counter() - t_run:.0f} s; results in {outdir}"]
    report = "\n".join(text)
    print(report)
    write_csv(raw, os.path.join(outdir, "raw.csv"))
    write_csv(summary, os.path.join(outdir, "summary.csv"))
    if indexes:
        write_csv(indexes, os.path.join(outdir, "indexes.csv"))
    with open(os.path.join(outdir, "summary.txt"), "w") as f:
        f.write(report + "\n")
    env["args"] = {k: (sorted(v) if isinstance(v, set) else v) for k, v in vars(args).items()}
    with open(os.path.join(outdir, "env.json"), "w") as f:
        json.dump(env, f, indent=2, default=str)
    if not args.no_plot:
        plot.recall_qps(summary, os.path.join(outdir, "recall_qps.png"),
                        title=f"Fashion-MNIST 784, {args.metric}, k={args.k}", k=args.k)
    return 0


if __name__ == "__main__":
    sys.exit(main())
