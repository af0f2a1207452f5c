"""Valkey, the broker or PostgreSQL out of reach: the web waits the outage out, quickly and quietly.

- The web's own connections give up after WEB_BACKEND_TIMEOUT_SECONDS: Valkey and the broker
  to connect and for each answer; PostgreSQL to connect, and (TCP keepalives and
  `tcp_user_timeout`) on a server that vanished mid-request. No request waits on a backoff.
- A request that meets an outage answers 503 with `Retry-After` (WEB_RETRY_AFTER_SECONDS): a
  French page that reloads itself, or JSON for `/api/…` and `….json` routes. Pages that need
  neither server (home, FAQ, `/livez`, static files) keep answering; `/healthz` has its own
  checks. When PostgreSQL cannot say who a signed-in person is, pages that need nobody serve
  them as a visitor, and pages that need the account answer 503 (not a login form).
- Each process logs an outage once when it begins and once when it ends (a probe checks the
  server every PROBE_EVERY seconds while it is down), never a line or a traceback per request.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

import psycopg
import redis
from flask import Flask, current_app, g, jsonify, render_template, request
from kombu.exceptions import OperationalError as KombuOperationalError
from markupsafe import escape
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc

from models import valkey
from models.db import fail_fast_connect_args
from models.settings import Settings

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)  # "back again" is worth a line even where the root logger says WARNING

PROBE_EVERY = 2.0  # seconds between two probes of a server that is down

LABELS = {"postgres": "PostgreSQL", "valkey": "Valkey", "broker": "the broker"}
TITLE = "Service momentanément indisponible"
MESSAGE = ("Relevé ne peut pas répondre pour le moment : un de ses services redémarre ou est en maintenance. "
           "Rien n'est perdu.")
# SQLSTATEs of a server that is stopping, starting or gone (class 08: connection exceptions).
PG_UNAVAILABLE = {"57P01", "57P02", "57P03"}
BARE_PAGE = ('<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{title} · Relevé</title></head>'
             "<body><h1>{title}</h1><p>{message}</p><p>Réessayez dans {retry_after} secondes.</p></body></html>")


class Unavailable(Exception):
    """A request cannot go on because `component` is out of reach (raised where no client error is)."""

    def __init__(self, component: str, reason: str = ""):
        super().__init__(reason or f"{LABELS.get(component, component)} is out of reach")
        self.component = component


def _postgres_down(error: BaseException) -> bool:
    if not isinstance(error, psycopg.OperationalError):
        return False
    state = error.sqlstate
    return state is None or state.startswith("08") or state in PG_UNAVAILABLE


def component_of(error: BaseException | None) -> str | None:
    """Which server `error` says is out of reach ("postgres", "valkey", "broker"), or None when it is
    not an outage (a deadlock, a bug, a bad query stay errors of their own)."""
    if isinstance(error, Unavailable):
        return error.component
    if isinstance(error, (redis.ConnectionError, redis.TimeoutError)):  # BusyLoadingError: restarting
        return "valkey"
    if isinstance(error, KombuOperationalError):
        return "broker"
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection came back in time
        return "postgres"
    if isinstance(error, sa_exc.DBAPIError) and (error.connection_invalidated or _postgres_down(error.orig)):
        return "postgres"
    if _postgres_down(error):
        return "postgres"
    return None


def _describe(error: BaseException) -> str:
    """The error's type and first line: connection errors name a host and a cause, never request data."""
    inner = getattr(error, "orig", None) or error
    text = (str(inner).strip().splitlines() or [""])[0][:200]
    return f"{type(inner).__name__}: {text}" if text else type(inner).__name__


class Watch:
    """What this process knows to be down; logs each change once and probes until it is back."""

    def __init__(self, probes: dict[str, Callable[[], object]], logger: logging.Logger = log,
                 every: float = PROBE_EVERY):
        self.probes = probes
        self.logger = logger
        self.every = every
        self._down: dict[str, float] = {}
        self._lock = threading.Lock()

    def down(self) -> set[str]:
        with self._lock:
            return set(self._down)

    def report(self, component: str, error: BaseException) -> None:
        with self._lock:
            if component in self._down:
                return
            self._down[component] = time.monotonic()
        self.logger.warning("%s out of reach (%s): what needs it answers 503 until it is back",
                            LABELS.get(component, component), _describe(error))
        threading.Thread(target=self._until_back, args=(component,), name=f"outage-{component}", daemon=True).start()

    def _until_back(self, component: str) -> None:
        probe = self.probes.get(component)
        while True:
            time.sleep(self.every)
            try:
                if probe is not None:
                    probe()
            except Exception:  # noqa: BLE001 - still down: probe again later, silently
                continue
            with self._lock:
                since = self._down.pop(component)
            self.logger.warning("%s reachable again after %.0f s", LABELS.get(component, component),
                                time.monotonic() - since)
            return


