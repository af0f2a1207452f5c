"""The simulator: every offer at a meter's power priced over its last year of readings, ranked.

It runs on the `interactive` queue (a person waits) and says where it stands in the cache
(`pipeline.costs.set_progress`, which the page's JSON twin reads):

1. fetching — the year's readings not cached yet are fetched first, window by window, from
   the same per-person budget as the pages' fetches (`pipeline.ratelimit.spend_interactive`).
   When the budget is spent with windows left, the task waits for it (it runs again when the
   budget's window ends: `waiting`, with the time it resumes), for at most MAX_ROUNDS rounds,
   and only while the previous round fetched something; then it prices what it has, and the
   page says how much is missing.
2. computing — `pipeline.costs.simulate`: the engine, from the cache only;
3. done — the result is sealed in the cache like readings (`keys.SIMULATION`), for
   `CACHE_TTL_SECONDS`; or failed, with a French message.

Idempotent: a run again (acks_late, a retry) finds the windows already fetched in the cache.
No transaction is held while Enedis answers.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from celery import shared_task
from celery.exceptions import Retry

from models.keys import SIMULATION
from models.series import SERIES
from models.usage_points import UsagePoint
from models.valkey import get_client
from pipeline import tasks
from pipeline.clients.base import Throttled, Unavailable
from pipeline.costs import CURVE, DAILY, offer_choice, read_progress, set_progress, subscribed_kva, year_back
from pipeline.costs import simulate as simulate_offers
from pipeline.ratelimit import interactive_budget_resets_in, spend_interactive
from pipeline.series import windows_for_days
from pipeline.tasks.base import ReleveTask
from pipeline.tasks.enedis import PointState, fetch_into_cache, save_point

log = logging.getLogger(__name__)
MAX_ROUNDS = 12  # budget windows waited for at most (5 minutes each)

NO_POWER = ("La puissance souscrite de ce compteur n'est pas encore connue (son contrat n'a pas encore été lu) : "
            "la simulation ne peut pas choisir les offres à comparer. Réessayez dans quelques minutes.")
FAILED = "La simulation a échoué de façon inattendue. Réessayez dans quelques minutes."


def windows_to_fetch(task: ReleveTask, point: PointState, series: str, first: date, last: date) -> list[tuple[date, date]]:
    """The windows covering the days of [first, last] not cached (a day cached but not final yet is left to the
    morning refresh), newest first."""
    read = task.services.cache.read_range(point.user_id, point.id, series, first, last + timedelta(days=1))
    return windows_for_days(SERIES[series], sorted(set(read.missing) - set(read.partial)))


@shared_task(bind=True, base=ReleveTask, name=tasks.SIMULATE)
def simulate(self: ReleveTask, point_id: int, last: str, round: int = 0) -> dict[str, Any]:  # noqa: A002
    """Price every offer at the point's power over the year ending on `last`, after fetching what is missing."""
    cache = self.services.cache
    with self.session() as session:
        row = session.get(UsagePoint, point_id)
        if row is None:
            log.info("point %s no longer exists", point_id)
            return {"status": "skipped"}
        point = PointState.of(row)
        kva = subscribed_kva(cache, row)
    if kva is None:
        set_progress(cache, point.user_id, point.id, "failed", message=NO_POWER, last=last)
        return {"status": "no-power"}
    last_day = date.fromisoformat(last)
    first = year_back(last_day)
    try:
        outcome = _fetch(self, point, first, last_day, last, round)
        if outcome.get("status") == "wait":
            raise self.retry(kwargs={"point_id": point_id, "last": last, "round": round + 1},
                             countdown=outcome["countdown"])
        set_progress(cache, point.user_id, point.id, "computing", done=outcome["done"], total=outcome["total"],
                     last=last)
        with self.session() as session:  # no upstream call inside
            row = session.get(UsagePoint, point_id)
            if row is None:
                return {"status": "skipped"}
            result = simulate_offers(session, cache, row, offer_choice(session, cache, row), first, last_day)
        result["unfetched_windows"] = outcome["left"]
        result["fetch_stopped"] = outcome.get("stopped")
        cache.put(point.user_id, SIMULATION, result, point=point.id)
        set_progress(cache, point.user_id, point.id, "done", done=outcome["done"], total=outcome["total"], last=last)
        return {"status": "ok", "offers": len(result["offer_ids"]), "left": outcome["left"]}
    except Retry:  # waiting for the budget: `waiting` is already recorded
        raise
    except Throttled as exc:  # the retry policy runs it again after the announced wait
        set_progress(cache, point.user_id, point.id, "waiting", last=last,
                     resume_at=datetime.now(UTC) + timedelta(seconds=exc.retry_after),
                     message="Enedis demande de patienter : la récupération reprend d'elle-même.")
        raise
    except Unavailable:
        set_progress(cache, point.user_id, point.id, "waiting", last=last, resume_at=datetime.now(UTC) + timedelta(minutes=1),
                     message="Enedis ne répond pas pour l'instant : nouvel essai dans un moment.")
        raise
    except Exception:
        set_progress(cache, point.user_id, point.id, "failed", message=FAILED, last=last)
        raise


def _fetch(task: ReleveTask, point: PointState, first: date, last: date, last_text: str, round: int) -> dict[str, Any]:
    """Fetch the missing windows within the person's budget; what is left, and whether to wait for more budget."""
    cache = task.services.cache
    client = get_client(task.settings.valkey_url)
    series = CURVE if point.load_curve_enabled else DAILY
    windows = windows_to_fetch(task, point, series, first, last) if point.status == "active" else []
    before_progress = read_progress(cache, point.user_id, point.id) if round else None
    total = max(len(windows), (before_progress or {}).get("total") or 0) if round else len(windows)
    done = total - len(windows)
    set_progress(cache, point.user_id, point.id, "fetching", done=done, total=total, last=last_text)
    before = dataclasses.replace(point)
    fetched, stopped = 0, None
    try:
        for start, end in windows:
            if point.status != "active":
                stopped = "consent"
                break
            if not spend_interactive(client, point.user_id):
                stopped = "budget"
                break
            fetch_into_cache(task, point, series, start, end)
            fetched += 1
            done += 1
            set_progress(cache, point.user_id, point.id, "fetching", done=done, total=total, last=last_text)
    finally:
        save_point(task, point, before)  # what was learnt (consent gone, no load curve) is kept even on a retry
    left = len(windows) - fetched
    if stopped == "budget" and left and round < MAX_ROUNDS and (fetched or round == 0):
        countdown = interactive_budget_resets_in(client, point.user_id) + 1
        set_progress(cache, point.user_id, point.id, "waiting", done=done, total=total, last=last_text,
                     resume_at=datetime.now(UTC) + timedelta(seconds=countdown),
                     message="Limite de récupération par personne atteinte : la suite reprend d'elle-même.")
        return {"status": "wait", "countdown": countdown}
    if series == CURVE and not point.load_curve_enabled:  # Enedis said it is not collected: daily energy, then
        return _fetch(task, point, first, last, last_text, round)
    return {"status": "fetched", "done": done, "total": total, "left": left, "stopped": stopped if left else None}
