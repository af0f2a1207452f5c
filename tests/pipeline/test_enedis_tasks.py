"""Enedis tasks hold no database transaction while upstream answers (run in-process against the sandbox)."""

import random
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, delete, text

from models.db import session_scope
from models.settings import Settings
from models.usage_points import UsagePoint
from models.users import User
from pipeline import tasks
from pipeline.celery_app import create_celery
from sandbox.testing import running_sandbox

TAG = "releve-task-under-test"  # application_name of the task's own connections


@pytest.fixture
def held_upstream(env_for, database_url, valkey, wait_until):
    """Run a task in a thread while the sandbox holds its first Enedis data call; `during()` looks at PostgreSQL then."""
    with running_sandbox({"REGISTER_ALL": True}) as sandbox:
        separator = "&" if "?" in database_url else "?"
        settings = Settings.from_env(env_for(DATABASE_URL=f"{database_url}{separator}application_name={TAG}",
                                             ENEDIS_API_URL=sandbox.url, RTE_API_URL=sandbox.url,
                                             RTE_TOKEN_URL=f"{sandbox.url}/token/oauth/"))
        celery = create_celery(settings)
        with session_scope(database_url) as session:
            user = User(email=f"held-{random.getrandbits(40):x}@example.org", password_hash="-")
            session.add(user)
            session.flush()
            point = UsagePoint(pdl=f"96{random.randrange(10**12):012d}", user_id=user.id, kind="consumption")
            session.add(point)
            session.flush()
            user_id, point_id = user.id, point.id
        watcher = create_engine(database_url)

        def run(name: str, **kwargs):
            fault = sandbox.state.add_fault("slow", api="enedis", calls=1, delay=3, path="/metering_data_dc")
            outcome = {}
            thread = threading.Thread(target=lambda: outcome.update(
                result=celery.tasks[name].apply(kwargs={"point_id": point_id, **kwargs}).get()))
            thread.start()
            wait_until(lambda: fault.calls == 0, timeout=30, interval=0.05)  # the call is in flight, held
            with watcher.connect() as conn:
                states = list(conn.scalars(text("SELECT state FROM pg_stat_activity WHERE application_name = :tag"),
                                           {"tag": TAG}))
            thread.join(timeout=60)
            return states, outcome["result"]

        try:
            yield run
        finally:
            watcher.dispose()
            celery.close()
            with session_scope(database_url) as session:
                session.execute(delete(User).where(User.id == user_id))


def test_fetch_window_holds_no_transaction_while_enedis_answers(held_upstream):
    end = date.today() - timedelta(days=5)
    states, result = held_upstream(tasks.FETCH_WINDOW, series="daily_consumption",
                                   start=(end - timedelta(days=3)).isoformat(), end=end.isoformat())
    assert result["status"] == "ok"
    assert "idle in transaction" not in states and "active" not in states, states


def test_onboarding_holds_no_transaction_while_enedis_answers(held_upstream):
    states, result = held_upstream(tasks.ONBOARD)
    assert result["status"] == "ok" and result["kind"] == "consumption"
    assert "idle in transaction" not in states and "active" not in states, states
