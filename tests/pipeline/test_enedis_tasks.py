"""Enedis tasks hold no database transaction while upstream answers (run in-process against the sandbox)."""

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, text

from factories import made_up_pdl
from pipeline import tasks

TAG = "releve-task-under-test"  # application_name of the task's own connections


@pytest.fixture(scope="module")
def sandbox_config():
    return {"REGISTER_ALL": True}


@pytest.fixture
def settings_env(database_url):
    """The task's own connections carry a name, so PostgreSQL can tell what they are doing."""
    separator = "&" if "?" in database_url else "?"
    return {"DATABASE_URL": f"{database_url}{separator}application_name={TAG}"}


@pytest.fixture
def held_upstream(settings, celery_app, sandbox, accounts, database_url, valkey, wait_until):
    """Run a task in a thread while the sandbox holds its first Enedis data call; `during()` looks at PostgreSQL then."""
    (point,) = accounts.points([made_up_pdl("96")], kind="consumption")
    watcher = create_engine(database_url)

    def run(name: str, **kwargs):
        fault = sandbox.state.add_fault("slow", api="enedis", calls=1, delay=3, path="/metering_data_dc")
        outcome = {}
        thread = threading.Thread(target=lambda: outcome.update(
            result=celery_app.tasks[name].apply(kwargs={"point_id": point.id, **kwargs}).get()))
        thread.start()
        wait_until(lambda: fault.calls == 0, timeout=30, interval=0.05)  # the call is in flight, held
        with watcher.connect() as conn:
            states = list(conn.scalars(text("SELECT state FROM pg_stat_activity WHERE application_name = :tag"),
                                       {"tag": TAG}))
        thread.join(timeout=60)
        return states, outcome["result"]

    yield run
    watcher.dispose()


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


def test_fetch_customer_caches_the_contract_and_the_address_that_are_missing(settings, celery_app, sandbox, accounts,
                                                                            valkey):
    from models.cache import EncryptedCache
    from models.keys import ADDRESS, CONTRACT

    (point,) = accounts.points([made_up_pdl("96")], kind="consumption")
    store = EncryptedCache.from_settings(valkey, settings)
    result = celery_app.tasks[tasks.FETCH_CUSTOMER].apply(kwargs={"point_id": point.id}).get()
    assert result["contract"]["status"] == "ok" and result["address"]["status"] == "ok"
    assert store.get(point.user_id, CONTRACT, point=point.id)["usage_point_id"] == point.pdl
    assert store.get(point.user_id, ADDRESS, point=point.id)["usage_point_id"] == point.pdl
    again = celery_app.tasks[tasks.FETCH_CUSTOMER].apply(kwargs={"point_id": point.id}).get()
    assert again == {"contract": {"status": "cached"}}  # both cached: nothing asked of Enedis