def watch() -> Watch:
    return current_app.extensions["releve_outage"]


def note(component: str, error: BaseException) -> None:
    """This request met an outage of `component`: remember it for the rest of the request, log it once."""
    g.setdefault("releve_down", set()).add(component)
    watch().report(component, error)


def known_down(component: str) -> bool:
    """Whether this request already met an outage of `component` (no second wait on it)."""
    return component in g.get("releve_down", ())


def identity_unknown() -> bool:
    """Whether the signed-in person could not be looked up because PostgreSQL is out of reach."""
    return bool(g.get("releve_identity_unknown"))


def person_unknown(error: BaseException) -> None:
    """The user loader met an outage: this request goes on as a visitor's, unless it needs the account."""
    g.releve_identity_unknown = True
    note(component_of(error) or "postgres", error)


def wants_json() -> bool:
    return (request.path.startswith("/api/") or request.path.endswith(".json")
            or request.accept_mimetypes.best == "application/json")


def unavailable_response(component: str | None = None):
    """503 with Retry-After: JSON for the API, else a French page that reloads itself (GET only)."""
    settings: Settings = current_app.config["RELEVE_SETTINGS"]
    retry_after = settings.web_retry_after_seconds
    session = g.get("db")
    if session is not None:
        try:
            session.rollback()
        except Exception:  # noqa: BLE001 - the connection is gone with its server: nothing to undo there
            pass
    from webapp import json_errors

    if (api := json_errors.answer(503, {"Retry-After": str(retry_after)})) is not None:
        response = api
    elif wants_json():
        response = jsonify(error="service unavailable", message=MESSAGE, retry_after=retry_after)
    else:
        try:
            # A page of its own: base.html asks who is signed in, which needs PostgreSQL.
            html = render_template("unavailable.html", title=TITLE, message=MESSAGE, retry_after=retry_after,
                                   reload=request.method == "GET")
        except Exception:  # noqa: BLE001 - the answer must not depend on anything that may be down
            html = BARE_PAGE.format(title=TITLE, message=escape(MESSAGE), retry_after=retry_after)
        response = current_app.response_class(html, mimetype="text/html")
    response.status_code = 503
    response.headers["Retry-After"] = str(retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response


def _handle(error: Exception):
    component = component_of(error)
    if component is None:
        raise error  # not an outage: Flask's own handling (logged incident, 500 page)
    note(component, error)
    return unavailable_response(component)


class Deadlines:
    """Cuts the connection of a PostgreSQL that has not answered a statement in time.

    The server cancels a slow statement itself (`statement_timeout`); a server that cannot (its
    processes stopped, its socket still open: it accepts and never answers) would hold the request
    and its thread for as long as it stays so, and with every thread held `/healthz` itself would
    wait. A second later than the server's own limit, this shuts the connection's socket down: the
    driver sees the connection closed, SQLAlchemy drops it, the request answers 503.
    """

    def __init__(self, seconds: float, every: float = 0.1):
        self.seconds = seconds
        self.every = every
        self._armed: dict[int, tuple[float, object]] = {}
        self._cut: set[int] = set()  # connections cut since their last check
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def arm(self, dbapi_connection) -> None:
        with self._lock:
            self._armed[id(dbapi_connection)] = (time.monotonic() + self.seconds, dbapi_connection)
            if self._thread is None or self._pid != os.getpid():  # one watcher per process, after fork
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._watch, name="pg-deadlines", daemon=True)
                self._thread.start()

    def disarm(self, dbapi_connection) -> None:
        with self._lock:
            self._armed.pop(id(dbapi_connection), None)

    def _watch(self) -> None:
        while True:
            time.sleep(self.every)
            now = time.monotonic()
            with self._lock:
                late = [key for key, (deadline, _conn) in self._armed.items() if deadline <= now]
                late = [self._armed.pop(key)[1] for key in late]
                self._cut.update(id(conn) for conn in late)
            for conn in late:
                self.cut(conn)

    def was_cut(self, dbapi_connection) -> bool:
        """Whether this connection was cut for want of an answer (and forget it)."""
        with self._lock:
            if id(dbapi_connection) in self._cut:
                self._cut.discard(id(dbapi_connection))
                return True
            return False

    @staticmethod
    def cut(dbapi_connection) -> None:
        try:
            sock = socket.socket(fileno=os.dup(dbapi_connection.fileno()))
        except (OSError, ValueError, psycopg.Error):  # already closed
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes the thread waiting on it, which sees the connection closed
        except OSError:
            pass
        finally:
            sock.close()

    def watch(self, engine) -> None:
        """Bound every statement, commit, rollback and checkout ping of `engine`'s connections."""
        if getattr(engine, "releve_deadlines", None) is not None:
            return
        engine.releve_deadlines = self

        def arm(conn, *_args):
            self.arm(conn.connection.dbapi_connection)

        def disarm(conn, *_args):
            self.disarm(conn.connection.dbapi_connection)

        def ping(dbapi_connection, _record, _proxy):
            # SQLAlchemy's own pre-ping has no deadline: the same, under one. A stale connection (the
            # server restarted) is dropped and the pool connects afresh, once; a server that did not
            # answer in time is not asked again by this request.
            self.arm(dbapi_connection)
            try:
                with dbapi_connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
            except Exception as exc:
                if self.was_cut(dbapi_connection):
                    raise Unavailable("postgres", f"no answer within {self.seconds:g} s") from exc
                raise sa_exc.DisconnectionError() from exc
            finally:
                self.disarm(dbapi_connection)

        def reset(dbapi_connection, *_args):
            self.arm(dbapi_connection)

        def checkin(dbapi_connection, _record):
            if dbapi_connection is not None:
                self.disarm(dbapi_connection)
                self.was_cut(dbapi_connection)  # forgotten: ids are reused

        # A failed statement stays armed until the connection goes back to the pool (checkin).
        for name, fn in (("before_cursor_execute", arm), ("after_cursor_execute", disarm), ("commit", arm),
                         ("rollback", arm)):
            sa_event.listen(engine, name, fn)
        for name, fn in (("checkout", ping), ("reset", reset), ("checkin", checkin)):
            sa_event.listen(engine.pool, name, fn)


