"""Hostile input is a 4xx, never a 500: huge ids, control characters, NUL bytes, races, and a fuzz of every route."""

from __future__ import annotations

import logging
import re
import sys
import threading
from html.parser import HTMLParser
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from flask import got_request_exception
from werkzeug.datastructures import ImmutableMultiDict
from sqlalchemy import create_engine, delete, func, select, text

from models.api_clients import ApiClient
from models.settings import Settings
from models.usage_points import UsagePoint
from models.users import User

PASSWORD = "correct horse battery"


def csrf(client, url: str = "/tableau-de-bord") -> str:
    page = client.get(url).get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


# -- the four 500s of the probe ----------------------------------------------------------------


@pytest.mark.parametrize("pk", ["99999999999999999999", "2147483648", "9" * 5000, "١٢٣", "１"])
@pytest.mark.parametrize("action", ["revoquer", "regenerer"])
def test_an_id_out_of_range_or_not_ascii_is_a_404(client, auth, pk, action):
    auth.signup()
    response = client.post(f"/parametres/api/{quote(pk)}/{action}", data={"csrf_token": csrf(client)})
    assert response.status_code == 404


def test_ids_in_range_still_work(client, auth, session):
    auth.signup()
    client.post("/parametres/api", data={"name": "HA", "csrf_token": csrf(client)})
    [api_client] = session.scalars(select(ApiClient))
    response = client.post(f"/parametres/api/{api_client.id}/revoquer", data={"csrf_token": csrf(client)})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(ApiClient, api_client.id).revoked_at is not None


@pytest.mark.parametrize("target", ["/%0D%0ASet-Cookie:x=1", "/%0ASet-Cookie:x=1", "/tableau-de-bord%00",
                                    "/%09/evil.example", "/%7F", "/%C2%85x", "/" + "a" * 5000])
def test_a_next_with_control_characters_is_a_bad_next(client, auth, target):
    auth.signup()
    response = client.get(f"/connexion?next={target}")  # logged in already: straight to `next`
    assert response.status_code == 302 and response.headers["Location"] == "/tableau-de-bord"
    auth.logout()
    response = auth.login(next_url=target)
    assert response.status_code == 302 and response.headers["Location"] == "/tableau-de-bord"
    assert not any(h.startswith("x=") for h in response.headers.getlist("Set-Cookie"))


def test_a_plain_next_still_leads_there(client, auth):
    auth.signup()
    auth.logout()
    assert auth.login(next_url="/consommation?jour=2026-01-01").headers["Location"] == "/consommation?jour=2026-01-01"


@pytest.mark.parametrize("name", ["Home\x00Assistant", "\x1b[31mrouge", "ligne\r\nautre", "\x7f", "Home\u0085"])
def test_a_client_name_with_control_characters_is_a_form_error(client, auth, session, name):
    auth.signup()
    response = client.post("/parametres/api", data={"name": name, "csrf_token": csrf(client)})
    assert response.status_code == 400
    assert "caractères non autorisés" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(ApiClient)) == 0


def test_a_nul_byte_in_any_text_field_is_refused_before_the_database(client, auth):
    page = auth.post_form("/inscription", {"email": "alice@example.org", "password": "a\x00" * 6, "confirm": "a\x00" * 6})
    assert page.status_code == 200 and "caractères non autorisés" in page.get_data(as_text=True)


def shape(response) -> tuple:
    """What a person sees of an answer: status, where it leads, the messages on the page."""
    messages = re.findall(r'<p class="(?:error|flash[^"]*)"[^>]*>([^<]*)</p>', response.get_data(as_text=True))
    return response.status_code, response.headers.get("Location"), messages


