"""JWTs with RS256 (a public key in AuthConfig) beside HS256: a valid token,
an expired one, one signed by another key, algorithm confusion (an HS256
token whose HMAC secret is the public key), alg none, algorithms without a
key on this server, nbf/iss/aud, bad keys in the config; and RS256 through
the REST server."""

import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gigavector import (AuthConfig, AuthManager, AuthResult, AuthType, Database, IndexType,
                        Server, ServerConfig)

SECRET = "hs-secret-" + "z" * 32


def private_key(bits=2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def public_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def keys():
    return private_key(), private_key()  # ours, another one


@pytest.fixture()
def database(dsn):
    name = "jwt_" + uuid.uuid4().hex[:8]
    db = Database.open(name, 4, IndexType.HNSW, dsn=dsn)
    yield db
    with db.connection() as c:
        c.execute(f'DROP TABLE IF EXISTS "{name}"')
    db.close()


def b64(data):
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(**extra):
    body = {"role": "gv_jwt_role", "sub": "alice", "exp": int(time.time()) + 300}
    body.update(extra)
    return body


def test_rs256_tokens(database, keys):
    ours, other = keys
    pem = public_pem(ours)
    auth = AuthManager(AuthConfig(auth_type=AuthType.JWT, jwt_public_key=pem), database)
    try:
        result, ident = auth.authenticate(jwt.encode(claims(), ours, algorithm="RS256"))
        assert result == AuthResult.SUCCESS
        assert (ident.role, ident.subject, ident.method) == ("gv_jwt_role", "alice", "jwt")
        # expired past the skew; within it
        assert auth.authenticate(jwt.encode(claims(exp=int(time.time()) - 120), ours,
                                            algorithm="RS256")) == (AuthResult.EXPIRED, None)
        assert auth.authenticate(jwt.encode(claims(exp=int(time.time()) - 30), ours,
                                            algorithm="RS256"))[0] == AuthResult.SUCCESS
        # signed by another key
        assert auth.authenticate(jwt.encode(claims(), other, algorithm="RS256")) == \
            (AuthResult.INVALID, None)
        # a signature of another token
        good = jwt.encode(claims(), ours, algorithm="RS256")
        header, _, signature = good.split(".")
        forged = header + "." + b64(claims(role="postgres")) + "." + signature
        assert auth.authenticate(forged) == (AuthResult.INVALID, None)
        # algorithm confusion: HS256 whose HMAC secret is the public key's PEM
        signing_input = b64({"alg": "HS256", "typ": "JWT"}) + "." + b64(claims())
        confused = signing_input + "." + b64(hmac.new(pem, signing_input.encode(),
                                                      hashlib.sha256).digest())
        assert auth.authenticate(confused) == (AuthResult.INVALID, None)
        # alg none, with and without a signature
        none = b64({"alg": "none", "typ": "JWT"}) + "." + b64(claims()) + "."
        assert auth.authenticate(none) == (AuthResult.INVALID, None)
        assert auth.authenticate(none + good.rsplit(".", 1)[1]) == (AuthResult.INVALID, None)
        # other algorithms, even with our key: RS512, PS256; HS256 with no secret configured
        for alg in ("RS512", "PS256"):
            assert auth.authenticate(jwt.encode(claims(), ours, algorithm=alg)) == \
                (AuthResult.INVALID, None), alg
        assert auth.authenticate(jwt.encode(claims(), SECRET, algorithm="HS256")) == \
            (AuthResult.INVALID, None)
        # nbf in the future past the skew; no role claim; garbage
        assert auth.authenticate(jwt.encode(claims(nbf=int(time.time()) + 600), ours,
                                            algorithm="RS256")) == (AuthResult.INVALID, None)
        no_role = claims()
        del no_role["role"]
        assert auth.authenticate(jwt.encode(no_role, ours, algorithm="RS256")) == \
            (AuthResult.INVALID, None)
        assert auth.authenticate("a.b.c") == (AuthResult.INVALID, None)
    finally:
        auth.close()


def test_both_algorithms_each_with_its_own_key(database, keys):
    ours, _ = keys
    pem = public_pem(ours)
    auth = AuthManager(AuthConfig(auth_type=AuthType.JWT, jwt_secret=SECRET, jwt_public_key=pem,
                                  jwt_issuer="https://issuer", jwt_audience="gigavector"),
                       database)
    try:
        iss_aud = {"iss": "https://issuer", "aud": "gigavector"}
        assert auth.authenticate(jwt.encode(claims(**iss_aud), ours, algorithm="RS256"))[0] == \
            AuthResult.SUCCESS
        assert auth.authenticate(jwt.encode(claims(**iss_aud), SECRET, algorithm="HS256"))[0] == \
            AuthResult.SUCCESS
        assert auth.authenticate(auth.create_token("gv_jwt_role"))[0] == AuthResult.SUCCESS
        # the public key is never an HMAC secret, even where HS256 is accepted
        signing_input = b64({"alg": "HS256", "typ": "JWT"}) + "." + b64(claims(**iss_aud))
        confused = signing_input + "." + b64(hmac.new(pem, signing_input.encode(),
                                                      hashlib.sha256).digest())
        assert auth.authenticate(confused) == (AuthResult.INVALID, None)
        for wrong in ({"iss": "https://other", "aud": "gigavector"},
                      {"iss": "https://issuer", "aud": "other"}, {"aud": "gigavector"}):
            assert auth.authenticate(jwt.encode(claims(**wrong), ours, algorithm="RS256")) == \
                (AuthResult.INVALID, None), wrong
    finally:
        auth.close()


def test_bad_public_keys_are_refused(database):
    short = private_key(1024)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_pem = ec_key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    private_pem = private_key().private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
    cases = [(public_pem(short), "jwt_public_key has 1024 bits: at least 2048 are needed"),
             (ec_pem, "jwt_public_key must be an RSA public key (RS256)"),
             ("not a key", "jwt_public_key is not a PEM public key"),
             (private_pem, "jwt_public_key is not a PEM public key")]
    for pem, message in cases:
        with pytest.raises(ValueError) as e:
            AuthManager(AuthConfig(auth_type=AuthType.JWT, jwt_public_key=pem), database)
        assert str(e.value).startswith(message), str(e.value)
    with pytest.raises(ValueError, match=r"needs AuthConfig\(jwt_secret=...\) \(HS256\) or "):
        AuthManager(AuthConfig(auth_type=AuthType.JWT), database)


def test_rs256_through_the_server(database, keys):
    ours, other = keys
    role = "gv_jwt_reader_" + uuid.uuid4().hex[:6]
    with database.connection() as c:
        c.execute(f"CREATE ROLE {role} NOLOGIN")
        c.execute(f'GRANT SELECT ON "{database.collection}" TO {role}')
    database.add_vector([1, 0, 0, 0], {"k": 1})
    auth = AuthManager(AuthConfig(auth_type=AuthType.BOTH, jwt_public_key=public_pem(ours)),
                       database)
    try:
        with Server(database, ServerConfig(port=0, auth=auth)) as srv:
            srv.start()
            body = {"vector": [1, 0, 0, 0], "k": 1}
            good = jwt.encode(claims(role=role), ours, algorithm="RS256")
            r = httpx.post(srv.url + "/search", json=body, timeout=60,
                           headers={"Authorization": f"Bearer {good}"})
            assert r.status_code == 200, r.text
            assert [h["metadata"] for h in r.json()["hits"]] == [{"k": 1}]
            bad = jwt.encode(claims(role=role), other, algorithm="RS256")
            r = httpx.post(srv.url + "/search", json=body, timeout=60,
                           headers={"Authorization": f"Bearer {bad}"})
            assert (r.status_code, r.json()["error"]["message"]) == (401, "invalid credentials")
            # the token's role may read, not write: PostgreSQL says so
            r = httpx.post(srv.url + "/vectors", json={"vector": [0, 1, 0, 0]}, timeout=60,
                           headers={"Authorization": f"Bearer {good}"})
            assert r.status_code == 403 and r.json()["error"]["sqlstate"] == "42501"
    finally:
        auth.close()
        with database.connection() as c:
            c.execute(f'REVOKE ALL ON "{database.collection}" FROM {role}')
            c.execute(f"DROP ROLE {role}")
