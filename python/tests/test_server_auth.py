"""Authentication and tenant isolation through the REST server: API keys and
JWTs mapped to namespace roles; every failure (missing, revoked, expired,
forged, alg none, unknown or superuser role) refused; tenant A's key never
reads, counts, searches or writes tenant B's vectors, because PostgreSQL's
grants say no (the answer carries its SQLSTATE, and a GRANT changes it)."""

import base64
import json
import time
import uuid

import httpx
import jwt
import psycopg
import pytest

from gigavector import (AuthConfig, AuthManager, AuthResult, AuthType, NamespaceConfig,
                        NamespaceManager, Server, ServerConfig)

SECRET = "test-secret-" + "x" * 32


@pytest.fixture()
def tenants(dsn):
    """A NamespaceManager with namespaces a and b (4 dimensions, a quota of 50 on a)."""
    suffix = uuid.uuid4().hex[:6]
    mgr = NamespaceManager(dsn)
    a = mgr.create(NamespaceConfig(f"ta_{suffix}", 4, max_vectors=50))
    b = mgr.create(NamespaceConfig(f"tb_{suffix}", 4))
    a.add_vectors([[1, 0, 0, 0], [2, 0, 0, 0]], [{"t": "a"}, {"t": "a"}])
    b.add_vectors([[1, 0, 0, 0], [3, 0, 0, 0], [5, 0, 0, 0]], [{"t": "b"}] * 3)
    yield mgr, a, b
    for ns in (a, b):
        try:
            mgr.drop(ns.name)
        except Exception:
            pass
    mgr.close()


@pytest.fixture()
def server(tenants):
    mgr, a, b = tenants
    auth = AuthManager(AuthConfig(auth_type=AuthType.BOTH, jwt_secret=SECRET), mgr)
    srv = Server(mgr, ServerConfig(port=0, auth=auth))
    srv.start()
    with httpx.Client(base_url=srv.url, timeout=60) as client:
        yield client, auth, a, b
    srv.stop()
    auth.close()


def bearer(credential):
    return {"Authorization": f"Bearer {credential}"}


def error(r):
    return r.status_code, r.json()["error"]["message"]


ROUTES = [("GET", "/stats", None), ("GET", "/namespaces", None), ("GET", "/openapi.json", None),
          ("POST", "/vectors", {"vector": [1, 1, 1, 1]}),
          ("GET", "/vectors/1", None), ("PUT", "/vectors/1", {"vector": [1, 1, 1, 1]}),
          ("DELETE", "/vectors/1", None),
          ("POST", "/search", {"vector": [1, 1, 1, 1]}),
          ("POST", "/search/batch", {"vectors": [[1, 1, 1, 1]]}),
          ("POST", "/search/text", {"text": "fish"}),
          ("POST", "/search/hybrid", {"vector": [1, 1, 1, 1], "text": "fish"})]


def each_route(ns):
    for method, path, body in ROUTES:
        if path.startswith(("/vectors", "/search", "/stats")):
            yield method, f"/namespaces/{ns}{path}", body
        yield method, path, body


# ------------------------------------------------------------------ refusals


def test_every_route_needs_credentials(server):
    client, auth, a, b = server
    for method, path, body in each_route(a.name):
        r = client.request(method, path, json=body)
        assert r.status_code == 401, (method, path)
        assert r.json()["error"]["message"].startswith("missing credentials")
        assert r.headers["www-authenticate"] == 'Bearer realm="gigavector"'
    assert client.get("/health").status_code == 200  # liveness shows no data
    assert a.count() == 2 and b.count() == 3


