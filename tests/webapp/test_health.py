"""GET /healthz reports each dependency and answers 503 naming what is down."""

import pytest

from models.settings import Settings
from models.valkey import BEAT_HEARTBEAT_KEY


def test_down_without_worker_and_beat(client, valkey, celery_app):
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["status"] == "down"
    assert set(body["down"]) == {"worker", "beat"}
    assert body["checks"]["postgres"]["ok"] and body["checks"]["valkey"]["ok"] and body["checks"]["broker"]["ok"]
    assert "no beat heartbeat" in body["checks"]["beat"]["error"]


def test_stale_beat_heartbeat_is_down(client, valkey, celery_app):
    valkey.set(BEAT_HEARTBEAT_KEY, "1000.0")
    body = client.get("/healthz").get_json()
    assert "beat" in body["down"] and "s ago" in body["checks"]["beat"]["error"]


def test_unreachable_valkey_and_broker_are_named(env_for, connection, celery_app):
    from webapp import create_app

    settings = Settings.from_env(env_for(VALKEY_URL="redis://127.0.0.1:1/0"))
    app = create_app({"RELEVE_SETTINGS": settings, "DB_BIND": connection, "TESTING": True})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert {"valkey", "broker", "beat"} <= set(response.get_json()["down"])


@pytest.mark.slow
def test_ok_with_a_real_worker_and_beat(client, valkey, celery_app, env_for, spawn, wait_until):
    env = env_for()
    env["VALKEY_URL"] = celery_app.conf.releve_settings.valkey_url  # same servers as the app
    worker = spawn(["worker", "--concurrency", "1"], env)
    beat = spawn(["beat"], env)

    def healthy():
        assert worker.poll() is None and beat.poll() is None, "worker or beat exited"
        response = client.get("/healthz")
        return response if response.status_code == 200 else None

    body = wait_until(healthy, timeout=60).get_json()
    assert body == {**body, "status": "ok", "down": []}
    assert body["checks"]["worker"]["detail"] == "1 worker(s)"
