"""Valkey or PostgreSQL out of reach: a French 503 (JSON for the API) with Retry-After, never a 500
nor a hang; pages that need neither keep answering; one log line when an outage begins, one when it ends.

Outages here are real: a Valkey of the test's own killed and started again on its append-only
file, a PostgreSQL port where nothing listens, ports that accept and never answer.
"""

import logging

import psycopg
import pytest
import redis
from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy import exc as sa_exc

from factories import PASSWORD, make_point, make_user
from fixtures.web import csrf_of
from models.settings import Settings
from tests_helpers import SilentPort, free_port
from webapp.outage import Unavailable, component_of

PDL = "22516914714270"
OUTAGE_LOG = "webapp.outage"


def make_app(env_for, connection=None, **overrides):
    """An app on other servers than the test's own (one that is down, one that never answers)."""
    from webapp import create_app

    config = {"RELEVE_SETTINGS": Settings.from_env(env_for(**overrides)), "TESTING": True}
    if connection is not None:
        config["DB_BIND"] = connection
    return create_app(config)


def sign_in(client, email):
    token = csrf_of(client.get("/connexion").get_data(as_text=True))
    response = client.post("/connexion", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


def copy_session(source, target):
    """The browser of `source`, pointed at another app (same SECRET_KEY, so the same cookies hold)."""
    target.set_cookie("session", source.get_cookie("session").value)


def assert_503(response, json: bool, retry_after: str = "30"):
    assert response.status_code == 503
    assert response.headers["Retry-After"] == retry_after
    assert response.headers["Cache-Control"] == "no-store"
    if json:
        body = response.get_json()
        assert body["error"] == "service unavailable" and body["retry_after"] == int(retry_after)
        assert "Rien n'est perdu" in body["message"]
    else:
        html = response.get_data(as_text=True)
        assert response.mimetype == "text/html"
        assert "Service momentanément indisponible" in html and f"Réessayez dans {retry_after} secondes" in html


def outage_lines(caplog, text):
    return [r for r in caplog.records if r.name == OUTAGE_LOG and text in r.getMessage()]


@pytest.fixture
def silent():
    port = SilentPort()
    yield port
    port.close()


def test_valkey_killed_then_back(env_for, connection, session, own_valkey, caplog, wait_until):
    caplog.set_level(logging.INFO, logger=OUTAGE_LOG)
    app = make_app(env_for, connection, VALKEY_URL=own_valkey.url, WEB_RETRY_AFTER_SECONDS="7")
    client = app.test_client()
    make_point(session, make_user(session, "outage@example.org", password=PASSWORD), pdl=PDL, kind="consumption")
    sign_in(client, "outage@example.org")
    assert client.get("/tableau-de-bord/etat.json").status_code == 200

    own_valkey.kill()
    state = client.get("/tableau-de-bord/etat.json")
    assert_503(state, json=True, retry_after="7")
    assert_503(client.get(f"/api/ui/consommation.json?pdl={PDL}"), json=True, retry_after="7")
    page = client.get("/tableau-de-bord")
    assert_503(page, json=False, retry_after="7")
    assert '<meta http-equiv="refresh" content="7">' in page.get_data(as_text=True)  # a GET reloads itself
    # What needs no Valkey answers as usual: home, FAQ, Tempo (PostgreSQL), the liveness probe.
    for path in ("/", "/faq", "/tempo", "/livez"):
        assert client.get(path).status_code == 200, path
    # A form sent while Valkey is down (the login throttle lives there): 503, and no self-reload of a POST.
    other = app.test_client()
    token = csrf_of(other.get("/connexion").get_data(as_text=True))
    refused = other.post("/connexion", data={"email": "x@example.org", "password": PASSWORD, "csrf_token": token})
    assert_503(refused, json=False, retry_after="7")
    assert "http-equiv" not in refused.get_data(as_text=True)
    assert len(outage_lines(caplog, "Valkey out of reach")) == 1  # once, however many requests met it
    assert not [r for r in caplog.records if "incident" in r.getMessage()]

    own_valkey.start()  # on its append-only file; it answers (its data loaded) when start() returns
    # The pooled connections the crash closed are replaced before use: the very next request is served.
    assert client.get("/tableau-de-bord/etat.json").status_code == 200
    wait_until(lambda: outage_lines(caplog, "Valkey reachable again"), timeout=60)
    assert len(outage_lines(caplog, "Valkey out of reach")) == 1


def test_postgres_out_of_reach_serves_visitors_and_answers_503_where_the_account_is_needed(
        env_for, client, signed_in, session, caplog):
    caplog.set_level(logging.INFO, logger=OUTAGE_LOG)
    make_point(session, signed_in(), pdl=PDL, kind="consumption")
    up = client
    down_app = make_app(env_for, DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/releve")
    client = down_app.test_client()
    copy_session(up, client)

    home = client.get("/")
    assert home.status_code == 200
    assert "Se connecter" in home.get_data(as_text=True)  # who is asking cannot be known: served as a visitor
    assert client.get("/faq").status_code == 200
    assert_503(client.get("/tableau-de-bord"), json=False)  # not a login form: the account exists
    assert_503(client.get("/tableau-de-bord/etat.json"), json=True)
    assert_503(client.get(f"/api/ui/consommation.json?pdl={PDL}"), json=True)  # not a 401
    assert_503(client.get("/tempo"), json=False)  # Tempo's calendar is in PostgreSQL
    visitor = down_app.test_client()
    assert visitor.get(f"/api/ui/consommation.json?pdl={PDL}").status_code == 401  # no account asked: no wait
    assert_503(visitor.get("/ecowatt"), json=False)
    assert len(outage_lines(caplog, "PostgreSQL out of reach")) == 1


def test_a_valkey_that_accepts_and_never_answers_is_waited_for_once(env_for, connection, client, signed_in,
                                                                    session, silent):
    make_point(session, signed_in(), pdl=PDL, kind="consumption")
    up = client
    app = make_app(env_for, connection, VALKEY_URL=f"redis://127.0.0.1:{silent.port}/0",
                   WEB_BACKEND_TIMEOUT_SECONDS="0.5")
    app.extensions["releve_outage"].every = 3600  # no probe of the server in the count below
    client = app.test_client()
    copy_session(up, client)
    assert_503(client.get("/tableau-de-bord/etat.json"), json=True)
    # One connection, then the answer (redis-py's own default is 10 retries with backoff, each reconnecting).
    assert len(silent.accepted) == 1


def test_a_postgresql_that_accepts_and_never_answers_is_waited_for_once_per_request(env_for, silent):
    app = make_app(env_for, DATABASE_URL=f"postgresql://postgres@127.0.0.1:{silent.port}/releve",
                   WEB_BACKEND_TIMEOUT_SECONDS="0.5")
    app.extensions["releve_outage"].every = 3600  # no probe of the server in the count below
    client = app.test_client()
    assert_503(client.get("/tempo"), json=False)
    assert len(silent.accepted) == 1
    client.set_cookie("session", "not-even-signed")  # whatever the cookie, the page still answers
    assert client.get("/").status_code == 200


def test_what_is_an_outage_and_what_is_not():
    assert component_of(redis.ConnectionError("refused")) == "valkey"
    assert component_of(redis.BusyLoadingError("loading the dataset in memory")) == "valkey"
    assert component_of(redis.TimeoutError()) == "valkey"
    assert component_of(KombuOperationalError("broker gone")) == "broker"
    assert component_of(Unavailable("postgres")) == "postgres"
    refused = psycopg.OperationalError("connection refused")
    assert component_of(sa_exc.OperationalError("SELECT 1", {}, refused)) == "postgres"
    # Errors of the request itself stay errors (a 500 with an incident reference).
    assert component_of(sa_exc.IntegrityError("INSERT", {}, psycopg.IntegrityError("duplicate"))) is None
    assert component_of(redis.ResponseError("WRONGTYPE")) is None
    assert component_of(ValueError("bug")) is None
