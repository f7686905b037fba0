"""GigaVector's ``BM25Index`` on PostgreSQL: BM25 full-text search with gv_bm25.

An index is a table

    CREATE TABLE "<name>" (doc_id bigint PRIMARY KEY, body text NOT NULL)

with a ``gv_bm25`` index on ``body`` built with the ``BM25Config``'s
``text_config``, ``k1`` and ``b``.  Documents are tokenized by that text
search configuration, and ``search`` ranks them with the access method's
exact BM25 scores (``body <&> bm25query(index, query)``, best first).  It
lives on the same kind of server as ``Database``: the server of a
``Database`` given as ``db=``, a connection string (``dsn=``,
``$GIGAVECTOR_DSN`` or libpq's PG* variables), or else an embedded server.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import uuid
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from . import embedded as _embedded
from .database import _Conn, _check_name, _create_extension, _id, _k, _quoted, _resolve_dsn
from .errors import GigaVectorError

if TYPE_CHECKING:
    from .database import Database

__all__ = ["BM25Config", "BM25Index", "BM25Result"]

_MODES = ("or", "and", "phrase")
_EMBEDDED_TABLE = "documents"  # the table of BM25Index(path=...) in an embedded data folder


def _number(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, not {value!r}")
    value = float(value)
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be between {low:g} and {high:g}, not {value!r}")
    return value


@dataclass(frozen=True)
class BM25Config:
    """BM25's parameters and the text search configuration that makes the terms.

    ``k1``: term-frequency saturation (0 = presence only); ``b``: how much a
    document's length normalizes its term frequencies (0 = not at all, 1 =
    fully); ``text_config``: a PostgreSQL text search configuration
    (``english``, ``simple``, ``german`` …, or one of your own)."""

    k1: float = 1.2
    b: float = 0.75
    text_config: str = "english"

    def __post_init__(self) -> None:
        object.__setattr__(self, "k1", _number("k1", self.k1, 0.0, 1e6))
        object.__setattr__(self, "b", _number("b", self.b, 0.0, 1.0))
        if not isinstance(self.text_config, str) or not self.text_config.strip() \
                or "\x00" in self.text_config:
            raise ValueError(f"text_config must name a text search configuration, "
                             f"not {self.text_config!r}")


@dataclass(frozen=True)
class BM25Result:
    """One search result: the document's id and its BM25 score (higher is better)."""

    doc_id: int
    score: float


class _Resources:
    """What a BM25Index holds; closed once, by close() or when garbage collected."""

    def __init__(self) -> None:
        self.pool: ConnectionPool | None = None
        self.server: _embedded.EmbeddedServer | None = None
        self.drop: tuple[Callable[[], Any], sql.Composable] | None = None  # (connection, DROP)

    def close(self) -> None:
        pool, self.pool = self.pool, None
        drop, self.drop = self.drop, None
        try:
            if drop is not None:
                with drop[0]() as conn:
                    conn.execute(drop[1], ())
        except (psycopg.Error, RuntimeError):
            pass
        finally:
            if pool is not None:
                pool.close()
            server, self.server = self.server, None
            if server is not None:
                _embedded.release(server)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, not {type(value).__name__}")
    if "\x00" in value:
        raise ValueError(f"{what} must not contain NUL characters")
    return value


