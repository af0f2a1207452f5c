"""Server-side sessions: signing a browser in, and ending one session or all of them.

The session cookie (and the remember cookie) carry `User.get_id()`, which names a row of
`user_sessions` by a random token. The user loader accepts a cookie only while that row
lives, so logout and "sign out everywhere" take effect on the server: a copy of the cookie
replayed afterwards is worth nothing.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_login import login_user
from sqlalchemy import delete, exists, select

from models.sessions import UserSession, hash_session_token
from models.users import User
from webapp.db import db

# A session lives at most this long, remembered or not (the remember cookie lasts as long).
SESSION_LIFETIME = timedelta(days=30)


def sign_in(user: User, remember: bool = False) -> None:
    """Start a new server-side session for `user` in this browser (in the request's transaction)."""
    now = datetime.now(UTC)
    session = db()
    session.execute(delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    session.add(UserSession(user_id=user.id, token_hash=hash_session_token(token), expires_at=now + SESSION_LIFETIME))
    user.session_token = token
    login_user(user, remember=remember, duration=current_app.config["REMEMBER_COOKIE_DURATION"])


def is_live(user_id: int, token: str) -> bool:
    """Whether `token` names an unexpired session of this user."""
    if not token:
        return False
    return bool(db().scalar(select(exists().where(
        UserSession.user_id == user_id, UserSession.token_hash == hash_session_token(token),
        UserSession.expires_at > datetime.now(UTC)))))


def end_session(user: User) -> None:
    """End the session `user` was loaded for."""
    if user.session_token:
        db().execute(delete(UserSession).where(UserSession.user_id == user.id,
                                               UserSession.token_hash == hash_session_token(user.session_token)))


def end_all_sessions(user_id: int) -> int:
    """End every session of the account, on every browser; how many there were."""
    return db().execute(delete(UserSession).where(UserSession.user_id == user_id)).rowcount
