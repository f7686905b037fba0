#!/usr/bin/python3
"""gv_bm25 side by side with ts_rank + GIN and Xapian, on Debian's package
descriptions (gvbench/debian_text.py: ~64,000 English documents, queries of
1 to 4 words drawn with a fixed seed).

    bash test/bench/run bm25_bench.py [--queries 1000] [--repeat 3] [--skip xapian,grow]

In one run, on one connection with a prepared statement per engine
(gv_bm25's select list takes each row's score from the ordered scan):
  * top-k OR queries:  ORDER BY body <&> bm25query(index, q) LIMIT k
    against  WHERE tsv @@ to_tsquery(cfg, 'a | b') ORDER BY ts_rank(tsv, ...)
    DESC LIMIT k  over a GIN index on the same stored tsvector (a generated
    column: to_tsvector(cfg, body)), and Xapian in-process;
  * AND queries:  bm25query(index, q, 'and')  against ts_rank with
    plainto_tsquery, and Xapian's OP_AND;
  * for every engine, the top-k overlap with the exact BM25 of
    gvbench/bm25_oracle.py (tie-aware; 1.0 = the true top k), and for
    gv_bm25 the largest relative difference of its scores from the oracle's;
  * build seconds and size of gv_bm25 against the GIN index (and Xapian's),
    serially and with --build-workers parallel workers;
  * q/s after 20% more rows arrive by INSERT into an index built on the
    others (no REINDEX), against the index built on all of them.
Xapian gets the oracle's lexemes of every document (the same terms, term
frequencies and lengths as the text search configuration makes) and of
every query (so it parses no text), and weights them with BM25Weight(k1,
k2=0, k3=1, b, min_normlen=0): the same k1 and b, with its own IDF, which is
not Lucene's (so its overlap with the oracle is below 1.0).

With --repeat N the engines run N times in rotating order and the table
shows medians.  Output: a markdown table on stdout (with the command,
commit and date, for docs/benchmarks.md) and in --out/<timestamp>-bm25/bm25.md,
with raw.csv and bm25_qps.png (overlap with the oracle against q/s) beside it.  Times are reported, never judged: nothing here
passes or fails on a time.  Without gv_bm25 (before the access method is
installed) the peers and the oracle are still measured.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from gvbench import bm25_oracle as bo  # noqa: E402
from gvbench import debian_text as dt  # noqa: E402
from gvbench.groundtruth import cache_dir  # noqa: E402
from gvbench.sweep import backend_cpu_ns, plan_summary, write_csv  # noqa: E402

XAPIAN_MAX_TERM = 240  # bytes; Xapian refuses longer terms (245 in glass)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# corpus, lexemes, oracle


def corpus_lexemes(conn, corpus: dt.TextCorpus, config: str) -> Tuple[List[List[str]], List[int]]:
    """Every document's lexemes (Analyzer.analyze_many) and the documents
    whose lexemes differ from to_tsvector's, cached (they depend on the
    corpus, the configuration and the server's version)."""
    version = conn.execute("SHOW server_version_num").fetchone()[0]
    path = os.path.join(cache_dir(), "debian-text",
                        f"lexemes-{corpus.fingerprint}-{config}-{version}.json.gz")
    if os.path.exists(path):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            raw = json.load(f)
        return raw["lexemes"], raw["mismatch"]
    analyzer = bo.Analyzer(conn, config)
    texts = [d.text for d in corpus.docs]
    t0 = time.perf_counter()
    lexemes = analyzer.analyze_many(texts)
    log(f"oracle: {sum(map(len, lexemes))} lexemes of {len(texts)} documents from ts_parse + "
        f"ts_lexize in {time.perf_counter() - t0:.0f} s")
    t0 = time.perf_counter()
    mismatch = analyzer.check_tsvector(texts)
    log(f"oracle: lexemes checked against to_tsvector in {time.perf_counter() - t0:.0f} s: "
        f"{len(mismatch)} documents differ")
    tmp = f"{path}.{os.getpid()}.tmp"
    with gzip.open(tmp, "wt", encoding="utf-8") as f:
        json.dump(dict(lexemes=lexemes, mismatch=mismatch), f)
    os.replace(tmp, path)
    return lexemes, mismatch


