"""Transfer requests: an account asks for a meter that another account holds.

A callback from Enedis never moves a meter between accounts: its PRMs are claims the
browser can edit (docs/security.md). A request waits for one of: the holder refuses or
accepts it, the holder's access is gone at Enedis, an administrator decides, or the
requester cancels it. `move_to` is the one place where a request changes state.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamped
from models.pdl import PDL_CHECK

TRANSFER_STATUSES = ("pending", "refused", "cancelled", "completed")
# How a request left `pending`, for each state it can reach: nothing else is allowed.
RESOLUTIONS: dict[str, tuple[str, ...]] = {
    "refused": ("refused_by_holder", "refused_by_admin"),
    "cancelled": ("cancelled_by_requester", "superseded", "requester_consent_expired"),
    "completed": ("accepted_by_holder", "approved_by_admin", "holder_consent_gone"),
}
TRANSITIONS: dict[str, frozenset[str]] = {"pending": frozenset(RESOLUTIONS)}
_ALL_RESOLUTIONS = tuple(r for rs in RESOLUTIONS.values() for r in rs)


class TransferStateError(ValueError):
    """A transition the state machine does not allow (the request was decided already)."""


class TransferRequest(Timestamped, Base):
    __tablename__ = "transfer_requests"
    __table_args__ = (
        CheckConstraint(f"pdl {PDL_CHECK}", name="pdl_14_digits"),
        CheckConstraint(f"status IN {TRANSFER_STATUSES!r}", name="status_known"),
        CheckConstraint(f"resolution = '' OR resolution IN {_ALL_RESOLUTIONS!r}", name="resolution_known"),
        CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name="decided_when_closed"),
        # One open request per requester and meter: asking twice is the same request.
        Index("uq_transfer_requests_pending", "pdl", "requester_id", unique=True,
              postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pdl: Mapped[str] = mapped_column(String(14), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The account holding the meter when the request was made; NULL when none did (its
    # previous holder deleted their account): then only an administrator decides.
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # The requester's consent whose callback claimed the meter.
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("enedis_consents.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    resolution: Mapped[str] = mapped_column(String(32), default="", server_default="")
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    def move_to(self, status: str, resolution: str, *, at: datetime, by: int | None = None) -> None:
        """Leave `pending` for `status`, saying how; raises TransferStateError for anything else."""
        if status not in TRANSITIONS.get(self.status, ()):
            raise TransferStateError(f"transfer request {self.id}: {self.status} cannot become {status}")
        if resolution not in RESOLUTIONS[status]:
            raise TransferStateError(f"transfer request {self.id}: {resolution!r} does not lead to {status}")
        self.status, self.resolution, self.decided_at, self.decided_by_id = status, resolution, at, by
