"""/livez says the process runs; /healthz says, quickly, which component is down (details for admins)."""

import socket
import time

import pytest

from models.keys import BEAT_HEARTBEAT_KEY, WORKERS_HEARTBEAT_KEY
from models.settings import Settings
from pipeline.tasks.maintenance import record_worker_heartbeat
from tests_helpers import stop


def app_for(env_for, connection=None, **overrides):
    from webapp import create_app

    config = {"RELEVE_SETTINGS": Settings.from_env(env_for(**overrides)), "TESTING": True}
    if connection is not None:
        config["DB_BIND"] = connection
    return create_app(config)


def alive(valkey, node="worker@test"):
    record_worker_heartbeat(valkey, node)
    valkey.set(BEAT_HEARTBEAT_KEY, f"{time.time():.3f}")


def test_livez_answers_whatever_is_down(env_for):
    app = app_for(env_for, DATABASE_URL="postgresql://postgres@127.0.0.1:1/nope", VALKEY_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/livez")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
    assert "Set-Cookie" not in response.headers


def test_down_without_worker_and_beat_and_no_error_text_for_anyone(client, valkey):
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["status"] == "down"
    assert set(body["down"]) == {"worker", "beat"}
    assert body["checks"] == {"postgres": {"ok": True}, "valkey": {"ok": True}, "broker": {"ok": True},
                              "worker": {"ok": False}, "beat": {"ok": False}}


def test_a_signed_in_user_sees_no_details_either(client, auth, valkey):
    auth.signup()
    body = client.get("/healthz").get_json()
    assert all(set(check) == {"ok"} for check in body["checks"].values())


def test_admins_see_error_texts_and_details(client, auth, session, valkey, signed_in):
    signed_in("root@example.org", roles=("admin",))
    checks = client.get("/healthz").get_json()["checks"]
    assert checks["postgres"] == {"ok": True}
    assert checks["worker"] == {"ok": False, "error": "RuntimeError: no worker heartbeat recorded"}
    assert checks["beat"] == {"ok": False, "error": "RuntimeError: no beat heartbeat recorded"}
    alive(valkey, "worker@a")
    record_worker_heartbeat(valkey, "interactive@b")
    response = client.get("/healthz")
    checks = response.get_json()["checks"]
    assert response.status_code == 200
    assert checks["worker"] == {"ok": True, "detail": "2 worker(s): interactive@b, worker@a"}
    assert checks["beat"]["detail"].startswith("last tick ")


def test_ok_from_fresh_heartbeats_down_from_stale_ones(client, auth, session, valkey, signed_in):
    alive(valkey)
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {
        "status": "ok", "down": [], "checks": {name: {"ok": True} for name in ("postgres", "valkey", "broker",
                                                                              "worker", "beat")}}
    record_worker_heartbeat(valkey, "worker@test", now=time.time() - 120)  # its beats stopped two minutes ago
    valkey.set(BEAT_HEARTBEAT_KEY, "1000.0")
    assert set(client.get("/healthz").get_json()["down"]) == {"worker", "beat"}
    signed_in("root@example.org", roles=("admin",))
    checks = client.get("/healthz").get_json()["checks"]
    assert checks["worker"]["error"].startswith("RuntimeError: last worker heartbeat 1") and " s ago" in checks["worker"]["error"]
    assert "s ago" in checks["beat"]["error"]


def test_worker_heartbeats_forget_long_gone_nodes(valkey):
    record_worker_heartbeat(valkey, "old@host", now=time.time() - 7200)
    record_worker_heartbeat(valkey, "new@host")
    assert valkey.zrange(WORKERS_HEARTBEAT_KEY, 0, -1) == [b"new@host"]
    assert 0 < valkey.ttl(WORKERS_HEARTBEAT_KEY) <= 3600


def test_unreachable_valkey_and_broker_are_named(env_for, connection):
    app = app_for(env_for, connection, VALKEY_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert {"valkey", "broker", "worker", "beat"} == set(response.get_json()["down"])


@pytest.fixture
def silent_port():
    """A port that accepts connections (the kernel completes the handshake) and never answers a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield server.getsockname()[1]
    server.close()


@pytest.mark.parametrize("variable, component", [("VALKEY_URL", "valkey"), ("DATABASE_URL", "postgres")])
def test_a_server_that_never_answers_is_down_and_healthz_still_answers(env_for, valkey, silent_port, variable,
                                                                       component):
    scheme = "redis" if variable == "VALKEY_URL" else "postgresql"
    app = app_for(env_for, HEALTH_TIMEOUT_SECONDS="1", **{variable: f"{scheme}://postgres@127.0.0.1:{silent_port}/0"})
    alive(valkey)
    response = app.test_client().get("/healthz")
    body = response.get_json()
    assert response.status_code == 503 and body["status"] == "down"
    assert component in body["down"]
    if component == "postgres":
        assert body["down"] == ["postgres"]  # the others answered on their own
    else:
        assert set(body["down"]) == {"valkey", "broker", "worker", "beat"}  # all read from that server


def test_readyz_needs_postgres_and_valkey_only(client, valkey):
    # No worker, no beat: /healthz says down, but this web process can serve (a readiness probe).
    assert client.get("/healthz").status_code == 503
    response = client.get("/readyz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok", "down": []}


@pytest.mark.parametrize("variable, component", [("VALKEY_URL", "valkey"), ("DATABASE_URL", "postgres")])
def test_readyz_is_down_when_a_server_it_needs_never_answers(env_for, silent_port, variable, component):
    scheme = "redis" if variable == "VALKEY_URL" else "postgresql"
    app = app_for(env_for, HEALTH_TIMEOUT_SECONDS="1", **{variable: f"{scheme}://postgres@127.0.0.1:{silent_port}/0"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503 and response.get_json() == {"status": "down", "down": [component]}


@pytest.mark.slow
def test_ok_with_a_real_worker_and_beat_and_a_stopped_worker_leaves(client, auth, session, valkey, celery_app,
                                                                     env_for, spawn, wait_until, signed_in):
    env = env_for()
    env["VALKEY_URL"] = celery_app.conf.releve_settings.valkey_url  # same servers as the app
    worker = spawn(["worker", "--concurrency", "1", "--hostname", "health@%h"], env)
    beat = spawn(["beat"], env)
    signed_in("root@example.org", roles=("admin",))

    def healthy():
        assert worker.poll() is None and beat.poll() is None, "worker or beat exited"
        response = client.get("/healthz")
        return response if response.status_code == 200 else None

    body = wait_until(healthy, timeout=180).get_json()
    assert body == {**body, "status": "ok", "down": []}
    assert body["checks"]["worker"]["detail"] == f"1 worker(s): health@{socket.gethostname()}"
    stop(worker)  # a worker that stops cleanly leaves the heartbeat set at once
    body = client.get("/healthz").get_json()
    assert body["down"] == ["worker"]
    assert body["checks"]["worker"]["error"] == "RuntimeError: no worker heartbeat recorded"
