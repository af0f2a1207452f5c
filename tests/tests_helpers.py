"""Small helpers shared by tests (importable because tests/ is on sys.path via conftest)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sandbox.testing import free_port

__all__ = ["free_port", "shared_tmp_dir", "with_db", "Processes", "children_of"]


def with_db(url: str, db: int) -> str:
    """The same Valkey/Redis server, another database (workers' brokers survive other tests' flushes)."""
    base, _, last = url.rpartition("/")
    return f"{base}/{db}" if last.isdigit() else f"{url.rstrip('/')}/{db}"


def shared_tmp_dir(prefix: str) -> Path:
    """A temp dir other local users can traverse (the embedded PostgreSQL runs as `pgserver`)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


class Processes:
    """`releve …` subprocesses in their own process groups, all stopped by `stop_all()`."""

    def __init__(self):
        import subprocess
        import sys

        self._subprocess = subprocess
        self.releve = str(Path(sys.executable).parent / "releve")
        self.procs = []

    def start(self, args: list[str], env: dict[str, str], **kwargs):
        """Start `releve *args`; its output goes to a file (`proc.log`), never to a pipe nobody reads
        (a full pipe blocks the child's next log line, and with it the task it is running)."""
        import tempfile

        log = tempfile.NamedTemporaryFile(prefix=f"releve-{args[0]}-", suffix=".log", delete=False)
        proc = self._subprocess.Popen([self.releve, *args], env=env, stdout=log, stderr=self._subprocess.STDOUT,
                                      start_new_session=True, **kwargs)
        log.close()
        proc.log = Path(log.name)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        import os
        import signal

        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except self._subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            proc.log.unlink(missing_ok=True)


def children_of(pid: int) -> list[int]:
    """Direct children of a process (Linux)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []
