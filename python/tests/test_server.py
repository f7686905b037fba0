"""The REST server against a real PostgreSQL: every route, the error answers
(400/404/405/413/422/503 with their exact messages), concurrent clients, the
safe defaults, the command line and its SIGTERM shutdown, the seed example."""

import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import httpx
import psycopg
import pytest

from gigavector import Database, IndexType, Server, ServerConfig, TTLConfig, TTLManager

PYTHON_DIR = os.path.join(os.path.dirname(__file__), "..")


def l2(a, b):
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))


@pytest.fixture()
def collection(dsn):
    name = "srv_" + uuid.uuid4().hex[:10]
    db = Database.open(name, 4, IndexType.HNSW, dsn=dsn, pool_size=8)
    yield db
    with db.connection() as c:
        c.execute(f'DROP TABLE IF EXISTS "{name}"')
    db.close()


@pytest.fixture()
def served(collection):
    server = Server(collection, ServerConfig(port=0))
    server.start()
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield collection, server, client
    server.stop()


def error(r):
    return r.status_code, r.json()["error"]["message"]


# ------------------------------------------------------------------ routes


def test_health_and_stats(served):
    db, server, client = served
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert client.get("/health").json() == {"status": "ok", "database": "ok"}
    db.add_vectors([[1, 0, 0, 0], [0, 1, 0, 0]])
    stats = client.get("/stats").json()
    assert (stats["vectors"], stats["dimension"], stats["index"]) == (2, 4, "hnsw")
    assert stats["requests"] >= 1


def test_add_one_and_many_then_get(served):
    db, _, client = served
    r = client.post("/vectors", json={"vector": [1, 2, 3, 4], "metadata": {"tag": "a"}})
    assert r.status_code == 200
    one = r.json()["id"]
    r = client.post("/vectors", json={"vectors": [[0, 0, 0, 1], [0.5, 0.25, 0, 0]],
                                      "metadata": [{"tag": "b"}, None]})
    ids = r.json()["ids"]
    assert len(ids) == 2 and one not in ids
    assert db.count() == 3
    assert client.get(f"/vectors/{one}").json() == {"id": one, "vector": [1.0, 2.0, 3.0, 4.0],
                                                    "metadata": {"tag": "a"}}
    got = client.get(f"/vectors/{ids[1]}").json()
    assert got == {"id": ids[1], "vector": [0.5, 0.25, 0.0, 0.0], "metadata": {}}
    # what the server stored is what the Database API reads
    assert db.get(ids[0]).metadata == {"tag": "b"}


def test_put_and_delete(served):
    db, _, client = served
    vid = db.add_vector([1, 1, 1, 1], {"v": 1})
    assert client.put(f"/vectors/{vid}", json={"metadata": {"v": 2}}).json() == {"id": vid}
    assert db.get(vid).metadata == {"v": 2} and list(db.get(vid).data) == [1, 1, 1, 1]
    assert client.put(f"/vectors/{vid}", json={"vector": [2, 2, 2, 2]}).json() == {"id": vid}
    assert list(db.get(vid).data) == [2, 2, 2, 2]
    # PUT with a vector creates the id when it is new
    assert client.put("/vectors/1000", json={"vector": [3, 3, 3, 3], "metadata": {"n": 1}}) \
        .json() == {"id": 1000}
    assert db.get(1000).metadata == {"n": 1}
    assert client.delete(f"/vectors/{vid}").json() == {"deleted": vid}
    assert db.get(vid) is None and db.count() == 1
    assert error(client.delete(f"/vectors/{vid}")) == (404, f"no vector with id {vid}")