def pg_engine_options(timeout: float) -> dict:
    """The web's engine: libpq timeouts, the server's own statement limit, and a ping under a deadline."""
    connect_args = {**fail_fast_connect_args(timeout), "options": f"-c statement_timeout={round(timeout * 1000)}"}
    return {"connect_args": connect_args, "pool_pre_ping": False}


def fail_fast_celery(celery, timeout: float) -> None:
    """The web's Celery app only sends: it gives up on a broker that is down after about `timeout`
    seconds, and keeps no result connection (it never reads a result)."""
    conf = celery.conf
    conf.update(
        result_backend=None,
        broker_connection_timeout=timeout,
        broker_transport_options={**conf.broker_transport_options, "socket_timeout": timeout,
                                  "socket_connect_timeout": timeout},
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2},
    )


def init_app(app: Flask, settings: Settings) -> None:
    """Fail fast on every connection of this process; 503 on outages; one log line per change."""
    from webapp.health import CHECKS

    timeout = settings.web_backend_timeout_seconds
    valkey.fail_fast(timeout)
    fail_fast_celery(app.extensions["celery"], timeout)
    app.logger  # noqa: B018 - installs Flask's handler on the "webapp" logger, which this module's logs reach
    app.extensions["releve_outage"] = Watch({name: (lambda fn=CHECKS[name]: fn(settings))
                                             for name in ("postgres", "valkey", "broker")})
    for cls in (redis.ConnectionError, redis.TimeoutError, KombuOperationalError, sa_exc.DBAPIError,
                sa_exc.TimeoutError, psycopg.OperationalError, Unavailable):
        app.register_error_handler(cls, _handle)
