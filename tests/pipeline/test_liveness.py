"""A worker's liveness probe (`releve worker-alive`) reads a local file, never the network:
alive while the event loop ticks, alive while the broker is down (restarting cures nothing),
dead only when the loop is stuck."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.liveness import CONNECTING, RUNNING, check
from releve import embedded
from tests_helpers import Processes, free_port, guarded, shared_tmp_dir

RELEVE = str(Path(sys.executable).parent / "releve")


def probe(path: Path, max_age: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([RELEVE, "worker-alive", "--alive-file", str(path), "--max-age", str(max_age)],
                          capture_output=True, text=True, timeout=60)


def test_the_states_the_probe_tells_apart(tmp_path):
    path = tmp_path / "alive"
    assert check(path, 120) == (False, f"no readable alive file at {path}")
    path.write_text(f"{RUNNING} 1000.0\n")
    assert check(path, 120, now=1100.0)[0] is True
    assert check(path, 120, now=1200.0) == (False, "event loop silent for 200 s (more than 120 s)")
    path.write_text(f"{CONNECTING} 1000.0\n")
    assert check(path, 120, now=1000.0 + 86400)[0] is True  # a day-long outage is still no reason to restart
    path.write_text("garbage")
    assert check(path, 120)[0] is False


@pytest.mark.slow
def test_a_real_worker_stays_alive_through_a_broker_outage(env_for, tmp_path, wait_until):
    server = embedded.EmbeddedValkey(root=shared_tmp_dir("releve-liveness-"), port=free_port(), launcher=guarded([]))
    url = server.start()
    alive = tmp_path / "alive"
    processes = Processes()
    try:
        env = env_for(VALKEY_URL=url, CELERY_BROKER_URL=url)
        worker = processes.start(["worker", "--concurrency", "1", "--queues", "default", "--hostname", "probe@%h",
                                  "--alive-file", str(alive)], env)
        wait_until(lambda: alive.exists() and alive.read_text().startswith(RUNNING), timeout=90, interval=0.5)
        assert probe(alive).returncode == 0
        server.stop()  # the broker is gone
        wait_until(lambda: alive.read_text().startswith(CONNECTING), timeout=90, interval=0.5)
        answer = probe(alive, max_age=1)
        assert answer.returncode == 0 and "waiting for the broker" in answer.stdout
        assert worker.poll() is None
        server.start()  # back on the same port: the worker reconnects and ticks again
        wait_until(lambda: alive.read_text().startswith(RUNNING), timeout=90, interval=0.5)
        assert probe(alive).returncode == 0 and worker.poll() is None
    finally:
        processes.stop_all()
        server.stop()
