"""Engines: errors never carry the values bound to a statement (they end up in logs and tracebacks)."""

import ast
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DataError

from models.db import get_engine, session_scope

ROOT = Path(__file__).resolve().parent.parent.parent
APP_CODE = ("models", "pipeline", "webapp", "releve", "migrations", "sandbox")


def test_an_error_does_not_quote_its_parameters(database_url):
    assert get_engine(database_url).hide_parameters
    with pytest.raises(DataError) as raised, session_scope(database_url) as session:
        # Refused by psycopg itself (NUL): PostgreSQL's own messages may quote a value, this one does not.
        session.execute(text("SELECT :value"), {"value": "$argon2id$secret-hash-value\x00"})
    message = str(raised.value)
    assert "secret-hash-value" not in message and "parameters hidden" in message


def test_every_engine_the_app_creates_hides_parameters():
    calls = []
    for package in APP_CODE:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "create_engine":
                    hidden = any(k.arg == "hide_parameters" and getattr(k.value, "value", None) is True
                                 for k in node.keywords)
                    calls.append((f"{path.relative_to(ROOT)}:{node.lineno}", hidden))
    assert len(calls) >= 3  # models/db.py, releve/cli.py, migrations/env.py
    assert [where for where, hidden in calls if not hidden] == []


def test_after_commit_work_runs_after_the_commit_in_order_and_never_after_a_rollback(database_url):
    from models.db import after_commit
    from models.users import Role

    ran = []
    with session_scope(database_url) as session:
        after_commit(session, lambda: ran.append(("first", session.in_transaction())))
        after_commit(session, lambda: ran.append(("second", session.in_transaction())))
        session.scalar(select(Role.id).limit(1))
        assert ran == []
    assert ran == [("first", False), ("second", False)]

    ran.clear()
    with pytest.raises(ZeroDivisionError), session_scope(database_url) as session:
        after_commit(session, lambda: ran.append("never"))
        1 / 0
    with session_scope(database_url) as session:  # an explicit rollback forgets it too
        after_commit(session, lambda: ran.append("never"))
        session.rollback()
    assert ran == []


def test_after_commit_work_on_a_savepoint_session(session):
    """The tests' sessions (and the web app's under DB_BIND) commit savepoints: the work runs all the same."""
    from models.db import after_commit, commit

    ran = []
    after_commit(session, lambda: ran.append(1))
    commit(session)
    after_commit(session, lambda: ran.append(2))
    session.rollback()
    commit(session)
    assert ran == [1]
