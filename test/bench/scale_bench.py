#!/usr/bin/python3
"""How build time, memory, size and query speed grow with N (issue 22).

The data set "fmnist-1m": every Fashion-MNIST training image shifted by 17
offsets (dx, dy) -- the 13 with |dx| + |dy| <= 2 and the four 3-pixel shifts
along an axis -- zero-filled, 1,020,000 images,
projected to 128 dimensions by a PCA fitted on the original 60,000 (numpy),
float32; the queries are the test images under the same PCA.  The rows are
ordered shift by shift, the unshifted images first, so that the first
60,000 rows are the original training set and every N is a prefix.  The
vectors, the PCA and the exact ground truth of each N (blockwise numpy) are
cached in $GIGAVECTOR_CACHE (default ~/.cache/gigavector/fmnist-1m).

The benchmark starts its own private cluster (shared_buffers = 1GB, so that
the 1M indexes do not fit), loads one table per N and type with binary COPY,
and for each N and each pair of peers (gv_hnsw against pgvector hnsw with the
same m and ef_construction, gv_ivfpq against ivfflat with the same lists)
measures, for every maintenance_work_mem and worker count asked for: build
seconds, the build backend's peak private memory (RssAnon, sampled from
/proc), index size; then, on the last build, q/s and recall@10 over a sweep of
ef_search / probes from one connection, and q/s at recall 0.95 and 0.99
(interpolated on the sweep's curve).  --cold also restarts the server (and
drops the OS page cache when allowed) and times the first queries.
--cold-eic 0,1 --cold-rounds 3 does that with prefetching off and on, three
rounds in alternating order (effective_io_concurrency turns off both the
graph-page prefetching of gv_hnsw and the heap-row prefetching of the
re-ranking scans).

    bash test/bench/run scale_bench.py --n 60k,250k --ams all
    test/bench/scale_bench.py --n 1m --pairs hnsw --mwm 2GB --workers 0
    test/bench/scale_bench.py --quick            # 20k rows, small sweeps: a smoke test

Output: tables on stderr/stdout and under --out/<timestamp>/: builds.csv,
sweeps.csv, targets.csv (q/s at each recall target, with ratios to the peer
measured in the same run), build_time.png, qps.png, env.json.  Rows are
appended to the CSV files as they are measured, so an interrupted run keeps
what it measured.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from gvbench import dataset as dsmod  # noqa: E402
from gvbench import groundtruth, plot  # noqa: E402
from gvbench.dataset import vector_text  # noqa: E402
from gvbench.sweep import format_table, query_statement, run_config, sweep  # noqa: E402
from bench import server_cpu_s  # noqa: E402

# The issue asks for "the 17 offsets with |dx| + |dy| <= 2", about 1.02M
# images; those offsets are 13 (780,000 images), so the four 3-pixel shifts
# along an axis make up the 17 (1,020,000).  Unshifted first, then by
# distance: every prefix is a data set of its own.
SHIFTS = sorted([(dx, dy) for dx in range(-3, 4) for dy in range(-3, 4)
                 if abs(dx) + abs(dy) <= 2 or (abs(dx) + abs(dy) == 3 and dx * dy == 0)],
                key=lambda s: (abs(s[0]) + abs(s[1]), s))
DIM = 128
K = 10
SCHEMA = "gv_scale"

# The peers, by pair.  "with" takes the row count (lists grow with N).
HNSW_WITH = "m = 16, ef_construction = 64"
EF_SEARCH = (10, 20, 40, 80, 120, 200, 320, 500)


def ivf_lists(n: int) -> int:
    """pgvector's advice (rows / 1000 up to 1M rows), at least 60."""
    return max(60, n // 1000)


ENTRIES = {
    "gv_hnsw": dict(pair="hnsw", type="gvector", am="gv_hnsw", opclass="gvector_l2_ops",
                    with_=lambda n: HNSW_WITH,
                    configs=lambda ef: [(f"ef_search={e}", [f"SET gigavector.hnsw_ef_search = {e}"])
                                        for e in ef]),
    "hnsw": dict(pair="hnsw", type="vector", am="hnsw", opclass="vector_l2_ops",
                 with_=lambda n: HNSW_WITH,
                 configs=lambda ef: [(f"ef_search={e}", [f"SET hnsw.ef_search = {e}"]) for e in ef]),
    # 16 code bytes a row (8 dimensions a byte): the size target is 1/20 of
    # ivfflat's 512-byte vectors
    "gv_ivfpq": dict(pair="ivf", type="gvector", am="gv_ivfpq", opclass="gvector_l2_ops",
                     with_=lambda n: f"lists = {ivf_lists(n)}, subquantizers = 16, bits = 8",
                     configs=lambda pr: [(f"probes={p} rerank={r}" + (f" max_probes={c}" if c else ""),
                                          [f"SET gigavector.ivfpq_probes = {p}",
                                           f"SET gigavector.ivfpq_rerank = {r}",
                                           f"SET gigavector.ivfpq_max_probes = {c or 256}"])
                                         for p, r, c in pr]),
    "ivfflat": dict(pair="ivf", type="vector", am="ivfflat", opclass="vector_l2_ops",
                    with_=lambda n: f"lists = {ivf_lists(n)}",
                    configs=lambda pr: [(f"probes={p}", [f"SET ivfflat.probes = {p}"])
                                        for p in sorted({p for p, _, _ in pr})]),
}
PEER_OF = {"gv_hnsw": "hnsw", "gv_ivfpq": "ivfflat"}
# (probes, rerank, max_probes): gv_ivfpq's scan starts from probes lists
# and probes more while its bounds say a nearer row may be in them (None:
# up to the default 256); max_probes = probes fixes the lists, as ivfflat's
# probes does.  ivfflat runs every probes value of the list.
IVF_PROBES = ((1, 10, None), (2, 10, None), (4, 20, None), (8, 20, None), (16, 40, None),
              (32, 40, None), (64, 100, None),
              (4, 20, 4), (6, 20, 6), (8, 20, 8), (12, 20, 12), (16, 40, 16), (32, 40, 32))


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_n(s: str) -> int:
    s = s.strip().lower()
    mult = {"k": 1000, "m": 1000_000}.get(s[-1:], 1)
    return int(float(s[:-1] if mult > 1 else s) * mult)


def n_label(n: int) -> str:
    return f"{n // 1000_000}M" if n % 1000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


# ---------------------------------------------------------------------------
# data


def cache_root() -> str:
    d = os.environ.get("GIGAVECTOR_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "gigavector")
    d = os.path.join(d, "fmnist-1m")
    os.makedirs(d, exist_ok=True)
    return d


def shifted(images: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """images (n, 28, 28) moved dx columns right and dy rows down, the
    uncovered border zero."""
    out = np.zeros_like(images)
    h, w = images.shape[1:]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        images[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def pca(train: np.ndarray, dim: int):
    """Mean and the top dim principal axes (784, dim) of train, each axis's
    sign fixed (largest component positive) so that the data are the same
    on every machine."""
    x = train.astype(np.float64)
    mean = x.mean(axis=0)
    xc = x - mean
    cov = np.einsum("ik,il->kl", xc, xc) / (len(x) - 1)
    vals, vecs = np.linalg.eigh(cov)
    axes = vecs[:, np.argsort(vals)[::-1][:dim]]
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(dim)])
    return mean, axes * signs


class Data:
    """fmnist-1m in the cache: base (memory-mapped), queries, labels."""

    def __init__(self, base: np.ndarray, labels: np.ndarray, queries: np.ndarray, root: str):
        self.base, self.labels, self.queries, self.root = base, labels, queries, root

    def dataset(self, n: int) -> dsmod.Dataset:
        """The first n rows as a gvbench Dataset (for recall)."""
        return dsmod.Dataset(name=f"fmnist-1m-{n}", base=self.base[:n], base_labels=self.labels[:n],
                             queries=self.queries, query_labels=np.zeros(len(self.queries), np.int32),
                             fingerprint="pca128")


def make_data() -> Data:
    root = cache_root()
    paths = {p: os.path.join(root, f"{p}.npy") for p in ("base", "labels", "queries")}
    if not all(os.path.exists(p) for p in paths.values()) or \
            len(np.load(paths["labels"], mmap_mode="r")) != 60000 * len(SHIFTS):
        src = dsmod.load_fashion_mnist()
        train = src.base.reshape(-1, 28, 28)
        t0 = time.perf_counter()
        mean, axes = pca(src.base, DIM)
        axes32, mean32 = axes.astype(np.float32), mean.astype(np.float32)
        log(f"PCA {src.base.shape[1]} -> {DIM} fitted in {time.perf_counter() - t0:.1f} s")
        n0 = len(train)
        tmp = paths["base"] + ".tmp.npy"
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32,
                                        shape=(n0 * len(SHIFTS), DIM))
        from gvbench.progress import progress
        with progress(len(SHIFTS) * n0, "fmnist-1m: shift + PCA", "images") as bar:
            for i, (dx, dy) in enumerate(SHIFTS):
                x = shifted(train, dx, dy).reshape(n0, -1).astype(np.float32)
                out[i * n0:(i + 1) * n0] = np.einsum("ik,kl->il", x - mean32, axes32)
                bar.update(n0)
        out.flush()
        del out
        q = np.einsum("ik,kl->il", src.queries - mean32, axes32).astype(np.float32)
        np.save(paths["queries"], q)
        np.save(paths["labels"], np.tile(src.base_labels, len(SHIFTS)).astype(np.int32))
        os.replace(tmp, paths["base"])
    return Data(np.load(paths["base"], mmap_mode="r"), np.load(paths["labels"]),
                np.load(paths["queries"]), root)


def ground_truth(data: Data, n: int, nq: int) -> groundtruth.GroundTruth:
    """Exact L2 neighbours of the first nq queries among the first n rows,
    cached (a file for more queries serves fewer)."""
    ds = data.dataset(n)
    for name in sorted(os.listdir(data.root)):
        if name.startswith(f"gt-{n}-nq") and name.endswith(".npz") and \
                int(name[len(f"gt-{n}-nq"):-4]) >= nq:
            with np.load(os.path.join(data.root, name)) as z:
                return groundtruth.GroundTruth(ds, "l2", None, z["ids"][:nq], z["dists"][:nq])
    t0 = time.perf_counter()
    ids, dists = groundtruth.exact_knn(np.asarray(ds.base), ds.queries[:nq], "l2",
                                       groundtruth.GT_K, batch=32)
    path = os.path.join(data.root, f"gt-{n}-nq{nq}.npz")
    np.savez(path + ".tmp.npz", ids=ids, dists=dists)
    os.replace(path + ".tmp.npz", path)
    log(f"ground truth of {nq} queries among {n} rows in {time.perf_counter() - t0:.1f} s")
    return groundtruth.GroundTruth(ds, "l2", None, ids, dists)


# ---------------------------------------------------------------------------
# the private cluster


class Cluster:
    """initdb + pg_ctl in a directory of its own, run as "postgres" when we
    are root (initdb refuses root)."""

    def __init__(self, directory: Optional[str], port: int, shared_buffers: str):
        self.keep = directory is not None
        self.dir = directory or tempfile.mkdtemp(prefix="gv-scale.")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.port = port
        self.bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                                     check=True).stdout.strip()
        self.data = os.path.join(self.dir, "data")
        self.shared_buffers = shared_buffers
        self.dsn = f"host={self.dir} port={port} user=postgres dbname=postgres"

    def _run(self, *cmd: str) -> None:
        full = [os.path.join(self.bindir, cmd[0]), *cmd[1:]]
        if os.geteuid() == 0:
            full = ["runuser", "-u", "postgres", "--"] + full
        subprocess.run(full, check=True, stdout=subprocess.DEVNULL)

    def start(self) -> None:
        if not os.path.exists(os.path.join(self.data, "PG_VERSION")):
            if os.geteuid() == 0:
                shutil.chown(self.dir, "postgres")
            self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as f:
            f.write(f"listen_addresses = ''\nunix_socket_directories = '{self.dir}'\n"
                    f"port = {self.port}\nfsync = off\nshared_buffers = {self.shared_buffers}\n"
                    "max_parallel_maintenance_workers = 1\nmax_wal_size = 4GB\n"
                    "checkpoint_timeout = 30min\njit = off\n")
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"), "-w", "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        except subprocess.CalledProcessError:
            pass

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        self.stop()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def drop_os_cache() -> bool:
    """Ask the kernel to drop clean page-cache pages (root only)."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1\n")
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------
# measurements


class PeakMemory:
    """Samples a process's private resident memory (RssAnon, kB) from /proc
    in a thread, every 0.1 s, and keeps the maximum: the build's own memory,
    without the shared buffers it touches (those are RssShmem)."""

    def __init__(self, pid: int):
        self.pid, self.peak_kb, self._stop = pid, 0, threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> None:
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))
        except OSError:
            pass

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            self._sample()

    def __enter__(self) -> "PeakMemory":
        self._sample()
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()
        self._sample()


def table_name(n: int, type_name: str) -> str:
    return f"{SCHEMA}.fmnist1m_{n_label(n).lower()}_{type_name}"


def ensure_tables(conn, data: Data, n: int, types: Sequence[str]) -> None:
    for t in types:
        table = table_name(n, t)
        secs = dsmod.ensure_table(conn, table, t, data.base[:n], data.labels[:n])
        log(f"{table}: " + (f"loaded in {secs:.1f} s" if secs else "present"))


def build(dsn: str, n: int, name: str, mwm: str, workers: int) -> dict:
    """One CREATE INDEX on a fresh connection; the measurements."""
    e = ENTRIES[name]
    idx = f"scale_{name}_{n_label(n).lower()}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(SCHEMA, idx)))
        notices: List[str] = []
        conn.add_notice_handler(lambda d: notices.append(d.message_primary))
        conn.execute(sql.SQL("SET maintenance_work_mem = {}").format(sql.Literal(mwm)))
        conn.execute(sql.SQL("SET max_parallel_maintenance_workers = {}").format(sql.Literal(workers)))
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        stmt = sql.SQL("CREATE INDEX {} ON {} USING {} (emb {}) WITH ({})").format(
            sql.Identifier(idx), dsmod.ident(table_name(n, e["type"])), sql.Identifier(e["am"]),
            sql.Identifier(e["opclass"]), sql.SQL(e["with_"](n)))
        log(f"{name} N={n_label(n)} maintenance_work_mem={mwm} workers={workers}: "
            f"{stmt.as_string(conn)}")
        cpu0 = server_cpu_s(conn)
        with PeakMemory(pid) as mem:
            t0 = time.perf_counter()
            conn.execute(stmt)
            secs = time.perf_counter() - t0
        time.sleep(0.3)     # the postmaster reaps the workers
        cpu1 = server_cpu_s(conn)
        size = conn.execute("SELECT pg_relation_size(%s::regclass)", [f"{SCHEMA}.{idx}"]).fetchone()[0]
    row = dict(n=n, name=name, peer=PEER_OF.get(name, ""), am=e["am"], with_=e["with_"](n), mwm=mwm,
               workers=workers, build_s=secs,
               build_cpu_s=cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else float("nan"),
               peak_mb=mem.peak_kb / 1024, index_mb=size / 2**20,
               bytes_per_row=size / n, notice=" | ".join(notices), index=f"{SCHEMA}.{idx}")
    log(f"{name} N={n_label(n)}: built in {secs:.1f} s, peak {row['peak_mb']:.0f} MB private, "
        f"index {row['index_mb']:.1f} MB" + (f"; NOTICE {row['notice']}" if notices else ""))
    return row


def qps_at(rows: Sequence[dict], target: float, key: str = "qps") -> float:
    """q/s at recall target on a sweep's curve: the best q/s among the
    configurations that reach it, interpolated (log q/s linear in recall)
    with the best one below it; NaN when none reaches it."""
    rows = [r for r in rows if r[key] == r[key]]  # not NaN
    above = [r for r in rows if r["recall"] >= target]
    if not above:
        return float("nan")
    hi = max(above, key=lambda r: r[key])
    below = [r for r in rows if r["recall"] < target and r[key] > hi[key]]
    if not below:
        return hi[key]
    lo = max(below, key=lambda r: r["recall"])
    f = (target - lo["recall"]) / (hi["recall"] - lo["recall"])
    return math.exp(math.log(lo[key]) + f * (math.log(hi[key]) - math.log(lo[key])))


class Out:
    """CSV files appended row by row (a file's columns are its first row's)."""

    def __init__(self, directory: str):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)

    def append(self, name: str, row: dict) -> None:
        path = os.path.join(self.dir, name)
        new = not os.path.exists(path)
        with open(path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(row))
            if new:
                w.writeheader()
            w.writerow(row)

    def read(self, name: str) -> List[dict]:
        path = os.path.join(self.dir, name)
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return list(csv.DictReader(f))


def prewarm(args, cluster: Cluster, gt, n: int, name: str, settings: Sequence[str]) -> None:
    """Bring the index and table into the caches, as a server that has been
    answering queries has them: --prewarm queries that the sweep does not
    time (the test images after the timed ones), at the sweep's middle
    setting.  Without it the sweep's first setting ran on a cold cache and
    its q/s was a mix of cold and warm (gv_hnsw at 1M: 314 q/s at ef_search
    10, 631 at 20)."""
    if args.prewarm <= 0:
        return
    e = ENTRIES[name]
    queries = gt.dataset.queries[args.queries:args.queries + args.prewarm]
    t0 = time.perf_counter()
    run_config(cluster.dsn, query_statement(table_name(n, e["type"]), "emb", "<->", e["type"], K),
               [vector_text(q) for q in queries], None, K, settings, warmup=0)
    log(f"{name} N={n_label(n)}: prewarmed with {len(queries)} queries in "
        f"{time.perf_counter() - t0:.1f} s")


def run_sweep(args, cluster: Cluster, gt, n: int, name: str, label: str = "") -> List[dict]:
    e = ENTRIES[name]
    ef = EF_SEARCH[:4] if args.quick else EF_SEARCH
    configs = e["configs"](ef if e["pair"] == "hnsw" else IVF_PROBES[:4] + IVF_PROBES[7:9] if args.quick else IVF_PROBES)
    configs = [(c, ["SET enable_seqscan = off"] + s) for c, s in configs]
    prewarm(args, cluster, gt, n, name, configs[len(configs) // 2][1])
    res = sweep(cluster.dsn, table_name(n, e["type"]), "emb", "<->", K, configs, gt.dataset.queries,
                gt, e["type"], nqueries=args.queries, name=name, warmup=args.warmup)
    return [dict(n=n, name=name, phase=label or "warm", config=r.config, qps=r.qps, recall=r.recall,
                 p50_ms=r.p50_ms, p99_ms=r.p99_ms, srv_ms=r.srv_ms,
                 cpu_qps=1000.0 / r.srv_ms if r.srv_ms > 0 else float("nan"), plan=r.plan)
            for r in res]


def cold_runs(args, cluster: Cluster, gt, n: int, name: str, target_config: str) -> List[dict]:
    """The first args.cold queries after a restart (and a dropped OS cache),
    then the same queries again warm, at one configuration: once for each
    --cold-eic value (effective_io_concurrency; none: the server's), in
    --cold-rounds rounds whose order alternates, so that an A/B of
    prefetching is one binary on one machine."""
    e = ENTRIES[name]
    configs = dict(e["configs"](EF_SEARCH if e["pair"] == "hnsw" else IVF_PROBES))
    eics: List[Optional[int]] = [int(x) for x in args.cold_eic.split(",")] if args.cold_eic else [None]
    rows = []
    for rnd in range(1, args.cold_rounds + 1):
        for eic in (eics if rnd % 2 else eics[::-1]):
            settings = ["SET enable_seqscan = off"] + list(configs[target_config])
            if eic is not None:
                settings.append(f"SET effective_io_concurrency = {eic}")
            cluster.restart()
            dropped = drop_os_cache()
            out = {}
            for phase in ("cold", "warm"):
                r = sweep(cluster.dsn, table_name(n, e["type"]), "emb", "<->", K, [(target_config, settings)],
                          gt.dataset.queries, gt, e["type"], nqueries=args.cold, name=name, warmup=0)[0]
                out[phase] = r.qps
            rows.append(dict(n=n, name=name, config=target_config, queries=args.cold,
                             eic="" if eic is None else eic, round=rnd, cold_qps=out["cold"],
                             warm_qps=out["warm"], os_cache_dropped=dropped))
            log(f"{name} N={n_label(n)} {target_config} effective_io_concurrency "
                f"{'default' if eic is None else eic}, round {rnd}: cold {out['cold']:.0f} q/s, "
                f"warm {out['warm']:.0f} q/s")
    return rows


def best_config_for(rows: Sequence[dict], target: float) -> Optional[str]:
    ok = [r for r in rows if r["recall"] >= target]
    return max(ok, key=lambda r: r["qps"])["config"] if ok else None


def environment(conn) -> dict:
    env = dict(when=datetime.datetime.now().isoformat(timespec="seconds"), host=platform.node(),
               cpus=os.cpu_count(), server=conn.execute("SELECT version()").fetchone()[0],
               extensions=dict(conn.execute("SELECT extname, extversion FROM pg_extension").fetchall()))
    try:
        env["commit"] = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
                                       capture_output=True, text=True).stdout.strip()
        with open("/proc/loadavg") as f:
            env["loadavg_at_start"] = f.read().split()[:3]
    except OSError:
        pass
    for g in ("shared_buffers", "max_parallel_maintenance_workers", "jit"):
        env[g] = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(g))).fetchone()[0]
    return env


def plots(outdir: str, builds: List[dict], targets: List[dict]) -> None:
    """Build CPU seconds and CPU q/s at recall 0.95 against N (log-log):
    server CPU rather than wall time, which a busy machine distorts."""
    import matplotlib.pyplot as plt  # plot chose the Agg backend
    for what, rows, key, ylabel, fname in (
            ("build", builds, "build_cpu_s", "build CPU seconds (server)", "build_time.png"),
            ("qps", targets, "cpu_qps_095",
             "queries per CPU second at recall@10 0.95 (one connection)", "qps.png")):
        series: Dict[str, List[tuple]] = {}
        for r in rows:
            v = float(r.get(key) or "nan")
            if v != v:
                continue
            label = r["name"] + (f" mwm={r['mwm']} w={r['workers']}" if what == "build" else "")
            series.setdefault(label, []).append((int(r["n"]), v))
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(7, 5), dpi=110)
        for i, (label, pts) in enumerate(sorted(series.items())):
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=plot._MARKERS[i % len(plot._MARKERS)],
                    label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rows (fmnist-1m prefix, 128 dimensions)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, fname))
        plt.close(fig)


BUILD_COLUMNS = [("n", "N", "d"), ("name", "index", ""), ("mwm", "mwm", ""), ("workers", "workers", "d"),
                 ("build_s", "build s", ".1f"), ("build_ratio", "x peer", ".2f"),
                 ("build_cpu_s", "CPU s", ".1f"), ("cpu_ratio", "x peer", ".2f"),
                 ("peak_mb", "peak MB", ".0f"), ("index_mb", "size MB", ".1f"),
                 ("size_ratio", "x peer", ".3f"), ("notice", "notice", "")]
TARGET_COLUMNS = [("n", "N", "d"), ("name", "index", ""), ("qps_095", "q/s@0.95", ".0f"),
                  ("ratio_095", "x peer", ".2f"), ("qps_099", "q/s@0.99", ".0f"),
                  ("ratio_099", "x peer", ".2f"), ("cpu_qps_095", "CPU q/s@0.95", ".0f"),
                  ("cpu_ratio_095", "x peer", ".2f"), ("cpu_qps_099", "CPU q/s@0.99", ".0f"),
                  ("cpu_ratio_099", "x peer", ".2f"), ("max_recall", "max recall", ".4f")]


def with_ratios(builds: List[dict], targets: List[dict]) -> None:
    """Ratios to the peer's row of the same N (and maintenance_work_mem and
    workers, for builds)."""
    for r in builds:
        peer = next((p for p in builds if p["name"] == r["peer"] and p["n"] == r["n"]
                     and p["mwm"] == r["mwm"] and p["workers"] == r["workers"]), None)
        r["build_ratio"] = r["build_s"] / peer["build_s"] if peer else float("nan")
        r["cpu_ratio"] = r["build_cpu_s"] / peer["build_cpu_s"] if peer else float("nan")
        r["size_ratio"] = r["index_mb"] / peer["index_mb"] if peer else float("nan")
    for r in targets:
        peer = next((p for p in targets if p["name"] == PEER_OF.get(r["name"]) and p["n"] == r["n"]), None)
        for t in ("095", "099"):
            for q in ("", "cpu_"):
                r[f"{q}ratio_{t}"] = r[f"{q}qps_{t}"] / peer[f"{q}qps_{t}"] if peer else float("nan")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", default="60k,250k,1m", help="row counts, comma-separated (60k, 250k, 1m, 1020k)")
    p.add_argument("--ams", default="all",
                   help="comma-separated of gv_hnsw, hnsw, gv_ivfpq, ivfflat, or the pairs "
                        "hnsw_pair, ivf_pair, or all")
    p.add_argument("--mwm", default="2GB", help="maintenance_work_mem values, comma-separated")
    p.add_argument("--workers", default="0", help="max_parallel_maintenance_workers values, comma-separated")
    p.add_argument("--extra-build", action="append", default=[],
                   help="AM:N:MWM:WORKERS, a further build measured only for its time and memory "
                        "(e.g. gv_hnsw:1m:256MB:0); repeatable")
    p.add_argument("--queries", type=int, default=1000, help="queries per sweep configuration")
    p.add_argument("--warmup", type=int, default=20, help="untimed queries before each setting")
    p.add_argument("--prewarm", type=int, default=1000,
                   help="untimed queries (not the timed ones) before each index's sweep")
    p.add_argument("--cold", type=int, default=0,
                   help="also time the first COLD queries after a restart, then again warm, at "
                        "the fastest configuration that reaches recall 0.95 (0: skip)")
    p.add_argument("--cold-eic", default="",
                   help="effective_io_concurrency values for the cold runs, comma-separated "
                        "(e.g. 0,1: prefetching off and on; default: the server's)")
    p.add_argument("--cold-rounds", type=int, default=1,
                   help="cold runs of each --cold-eic value, in alternating order")
    p.add_argument("--shared-buffers", default="1GB")
    p.add_argument("--cluster-dir", default=None,
                   help="keep the cluster (and its loaded tables) in this directory for later runs")
    p.add_argument("--dsn", default=None, help="use this server instead of a private cluster")
    p.add_argument("--port", type=int, default=56100)
    p.add_argument("--quick", action="store_true", help="20k rows, 200 queries, short sweeps")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.queries, args.warmup = "20k", min(args.queries, 200), 5
    args.ns = [parse_n(s) for s in args.n.split(",") if s.strip()]
    names: List[str] = []
    for a in (s.strip() for s in args.ams.split(",") if s.strip()):
        if a == "all":
            names += list(ENTRIES)
        elif a.endswith("_pair"):
            names += [k for k, e in ENTRIES.items() if e["pair"] == a[:-5]]
        elif a in ENTRIES:
            names.append(a)
        else:
            p.error(f"unknown access method {a!r}")
    args.names = list(dict.fromkeys(names))
    args.mwms = [s.strip() for s in args.mwm.split(",") if s.strip()]
    args.workerss = [int(s) for s in args.workers.split(",") if s.strip()]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    t_run = time.perf_counter()
    data = make_data()
    if max(args.ns) > len(data.base):
        log(f"fmnist-1m has {len(data.base)} rows")
        return 2
    cluster = Cluster(args.cluster_dir, args.port, args.shared_buffers)
    if args.dsn:
        cluster.dsn = args.dsn
    else:
        cluster.start()
    outdir = os.path.join(args.out, "scale-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    out = Out(outdir)
    try:
        conn = psycopg.connect(cluster.dsn, autocommit=True)
        for ext in ("gigavector", "vector"):
            if any(ENTRIES[nm]["type"] == ("gvector" if ext == "gigavector" else "vector")
                   for nm in args.names):
                conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(ext)))
        env = environment(conn)
        env["args"] = vars(args)
        with open(os.path.join(outdir, "env.json"), "w") as f:
            json.dump(env, f, indent=2, default=str)
        builds: List[dict] = []
        targets: List[dict] = []
        for n in args.ns:
            ensure_tables(conn, data, n, sorted({ENTRIES[nm]["type"] for nm in args.names}))
            gt = ground_truth(data, n, max(args.queries, args.cold))
            for name in args.names:
                last = None
                for mwm in args.mwms:
                    for w in args.workerss:
                        last = build(cluster.dsn, n, name, mwm, w)
                        builds.append(last)
                        out.append("builds.csv", last)
                rows = run_sweep(args, cluster, gt, n, name)
                for r in rows:
                    out.append("sweeps.csv", r)
                t = dict(n=n, name=name, qps_095=qps_at(rows, 0.95), qps_099=qps_at(rows, 0.99),
                         cpu_qps_095=qps_at(rows, 0.95, "cpu_qps"), cpu_qps_099=qps_at(rows, 0.99, "cpu_qps"),
                         max_recall=max(r["recall"] for r in rows), index_mb=last["index_mb"])
                targets.append(t)
                out.append("targets.csv", t)
                log(f"{name} N={n_label(n)}: {t['qps_095']:.0f} q/s at recall 0.95, "
                    f"{t['qps_099']:.0f} at 0.99")
                if args.cold:
                    cfg = best_config_for(rows, 0.95)
                    if cfg:
                        for row in cold_runs(args, cluster, gt, n, name, cfg):
                            out.append("cold.csv", row)
                conn = psycopg.connect(cluster.dsn, autocommit=True)  # after a restart
                conn.execute(sql.SQL("DROP INDEX {}").format(dsmod.ident(last["index"])))
            for spec in args.extra_build:
                am, ns, mwm, w = spec.split(":")
                if parse_n(ns) == n:
                    row = build(cluster.dsn, n, am, mwm, int(w))
                    builds.append(row)
                    out.append("builds.csv", row)
                    conn.execute(sql.SQL("DROP INDEX {}").format(dsmod.ident(row["index"])))
        with_ratios(builds, targets)
        text = [f"fmnist-1m (128 dimensions, L2), k={K}, {args.queries} queries a configuration, "
                f"shared_buffers {args.shared_buffers}", "", format_table(builds, BUILD_COLUMNS), "",
                format_table(targets, TARGET_COLUMNS)]
        cold = out.read("cold.csv")
        if cold:
            text += ["", format_table(cold, [("n", "N", ""), ("name", "index", ""), ("config", "config", ""),
                                             ("eic", "effective_io_concurrency", ""), ("round", "round", ""),
                                             ("cold_qps", "cold q/s", ""), ("warm_qps", "warm q/s", "")])]
        text += ["", f"total {time.perf_counter() - t_run:.0f} s; results in {outdir}"]
        print("\n".join(text))
        with open(os.path.join(outdir, "summary.txt"), "w") as f:
            f.write("\n".join(text) + "\n")
        plots(outdir, builds, targets)
    finally:
        if not args.dsn:
            cluster.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
