"""The REST API: a FastAPI application over a Database or a NamespaceManager.

Every route is a plain (sync) function, run by Starlette's thread pool; each
one authenticates the request, finds its collection (the server's Database,
or ``/namespaces/{name}``'s) and calls the Database API inside
``acting_role(role)``, so each statement runs as the credential's role and
PostgreSQL's privileges decide.  Errors leave as ``{"error": {"code",
"message", "sqlstate"}}`` with the HTTP status of ``_STATUS``; a stack
trace never does (it goes to the ``gigavector.server`` logger).
"""

from __future__ import annotations

import logging
import pathlib
import threading
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterator, Literal, MutableMapping, Optional, Union

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, StrictFloat, StrictInt, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..auth import AuthManager, AuthResult, Identity
from ..database import Database, DistanceType, SearchHit, acting_role
from ..errors import GigaVectorError
from ..hybrid import FusionType, HybridConfig
from ..namespaces import NamespaceManager

__all__ = ["ApiError", "create_app"]

log = logging.getLogger("gigavector.server")

_DASHBOARD = pathlib.Path(__file__).with_name("dashboard")
_ASSETS = {"app.js": "text/javascript", "style.css": "text/css"}
# the page loads nothing from elsewhere, and no other site may frame it
_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
                 "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}



class Numbers(list):  # type: ignore[type-arg]
    """A JSON array of numbers (ints or floats, not booleans or strings).

    One pass over the items: pydantic's list[Union[StrictFloat, StrictInt]]
    validates each item through both types and took most of a search
    request's time for vectors of a few hundred dimensions.  NaN (which
    Python's JSON reader accepts) passes here; the Database refuses it (400)."""

    @classmethod
    def __get_validators__(cls) -> Iterator[Callable[[Any], Any]]:
        yield cls.validate

    @classmethod
    def validate(cls, value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise TypeError("value is not an array of numbers")
        for i, x in enumerate(value):
            t = type(x)
            if t is not float and t is not int:
                raise TypeError(f"item {i} is not a number")
        return value

    @classmethod
    def __modify_schema__(cls, schema: dict[str, Any]) -> None:
        schema.update(type="array", items={"type": "number"})


class NumberLists(list):  # type: ignore[type-arg]
    """A JSON array of arrays of numbers (see Numbers)."""

    @classmethod
    def __get_validators__(cls) -> Iterator[Callable[[Any], Any]]:
        yield cls.validate

    @classmethod
    def validate(cls, value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise TypeError("value is not an array of arrays of numbers")
        for j, row in enumerate(value):
            if not isinstance(row, list):
                raise TypeError(f"item {j} is not an array of numbers")
            for i, x in enumerate(row):
                t = type(x)
                if t is not float and t is not int:
                    raise TypeError(f"item {j}.{i} is not a number")
        return value

    @classmethod
    def __modify_schema__(cls, schema: dict[str, Any]) -> None:
        schema.update(type="array", items={"type": "array", "items": {"type": "number"}})
_DISTANCES = {"euclidean": DistanceType.EUCLIDEAN, "cosine": DistanceType.COSINE,
              "dot_product": DistanceType.DOT_PRODUCT}
_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
          422: "unprocessable", 500: "internal", 503: "unavailable"}


class ApiError(Exception):
    """An error answer: HTTP status, message and the server's SQLSTATE if any."""

    def __init__(self, status: int, message: str, sqlstate: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.sqlstate = sqlstate
        self.headers = headers


def _status_of(error: GigaVectorError) -> int:
    """The HTTP status for what the database refused."""
    state = error.sqlstate or ""
    cause = error.__cause__
    if not state:
        return 503 if isinstance(cause, psycopg.OperationalError) else 500
    if state == "42501" or state == "28000":
        return 403
    if state in ("23505", "53400", "42P06", "42710"):  # unique, quota, duplicate schema/object
        return 409
    if state in ("42P01", "3F000"):  # the namespace's table or schema is gone
        return 404
    if state.startswith(("08", "57P", "53")):
        return 503
    if state.startswith(("22", "23", "42602", "42939")):
        return 400
    return 500


def error_response(status: int, message: str, sqlstate: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": _CODES.get(status, "error"), "message": message}
    if sqlstate is not None:
        body["sqlstate"] = sqlstate
    return JSONResponse({"error": body}, status_code=status, headers=headers)


# ------------------------------------------------------------------ models


class AddRequest(BaseModel):
    """One vector (vector + metadata dict + text) or many (vectors + metadata
    list + texts); texts only for a collection with text."""

    vector: Optional[Numbers] = None
    vectors: Optional[NumberLists] = None
    metadata: Union[dict[str, Any], list[Optional[dict[str, Any]]], None] = None
    text: Optional[StrictStr] = None
    texts: Optional[list[Optional[StrictStr]]] = None


class AddOneResponse(BaseModel):
    id: int


class AddManyResponse(BaseModel):
    ids: list[int]


class PutRequest(BaseModel):
    vector: Optional[Numbers] = None
    metadata: Optional[dict[str, Any]] = None


class SearchRequest(BaseModel):
    vector: Numbers
    k: StrictInt = 10
    distance: Literal["euclidean", "cosine", "dot_product"] = "euclidean"
    filter: Optional[dict[str, Any]] = None


class BatchSearchRequest(BaseModel):
    vectors: NumberLists
    k: StrictInt = 10
    distance: Literal["euclidean", "cosine", "dot_product"] = "euclidean"
    filter: Optional[dict[str, Any]] = None


class TextSearchRequest(BaseModel):
    text: StrictStr
    k: StrictInt = 10
    mode: Literal["or", "and", "phrase"] = "or"
    filter: Optional[dict[str, Any]] = None


class HybridSearchRequest(BaseModel):
    """Either query may be left out (null), not both; the rest is HybridConfig."""

    vector: Optional[Numbers] = None
    text: Optional[StrictStr] = None
    k: StrictInt = 10
    fusion: Literal["linear", "rrf"] = "linear"
    vector_weight: Union[StrictInt, StrictFloat] = 0.5
    text_weight: Union[StrictInt, StrictFloat] = 0.5
    normalization: Literal["min_max", "z_score", "l2", "none"] = "min_max"
    rrf_k: StrictInt = 60
    candidates: Optional[StrictInt] = None
    filter: Optional[dict[str, Any]] = None


class TextHit(BaseModel):
    id: int
    score: float
    metadata: dict[str, Any]


class TextSearchResponse(BaseModel):
    hits: list[TextHit]


class HybridHit(BaseModel):
    id: int
    score: float
    vector_rank: Optional[int]
    text_rank: Optional[int]
    vector_distance: Optional[float]
    text_score: Optional[float]
    metadata: dict[str, Any]


class HybridSearchResponse(BaseModel):
    hits: list[HybridHit]


class Hit(BaseModel):
    id: int
    distance: float
    metadata: dict[str, Any]


class SearchResponse(BaseModel):
    hits: list[Hit]


class BatchSearchResponse(BaseModel):
    results: list[list[Hit]]


class VectorResponse(BaseModel):
    id: int
    vector: list[float]
    metadata: dict[str, Any]


class DeleteResponse(BaseModel):
    deleted: int


class StatsResponse(BaseModel):
    vectors: int
    dimension: Optional[int]
    index: Optional[str]
    index_bytes: Optional[int] = None
    namespace: Optional[str] = None
    namespaces: Optional[int] = None
    requests: int
    uptime_seconds: float


class NamespaceModel(BaseModel):
    name: str
    dimension: int
    index: str
    distance: str
    rows: int
    max_vectors: Optional[int]
    owner: str


class NamespacesResponse(BaseModel):
    namespaces: list[NamespaceModel]


class HealthResponse(BaseModel):
    status: str
    database: str


# ------------------------------------------------------------------ app


@dataclass
class _Settings:
    auth: AuthManager | None
    request_role: str | None
    max_k: int
    max_body_bytes: int


class _BodyLimit:
    """ASGI middleware: 413 for a body over max_bytes (by Content-Length, or
    counted while it streams in when the client sends none)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: MutableMapping[str, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        message = f"request body is larger than the server's limit of {limit} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > limit
                except ValueError:
                    too_big = False
                if too_big:
                    await error_response(413, message)(scope, receive, send)
                    return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise _TooLarge(message)
            return msg

        started = False

        async def tracking_send(msg: Any) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, counted, tracking_send)
        except _TooLarge as e:
            if not started:
                await error_response(413, str(e))(scope, receive, send)


class _TooLarge(Exception):
    pass


def _hit(h: SearchHit) -> dict[str, Any]:
    return {"id": h.id, "distance": h.distance, "metadata": h.vector.metadata or {}}


def _lean_hits(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Hits of (id, metadata, distance) rows, nearest first."""
    # approximate indexes return batches whose order may differ slightly at the seams
    ordered = sorted(rows, key=lambda r: float(r[2]))
    return [{"id": r[0], "distance": float(r[2]), "metadata": r[1] if isinstance(r[1], dict) else {}}
            for r in ordered]


def _text_collection(target_db: Database) -> Database:
    if not target_db._text:
        raise ApiError(400, "this collection holds no text: serve a Database opened with "
                            "text=True (python3 -m gigavector serve --text)")
    return target_db


def create_app(target: Union[Database, NamespaceManager], *, auth: AuthManager | None,
               request_role: str | None, max_k: int, max_body_bytes: int,
               cors: bool, cors_origins: tuple[str, ...] | None) -> FastAPI:
    """The FastAPI application serving target."""
    settings = _Settings(auth, request_role, max_k, max_body_bytes)
    db = target if isinstance(target, Database) else None
    manager = target if isinstance(target, NamespaceManager) else None
    counter = {"requests": 0}
    counter_lock = threading.Lock()
    started = time.monotonic()

    app = FastAPI(title="gigavector", version="0.1.0", docs_url=None, redoc_url=None,
                  openapi_url=None)
    if cors:
        if cors_origins:
            app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins),
                               allow_methods=["*"], allow_headers=["*"])
        else:  # pages served from this machine only
            app.add_middleware(CORSMiddleware,
                               allow_origin_regex=r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?",
                               allow_methods=["*"], allow_headers=["*"])
    app.add_middleware(_BodyLimit, max_bytes=max_body_bytes)

    # ---------------------------------------------------------- errors

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.sqlstate, exc.headers)

    @app.exception_handler(GigaVectorError)
    async def on_db_error(request: Request, exc: GigaVectorError) -> JSONResponse:
        status = _status_of(exc)
        if status == 500:
            log.error("database error on %s %s: %s (%s)", request.method, request.url.path,
                      exc, exc.sqlstate)
            return error_response(500, "internal server error", exc.sqlstate)
        if status == 503:
            return error_response(503, f"the database is unavailable: {exc}", exc.sqlstate)
        return error_response(status, str(exc), exc.sqlstate)

    @app.exception_handler(ValueError)
    async def on_value_error(request: Request, exc: ValueError) -> JSONResponse:
        return error_response(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first: dict[str, Any] = dict(errors[0]) if errors else {"loc": (), "msg": "invalid request"}
        if first.get("type") == "value_error.jsondecode":
            return error_response(400, "request body is not valid JSON")
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(422, f"{where}: {first.get('msg')}" if where else str(first.get("msg")))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, _TooLarge):  # FastAPI wraps errors of the body read
            return error_response(413, str(exc.__cause__))
        message = "no such route" if exc.status_code == 404 else str(exc.detail)
        return error_response(exc.status_code, message)

    @app.exception_handler(Exception)
    async def on_other(request: Request, exc: Exception) -> JSONResponse:
        log.exception("error on %s %s", request.method, request.url.path)
        return error_response(500, "internal server error")

    # ---------------------------------------------------------- helpers

    def identify(request: Request) -> Identity:
        """The request's identity (401/403 when its credentials do not do)."""
        with counter_lock:
            counter["requests"] += 1
        if settings.auth is None:
            return Identity(role=settings.request_role, method="none")
        credential = request.headers.get("x-api-key")
        header = request.headers.get("authorization")
        if credential is None and header is not None:
            scheme, _, value = header.partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                credential = value.strip()
        challenge = {"WWW-Authenticate": 'Bearer realm="gigavector"'}
        if not credential:
            raise ApiError(401, "missing credentials: send Authorization: Bearer <API key or "
                                "token>, or X-API-Key: <API key>", headers=challenge)
        result, ident = settings.auth.authenticate(credential)
        if result != AuthResult.SUCCESS or ident is None:
            message = {AuthResult.EXPIRED: "credentials have expired",
                       AuthResult.REVOKED: "API key has been revoked"}.get(result, "invalid credentials")
            raise ApiError(401, message, headers=challenge)
        role = ident.role if ident.role is not None else settings.request_role
        if role is not None:
            problem = settings.auth.check_role(role)
            if problem is not None:
                raise ApiError(403, problem)
        return Identity(role=role, key_id=ident.key_id, name=ident.name,
                        subject=ident.subject, method=ident.method)

    def collection(request: Request) -> tuple[Database, str | None]:
        name = request.path_params.get("namespace")
        if name is None:
            if db is None:
                raise ApiError(404, "this server serves namespaces: use /namespaces/{name}/...")
            return db, None
        if manager is None:
            raise ApiError(404, "this server serves one collection, not namespaces")
        try:
            ns = manager.get(name)
        except ValueError as e:
            raise ApiError(400, str(e)) from None
        if ns is None:
            raise ApiError(404, f'namespace "{name}" does not exist')
        return ns, name

    def vector_id(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, f"a vector id is an integer, not {raw!r}") from None
        if not -2 ** 63 <= value < 2 ** 63:
            raise ApiError(400, f"a vector id is a bigint, not {raw}")
        return value

    def check_k(k: int) -> int:
        if k < 0:
            raise ApiError(400, f"k must be at least 0, not {k}")
        if k > settings.max_k:
            raise ApiError(400, f"k must be at most {settings.max_k}, not {k}")
        return k

    # ---------------------------------------------------------- routes

    @app.get("/health", response_model=HealthResponse)
    def health() -> dict[str, Any]:
        """Liveness and database reachability; no credentials needed, no data shown."""
        target_db: Any = db if db is not None else manager
        try:
            with target_db.connection() as conn:
                conn.execute("SELECT 1")
        except (psycopg.Error, GigaVectorError) as e:
            raise ApiError(503, f"the database is unavailable: {str(e).strip()}") from None
        return {"status": "ok", "database": "ok"}

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        """The dashboard page: static, holds no data (its calls need credentials)."""
        return FileResponse(_DASHBOARD / "index.html", headers=_PAGE_HEADERS)

    @app.get("/dashboard/{asset}", include_in_schema=False)
    def dashboard_asset(asset: str) -> FileResponse:
        if asset not in _ASSETS:
            raise ApiError(404, "no such route")
        return FileResponse(_DASHBOARD / asset, media_type=_ASSETS[asset], headers=_PAGE_HEADERS)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request) -> dict[str, Any]:
        identify(request)
        return app.openapi()

    @app.get("/namespaces", response_model=NamespacesResponse)
    def list_namespaces(request: Request) -> dict[str, Any]:
        ident = identify(request)
        if manager is None:
            raise ApiError(404, "this server serves one collection, not namespaces")
        with acting_role(ident.role):
            infos = manager.list()
        return {"namespaces": [vars(i) for i in infos]}

    def add_route(method: str, path: str, fn: Callable[..., Any], **kw: Any) -> None:
        for prefix in ("", "/namespaces/{namespace}"):
            app.add_api_route(prefix + path, fn, methods=[method], **kw)

    def stats(request: Request) -> dict[str, Any]:
        ident = identify(request)
        out: dict[str, Any] = {"requests": counter["requests"],
                               "uptime_seconds": round(time.monotonic() - started, 3)}
        if db is None and "namespace" not in request.path_params:
            assert manager is not None  # a namespaces server's own statistics
            with acting_role(ident.role):
                infos = manager.list()
            out.update(vectors=sum(i.rows for i in infos), dimension=None, index=None,
                       namespaces=len(infos))
            return out
        target_db, name = collection(request)

        def index_bytes(conn: Any) -> int:
            row = conn.execute(
                "SELECT coalesce(sum(pg_relation_size(i.indexrelid)), 0) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                "WHERE i.indrelid = %s::regclass AND a.amname LIKE 'gv\\_%%'",
                (target_db.table.as_string(conn),)).fetchone()
            return int(row[0]) if row is not None else 0
        with acting_role(ident.role):
            n = target_db.count()
            size = target_db._run(index_bytes)
        out.update(vectors=n, dimension=target_db.dimension, index=target_db.index.name.lower(),
                   index_bytes=size, namespace=name)
        return out

    def add(request: Request, body: AddRequest) -> dict[str, Any]:
        ident = identify(request)
        target_db, _ = collection(request)
        if (body.vector is None) == (body.vectors is None):
            raise ApiError(400, 'give "vector" (one) or "vectors" (many), not both or neither')
        if body.text is not None or body.texts is not None:
            _text_collection(target_db)
        with acting_role(ident.role):
            if body.vector is not None:
                if isinstance(body.metadata, list):
                    raise ApiError(400, '"metadata" of one vector is an object')
                if body.texts is not None:
                    raise ApiError(400, '"texts" goes with "vectors"; one vector has "text"')
                return {"id": target_db.add_vector(body.vector, body.metadata, text=body.text)}
            assert body.vectors is not None
            if isinstance(body.metadata, dict):
                raise ApiError(400, '"metadata" of many vectors is a list of objects')
            if body.text is not None:
                raise ApiError(400, '"text" goes with "vector"; many vectors have "texts"')
            return {"ids": target_db.add_vectors(body.vectors, body.metadata, progress=False,
                                                 texts=body.texts)}

    def get_vector(request: Request, vector: str) -> dict[str, Any]:
        ident = identify(request)
        target_db, _ = collection(request)
        key = vector_id(vector)
        with acting_role(ident.role):
            found = target_db.get(key)
        if found is None:
            raise ApiError(404, f"no vector with id {key}")
        return {"id": key, "vector": [float(x) for x in found.data],
                "metadata": found.metadata or {}}

    def put_vector(request: Request, vector: str, body: PutRequest) -> dict[str, Any]:
        ident = identify(request)
        target_db, _ = collection(request)
        key = vector_id(vector)
        with acting_role(ident.role):
            if body.vector is not None:
                return {"id": target_db.upsert(key, body.vector, body.metadata)}
            if body.metadata is None:
                raise ApiError(400, 'give "vector", "metadata" or both')
            if not target_db.update(key, metadata=body.metadata):
                raise ApiError(404, f"no vector with id {key}")
        return {"id": key}

    def delete_vector(request: Request, vector: str) -> dict[str, Any]:
        ident = identify(request)
        target_db, _ = collection(request)
        key = vector_id(vector)
        with acting_role(ident.role):
            if not target_db.delete(key):
                raise ApiError(404, f"no vector with id {key}")
        return {"deleted": key}

    def search(request: Request, body: SearchRequest) -> JSONResponse:
        ident = identify(request)
        target_db, _ = collection(request)
        k = check_k(body.k)
        with acting_role(ident.role):
            rows = target_db._nearest(body.vector, k, _DISTANCES[body.distance], body.filter,
                                      "id, metadata")
        # a Response skips FastAPI's check of the answer against SearchResponse,
        # which this dict matches by construction (the route's hot path)
        return JSONResponse({"hits": _lean_hits(rows)})

    def search_batch(request: Request, body: BatchSearchRequest) -> JSONResponse:
        ident = identify(request)
        target_db, _ = collection(request)
        k = check_k(body.k)
        with acting_role(ident.role):
            results = target_db.search_batch(body.vectors, k, _DISTANCES[body.distance], body.filter)
        return JSONResponse({"results": [[_hit(h) for h in hits] for hits in results]})

    def search_text(request: Request, body: TextSearchRequest) -> JSONResponse:
        ident = identify(request)
        target_db = _text_collection(collection(request)[0])
        k = check_k(body.k)
        with acting_role(ident.role):
            hits = target_db.text_search(body.text, k, body.filter, body.mode)
        return JSONResponse({"hits": [{"id": h.id, "score": h.score, "metadata": h.metadata}
                                      for h in hits]})

    def search_hybrid(request: Request, body: HybridSearchRequest) -> JSONResponse:
        ident = identify(request)
        target_db = _text_collection(collection(request)[0])
        k = check_k(body.k)
        if body.vector is None and body.text is None:
            raise ApiError(400, 'give "vector", "text" or both')
        config = HybridConfig(vector_weight=body.vector_weight, text_weight=body.text_weight,
                              fusion=FusionType.RRF if body.fusion == "rrf" else FusionType.LINEAR,
                              rrf_k=body.rrf_k, prefetch_k=body.candidates,
                              normalization=body.normalization)
        with acting_role(ident.role):
            pairs = target_db._hybrid(body.vector, body.text, k, config, body.filter, True)
        return JSONResponse({"hits": [
            {"id": r.vector_index, "score": r.combined_score, "vector_rank": r.vector_rank,
             "text_rank": r.text_rank, "vector_distance": r.vector_distance,
             "text_score": r.text_score, "metadata": meta if isinstance(meta, dict) else {}}
            for r, meta in pairs]})

    add_route("GET", "/stats", stats, response_model=StatsResponse, response_model_exclude_none=True)
    add_route("POST", "/vectors", add, response_model=Union[AddOneResponse, AddManyResponse])
    add_route("GET", "/vectors/{vector}", get_vector, response_model=VectorResponse)
    add_route("PUT", "/vectors/{vector}", put_vector, response_model=AddOneResponse)
    add_route("DELETE", "/vectors/{vector}", delete_vector, response_model=DeleteResponse)
    add_route("POST", "/search", search, response_model=SearchResponse)
    add_route("POST", "/search/batch", search_batch, response_model=BatchSearchResponse)
    add_route("POST", "/search/text", search_text, response_model=TextSearchResponse)
    add_route("POST", "/search/hybrid", search_hybrid, response_model=HybridSearchResponse)
    return app
