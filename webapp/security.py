"""Login throttling, mail quotas, safe redirects and signed single-use tokens."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from models.keys import login_keys, mail_keys
from models.users import User
from models.valkey import count_in_window, get_client  # noqa: F401 - count_in_window: its home once
from webapp.extensions import settings
from webapp.inputs import printable

# Failed logins allowed per window, per account and per address.
ACCOUNT_FAILURES, ADDRESS_FAILURES, WINDOW_SECONDS = 5, 30, 15 * 60


class Throttle:
    """Counts failed logins in Valkey, per account and per client address."""

    def __init__(self, email: str, address: str):
        account, client_address = login_keys(email, address)
        self.keys = {account: ACCOUNT_FAILURES, client_address: ADDRESS_FAILURES}
        self.client = get_client(settings().valkey_url)

    def retry_after(self) -> int:
        """Seconds until a new attempt is allowed (0 when allowed)."""
        waits = [max(self.client.ttl(k), 1) for k, limit in self.keys.items() if int(self.client.get(k) or 0) >= limit]
        return max(waits, default=0)

    def failed(self) -> None:
        for key in self.keys:
            count_in_window(self.client, key, WINDOW_SECONDS)

    def succeeded(self) -> None:
        self.client.delete(next(iter(self.keys)))  # the account's counter; the address keeps its own


# Mails a visitor can trigger, per hour: per e-mail address (nobody's inbox gets flooded) and
# per client address (nobody mails the whole user base). Counted whether the account exists
# or not, so the answers reveal nothing.
MAIL_WINDOW_SECONDS = 3600
MAIL_QUOTAS = {  # purpose: (per e-mail address, per client address)
    "reset": (3, 10),
    "verify": (3, 10),
    "signup-notice": (3, 10),
}


def mail_wait(purpose: str, email: str, address: str) -> int:
    """Count one `purpose` mail for this e-mail and client address; 0 when it may go, else seconds to wait."""
    per_email, per_client = MAIL_QUOTAS[purpose]
    client = get_client(settings().valkey_url)
    to_email, from_address = mail_keys(purpose, email, address)
    for key, limit in ((from_address, per_client), (to_email, per_email)):
        if count_in_window(client, key, MAIL_WINDOW_SECONDS) > limit:
            return max(client.ttl(key), 1)
    return 0

MAX_NEXT = 2000


def safe_next(target: str | None) -> str:
    """`next` only ever leads to a path on this site, and never carries a control character (a CR/LF
    would split the Location header; browsers drop tabs and newlines, so "/<TAB>/x" would be "//x")."""
    if target and len(target) <= MAX_NEXT and printable(target):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith(("//", "/\\")):
            return target
    return url_for("main.dashboard")


TOKEN_AGES = {"verify": 48 * 3600, "reset": 3600}


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"releve-{purpose}")


def _state(user: User, purpose: str) -> str:
    # Single use: the token carries the state it changes (the password, or "not verified yet").
    return user.session_fingerprint() if purpose == "reset" else f"unverified:{user.email}"


def make_token(user: User, purpose: str) -> str:
    return _serializer(purpose).dumps({"uid": user.id, "s": _state(user, purpose)})


def read_token(token: str, purpose: str, load_user) -> User | None:
    """The user a still-valid, unused token was made for, else None."""
    try:
        data = _serializer(purpose).loads(token, max_age=TOKEN_AGES[purpose])
    except (SignatureExpired, BadSignature):
        return None
    user = load_user(data.get("uid"))
    if user is None or (purpose == "verify" and user.email_verified_at is not None):
        return None
    return user if _state(user, purpose) == data.get("s") else None