class Truth:
    """The oracle's answers, computed once per (query, mode)."""

    def __init__(self, oracle: bo.BM25Oracle, terms: Sequence[List[str]], k: int):
        self.oracle, self.terms, self.k = oracle, terms, k

    def overlap(self, ids_per_query: Sequence[Sequence[int]], mode: str) -> float:
        """Mean tie-aware top-k overlap over the queries that match something."""
        ratios = []
        for terms, ids in zip(self.terms, ids_per_query):
            got, want = self.oracle.hits(ids, terms, self.k, mode)
            if want:
                ratios.append(got / want)
        return float(np.mean(ratios)) if ratios else float("nan")

    def max_score_error(self, rows_per_query: Sequence[Sequence[tuple]]) -> float:
        """Largest relative difference between a returned (id, score) and the oracle's score."""
        worst = 0.0
        for terms, rows in zip(self.terms, rows_per_query):
            for doc_id, score in rows:
                worst = max(worst, bo.relative_error(float(score), self.oracle.score(doc_id, terms)))
        return worst


# ---------------------------------------------------------------------------
# SQL runs


def timed_sql(dsn: str, stmt: sql.Composable, params: Sequence[tuple], settings: Sequence[str],
              warmup: int) -> dict:
    """Every query once through one prepared statement on a fresh connection."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for s in settings:
            conn.execute(s)
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        cur = conn.cursor()
        for p in params[:warmup]:
            cur.execute(stmt, p, prepare=True)
            cur.fetchall()
        lat = np.empty(len(params))
        rows = []
        cpu0 = backend_cpu_ns(pid)
        t_start = time.perf_counter()
        for i, p in enumerate(params):
            t0 = time.perf_counter()
            cur.execute(stmt, p, prepare=True)
            rows.append(cur.fetchall())
            lat[i] = time.perf_counter() - t0
        secs = time.perf_counter() - t_start
        cpu1 = backend_cpu_ns(pid)
        plan = plan_summary(conn, stmt, params[0])
    return dict(qps=len(params) / secs, p50_ms=float(np.percentile(lat, 50) * 1000),
                p99_ms=float(np.percentile(lat, 99) * 1000),
                srv_ms=(cpu1 - cpu0) / 1e6 / len(params) if cpu0 is not None and cpu1 is not None
                else float("nan"), plan=plan, rows=rows,
                mean_rows=float(np.mean([len(r) for r in rows])))


def scored_rows(dsn: str, table: str, index: str, queries: Sequence[str], mode: str,
                k: int) -> List[List[tuple]]:
    """(id, score) of gv_bm25's top k for every query, untimed: the score
    is -(body <&> q) of the rows the index returned."""
    stmt = sql.SQL("SELECT id, -(body <&> bm25query({idx}, %s, {mode})) FROM {t} "
                   "ORDER BY body <&> bm25query({idx}, %s, {mode}) LIMIT {k}").format(
        idx=sql.Literal(index), mode=sql.Literal(mode), t=sql.SQL(table), k=sql.Literal(k))
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.cursor()
        out = []
        for q in queries:
            cur.execute(stmt, (q, q), prepare=True)
            out.append(cur.fetchall())
    return out


def ours_stmt(table: str, index: str, mode: str, k: int) -> sql.Composable:
    return sql.SQL("SELECT id FROM {t} ORDER BY body <&> bm25query({idx}, %s, {mode}) "
                   "LIMIT {k}").format(t=sql.SQL(table), idx=sql.Literal(index),
                                       mode=sql.Literal(mode), k=sql.Literal(k))


def tsrank_stmt(table: str, config: str, fn: str, k: int) -> sql.Composable:
    q = sql.SQL("{fn}({cfg}::regconfig, %s)").format(fn=sql.SQL(fn), cfg=sql.Literal(config))
    return sql.SQL("SELECT id FROM {t} WHERE tsv @@ {q} ORDER BY ts_rank(tsv, {q2}) DESC "
                   "LIMIT {k}").format(t=sql.SQL(table), q=q, q2=q, k=sql.Literal(k))


def build_index(conn, stmt: sql.Composable, name: str) -> Tuple[float, int]:
    """Run CREATE INDEX; (seconds, bytes)."""
    conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.SQL(name)))
    log(stmt.as_string(conn))
    t0 = time.perf_counter()
    conn.execute(stmt)
    secs = time.perf_counter() - t0
    size = conn.execute("SELECT pg_relation_size(%s::regclass)", [name]).fetchone()[0]
    log(f"{name}: built in {secs:.1f} s, {size / 2**20:.1f} MB")
    return secs, size


def parallel_build(conn, table: str, stmt: sql.Composable, name: str,
                   workers: int) -> Tuple[float, int]:
    """CREATE INDEX with the table's parallel_workers set to workers (the
    planner's choice for a table this small would be fewer); (seconds, bytes)."""
    conn.execute(sql.SQL("ALTER TABLE {} SET (parallel_workers = {})").format(
        sql.SQL(table), sql.Literal(workers)))
    conn.execute(sql.SQL("SET max_parallel_maintenance_workers = {}").format(sql.Literal(workers)))
    try:
        return build_index(conn, stmt, name)
    finally:
        conn.execute("RESET max_parallel_maintenance_workers")
        conn.execute(sql.SQL("ALTER TABLE {} RESET (parallel_workers)").format(sql.SQL(table)))


