"""EcoWatt signals published by RTE (public data): one row per day, hourly values."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, SmallInteger, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class EcoWattSignal(Base):
    __tablename__ = "ecowatt_signals"
    __table_args__ = (
        CheckConstraint("dvalue BETWEEN 1 AND 3", name="dvalue_range"),
        CheckConstraint("cardinality(hvalues) BETWEEN 23 AND 25", name="hourly_values"),
    )

    day: Mapped[date] = mapped_column(primary_key=True)
    dvalue: Mapped[int] = mapped_column(SmallInteger)
    message: Mapped[str] = mapped_column(String(500), default="")
    hvalues: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger))  # index = `pas` (hour of day)
    generated_at: Mapped[datetime]
    fetched_at: Mapped[datetime]
