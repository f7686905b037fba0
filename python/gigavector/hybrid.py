"""GigaVector's ``HybridSearcher``: vector search and BM25 text search, fused.

The fusion is the extension's ``gigavector.hybrid_search`` (README "Hybrid
search"), and :func:`fuse` is the same computation in Python:

* RRF: ``score = vw / (rrf_k + vector_rank) + tw / (rrf_k + text_rank)``;
  a branch that did not find a row adds 0.
* linear: ``score = vw * norm(vector similarity) + tw * norm(text score)``
  with ``norm`` one of ``min_max``, ``z_score``, ``l2``, ``none`` over the
  branch's candidates; a branch that did not find a row adds the lowest
  normalised value of that branch (0 for ``min_max``, where a branch whose
  candidates all score the same maps them to 1).
* vector similarity: L2 ``1 / (1 + d)``, cosine ``1 - d``, inner product
  ``-d`` (``<#>`` is the negative inner product): higher is better and no
  formula has a pole.

Ties go to the smaller id.
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import psycopg
from psycopg import sql

from .database import DistanceType, MetadataFilter, _k
from .errors import GigaVectorError
from .vector import Vector

if TYPE_CHECKING:
    from .bm25 import BM25Index
    from .database import Database
    from .vector import VectorLike

__all__ = ["FusionType", "HybridConfig", "HybridResult", "HybridSearcher", "fuse",
           "similarity", "NORMALIZATIONS"]

NORMALIZATIONS = ("min_max", "z_score", "l2", "none")
_SQL_DISTANCE = {DistanceType.EUCLIDEAN: "l2", DistanceType.COSINE: "cosine",
                 DistanceType.DOT_PRODUCT: "ip"}


class FusionType(enum.IntEnum):
    """How the two ranked lists become one."""

    LINEAR = 0  #: weighted sum of normalised scores
    RRF = 1     #: reciprocal rank fusion

    @property
    def sql_name(self) -> str:
        return ("linear", "rrf")[int(self)]


def _weight(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, not {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number at least 0, not {value!r}")
    return value


def _count(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 1_000_000:
        raise ValueError(f"{name} must be an integer from {low} to 1000000, not {value!r}")
    return int(value)


@dataclass(frozen=True)
class HybridConfig:
    """Weights, fusion and depth of a hybrid search.

    ``prefetch_k``: candidates taken from each branch (None: 3 × k);
    ``normalization``: for LINEAR, one of min_max, z_score, l2, none."""

    vector_weight: float = 0.5
    text_weight: float = 0.5
    fusion: FusionType = FusionType.LINEAR
    rrf_k: int = 60
    prefetch_k: int | None = None
    normalization: str = "min_max"

    def __post_init__(self) -> None:
        vw = _weight("vector_weight", self.vector_weight)
        tw = _weight("text_weight", self.text_weight)
        if vw == 0 and tw == 0:
            raise ValueError("vector_weight and text_weight must not both be 0")
        object.__setattr__(self, "vector_weight", vw)
        object.__setattr__(self, "text_weight", tw)
        object.__setattr__(self, "fusion", FusionType(self.fusion))
        object.__setattr__(self, "rrf_k", _count("rrf_k", self.rrf_k, 0))
        if self.prefetch_k is not None:
            object.__setattr__(self, "prefetch_k", _count("prefetch_k", self.prefetch_k, 1))
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {', '.join(NORMALIZATIONS)}, "
                             f"not {self.normalization!r}")


@dataclass(frozen=True)
class HybridResult:
    """One fused result.  ``vector_index`` is the row's id; a branch that did
    not find the row leaves its rank, score and distance None."""

    vector_index: int
    combined_score: float
    vector_score: float | None    #: similarity (higher is better), see the module doc
    text_score: float | None      #: BM25 score
    vector_rank: int | None
    text_rank: int | None
    vector_distance: float | None = None


def similarity(distance: str, d: float) -> float:
    """A distance as "higher is better": l2 1/(1+d), cosine 1-d, ip -d."""
    if distance == "l2":
        return 1.0 / (1.0 + d)
    if distance == "cosine":
        return 1.0 - d
    if distance == "ip":
        return -d
    raise ValueError(f"unknown distance {distance!r}")


def _normalize(values: Sequence[float], how: str) -> tuple[list[float], float]:
    """The normalised values and the value a row the branch did not find gets."""
    n = len(values)
    if n == 0:
        return [], 0.0
    if how == "min_max":
        lo, hi = min(values), max(values)
        return [(x - lo) / (hi - lo) if hi > lo else 1.0 for x in values], 0.0
    if how == "z_score":
        mean = sum(values) / n
        sd = math.sqrt(sum((x - mean) * (x - mean) for x in values) / n)
        out = [(x - mean) / sd if sd > 0 else 0.0 for x in values]
    elif how == "l2":
        length = math.sqrt(sum(x * x for x in values))
        out = [x / length if length > 0 else 0.0 for x in values]
    elif how == "none":
        out = list(values)
    else:
        raise ValueError(f"unknown normalization {how!r}")
    return out, min(out)


def fuse(vector_hits: Iterable[tuple[int, float]], text_hits: Iterable[tuple[int, float]],
         k: int, *, distance: str = "l2", fusion: FusionType = FusionType.RRF,
         vector_weight: float = 0.5, text_weight: float = 0.5,
         normalization: str = "min_max", rrf_k: int = 60) -> list[HybridResult]:
    """Fuse two ranked lists, best first: ``vector_hits`` as (id, distance)
    nearest first, ``text_hits`` as (id, BM25 score) best first; the same
    computation as ``gigavector.hybrid_search``."""
    vh = list(vector_hits)
    th = list(text_hits)
    sims = [similarity(distance, d) for _, d in vh]
    how = "none" if fusion == FusionType.RRF else normalization
    vnorm, vmiss = _normalize(sims, how)
    tnorm, tmiss = _normalize([s for _, s in th], how)
    rows: dict[int, dict[str, Any]] = {}
    for i, (id_, d) in enumerate(vh):
        rows.setdefault(id_, {}).setdefault("v", (i + 1, d, sims[i], vnorm[i]))
    for i, (id_, s) in enumerate(th):
        rows.setdefault(id_, {}).setdefault("t", (i + 1, s, tnorm[i]))
    out = []
    for id_, r in rows.items():
        v, t = r.get("v"), r.get("t")
        if fusion == FusionType.RRF:
            score = ((vector_weight / (rrf_k + v[0]) if v else 0.0)
                     + (text_weight / (rrf_k + t[0]) if t else 0.0))
        else:
            score = (vector_weight * (v[3] if v else vmiss)
                     + text_weight * (t[2] if t else tmiss))
        out.append(HybridResult(id_, score, v[2] if v else None, t[1] if t else None,
                                v[0] if v else None, t[0] if t else None, v[1] if v else None))
    out.sort(key=lambda r: (-r.combined_score, r.vector_index))
    return out[:k]


class HybridSearcher:
    """Vector search over a ``Database`` and BM25 over a ``BM25Index``, fused.

    Rows pair up by id: a vector's id and a document's ``doc_id``.  When both
    live on the same server, each search is one SQL statement (both branches
    through their indexes, ``candidates`` deep); otherwise two queries, and
    the fusion of :func:`fuse` in Python either way.  ``filter_metadata``
    (as in ``Database.search``) applies to both branches: on one server
    inside each branch; across servers the text branch's candidates are
    checked against the database afterwards (so fewer may remain).  When
    the database has TTL, expired vectors are never returned, by either
    branch."""

    def __init__(self, db: "Database", bm25: "BM25Index", config: HybridConfig | None = None):
        if config is not None and not isinstance(config, HybridConfig):
            raise ValueError(f"config must be a HybridConfig, not {type(config).__name__}")
        self._db = db
        self._bm25 = bm25
        self._config = config or HybridConfig()
        self._closed = False

    @property
    def config(self) -> HybridConfig:
        return self._config

    @property
    def same_server(self) -> bool:
        """Whether one SQL statement answers a search."""
        return bool(self._db.conninfo == self._bm25.conninfo)

    def _distance(self) -> DistanceType:
        return self._db.index_distance or DistanceType.EUCLIDEAN

    def search(self, query_vector: "VectorLike | None", query_text: str | None, k: int = 10,
               filter_metadata: MetadataFilter = None) -> list[HybridResult]:
        """The k best rows for a query vector and a query text (either may be None)."""
        if self._closed:
            raise GigaVectorError("the hybrid searcher is closed")
        limit = _k(k)
        if query_vector is None and query_text is None:
            raise ValueError("give a query vector, a query text or both")
        if query_text is not None and not isinstance(query_text, str):
            raise ValueError(f"query_text must be a string, not {type(query_text).__name__}")
        if limit == 0:
            return []
        cfg = self._config
        depth = cfg.prefetch_k if cfg.prefetch_k is not None else 3 * limit
        q = self._db._vector(query_vector, "query") if query_vector is not None else None
        dist = self._distance()
        if self.same_server:
            vh, th = self._one_statement(q, query_text, depth, dist, filter_metadata)
        else:
            vh = self._vector_branch(q, depth, dist, filter_metadata)
            th = self._text_branch(query_text, depth, filter_metadata)
        return fuse(vh, th, limit, distance=_SQL_DISTANCE[dist], fusion=cfg.fusion,
                    vector_weight=cfg.vector_weight, text_weight=cfg.text_weight,
                    normalization=cfg.normalization, rrf_k=cfg.rrf_k)

    def _one_statement(self, q: Vector | None, text: str | None, depth: int, dist: DistanceType,
                       filter_metadata: MetadataFilter) -> tuple[list[tuple[int, float]],
                                                                 list[tuple[int, float]]]:
        params = _containment_only(filter_metadata)
        # the filter and, with TTL, "not expired": the table's policy says so
        # too, but binds neither superusers nor BYPASSRLS roles
        conds: list[sql.Composable] = [sql.SQL("metadata @> %(f)s")] if params else []
        live = self._db._live()
        if live is not None:
            conds.append(live)
        where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conds) if conds else sql.SQL("")
        wv = where if q is not None else sql.SQL(" WHERE false")
        wt = sql.SQL(" AND doc_id IN (SELECT id FROM {}{})").format(self._db._t, where)
        stmt = sql.SQL(
            "SELECT v.ids, v.ds, t.ids, t.ss FROM "
            "(SELECT array_agg(id) ids, array_agg(d) ds FROM (SELECT id, embedding {op} %(q)b AS d "
            "FROM {t}{wv} ORDER BY d LIMIT %(n)s) x) v, "
            "(SELECT array_agg(doc_id) ids, array_agg(score) ss FROM ({text}) y) t"
        ).format(op=sql.SQL(dist.operator), t=self._db._t, wv=wv, text=self._text_sql(wt))
        args: dict[str, Any] = {"q": q if q is not None else Vector([0.0] * self._db.dimension),
                                "n": depth, "i": self._bm25._index_text,
                                "qt": text if text is not None else "", "m": "or"}
        if params:
            args["f"] = params[0]
        with self._db.connection() as conn:
            try:
                ids, ds, tids, ts = conn.execute(stmt, args).fetchone() or (None,) * 4
            except psycopg.Error as e:
                raise GigaVectorError.from_psycopg(e) from e
        vh = list(zip(ids or [], ds or []))
        th = list(zip(tids or [], ts or [])) if text is not None else []
        return vh, th

    def _text_sql(self, extra: sql.Composable) -> sql.Composed:
        return sql.SQL(
            "SELECT doc_id, -(body <&> bm25query(%(i)s::regclass, %(qt)s, %(m)s)) AS score FROM {} "
            "WHERE body @@@ bm25query(%(i)s::regclass, %(qt)s, %(m)s){} "
            "ORDER BY body <&> bm25query(%(i)s::regclass, %(qt)s, %(m)s) LIMIT %(n)s"
        ).format(self._bm25._t, extra)

    def _vector_branch(self, q: Vector | None, depth: int, dist: DistanceType,
                       filter_metadata: MetadataFilter) -> list[tuple[int, float]]:
        if q is None:
            return []
        hits = self._db.search(q, depth, distance=dist, filter_metadata=filter_metadata)
        return [(int(h.id or 0), float(h.distance)) for h in hits]

    def _text_branch(self, text: str | None, depth: int,
                     filter_metadata: MetadataFilter) -> list[tuple[int, float]]:
        if text is None:
            return []
        hits = [(r.doc_id, r.score) for r in self._bm25.search(text, depth)]
        # the database's filter and, with TTL, its expiry decide which survive
        where, params = self._db._filter(filter_metadata)
        if not hits or (not params and self._db._live() is None):
            return hits
        stmt = sql.SQL("SELECT id FROM {}{} AND id = ANY(%s)").format(self._db._t, where)
        with self._db.connection() as conn:
            keep = {r[0] for r in conn.execute(stmt, (*params, [h[0] for h in hits])).fetchall()}
        return [h for h in hits if h[0] in keep]

    def close(self) -> None:
        """Forget the database and index (they stay open: close them yourself)."""
        self._closed = True

    def __enter__(self) -> HybridSearcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _containment_only(filter_metadata: MetadataFilter) -> list[Any]:
    """The one jsonb containment parameter of an equality-only filter_metadata
    (none without a filter); ValueError for $ operators, which hybrid search
    does not take."""
    from .database import Database
    where, params = Database._metadata_filter(filter_metadata)
    if len(params) > 1 or (params and where.as_string(None).strip() != "WHERE metadata @> %s"):
        raise ValueError("hybrid search takes equality filters only (key: value), "
                         "not $ operators")
    return params


def metadata_filter_sql(filter_metadata: MetadataFilter, conn: Any) -> str | None:
    """A ``metadata @> '…'::jsonb`` condition as text for hybrid_search's filter."""
    params = _containment_only(filter_metadata)
    if not params:
        return None
    literal = sql.Literal(json.dumps(params[0].obj)).as_string(conn)
    return f"metadata @> {literal}::jsonb"