def test_bad_credentials_are_401(server):
    client, auth, a, b = server
    url = f"/namespaces/{a.name}/search"
    body = {"vector": [1, 0, 0, 0]}
    key, key_id = auth.generate_api_key("revoked", role=a.role)
    assert client.post(url, json=body, headers=bearer(key)).status_code == 200
    assert auth.revoke(key_id) is True
    assert error(client.post(url, json=body, headers=bearer(key))) == \
        (401, "API key has been revoked")
    old, _ = auth.generate_api_key("old", role=a.role, expires_in=-1)
    assert error(client.post(url, json=body, headers={"X-API-Key": old})) == \
        (401, "credentials have expired")
    good, key_id = auth.generate_api_key("good", role=a.role)
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    assert error(client.post(url, json=body, headers=bearer(forged))) == (401, "invalid credentials")
    assert error(client.post(url, json=body, headers=bearer("gv_nope_nope"))) == \
        (401, "invalid credentials")
    # tokens: expired past the clock skew, another secret, alg none, another algorithm
    expired = auth.create_token(a.role, expires_in=-120)
    assert error(client.post(url, json=body, headers=bearer(expired))) == \
        (401, "credentials have expired")
    skewed = auth.create_token(a.role, expires_in=-30)  # within the 60 s skew
    assert client.post(url, json=body, headers=bearer(skewed)).status_code == 200
    other = jwt.encode({"role": a.role, "exp": int(time.time()) + 60}, "another-secret-" + "y" * 32,
                       algorithm="HS256")
    assert error(client.post(url, json=body, headers=bearer(other))) == (401, "invalid credentials")

    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    none = b64({"alg": "none", "typ": "JWT"}) + "." + b64(
        {"role": a.role, "exp": int(time.time()) + 60}) + "."
    assert error(client.post(url, json=body, headers=bearer(none))) == (401, "invalid credentials")
    hs512 = jwt.encode({"role": a.role, "exp": int(time.time()) + 60}, SECRET, algorithm="HS512")
    assert error(client.post(url, json=body, headers=bearer(hs512))) == (401, "invalid credentials")
    no_exp = jwt.encode({"role": a.role}, SECRET, algorithm="HS256")
    assert error(client.post(url, json=body, headers=bearer(no_exp))) == (401, "invalid credentials")
    assert error(client.post(url, json=body, headers={"Authorization": "Basic abc"}))[0] == 401


def test_roles_that_may_not_serve_are_403(server, dsn):
    client, auth, a, b = server
    url = f"/namespaces/{a.name}/search"
    body = {"vector": [1, 0, 0, 0]}
    ghost = auth.create_token("no_such_role_" + uuid.uuid4().hex[:6])
    code, message = error(client.post(url, json=body, headers=bearer(ghost)))
    assert code == 403 and message.endswith("does not exist")
    root = auth.create_token("postgres")
    assert error(client.post(url, json=body, headers=bearer(root))) == \
        (403, 'role "postgres" is a superuser: requests may not run as it')
    with pytest.raises(ValueError, match='role "postgres" is a superuser'):
        auth.generate_api_key("root", role="postgres")


# ------------------------------------------------------------------ isolation