def test_two_simultaneous_signups_with_one_email_end_as_an_existing_email(database_url, env_for, outbox, valkey,
                                                                        celery_app, wait_until, caplog):
    """Both requests pass the "is the address free?" check, then race to insert (a real race, on real
    connections): the loser answers exactly as for an address already taken, not with a 500."""
    from webapp import create_app

    email = "race@example.org"
    settings = Settings.from_env(env_for(MAIL_OUTBOX_DIR=str(outbox)))
    app = create_app({"RELEVE_SETTINGS": settings, "TESTING": True})
    engine = create_engine(database_url)
    results: list = []

    def sign_up(client, token):
        results.append(client.post("/inscription", data={"email": email, "password": PASSWORD, "confirm": PASSWORD,
                                                         "csrf_token": token}))

    clients = [app.test_client() for _ in range(2)]
    tokens = [csrf(c, "/inscription") for c in clients]
    try:
        with engine.connect() as blocker:
            # SELECTs pass this lock, INSERTs wait: both sign-ups get past the check, then meet at the insert.
            blocker.execute(text("LOCK TABLE users IN SHARE MODE"))
            threads = [threading.Thread(target=sign_up, args=pair) for pair in zip(clients, tokens)]
            for thread in threads:
                thread.start()

            def both_waiting():
                return blocker.execute(text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE c.relname = 'users' AND NOT l.granted")).scalar() == 2

            with caplog.at_level(logging.DEBUG):
                wait_until(both_waiting, timeout=60)
                blocker.rollback()  # releases the lock: one insert wins
                for thread in threads:
                    thread.join(timeout=60)
        assert len(results) == 2 and all(r.status_code < 500 for r in results)
        late = app.test_client()  # the same address, once the race is over: the existing-address answer
        existing = late.post("/inscription", data={"email": email, "password": PASSWORD, "confirm": PASSWORD,
                                                   "csrf_token": csrf(late, "/inscription")})
        assert shape(existing) in [shape(r) for r in results]
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(User).where(User.email == email)).scalar() == 1
            password_hash = conn.execute(select(User.password_hash).where(User.email == email)).scalar()
        assert email not in caplog.text and password_hash not in caplog.text
    finally:
        with engine.begin() as conn:
            conn.execute(delete(User).where(User.email == email))
        engine.dispose()


# -- the 500 page ---------------------------------------------------------------------------------


@pytest.fixture
def failing_app(settings, connection, valkey):
    from webapp import create_app

    app = create_app({"RELEVE_SETTINGS": settings, "DB_BIND": connection, "TESTING": True,
                      "PROPAGATE_EXCEPTIONS": False})

    @app.post("/_boom/<word>")
    def boom(word):
        raise ValueError(f"secret value {word}")

    from webapp.extensions import csrf

    csrf.exempt(boom)
    return app


def test_an_unexpected_error_is_a_french_page_and_logs_no_request_data(failing_app, caplog):
    client = failing_app.test_client()
    with caplog.at_level(logging.DEBUG):
        response = client.post("/_boom/motdepasse-dans-le-chemin?jeton=dans-la-requete",
                               data={"champ": "valeur-du-formulaire"},
                               headers={"Authorization": "Bearer en-tete-secret", "Cookie": "session=cookie-secret"})
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Erreur interne" in page and '<html lang="fr">' in page
    incident = re.search(r"Référence de l'incident : <code>([0-9a-f]{8,})</code>", page).group(1)
    assert incident in caplog.text and "ValueError" in caplog.text and "boom" in caplog.text
    for leaked in ("motdepasse-dans-le-chemin", "dans-la-requete", "valeur-du-formulaire", "en-tete-secret",
                   "cookie-secret", "secret value", "/_boom"):
        assert leaked not in caplog.text
    assert "Traceback" not in caplog.text


def test_an_error_while_rendering_the_500_page_still_answers_in_french(failing_app, caplog):
    failing_app.jinja_env.globals["csrf_token"] = lambda: 1 / 0  # base.html cannot render any more
    with caplog.at_level(logging.DEBUG):
        response = failing_app.test_client().post("/_boom/x")
    assert response.status_code == 500 and "Erreur interne" in response.get_data(as_text=True)
