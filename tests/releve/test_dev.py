"""`releve dev` on embedded defaults: healthy quickly, and Ctrl-C leaves no process behind."""

import os
import re
import signal
import sys
from pathlib import Path

import pytest
import requests

from tests_helpers import Processes, free_port, shared_tmp_dir

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


def processes_using(path: Path) -> list[str]:
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
        # The first admin's password, printed once, opens the admin area.
        password = re.search(r"First admin created: admin@releve\.local / (\S+)",
                             (workdir / "dev.log").read_text()).group(1)
        browser = requests.Session()
        base = f"http://127.0.0.1:{web_port}"
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                          browser.get(f"{base}/connexion", timeout=10).text).group(1)
        signed = browser.post(f"{base}/connexion", data={"email": "admin@releve.local", "password": password,
                                                          "csrf_token": token}, timeout=10, allow_redirects=False)
        assert signed.status_code == 302, (password, re.findall(r"<p class=\"(?:flash|error)[^>]*>[^<]*", signed.text))
        admin = browser.get(f"{base}/admin", timeout=30, allow_redirects=False)
        assert admin.status_code == 200 and "Tableau de bord" in admin.text, (admin.status_code, admin.headers)
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
