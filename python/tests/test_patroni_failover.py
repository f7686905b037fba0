"""Automatic failover with Patroni and etcd on loopback: three PostgreSQL
nodes in synchronous mode, one etcd.  A writer adds vectors through a
multi-host dsn (target_session_attrs=read-write) while the primary's node
is killed with SIGKILL (Patroni and postmaster: a machine gone); a standby
is promoted, the writer's Database reconnects to it, and every write it saw
acknowledged is on the new primary.

GIGAVECTOR_FAILOVER_ROUNDS=N kills the primary N times (default 1), the
killed node rejoining as a standby each time (the long mode).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from gigavector import Cluster, Database, GigaVectorError

ROUNDS = int(os.environ.get("GIGAVECTOR_FAILOVER_ROUNDS", "1"))
DIM = 4

pytestmark = pytest.mark.skipif(
    not (shutil.which("patroni") and shutil.which("etcd") and shutil.which("pg_config")),
    reason="Patroni or etcd is not installed (Debian packages patroni, etcd-server: bash test/setup)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def rest(port, path="cluster"):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=1) as r:
            return json.load(r)
    except OSError:
        return None


class PatroniCluster:
    """etcd and three Patroni nodes under a folder, stopped by stop()."""

    def __init__(self, root):
        self.root = root
        self.bindir = subprocess.check_output(["pg_config", "--bindir"], text=True).strip()
        self.etcd_port = free_port()
        self.nodes = [{"name": f"n{i}", "pg": free_port(), "api": free_port(), "proc": None}
                      for i in range(3)]
        self.etcd = self._start_etcd()

    def _start_etcd(self):
        client, peer = f"http://127.0.0.1:{self.etcd_port}", f"http://127.0.0.1:{free_port()}"
        log = open(self.root / "etcd.log", "w")
        return subprocess.Popen(
            ["etcd", "--name", "e1", "--data-dir", str(self.root / "etcd"),
             "--listen-client-urls", client, "--advertise-client-urls", client,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"e1={peer}"], stdout=log, stderr=subprocess.STDOUT)

    def _config(self, node):
        d = self.root / node["name"]
        d.mkdir(exist_ok=True)
        conf = {
            "scope": "gigavector-test", "name": node["name"],
            "restapi": {"listen": f"127.0.0.1:{node['api']}", "connect_address": f"127.0.0.1:{node['api']}"},
            "etcd3": {"hosts": f"127.0.0.1:{self.etcd_port}"},
            "watchdog": {"mode": "off"},
            "bootstrap": {
                "dcs": {"ttl": 10, "loop_wait": 1, "retry_timeout": 3,
                        "maximum_lag_on_failover": 16 * 1024 * 1024, "synchronous_mode": True,
                        "postgresql": {"use_pg_rewind": True, "parameters": {
                            "wal_log_hints": "on", "max_wal_senders": 10, "max_replication_slots": 10,
                            "wal_keep_size": "256MB"}}},
                "initdb": [{"encoding": "UTF8"}, {"auth": "trust"}],
                "pg_hba": ["local all all trust", "host all all 127.0.0.1/32 trust",
                           "host replication all 127.0.0.1/32 trust"]},
            "postgresql": {
                "listen": f"127.0.0.1:{node['pg']}", "connect_address": f"127.0.0.1:{node['pg']}",
                "data_dir": str(d / "data"), "bin_dir": self.bindir, "pgpass": str(d / "pgpass"),
                "authentication": {"superuser": {"username": "postgres"},
                                   "replication": {"username": "postgres"},
                                   "rewind": {"username": "postgres"}},
                "parameters": {"unix_socket_directories": str(d), "fsync": "off"},
                "remove_data_directory_on_rewind_failure": True,
                "remove_data_directory_on_diverged_timelines": True},
        }
        path = d / "patroni.yml"
        path.write_text(json.dumps(conf))  # YAML is a superset of JSON
        return path

    def start(self, node):
        log = open(self.root / f"{node['name']}.log", "a")
        node["proc"] = subprocess.Popen(["patroni", str(self._config(node))],
                                        stdout=log, stderr=subprocess.STDOUT)

    def members(self):
        for node in self.nodes:
            if node["proc"] is not None and node["proc"].poll() is None:
                body = rest(node["api"])
                if body is not None:
                    return body.get("members", [])
        return []

    def leader(self):
        for m in self.members():
            if m["role"] == "leader" and m["state"] == "running":
                return next(n for n in self.nodes if n["name"] == m["name"])
        return None

    def healthy(self):
        """A leader and two streaming standbys, one of them synchronous."""
        ms = self.members()
        return (len(ms) == 3 and sum(m["role"] == "leader" and m["state"] == "running" for m in ms) == 1
                and sum(m["role"] == "sync_standby" for m in ms) == 1
                and all(m["state"] in ("running", "streaming") for m in ms))

    def kill(self, node):
        """SIGKILL the node's Patroni and its postmaster, as a power cut would."""
        pid_file = self.root / node["name"] / "data" / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0])
        node["proc"].send_signal(signal.SIGKILL)
        node["proc"].wait()
        os.kill(postmaster, signal.SIGKILL)
        node["proc"] = None

    def dsn(self, attrs):
        hosts = ",".join("127.0.0.1" for _ in self.nodes)
        ports = ",".join(str(n["pg"]) for n in self.nodes)
        return (f"host={hosts} port={ports} user=postgres dbname=postgres connect_timeout=2 "
                f"target_session_attrs={attrs}")

    def stop(self):
        for node in self.nodes:
            if node["proc"] is not None:
                node["proc"].terminate()
        for node in self.nodes:
            if node["proc"] is not None:
                try:
                    node["proc"].wait(timeout=30)
                except subprocess.TimeoutExpired:
                    node["proc"].kill()
        self.etcd.terminate()
        self.etcd.wait(timeout=10)


