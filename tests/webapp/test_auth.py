"""Accounts: sign-up, login throttling, CSRF, safe redirects, verification and reset links."""

import json
import re
from email.header import decode_header, make_header
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from models.users import User


def user(session, email="alice@example.org") -> User:
    session.expire_all()
    return session.scalar(select(User).where(User.email == email))


def test_signup_hashes_password_and_a_worker_task_mails_the_verification_link(client, auth, session, mails, valkey):
    response = auth.post_form("/inscription", {"email": "alice@example.org", "password": "correct horse battery",
                                               "confirm": "correct horse battery"})
    assert response.status_code == 302 and response.headers["Location"] == "/connexion"
    assert client.get("/tableau-de-bord").status_code == 302  # sign-up signs nobody in
    alice = user(session)
    assert alice.password_hash.startswith("$argon2id$") and [r.name for r in alice.roles] == ["visitor"]
    # The request only queued the mail; a worker task delivers it (here: run in this process).
    assert valkey.llen("mail") == 1 and not mails.outbox.exists()
    headers = json.loads(valkey.lindex("mail", 0))["headers"]
    assert headers["task"] == "releve.mail.send" and "alice" not in headers["kwargsrepr"] + headers["argsrepr"]
    link = urlsplit(mails.last_link("alice@example.org"))
    assert valkey.llen("mail") == 0
    auth.login()
    assert "Confirmez votre adresse" in client.get("/tableau-de-bord").get_data(as_text=True)
    assert client.get(link.path).status_code == 302
    assert user(session).email_verified_at is not None
    again = client.get(link.path, follow_redirects=True).get_data(as_text=True)
    assert "plus valable" in again  # single use


def flash_of(client, response) -> str:
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    return " ".join(re.findall(r'<p class="flash[^"]*" role="status">([^<]*)</p>', page))


def subject(mail) -> str:
    return str(make_header(decode_header(mail["Subject"])))


def test_signup_with_a_taken_address_answers_as_a_new_one_and_tells_the_owner(app, auth, session, mails):
    auth.signup()
    answers = {}
    for email in ("bob@example.org", "ALICE@example.org"):
        browser = app.test_client()
        response = type(auth)(browser).post_form("/inscription", {"email": email, "password": "another passphrase",
                                                                  "confirm": "another passphrase"})
        answers[email] = (response.status_code, response.headers.get("Location"), flash_of(browser, response),
                          browser.get("/tableau-de-bord").status_code)
    assert answers["bob@example.org"] == answers["ALICE@example.org"]
    status, location, message, dashboard = answers["bob@example.org"]
    assert (status, location, dashboard) == (302, "/connexion", 302) and "Vérifiez votre boîte mail" in message
    assert user(session).check_password("correct horse battery")  # the account did not change
    assert session.scalar(select(func.count()).select_from(User)) == 2  # alice and bob, nobody else
    to_alice = [m for m in mails.all() if m["To"] == "alice@example.org"]
    assert len(to_alice) == 2  # her verification link, then the notice
    notice = to_alice[-1].get_payload(decode=True).decode()
    assert "tentative d'inscription" in subject(to_alice[-1])
    assert "a déjà un compte" in notice and "/mot-de-passe-oublie" in notice and "/verifier/" not in notice


def test_signup_refuses_weak_passwords(auth, session):
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


def test_reset_mails_are_limited_per_address_and_per_client(app, client, auth, mails):
    from webapp.security import MAIL_QUOTAS

    per_email, per_client = MAIL_QUOTAS["reset"]
    auth.signup()
    auth.logout()

    def ask(browser, email):
        return type(auth)(browser).post_form("/mot-de-passe-oublie", {"email": email})

    def resets():
        return [m for m in mails.all() if "nouveau mot de passe" in subject(m)]

    for _ in range(per_email):
        assert ask(client, "alice@example.org").status_code == 302
    refused = ask(client, "alice@example.org")
    assert refused.status_code == 429 and "Trop de demandes" in refused.get_data(as_text=True)
    assert len(resets()) == per_email
    # From another client: still held back for alice (her address's quota), not for another address.
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert ask(elsewhere, "alice@example.org").status_code == 429
    assert ask(elsewhere, "bob@example.org").status_code == 302
    # One client cannot spread its requests over many addresses (unknown ones count the same).
    for i in range(per_client - per_email - 1):
        assert ask(client, f"nobody{i}@example.org").status_code == 302
    assert ask(client, "carol@example.org").status_code == 429
    assert len(resets()) == per_email


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


def test_resending_the_verification_mail_is_limited(client, auth, mails):
    from webapp.security import MAIL_QUOTAS

    auth.signup()
    for _ in range(MAIL_QUOTAS["verify"][0] + 2):
        html = client.get("/tableau-de-bord").get_data(as_text=True)
        token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)
        page = client.post("/verifier/renvoyer", data={"csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "Trop de demandes" in page
    verifications = [m for m in mails.all() if "confirmez" in subject(m)]
    assert len(verifications) == 1 + MAIL_QUOTAS["verify"][0]  # the sign-up's, then the quota


def test_an_admin_made_on_an_intranet_domain_signs_in(client, auth, session):
    """`make run`'s first admin is admin@releve.local: sign-up would refuse the address, signing in must not."""
    from models.accounts import create_admin

    password = create_admin(session, "admin@releve.local")
    session.flush()
    assert auth.login("admin@releve.local", password).headers["Location"] == "/tableau-de-bord"
    assert client.get("/admin").status_code == 200
