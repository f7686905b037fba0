"""GigaVector's REST server: ``Server`` and ``ServerConfig``.

``Server(db_or_manager, ServerConfig(...))`` serves a Database (routes
``/vectors``, ``/search`` …) or a NamespaceManager (the same routes under
``/namespaces/{name}``) with FastAPI on uvicorn, in a background thread:
``start()`` returns once the socket listens, ``stop()`` finishes the
requests in flight and closes it.  The application itself is in ``app``.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass
from typing import Optional, Union

import uvicorn

from ..auth import AuthManager
from ..database import Database
from ..namespaces import NamespaceManager
from .app import create_app

__all__ = ["Server", "ServerConfig"]

_START_SECONDS = 15.0


@dataclass(frozen=True)
class ServerConfig:
    """How the server listens and what it allows.

    ``host`` defaults to loopback; another address needs ``auth`` (an
    AuthManager) or ``allow_unauthenticated=True``.  ``port=0`` picks a free
    port (read it from ``Server.port``).  ``enable_cors`` sends CORS headers
    for ``cors_origins`` (default: pages from localhost only).  Requests
    without credentials, and keys made without a role, run as
    ``request_role`` (None: the login role of the database's connections).
    Bodies over ``max_body_bytes`` get 413; ``k`` above ``max_k`` gets 400.
    """

    port: int = 8080
    host: str = "127.0.0.1"
    enable_cors: bool = False
    auth: Optional[AuthManager] = None
    max_body_bytes: int = 16 * 1024 * 1024
    max_k: int = 10_000
    allow_unauthenticated: bool = False
    request_role: Optional[str] = None
    cors_origins: Optional[tuple[str, ...]] = None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Server:
    """A REST server for a Database or a NamespaceManager (see the module doc)."""

    def __init__(self, db_or_manager: Union[Database, NamespaceManager],
                 config: ServerConfig | None = None) -> None:
        cfg = config if config is not None else ServerConfig()
        if not isinstance(db_or_manager, (Database, NamespaceManager)):
            raise TypeError("Server serves a Database or a NamespaceManager")
        if not _is_loopback(cfg.host) and cfg.auth is None and not cfg.allow_unauthenticated:
            raise ValueError(f"refusing to listen on {cfg.host} without authentication: pass "
                             f"ServerConfig(auth=AuthManager(...)), or allow_unauthenticated=True")
        if not 0 <= cfg.port <= 65535:
            raise ValueError(f"port must be from 0 to 65535, not {cfg.port}")
        if cfg.max_body_bytes < 1 or cfg.max_k < 1:
            raise ValueError("max_body_bytes and max_k must be at least 1")
        self.config = cfg
        self.target = db_or_manager
        self.app = create_app(db_or_manager, auth=cfg.auth, request_role=cfg.request_role,
                              max_k=cfg.max_k, max_body_bytes=cfg.max_body_bytes,
                              cors=cfg.enable_cors, cors_origins=cfg.cors_origins)
        self._uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._port = cfg.port
        self._failure: BaseException | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the one picked, for port=0)."""
        return self._port

    @property
    def url(self) -> str:
        host = self.config.host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self._port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Listen and serve in a background thread; returns once it accepts connections."""
        if self.running:
            return
        cfg = self.config
        family = socket.AF_INET6 if ":" in cfg.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((cfg.host, cfg.port))
            sock.listen(1024)
        except OSError as e:
            sock.close()
            raise OSError(e.errno, f"cannot listen on {cfg.host}:{cfg.port}: {e.strerror}") from e
        self._socket = sock
        self._port = sock.getsockname()[1]
        ucfg = uvicorn.Config(self.app, host=cfg.host, port=self._port, log_level="warning",
                              access_log=False, lifespan="off", limit_max_requests=None,
                              timeout_keep_alive=30)
        server = uvicorn.Server(ucfg)
        self._uvicorn = server
        self._failure = None

        def serve() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as e:  # SystemExit from uvicorn's own failures too
                self._failure = e

        self._thread = threading.Thread(target=serve, name=f"gigavector-server:{self._port}",
                                        daemon=True)
        self._thread.start()
        waited = 0.0
        while not server.started:
            if not self._thread.is_alive():
                self._close_socket()
                raise RuntimeError(f"the server failed to start: {self._failure!r}")
            self._thread.join(0.01)
            waited += 0.01
            if waited > _START_SECONDS:
                self.stop()
                raise RuntimeError("the server did not start within 15 seconds")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting connections, finish the requests in flight, return."""
        server, thread = self._uvicorn, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(5)
        self._thread = None
        self._uvicorn = None
        self._close_socket()

    def _close_socket(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<gigavector.Server {self.url} {state}>"
