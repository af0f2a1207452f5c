"""The request's database session: one transaction per request, ended by the app, not by views.

Views never commit. Once a view has answered, the transaction is committed, unless the
answer is a server error (5xx) or an exception escaped, then it is rolled back. Client
errors (4xx) commit too: they are refusals the app records (an audit row, a consent state
spent, a failed attempt counted); a view that must undo its writes on a refusal rolls back
before answering. What waits for the rows to be there (tasks to send, cached data to drop)
is handed to `models.db.after_commit(db(), …)` or `enqueue(…, session=db())` and runs right
after the commit.
"""

from __future__ import annotations

from flask import Flask, current_app, g, request
from flask_login import current_user
from sqlalchemy.orm import Session

from models.audit import AuditLog
from models.db import commit, session_factory
from models.settings import Settings
from webapp import outage


def db() -> Session:
    return current_app.extensions["releve_db"]()


def audit(action: str, target: str = "", actor_id: int | None = None, **details) -> None:
    """Record who did what to what, from which address, in the request's session."""
    db().add(AuditLog(actor_id=current_user.id if actor_id is None else actor_id, action=action, target=target,
                      ip_address=request.remote_addr or None, details=details))


def init_app(app: Flask, settings: Settings) -> None:
    """One session per request, opened on first use; DB_BIND (tests) joins a connection's transaction."""
    bind = app.config.get("DB_BIND")  # a test connection inside a transaction: commits become savepoints
    make_session = None
    if bind is None:  # the web's connections give up quickly on a server that is down (webapp/outage.py)
        timeout = settings.web_backend_timeout_seconds
        make_session = session_factory(settings.database_url, **outage.pg_engine_options(timeout))
        outage.Deadlines(timeout + 1).watch(make_session.kw["bind"])

    def db_session() -> Session:
        if outage.known_down("postgres"):
            raise outage.Unavailable("postgres")  # this request already met the outage: no second wait
        if "db" not in g:
            if bind is not None:
                g.db = Session(bind=bind, join_transaction_mode="create_savepoint", expire_on_commit=False)
            else:
                g.db = make_session()
        return g.db

    app.extensions["releve_db"] = db_session
    app.after_request(_end_transaction)
    app.teardown_appcontext(_close)


def commit_despite_5xx() -> None:
    """This request's server-error status is an answer, not a failure: commit anyway. MyElectricalData's
    v1 answers a miss 503 + Retry-After, and the fetch it enqueued must still be sent (webapp/med/v1.py)."""
    g.db_commit_despite_5xx = True


def _end_transaction(response):
    session = g.get("db")
    if session is None or g.get("db_ended"):
        return response
    g.db_ended = True  # once: should the commit fail, the error page's answer comes back here
    if response.status_code >= 500 and not g.get("db_commit_despite_5xx"):
        session.rollback()
    else:
        commit(session)
    return response


def _close(exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()
