"""One transaction per request, committed by the app; tasks are sent only once it commits."""

import json

import pytest
from flask import abort
from sqlalchemy import select

from models.audit import AuditLog
from pipeline import queues, tasks
from pipeline.celery_app import enqueue
from webapp.db import db
from webapp.extensions import celery


def queued_mails(valkey) -> list[str]:
    return [json.loads(raw)["headers"]["task"] for raw in valkey.lrange(queues.MAIL, 0, -1)]


@pytest.fixture
def route(app, valkey):
    """Add a view that writes a row, enqueues a mail, notes what the broker held meanwhile, then ends as told."""
    seen = {}

    def view(how: str):
        db().add(AuditLog(action="test.transaction", target=how, details={}))
        enqueue(celery(), tasks.SEND_MAIL, dict(to="zoe@example.org", subject="essai", body="."), session=db())
        db().flush()
        seen[how] = len(queued_mails(valkey))
        if how == "raise":
            raise RuntimeError("boom")
        if how == "500":
            abort(500)
        return ("refused", 409) if how == "409" else "ok"

    app.add_url_rule("/_test/<how>", view_func=view)
    return seen


def rows(session, how: str) -> int:
    return len(list(session.scalars(select(AuditLog).where(AuditLog.action == "test.transaction",
                                                           AuditLog.target == how))))


@pytest.mark.parametrize("how, status", [("ok", 200), ("409", 409)])
def test_an_answer_below_500_commits_then_sends(client, session, valkey, route, how, status):
    assert client.get(f"/_test/{how}").status_code == status
    assert route[how] == 0  # nothing was sent while the transaction was open
    assert rows(session, how) == 1 and queued_mails(valkey) == [tasks.SEND_MAIL]


def test_a_server_error_rolls_back_and_sends_nothing(client, session, valkey, route):
    assert client.get("/_test/500").status_code == 500
    assert rows(session, "500") == 0 and queued_mails(valkey) == []


def test_an_escaping_exception_rolls_back_and_sends_nothing(client, session, valkey, route):
    with pytest.raises(RuntimeError):  # TESTING propagates it; in production it is the 500 page above
        client.get("/_test/raise")
    assert rows(session, "raise") == 0 and queued_mails(valkey) == []


def test_no_view_module_commits():
    from pathlib import Path

    webapp = Path(__file__).resolve().parents[2] / "webapp"
    offenders = [str(p) for p in webapp.rglob("*.py") if ".commit()" in p.read_text()]
    assert offenders == []
