"""Queue names, and which queue each task goes to: written once, here.

The Celery app declares exactly these queues and refuses any other name
(`task_create_missing_queues=False`), so a typo fails at once instead of filling a queue no
worker reads. Senders name no queue: `task_routes` (built from `route`) chooses it. The
names are part of the deployment (Procfile, docker-compose.yml, `releve worker --queues`)
and of messages already queued, so they never change.
"""

from __future__ import annotations

from typing import Any

from pipeline import tasks

INTERACTIVE = "interactive"  # a person waits: page fetches, onboarding after consent, transfer checks, simulations
REFRESH = "refresh"  # the refresh passes after each Enedis publication
BACKFILL = "backfill"  # a point's history, after onboarding
RTE = "rte"  # RTE's public data
MAIL = "mail"  # verification, reset and notice mails: a person waits for them
DEFAULT = "default"  # housekeeping (tokens, heartbeat)
ALL = (INTERACTIVE, REFRESH, BACKFILL, RTE, MAIL, DEFAULT)

ROUTES = {
    tasks.FETCH_WINDOW: INTERACTIVE,  # a backfill window goes to BACKFILL (see `route`)
    tasks.ONBOARD: INTERACTIVE,
    tasks.REFRESH_POINT: REFRESH,
    tasks.REFRESH_ALL: REFRESH,
    tasks.TEMPO_TOMORROW: RTE,
    tasks.TEMPO_SEASON: RTE,
    tasks.TEMPO_HISTORY: RTE,
    tasks.ECOWATT: RTE,
    tasks.NATIONAL_CONSUMPTION: RTE,
    tasks.RENEW_TOKENS: DEFAULT,
    tasks.HEARTBEAT: DEFAULT,
    tasks.SEND_MAIL: MAIL,
    tasks.HOLDER_CONSENT_GONE: INTERACTIVE,
    tasks.RESUME_BACKFILLS: DEFAULT,
    tasks.RESEND_UNSENT: DEFAULT,
    tasks.SIMULATE: INTERACTIVE,  # a person waits for the simulator's answer
    tasks.FETCH_CUSTOMER: INTERACTIVE,  # an API client waits for a contract or an address
}


def route(name: str, args: Any, kwargs: dict | None, options: dict, task=None, **_kw) -> dict[str, str] | None:
    """Celery router: the queue of task `name` (a queue given explicitly by the sender wins)."""
    if name == tasks.FETCH_WINDOW and (kwargs or {}).get("backfill"):
        return {"queue": BACKFILL}
    queue = ROUTES.get(name)
    return {"queue": queue} if queue else None