def test_search_exact_distances(served):
    db, _, client = served
    rows = [[float(i), float(i % 3), float(i % 5), 1.0] for i in range(40)]
    ids = db.add_vectors(rows, [{"odd": i % 2} for i in range(40)])
    q = [7.2, 1.0, 2.0, 1.0]
    hits = client.post("/search", json={"vector": q, "k": 5}).json()["hits"]
    want = sorted(range(40), key=lambda i: l2(rows[i], q))[:5]
    assert [h["id"] for h in hits] == [ids[i] for i in want]
    for h, i in zip(hits, want):
        assert h["distance"] == pytest.approx(l2(rows[i], q), rel=1e-5)
        assert h["metadata"] == {"odd": i % 2}
    # filter and another distance
    hits = client.post("/search", json={"vector": q, "k": 3, "filter": {"odd": 0},
                                        "distance": "dot_product"}).json()["hits"]
    even = [i for i in range(40) if i % 2 == 0]
    want = sorted(even, key=lambda i: -sum(a * b for a, b in zip(rows[i], q)))[:3]
    assert [h["id"] for h in hits] == [ids[i] for i in want]
    assert hits[0]["distance"] == pytest.approx(-sum(a * b for a, b in zip(rows[want[0]], q)))
    assert client.post("/search", json={"vector": q, "k": 0}).json() == {"hits": []}


def test_search_batch(served):
    db, _, client = served
    rows = [[float(i), 0.0, 0.0, 0.0] for i in range(10)]
    ids = db.add_vectors(rows)
    r = client.post("/search/batch", json={"vectors": [[0.1, 0, 0, 0], [8.8, 0, 0, 0]], "k": 2})
    results = r.json()["results"]
    assert [[h["id"] for h in hs] for hs in results] == [[ids[0], ids[1]], [ids[9], ids[8]]]
    assert results[1][0]["distance"] == pytest.approx(0.2, rel=1e-5)


def test_expired_vectors_are_never_served(served, dsn):
    """TTL: no route answers with an expired vector, while the worker has not
    deleted it (the server connects as a superuser here, whom the table's
    row-level security policy does not bind)."""
    db, _, client = served
    rows = [[float(i), 0.0, 0.0, 0.0] for i in range(12)]
    ids = client.post("/vectors", json={"vectors": rows, "metadata": [{"odd": i % 2} for i in range(12)]}
                      ).json()["ids"]
    ttl = TTLManager(TTLConfig(), db)
    for i in ids[:4]:  # the four nearest to the origin
        ttl.set_ttl(i, 0.2)
    ttl.set_ttl(ids[4], 3600)
    time.sleep(0.5)
    with psycopg.connect(dsn) as c:  # still there: only hidden
        assert c.execute(f"SELECT count(*), current_setting('is_superuser') FROM {db.table.as_string(c)}"
                         ).fetchone() == (12, "on")
    hits = client.post("/search", json={"vector": [0, 0, 0, 0], "k": 5}).json()["hits"]
    assert [h["id"] for h in hits] == ids[4:9]
    assert [h["distance"] for h in hits] == pytest.approx([4, 5, 6, 7, 8])
    hits = client.post("/search", json={"vector": [0, 0, 0, 0], "k": 3, "filter": {"odd": 1}}).json()["hits"]
    assert [h["id"] for h in hits] == [ids[5], ids[7], ids[9]]
    results = client.post("/search/batch", json={"vectors": [[0, 0, 0, 0], [2, 0, 0, 0]], "k": 2}
                          ).json()["results"]
    assert [[h["id"] for h in hs] for hs in results] == [ids[4:6], ids[4:6]]
    for gone in ids[:4]:
        assert error(client.get(f"/vectors/{gone}")) == (404, f"no vector with id {gone}")
    assert client.get(f"/vectors/{ids[4]}").json()["vector"] == [4.0, 0.0, 0.0, 0.0]
    assert client.get("/stats").json()["vectors"] == 8
    assert error(client.put(f"/vectors/{ids[0]}", json={"metadata": {"x": 1}})) == \
        (404, f"no vector with id {ids[0]}")
    assert error(client.delete(f"/vectors/{ids[1]}")) == (404, f"no vector with id {ids[1]}")
    # the worker's (or cleanup_now's) deletion changes nothing the server shows
    ttl.cleanup_now()
    assert (ttl.get_stats().total_expired, ttl.get_stats().total_deleted) == (0, 4)
    assert [h["id"] for h in client.post("/search", json={"vector": [0, 0, 0, 0], "k": 5}).json()["hits"]] \
        == ids[4:9]
    assert client.get("/stats").json()["vectors"] == 8


