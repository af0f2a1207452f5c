"""Account settings: password, API credentials shown once, account deletion, ownership, escaping."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import func, select

from models.api_clients import ApiClient
from models.consents import EnedisConsent
from models.usage_points import UsagePoint
from models.users import User

PASSWORD = "correct horse battery"
CLIENT_ID = re.compile(r'<code class="client-id">([^<]+)</code>')
SECRET = re.compile(r'<code class="client-secret">([^<]+)</code>')


def token_of(client) -> str:
    page = client.get("/parametres").get_data(as_text=True)
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def post(client, url: str, data: dict | None = None):
    return client.post(url, data={**(data or {}), "csrf_token": token_of(client)})


def user(session, email="alice@example.org") -> User | None:
    session.expire_all()
    return session.scalar(select(User).where(User.email == email))


def clients_of(session, uid: int) -> list[ApiClient]:
    session.expire_all()
    return list(session.scalars(select(ApiClient).where(ApiClient.user_id == uid).order_by(ApiClient.id)))


def create(client, name="Home Assistant") -> tuple[str, str]:
    response = post(client, "/parametres/api", {"name": name})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    return CLIENT_ID.search(page).group(1), SECRET.search(page).group(1)


def test_settings_need_a_login(client):
    assert client.get("/parametres").status_code == 302


def test_changing_the_password_needs_the_current_one_and_signs_other_sessions_out(app, client, auth, session):
    auth.signup()
    other = app.test_client()
    type(auth)(other).login()
    assert other.get("/tableau-de-bord").status_code == 200

    wrong = post(client, "/parametres", {"current": "not my password", "password": "a brand new passphrase",
                                         "confirm": "a brand new passphrase"})
    assert wrong.status_code == 400 and "Mot de passe incorrect" in wrong.get_data(as_text=True)
    assert user(session).check_password(PASSWORD)

    response = post(client, "/parametres", {"current": PASSWORD, "password": "a brand new passphrase",
                                            "confirm": "a brand new passphrase"})
    assert response.status_code == 302
    assert user(session).check_password("a brand new passphrase")
    assert client.get("/tableau-de-bord").status_code == 200  # this session goes on
    assert other.get("/tableau-de-bord").status_code == 302  # the other one is signed out
    auth.logout()
    assert auth.login(password=PASSWORD).status_code == 200  # the old one no longer works
    assert auth.login(password="a brand new passphrase").status_code == 302


def test_sign_out_everywhere_ends_every_session_of_the_account(app, client, auth, session):
    from models.audit import AuditLog
    from models.sessions import UserSession

    auth.signup()
    assert "Se déconnecter partout" in client.get("/parametres").get_data(as_text=True)
    laptop, phone = app.test_client(), app.test_client()
    type(auth)(laptop).login()
    type(auth)(phone).post_form("/connexion", {"email": "alice@example.org", "password": PASSWORD, "remember": "y"})
    remembered = phone.get_cookie("remember_token").value
    bob = app.test_client()
    type(auth)(bob).signup(email="bob@example.org")

    response = post(client, "/parametres/deconnexion-partout")
    assert response.status_code == 302 and response.headers["Location"] == "/connexion"
    for browser in (client, laptop, phone):
        assert browser.get("/tableau-de-bord").status_code == 302
    stolen = app.test_client()
    stolen.set_cookie("remember_token", remembered)
    assert stolen.get("/tableau-de-bord").status_code == 302
    assert bob.get("/tableau-de-bord").status_code == 200  # another account is untouched
    alice = user(session)
    assert session.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == alice.id)) == 0
    assert session.scalar(select(AuditLog.action).where(AuditLog.actor_id == alice.id)
                          .order_by(AuditLog.id.desc())) == "account.signed_out_everywhere"
    assert auth.login().status_code == 302  # signing in again works
    assert client.get("/tableau-de-bord").status_code == 200


def test_an_api_secret_is_shown_once_and_only_its_hash_is_stored(client, auth, session):
    auth.signup()
    client_id, secret = create(client)
    [row] = clients_of(session, user(session).id)
    assert row.client_id == client_id and row.name == "Home Assistant"
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in (row.secret_hash, row.client_id, row.name) and row.check_secret(secret)
    page = client.get("/parametres").get_data(as_text=True)
    assert client_id in page and secret not in page  # listed, secret never again


def api_status(client, secret: str) -> int:
    return client.get("/api/v1/meters", headers={"Authorization": f"Bearer {secret}"}).status_code


def test_regenerating_revokes_the_old_secret(client, auth, session):
    auth.signup()
    _, old_secret = create(client)
    [old] = clients_of(session, user(session).id)
    assert api_status(client, old_secret) == 200
    response = post(client, f"/parametres/api/{old.id}/regenerer")
    assert response.status_code == 200
    new_secret = SECRET.search(response.get_data(as_text=True)).group(1)
    assert (api_status(client, old_secret), api_status(client, new_secret)) == (401, 200)
    old, new = clients_of(session, user(session).id)
    assert old.revoked_at is not None and not old.check_secret(old_secret)
    assert new.revoked_at is None and new.check_secret(new_secret) and new.name == old.name
    assert post(client, f"/parametres/api/{old.id}/regenerer").status_code == 404  # revoked is gone


def test_revoking(client, auth, session):
    auth.signup()
    _, secret = create(client)
    [row] = clients_of(session, user(session).id)
    assert api_status(client, secret) == 200  # the API now keeps who this secret is (models/access.py)
    assert post(client, f"/parametres/api/{row.id}/revoquer").status_code == 302
    assert api_status(client, secret) == 401  # refused by the very next request
    [row] = clients_of(session, user(session).id)
    assert row.revoked_at is not None and not row.check_secret(secret)
    assert row.client_id not in client.get("/parametres").get_data(as_text=True)


def test_nobody_acts_on_another_users_credentials(app, client, auth, session):
    auth.signup()
    _, secret = create(client)
    [alices] = clients_of(session, user(session).id)
    bob = app.test_client()
    type(auth)(bob).signup(email="bob@example.org")
    assert post(bob, f"/parametres/api/{alices.id}/regenerer").status_code == 404
    assert post(bob, f"/parametres/api/{alices.id}/revoquer").status_code == 404
    assert alices.client_id not in bob.get("/parametres").get_data(as_text=True)
    [alices] = clients_of(session, user(session).id)
    assert alices.revoked_at is None and alices.check_secret(secret)
    assert clients_of(session, user(session, "bob@example.org").id) == []


@pytest.mark.parametrize("url", ["/parametres", "/parametres/api", "/parametres/api/1/regenerer",
                                 "/parametres/api/1/revoquer", "/parametres/supprimer",
                                 "/parametres/deconnexion-partout"])
def test_every_post_needs_the_csrf_token(client, auth, session, url):
    auth.signup()
    response = client.post(url, data={"current": PASSWORD, "password": "x" * 12, "confirm": "x" * 12,
                                      "confirm_password": PASSWORD, "name": "x"})
    assert response.status_code == 400
    assert user(session) is not None and user(session).check_password(PASSWORD)
    assert clients_of(session, user(session).id) == []


def test_deleting_the_account_removes_rows_and_cached_data_at_once(app, client, auth, session, valkey):
    from webapp.data import _cache

    auth.signup()
    create(client)
    alice = user(session)
    uid = alice.id
    point = UsagePoint(pdl="22516914714270", user_id=uid)
    session.add(point)
    session.commit()
    s, point_id = app.config["RELEVE_SETTINGS"], point.id
    cache = _cache(s, 0)
    cache.put(uid, "contract", {"subscribed_power": "9 kVA"}, point=point_id)
    cache.put(uid, "identity", {"firstname": "Alice"})

    wrong = post(client, "/parametres/supprimer", {"confirm_password": "not my password"})
    assert wrong.status_code == 400 and user(session) is not None

    response = post(client, "/parametres/supprimer", {"confirm_password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert user(session) is None
    for model in (UsagePoint, ApiClient, EnedisConsent):
        assert session.scalar(select(func.count()).select_from(model).where(model.user_id == uid)) == 0
    assert cache.get(uid, "contract", point=point_id) is None and cache.get(uid, "identity") is None
    assert client.get("/tableau-de-bord").status_code == 302  # logged out
    assert "ont été supprimés" in client.get("/").get_data(as_text=True)


def test_reflected_input_is_escaped(client, auth, session):
    auth.signup()
    create(client, name="<script>alert(1)</script>")
    page = client.get("/parametres").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    callback = client.get("/consent/callback?error=<script>alert(2)</script>&state=<script>alert(3)</script>")
    assert callback.status_code == 400 and "<script>alert" not in callback.get_data(as_text=True)
    auth.logout()
    login = client.get("/connexion?next=<script>alert(4)</script>").get_data(as_text=True)
    assert "<script>alert" not in login
