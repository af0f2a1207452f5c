"""The password-reset link: opening it (a mail scanner does) never uses it up; the first successful POST does."""

import re
from urllib.parse import urlsplit


def test_a_reset_link_survives_gets_and_failed_posts_and_dies_with_the_first_change(client, auth, mails):
    auth.signup()
    auth.logout()
    auth.post_form("/mot-de-passe-oublie", {"email": "alice@example.org"})
    path = urlsplit(mails.last_link("alice@example.org")).path
    for _ in range(3):  # scanners, previews, the person's own click
        assert client.get(path).status_code == 200
    refused = auth.post_form(path, {"password": "a brand new secret", "confirm": "does not match"})
    assert refused.status_code == 200 and "ne correspondent pas" in refused.get_data(as_text=True)
    assert auth.post_form(path, {"password": "a brand new secret", "confirm": "a brand new secret"}).status_code == 302
    assert client.get(path).headers["Location"] == "/mot-de-passe-oublie"  # used
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/connexion").get_data(as_text=True)).group(1)
    again = client.post(path, data={"password": "another new secret", "confirm": "another new secret", "csrf_token": token})
    assert again.headers["Location"] == "/mot-de-passe-oublie"
    assert auth.login(password="another new secret").status_code == 200  # refused: the link changed nothing
    assert auth.login(password="a brand new secret").headers["Location"] == "/tableau-de-bord"
