"""Shared fixtures: real PostgreSQL (built by the migrations) and real Valkey/Redis.

Where they come from, in order: TEST_DATABASE_URL / TEST_VALKEY_URL; else the servers on
127.0.0.1 (5432, 6379) when they answer (TEST_EMBEDDED=1 skips them); else the embedded
servers `make run` uses.

Each run has servers' space of its own: a database named after its pid on PostgreSQL,
leased databases on Valkey (`tests_helpers.ValkeyDatabases`), so nothing another run left
behind can touch it. No process it starts outlives it: they run under `tests/guard.py`,
and at the end any process still carrying this run's mark is killed and fails the run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from models.settings import Settings, normalise_database_url
from releve import embedded

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for `tests_helpers`
from process_guard import pytest_configure, pytest_sessionfinish  # noqa: E402,F401 - this run's process hooks
from tests_helpers import (  # noqa: E402
    OwnValkey, Processes, ValkeyDatabases, at_exit, free_port, guarded, pid_alive, shared_tmp_dir,
)

TEST_DB_PREFIX = "releve_test_"
LOCAL_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
LOCAL_VALKEY = "redis://127.0.0.1:6379/0"


def _pg_reachable(url: str) -> bool:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 2})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not usable here"
        return False


@pytest.fixture(scope="session")
def database_url():
    """A migrated, empty database for this test session, dropped at its end."""
    from models.db import dispose_engines
    from releve.cli import prepare_database

    if os.environ.get("TEST_DATABASE_URL"):
        url = normalise_database_url(os.environ["TEST_DATABASE_URL"])
        engine = create_engine(url)
        with engine.begin() as conn:  # start from nothing: the migrations build the schema
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
        prepare_database(url)
        yield url
        dispose_engines()
        return

    pg = None
    if not os.environ.get("TEST_EMBEDDED") and _pg_reachable(LOCAL_PG):
        server_url = LOCAL_PG
    else:
        pg = embedded.EmbeddedPostgres(root=shared_tmp_dir("releve-pg-"))
        server_url = pg.start().replace(f"/{pg.database}?", "/postgres?")
        # PostgreSQL detaches itself: should this session be killed outright, a watchdog stops it.
        Processes().run(pg.stop_argv(), dict(os.environ), pg.pgdata.parent / "watchdog.log", wrap=at_exit)
    name = f"{TEST_DB_PREFIX}{os.getpid()}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        _drop_stale_databases(conn)
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    prepare_database(url)  # as `releve db upgrade` does
    yield url
    dispose_engines()  # pools opened by apps and tasks under test
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()
    if pg:
        pg.stop()


def _drop_stale_databases(conn) -> None:
    """Databases of earlier runs whose pytest process is gone (a run killed before its teardown)."""
    names = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": f"{TEST_DB_PREFIX}%"})
    for (name,) in names.all():
        pid = name.removeprefix(TEST_DB_PREFIX)
        if pid.isdigit() and not pid_alive(int(pid)):
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="session")
def engine(database_url):
    eng = create_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine):
    """A connection inside a transaction that is rolled back after the test."""
    conn = engine.connect()
    trans = conn.begin()
    yield conn
    trans.rollback()
    conn.close()


@pytest.fixture
def session(connection):
    """An ORM session whose commits become savepoints of the test's transaction."""
    with Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False) as s:
        yield s


@pytest.fixture(scope="session")
def valkey_databases():
    """Databases of a Valkey server leased to this run (`.lease()` gives one more, emptied)."""
    server = None
    if os.environ.get("TEST_VALKEY_URL"):
        server_url = os.environ["TEST_VALKEY_URL"]
    else:
        try:
            if os.environ.get("TEST_EMBEDDED"):
                raise redis.ConnectionError("embedded servers asked for")
            redis.Redis.from_url(LOCAL_VALKEY, socket_connect_timeout=1).ping()
            server_url = LOCAL_VALKEY
        except redis.RedisError:
            server = embedded.EmbeddedValkey(root=shared_tmp_dir("releve-valkey-"), port=free_port(),
                                             launcher=guarded([]))
            server_url = server.start()
    databases = ValkeyDatabases(server_url)
    yield databases
    databases.release_all()
    if server:
        server.stop()


@pytest.fixture(scope="session")
def valkey_url(valkey_databases):
    """This run's main Valkey database (emptied before each test by the `valkey` fixture)."""
    return valkey_databases.lease()


@pytest.fixture
def valkey(valkey_url):
    """A client on an emptied test database."""
    client = redis.Redis.from_url(valkey_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def own_valkey():
    """A Valkey of the test's own (own port, own append-only file) it may kill and start again."""
    server = OwnValkey()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def env_for(database_url, valkey_url):
    """Build an environment dict for a process talking to the test servers."""

    def build(**overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "RELEVE_", "ENEDIS_", "RTE_"))}
        env.update(
            RELEVE_ENV="test",
            DATABASE_URL=database_url,
            VALKEY_URL=valkey_url,
            RELEVE_MASTER_KEY=embedded.new_master_key(),
            SECRET_KEY="test-secret-key-" + "x" * 32,
            # Health checks give up after 1 s in production; a test machine may be far busier than a server.
            HEALTH_TIMEOUT_SECONDS="10",
        )
        env.update(overrides)
        return env

    return build


@pytest.fixture
def settings(env_for):
    return Settings.from_env(env_for())


@pytest.fixture
def app(settings, connection):
    from webapp import create_app

    app = create_app({"RELEVE_SETTINGS": settings, "DB_BIND": connection, "TESTING": True})
    yield app
    app.extensions["celery"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def celery_app(settings):
    """A Celery app built from the test's settings, as the web app and the CLI build theirs."""
    from pipeline.celery_app import create_celery

    celery = create_celery(settings)
    yield celery
    celery.close()


@pytest.fixture
def spawn(database_url):
    """Start `releve …` subprocesses (real processes); all are stopped after the test."""
    processes = Processes()
    yield processes.start
    processes.stop_all()
    empty_public_tables(database_url)


def empty_public_tables(database_url: str) -> None:
    """Workers fetch RTE's public data when they start: leave no rows to the next tests."""
    from models.db import session_scope
    from models.ecowatt import EcoWattSignal
    from models.national_consumption import NationalConsumption
    from models.tempo import TempoDay

    with session_scope(database_url) as session:
        for model in (TempoDay, EcoWattSignal, NationalConsumption):
            session.query(model).delete()


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2):
    """Poll `predicate` until it returns a truthy value; fail after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout:.0f} s")
        time.sleep(interval)


@pytest.fixture(name="wait_until")
def wait_until_fixture():
    return wait_until
