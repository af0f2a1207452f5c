"""Small helpers shared by tests: processes under a guard, Valkey leases, waiting, upstream settings.

tests/ is on the import path (`pythonpath` in pyproject.toml): `from tests_helpers import …`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis

from guard import children_of
from sandbox.testing import free_port

__all__ = ["free_port", "shared_tmp_dir", "with_db", "Processes", "children_of", "survivors", "RUN_MARK",
           "ValkeyDatabases", "guarded", "at_exit", "wait_until", "upstream_env", "empty_public_tables",
           "OwnValkey", "SilentPort"]

GUARD = Path(__file__).with_name("guard.py")
# Every process this test run starts carries this variable (set in pytest_configure, inherited by
# children and grandchildren): at the end of the run, any process still carrying it is a survivor.
RUN_MARK = "PYTEST_RELEVE_RUN"


def with_db(url: str, db: int) -> str:
    """The same Valkey/Redis server, another database."""
    base, _, last = url.rpartition("/")
    return f"{base}/{db}" if last.isdigit() else f"{url.rstrip('/')}/{db}"


def shared_tmp_dir(prefix: str) -> Path:
    """A temp dir other local users can traverse (the embedded PostgreSQL runs as `pgserver`)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def guarded(argv: list[str], grace: float = 15.0) -> list[str]:
    """`argv` run under tests/guard.py: stopped with its whole process group when this process exits."""
    return [sys.executable, str(GUARD), "--parent", str(os.getpid()), "--grace", str(grace), "--", *argv]


def at_exit(argv: list[str]) -> list[str]:
    """A watchdog that runs `argv` once this process has exited (for servers that detach themselves)."""
    return [sys.executable, str(GUARD), "--parent", str(os.getpid()), "--at-exit", "--", *argv]


class Processes:
    """Subprocesses under a guard (tests/guard.py), each in its own process group, stopped by `stop_all()`.

    The guard stops its command's whole group when asked, when this test process exits for
    any reason (SIGKILL included), or when the command exits leaving pool processes behind.
    `proc.pid` is the guard's; `proc.target` is the command's own pid.
    """

    started: list[subprocess.Popen] = []  # every guard of this test run, for the session's last sweep

    def __init__(self, grace: float = 15.0):
        self.releve = str(Path(sys.executable).parent / "releve")
        self.grace = grace
        self.procs: list[subprocess.Popen] = []

    def start(self, args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
        """Start `releve *args`; its output goes to a file (`proc.log`), never to a pipe nobody reads
        (a full pipe blocks the child's next log line, and with it the task it is running)."""
        log = tempfile.NamedTemporaryFile(prefix=f"releve-{args[0]}-", suffix=".log", delete=False)
        log.close()
        return self.run([self.releve, *args], env, Path(log.name), **kwargs)

    def run(self, argv: list[str], env: dict[str, str], log: Path, wrap=None, **kwargs) -> subprocess.Popen:
        """Start any command under a guard (or another `wrap`), its output appended to `log`."""
        env = {**env, RUN_MARK: os.environ.get(RUN_MARK, "")}
        command = wrap(argv) if wrap else guarded(argv, self.grace)
        with log.open("ab") as out:
            proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, **kwargs)
        proc.log = log
        proc.target = _first_child(proc)
        self.procs.append(proc)
        Processes.started.append(proc)
        return proc

    def stop_all(self, keep_logs: bool = False) -> None:
        for proc in self.procs:
            stop(proc, self.grace)
            if not keep_logs:
                proc.log.unlink(missing_ok=True)


def _first_child(guard: subprocess.Popen, timeout: float = 10.0) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = children_of(guard.pid)
        if children:
            return children[0]
        if guard.poll() is not None:
            return None
        time.sleep(0.01)
    return None


def stop(guard: subprocess.Popen, grace: float = 15.0) -> None:
    """Ask a guard to stop its command's group; kill both if it does not finish in time."""
    if guard.poll() is None:
        guard.send_signal(signal.SIGTERM)
        try:
            guard.wait(timeout=grace + 10)
        except subprocess.TimeoutExpired:
            if guard.target:
                _killpg(guard.target, signal.SIGKILL)
            guard.kill()
            guard.wait()


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_every_guard() -> None:
    for proc in Processes.started:
        stop(proc)


