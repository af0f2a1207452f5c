"""The refresh passes: one message per used active point, onboarding for points never onboarded; a used
point's series fetched once a day once its days are there (sandbox over HTTP)."""

import base64
import json
from datetime import date, datetime, timedelta

import pytest

from models.calendar import PARIS, today_paris
from models.keys import CONTRACT
from pipeline import tasks
from pipeline.services import services



@pytest.fixture
def committed_points(accounts):
    """Points committed for real: the task reads them through its own session."""
    user = accounts.user()
    (new,) = accounts.points(["91000000000001"], user=user)
    (known,) = accounts.points(["91000000000002"], user=user, kind="consumption")
    (revoked,) = accounts.points(["91000000000003"], user=user, kind="consumption", status="consent_needed",
                                 status_reason="ADAM-DC-0008")
    (unused,) = accounts.points(["91000000000004"], user=user, kind="consumption")
    return {"new": new.id, "known": known.id, "revoked": revoked.id, "unused": unused.id, "user": user.id}


def queued(valkey, queue: str) -> list[tuple[str, int]]:
    """(task name, point id) of the messages waiting in a queue."""
    out = []
    for raw in valkey.lrange(queue, 0, -1):
        message = json.loads(raw)
        args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        out.append((message["headers"]["task"], kwargs["point_id"]))
    return sorted(out)


def test_refresh_pass(celery_app, valkey, settings, committed_points):
    from pipeline.tasks import REFRESH_ALL

    refresh_all = celery_app.tasks[REFRESH_ALL]
    # Its owner looked at "known" (a page or the API read it); nobody read "unused" lately.
    services(settings).cache.read_range(committed_points["user"], committed_points["known"], "daily_consumption",
                                        date(2026, 11, 1), date(2026, 11, 2))

    assert refresh_all.apply(kwargs={"now": "2026-11-25T07:30:00+01:00"}).get() == 0  # not published yet
    assert refresh_all.apply(kwargs={"now": "2026-11-25T08:15:00+01:00"}).get() == 2
    assert queued(valkey, "refresh") == sorted([("releve.enedis.onboard", committed_points["new"]),
                                                ("releve.enedis.refresh_point", committed_points["known"])])
    assert refresh_all.apply(kwargs={"now": "2026-11-25T08:40:00+01:00"}).get() == 0  # once per pass
    assert valkey.llen("refresh") == 2


PRM = "12345678901234"  # sandbox customer 3: consumption, load curve collected


@pytest.fixture(scope="module")
def sandbox_config():
    return {"REGISTER_ALL": True}


@pytest.fixture
def upstream(sandbox, celery_app, settings, accounts, valkey):
    """The sandbox over HTTP and a committed consumption point (deleted afterwards)."""
    (point,) = accounts.points([PRM], kind="consumption")
    sandbox.point = point
    sandbox.cache = services(settings).cache
    sandbox.run = lambda name, **kw: celery_app.tasks[name].apply(kwargs={"point_id": point.id, **kw}).get()
    return sandbox


def data_calls(sandbox, since: float) -> dict[str, int]:
    out: dict[str, int] = {}
    for call in sandbox.state.calls_since(since):
        if call.api == "enedis" and "/metering_data" in call.path:
            out[call.path.rsplit("/", 1)[-1]] = out.get(call.path.rsplit("/", 1)[-1], 0) + 1
    return out


def test_a_used_point_costs_one_call_per_series_a_day_and_the_contract_once_a_week(upstream):
    import time

    point, cache = upstream.point, upstream.cache
    today = today_paris()
    # Past 08:00 whenever the test runs (the sandbox publishes D-1 from then); reset by the fixture.
    upstream.state.set_clock(datetime.combine(today, datetime.min.time(), PARIS).replace(hour=12))
    since = time.time()
    first = upstream.run(tasks.REFRESH_POINT)  # the first pass of the day: D-3 … D-1 of each series
    assert set(first) == {"daily_consumption", "max_power", "load_curve", "contract"}
    assert data_calls(upstream, since) == {"daily_consumption": 1, "daily_consumption_max_power": 1,
                                          "consumption_load_curve": 1}
    read = cache.read_range(point.user_id, point.id, "daily_consumption", today - timedelta(days=3), today,
                            renew=False)
    assert set(read.days) == {today - timedelta(days=n) for n in (1, 2, 3)}
    assert read.partial  # D-1 and D-2 are not final yet: fetched again, but by tomorrow's first pass
    for _ in range(4):  # the day's other passes
        assert upstream.run(tasks.REFRESH_POINT) == {"contract": {"status": "cached"}}
    assert sum(data_calls(upstream, since).values()) == 3
    contracts = [c for c in upstream.state.calls_since(since) if c.path.endswith("/contracts")]
    assert len(contracts) == 1  # onboarding had not cached it: fetched once, then not for a week

    # A day gone from the cache (expired) is fetched at the next pass, whatever the claim of the day.
    cache.client.delete(cache.key(point.user_id, f"daily_consumption:{today - timedelta(days=1)}", point.id))
    again = upstream.run(tasks.REFRESH_POINT)
    assert again["daily_consumption"]["status"] == "ok" and set(again) == {"daily_consumption", "contract"}
    # The contract stays as long as its owner reads it; a copy that expired is fetched at the next pass.
    cache.delete(point.user_id, CONTRACT, point=point.id)
    assert upstream.run(tasks.REFRESH_POINT)["contract"] == {"status": "ok"}