def _value(conn: _Conn, query: Any, params: Any = None) -> Any:
    """The first column of the one row a query returns."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise GigaVectorError("the server returned no row")
    return row[0]


def _doc_id(value: Any) -> int:
    """A document id: an integer that fits bigint (the ids' rule), else ValueError."""
    return _id(value)


class BM25Index:
    """Documents (an integer id and a text each) ranked by BM25.

    ``BM25Index(config)`` keeps its documents in a table of its own: with
    ``path=None`` a temporary one (dropped by close(); on an embedded server,
    a throwaway server), else a persistent one: ``path`` is a data folder
    for an embedded server (table ``documents``), or the table's name on a
    server named by a connection string or given as ``db=`` (a ``Database``
    whose server, and connections, are then shared).  Reopening a persistent
    index with ``config=None`` keeps its configuration; another config
    rebuilds its gv_bm25 index.
    """

    def __init__(self, config: BM25Config | None = None, *, db: "Database | None" = None,
                 path: str | os.PathLike[str] | None = None, dsn: str | None = None):
        if config is not None and not isinstance(config, BM25Config):
            raise ValueError(f"config must be a BM25Config, not {type(config).__name__}")
        if db is not None and dsn is not None:
            raise ValueError("give either db= or dsn=, not both")
        if path is not None:
            path = os.fspath(path)
        self._res = _Resources()
        self._closed = False
        self._finalizer = weakref.finalize(self, self._res.close)
        self._lock = threading.Lock()
        self._db = db
        self._path = path
        try:
            if db is not None:
                connection = db.connection
                name = _check_name(path) if path is not None else None
                self._conninfo = db.conninfo
            else:
                target = _resolve_dsn(dsn, None)
                if target is None:
                    self._res.server = _embedded.acquire(path)
                    self._conninfo = self._res.server.conninfo()
                    name = _EMBEDDED_TABLE if path is not None else None
                else:
                    self._conninfo = target
                    name = _check_name(path) if path is not None else None
                with psycopg.connect(self._conninfo, autocommit=True):
                    pass  # a bad connection string fails here, clearly
                self._res.pool = ConnectionPool(
                    self._conninfo, min_size=1, max_size=2, open=True,
                    kwargs={"autocommit": True}, name="gigavector:bm25")
                connection = self._res.pool.connection
            self._connection = connection
            temporary = name is None
            table = name if name is not None else f"gigavector_bm25_tmp_{uuid.uuid4().hex[:16]}"
            with connection() as conn:
                self._setup(conn, table, config, temporary)
        except psycopg.Error as e:
            self._finalizer()
            raise GigaVectorError.from_psycopg(e) from e
        except BaseException:
            self._finalizer()
            raise

    # ------------------------------------------------------------------ setup

    def _setup(self, conn: _Conn, name: str, config: BM25Config | None,
               temporary: bool) -> None:
        """Create the extension, the table and its gv_bm25 index, or check existing ones."""
        if _value(conn, "SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'gigavector')"):
            _create_extension(conn)
        if _value(conn, "SELECT NOT EXISTS (SELECT FROM pg_am WHERE amname = 'gv_bm25')"):
            raise GigaVectorError("the gv_bm25 access method is not installed in this server: "
                               "install a gigavector release that has it "
                               "(ALTER EXTENSION gigavector UPDATE)")
        schema = _value(conn, "SELECT current_schema()")
        if schema is None:
            raise GigaVectorError("no schema to create the index's table in (check search_path)")
        self._name = name
        self._schema = schema
        self._t = _quoted(schema, name)
        digest = hashlib.sha1(f"{schema}.{name}".encode()).hexdigest()[:10]
        self._index_name = f"gv_{digest}_bm25"
        self._index = _quoted(schema, self._index_name)
        # bm25query takes the index as regclass: its quoted name as text
        self._index_text = sql.Identifier(schema, self._index_name).as_string(conn)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{schema}.{name}",))
            if config is not None:
                self._check_text_config(conn, config.text_config)
            oid = _value(conn, "SELECT to_regclass(%s)::oid",
                         (sql.Identifier(schema, name).as_string(conn),))
            if oid is None:
                conn.execute(sql.SQL("CREATE TABLE {} (doc_id bigint PRIMARY KEY, body text NOT NULL)")
                             .format(self._t), ())
            else:
                cols = dict(conn.execute(
                    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                    "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped", (oid,)).fetchall())
                if cols != {"doc_id": "bigint", "body": "text"}:
                    raise GigaVectorError(f"table {schema}.{name} exists and is not a BM25Index's")
            self._config = self._ensure_index(conn, config)
        if temporary:
            self._res.drop = (self._connection, sql.SQL("DROP TABLE IF EXISTS {}").format(self._t))

    @staticmethod
    def _check_text_config(conn: _Conn, text_config: str) -> None:
        try:
            with conn.transaction():  # a savepoint: the error leaves the outer transaction usable
                conn.execute("SELECT %s::regconfig", (text_config,))
        except psycopg.Error as e:
            # undefined object, invalid schema name, invalid name syntax
            if e.sqlstate not in ("42704", "3F000", "42602"):
                raise
            raise ValueError(f"no text search configuration {text_config!r}: {GigaVectorError.from_psycopg(e)}") from None

    def _ensure_index(self, conn: _Conn, config: BM25Config | None) -> BM25Config:
        """Keep the table's gv_bm25 index if it matches config (or config is None); else build it."""
        row = conn.execute(
            "SELECT c.reloptions FROM pg_class c WHERE c.oid = to_regclass(%s) "
            "AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'gv_bm25')",
            (self._index_text,)).fetchone()
        if row is not None:
            have = _options_config(row[0] or [])
            if config is None:
                return have
            same = _value(conn, "SELECT %s::regconfig = %s::regconfig",
                          (have.text_config, config.text_config))
            if same and have.k1 == config.k1 and have.b == config.b:
                return have
            conn.execute(sql.SQL("DROP INDEX {}").format(self._index), ())
        config = config or BM25Config()
        self._check_text_config(conn, config.text_config)
        conn.execute(sql.SQL(
            "CREATE INDEX {} ON {} USING gv_bm25 (body) WITH (text_config = {}, k1 = {}, b = {})"
        ).format(sql.Identifier(self._index_name), self._t, sql.Literal(config.text_config),
                 sql.SQL(repr(config.k1)), sql.SQL(repr(config.b))), ())
        return config

    # --------------------------------------------------------------- plumbing

    @property
    def config(self) -> BM25Config:
        return self._config

    @property
    def path(self) -> str | None:
        return self._path

    @property
    def conninfo(self) -> str:
        """A libpq connection string for the server holding the documents."""
        return self._conninfo

    @property
    def table(self) -> sql.Identifier:
        """The documents' table as a psycopg ``sql.Identifier`` (schema, name)."""
        return sql.Identifier(self._schema, self._name)

    @property
    def index_name(self) -> sql.Identifier:
        """The gv_bm25 index, for bm25query() in your own SQL."""
        return sql.Identifier(self._schema, self._index_name)

    def connection(self) -> Any:
        """A pooled connection (context manager), for your own SQL."""
        self._check_open()
        return self._connection()

    def _check_open(self) -> None:
        if self._closed:
            raise GigaVectorError("the BM25 index is closed")

    def _run(self, fn: Callable[[_Conn], Any]) -> Any:
        """Run fn(conn) on a pooled connection; database errors become GigaVectorError."""
        self._check_open()
        try:
            with self._connection() as conn:
                return fn(conn)
        except psycopg.Error as e:
            if (e.sqlstate or "").startswith("22"):  # data exception: the text or query given
                raise ValueError(str(GigaVectorError.from_psycopg(e))) from e
            raise GigaVectorError.from_psycopg(e) from e

    # ------------------------------------------------------------------ write

    def add_document(self, doc_id: int, text: str) -> None:
        """Store a document (replacing the one with the same id, if any)."""
        doc_id = _doc_id(doc_id)
        text = _text(text, "text")
        q = sql.SQL("INSERT INTO {} (doc_id, body) VALUES (%s, %s) "
                    "ON CONFLICT (doc_id) DO UPDATE SET body = EXCLUDED.body").format(self._t)
        self._run(lambda c: c.execute(q, (doc_id, text)))

    def add_documents(self, documents: Iterable[tuple[int, str]] | Mapping[int, str]) -> int:
        """Store many (doc_id, text) pairs (or a dict) with one COPY in one
        transaction; a later pair replaces an earlier one with the same id,
        and every pair replaces a stored document with its id.  Returns how
        many documents were stored."""
        items = documents.items() if isinstance(documents, Mapping) else documents
        docs: dict[int, str] = {}
        for n, pair in enumerate(items):
            try:
                doc_id, text = pair
            except (TypeError, ValueError):
                raise ValueError(f"document {n} is not a (doc_id, text) pair: {pair!r}") from None
            docs[_doc_id(doc_id)] = _text(text, f"the text of document {doc_id}")
        if not docs:
            return 0
        stage = sql.Identifier(f"gigavector_bm25_stage_{uuid.uuid4().hex[:12]}")

        def store(conn: _Conn) -> None:
            with conn.transaction():
                conn.execute(sql.SQL("CREATE TEMPORARY TABLE {} (doc_id bigint, body text) "
                                     "ON COMMIT DROP").format(stage), ())
                with conn.cursor() as cur, cur.copy(
                        sql.SQL("COPY {} (doc_id, body) FROM STDIN").format(stage), ()) as copy:
                    for doc_id, text in docs.items():
                        copy.write_row((doc_id, text))
                conn.execute(sql.SQL("INSERT INTO {} (doc_id, body) SELECT doc_id, body FROM {} "
                                     "ON CONFLICT (doc_id) DO UPDATE SET body = EXCLUDED.body")
                             .format(self._t, stage), ())
        self._run(store)
        return len(docs)

    def remove_document(self, doc_id: int) -> bool:
        """Remove a document; False when there was none with that id."""
        doc_id = _doc_id(doc_id)
        q = sql.SQL("DELETE FROM {} WHERE doc_id = %s").format(self._t)
        return bool(self._run(lambda c: c.execute(q, (doc_id,)).rowcount))

    # ------------------------------------------------------------------- read

    def search(self, query: str, k: int = 10, mode: str = "or") -> list[BM25Result]:
        """The k best documents for query, best first.

        ``mode="or"`` (default): documents with any of the query's terms,
        ranked by all of them; ``"and"``: only documents with every term;
        ``"phrase"``: only documents with the terms as a phrase.  A query
        without a term (empty, or only stop words) finds nothing."""
        query = _text(query, "query")
        k = _k(k)
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {', '.join(map(repr, _MODES))}, not {mode!r}")
        if k == 0:
            return []
        q, params = self._search_statement(query, k, mode)
        rows = self._run(lambda c: c.execute(q, params).fetchall())
        return [BM25Result(int(d), float(s)) for d, s in rows]

    def _search_statement(self, query: str, k: int, mode: str) -> tuple[sql.Composed, dict[str, Any]]:
        """search()'s SQL and parameters.

        The query value is the same expression three times: the planner sees
        it whole (and checks that it names this table's index), the index
        scan takes it as its condition and its ORDER BY value, and the WHERE
        clause keeps the answer to matching rows whatever the plan (an index
        scan returns nothing else; a sequential scan would rank every row)."""
        q = sql.SQL(
            "SELECT doc_id, -(body <&> bm25query(%(i)s::regclass, %(q)s, %(m)s)) AS score FROM {} "
            "WHERE body @@@ bm25query(%(i)s::regclass, %(q)s, %(m)s) "
            "ORDER BY body <&> bm25query(%(i)s::regclass, %(q)s, %(m)s) LIMIT %(k)s").format(self._t)
        return q, {"i": self._index_text, "q": query, "m": mode, "k": k}

    def count(self) -> int:
        """How many documents are stored."""
        q = sql.SQL("SELECT count(*) FROM {}").format(self._t)
        return int(self._run(lambda c: _value(c, q, ())))

    def __len__(self) -> int:
        return self.count()

    # -------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Release connections; drop a temporary index; stop or detach an embedded server."""
        self._closed = True
        self._finalizer()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "BM25Index":
        self._check_open()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "db" if self._db is not None else "embedded" if self._res.server else "dsn"
        name = getattr(self, "_name", "?")
        return f"<gigavector.BM25Index {name!r} ({where}){' closed' if self._closed else ''}>"


def _options_config(reloptions: list[str]) -> BM25Config:
    """The BM25Config of a gv_bm25 index's reloptions (defaults for those not set)."""
    opts = dict(o.split("=", 1) for o in reloptions if "=" in o)
    kw: dict[str, Any] = {}
    if "k1" in opts:
        kw["k1"] = float(opts["k1"])
    if "b" in opts:
        kw["b"] = float(opts["b"])
    if "text_config" in opts:
        kw["text_config"] = opts["text_config"]
    return BM25Config(**kw)
