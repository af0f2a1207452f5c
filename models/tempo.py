"""Tempo days published by RTE (public data)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.grid.tempo import TEMPO_COLOURS



class TempoDay(Base):
    __tablename__ = "tempo_days"
    __table_args__ = (CheckConstraint(f"colour IN {TEMPO_COLOURS!r}", name="colour_known"),)

    day: Mapped[date] = mapped_column(primary_key=True)  # natural key: the calendar day
    colour: Mapped[str] = mapped_column(String(5))
    updated_at: Mapped[datetime]  # RTE's updated_date
    fetched_at: Mapped[datetime]
