"""Contributions: offers proposed by users, moderated by admins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamped

CONTRIBUTION_STATUSES = ("pending", "accepted", "rejected")


class Contribution(Timestamped, Base):
    __tablename__ = "contributions"
    __table_args__ = (
        CheckConstraint(f"status IN {CONTRIBUTION_STATUSES!r}", name="status_known"),
        CheckConstraint("(status = 'pending') = (reviewed_at IS NULL)", name="reviewed_when_decided"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    payload: Mapped[dict] = mapped_column(JSONB)
    comment: Mapped[str] = mapped_column(Text, default="")
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None]