def test_ttl_given_by_another_process_is_obeyed(served, dsn):
    """The server's collection gets TTL from another Database (another
    process): its expired vectors are not served either, once a second has
    passed (TTL_RECHECK_SECONDS: how long a Database trusts that its
    collection has no TTL)."""
    db, _, client = served
    ids = db.add_vectors([[float(i), 0.0, 0.0, 0.0] for i in range(6)])
    client.post("/search", json={"vector": [0, 0, 0, 0], "k": 2})  # the server has answered before
    with Database.open(db.collection, 4, IndexType.HNSW, dsn=dsn) as other:
        TTLManager(TTLConfig(), other).set_ttl(ids[0], 0.2)
    time.sleep(1.1)
    hits = client.post("/search", json={"vector": [0, 0, 0, 0], "k": 2}).json()["hits"]
    assert [h["id"] for h in hits] == ids[1:3]
    assert error(client.get(f"/vectors/{ids[0]}")) == (404, f"no vector with id {ids[0]}")
    assert client.get("/stats").json()["vectors"] == 5


def test_openapi_lists_the_routes(served):
    _, _, client = served
    paths = client.get("/openapi.json").json()["paths"]
    for p in ("/health", "/stats", "/vectors", "/vectors/{vector}", "/search", "/search/batch",
              "/search/text", "/search/hybrid", "/namespaces", "/namespaces/{namespace}/search"):
        assert p in paths
    assert client.get("/docs").status_code == 404  # no interactive docs (they would need a CDN)


# ------------------------------------------------------------------ bad input


def test_bad_vectors_are_400(served):
    _, _, client = served
    assert error(client.post("/vectors", json={"vector": [1, 2, 3]})) == \
        (400, "vector has dimension 3, the database has 4")
    assert error(client.post("/search", json={"vector": [1, 2, 3, 4, 5]})) == \
        (400, "query has dimension 5, the database has 4")
    assert error(client.post("/vectors", json={"vectors": [[1, 2, 3, 4], [1, 2]]})) == \
        (400, "vector 1 has dimension 2, the database has 4")
    nan = b'{"vector": [1, NaN, 3, 4]}'
    assert error(client.post("/vectors", content=nan, headers={"content-type": "application/json"})) \
        == (400, "NaN and infinite values are not allowed in a gvector")
    assert error(client.post("/search", content=b'{"vector": [1, 2', headers={
        "content-type": "application/json"})) == (400, "request body is not valid JSON")
    assert error(client.post("/vectors", json={"vector": [1, 2, 3, 4], "vectors": [[1, 2, 3, 4]]})) \
        == (400, 'give "vector" (one) or "vectors" (many), not both or neither')
    assert error(client.post("/vectors", json={"vector": [1, 2, 3, 4], "metadata": [{}]})) == \
        (400, '"metadata" of one vector is an object')
    assert error(client.post("/vectors", json={"vector": [1e39, 0, 0, 0]}))[0] == 400
    assert error(client.post("/search", json={"vector": [1, 2, 3, 4], "k": 10001})) == \
        (400, "k must be at most 10000, not 10001")
    assert error(client.post("/search", json={"vector": [1, 2, 3, 4], "k": -1})) == \
        (400, "k must be at least 0, not -1")
    assert error(client.get("/vectors/abc")) == (400, "a vector id is an integer, not 'abc'")
    assert error(client.get("/vectors/99999999999999999999")) == \
        (400, "a vector id is a bigint, not 99999999999999999999")


