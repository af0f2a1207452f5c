"""Account operations that reach beyond PostgreSQL; roles and administrators are in `models/accounts.py`.

Views, the CLI and the admin area to come call the same functions. Each works in the
caller's session and does not commit; what must wait for the commit is handed to it.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models.audit import AuditLog
from models.db import after_commit
from models.keys import forget_user
from models.settings import Settings
from models.usage_points import UsagePoint
from models.users import User
from models.valkey import get_client


def delete_account(session: Session, settings: Settings, user_id: int, *, ip: str | None = None) -> None:
    """Delete an account and all of its data.

    PostgreSQL cascades to its points, consents, API clients and roles; the audit log keeps a
    row without the actor. Once that commits, what Valkey holds of it (cached readings, its
    points' progress and fetch claims) goes at once, not at its TTL.
    """
    point_ids = list(session.scalars(select(UsagePoint.id).where(UsagePoint.user_id == user_id)))
    session.execute(delete(User).where(User.id == user_id))
    session.add(AuditLog(actor_id=None, action="account.deleted", target=f"user:{user_id}", ip_address=ip))
    client = get_client(settings.valkey_url)
    after_commit(session, lambda: forget_user(client, user_id, point_ids))
