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
