"""API clients: credentials for the JSON read API; the secret is stored only as a hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamped


def hash_secret(secret: str) -> str:
    # Secrets are 256-bit random tokens, not human passwords: a fast hash is the right tool.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiClient(Timestamped, Base):
    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    # Unique and indexed: a request's secret is found by its hash in one index lookup (`pipeline.api.authenticate`).
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    @classmethod
    def issue(cls, user_id: int, name: str = "") -> tuple[ApiClient, str]:
        """A new client and its secret, returned once in clear."""
        secret = secrets.token_urlsafe(32)
        client = cls(user_id=user_id, client_id=secrets.token_hex(16), secret_hash=hash_secret(secret), name=name)
        return client, secret

    def check_secret(self, secret: str) -> bool:
        return self.revoked_at is None and hmac.compare_digest(self.secret_hash, hash_secret(secret))
