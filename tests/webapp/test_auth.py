"""Accounts: sign-up, login throttling, CSRF, safe redirects, verification and reset links."""

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from models.users import User


def user(session, email="alice@example.org") -> User:
    session.expire_all()
    return session.scalar(select(User).where(User.email == email))


def test_signup_hashes_password_logs_in_and_sends_a_verification_link(client, auth, session, mails):
    response = auth.signup()
    assert response.status_code == 302 and response.headers["Location"] == "/tableau-de-bord"
    alice = user(session)
    assert alice.password_hash.startswith("$argon2id$") and [r.name for r in alice.roles] == ["user"]
    assert "Confirmez votre adresse" in client.get("/tableau-de-bord").get_data(as_text=True)
    link = urlsplit(mails.last_link("alice@example.org"))
    assert client.get(link.path).status_code == 302
    assert user(session).email_verified_at is not None
    again = client.get(link.path, follow_redirects=True).get_data(as_text=True)
    assert "plus valable" in again  # single use


def test_signup_refuses_a_taken_address_and_weak_passwords(auth, session):
    auth.signup()
    auth.logout()
    page = auth.signup(email="ALICE@example.org").get_data(as_text=True)
    assert "Un compte existe déjà" in page
    page = auth.signup(email="bob@example.org", password="short").get_data(as_text=True)
    assert "au moins 10 caractères" in page
    assert user(session, "bob@example.org") is None


def test_login_and_logout(client, auth):
    auth.signup()
    auth.logout()
    assert client.get("/tableau-de-bord").status_code == 302  # back to the login page
    assert auth.login().headers["Location"] == "/tableau-de-bord"
    assert client.get("/tableau-de-bord").status_code == 200


def replayed(app, **cookies):
    """A new browser holding copies of another browser's cookies."""
    browser = app.test_client()
    for name, value in cookies.items():
        browser.set_cookie(name, value)
    return browser


def test_logout_ends_the_session_on_the_server_and_clears_the_remember_cookie(app, client, auth):
    auth.signup()
    auth.logout()
    auth.post_form("/connexion", {"email": "alice@example.org", "password": "correct horse battery", "remember": "y"})
    stolen = {name: client.get_cookie(name).value for name in ("session", "remember_token")}
    assert replayed(app, **stolen).get("/tableau-de-bord").status_code == 200  # a copy works while signed in

    response = auth.logout()
    [cleared] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token=")]
    assert cleared.startswith("remember_token=;") and "Expires=Thu, 01 Jan 1970" in cleared
    assert client.get_cookie("remember_token") is None
    assert client.get("/tableau-de-bord").status_code == 302
    for cookies in (stolen, {"session": stolen["session"]}, {"remember_token": stolen["remember_token"]}):
        assert replayed(app, **cookies).get("/tableau-de-bord").status_code == 302, list(cookies)


def test_logout_ends_only_this_session(app, client, auth):
    auth.signup()
    other = app.test_client()
    type(auth)(other).login()
    auth.logout()
    assert client.get("/tableau-de-bord").status_code == 302
    assert other.get("/tableau-de-bord").status_code == 200


def test_an_expired_session_is_over(app, client, auth, session):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from models.sessions import UserSession

    auth.signup()
    assert client.get("/tableau-de-bord").status_code == 200
    session.execute(update(UserSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    session.commit()
    assert client.get("/tableau-de-bord").status_code == 302


@pytest.mark.parametrize("target, expected", [
    ("/tableau-de-bord", "/tableau-de-bord"),
    ("https://evil.example/phish", "/tableau-de-bord"),
    ("//evil.example", "/tableau-de-bord"),
    ("/\\evil.example", "/tableau-de-bord"),
    ("javascript:alert(1)", "/tableau-de-bord"),
])
def test_next_only_leads_to_this_site(auth, target, expected):
    auth.signup()
    auth.logout()
    assert auth.login(next_url=target).headers["Location"] == expected


def test_wrong_password_is_throttled_per_account(auth):
    auth.signup()
    auth.logout()
    for _ in range(5):
        response = auth.login(password="wrong password!")
        assert "incorrect" in response.get_data(as_text=True)
    response = auth.login()  # even the right password waits now
    assert response.status_code == 429
    assert "Trop de tentatives" in response.get_data(as_text=True)


def test_throttled_per_address_across_accounts(auth):
    for i in range(30):
        auth.login(email=f"nobody{i}@example.org", password="whatever whatever")
    assert auth.login(email="someone@example.org", password="whatever whatever").status_code == 429


def test_forms_without_csrf_are_refused(client, auth, session):
    response = client.post("/inscription", data={"email": "eve@example.org", "password": "x" * 12, "confirm": "x" * 12})
    assert response.status_code == 400 and "Formulaire expiré" in response.get_data(as_text=True)
    assert user(session, "eve@example.org") is None
    auth.signup()
    assert client.post("/deconnexion").status_code == 400
    assert client.get("/tableau-de-bord").status_code == 200  # still logged in


def test_password_reset_is_single_use_and_signs_other_sessions_out(app, client, auth, mails, session):
    auth.signup()
    other = app.test_client()
    type(auth)(other).login()  # a second browser
    assert other.get("/tableau-de-bord").status_code == 200
    auth.logout()
    auth.post_form("/mot-de-passe-oublie", {"email": "alice@example.org"})
    path = urlsplit(mails.last_link("alice@example.org")).path
    assert auth.post_form(path, {"password": "a brand new secret", "confirm": "a brand new secret"}).status_code == 302
    assert other.get("/tableau-de-bord").status_code == 302  # the old session is gone
    assert client.get(path, follow_redirects=True).request.path == "/mot-de-passe-oublie"  # used once
    assert auth.login(password="a brand new secret").headers["Location"] == "/tableau-de-bord"


def test_reset_request_does_not_reveal_accounts(auth, mails):
    page = auth.post_form("/mot-de-passe-oublie", {"email": "ghost@example.org"}, follow=True).get_data(as_text=True)
    assert "Si un compte existe" in page and mails.all() == []


def test_reflected_input_is_escaped(auth):
    page = auth.signup(email='"><script>alert(1)</script>@x.org').get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "Adresse e-mail invalide" in page


def test_session_cookie_flags(auth):
    response = auth.signup()
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_landing_invites_to_sign_up_then_leads_to_the_dashboard(client, auth):
    page = client.get("/").get_data(as_text=True)
    assert "Vos relevés Linky" in page and 'href="/inscription"' in page
    auth.signup()
    page = client.get("/").get_data(as_text=True)
    assert 'href="/tableau-de-bord"' in page and "Créer un compte" not in page