def ensure_docs_table(conn, table: str, corpus: dt.TextCorpus, config: str, reload: bool,
                      docs: Optional[Sequence[dt.Document]] = None) -> None:
    """The corpus (or docs of it) in table, loaded unless the table's comment
    says it already holds them."""
    docs = corpus.docs if docs is None else docs
    tag = f"debian-text {corpus.fingerprint} {len(docs)} {config}"
    have = conn.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", [table]).fetchone()[0]
    if have == tag and not reload:
        log(f"{table}: present")
        return
    secs = dt.load_table(conn, table, docs, tsv_config=config)
    conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(sql.SQL(table), sql.Literal(tag)))
    log(f"{table}: {len(docs)} documents loaded in {secs:.1f} s")


# ---------------------------------------------------------------------------
# Xapian


class XapianPeer:
    """A Xapian database (glass, in a temporary folder) of the oracle's lexemes."""

    def __init__(self, ids: Sequence[int], lexemes: Sequence[List[str]], k1: float, b: float):
        import xapian
        self.x = xapian
        self.dir = tempfile.mkdtemp(prefix="gv-bm25-xapian-")
        self.dropped_terms = 0
        t0 = time.perf_counter()
        wdb = xapian.WritableDatabase(self.dir, xapian.DB_CREATE_OR_OVERWRITE)
        for doc_id, lex in zip(ids, lexemes):
            doc = xapian.Document()
            for term, tf in _counts(lex).items():
                if len(term.encode()) > XAPIAN_MAX_TERM:
                    self.dropped_terms += 1
                    continue
                doc.add_term(term, tf)
            wdb.replace_document(int(doc_id), doc)
        wdb.commit()
        wdb.close()
        self.build_s = time.perf_counter() - t0
        self.size = sum(os.path.getsize(os.path.join(self.dir, f)) for f in os.listdir(self.dir))
        self.db = xapian.Database(self.dir)
        self.weight = xapian.BM25Weight(k1, 0.0, 1.0, b, 0.0)

    def run(self, terms_per_query: Sequence[List[str]], mode: str, k: int, warmup: int) -> dict:
        op = self.x.Query.OP_AND if mode == "and" else self.x.Query.OP_OR

        def one(terms):
            enq = self.x.Enquire(self.db)
            enq.set_weighting_scheme(self.weight)
            enq.set_query(self.x.Query(op, [t for t in terms if len(t.encode()) <= XAPIAN_MAX_TERM]))
            return [m.docid for m in enq.get_mset(0, k)]

        for terms in terms_per_query[:warmup]:
            one(terms)
        lat = np.empty(len(terms_per_query))
        ids = []
        c0 = time.process_time()
        t_start = time.perf_counter()
        for i, terms in enumerate(terms_per_query):
            t0 = time.perf_counter()
            ids.append(one(terms))
            lat[i] = time.perf_counter() - t0
        secs = time.perf_counter() - t_start
        cpu_ms = (time.process_time() - c0) * 1000 / len(terms_per_query)
        return dict(qps=len(terms_per_query) / secs, p50_ms=float(np.percentile(lat, 50) * 1000),
                    p99_ms=float(np.percentile(lat, 99) * 1000), srv_ms=cpu_ms, plan="in-process",
                    ids=ids, mean_rows=float(np.mean([len(r) for r in ids])))

    def close(self) -> None:
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _counts(lexemes: Sequence[str]) -> Dict[str, int]:
    out: Dict[str, int] = {}
    for t in lexemes:
        out[t] = out.get(t, 0) + 1
    return out


