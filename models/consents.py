"""Enedis consents: the state issued, the PRMs returned, and the consent's life."""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamped

CONSENT_STATUSES = ("pending", "active", "refused", "expired", "revoked")
DURATION_RE = re.compile(r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?$")


def add_duration(start: datetime, duration: str) -> datetime:
    """`start` plus an ISO 8601 duration made of years, months and days (P1Y, P36M, P1Y6M10D)."""
    match = DURATION_RE.match(duration)
    if not match:
        raise ValueError(f"unsupported duration {duration!r}")
    years, months, days = (int(g or 0) for g in match.groups())
    total = start.year * 12 + (start.month - 1) + years * 12 + months
    year, month = divmod(total, 12)
    month += 1
    # 31 January + P1M is the last day of February, as calendars do it.
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day) + timedelta(days=days)


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

    def activate(self, prms: list[str], now: datetime) -> None:
        """Enedis sent the household back with `prms`: the consent runs from now for its duration."""
        self.status, self.prms, self.started_at = "active", prms, now
        self.expires_at = add_duration(now, self.duration)
