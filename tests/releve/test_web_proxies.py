"""A real `releve web` (gunicorn) believes X-Forwarded-* only behind TRUSTED_PROXIES."""

import re

import pytest
import requests

from releve.cli import forwarded_allow_ips
from tests_helpers import free_port

pytestmark = pytest.mark.slow


def serve(spawn, env_for, wait_until, **overrides) -> str:
    port = free_port()
    web = spawn(["web", "--bind", f"127.0.0.1:{port}", "--workers", "1"], env_for(**overrides))
    base = f"http://127.0.0.1:{port}"

    def up():
        assert web.poll() is None, web.log.read_text()
        try:
            return requests.get(f"{base}/connexion", timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(up, timeout=60, interval=0.3)
    return base


def login_without_referrer(base: str, headers: dict) -> requests.Response:
    """A login POST with a valid CSRF token and no Referer: refused only when the request looks like https
    (Flask-WTF checks the referrer on https requests), so its answer tells which scheme the app saw."""
    with requests.Session() as browser:
        page = browser.get(f"{base}/connexion", timeout=10).text
        token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
        return browser.post(f"{base}/connexion", timeout=10, headers=headers,
                            data={"csrf_token": token, "email": "nobody@example.org", "password": "not the password"})


def test_forwarded_headers_are_ignored_without_trusted_proxies(spawn, env_for, wait_until):
    base = serve(spawn, env_for, wait_until)  # TRUSTED_PROXIES unset: 0
    # From 127.0.0.1, which gunicorn trusts by default: a local process could claim https.
    response = login_without_referrer(base, {"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on"})
    assert response.status_code == 200 and "incorrect" in response.text  # plain http, as it is


def test_forwarded_proto_is_believed_behind_a_trusted_proxy(spawn, env_for, wait_until):
    base = serve(spawn, env_for, wait_until, TRUSTED_PROXIES="1")
    response = login_without_referrer(base, {"X-Forwarded-Proto": "https"})
    assert response.status_code == 400  # seen as https: the referrer check applies


def test_gunicorn_trust_follows_trusted_proxies(env_for):
    from models.settings import Settings

    assert forwarded_allow_ips(Settings.from_env(env_for())) == ""
    assert forwarded_allow_ips(Settings.from_env(env_for(TRUSTED_PROXIES="2"))) == "*"