# ---------------------------------------------------------------------------
# report


def commit_of(top: str) -> str:
    try:
        rev = subprocess.run(["git", "-C", top, "rev-parse", "--short", "HEAD"], check=True,
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", top, "status", "--porcelain", "--untracked-files=no"],
                               check=True, capture_output=True, text=True).stdout.strip()
        return rev + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def md_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def line(cells):
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
    out = [line(head), "|" + "|".join("---" for _ in head) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def fmt(v, spec: str) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return format(v, spec)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dsn", default="")
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--k1", type=float, default=bo.K1)
    p.add_argument("--b", type=float, default=bo.B)
    p.add_argument("--config", default="english", help="text search configuration")
    p.add_argument("--seed", type=int, default=dt.QUERY_SEED, help="of the query set")
    p.add_argument("--repeat", type=int, default=1, help="interleaved repetitions of every run")
    p.add_argument("--warmup", type=int, default=20, help="untimed queries before each run")
    p.add_argument("--grow", type=float, default=0.2,
                   help="the INSERT test: build on N/(1+GROW) rows, then insert the rest")
    p.add_argument("--build-workers", type=int, default=2,
                   help="also build gv_bm25 with this many parallel workers (0: serial only)")
    p.add_argument("--skip", default="", help="comma-separated: tsrank, xapian, and, grow")
    p.add_argument("--force-index", action="store_true",
                   help="SET enable_seqscan = off for every SQL run (default: the planner's choice)")
    p.add_argument("--schema", default="gv_bench")
    p.add_argument("--reload", action="store_true", help="reload the tables even if present")
    p.add_argument("--refresh-corpus", action="store_true",
                   help="download the package lists again and rebuild the corpus")
    p.add_argument("--keep-indexes", action="store_true")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    p.add_argument("--no-plot", action="store_true")
    args = p.parse_args(argv)
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    t_run = time.perf_counter()
    conn = psycopg.connect(args.dsn, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS gigavector")
    have_ours = conn.execute("SELECT EXISTS (SELECT FROM pg_am WHERE amname = 'gv_bm25')").fetchone()[0]
    if not have_ours:
        log("access method gv_bm25 does not exist: measuring the peers and the oracle only")
    if "xapian" not in args.skip:
        try:
            import xapian  # noqa: F401
        except ImportError:
            log("python3-xapian is not installed (bash test/setup --peers): Xapian skipped")
            args.skip.add("xapian")

    corpus = dt.load_debian_text(refresh=args.refresh_corpus, log=log)
    log(f"corpus: {len(corpus)} documents, {corpus.release}, fingerprint {corpus.fingerprint}")
    lexemes, mismatch = corpus_lexemes(conn, corpus, args.config)
    analyzer = bo.Analyzer(conn, args.config)
    queries = dt.load_queries(corpus, analyzer.analyze_many, args.queries, args.config, args.seed)
    terms = [analyzer.query_terms(q) for q in queries]
    oracle = bo.BM25Oracle(args.k1, args.b)
    oracle.add_many((d.id, lex) for d, lex in zip(corpus.docs, lexemes))
    truth = Truth(oracle, terms, args.k)
    log(f"oracle: N = {oracle.N}, avgdl = {oracle.avgdl:.2f}, {len(oracle.postings)} terms; "
        f"{len(queries)} queries, {np.mean([len(t) for t in terms]):.2f} terms each")

    table = f"{args.schema}.debian_docs"
    ensure_docs_table(conn, table, corpus, args.config, args.reload)
    settings = ["SET enable_seqscan = off"] if args.force_index else []
    indexes = []  # (name, build s, bytes, note)
    gin = f"{args.schema}.debian_docs_tsv_gin"
    secs, size = build_index(conn, sql.SQL("CREATE INDEX debian_docs_tsv_gin ON {} USING gin (tsv)")
                             .format(sql.SQL(table)), gin)
    indexes.append(("GIN on the stored tsvector", secs, size, ""))
    ours = f"{args.schema}.debian_docs_body_bm25"
    bm25_with = sql.SQL("text_config = {}, k1 = {}, b = {}").format(
        sql.Literal(args.config), sql.SQL(repr(args.k1)), sql.SQL(repr(args.b)))
    if have_ours:
        try:
            ours_stmt_build = sql.SQL(
                "CREATE INDEX debian_docs_body_bm25 ON {} USING gv_bm25 (body) WITH ({})").format(
                sql.SQL(table), bm25_with)
            if args.build_workers > 0:
                secs, size = parallel_build(conn, table, ours_stmt_build, ours, args.build_workers)
                indexes.append((f"gv_bm25 on the text, {args.build_workers} parallel workers",
                                secs, size, ""))
            conn.execute("SET max_parallel_maintenance_workers = 0")
            secs, size = build_index(conn, ours_stmt_build, ours)
            conn.execute("RESET max_parallel_maintenance_workers")
            indexes.insert(1, ("gv_bm25 on the text", secs, size, "serial"))
        except psycopg.Error as err:
            log(f"gv_bm25: CREATE INDEX failed: {str(err).strip().splitlines()[0]}")
            have_ours = False
    xap = None
    if "xapian" not in args.skip:
        xap = XapianPeer([d.id for d in corpus.docs], lexemes, args.k1, args.b)
        indexes.append(("Xapian (glass, the same lexemes)", xap.build_s, xap.size,
                        f"{xap.dropped_terms} terms over {XAPIAN_MAX_TERM} bytes left out"
                        if xap.dropped_terms else ""))
        log(f"xapian: built in {xap.build_s:.1f} s, {xap.size / 2**20:.1f} MB")

    or_text = [" | ".join(t) for t in terms]  # to_tsquery: the OR of the same words
    engines = []  # (label, mode, runner)
    if have_ours:
        engines.append(("gv_bm25", "or", lambda: timed_sql(
            args.dsn, ours_stmt(table, ours, "or", args.k), [(q,) for q in queries], settings,
            args.warmup)))
    if "tsrank" not in args.skip:
        engines.append(("ts_rank + GIN (to_tsquery a | b)", "or", lambda: timed_sql(
            args.dsn, tsrank_stmt(table, args.config, "to_tsquery", args.k),
            [(q, q) for q in or_text], settings, args.warmup)))
    if xap:
        engines.append(("Xapian BM25Weight", "or", lambda: xap.run(terms, "or", args.k, args.warmup)))
    if "and" not in args.skip:
        if have_ours:
            engines.append(("gv_bm25", "and", lambda: timed_sql(
                args.dsn, ours_stmt(table, ours, "and", args.k), [(q,) for q in queries],
                settings, args.warmup)))
        if "tsrank" not in args.skip:
            engines.append(("ts_rank + GIN (plainto_tsquery)", "and", lambda: timed_sql(
                args.dsn, tsrank_stmt(table, args.config, "plainto_tsquery", args.k),
                [(q, q) for q in queries], settings, args.warmup)))
        if xap:
            engines.append(("Xapian BM25Weight", "and",
                            lambda: xap.run(terms, "and", args.k, args.warmup)))

    raw = []
    for rep in range(args.repeat):
        order = engines[rep % len(engines):] + engines[:rep % len(engines)] if engines else []
        for label, mode, runner in order:
            m = runner()
            ids = m.pop("ids", None) or [[r[0] for r in rows] for rows in m.pop("rows")]
            m.update(engine=label, mode=mode, repeat=rep + 1, overlap=truth.overlap(ids, mode))
            log(f"{label} {mode}: {m['qps']:.1f} q/s, overlap {m['overlap']:.4f}, {m['plan']}")
            raw.append(m)

    score_err = {}
    if have_ours:
        for mode in ("or", "and") if "and" not in args.skip else ("or",):
            rows = scored_rows(args.dsn, table, ours, queries, mode, args.k)
            score_err[mode] = truth.max_score_error(rows)
            log(f"gv_bm25 {mode}: largest relative score difference from the oracle "
                f"{score_err[mode]:.2e}")

    grow_rows = []
    if have_ours and "grow" not in args.skip:
        grow_rows = grow_test(conn, args, corpus, table, ours, bm25_with, queries, truth, settings,
                              indexes)

    if xap:
        xap.close()
    if not args.keep_indexes:
        for name in (gin, ours):
            conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.SQL(name)))

    # ------------------------------------------------------------- report
    summary = []
    for label, mode, _ in engines:
        rs = [r for r in raw if r["engine"] == label and r["mode"] == mode]
        s = {c: statistics.median(r[c] for r in rs) for c in ("qps", "p50_ms", "p99_ms", "srv_ms",
                                                              "overlap", "mean_rows")}
        s.update(engine=label, mode=mode, plan=rs[0]["plan"], qps_min=min(r["qps"] for r in rs),
                 qps_max=max(r["qps"] for r in rs), repeats=len(rs))
        summary.append(s)
    base = {m: next((s["qps"] for s in summary if s["mode"] == m and s["engine"].startswith("ts_rank")),
                    None) for m in ("or", "and")}
    rows = []
    for s in summary + grow_rows:
        b = base.get(s["mode"])
        err = score_err.get(s["mode"]) if s["engine"] == "gv_bm25" else s.get("score_err")
        rows.append([s["engine"], s["mode"], fmt(s["qps"], ".1f"),
                     f"{s['qps_min']:.1f}–{s['qps_max']:.1f}" if s.get("repeats", 1) > 1 else "",
                     fmt(s["qps"] / b if b else None, ".2f"), fmt(s["p50_ms"], ".2f"),
                     fmt(s["p99_ms"], ".2f"), fmt(s["srv_ms"], ".3f"), fmt(s["mean_rows"], ".2f"),
                     fmt(s["overlap"], ".4f"), fmt(err, ".1e"), s["plan"]])
    gin_bytes = indexes[0][2]
    gin_secs = indexes[0][1]
    irows = [[name, fmt(secs, ".1f"), f"{secs / gin_secs:.2f}" if gin_secs and secs else "",
              f"{size / 2**20:.1f}", f"{size / gin_bytes:.2f}" if gin_bytes else "", note]
             for name, secs, size, note in indexes]
    env = dict(when=datetime.datetime.now().isoformat(timespec="seconds"),
               server=conn.execute("SELECT version()").fetchone()[0].split(",")[0],
               gigavector=conn.execute("SELECT extversion FROM pg_extension "
                                       "WHERE extname = 'gigavector'").fetchone()[0],
               xapian=__import__("xapian").version_string() if xap else None, cpus=os.cpu_count())
    given = list(argv if argv is not None else sys.argv[1:])
    for i, a in enumerate(given):  # test/bench/run adds its private cluster's --dsn
        if a == "--dsn":
            del given[i:i + 2]
            break
    given = [a for a in given if not a.startswith("--dsn=")]
    command = "bash test/bench/run bm25_bench.py " + " ".join(given)
    top = os.path.dirname(os.path.dirname(HERE))
    text = [
        f"### BM25: gv_bm25, ts_rank + GIN, Xapian on Debian's package descriptions",
        "",
        f"Command `{command.strip()}`, commit {commit_of(top)}, {env['when'][:10]}; "
        f"{env['server']}, gigavector {env['gigavector']}"
        + (f", Xapian {env['xapian']}" if env["xapian"] else "") + f", {env['cpus']} CPUs.",
        "",
        f"Corpus: {len(corpus)} documents ({corpus.release}; fingerprint {corpus.fingerprint}), "
        f"N = {oracle.N}, avgdl = {oracle.avgdl:.2f} lexemes ({args.config}); "
        f"the oracle's lexemes differ from to_tsvector's in {len(mismatch)} documents. "
        f"{len(queries)} queries of 1–4 words (seed {args.seed}, "
        f"{np.mean([len(t) for t in terms]):.2f} terms on average), k = {args.k}, "
        f"k1 = {args.k1:g}, b = {args.b:g}; one connection, prepared statements"
        + (", enable_seqscan = off" if args.force_index else ", the planner's choice of plan")
        + (f"; median of {args.repeat} interleaved runs" if args.repeat > 1 else "") + ".",
        "",
        md_table(["engine", "mode", "q/s", "range", "x ts_rank", "p50 ms", "p99 ms",
                  "CPU ms/q", "rows", f"top-{args.k} overlap with the oracle",
                  "max score rel. error", "plan"], rows),
        "",
        md_table(["index", "build s", "x GIN", "size MB", "x GIN", "note"], irows),
        "",
        "CPU ms/q: the server backend's CPU time per query (Xapian: this process's), less "
        "disturbed than q/s on a busy machine. Overlap: tie-aware, mean over queries with a "
        "match; 1.0 = the exact BM25 top k. The INSERT rows run once (x ts_rank: against the "
        "full table's ts_rank).",
    ]
    report = "\n".join(text)
    print(report)
    outdir = os.path.join(args.out, datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + "-bm25")
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "bm25.md"), "w") as f:
        f.write(report + "\n")
    write_csv([{k: v for k, v in r.items()} for r in raw], os.path.join(outdir, "raw.csv"))
    if not args.no_plot and summary:
        from gvbench import plot
        plot.recall_qps([dict(name=f"{s['engine']} ({s['mode']})", config="", qps=s["qps"],
                              recall=s["overlap"]) for s in summary + grow_rows],
                        os.path.join(outdir, "bm25_qps.png"), k=args.k,
                        title=f"BM25 top-{args.k}, {len(corpus)} Debian package descriptions "
                              "(x: overlap with exact BM25)")
    log(f"total {time.perf_counter() - t_run:.0f} s; results in {outdir}")
    return 0


