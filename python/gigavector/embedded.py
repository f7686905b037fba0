"""The embedded PostgreSQL server behind ``Database.open`` without a DSN.

A data directory is a folder the package owns::

    vectors.db/
        gigavector.json   marker: what this folder is
        .lock             flock held while a process starts, attaches to or stops the server
        .clients          every process using the server holds a shared flock on it
        pgdata/           the cluster (initdb), owned by the server's user
        run/              the server's Unix socket (or a short folder under /tmp when the
                          path is too long for a socket name)
        server.log

The server listens on a private Unix socket only (``listen_addresses = ''``,
socket folder mode 0700, trust authentication), so no TCP port is opened and
only its owner (and root) can connect.

Sharing: the first process to open a path starts the server; a second process
finds it running (``pgdata/postmaster.pid``) and connects to it.  Each process
holds a shared lock on ``.clients`` while it uses the server; the process that
closes last (it can take that lock exclusively) stops the server.  Locks die
with their process, so a process killed with SIGKILL leaves a running server
that the next open attaches to; if the server itself was killed, the next open
starts it again and PostgreSQL replays its WAL.

Root: initdb and postgres refuse to run as root.  When the calling process is
root the server runs as the unprivileged ``postgres`` user (or the one named by
``GIGAVECTOR_SERVER_USER``); the data directory is made theirs, and every
parent directory of it must be searchable by that user.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from typing import Any

import psycopg

from .errors import GigaVectorError

_FORMAT = 1
_PORT = 5432  # names the socket file only; no TCP listener exists
_SOCKET_NAME_MAX = 100  # sun_path holds 107 bytes; keep a margin


def _bindir() -> str:
    """Where initdb and postgres live: $GIGAVECTOR_PG_BINDIR, pg_config, or PG 15's default."""
    env = os.environ.get("GIGAVECTOR_PG_BINDIR")
    if env:
        return env
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                 check=True, timeout=30).stdout.strip()
            if os.path.exists(os.path.join(out, "initdb")):
                return out
        except (OSError, subprocess.SubprocessError):
            pass
    return "/usr/lib/postgresql/15/bin"


