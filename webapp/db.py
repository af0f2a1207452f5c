"""The request's database session."""

from flask import current_app, request
from flask_login import current_user
from sqlalchemy.orm import Session

from models.audit import AuditLog


def db() -> Session:
    return current_app.extensions["releve_db"]()


def audit(action: str, target: str = "", actor_id: int | None = None, **details) -> None:
    """Record who did what to what, from which address, in the request's session."""
    db().add(AuditLog(actor_id=current_user.id if actor_id is None else actor_id, action=action, target=target,
                      ip_address=request.remote_addr or None, details=details))
