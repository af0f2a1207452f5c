"""`releve dev` on embedded defaults: healthy quickly, restarts what exits or dies, and Ctrl-C leaves no
process behind."""

import os
import re
import signal
import sys
from pathlib import Path

import pytest
import redis
import requests

from tests_helpers import Processes, children_of, free_port, shared_tmp_dir

RELEVE = str(Path(sys.executable).parent / "releve")


def descendants(pid: int) -> set[int]:
    """Every process whose parent chain leads to `pid`, read from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def processes_using(path: Path | str) -> list[str]:
    """Command lines that mention `path` (the embedded servers run detached from `releve dev`)."""
    hits = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(path) in cmd:
                hits.append(f"{entry}: {cmd}")
    return hits


@pytest.mark.slow
def test_dev_serves_healthz_and_stops_cleanly(wait_until):
    workdir = shared_tmp_dir("releve-dev-")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "VALKEY_URL", "CELERY_", "RELEVE_", "TEST_", "ENEDIS_", "RTE_"))}
    env.update(RELEVE_VAR_DIR=str(workdir / "var"), RELEVE_EMBEDDED_VALKEY_PORT=str(free_port()),
               HEALTH_TIMEOUT_SECONDS="10")
    web_port, sandbox_port = free_port(), free_port()
    # Output to a file: a pipe read only at the end would fill up and block every child's logging.
    guard = Processes(grace=60).run(
        [RELEVE, "dev", "--port", str(web_port), "--sandbox-port", str(sandbox_port), "--flower-port", str(free_port())],
        env, workdir / "dev.log", cwd=workdir)
    dev = guard.target  # `releve dev` itself; the guard only stands by in case this test dies
    try:
        def healthy():
            assert guard.poll() is None, (workdir / "dev.log").read_text()
            try:
                response = requests.get(f"http://127.0.0.1:{web_port}/healthz", timeout=3)
            except (requests.ConnectionError, requests.Timeout):  # still starting
                return None
            return response if response.status_code == 200 else None

        body = wait_until(healthy, timeout=180, interval=0.5).json()  # a liveness bound, generous on a busy machine
        assert body["status"] == "ok" and body["down"] == []
        # The sandbox's nine test customers count as consented to the development client.
        register = requests.get(f"http://127.0.0.1:{sandbox_port}/_sandbox/consents", timeout=10).json()
        assert "22516914714270" in register["consents"]["releve-dev"] and register["register_all"] is False
        children = descendants(dev)
        assert len(children) >= 5  # sandbox, web, worker, beat, flower (and their own children)
    finally:
        os.kill(dev, signal.SIGINT)  # Ctrl-C, as a person stops `make run`
        guard.wait(timeout=60)
    output = (workdir / "dev.log").read_text()
    assert guard.returncode == 0, output
    assert "First admin created: admin@releve.local / " in output
    assert "Stopped." in output
    left = [pid for pid in children if os.path.exists(f"/proc/{pid}")]
    assert left == [], output
    assert processes_using(workdir) == []  # the embedded PostgreSQL and Valkey stopped too
    assert (workdir / "var" / "master.key").stat().st_mode & 0o777 == 0o600


def child_running(dev: int, word: str) -> int | None:
    """The direct child of `releve dev` whose command line holds `word` (e.g. "worker")."""
    for pid in children_of(dev):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if word.encode() in argv:
            return pid
    return None


def valkey_pid(port: int) -> int:
    """The embedded Valkey on `port` (it names itself `redis-server 127.0.0.1:PORT`; `releve dev` detached it)."""
    pids = [int(line.split(":", 1)[0]) for line in processes_using(f"127.0.0.1:{port}") if "redis-server" in line]
    assert len(pids) == 1, processes_using(f"127.0.0.1:{port}")
    return pids[0]


@pytest.mark.slow
def test_dev_restarts_what_exits_or_dies_and_still_stops_cleanly(wait_until):
    workdir = shared_tmp_dir("releve-dev-restarts-")
    valkey_port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "VALKEY_URL", "CELERY_", "RELEVE_", "TEST_", "ENEDIS_", "RTE_"))}
    env.update(RELEVE_VAR_DIR=str(workdir / "var"), RELEVE_EMBEDDED_VALKEY_PORT=str(valkey_port),
               HEALTH_TIMEOUT_SECONDS="10")
    web_port = free_port()
    log_path = workdir / "dev.log"
    guard = Processes(grace=60).run(
        [RELEVE, "dev", "--port", str(web_port), "--sandbox-port", str(free_port()), "--flower-port", str(free_port())],
        env, log_path, cwd=workdir)
    dev = guard.target

    def log() -> str:
        return log_path.read_text()

    def healthy():
        assert guard.poll() is None, log()
        try:
            response = requests.get(f"http://127.0.0.1:{web_port}/healthz", timeout=15)
        except (requests.ConnectionError, requests.Timeout):
            return False
        return response.status_code == 200

    try:
        wait_until(healthy, timeout=180, interval=0.5)  # a liveness bound, generous on a busy machine
        # A worker and beat killed outright: each is started again, the others run on.
        killed = {name: child_running(dev, name) for name in ("worker", "beat")}
        web = child_running(dev, "web")
        for pid in killed.values():
            os.kill(pid, signal.SIGKILL)
        for name, pid in killed.items():
            wait_until(lambda: (child_running(dev, name) or pid) != pid, timeout=60)
            assert re.search(rf"{name} +\| exited with -9: restarting in 1 s", log())
        assert re.search(r"worker +\| started \(pid \d+, restart 1\)", log())
        assert re.search(r"beat +\| started \(pid \d+, restart 1\)", log())
        assert child_running(dev, "web") == web

        # The embedded Valkey killed outright: started again on its append-only file, data included.
        valkey = redis.Redis(port=valkey_port, socket_timeout=10)
        valkey.set("releve-test:kept", "through the crash")
        aof = workdir / "var" / "valkey" / "appendonly.aof"
        wait_until(lambda: b"releve-test:kept" in aof.read_bytes(), timeout=30)  # fsynced every second
        os.kill(valkey_pid(valkey_port), signal.SIGKILL)
        wait_until(lambda: "valkey   | back after" in log(), timeout=120)
        assert "valkey   | is down: restarting it on its append-only file in " in log()
        assert valkey.get("releve-test:kept") == b"through the crash"
        valkey.close()

        # The embedded PostgreSQL's postmaster killed outright: started again on its data.
        postmaster = int((workdir / "var" / "postgres" / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGKILL)
        wait_until(lambda: "postgres | back after" in log(), timeout=120)
        wait_until(healthy, timeout=180, interval=0.5)
        children = descendants(dev)
    finally:
        os.kill(dev, signal.SIGINT)  # Ctrl-C
        guard.wait(timeout=60)
    output = log()
    assert guard.returncode == 0, output
    assert "stopping everything" not in output and "Stopped." in output
    assert [pid for pid in children if os.path.exists(f"/proc/{pid}")] == [], output
    assert processes_using(workdir) == []  # the restarted embedded servers stopped too