def test_wrong_types_are_422(served):
    _, _, client = served
    assert error(client.post("/search", json={"vector": ["a", 1, 2, 3]})) == \
        (422, "body.vector: item 0 is not a number")
    assert error(client.post("/search", json={"vector": [1, True, 2, 3]})) == \
        (422, "body.vector: item 1 is not a number")
    assert error(client.post("/search", json={"vector": "1,2,3,4"})) == \
        (422, "body.vector: value is not an array of numbers")
    assert error(client.post("/search/batch", json={"vectors": [[1, 2, 3, 4], [1, "2"]]})) == \
        (422, "body.vectors: item 1.1 is not a number")
    assert error(client.post("/search", json={"vector": [1, 2, 3, 4], "k": "5"})) == \
        (422, "body.k: value is not a valid integer")
    assert error(client.post("/search", json={"vector": [1, 2, 3, 4], "distance": "manhattan"})) \
        [0] == 422
    assert error(client.post("/search", json={"k": 3})) == (422, "body.vector: field required")


def test_unknown_routes_and_ids_are_404(served):
    _, _, client = served
    assert error(client.get("/vectors/12345")) == (404, "no vector with id 12345")
    assert error(client.get("/nothing")) == (404, "no such route")
    assert error(client.get("/namespaces")) == (404, "this server serves one collection, "
                                                     "not namespaces")
    assert error(client.delete("/search")) == (405, "Method Not Allowed")


def test_body_limit_is_413(collection):
    server = Server(collection, ServerConfig(port=0, max_body_bytes=1000))
    server.start()
    try:
        with httpx.Client(base_url=server.url) as client:
            big = {"vectors": [[1.0, 2.0, 3.0, 4.0]] * 100}
            want = (413, "request body is larger than the server's limit of 1000 bytes")
            assert error(client.post("/vectors", json=big)) == want

            def chunks():  # no Content-Length: counted as it arrives
                for _ in range(50):
                    yield b" " * 100
            r = client.post("/vectors", content=chunks(), headers={"content-type": "application/json"})
            assert error(r) == want
            assert collection.count() == 0
            assert client.post("/vectors", json={"vector": [1, 2, 3, 4]}).status_code == 200
    finally:
        server.stop()


@pytest.mark.parametrize("read_retries, status", [(0, 503), (3, 200)])
def test_database_down_is_503(dsn, read_retries, status):
    """A lost connection is a 503 without read retries; with them (the default) the search is retried."""
    name = "srv503_" + uuid.uuid4().hex[:8]
    db = Database.open(name, 4, IndexType.FLAT, dsn=dsn + " application_name=gv503", pool_size=1,
                       read_retries=read_retries)
    server = Server(db, ServerConfig(port=0))
    server.start()
    try:
        with httpx.Client(base_url=server.url) as client:
            assert client.post("/search", json={"vector": [1, 2, 3, 4]}).status_code == 200
            with psycopg.connect(dsn, autocommit=True) as c:
                c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = 'gv503'")
            r = client.post("/search", json={"vector": [1, 2, 3, 4]})
            assert r.status_code == status
            if status == 200:
                return
            body = r.json()["error"]
            assert body["code"] == "unavailable"
            assert body["message"].startswith("the database is unavailable: ")
            assert "Traceback" not in r.text
    finally:
        server.stop()
        db.close()
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(f'DROP TABLE IF EXISTS "{name}"')


# ------------------------------------------------------------------ defaults


