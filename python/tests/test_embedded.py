"""The embedded server: throwaway and persistent data folders, two processes on one
folder, and SIGKILL in the middle of a load."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from gigavector import Database, IndexType

PYTHON = sys.executable
PKG = os.path.join(os.path.dirname(__file__), "..")


def child(code, *args):
    """A Python process running code with the package importable, without PG* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "GIGAVECTOR_DSN"}
    env["PYTHONPATH"] = PKG
    return subprocess.Popen([PYTHON, "-c", textwrap.dedent(code), *args], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)


def postmaster_pid(folder):
    with open(os.path.join(folder, "pgdata", "postmaster.pid")) as f:
        return int(f.readline())


def test_throwaway_is_removed_on_close(embedded_env):
    db = Database.open(None, dimension=4)
    base = db._res.server.base
    assert os.path.isdir(os.path.join(base, "pgdata"))
    db.add_vector([1, 2, 3, 4])
    pid = postmaster_pid(base)
    db.close()
    assert not os.path.exists(base)
    with pytest.raises(ProcessLookupError):
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.05)


def test_persistent_reopen_across_processes(embedded_env, tmp_path):
    folder = str(tmp_path / "vectors.db")
    p = child("""
        import sys
        from gigavector import Database, IndexType
        with Database.open(sys.argv[1], dimension=3, index=IndexType.HNSW) as db:
            db.add_vectors([[1, 2, 3], [4, 5, 6]], metadata=[{"n": 1}, {"n": 2}])
    """, folder)
    assert p.wait(60) == 0
    assert not os.path.exists(os.path.join(folder, "pgdata", "postmaster.pid"))  # stopped
    with Database.open(folder, dimension=3, index=IndexType.HNSW) as db:
        assert [(v.data, v.metadata) for v in db] == [([1.0, 2.0, 3.0], {"n": 1}),
                                                      ([4.0, 5.0, 6.0], {"n": 2})]
        assert db.search([4, 5, 6], k=1)[0].vector.metadata == {"n": 2}
    with pytest.raises(ValueError, match="gvector\\(3\\)"):
        Database.open(folder, dimension=4)
    (tmp_path / "plain.txt").write_text("not a database")
    with pytest.raises(RuntimeError, match="is a file"):
        Database.open(str(tmp_path / "plain.txt"), dimension=3)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x").write_text("")
    with pytest.raises(RuntimeError, match="not a gigavector data folder"):
        Database.open(str(tmp_path / "other"), dimension=3)


def test_two_processes_share_one_server(embedded_env, tmp_path):
    folder = str(tmp_path / "shared.db")
    p = child("""
        import sys
        from gigavector import Database
        db = Database.open(sys.argv[1], dimension=2)
        db.add_vector([1, 1], {"who": "child"})
        print("ready", flush=True)
        sys.stdin.readline()                      # the parent adds a vector meanwhile
        print(db.count(), flush=True)
        sys.stdin.readline()                      # the parent has closed its Database
        print(db.count(), flush=True)
        db.close()
    """, folder)
    assert p.stdout.readline().strip() == "ready"
    pid = postmaster_pid(folder)
    db = Database.open(folder, dimension=2)
    assert postmaster_pid(folder) == pid  # attached, no second server
    assert db.count() == 1
    db.add_vector([2, 2], {"who": "parent"})
    p.stdin.write("go\n")
    assert p.stdout.readline().strip() == "2"
    db.close()  # the child still uses the server: it keeps running
    os.kill(pid, 0)
    p.stdin.write("go\n")
    assert p.stdout.readline().strip() == "2"
    assert p.wait(60) == 0
    assert not os.path.exists(os.path.join(folder, "pgdata", "postmaster.pid"))  # last one stopped it


def test_sigkill_mid_load_keeps_every_committed_vector(embedded_env, tmp_path):
    folder = str(tmp_path / "crash.db")
    p = child("""
        import sys
        import numpy as np
        from gigavector import Database, IndexType
        db = Database.open(sys.argv[1], dimension=16, index=IndexType.HNSW)
        rng = np.random.default_rng(0)
        batch = 0
        while True:
            data = rng.random((200, 16), dtype=np.float32)
            ids = db.add_vectors(data, metadata=[{"batch": batch}] * 200)   # one transaction
            single = db.add_vector(data[0], {"batch": batch, "single": True})
            print(batch, ids[0], ids[-1], single, flush=True)   # reported after the commit
            batch += 1
    """, folder)
    committed = []
    while len(committed) < 8:
        line = p.stdout.readline()
        assert line, "the loader died"
        committed.append([int(x) for x in line.split()])
    server = postmaster_pid(folder)
    p.send_signal(signal.SIGKILL)   # the client, mid-load
    os.kill(server, signal.SIGKILL)  # and the server: the next open replays the WAL
    p.wait(30)
    with Database.open(folder, dimension=16, index=IndexType.HNSW) as db:
        total = db.count()
        for batch, first, last, single in committed:
            assert db.count({"batch": batch}) == 201
            assert db.get(first).metadata == {"batch": batch}
            assert db.get(last).metadata == {"batch": batch}
            assert db.get(single).metadata == {"batch": batch, "single": True}
            v = db.get(last)
            assert db.search(v.data, k=1)[0].id == last  # the index survived recovery too
        # whatever got in beyond the reported batches came in whole transactions
        assert total % 201 in (0, 200)
    with open(os.path.join(folder, "server.log")) as f:
        log = f.read()
    assert "database system was interrupted" in log or "not properly shut down" in log
