"""`releve web` logs: no token, password, secret or hash in any line, checked on a real gunicorn."""

from __future__ import annotations

import re
import uuid
from email import message_from_bytes
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from sqlalchemy import create_engine, delete, select

from models.audit import AuditLog
from models.usage_points import KnownPdl
from models.users import User
from releve.web_logging import MASK, redact, redact_uri
from tests_helpers import free_port, stop

SANDBOX_CUSTOMER_0 = "22516914714270"  # the PDL the consent below brings back
TOKEN = "eyJ1aWQiOjQyLCJzIjoiYWJjIn0.aweNQw.Vy4dcPHdZSOa4Ff4ausCC-ktksg"


@pytest.mark.parametrize("line, expected", [
    (f'127.0.0.1 "GET /verifier/{TOKEN}" 302', f'127.0.0.1 "GET /verifier/{MASK}" 302'),
    (f'"POST /nouveau-mot-de-passe/{TOKEN}" 302', f'"POST /nouveau-mot-de-passe/{MASK}" 302'),
    (f'"GET //nouveau-mot-de-passe//{TOKEN}/" 404', f'"GET //nouveau-mot-de-passe//{MASK}/" 404'),
    (f'"GET /VERIFIER/{TOKEN}" 404', f'"GET /VERIFIER/{MASK}" 404'),
    ('"POST /verifier/renvoyer" 302', '"POST /verifier/renvoyer" 302'),
    ('"GET /consommation" 200', '"GET /consommation" 200'),
])
def test_tokens_in_paths_are_masked(line, expected):
    assert redact(line) == expected


def test_error_lines_lose_query_strings_too():
    line = f"Invalid request from ip=1.2.3.4: Invalid HTTP request line: 'GET /verifier/{TOKEN}?state=abc&code=x HTTP/1.1'"
    masked = redact_uri(line)
    assert TOKEN not in masked and "state=abc" not in masked and "/verifier/" in masked


def test_every_route_with_a_token_in_its_path_is_masked(app):
    routes = [rule for rule in app.url_map.iter_rules() if "token" in rule.arguments]
    assert {rule.endpoint for rule in routes} >= {"auth.verify", "auth.reset"}
    for rule in routes:
        path = re.sub(r"<(?:[^:<>]+:)?token>", TOKEN, rule.rule)
        assert TOKEN not in redact(f'"GET {path}" 200'), rule.rule


# -- a real `releve web`, a whole account's life, then every log line --------------------------------


class Browser:
    """A requests session that reads CSRF tokens from pages, as a browser sends them back."""

    def __init__(self, base: str):
        self.base, self.http = base, requests.Session()

    def get(self, path: str, **kwargs):
        return self.http.get(self.base + path, allow_redirects=False, timeout=30, **kwargs)

    def post_form(self, path: str, data: dict, page: str | None = None):
        html = self.get(page or path).text
        token = re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)
        return self.http.post(self.base + path, data={**data, "csrf_token": token}, allow_redirects=False, timeout=30)


def mails_to(outbox, to: str) -> list:
    mails = [message_from_bytes(p.read_bytes()) for p in sorted(outbox.glob("*.eml"))] if outbox.exists() else []
    return [m for m in mails if m["To"] == to]


