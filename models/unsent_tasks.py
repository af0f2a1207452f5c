"""Tasks the broker could not take after their transaction committed, kept until the recovery check
sends them (pipeline/celery_app.py `enqueue`, pipeline/tasks/maintenance.py `resend_unsent`).

Only tasks whose arguments are ids and plain values are kept here (onboarding a point, a transfer
check): a mail, whose body holds single-use links, never is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, String, delete, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, Timestamped


class UnsentTask(Timestamped, Base):
    __tablename__ = "unsent_tasks"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSONB)
    queue: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str] = mapped_column(String(200), default="", server_default="")


def keep_unsent(session: Session, name: str, kwargs: dict[str, Any], queue: str | None, error: str) -> None:
    session.add(UnsentTask(name=name, kwargs=kwargs, queue=queue, error=error[:200]))


def take_unsent(session: Session, limit: int = 500) -> list[UnsentTask]:
    """The oldest unsent tasks, locked for this transaction (a second check skips them)."""
    return list(session.scalars(select(UnsentTask).order_by(UnsentTask.id).limit(limit)
                                .with_for_update(skip_locked=True)))


def forget_sent(session: Session, ids: list[int]) -> None:
    if ids:
        session.execute(delete(UnsentTask).where(UnsentTask.id.in_(ids)))

