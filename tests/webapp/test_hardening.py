"""Defences around the pages: odd PDLs, headers, cookies, proxies, the interactive budget."""

import pytest
from werkzeug.middleware.proxy_fix import ProxyFix

from models.settings import ConfigError, Settings


@pytest.mark.parametrize("url", ["/consommation?pdl=%00", "/consommation?pdl=2251691471427%00",
                                 "/production?pdl=abc", "/api/ui/consommation.json?pdl=%00"])
def test_a_malformed_pdl_is_a_plain_404(client, auth, url):
    auth.signup()
    assert client.get(url).status_code == 404


def test_security_headers_on_every_page(client):
    response = client.get("/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_remember_cookie_is_httponly_and_samesite(client, auth):
    auth.signup()
    auth.logout()
    response = auth.post_form("/connexion", {"email": "alice@example.org", "password": "correct horse battery",
                                             "remember": "y"})
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token=")]
    assert len(cookies) == 1
    assert "HttpOnly" in cookies[0] and "SameSite=Lax" in cookies[0]


def test_interactive_budget_caps_fetches_per_person(app, auth):
    from webapp.data import INTERACTIVE_BUDGET, _within_budget

    with app.test_request_context():
        answers = [_within_budget(4242) for _ in range(INTERACTIVE_BUDGET + 1)]
        assert answers == [True] * INTERACTIVE_BUDGET + [False]
        assert _within_budget(4243)  # another person's budget is untouched


def test_trusted_proxies(env_for, connection):
    from webapp import create_app

    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env_for(TRUSTED_PROXIES="one"))
    assert raised.value.variable == "TRUSTED_PROXIES"
    app = create_app({"RELEVE_SETTINGS": Settings.from_env(env_for(TRUSTED_PROXIES="1")), "DB_BIND": connection})
    assert isinstance(app.wsgi_app, ProxyFix)
    seen = []
    app.add_url_rule("/_addr", "addr", lambda: seen.append(__import__("flask").request.remote_addr) or "ok")
    app.test_client().get("/_addr", headers={"X-Forwarded-For": "203.0.113.7"})
    assert seen == ["203.0.113.7"]  # login throttling counts the client, not the proxy