def test_safe_defaults(collection):
    cfg = ServerConfig()
    assert (cfg.host, cfg.port, cfg.enable_cors, cfg.auth) == ("127.0.0.1", 8080, False, None)
    with pytest.raises(ValueError, match="refusing to listen on 0.0.0.0 without authentication"):
        Server(collection, ServerConfig(host="0.0.0.0"))
    Server(collection, ServerConfig(host="0.0.0.0", allow_unauthenticated=True))  # allowed
    server = Server(collection, ServerConfig(port=0))
    server.start()
    try:
        r = httpx.get(server.url + "/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in r.headers
        # loopback only: the port is not open on the machine's other addresses
        other = socket.gethostbyname(socket.gethostname())
        if not other.startswith("127."):
            with pytest.raises(OSError):
                socket.create_connection((other, server.port), timeout=2).close()
    finally:
        server.stop()


def test_cors_only_for_local_pages(collection):
    server = Server(collection, ServerConfig(port=0, enable_cors=True))
    server.start()
    try:
        ok = httpx.get(server.url + "/health", headers={"Origin": "http://localhost:3000"})
        assert ok.headers["access-control-allow-origin"] == "http://localhost:3000"
        bad = httpx.get(server.url + "/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in bad.headers
    finally:
        server.stop()


# ------------------------------------------------------------------ concurrency


def test_concurrent_clients(served):
    db, _, client = served
    acked = []
    failures = []
    lock = threading.Lock()

    def worker(w):
        with httpx.Client(base_url=client.base_url, timeout=60) as c:
            for i in range(25):
                r = c.post("/vectors", json={"vector": [w, i, 1, 1], "metadata": {"w": w}})
                if r.status_code != 200:
                    failures.append(r.text)
                    continue
                with lock:
                    acked.append(r.json()["id"])
                s = c.post("/search", json={"vector": [w, i, 1, 1], "k": 1,
                                            "filter": {"w": w}})
                if s.status_code != 200 or s.json()["hits"][0]["distance"] != 0.0:
                    failures.append(s.text)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(set(acked)) == 200 and db.count() == 200


# ------------------------------------------------------------------ command line


def _serve(args, env=None):
    proc = subprocess.Popen([sys.executable, "-m", "gigavector", "serve", *args],
                            cwd=PYTHON_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    line = proc.stdout.readline()
    assert line.startswith("gigavector: listening on http://127.0.0.1:"), \
        line + proc.stderr.read()
    return proc, line.split()[-1]


def test_command_line_stops_cleanly_on_sigterm(dsn):
    name = "cli_" + uuid.uuid4().hex[:8]
    proc, url = _serve(["--dsn", dsn, "--path", name, "--dimension", "3", "--port", "0"])
    try:
        with httpx.Client(base_url=url) as client:
            assert client.post("/vectors", json={"vector": [1, 2, 3]}).json() == {"id": 1}
            results = []
            # a batch search in flight when SIGTERM comes is answered before the exit
            t = threading.Thread(target=lambda: results.append(client.post(
                "/search/batch", json={"vectors": [[1, 2, 3]] * 200, "k": 1})))
            t.start()
            proc.send_signal(signal.SIGTERM)
            t.join()
            assert proc.wait(timeout=60) == 0
            out = proc.stdout.read()
            assert out.strip() == "gigavector: stopped"
            # in flight, or refused because the socket had closed: never a broken answer
            if results:
                assert results[0].status_code == 200
        port = int(url.rsplit(":", 1)[1])
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        if proc.poll() is None:
            proc.kill()
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(f'DROP TABLE IF EXISTS "{name}"')


def test_command_line_refuses_open_address_without_auth(dsn):
    r = subprocess.run([sys.executable, "-m", "gigavector", "serve", "--dsn", dsn, "--path", "x",
                        "--dimension", "3", "--host", "0.0.0.0"], cwd=PYTHON_DIR,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "refusing to listen on 0.0.0.0 without authentication" in r.stderr
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute('DROP TABLE IF EXISTS "x"')


# ------------------------------------------------------------------ seed


def test_seed_server_example(monkeypatch, capsys):
    """The seed README's server example, verbatim (port 8080 must be free)."""
    for var in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "GIGAVECTOR_DSN"):
        monkeypatch.delenv(var, raising=False)
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", 8080))
    except OSError:
        pytest.skip("port 8080 is taken on this machine")
    finally:
        probe.close()

    # Create database and server
    db = Database.open(None, dimension=128, index=IndexType.HNSW)
    config = ServerConfig(port=8080, enable_cors=True)

    with Server(db, config) as server:
        server.start()
        print("Server running on http://localhost:8080")
        # Server handles REST API requests:
        # GET  /health - Health check
        # POST /vectors - Add vector
        # POST /search - Search vectors
        # GET  /stats - Server statistics
        assert httpx.post("http://localhost:8080/vectors",
                          json={"vector": [0.5] * 128}).json() == {"id": 1}
        assert httpx.get("http://localhost:8080/stats").json()["vectors"] == 1
    assert not server.running
    db.close()
    assert capsys.readouterr().out == "Server running on http://localhost:8080\n"