def test_tenant_keys_see_only_their_namespace(server, dsn):
    client, auth, a, b = server
    key_a, _ = auth.generate_api_key("tenant a", role=a.role)
    h = bearer(key_a)
    # its own namespace: every route works
    hits = client.post(f"/namespaces/{a.name}/search", json={"vector": [1, 0, 0, 0], "k": 5},
                       headers=h).json()["hits"]
    assert [x["metadata"] for x in hits] == [{"t": "a"}, {"t": "a"}]
    assert client.get(f"/namespaces/{a.name}/stats", headers=h).json()["vectors"] == 2
    new = client.post(f"/namespaces/{a.name}/vectors", json={"vector": [9, 9, 9, 9]},
                      headers=h).json()["id"]
    assert client.get(f"/namespaces/{a.name}/vectors/{new}", headers=h).status_code == 200
    assert [n["name"] for n in client.get("/namespaces", headers=h).json()["namespaces"]] == [a.name]
    # b's: refused by PostgreSQL (permission denied for schema), never data
    b_id = b.search([1, 0, 0, 0], 1)[0].id
    for method, path, body in [("GET", "/stats", None), ("POST", "/search", {"vector": [1, 0, 0, 0]}),
                               ("POST", "/search/batch", {"vectors": [[1, 0, 0, 0]]}),
                               ("GET", f"/vectors/{b_id}", None),
                               ("POST", "/vectors", {"vector": [7, 7, 7, 7]}),
                               ("PUT", f"/vectors/{b_id}", {"vector": [7, 7, 7, 7]}),
                               ("DELETE", f"/vectors/{b_id}", None)]:
        r = client.request(method, f"/namespaces/{b.name}{path}", json=body, headers=h)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["error"] == {"code": "forbidden", "sqlstate": "42501",
                                     "message": f"permission denied for schema {b.name}"}
        assert '"t":"b"' not in r.text.replace(" ", "")
    assert b.count() == 3 and [list(v.data) for v in b][0] == [1, 0, 0, 0]
    # PostgreSQL decides: once b's schema and table are granted to a's role, a's key reads b
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f"GRANT USAGE ON SCHEMA {b.name} TO {a.role}")
        c.execute(f"GRANT SELECT ON {b.name}.vectors TO {a.role}")
    r = client.post(f"/namespaces/{b.name}/search", json={"vector": [1, 0, 0, 0], "k": 1}, headers=h)
    assert r.status_code == 200 and r.json()["hits"][0]["metadata"] == {"t": "b"}
    r = client.post(f"/namespaces/{b.name}/vectors", json={"vector": [7, 7, 7, 7]}, headers=h)
    assert error(r) == (403, f"permission denied for table vectors")


def test_jwt_role_claim_picks_the_tenant(server):
    client, auth, a, b = server
    token_b = auth.create_token(b.role, subject="user-17")
    r = client.post(f"/namespaces/{b.name}/search", json={"vector": [1, 0, 0, 0], "k": 10},
                    headers=bearer(token_b))
    assert [h["metadata"]["t"] for h in r.json()["hits"]] == ["b", "b", "b"]
    assert client.get(f"/namespaces/{a.name}/stats", headers=bearer(token_b)).status_code == 403
    result, ident = auth.authenticate(token_b)
    assert result == AuthResult.SUCCESS and (ident.role, ident.subject) == (b.role, "user-17")


def test_quota_is_409_through_the_server(server):
    client, auth, a, b = server
    key_a, _ = auth.generate_api_key("tenant a", role=a.role)
    r = client.post(f"/namespaces/{a.name}/vectors", json={"vectors": [[1, 1, 1, 1]] * 49},
                    headers=bearer(key_a))
    assert r.status_code == 409
    assert r.json()["error"] == {"code": "conflict", "sqlstate": "53400",
                                 "message": f'namespace "{a.name}" is full: it holds at most 50 vectors'}
    assert a.count() == 2
    assert client.post(f"/namespaces/{a.name}/vectors", json={"vectors": [[1, 1, 1, 1]] * 48},
                       headers=bearer(key_a)).status_code == 200
    assert a.count() == 50


def test_unknown_namespace_is_404(server):
    client, auth, a, b = server
    key_a, _ = auth.generate_api_key("tenant a", role=a.role)
    assert error(client.get("/namespaces/nowhere/stats", headers=bearer(key_a))) == \
        (404, 'namespace "nowhere" does not exist')
    code, message = error(client.get("/namespaces/Bad-Name/stats", headers=bearer(key_a)))
    assert code == 400 and message.startswith("invalid namespace name 'Bad-Name'")
    assert error(client.get("/vectors/1", headers=bearer(key_a))) == \
        (404, "this server serves namespaces: use /namespaces/{name}/...")


# ------------------------------------------------------------------ keys at rest


