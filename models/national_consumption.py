"""National consumption from RTE (public data), in MW per interval."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

SERIES_TYPES = ("REALISED", "ID", "D-1", "D-2")


class NationalConsumption(Base):
    __tablename__ = "national_consumption"
    __table_args__ = (
        CheckConstraint(f"series IN {SERIES_TYPES!r}", name="series_known"),
        CheckConstraint("end_at > start_at", name="interval_order"),
    )

    series: Mapped[str] = mapped_column(String(8), primary_key=True)
    start_at: Mapped[datetime] = mapped_column(primary_key=True)
    end_at: Mapped[datetime]
    value_mw: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