def survivors(mark: str, exclude: int) -> dict[int, str]:
    """Live processes (not zombies) whose environment holds RUN_MARK=mark, with their command lines."""
    needle = f"{RUN_MARK}={mark}".encode() + b"\0"
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == exclude:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle not in f.read() + b"\0":
                    continue
            with open(f"/proc/{entry}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                found[int(entry)] = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
    return found


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# Lease: Lua compare-and-delete / compare-and-expire, so a run only ever touches its own leases.
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 0"


class ValkeyDatabases:
    """Databases of one Valkey/Redis server leased to this test run, so that nothing left by another run
    (a worker still attached to its broker, keys of a run that was killed) can touch this one.

    A lease is a key `releve-test:lease:N` in database 0 holding `host:pid:run`, with a TTL renewed
    while the run lives. A database is never leased while any client is connected to it (CLIENT LIST),
    so even an orphaned worker of an earlier run keeps its database to itself.
    """

    TTL = 120
    CANDIDATES = [db for db in range(15, 0, -1) if db != 12]  # 12 is `make bench`'s

    def __init__(self, server_url: str, run_id: str | None = None):
        self.server_url = server_url
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{run_id or uuid.uuid4().hex[:8]}"
        self.client = redis.Redis.from_url(with_db(server_url, 0), socket_timeout=5)
        self.held: list[int] = []
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew, name="valkey-leases", daemon=True)
        self._renewer.start()

    def _key(self, db: int) -> str:
        return f"releve-test:lease:{db}"

    def _stale(self, holder: bytes | None) -> bool:
        if holder is None:
            return True
        host, _, rest = holder.decode().partition(":")
        pid = rest.partition(":")[0]
        return host == socket.gethostname() and pid.isdigit() and not pid_alive(int(pid))

    def lease(self) -> str:
        """A URL on a database of our own, emptied."""
        me = self.client.client_id()
        busy = {int(c["db"]) for c in self.client.client_list() if int(c["id"]) != me}
        for db in self.CANDIDATES:
            if db in busy or db in self.held:
                continue
            key = self._key(db)
            taken = self.client.set(key, self.owner, nx=True, ex=self.TTL)
            if not taken and self._stale(self.client.get(key)):
                with self.client.pipeline() as pipe:  # take over a dead run's lease, unless someone else just did
                    try:
                        pipe.watch(key)
                        if self._stale(pipe.get(key)):
                            pipe.multi()
                            pipe.set(key, self.owner, ex=self.TTL)
                            pipe.execute()
                            taken = True
                    except redis.WatchError:
                        taken = False
            if taken:
                self.held.append(db)
                url = with_db(self.server_url, db)
                with redis.Redis.from_url(url) as c:
                    c.flushdb()
                return url
        raise RuntimeError(f"no free database on {self.server_url} for this test run (busy: {sorted(busy)})")

    def release(self, url: str) -> None:
        db = int(url.rstrip("/").rpartition("/")[2])
        if db in self.held:
            with redis.Redis.from_url(url) as c:
                c.flushdb()
            self.client.eval(_RELEASE, 1, self._key(db), self.owner)
            self.held.remove(db)

    def release_all(self) -> None:
        self._stop.set()
        for db in list(self.held):
            try:
                self.release(with_db(self.server_url, db))
            except redis.RedisError:
                pass
        self.client.close()

    def _renew(self) -> None:
        while not self._stop.wait(self.TTL / 4):
            for db in list(self.held):
                try:
                    self.client.eval(_RENEW, 1, self._key(db), self.owner, self.TTL)
                except redis.RedisError:
                    pass


def deliver_queued_mails(celery_app) -> int:
    """Run the mail task, in this process, for every mail the app queued (a worker's job); how many."""
    from pipeline.queues import MAIL
    from pipeline.tasks import SEND_MAIL

    send_mail = celery_app.tasks[SEND_MAIL]

    delivered = 0
    with celery_app.connection_for_read() as conn:
        channel = conn.default_channel
        while (message := channel.basic_get(MAIL, no_ack=True)) is not None:
            assert message.headers["task"] == send_mail.name
            _args, kwargs, _embed = message.decode()
            send_mail(**kwargs)
            delivered += 1
    return delivered


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2):
    """Poll `predicate` until it returns a truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout:.0f} s")
        time.sleep(interval)


def upstream_env(url: str) -> dict[str, str]:
    """The settings that point Relevé at a sandbox (Enedis and RTE) listening at `url`."""
    return {"ENEDIS_API_URL": url, "RTE_API_URL": url, "RTE_TOKEN_URL": f"{url}/token/oauth/",
            "ENEDIS_CONSENT_URL": f"{url}/dataconnect/v1/oauth2/authorize"}


def empty_public_tables(database_url: str) -> None:
    """Workers fetch RTE's public data when they start: leave no rows to the next tests."""
    from models.db import session_scope
    from models.ecowatt import EcoWattSignal
    from models.national_consumption import NationalConsumption
    from models.tempo import TempoDay

    with session_scope(database_url) as session:
        for model in (TempoDay, EcoWattSignal, NationalConsumption):
            session.query(model).delete()


