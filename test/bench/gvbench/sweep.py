"""Recall/speed sweeps: one query set, several configurations.

A configuration is a label and the SET statements that make it (for
example ("ef_search=40", ["SET hnsw.ef_search = 40"])).  Each one is run on
a fresh connection, so no setting and no cached generic plan leaks from one
configuration into the next, and on that ONE connection every query goes
through the same server-side prepared statement (psycopg prepare=True), the
query vector being a parameter in text form cast to the column's type.

Measured per configuration: wall time of the timed loop (execute + fetch,
after a few untimed warm-up queries) -> queries/s, latency percentiles,
tie-aware recall@k against exact ground truth, mean rows returned (a
filtered index scan may return fewer than k), and the plan's scan node.
When the server runs on this machine (test/bench/run's private cluster),
also the CPU time its backend spent per query (srv_ms, from
/proc/<pid>/schedstat): on a shared, oversubscribed machine the wall-clock
q/s mostly measures waits for a CPU, while srv_ms still measures the work.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import sys
import time
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np
import psycopg
from psycopg import sql

from .dataset import TableName, ident, type_sql, vector_text
from .groundtruth import GroundTruth

Config = Tuple[str, Sequence[str]]  # (label, SET statements)


@dataclasses.dataclass
class Result:
    """One configuration's measurements; extra holds caller's columns
    (index name, build seconds, repeat number, ...)."""

    name: str  # what was measured, e.g. "vector hnsw"
    config: str  # the configuration's label
    settings: str  # its SET statements, joined with "; "
    where: str
    k: int
    nqueries: int
    seconds: float
    qps: float
    p50_ms: float
    p99_ms: float
    recall: float
    mean_rows: float
    plan: str
    srv_ms: float = float("nan")  # server backend CPU ms per query, if measurable
    extra: dict = dataclasses.field(default_factory=dict)

    def row(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("extra")
        d.update(self.extra)
        return d


def query_statement(table: TableName, column: str, operator: str, type_name: str, k: int,
                    where: Optional[str] = None) -> sql.Composed:
    """SELECT id FROM table [WHERE ...] ORDER BY column <op> %s::type LIMIT k.

    where is SQL text written by the caller (e.g. "label = 3"), never user
    data; k is a literal so that the planner sees the real LIMIT even in a
    generic plan."""
    if operator not in ("<->", "<=>", "<#>", "<+>", "<~>", "<%>"):
        raise ValueError(f"unexpected operator {operator!r}")
    return sql.SQL("SELECT id FROM {table}{where} ORDER BY {col} {op} %s::{typ} LIMIT {k}").format(
        table=ident(table),
        where=sql.SQL(" WHERE " + where) if where else sql.SQL(""),
        col=sql.Identifier(column),
        op=sql.SQL(operator),
        typ=type_sql(type_name),
        k=sql.Literal(int(k)),
    )


def plan_summary(conn, stmt, param) -> str:
    """The scan nodes of the statement's plan, e.g. 'Index Scan(t_emb_idx)';
    param is the statement's one parameter, or a list or tuple of them."""
    params = list(param) if isinstance(param, (list, tuple)) else [param]
    plan = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) ") + stmt, params).fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    found: List[str] = []

    def walk(node: dict) -> None:
        kind = node.get("Node Type", "")
        if "Scan" in kind:
            found.append(f"{kind}({node['Index Name']})" if "Index Name" in node else kind)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return "+".join(found) or plan[0]["Plan"].get("Node Type", "?")


