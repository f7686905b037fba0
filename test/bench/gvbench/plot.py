"""Recall/QPS plots in the ann-benchmarks manner: recall@k on x, queries/s
on a log y axis, one line per index (its configurations joined in recall
order).  matplotlib with the Agg backend: no display needed."""

from __future__ import annotations

import os
from typing import Dict, List, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

_MARKERS = "osD^v<>ph*X"


def point_label(config: str) -> str:
    """A configuration's values, short: "probes=2 rerank=10" -> "2/10"."""
    return "/".join(part.split("=")[-1] for part in config.split())


def recall_qps(rows: Sequence[dict], path: str, title: str = "", k: int = 10) -> str:
    """Plot rows (dicts with name, where, config, recall, qps) to path."""
    series: Dict[str, List[dict]] = {}
    for r in rows:
        key = r["name"] + (f" [{r['where']}]" if r.get("where") else "")
        series.setdefault(key, []).append(r)
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    for i, (key, pts) in enumerate(sorted(series.items())):
        pts = sorted(pts, key=lambda p: (p["recall"], -p["qps"]))
        xs = [p["recall"] for p in pts]
        ys = [p["qps"] for p in pts]
        ax.plot(xs, ys, marker=_MARKERS[i % len(_MARKERS)], linewidth=1.2, markersize=5, label=key)
        if len(pts) > 1:
            for p in pts:
                ax.annotate(point_label(p["config"]), (p["recall"], p["qps"]),
                            textcoords="offset points", xytext=(3, 3), fontsize=6, alpha=0.7)
    ax.set_yscale("log")
    ax.set_xlabel(f"recall@{k}")
    ax.set_ylabel("queries per second (one connection, log scale)")
    ax.set_title(title or "recall vs. speed")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
