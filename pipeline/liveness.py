"""A worker's own liveness, for a container probe that must not fight an outage.

The worker writes a small local file (`RELEVE_WORKER_ALIVE_FILE`, set by `releve worker
--alive-file`): "running <time>" from its event loop's timer (WorkerHeartbeat), and
"connecting <time>" while it waits for the broker. `releve worker-alive` reads it:

- running, recent: alive;
- running, stale: the event loop is stuck — restart it;
- connecting: alive however long it lasts — the broker (Valkey) is down, restarting the
  worker cures nothing, and a Kubernetes probe must not restart every pod during an outage.

Nothing here touches the network: the probe works whatever Valkey or PostgreSQL do.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from celery.worker.consumer import Consumer

ALIVE_FILE_ENV = "RELEVE_WORKER_ALIVE_FILE"
RUNNING, CONNECTING = "running", "connecting"


def alive_file() -> Path | None:
    path = os.environ.get(ALIVE_FILE_ENV, "").strip()
    return Path(path) if path else None


def mark(state: str, now: float | None = None) -> None:
    """Record this worker's state in its alive file (if it has one); atomic, never raises."""
    path = alive_file()
    if path is None:
        return
    try:
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(f"{state} {time.time() if now is None else now:.3f}\n")
        tmp.replace(path)
    except OSError:
        pass  # a probe that finds no file says so; the worker itself goes on


def check(path: Path, max_age: float, now: float | None = None) -> tuple[bool, str]:
    """Whether the worker that writes `path` is alive, and why (for the probe's output)."""
    now = time.time() if now is None else now
    try:
        state, stamp = path.read_text().split()
        age = now - float(stamp)
    except (OSError, ValueError):
        return False, f"no readable alive file at {path}"
    if state == CONNECTING:
        return True, f"waiting for the broker for {age:.0f} s"
    if state == RUNNING and age <= max_age:
        return True, f"event loop ticked {age:.0f} s ago"
    return False, f"event loop silent for {age:.0f} s (more than {max_age:.0f} s)"


class ReleveConsumer(Consumer):
    """Celery's consumer, saying "connecting" in the alive file while it waits for the broker."""

    def ensure_connected(self, conn):
        mark(CONNECTING)
        connection = super().ensure_connected(conn)
        mark(RUNNING)
        return connection