def backend_cpu_ns(pid: int) -> Optional[int]:
    """CPU time (ns) the server backend pid has run so far, or None when it
    is not a PostgreSQL process on this machine (a remote server)."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            if not f.read().startswith("postgres"):
                return None
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def run_config(dsn: str, stmt, query_texts: Sequence[str], gt: Optional[GroundTruth], k: int,
               settings: Sequence[str], warmup: int = 10) -> dict:
    """Run every query once through one prepared statement on a fresh
    connection; return the raw measurements."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for s in settings:
            conn.execute(s)
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        cur = conn.cursor()
        for qt in query_texts[:warmup]:  # also prepares the statement
            cur.execute(stmt, [qt], prepare=True)
            cur.fetchall()
        lat = np.empty(len(query_texts))
        results = []
        cpu_start = backend_cpu_ns(pid)
        t_start = time.perf_counter()
        for i, qt in enumerate(query_texts):
            t0 = time.perf_counter()
            cur.execute(stmt, [qt], prepare=True)
            rows = cur.fetchall()
            lat[i] = time.perf_counter() - t0
            results.append(rows)
        seconds = time.perf_counter() - t_start
        cpu_end = backend_cpu_ns(pid)
        plan = plan_summary(conn, stmt, query_texts[0])
    ids = [[r[0] for r in rows] for rows in results]
    recall = float(np.mean([gt.recall(qi, row_ids, k) for qi, row_ids in enumerate(ids)])) if gt else float("nan")
    return dict(
        seconds=seconds,
        qps=len(query_texts) / seconds,
        p50_ms=float(np.percentile(lat, 50) * 1000),
        p99_ms=float(np.percentile(lat, 99) * 1000),
        recall=recall,
        mean_rows=float(np.mean([len(r) for r in ids])),
        plan=plan,
        ids=ids,
        srv_ms=((cpu_end - cpu_start) / 1e6 / len(query_texts)
                if cpu_start is not None and cpu_end is not None else float("nan")),
    )


def sweep(dsn: str, table: TableName, column: str, operator: str, k: int,
          configs: Iterable[Config], queries: np.ndarray, gt: Optional[GroundTruth],
          type_name: str, where: Optional[str] = None, nqueries: Optional[int] = None,
          name: str = "", warmup: int = 10, extra: Optional[dict] = None,
          verbose: bool = True) -> List[Result]:
    """Run the first nqueries queries under each configuration in turn.

    gt must be the ground truth of the same queries and the same WHERE
    clause (GroundTruth.label for "label = L"); it may be None to skip
    recall.  Returns one Result per configuration."""
    nqueries = len(queries) if nqueries is None else min(nqueries, len(queries))
    if gt is not None:
        nqueries = min(nqueries, gt.nqueries)
    texts = [vector_text(q) for q in queries[:nqueries]]
    stmt = query_statement(table, column, operator, type_name, k, where)
    out = []
    for label, settings in configs:
        m = run_config(dsn, stmt, texts, gt, k, settings, warmup)
        r = Result(
            name=name or str(table), config=label, settings="; ".join(settings),
            where=where or "", k=k, nqueries=nqueries, seconds=m["seconds"], qps=m["qps"],
            p50_ms=m["p50_ms"], p99_ms=m["p99_ms"], recall=m["recall"],
            mean_rows=m["mean_rows"], plan=m["plan"], srv_ms=m["srv_ms"],
            extra=dict(extra or {}),
        )
        if verbose:
            print(f"  {r.name:<24} {label:<16} {r.qps:9.1f} q/s  recall@{k} {r.recall:.4f}"
                  f"  rows {r.mean_rows:5.2f}  server {r.srv_ms:.3f} ms/q  {r.plan}", file=sys.stderr)
        out.append(r)
    return out


# ---------------------------------------------------------------------------
# reporting


def format_table(rows: Sequence[dict], columns: Sequence[Tuple[str, str, str]]) -> str:
    """A plain-text table.  columns: (key, heading, format spec)."""
    cells = [[h for _, h, _ in columns]]
    for r in rows:
        line = []
        for key, _, fmt in columns:
            v = r.get(key, "")
            if v is None or v == "" or (isinstance(v, float) and np.isnan(v)):
                line.append("")
            else:
                line.append(format(v, fmt) if fmt else str(v))
        cells.append(line)
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    numeric = [bool(fmt) for _, _, fmt in columns]
    out = []
    for n, line in enumerate(cells):
        out.append("  ".join(c.rjust(w) if num and n else c.ljust(w)
                             for c, w, num in zip(line, widths, numeric)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def write_csv(rows: Sequence[dict], path: str) -> None:
    keys: List[str] = []
    for r in rows:
        for key in r:
            if key not in keys:
                keys.append(key)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow(r)
