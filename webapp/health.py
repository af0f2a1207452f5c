"""GET /livez (the process runs) and GET /healthz (each component, answered quickly).

/healthz runs its checks concurrently, each with its own short timeout
(`HEALTH_TIMEOUT_SECONDS`, 1 s by default), and answers within 2.5 times that whatever hangs:
a component that has not answered by then is down. Workers and beat
are read from the heartbeats they write to Valkey; nothing on the request path asks the
workers anything through the broker. Anyone sees each component's ok/down and the overall
status; error texts and details are for administrators only.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

from flask import Blueprint, jsonify
from flask_login import current_user
from kombu import Connection
from sqlalchemy import Engine, text

from models.db import fail_fast_connect_args, get_engine
from models.keys import BEAT_HEARTBEAT_KEY, WORKERS_HEARTBEAT_KEY
from models.settings import Settings
from models.valkey import get_quick_client
from webapp import extensions

bp = Blueprint("health", __name__)

DEADLINE_FACTOR = 2.5  # /healthz answers within this many check timeouts, calling down what has not answered
# Beat ticks at least every 15 s (beat_max_loop_interval), a worker beats every 10 s:
# several missed beats is "down".
BEAT_STALE_AFTER = 60
WORKER_STALE_AFTER = 60


def _pg_engine(url: str, timeout: float) -> Engine:
    # One connection at most per process: a flood of probes never becomes a flood of connections,
    # and a server that hangs holds one thread, not one per request. psycopg waits at least 2 s to
    # connect; keepalives end the wait of a thread whose server vanished.
    return get_engine(url, pool_size=1, max_overflow=0, pool_timeout=timeout,
                      connect_args={**fail_fast_connect_args(timeout),
                                    "options": f"-c statement_timeout={round(timeout * 1000)}"})


def _postgres(settings: Settings):
    with _pg_engine(settings.database_url, settings.health_timeout_seconds).connect() as conn:
        conn.execute(text("SELECT 1"))


def _valkey(settings: Settings):
    _quick(settings, settings.valkey_url).ping()


def _quick(settings: Settings, url: str):
    return get_quick_client(url, timeout=settings.health_timeout_seconds)


def _broker(settings: Settings):
    url = settings.celery_broker_url
    if urlsplit(url).scheme in ("redis", "rediss"):
        _quick(settings, url).ping()
        return
    timeout = settings.health_timeout_seconds
    with Connection(url, connect_timeout=timeout) as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)


def _worker(settings: Settings):
    now = time.time()
    client = _quick(settings, settings.valkey_url)
    alive = client.zrangebyscore(WORKERS_HEARTBEAT_KEY, now - WORKER_STALE_AFTER, "+inf")
    if not alive:
        last = client.zrange(WORKERS_HEARTBEAT_KEY, -1, -1, withscores=True)
        if not last:
            raise RuntimeError("no worker heartbeat recorded")
        raise RuntimeError(f"last worker heartbeat {now - last[0][1]:.0f} s ago")
    return f"{len(alive)} worker(s): " + ", ".join(sorted(node.decode() for node in alive))


def _beat(settings: Settings):
    raw = _quick(settings, settings.valkey_url).get(BEAT_HEARTBEAT_KEY)
    if raw is None:
        raise RuntimeError("no beat heartbeat recorded")
    age = time.time() - float(raw)
    if age > BEAT_STALE_AFTER:
        raise RuntimeError(f"last beat heartbeat {age:.0f} s ago")
    return f"last tick {age:.0f} s ago"


CHECKS = {"postgres": _postgres, "valkey": _valkey, "broker": _broker, "worker": _worker, "beat": _beat}


def _check(fn, settings: Settings) -> dict:
    try:
        detail = fn(settings)
        return {"ok": True, **({"detail": detail} if detail else {})}
    except Exception as exc:  # noqa: BLE001 - health reports any failure, it never raises
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


def run_checks(settings: Settings, names: tuple[str, ...] = tuple(CHECKS)) -> dict[str, dict]:
    """These checks (every one by default) at once; what has not answered by the deadline is down."""
    checks = {name: CHECKS[name] for name in names}
    results: dict[str, dict] = {}

    def run(name, fn):
        results[name] = _check(fn, settings)

    # Daemon threads: one stuck on a server that never answers ends with its own timeout, and
    # never holds up the process's exit.
    threads = [threading.Thread(target=run, args=item, name=f"healthz-{item[0]}", daemon=True)
               for item in checks.items()]
    for thread in threads:
        thread.start()
    limit = DEADLINE_FACTOR * settings.health_timeout_seconds
    deadline = time.monotonic() + limit
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return {name: results.get(name) or {"ok": False, "error": f"no answer within {limit:g} s"} for name in checks}


def _is_admin() -> bool:
    try:
        return bool(current_user.is_authenticated and any(role.name == "admin" for role in current_user.roles))
    except Exception:  # noqa: BLE001 - whoever cannot be identified is not an administrator
        return False


@bp.get("/livez")
def livez():
    """The process runs and answers: nothing else is looked at."""
    return jsonify(status="ok")


# What this process needs to serve requests; workers and beat are not its concern.
READINESS = ("postgres", "valkey")


@bp.get("/readyz")
def readyz():
    """Whether this web process can serve: PostgreSQL and Valkey answer (a Kubernetes readiness probe).

    Never a liveness probe: during an outage every pod is unready, and restarting them cures nothing.
    """
    down = [name for name, r in run_checks(extensions.settings(), READINESS).items() if not r["ok"]]
    return jsonify(status="ok" if not down else "down", down=down), 200 if not down else 503


@bp.get("/healthz")
def healthz():
    results = run_checks(extensions.settings())
    down = [name for name, r in results.items() if not r["ok"]]
    # Who asks is looked up only when PostgreSQL answers (the user loader reads it).
    if not (results["postgres"]["ok"] and _is_admin()):
        results = {name: {"ok": r["ok"]} for name, r in results.items()}
    body = {"status": "ok" if not down else "down", "down": down, "checks": results}
    return jsonify(body), 200 if not down else 503
