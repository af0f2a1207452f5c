"""Signed-in browsers: one row per session, so a session can end on the server."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamped


def hash_session_token(token: str) -> str:
    # 256-bit random tokens: a fast hash suffices; a database dump names no live session.
    return hashlib.sha256(token.encode()).hexdigest()


class UserSession(Timestamped, Base):
    """A browser signed in to an account, named in its session (and remember) cookie by a random token.

    The cookie is signed, but a signed cookie cannot be taken back: a session is live only while
    its row exists and has not expired. Logout deletes the row; "sign out everywhere" deletes them all.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