def _server_user() -> pwd.struct_passwd | None:
    """The user the server runs as when we are root; None when we are not."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("GIGAVECTOR_SERVER_USER", "postgres")
    try:
        user = pwd.getpwnam(name)
    except KeyError:
        raise GigaVectorError(
            f"running as root, the embedded server must run as an unprivileged user "
            f"(initdb refuses root), but user {name!r} does not exist: create it, "
            f"set GIGAVECTOR_SERVER_USER, or pass dsn= to use a server of your own") from None
    if user.pw_uid == 0:
        raise GigaVectorError("GIGAVECTOR_SERVER_USER must not be root (initdb refuses root)")
    return user


def _pid_alive(pid: int) -> bool:
    """True for a running process (a killed one not yet reaped, a zombie, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _live_processes_in(folder: str) -> bool:
    """Whether a live process has folder as its working directory (server processes do)."""
    real = os.path.realpath(folder)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/cwd") == real and _pid_alive(int(entry)):
                return True
        except OSError:
            continue
    return False


def _read_pidfile(pgdata: str) -> tuple[int, str, int] | None:
    """(pid, socket folder, port) from postmaster.pid, if present and well formed."""
    try:
        with open(os.path.join(pgdata, "postmaster.pid")) as f:
            lines = f.read().splitlines()
        return int(lines[0]), lines[4], int(lines[3])
    except (OSError, ValueError, IndexError):
        return None


def _lock_fd(path: str) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:  # created by another user (e.g. root): reading suffices for flock
        return os.open(path, os.O_RDONLY)


class EmbeddedServer:
    """One private PostgreSQL server: throwaway (path None) or persistent (a folder)."""

    def __init__(self, path: str | None):
        self.path = os.path.abspath(path) if path is not None else None
        self.bindir = _bindir()
        self.user = _server_user()
        self.refs = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._clients_fd: int | None = None
        if self.path is None:
            self.base = tempfile.mkdtemp(prefix="gigavector-")
            self._chown(self.base)
            os.chmod(self.base, 0o700)
        else:
            self.base = self.path
        self.pgdata = os.path.join(self.base, "pgdata")
        self.sockdir = self._socket_dir()
        self.log = os.path.join(self.base, "server.log")
        try:
            if self.path is None:
                self._initdb(sync=False)
                self._start(throwaway=True)
            else:
                self._attach()
        except BaseException:
            if self.path is None:
                self._stop()
                shutil.rmtree(self.base, ignore_errors=True)
            raise

    # -- helpers ----------------------------------------------------------

    def conninfo(self) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.sockdir, port=str(_PORT), user="postgres", dbname="postgres",
            application_name="gigavector")

    def _chown(self, path: str) -> None:
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def _socket_dir(self) -> str:
        near = os.path.join(self.base, "run")
        if len(near) + len(f"/.s.PGSQL.{_PORT}") <= _SOCKET_NAME_MAX:
            return near
        digest = hashlib.sha1(self.base.encode()).hexdigest()[:16]
        return os.path.join(tempfile.gettempdir(), f"gigavector-{os.geteuid()}-{digest}")

    def _make_socket_dir(self) -> None:
        try:
            os.mkdir(self.sockdir, 0o700)
        except FileExistsError:
            st = os.lstat(self.sockdir)
            want = self.user.pw_uid if self.user is not None else os.geteuid()
            if not os.path.isdir(self.sockdir) or os.path.islink(self.sockdir) or st.st_uid != want:
                raise GigaVectorError(f"socket folder {self.sockdir} exists and is not ours") from None
            return
        self._chown(self.sockdir)

    def _run_as_server(self, argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        if self.user is not None:
            kw.update(user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[])
        return subprocess.run(argv, capture_output=True, text=True, cwd=self.base, **kw)

    def _initdb(self, sync: bool) -> None:
        argv = [os.path.join(self.bindir, "initdb"), "-D", self.pgdata, "-U", "postgres",
                "-A", "trust", "-E", "UTF8", "--locale=C", "--no-instructions"]
        if not sync:
            argv.append("--no-sync")
        try:
            res = self._run_as_server(argv)
        except OSError as e:
            raise GigaVectorError(f"cannot run initdb from {self.bindir}: {e}; install "
                                  f"postgresql-15 or set GIGAVECTOR_PG_BINDIR") from None
        if res.returncode != 0:
            hint = ""
            if self.user is not None:
                hint = (f" (the server runs as user {self.user.pw_name} because initdb refuses "
                        f"root; that user needs search permission on every parent folder of "
                        f"{self.base})")
            raise GigaVectorError(f"initdb failed{hint}:\n{res.stdout}{res.stderr}")

    # -- persistent: attach to a running server or start one -----------------

    def _attach(self) -> None:
        assert self.path is not None
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise GigaVectorError(f"{self.path} is a file, not a gigavector data folder")
        created = not os.path.exists(self.path)
        os.makedirs(self.path, exist_ok=True)
        marker = os.path.join(self.path, "gigavector.json")
        try:
            self._attach_locked(marker)
        except BaseException:
            if created and not os.path.exists(marker):  # leave no half-made folder behind
                shutil.rmtree(self.path, ignore_errors=True)
            raise

    def _attach_locked(self, marker: str) -> None:
        assert self.path is not None
        lock = _lock_fd(os.path.join(self.path, ".lock"))
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not os.path.exists(marker):
                if os.path.exists(self.pgdata) or [n for n in os.listdir(self.path)
                                                   if n not in (".lock",)]:
                    raise GigaVectorError(f"{self.path} exists and is not a gigavector data folder")
                self._chown(self.path)
                self._initdb(sync=True)
                with open(marker + ".tmp", "w") as f:
                    json.dump({"format": _FORMAT, "server": "postgresql",
                               "pgdata": "pgdata"}, f)
                    f.write("\n")
                os.replace(marker + ".tmp", marker)
            else:
                with open(marker) as f:
                    if json.load(f).get("format") != _FORMAT:
                        raise GigaVectorError(f"{self.path}: unknown gigavector data folder format")
            if not self._running_server_ready():
                self._start(throwaway=False)
            self._clients_fd = _lock_fd(os.path.join(self.path, ".clients"))
            fcntl.flock(self._clients_fd, fcntl.LOCK_SH)
        finally:
            os.close(lock)

    def _running_server_ready(self) -> bool:
        """True when a live postmaster owns pgdata and accepts connections."""
        info = _read_pidfile(self.pgdata)
        if info is None or not _pid_alive(info[0]):
            return False
        self.sockdir = info[1]
        try:
            self._wait_ready(pid=info[0])
        except GigaVectorError:
            if _pid_alive(info[0]):
                raise
            return False  # it was going away (killed, or stopping): start a new one
        return True

    def _clear_stale_pidfile(self) -> None:
        """Remove postmaster.pid of a dead server once none of its processes remain.

        PostgreSQL removes a stale lock file itself, except when the dead
        postmaster is a zombie nobody reaps (a container whose PID 1 does not
        wait): kill(pid, 0) then still succeeds and it refuses to start."""
        info = _read_pidfile(self.pgdata)
        if info is None or _pid_alive(info[0]):
            return
        deadline = time.monotonic() + 60
        while _live_processes_in(self.pgdata) and time.monotonic() < deadline:
            time.sleep(0.1)  # old backends exit when they notice the postmaster is gone
        if _live_processes_in(self.pgdata):
            return
        stale = [os.path.join(self.pgdata, "postmaster.pid")]
        for folder in {info[1], self.sockdir}:
            sock = os.path.join(folder, f".s.PGSQL.{info[2]}")
            try:
                with open(sock + ".lock") as f:
                    if int(f.readline()) == info[0]:  # the dead server's socket
                        stale += [sock + ".lock", sock]
            except (OSError, ValueError):
                pass
        for name in stale:
            try:
                os.unlink(name)
            except OSError:
                pass

    def _start(self, throwaway: bool) -> None:
        self._make_socket_dir()
        self._clear_stale_pidfile()
        argv = [os.path.join(self.bindir, "postgres"), "-D", self.pgdata, "-k", self.sockdir,
                "-p", str(_PORT), "-c", "listen_addresses=", "-c", "unix_socket_permissions=0700",
                "-c", "max_connections=64",
                # the TTL worker (gigavector.ttl_cleanup_interval) runs only when preloaded
                "-c", "shared_preload_libraries=gigavector"]
        if throwaway:
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off",
                     "-c", "full_page_writes=off"]
        kw: dict[str, Any] = {}
        if self.user is not None:
            kw.update(user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[])
        if throwaway and _prctl is not None and threading.current_thread() is threading.main_thread():
            # (the signal is sent when the creating *thread* ends, hence main thread only)
            kw["preexec_fn"] = _die_with_parent
        for attempt in range(20):
            with open(self.log, "ab") as log:
                self._chown(self.log)
                self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                              stderr=subprocess.STDOUT, cwd=self.base,
                                              start_new_session=True, **kw)
            try:
                self._wait_ready(proc=self._proc)
                return
            except GigaVectorError:
                # After a crash, backends of the dead server may hold its shared memory
                # for a moment; they exit when they notice the postmaster is gone.
                if attempt == 19 or "pre-existing shared memory" not in self._log_tail():
                    raise
                time.sleep(0.5)

    def _wait_ready(self, proc: subprocess.Popen[bytes] | None = None, pid: int | None = None) -> None:
        """Wait until the server accepts connections (crash recovery may take a while)."""
        deadline = time.monotonic() + float(os.environ.get("GIGAVECTOR_START_TIMEOUT", "300"))
        last: Exception | None = None
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise GigaVectorError(f"the embedded server exited at start:\n{self._log_tail()}")
            if pid is not None and not _pid_alive(pid):
                raise GigaVectorError(f"the embedded server (pid {pid}) went away:\n{self._log_tail()}")
            try:
                with psycopg.connect(self.conninfo(), connect_timeout=5, autocommit=True) as c:
                    c.execute("SELECT 1")
                return
            except psycopg.Error as e:
                last = e
                time.sleep(0.05)
        raise GigaVectorError(f"the embedded server did not become ready: {last}\n{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            with open(self.log, "rb") as f:
                return f.read()[-3000:].decode(errors="replace")
        except OSError:
            return "(no server log)"

    def _stop(self, immediate: bool = False) -> None:
        info = _read_pidfile(self.pgdata)
        pid = info[0] if info else (self._proc.pid if self._proc else None)
        if pid is None or not _pid_alive(pid):
            return
        try:
            os.kill(pid, signal.SIGQUIT if immediate else signal.SIGINT)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.pid == pid:
                if self._proc.poll() is not None:
                    return
            elif not _pid_alive(pid):
                return
            time.sleep(0.02)

    def close(self) -> None:
        """Detach; stop the server when no other process uses it; remove a throwaway one."""
        if self.path is None:
            self._stop(immediate=True)
            shutil.rmtree(self.base, ignore_errors=True)
            return
        lock = _lock_fd(os.path.join(self.path, ".lock"))
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self._clients_fd is not None:
                os.close(self._clients_fd)
                self._clients_fd = None
            probe = _lock_fd(os.path.join(self.path, ".clients"))
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
            else:  # nobody else attached: stop the server (fast shutdown, a checkpoint)
                self._stop()
            finally:
                os.close(probe)
        finally:
            os.close(lock)
        if self._proc is not None:
            self._proc.poll()  # reap our child if it has exited


try:  # resolved here, not in the child: a forked child must not import
    import ctypes
    _prctl: Any = ctypes.CDLL(None, use_errno=True).prctl
except (ImportError, OSError, AttributeError):  # not Linux: a throwaway server outlives a killed parent
    _prctl = None


def _die_with_parent() -> None:
    """In the child before exec: a throwaway server stops when its creator dies."""
    if _prctl is not None:
        _prctl(1, int(signal.SIGQUIT), 0, 0, 0)  # PR_SET_PDEATHSIG


# One EmbeddedServer per data folder per process, shared by every Database on it.
_registry: dict[str | None, EmbeddedServer] = {}
_registry_lock = threading.Lock()


def acquire(path: str | None) -> EmbeddedServer:
    """A server for path (a new throwaway one when path is None)."""
    with _registry_lock:
        key = os.path.abspath(path) if path is not None else None
        server = _registry.get(key) if key is not None else None
        if server is None:
            server = EmbeddedServer(path)
            if key is not None:
                _registry[key] = server
        server.refs += 1
        return server


def release(server: EmbeddedServer) -> None:
    with _registry_lock:
        server.refs -= 1
        if server.refs > 0:
            return
        if server.path is not None:
            _registry.pop(server.path, None)
        server.close()
