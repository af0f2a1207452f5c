"""Enedis consents: the state issued, the PRMs returned, and the consent's life."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamped

CONSENT_STATUSES = ("pending", "active", "refused", "expired", "revoked")


class EnedisConsent(Timestamped, Base):
    __tablename__ = "enedis_consents"
    __table_args__ = (
        CheckConstraint(f"status IN {CONSENT_STATUSES!r}", name="status_known"),
        CheckConstraint("expires_at IS NULL OR started_at IS NULL OR expires_at > started_at", name="expiry_after_start"),
        CheckConstraint("status <> 'active' OR cardinality(prms) > 0", name="active_has_prms"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Only a hash of the state is stored: the state itself travels in the browser.
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    prms: Mapped[list[str]] = mapped_column(ARRAY(String(14)), default=list, server_default="{}")
    duration: Mapped[str] = mapped_column(String(16), default="P1Y")
    started_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    state_expires_at: Mapped[datetime]
    state_used_at: Mapped[datetime | None]
