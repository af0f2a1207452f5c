"""Account and point operations (pipeline/accounts.py, pipeline/points.py), in the caller's transaction:
what reaches Valkey or the broker waits for the commit."""

import base64
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from models.audit import AuditLog
from models.cache import EncryptedCache
from models.consents import EnedisConsent
from models.db import commit
from models.keys import CONTRACT, progress_key
from models.users import User
from pipeline import accounts, points, queues, tasks, transfers

from factories import make_point, make_user


def onboardings(valkey) -> list[int]:
    out = []
    for raw in valkey.lrange(queues.INTERACTIVE, 0, -1):
        message = json.loads(raw)
        assert message["headers"]["task"] == tasks.ONBOARD
        out.append(json.loads(base64.b64decode(message["body"]))[1]["point_id"])
    return out


def test_accepting_a_consent_adds_audits_and_onboards_after_the_commit(session, valkey, celery_app):
    user = make_user(session, "zoe@example.org")
    consent = EnedisConsent(user_id=user.id, state_hash="s" * 64, duration="P1Y",
                            state_expires_at=datetime.now(UTC) + timedelta(minutes=10))
    session.add(consent)
    now = datetime(2026, 1, 31, 12, tzinfo=UTC)
    claims = points.accept_consent(session, celery_app, consent, ["95000000000001", "95000000000002"], now=now,
                                   ip="192.0.2.1")
    assert [c.outcome for c in claims] == [transfers.ADDED, transfers.ADDED]
    assert (consent.status, consent.started_at, consent.expires_at) == ("active", now, datetime(2027, 1, 31, 12,
                                                                                                 tzinfo=UTC))
    audits = session.scalars(select(AuditLog).where(AuditLog.action == "usage_point.added",
                                                    AuditLog.target.in_([c.pdl for c in claims]))).all()
    assert {(a.actor_id, a.target, a.ip_address) for a in audits} == {(user.id, "95000000000001", "192.0.2.1"),
                                                                      (user.id, "95000000000002", "192.0.2.1")}
    assert onboardings(valkey) == []  # not before the rows are committed
    commit(session)
    assert sorted(onboardings(valkey)) == sorted(c.point.id for c in claims)


def test_deleting_an_account_forgets_its_cache_only_once_committed(session, valkey, settings):
    user = make_user(session, "yves@example.org")
    point = make_point(session, user, "95000000000003")
    commit(session)  # a savepoint of the test's transaction: the rollback below keeps these rows
    cache = EncryptedCache.from_settings(valkey, settings)
    cache.put(user.id, CONTRACT, {"subscribed_power": "6 kVA"}, point=point.id)
    valkey.hset(progress_key(point.id), mapping={"total": 3, "done": 1})

    accounts.delete_account(session, settings, user.id, ip="192.0.2.1")
    session.rollback()  # the deletion did not happen: nothing is forgotten
    assert cache.get(user.id, CONTRACT, point=point.id) is not None

    accounts.delete_account(session, settings, user.id, ip="192.0.2.1")
    assert cache.get(user.id, CONTRACT, point=point.id) is not None
    commit(session)
    assert session.get(User, user.id) is None
    assert cache.get(user.id, CONTRACT, point=point.id) is None
    assert valkey.exists(progress_key(point.id)) == 0
    [deleted] = session.scalars(select(AuditLog).where(AuditLog.target == f"user:{user.id}")).all()
    assert (deleted.action, deleted.actor_id, deleted.ip_address) == ("account.deleted", None, "192.0.2.1")
