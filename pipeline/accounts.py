"""Account operations that reach beyond PostgreSQL; roles and administrators are in `models/accounts.py`.

Views, the CLI and the admin area call the same functions. Each works in the caller's
session and does not commit; what must wait for the commit is handed to it.
"""

from __future__ import annotations

import logging

from celery import Celery
from redis import RedisError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models import access
from models.accounts import AdminRefused, check_may_act_on, guard_last_admin
from models.audit import record, user_target
from models.db import after_commit
from models.keys import forget_user
from models.settings import Settings
from models.usage_points import UsagePoint
from models.users import User
from models.valkey import get_client
from pipeline import tasks
from pipeline.celery_app import enqueue

log = logging.getLogger(__name__)


def delete_account(session: Session, settings: Settings, user_id: int, *, ip: str | None = None,
                   actor: User | None = None) -> None:
    """Delete an account and all of its data: by its holder (`actor` None), or by an administrator.

    The last active administrator is never deleted (LastAdmin). PostgreSQL cascades to its
    points, consents, API clients and roles; the audit log keeps a row without the address.
    Once that commits, what Valkey holds of it (cached readings, its points' progress and
    fetch claims) goes at once, not at its TTL.
    """
    user = session.get(User, user_id)
    if user is None:
        raise AdminRefused("Ce compte n'existe pas.")
    if actor is not None:
        check_may_act_on(actor, user, "supprimer")
    guard_last_admin(session, user)
    point_ids = list(session.scalars(select(UsagePoint.id).where(UsagePoint.user_id == user_id)))
    before = {"roles": sorted(r.name for r in user.roles), "active": user.is_active, "points": len(point_ids)}
    # A bulk DELETE passes by the ORM's hooks: its API secrets are refused now. The row is locked first, so
    # no client can be added to the account meanwhile (its insert waits, then finds no account).
    session.execute(select(User.id).where(User.id == user_id).with_for_update())
    access.changed(session, [user_id])
    session.execute(delete(User).where(User.id == user_id))
    if actor is None:
        record(session, "account.deleted", actor_id=None, target=user_target(user_id), ip=ip)
    else:
        record(session, "admin.user.deleted", actor_id=actor.id, target=user_target(user_id), ip=ip,
               before=before, after=None)
    client = get_client(settings.valkey_url)
    after_commit(session, lambda: forget_user(client, user_id, point_ids))


def forget_cache(session: Session, celery: Celery, settings: Settings, user_id: int, *, actor: User,
                 ip: str | None) -> int:
    """Drop what Valkey holds of an account (readings, progress, claims) and fetch its active points'
    history again, once `session` commits (audited). Returns how many points are fetched again."""
    user = session.get(User, user_id)
    if user is None:
        raise AdminRefused("Ce compte n'existe pas.")
    points = list(session.execute(select(UsagePoint.id, UsagePoint.status).where(UsagePoint.user_id == user_id)))
    point_ids = [pid for pid, _ in points]
    active = [pid for pid, status in points if status == "active"]
    record(session, "admin.user.cache_forgotten", actor_id=actor.id, target=user_target(user_id), ip=ip,
           points=len(point_ids), refetched=len(active))
    client = get_client(settings.valkey_url)

    def forget() -> None:
        try:
            forget_user(client, user_id, point_ids)
        except RedisError as exc:  # the entries expire with their TTL anyway
            log.error("cache of account %s not forgotten: %s", user_id, exc)

    after_commit(session, forget)  # before the onboarding below: after_commit work runs in order
    for point_id in active:
        enqueue(celery, tasks.ONBOARD, {"point_id": point_id}, session=session)
    return len(active)


def reset_api_quotas(session: Session, settings: Settings, user_id: int, *, actor: User, ip: str | None) -> None:
    """An administrator gives an account's API clients their quotas back (audited), once `session` commits."""
    from pipeline.api import reset_user_quotas

    if session.get(User, user_id) is None:
        raise AdminRefused("Ce compte n'existe pas.")
    record(session, "admin.user.quota_reset", actor_id=actor.id, target=user_target(user_id), ip=ip)
    client = get_client(settings.valkey_url)

    def reset() -> None:
        try:
            reset_user_quotas(session, client, settings, user_id)
        except RedisError as exc:  # the counters end with their day anyway
            log.error("API quotas of account %s not reset: %s", user_id, exc)

    after_commit(session, reset)
