"""A real `releve web` (gunicorn) asked to stop finishes the requests in flight, then exits."""

import os
import signal
import socket
import threading

import pytest
import requests

from tests_helpers import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def silent():
    """Accepts connections, never answers: a request that checks this "Valkey" takes its time."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(30)
    yield server
    server.close()


def test_a_request_in_flight_is_answered_before_the_web_process_exits(spawn, env_for, wait_until, silent):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = env_for(VALKEY_URL=f"redis://127.0.0.1:{silent.getsockname()[1]}/0", HEALTH_TIMEOUT_SECONDS="3")
    web = spawn(["web", "--bind", f"127.0.0.1:{port}", "--workers", "1"], env)

    def up():
        assert web.poll() is None, web.log.read_text()
        try:
            return requests.get(f"{base}/livez", timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(up, timeout=60, interval=0.3)
    answer = {}
    slow = threading.Thread(target=lambda: answer.update(response=requests.get(f"{base}/readyz", timeout=60)))
    slow.start()
    held, _ = silent.accept()  # /readyz is being served: it waits for the silent "Valkey" until its timeout
    os.kill(web.target, signal.SIGTERM)  # what Kubernetes sends once preStop is over
    slow.join(timeout=60)
    assert answer["response"].status_code == 503 and answer["response"].json()["down"] == ["valkey"]
    wait_until(lambda: web.poll() is not None, timeout=60, interval=0.2)
    held.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/livez", timeout=5)
