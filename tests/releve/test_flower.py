"""`releve flower`: every page behind the basic auth, metrics and health check included; loopback in development."""

import pytest
import requests

from releve.cli import process_commands
from tests_helpers import free_port

pytestmark = pytest.mark.slow

CREDENTIALS = ("admin", "a flower password")


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port` (IPv4 and IPv6), read from /proc."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, _, hex_port = local.partition(":")
                if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    found.add(address)
    return found


def test_dev_flower_needs_the_password_everywhere_and_listens_on_loopback_only(spawn, env_for, wait_until):
    port = free_port()
    argv = process_commands(flower_port=port)["flower"]
    assert argv[-2:] == ["--address", "127.0.0.1"]  # what `releve dev` runs
    flower = spawn(argv[1:], env_for(FLOWER_BASIC_AUTH=":".join(CREDENTIALS)))
    base = f"http://127.0.0.1:{port}"

    def up():
        assert flower.poll() is None, flower.log.read_text()
        try:
            requests.get(f"{base}/healthcheck", timeout=5)
            return True
        except requests.ConnectionError:
            return False

    wait_until(up, timeout=90, interval=0.5)
    for path in ("/metrics", "/healthcheck", "/", "/api/workers"):
        assert requests.get(base + path, timeout=10).status_code == 401, path
        assert requests.get(base + path, auth=("admin", "wrong"), timeout=10).status_code == 401, path
    metrics = requests.get(f"{base}/metrics", auth=CREDENTIALS, timeout=10)
    assert metrics.status_code == 200 and "flower_" in metrics.text
    health = requests.get(f"{base}/healthcheck", auth=CREDENTIALS, timeout=10)
    assert health.status_code == 200 and health.text == "OK"
    assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