@pytest.fixture()
def patroni(tmp_path):
    cluster = PatroniCluster(tmp_path)
    try:
        for node in cluster.nodes:
            cluster.start(node)
        wait_for("a leader and two standbys", cluster.healthy, timeout=120)
        yield cluster
    except BaseException:
        for name in ["etcd"] + [n["name"] for n in cluster.nodes]:
            log = tmp_path / f"{name}.log"
            if log.exists():
                print(f"--- {log}\n" + log.read_text()[-3000:])
        raise
    finally:
        cluster.stop()


class Writer(threading.Thread):
    """Adds one vector at a time; records which were acknowledged."""

    def __init__(self, db):
        super().__init__(daemon=True)
        self.db, self.acked, self.unknown, self.stop_flag = db, [], [], threading.Event()

    def run(self):
        n = 0
        while not self.stop_flag.is_set():
            n += 1
            try:
                self.db.add_vector([float(n)] * DIM, {"n": n})
                self.acked.append(n)
            except GigaVectorError:
                self.unknown.append(n)
                time.sleep(0.1)


def test_failover_loses_no_acknowledged_write(patroni):
    db = Database.open("failover", DIM, dsn=patroni.dsn("read-write"),
                       read_dsn=patroni.dsn("prefer-standby"), read_retries=20, pool_size=2)
    writer = Writer(db)
    writer.start()
    try:
        for round_ in range(ROUNDS):
            wait_for("writes before the kill", lambda: len(writer.acked) >= 20 * (round_ + 1))
            old = patroni.leader()
            acked_before = len(writer.acked)
            t0 = time.monotonic()
            patroni.kill(old)
            new = wait_for("a new primary", lambda: (lambda n: n if n and n is not old else None)(
                patroni.leader()), timeout=60)
            promoted = time.monotonic() - t0
            wait_for("writes to the new primary", lambda: len(writer.acked) >= acked_before + 20, timeout=60)
            reconnected = time.monotonic() - t0
            print(f"round {round_ + 1}: {old['name']} killed, {new['name']} primary after "
                  f"{promoted:.1f} s, writer acknowledged again after {reconnected:.1f} s")
            assert promoted < 45
            if round_ + 1 < ROUNDS:
                patroni.start(old)  # rejoins as a standby (pg_rewind)
                wait_for("the cluster healed", patroni.healthy, timeout=120)
    finally:
        writer.stop_flag.set()
        writer.join(timeout=30)
    assert len(db.search([1.0] * DIM, 5)) == 5  # reads through read_dsn, retried
    with db.connection() as c:
        stored = {r[0] for r in c.execute(
            "SELECT (metadata->>'n')::int FROM failover").fetchall()}
    lost = [n for n in writer.acked if n not in stored]
    assert lost == [], f"acknowledged writes lost: {lost[:10]}"
    assert len(writer.unknown) < len(writer.acked)
    members = Cluster(patroni.dsn("read-write"), patroni_url=f"http://127.0.0.1:{new['api']}").members()
    assert members[0].role == "leader" and members[0].name == new["name"]
    db.close()
