"""The command line: ``python3 -m gigavector serve ...`` runs the REST server
until SIGTERM or SIGINT, then finishes the requests in flight and exits 0."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any, Sequence, Union

from .auth import AuthConfig, AuthManager, AuthType
from .database import Database, IndexType
from .namespaces import NamespaceManager
from .server import Server, ServerConfig


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 -m gigavector")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the REST server until SIGTERM")
    s.add_argument("--path", help="collection (with --dsn) or embedded data folder")
    s.add_argument("--dsn", help="libpq connection string (default: $GIGAVECTOR_DSN, PG*, "
                                 "else an embedded server)")
    s.add_argument("--dimension", type=int, help="the collection's dimension")
    s.add_argument("--index", default="hnsw", choices=[i.name.lower() for i in IndexType])
    s.add_argument("--text", action="store_true",
                   help="the collection keeps a text per vector (a gv_bm25 index): "
                        "POST /search/text and /search/hybrid")
    s.add_argument("--namespaces", action="store_true",
                   help="serve the database's namespaces (/namespaces/{name}/...) instead")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--auth", choices=[t.value for t in AuthType],
                   help="require API keys, JWTs or either (keys in gigavector.api_keys)")
    s.add_argument("--jwt-secret-env", default="GIGAVECTOR_JWT_SECRET",
                   help="environment variable holding the HS256 secret")
    s.add_argument("--jwt-public-key", metavar="FILE",
                   help="PEM file of the RSA public key that RS256 tokens are checked with")
    s.add_argument("--request-role", help="role for requests without a role of their own")
    s.add_argument("--allow-unauthenticated", action="store_true",
                   help="listen on a non-loopback address without --auth")
    s.add_argument("--cors", action="store_true", help="send CORS headers (localhost pages)")
    s.add_argument("--pool-size", type=int, default=8)
    return p


def serve(args: argparse.Namespace) -> int:
    target: Union[Database, NamespaceManager]
    if args.namespaces:
        target = NamespaceManager(args.dsn if args.dsn else args.path, pool_size=args.pool_size)
    else:
        if args.dimension is None:
            print("serve: --dimension is required (or --namespaces)", file=sys.stderr)
            return 2
        kw: dict[str, Any] = {"pool_size": args.pool_size}
        if args.dsn:
            kw["dsn"] = args.dsn
        if args.text:
            kw["text"] = True
        target = Database.open(args.path, args.dimension, IndexType[args.index.upper()], **kw)
    auth = None
    try:
        if args.auth:
            secret = os.environ.get(args.jwt_secret_env) or None
            public_key = None
            if args.jwt_public_key:
                with open(args.jwt_public_key, "rb") as f:
                    public_key = f.read()
            auth = AuthManager(AuthConfig(auth_type=AuthType(args.auth), jwt_secret=secret,
                                          jwt_public_key=public_key), target)
        server = Server(target, ServerConfig(
            port=args.port, host=args.host, enable_cors=args.cors, auth=auth,
            allow_unauthenticated=args.allow_unauthenticated, request_role=args.request_role))
        done = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            done.set()
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        server.start()
        print(f"gigavector: listening on {server.url}", flush=True)
        while not done.wait(1.0):
            if not server.running:
                print("gigavector: the server stopped", file=sys.stderr)
                return 1
        server.stop()
        print("gigavector: stopped", flush=True)
        return 0
    finally:
        if auth is not None:
            auth.close()
        target.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args)
    except (ValueError, RuntimeError, OSError) as e:
        print(f"gigavector: {e}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