class SilentPort:
    """A port that accepts connections (and counts them) and never answers a byte."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        try:
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        except OSError:
            pass
        self.server.close()
        for conn in self.accepted:
            conn.close()


# -- servers a test can take down and bring back (tests/pipeline/test_outages.py, bench/outages.py) ----------


class OwnValkey:
    """A Valkey server of the caller's own: its port, its append-only file in `root`; it can be killed
    (SIGKILL, as a crash) and started again on its file, or started again empty.

    Start it from a thread that outlives it: under the guard, a command stops when the thread that
    started it ends (the kernel's parent-death signal follows the thread)."""

    def __init__(self, root: Path, launcher: list[str] | None = None):
        from releve.embedded import EmbeddedValkey

        self.root, self.port, self.launcher = root, free_port(), launcher
        self._make = lambda: EmbeddedValkey(root=self.root, port=self.port, launcher=self.launcher)
        self.server = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        self.server = self._make()
        return self.server.start(timeout=60)

    def pid(self) -> int:
        proc = self.server._proc  # the guard when there is a launcher, else the server itself
        return (children_of(proc.pid) or [proc.pid])[0] if self.launcher else proc.pid

    def kill(self) -> None:
        """SIGKILL the server: no shutdown, no final write (what it acknowledged is in its file)."""
        os.kill(self.pid(), signal.SIGKILL)
        self.server._proc.wait(timeout=30)
        self.server = None

    def wipe(self) -> None:
        """Remove its data: the next start is empty (a server that lost its disk, or runs without persistence)."""
        for path in (self.root / "valkey").iterdir():
            if path.name != "server.log":
                path.unlink() if path.is_file() else __import__("shutil").rmtree(path)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


class OwnPostgres:
    """An embedded PostgreSQL of the caller's own (never the machine's): it can be stopped and started again
    on its data directory. `pg_ctl` stops it whatever `start()`/`stop()` did before (pgserver's own cleanup
    only knows the first postmaster)."""

    def __init__(self, root: Path):
        from releve.embedded import EmbeddedPostgres

        self.pg = EmbeddedPostgres(root=root)
        self.url = ""

    def start(self) -> str:
        self.url = self.pg.start()
        return self.url

    def _pg_ctl(self, *args: str) -> None:
        server = self.pg._server
        argv = [str(server.bin_path / "pg_ctl"), "-D", str(self.pg.pgdata), *args]
        user = server.system_user
        subprocess.run((["runuser", "-u", user, "--"] if user else []) + argv, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)

    def socket_dir(self) -> str:
        return (self.pg.pgdata / "postmaster.pid").read_text().splitlines()[4]

    def stop(self) -> None:
        """Stop the server (fast: sessions are cut, as when the server goes away)."""
        self._socket_dir = self.socket_dir()
        self._pg_ctl("stop", "-m", "fast", "-w")

    def restart(self) -> None:
        self._pg_ctl("start", "-w", "-t", "60", "-o", f'-h "" -k {self._socket_dir}', "-l",
                     str(self.pg.pgdata / "log"))

    def close(self) -> None:
        try:
            self._pg_ctl("stop", "-m", "immediate", "-w")
        except subprocess.CalledProcessError:
            pass  # not running
def queued(valkey: redis.Redis, queue: str = "interactive") -> list[tuple[str, dict]]:
    """(task name, kwargs) of the messages waiting in a broker queue, oldest first."""
    import base64
    import json

    out = []
    for raw in valkey.lrange(queue, 0, -1):
        message = json.loads(raw)
        _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        out.append((message["headers"]["task"], kwargs))
    return out