def test_keys_are_stored_hashed_and_private(tenants, dsn):
    mgr, a, b = tenants
    auth = AuthManager(AuthConfig(), mgr)
    try:
        key, key_id = auth.generate_api_key("app", role=a.role, expires_in=3600)
        assert key.startswith(f"gv_{key_id}_") and len(key.split("_", 2)[2]) == 43  # 256 bits
        with psycopg.connect(dsn, autocommit=True) as c:
            salt, digest, role = c.execute("SELECT salt, hash, role FROM gigavector.api_keys "
                                           "WHERE key_id = %s", (key_id,)).fetchone()
            dump = c.execute("SELECT row_to_json(k)::text FROM gigavector.api_keys k").fetchall()
            assert role == a.role and len(salt) == 16 and len(digest) == 32
            assert all(key.split("_", 2)[2] not in row[0] for row in dump)
            assert c.execute("SELECT has_table_privilege(%s, 'gigavector.api_keys', 'SELECT')",
                             (a.role,)).fetchone()[0] is False
            assert c.execute("SELECT has_table_privilege('public', 'gigavector.api_keys', "
                             "'SELECT')").fetchone()[0] is False
        info = [k for k in auth.list_keys() if k.key_id == key_id][0]
        assert (info.name, info.role, info.revoked) == ("app", a.role, None)
        assert not hasattr(info, "hash") and info.expires is not None
        assert auth.authenticate(key)[0] == AuthResult.SUCCESS
        assert auth.authenticate(key + "x")[0] == AuthResult.INVALID
        assert auth.authenticate("")[0] == AuthResult.INVALID
        assert auth.authenticate("a.b.c")[0] == AuthResult.INVALID  # JWTs not accepted here
    finally:
        auth.close()


def test_seed_auth_example():
    """The seed README's authentication example, verbatim (AuthResult imported above)."""
    # Create auth manager with API key authentication
    config = AuthConfig(auth_type=AuthType.API_KEY)
    auth = AuthManager(config)

    # Generate API key
    key, key_id = auth.generate_api_key("My Application")
    print(f"API Key: {key}")
    print(f"Key ID: {key_id}")

    # Authenticate requests
    result, identity = auth.authenticate(key)
    if result == AuthResult.SUCCESS:
        print(f"Authenticated: {identity.key_id}")

    auth.close()
    assert result == AuthResult.SUCCESS and identity.key_id == key_id and identity.role is None


def test_server_login_without_rights_of_its_own(tenants, dsn):
    """The server's pool logs in as a NOINHERIT role that is only a member of the
    tenants' roles: it reads nothing as itself; each request reads as its key's role.
    The keys live on the admin's server (AuthManager over the admin manager)."""
    mgr, a, b = tenants
    login = "gv_srv_" + uuid.uuid4().hex[:6]
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f"CREATE ROLE {login} LOGIN NOINHERIT")
        c.execute(f"GRANT {a.role}, {b.role} TO {login}")
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    params["user"] = login
    login_dsn = psycopg.conninfo.make_conninfo(**params)
    try:
        with psycopg.connect(login_dsn, autocommit=True) as c:
            assert refused_sqlstate(c, f"SELECT count(*) FROM {a.name}.vectors") == "42501"
            assert refused_sqlstate(c, "SELECT * FROM gigavector.api_keys") == "42501"
            assert c.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") \
                .fetchone() == (False,)
        served = NamespaceManager(login_dsn)
        auth = AuthManager(AuthConfig(), mgr)
        srv = Server(served, ServerConfig(port=0, auth=auth))
        srv.start()
        try:
            key_b, _ = auth.generate_api_key("tenant b", role=b.role)
            with httpx.Client(base_url=srv.url) as client:
                r = client.post(f"/namespaces/{b.name}/search", json={"vector": [1, 0, 0, 0], "k": 5},
                                headers=bearer(key_b))
                assert [h["metadata"]["t"] for h in r.json()["hits"]] == ["b", "b", "b"]
                assert client.post(f"/namespaces/{b.name}/vectors", json={"vector": [4, 0, 0, 0]},
                                   headers=bearer(key_b)).status_code == 200
                r = client.get(f"/namespaces/{a.name}/stats", headers=bearer(key_b))
                assert error(r) == (403, f"permission denied for schema {a.name}")
            assert b.count() == 4
        finally:
            srv.stop()
            auth.close()
            served.close()
    finally:
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(f"DROP ROLE {login}")


def refused_sqlstate(conn, query):
    with pytest.raises(psycopg.Error) as info:
        conn.execute(query)
    return info.value.sqlstate
