"""GET /healthz: PostgreSQL, Valkey, broker, a live worker, the last beat heartbeat."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify
from kombu import Connection
from sqlalchemy import text

from models.valkey import BEAT_HEARTBEAT_KEY, get_client
from webapp.db import db

bp = Blueprint("health", __name__)

# Beat ticks at least every 15 s (beat_max_loop_interval); three missed ticks is "down".
BEAT_STALE_AFTER = 60


def _check(fn) -> dict:
    try:
        detail = fn()
        return {"ok": True, **({"detail": detail} if detail else {})}
    except Exception as exc:  # noqa: BLE001 - health reports any failure, it never raises
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


def _postgres():
    db().execute(text("SELECT 1"))


def _valkey():
    get_client(current_app.config["RELEVE_SETTINGS"].valkey_url).ping()


def _broker():
    with Connection(current_app.config["RELEVE_SETTINGS"].celery_broker_url, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def _worker():
    from pipeline import app as celery_app

    replies = celery_app.control.ping(timeout=1.0)
    if not replies:
        raise RuntimeError("no worker answered a ping within 1 s")
    return f"{len(replies)} worker(s)"


def _beat():
    raw = get_client(current_app.config["RELEVE_SETTINGS"].valkey_url).get(BEAT_HEARTBEAT_KEY)
    if raw is None:
        raise RuntimeError("no beat heartbeat recorded")
    age = time.time() - float(raw)
    if age > BEAT_STALE_AFTER:
        raise RuntimeError(f"last beat heartbeat {age:.0f} s ago")
    return f"last tick {age:.0f} s ago"


CHECKS = {"postgres": _postgres, "valkey": _valkey, "broker": _broker, "worker": _worker, "beat": _beat}


@bp.get("/healthz")
def healthz():
    results = {name: _check(fn) for name, fn in CHECKS.items()}
    down = [name for name, r in results.items() if not r["ok"]]
    body = {"status": "ok" if not down else "down", "down": down, "checks": results}
    return jsonify(body), 200 if not down else 503
