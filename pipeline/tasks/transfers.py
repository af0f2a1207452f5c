"""Transfer requests that wait for the holder's access at Enedis to end."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from celery import shared_task

from pipeline import tasks, transfers
from pipeline.tasks.base import ReleveTask


@shared_task(bind=True, base=ReleveTask, name=tasks.HOLDER_CONSENT_GONE)
def holder_consent_gone(self: ReleveTask, pdl: str) -> dict[str, Any]:
    """The holder's point of `pdl` needs a new consent: complete the request waiting for it (idempotent)."""
    with self.session() as session:
        done = transfers.complete_if_holder_gone(session, pdl, now=datetime.now(UTC))
        if done is not None:
            transfers.after_transfer(session, self.app, done)
    if done is None:
        return {"status": "nothing-to-do"}
    return {"status": "transferred", "request_id": done.request_id, "point_id": done.new_point_id}