def next_link(outbox, to: str, seen: int, wait_until) -> str:
    """The link of the mail after the `seen` first ones to `to`, once the worker has delivered it."""
    mails = wait_until(lambda: mails_to(outbox, to)[seen:], timeout=60)
    body = mails[0].get_payload(decode=True).decode()
    return urlsplit(re.search(r"https?://\S+", body).group(0)).path


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_no_secret_in_any_log_line_of_a_real_web_process(env_for, spawn, valkey, database_url, outbox, sandbox,
                                                          wait_until):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    email = f"logs-{uuid.uuid4().hex[:8]}@example.org"
    first, second = "first password 123", "second password 456"
    engine = create_engine(database_url)
    env = env_for(PUBLIC_URL=base, MAIL_OUTBOX_DIR=str(outbox), ENEDIS_REDIRECT_URI=f"{base}/consent/callback",
                  ENEDIS_CONSENT_URL=f"{sandbox.url}/dataconnect/v1/oauth2/authorize", PYTHONUNBUFFERED="1")
    web = spawn(["web", "--bind", f"127.0.0.1:{port}", "--workers", "1"], env)
    worker = spawn(["worker", "--concurrency", "1", "--queues", "mail,interactive,default"], env)  # mails
    try:
        def up():
            assert web.poll() is None, web.log.read_text()
            try:
                return requests.get(base + "/", timeout=5).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(up, timeout=90, interval=0.5)
        browser = Browser(base)
        secrets = {"first password": first, "second password": second}

        # Sign up, verify the address.
        assert browser.post_form("/inscription", {"email": email, "password": first, "confirm": first}).status_code == 302
        verify = next_link(outbox, email, 0, wait_until)
        secrets["verification token"] = verify.rsplit("/", 1)[1]
        assert browser.get(verify).status_code == 302
        with engine.connect() as conn:
            user = conn.execute(select(User.id, User.password_hash, User.email_verified_at)
                                .where(User.email == email)).one()
        assert user.email_verified_at is not None
        secrets["first hash"] = user.password_hash

        # Reset the password; the link is opened twice first (a mail scanner), which must not use it up.
        assert browser.post_form("/mot-de-passe-oublie", {"email": email}).status_code == 302
        reset = next_link(outbox, email, 1, wait_until)
        secrets["reset token"] = reset.rsplit("/", 1)[1]
        assert requests.get(base + reset, allow_redirects=False, timeout=30).status_code == 200
        assert browser.get(reset).status_code == 200
        assert browser.post_form(reset, {"password": second, "confirm": second}).status_code == 302
        assert browser.get(reset).status_code == 302  # used once
        assert browser.post_form("/connexion", {"email": email, "password": second}).status_code == 302
        with engine.connect() as conn:
            secrets["second hash"] = conn.execute(select(User.password_hash).where(User.email == email)).scalar()

        # Consent at the sandbox (its automatic path), back through the callback.
        consent_url = browser.post_form("/compteurs/ajouter", {"customer": "0"}).headers["Location"]
        secrets["consent state"] = parse_qs(urlsplit(consent_url).query)["state"][0]
        back = requests.get(f"{consent_url}&{urlencode({'auto': 'approve'})}", allow_redirects=False, timeout=30)
        callback = urlsplit(back.headers["Location"])
        assert browser.get(f"{callback.path}?{callback.query}").headers["Location"] == "/tableau-de-bord"

        # An API secret, shown once.
        page = browser.post_form("/parametres/api", {"name": "Home Assistant"}, page="/parametres").text
        secrets["API secret"] = re.search(r'<code class="client-secret">([^<]+)</code>', page).group(1)
        secrets["session cookie"] = browser.http.cookies["session"]
    finally:
        stop(web)  # gunicorn flushes and exits; the log files stay until the test's end
        stop(worker)
        with engine.begin() as conn:  # the web process committed for real: leave nothing to other tests
            uid = conn.execute(select(User.id).where(User.email == email)).scalar()
            if uid is not None:
                conn.execute(delete(AuditLog).where(AuditLog.actor_id == uid))
                conn.execute(delete(User).where(User.id == uid))  # cascades to points, consents, API clients
            conn.execute(delete(KnownPdl).where(KnownPdl.pdl == SANDBOX_CUSTOMER_0))  # others may claim it
        engine.dispose()

    lines = web.log.read_text(errors="replace").splitlines() + worker.log.read_text(errors="replace").splitlines()
    leaks = {name: [line for line in lines if value in line] for name, value in secrets.items()}
    assert {name: found for name, found in leaks.items() if found} == {}
    # The log is the real one: gunicorn's access lines for those very requests, tokens masked.
    assert any(f"/verifier/{MASK}" in line for line in lines)
    assert sum(f"/nouveau-mot-de-passe/{MASK}" in line for line in lines) >= 4
    assert any('"POST /parametres/api"' in line for line in lines)
    assert any('"GET /consent/callback"' in line for line in lines)
