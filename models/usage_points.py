"""Usage points (PDL/PRM): a meter, owned by one account at a time."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import PDL_CHECK, Base, Timestamped

POINT_KINDS = ("consumption", "production", "unknown")


class UsagePoint(Timestamped, Base):
    __tablename__ = "usage_points"
    __table_args__ = (
        CheckConstraint(f"pdl {PDL_CHECK}", name="pdl_14_digits"),
        CheckConstraint(f"kind IN {POINT_KINDS!r}", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pdl: Mapped[str] = mapped_column(String(14), unique=True)  # one owner at a time
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(16), default="unknown", server_default="unknown")
    load_curve_enabled: Mapped[bool] = mapped_column(default=True, server_default="true")
    activation_date: Mapped[date | None]
    last_refreshed_at: Mapped[datetime | None]
