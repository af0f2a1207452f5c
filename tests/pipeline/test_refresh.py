"""The morning refresh pass: one message per active point, onboarding for points never onboarded."""

import base64
import json

import pytest



@pytest.fixture
def committed_points(accounts):
    """Points committed for real: the task reads them through its own session."""
    user = accounts.user()
    (new,) = accounts.points(["91000000000001"], user=user)
    (known,) = accounts.points(["91000000000002"], user=user, kind="consumption")
    (revoked,) = accounts.points(["91000000000003"], user=user, kind="consumption", status="consent_needed",
                                 status_reason="ADAM-DC-0008")
    return {"new": new.id, "known": known.id, "revoked": revoked.id}


def queued(valkey, queue: str) -> list[tuple[str, int]]:
    """(task name, point id) of the messages waiting in a queue."""
    out = []
    for raw in valkey.lrange(queue, 0, -1):
        message = json.loads(raw)
        args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        out.append((message["headers"]["task"], kwargs["point_id"]))
    return sorted(out)


def test_refresh_pass(celery_app, valkey, committed_points):
    from pipeline.tasks import REFRESH_ALL

    refresh_all = celery_app.tasks[REFRESH_ALL]

    assert refresh_all.apply(kwargs={"now": "2026-11-25T07:30:00+01:00"}).get() == 0  # not published yet
    assert refresh_all.apply(kwargs={"now": "2026-11-25T08:15:00+01:00"}).get() == 2
    assert queued(valkey, "refresh") == sorted([("releve.enedis.onboard", committed_points["new"]),
                                                ("releve.enedis.refresh_point", committed_points["known"])])
    assert refresh_all.apply(kwargs={"now": "2026-11-25T08:40:00+01:00"}).get() == 0  # once per pass
    assert valkey.llen("refresh") == 2
