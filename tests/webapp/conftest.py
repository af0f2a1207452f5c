"""Web fixtures: an app on the test database and Valkey, and a small `auth` helper."""

import re
from email import message_from_bytes
from pathlib import Path

import pytest

from models.settings import Settings
from tests_helpers import deliver_queued_mails

CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html) or re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
def outbox(tmp_path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def settings(env_for, outbox):
    return Settings.from_env(env_for(MAIL_OUTBOX_DIR=str(outbox)))


@pytest.fixture
def app(settings, connection, valkey):
    # The app enqueues (mails, fetches) on the broker of its settings: the test's Valkey database.
    from webapp import create_app

    app = create_app({"RELEVE_SETTINGS": settings, "DB_BIND": connection, "TESTING": True})
    yield app
    app.extensions["celery"].close()


class Mails:
    """The development outbox; mails still queued are delivered first."""

    def __init__(self, outbox: Path, celery_app=None):
        self.outbox = outbox
        self.celery_app = celery_app

    def all(self):
        if self.celery_app is not None:
            deliver_queued_mails(self.celery_app)
        files = sorted(self.outbox.glob("*.eml")) if self.outbox.exists() else []
        return [message_from_bytes(f.read_bytes()) for f in files]

    def last_link(self, to: str) -> str:
        mails = [m for m in self.all() if m["To"] == to]
        assert mails, f"no mail to {to}"
        body = mails[-1].get_payload(decode=True).decode()
        return re.search(r"https?://\S+", body).group(0)


@pytest.fixture
def mails(outbox, celery_app):
    return Mails(outbox, celery_app)


class Auth:
    def __init__(self, client):
        self.client = client

    def post_form(self, url: str, data: dict, follow: bool = False):
        token = csrf_of(self.client.get(url).get_data(as_text=True))
        return self.client.post(url, data={**data, "csrf_token": token}, follow_redirects=follow)

    def signup(self, email="alice@example.org", password="correct horse battery"):
        """Sign up, then sign in when it was accepted (sign-up itself signs nobody in); the sign-up answer."""
        response = self.post_form("/inscription", {"email": email, "password": password, "confirm": password})
        if response.status_code == 302:
            self.login(email, password)
        return response

    def login(self, email="alice@example.org", password="correct horse battery", next_url=None):
        url = "/connexion" + (f"?next={next_url}" if next_url else "")
        return self.post_form(url, {"email": email, "password": password})

    def logout(self):
        token = csrf_of(self.client.get("/tableau-de-bord").get_data(as_text=True))
        return self.client.post("/deconnexion", data={"csrf_token": token})


@pytest.fixture
def auth(client):
    return Auth(client)
