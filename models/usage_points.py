"""Usage points (PDL/PRM): a meter, owned by one account at a time."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamped
from models.pdl import PDL_CHECK

POINT_KINDS = ("consumption", "production", "unknown")
# active: fetched on schedule; consent_needed: Enedis refused (ADAM-DC-0007/0008), waiting
# for the household to renew its consent; nothing is fetched until then.
POINT_STATUSES = ("active", "consent_needed")


class UsagePoint(Timestamped, Base):
    __tablename__ = "usage_points"
    __table_args__ = (
        CheckConstraint(f"pdl {PDL_CHECK}", name="pdl_14_digits"),
        CheckConstraint(f"kind IN {POINT_KINDS!r}", name="kind_known"),
        CheckConstraint(f"status IN {POINT_STATUSES!r}", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pdl: Mapped[str] = mapped_column(String(14), unique=True)  # one owner at a time
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(16), default="unknown", server_default="unknown")
    load_curve_enabled: Mapped[bool] = mapped_column(default=True, server_default="true")
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    status_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")
    activation_date: Mapped[date | None]
    last_refreshed_at: Mapped[datetime | None]
    # The offer the household says it has (`models.offers.choose_offer`): the catalogue's or its own.
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id", ondelete="SET NULL"), index=True)


class KnownPdl(Base):
    """Every PDL ever held on this gateway, with the last account that held it.

    Outlives the point: when that account is deleted, `last_holder_id` becomes NULL while
    Enedis may still hold its consent, so a later claim of the PDL waits for review
    (docs/security.md, "deleted accounts").
    """

    __tablename__ = "known_pdls"
    __table_args__ = (CheckConstraint(f"pdl {PDL_CHECK}", name="pdl_14_digits"),)

    pdl: Mapped[str] = mapped_column(String(14), primary_key=True)
    last_holder_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