def grow_test(conn, args, corpus: dt.TextCorpus, table: str, ours: str, bm25_with,
              queries: Sequence[str], truth: Truth, settings, indexes) -> List[dict]:
    """gv_bm25 built on N/(1+grow) documents (a seeded random choice), then
    the others INSERTed (500 rows a statement, no REINDEX): q/s and overlap
    before and after, against the index built on all documents."""
    docs = list(corpus.docs)
    random.Random(args.seed).shuffle(docs)
    first = round(len(docs) / (1 + args.grow))
    start, rest = sorted(docs[:first], key=lambda d: d.id), [d.id for d in docs[first:]]
    gtable = f"{args.schema}.debian_grow"
    ensure_docs_table(conn, gtable, corpus, args.config, True, start)
    gidx = f"{args.schema}.debian_grow_body_bm25"
    secs, size = build_index(conn, sql.SQL(
        "CREATE INDEX debian_grow_body_bm25 ON {} USING gv_bm25 (body) WITH ({})").format(
        sql.SQL(gtable), bm25_with), gidx)
    indexes.append((f"gv_bm25 on {first} documents", secs, size, ""))
    sub = Truth(truth.oracle.subset(d.id for d in start), truth.terms, truth.k)
    out = []

    def measure(label: str, t: Truth) -> None:
        m = timed_sql(args.dsn, ours_stmt(gtable, gidx, "or", args.k), [(q,) for q in queries],
                      settings, args.warmup)
        ids = [[r[0] for r in rows] for rows in m.pop("rows")]
        err = t.max_score_error(scored_rows(args.dsn, gtable, gidx, queries, "or", args.k))
        m.update(engine=label, mode="or", overlap=t.overlap(ids, "or"), score_err=err)
        log(f"{label}: {m['qps']:.1f} q/s, overlap {m['overlap']:.4f}, score error {err:.1e}")
        out.append(m)

    measure(f"gv_bm25 on {first} documents", sub)
    t0 = time.perf_counter()
    for lo in range(0, len(rest), 500):
        conn.execute(sql.SQL("INSERT INTO {} (id, package, body) SELECT id, package, body FROM {} "
                             "WHERE id = ANY(%s)").format(sql.SQL(gtable), sql.SQL(table)),
                     [rest[lo:lo + 500]])
    secs = time.perf_counter() - t0
    size = conn.execute("SELECT pg_relation_size(%s::regclass)", [gidx]).fetchone()[0]
    indexes.append((f"… after INSERT of {len(rest)} more", None, size,
                    f"the INSERTs took {secs:.1f} s ({len(rest) / secs:.0f} rows/s)"))
    log(f"inserted {len(rest)} rows in {secs:.1f} s")
    measure(f"gv_bm25 after +{len(rest)} by INSERT", truth)
    if not args.keep_indexes:
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.SQL(gtable)))
    return out


if __name__ == "__main__":
    sys.exit(main())
