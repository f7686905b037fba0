"""Many processes opening the same new database at once all succeed: the same
new embedded folder, and the same new collection in a new database (no
extension yet) named by a DSN.  Each round starts 8 processes that wait at a
barrier, then open, add one vector and report."""

import os
import subprocess
import sys
import textwrap
import uuid

import psycopg
import pytest

from gigavector import Database, IndexType

PROCESSES = 8
ROUNDS = 3
PKG = os.path.join(os.path.dirname(__file__), "..")

CHILD = textwrap.dedent("""
    import sys
    from gigavector import Database, IndexType
    target, mode = sys.argv[1], sys.argv[2]
    sys.stdin.readline()                        # the barrier: every process is ready
    try:
        if mode == "embedded":
            db = Database.open(target, dimension=3, index=IndexType.HNSW, embedded=True)
        else:
            db = Database.open("raced", dimension=3, index=IndexType.HNSW, dsn=target)
        with db:
            db.add_vector([1, 2, 3])
        print("ok", flush=True)
    except Exception as e:
        print(f"{type(e).__name__}: {e}", flush=True)
""")


def race(target, mode):
    """What each of PROCESSES processes opening target at once printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "GIGAVECTOR_DSN"}
    env["PYTHONPATH"] = PKG
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, target, mode], env=env, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
             for _ in range(PROCESSES)]
    for p in procs:  # every child has imported the package and waits on stdin
        p.stdin.write("go\n")
    for p in procs:
        p.stdin.flush()
    return [p.communicate(timeout=180)[0].strip() for p in procs]


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_racing_opens_of_a_new_embedded_folder(tmp_path, round_):
    folder = str(tmp_path / "raced.db")
    assert race(folder, "embedded") == ["ok"] * PROCESSES
    with Database.open(folder, dimension=3, index=IndexType.HNSW, embedded=True) as db:
        assert db.count() == PROCESSES


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_racing_opens_of_a_new_database_by_dsn(dsn, round_):
    name = "gv_race_" + uuid.uuid4().hex[:8]
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    target = psycopg.conninfo.make_conninfo(dsn, dbname=name)
    try:
        assert race(target, "dsn") == ["ok"] * PROCESSES
        with psycopg.connect(target) as c:
            assert c.execute("SELECT count(*) FROM raced").fetchone()[0] == PROCESSES
            assert c.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'raced'"
                             ).fetchone()[0] == 3  # primary key, metadata, one gv_hnsw
    finally:
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(f"DROP DATABASE {name} WITH (FORCE)")
