"""Fixtures: a connection to the test server named by GIGAVECTOR_TEST_DSN
(test/run starts a throwaway cluster and sets it)."""

import os
import sys

import psycopg
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


@pytest.fixture(scope="session")
def dsn() -> str:
    value = os.environ.get("GIGAVECTOR_TEST_DSN")
    if not value:
        pytest.fail("GIGAVECTOR_TEST_DSN is not set: run the tests through test/run")
    return value


@pytest.fixture()
def conn(dsn):
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS gigavector")
        yield c


# --- Database fixtures: the same tests in embedded mode and against a DSN ----------------

import uuid  # noqa: E402

from gigavector import Database  # noqa: E402

PG_ENV = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGSERVICE", "PGUSER", "GIGAVECTOR_DSN")


@pytest.fixture()
def embedded_env(monkeypatch):
    """No connection string anywhere: Database.open starts an embedded server."""
    for var in PG_ENV:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture()
def dsn_env(monkeypatch, dsn):
    """GIGAVECTOR_DSN names the test cluster: Database.open uses it."""
    monkeypatch.setenv("GIGAVECTOR_DSN", dsn)


@pytest.fixture(params=["embedded", "dsn"])
def mode(request):
    """Run a test once per mode; the environment selects it, as a user's would."""
    request.getfixturevalue(f"{request.param}_env")
    return request.param


@pytest.fixture(scope="session")
def shared_embedded(tmp_path_factory):
    """One persistent embedded server for the API tests (opening one costs ~1 s).

    A Database held open for the whole session keeps the server running; each
    test opens its own collection in it."""
    path = str(tmp_path_factory.mktemp("shared") / "vectors.db")
    keeper = Database.open(path, 4, embedded=True, collection="keeper")
    yield path
    keeper.close()


@pytest.fixture()
def make_db(request, dsn):
    """make_db(mode, dimension, index, **kw): a fresh collection, closed and dropped afterwards."""
    opened = []

    def make(mode, dimension, index=None, **kw):
        name = "t_" + uuid.uuid4().hex[:12]
        args = {} if index is None else {"index": index}
        if mode == "embedded":
            path = request.getfixturevalue("shared_embedded")
            db = Database.open(path, dimension, embedded=True, collection=name, **args, **kw)
        else:
            db = Database.open(name, dimension, dsn=dsn, **args, **kw)
        opened.append(db)
        return db

    yield make
    for db in opened:
        if not db.closed:
            with db.connection() as c:
                c.execute("DROP TABLE IF EXISTS {}, {}".format(
                    db.table.as_string(c), db._training.as_string(c)))
            db.close()
