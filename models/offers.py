"""Electricity providers and their offers (prices per kWh, subscription per month)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Timestamped

OFFER_KINDS = ("base", "hphc", "tempo", "ejp", "other")


class Provider(Timestamped, Base):
    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    website: Mapped[str] = mapped_column(String(255), default="")
    offers: Mapped[list[Offer]] = relationship(back_populates="provider", cascade="all, delete-orphan")


class Offer(Timestamped, Base):
    __tablename__ = "offers"
    __table_args__ = (
        UniqueConstraint("provider_id", "name", "subscribed_kva", "valid_from"),
        CheckConstraint(f"kind IN {OFFER_KINDS!r}", name="kind_known"),
        CheckConstraint("subscribed_kva BETWEEN 3 AND 36", name="kva_range"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="validity_order"),
        CheckConstraint("subscription_eur_month >= 0", name="subscription_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    subscribed_kva: Mapped[int]
    subscription_eur_month: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    # Prices per kWh by period name ("base", "hp", "hc", "blue_hp", …), as JSON-able text keys.
    prices_eur_kwh: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default="{}")
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]
    provider: Mapped[Provider] = relationship(back_populates="offers")
