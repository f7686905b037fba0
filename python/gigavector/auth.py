"""API keys and JWT for the REST server, each mapped to a PostgreSQL role.

An API key is ``gv_<key id>_<secret>``: 256 random bits from ``secrets``,
shown once by :meth:`AuthManager.generate_api_key`.  The database keeps only
the key id, a random salt and the scrypt hash of the secret, with the key's
name, role, creation, expiry and revocation times, in ``gigavector.api_keys``
(only its owner reads it).  A JWT is HS256, signed with
``AuthConfig.jwt_secret``, or RS256, signed by the private key of
``AuthConfig.jwt_public_key``; its ``role`` claim names the role and ``sub``
the caller; ``exp`` is required, ``nbf``, ``iss`` and ``aud`` are checked
when configured, with ``clock_skew_seconds`` of leeway.  Each algorithm is
bound to its own key (HS256 to the secret, RS256 to the public key), so a
token "signed" with the public key as an HMAC secret is refused, and so are
``alg: none`` and every other algorithm.

The server runs each authenticated request as the credential's role
(``acting_role``): PostgreSQL's privileges decide what it may read.  A role
that is a superuser or bypasses row-level security is refused
(:meth:`AuthManager.check_role`).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, ContextManager, Union

import jwt
import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from psycopg_pool import ConnectionPool

from . import embedded as _embedded
from .database import Database, _Conn, _create_extension
from .errors import GigaVectorError
from .namespaces import NamespaceManager

__all__ = ["AuthConfig", "AuthManager", "AuthResult", "AuthType", "Identity", "ApiKeyInfo"]

_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1, "maxmem": 64 * 1024 * 1024, "dklen": 32}
_ROLE_CACHE_SECONDS = 30.0
_RSA_MIN_BITS = 2048


class AuthType(enum.Enum):
    """Which credentials a server accepts."""

    API_KEY = "api_key"
    JWT = "jwt"
    BOTH = "both"


class AuthResult(enum.Enum):
    """The outcome of authenticate()."""

    SUCCESS = "success"
    INVALID = "invalid"   #: unknown key, bad signature, malformed credential
    EXPIRED = "expired"   #: an expired key or token
    REVOKED = "revoked"   #: a revoked key


@dataclass(frozen=True)
class AuthConfig:
    """How the server authenticates: API keys, JWT or both.  JWTs are HS256
    with ``jwt_secret`` and/or RS256 with ``jwt_public_key`` (an RSA public
    key of at least 2048 bits, PEM text or bytes)."""

    auth_type: AuthType = AuthType.API_KEY
    jwt_secret: str | None = None
    jwt_public_key: Union[str, bytes, None] = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    clock_skew_seconds: int = 60
    #: how long a server reuses a key's row (role, expiry, revocation) before
    #: reading it again; revoke() through this manager takes effect at once,
    #: through another process within this time.  0: read it on every request.
    key_cache_seconds: float = 1.0


@dataclass(frozen=True)
class Identity:
    """Who a credential speaks for: the role requests run as (None: the
    server's login role), the key id and name, or the token's subject."""

    role: str | None
    key_id: str | None = None
    name: str | None = None
    subject: str | None = None
    method: str = "api_key"


@dataclass(frozen=True)
class ApiKeyInfo:
    """A stored key, without its secret."""

    key_id: str
    name: str
    role: str | None
    created: datetime
    expires: datetime | None
    revoked: datetime | None


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)


def _rsa_public_key(pem: Union[str, bytes]) -> rsa.RSAPublicKey:
    """The RSA public key of PEM text, else ValueError (a private key, another
    kind of key or a short one is refused)."""
    data = pem.encode() if isinstance(pem, str) else pem
    if not isinstance(data, bytes):
        raise ValueError("jwt_public_key must be PEM text or bytes")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as e:
        raise ValueError(f"jwt_public_key is not a PEM public key: {e}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("jwt_public_key must be an RSA public key (RS256)")
    if key.key_size < _RSA_MIN_BITS:
        raise ValueError(f"jwt_public_key has {key.key_size} bits: at least {_RSA_MIN_BITS} "
                         f"are needed")
    return key


class AuthManager:
    """Issues, lists, revokes and checks API keys and JWTs.

    ``db``: a Database or NamespaceManager whose server holds the keys (its
    login role must own or be granted gigavector.api_keys), or None for a
    throwaway embedded server.
    """

    def __init__(self, config: AuthConfig | None = None,
                 db: Union[Database, NamespaceManager, None] = None) -> None:
        self.config = config if config is not None else AuthConfig()
        cfg = self.config
        if cfg.auth_type in (AuthType.JWT, AuthType.BOTH) \
                and not cfg.jwt_secret and cfg.jwt_public_key is None:
            raise ValueError("JWT authentication needs AuthConfig(jwt_secret=...) (HS256) "
                             "or AuthConfig(jwt_public_key=...) (RS256)")
        # the key of each accepted algorithm: a token is checked with its own only
        self._jwt_keys: dict[str, Any] = {}
        if cfg.jwt_secret:
            self._jwt_keys["HS256"] = cfg.jwt_secret
        if cfg.jwt_public_key is not None:
            self._jwt_keys["RS256"] = _rsa_public_key(cfg.jwt_public_key)
        self._server: _embedded.EmbeddedServer | None = None
        self._pool: ConnectionPool | None = None
        self._db = db
        # Verified secrets: key id -> a keyed digest of the key.  A scrypt hash
        # per request would cost tens of milliseconds; the row (revocation,
        # expiry, role) is still read on every request.
        self._verified: dict[str, bytes] = {}
        self._pepper = secrets.token_bytes(32)
        self._roles: dict[str, tuple[float, str | None]] = {}
        self._rows: dict[str, tuple[float, tuple[Any, ...]]] = {}
        self._lock = threading.Lock()
        self._closed = False
        if db is None:
            self._server = _embedded.acquire(None)
            try:
                with psycopg.connect(self._server.conninfo(), autocommit=True) as conn:
                    _create_extension(conn)
                self._pool = ConnectionPool(self._server.conninfo(), min_size=1, max_size=4,
                                            kwargs={"autocommit": True}, open=True,
                                            name="gigavector:auth")
            except psycopg.Error as e:
                self.close()
                raise GigaVectorError.from_psycopg(e) from e

    # ------------------------------------------------------------ plumbing

    def _connection(self) -> ContextManager[_Conn]:
        if self._closed:
            raise GigaVectorError("the auth manager is closed")
        if self._pool is not None:
            return self._pool.connection()
        assert self._db is not None
        return self._db.connection()

    def _sql(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            with self._connection() as conn:
                cur = conn.execute(query, params)
                return cur.fetchall() if cur.description is not None else []
        except psycopg.Error as e:
            raise GigaVectorError.from_psycopg(e) from e

    # ------------------------------------------------------------ API keys

    def generate_api_key(self, name: str, role: str | None = None,
                         expires_in: float | timedelta | None = None) -> tuple[str, str]:
        """A new key for ``role`` (None: the server's login role); returns
        (key, key_id).  The key is shown only here.  ``expires_in``: seconds
        or a timedelta."""
        if not isinstance(name, str) or not name:
            raise ValueError("an API key needs a non-empty name")
        if role is not None:
            problem = self.check_role(role)
            if problem is not None:
                raise ValueError(problem)
        expires = None
        if expires_in is not None:
            delta = expires_in if isinstance(expires_in, timedelta) else timedelta(seconds=expires_in)
            expires = datetime.now(timezone.utc) + delta
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)  # 256 bits
        salt = os.urandom(16)
        self._sql("INSERT INTO gigavector.api_keys (key_id, name, role, salt, hash, expires) "
                  "VALUES (%s, %s, %s, %s, %s, %s)",
                  (key_id, name, role, salt, _hash(secret, salt), expires))
        return f"gv_{key_id}_{secret}", key_id

    def revoke(self, key_id: str) -> bool:
        """Revoke a key at once; False when there is no such (unrevoked) key."""
        rows = self._sql("UPDATE gigavector.api_keys SET revoked = now() "
                         "WHERE key_id = %s AND revoked IS NULL RETURNING key_id", (key_id,))
        with self._lock:
            self._verified.pop(key_id, None)
            self._rows.pop(key_id, None)
        return bool(rows)

    def list_keys(self) -> list[ApiKeyInfo]:
        """Every stored key (without secrets), oldest first."""
        rows = self._sql("SELECT key_id, name, role, created, expires, revoked "
                         "FROM gigavector.api_keys ORDER BY created, key_id", ())
        return [ApiKeyInfo(*r) for r in rows]

    def _check_key(self, key: str) -> tuple[AuthResult, Identity | None]:
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != "gv" or not parts[1] or not parts[2]:
            return AuthResult.INVALID, None
        key_id, secret = parts[1], parts[2]
        row = self._key_row(key_id)
        if row is None:
            return AuthResult.INVALID, None
        name, role, salt, stored, expires, revoked = row
        expired = expires is not None and expires <= datetime.now(timezone.utc)
        digest = hmac.new(self._pepper, key.encode(), hashlib.sha256).digest()
        with self._lock:
            known = self._verified.get(key_id)
        if known is None or not hmac.compare_digest(known, digest):
            if not hmac.compare_digest(_hash(secret, bytes(salt)), bytes(stored)):
                return AuthResult.INVALID, None
            with self._lock:
                self._verified[key_id] = digest
        if revoked:
            return AuthResult.REVOKED, None
        if expired:
            return AuthResult.EXPIRED, None
        return AuthResult.SUCCESS, Identity(role=role, key_id=key_id, name=name)

    def _key_row(self, key_id: str) -> tuple[Any, ...] | None:
        """The key's row, read again when older than key_cache_seconds."""
        ttl = self.config.key_cache_seconds
        now = time.monotonic()
        if ttl > 0:
            with self._lock:
                hit = self._rows.get(key_id)
            if hit is not None and now - hit[0] < ttl:
                return hit[1]
        rows = self._sql("SELECT name, role, salt, hash, expires, revoked IS NOT NULL "
                         "FROM gigavector.api_keys WHERE key_id = %s", (key_id,))
        if not rows:
            return None
        if ttl > 0:
            with self._lock:
                if len(self._rows) > 10_000:
                    self._rows.clear()
                self._rows[key_id] = (now, rows[0])
        return rows[0]

    # ------------------------------------------------------------ JWT

    def _check_jwt(self, token: str) -> tuple[AuthResult, Identity | None]:
        cfg = self.config
        options: dict[str, Any] = {"require": ["exp", "role"]}
        if cfg.jwt_audience is None:
            options["verify_aud"] = False
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError:
            return AuthResult.INVALID, None
        if not isinstance(alg, str) or alg not in self._jwt_keys:
            return AuthResult.INVALID, None  # none, another algorithm, or one without a key here
        key = self._jwt_keys[alg]
        try:
            claims = jwt.decode(token, key, algorithms=[alg],
                                audience=cfg.jwt_audience, issuer=cfg.jwt_issuer,
                                leeway=cfg.clock_skew_seconds, options=options)
        except jwt.ExpiredSignatureError:
            return AuthResult.EXPIRED, None
        except jwt.PyJWTError:
            return AuthResult.INVALID, None
        role = claims.get("role")
        sub = claims.get("sub")
        if not isinstance(role, str) or not role or (sub is not None and not isinstance(sub, str)):
            return AuthResult.INVALID, None
        return AuthResult.SUCCESS, Identity(role=role, subject=sub, method="jwt")

    def create_token(self, role: str, subject: str | None = None, expires_in: float = 3600,
                     **claims: Any) -> str:
        """An HS256 token for role signed with jwt_secret (for tests and tools;
        RS256 tokens are signed by whoever holds the private key)."""
        if not self.config.jwt_secret:
            raise ValueError("create_token needs AuthConfig(jwt_secret=...)")
        now = int(time.time())
        body: dict[str, Any] = {"role": role, "iat": now, "exp": now + int(expires_in)}
        if subject is not None:
            body["sub"] = subject
        if self.config.jwt_issuer is not None:
            body["iss"] = self.config.jwt_issuer
        if self.config.jwt_audience is not None:
            body["aud"] = self.config.jwt_audience
        body.update(claims)
        return jwt.encode(body, self.config.jwt_secret, algorithm="HS256")

    # ------------------------------------------------------------ both

    def authenticate(self, credential: str | None) -> tuple[AuthResult, Identity | None]:
        """Check an API key or a JWT (whichever the config accepts)."""
        if not isinstance(credential, str) or not credential:
            return AuthResult.INVALID, None
        kind = self.config.auth_type
        looks_jwt = credential.count(".") == 2 and not credential.startswith("gv_")
        if looks_jwt and kind in (AuthType.JWT, AuthType.BOTH):
            return self._check_jwt(credential)
        if not looks_jwt and kind in (AuthType.API_KEY, AuthType.BOTH):
            return self._check_key(credential)
        return AuthResult.INVALID, None

    def check_role(self, role: str) -> str | None:
        """Why requests may not run as role (it does not exist, is a superuser
        or bypasses row-level security), or None when they may.  Cached for 30 s."""
        now = time.monotonic()
        with self._lock:
            hit = self._roles.get(role)
        if hit is not None and now - hit[0] < _ROLE_CACHE_SECONDS:
            return hit[1]
        rows = self._sql("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", (role,))
        if not rows:
            problem: str | None = f'role "{role}" does not exist'
        elif rows[0][0]:
            problem = f'role "{role}" is a superuser: requests may not run as it'
        elif rows[0][1]:
            problem = f'role "{role}" bypasses row-level security: requests may not run as it'
        else:
            problem = None
        with self._lock:
            self._roles[role] = (now, problem)
        return problem

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._pool is not None:
            self._pool.close()
        server, self._server = self._server, None
        if server is not None:
            _embedded.release(server)

    def __enter__(self) -> AuthManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
