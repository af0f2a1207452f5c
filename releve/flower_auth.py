"""Flower as Relevé runs it: every page behind its basic auth, and a broker outage waited out quietly.

Flower 2 checks credentials only in handlers marked `@tornado.web.authenticated`; its
Prometheus metrics and its health check are not marked, so anyone who reaches the port reads
them (and the metrics name every task and worker). This entry point marks both handlers.

When the broker is out of reach, Flower's event thread logs an error at each attempt and
doubles its wait without limit (after a ten-minute outage it would look again only minutes
later), and its timer keeps asking the workers to send events through the broker that is down.
Here the event thread waits 1, 2, 4… up to RECONNECT_LONGEST seconds between attempts, logs
once when the broker goes and once when it is back, and the timer skips its call meanwhile.

Then it runs `celery … flower` unchanged: `python -m releve.flower_auth -A pipeline flower --port=…`.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

import tornado.web

log = logging.getLogger("releve.flower")
RECONNECT_LONGEST = 10.0  # seconds between two attempts to reach the broker, at most


def protect() -> None:
    """Put Flower's open handlers behind the same authentication as its other pages."""
    from flower.views.monitor import Healthcheck, Metrics

    for handler in (Metrics, Healthcheck):
        if not getattr(handler.get, "releve_protected", False):
            handler.get = tornado.web.authenticated(handler.get)
            handler.get.releve_protected = True


class Broker:
    """Whether the broker answered last time; each change is logged once."""

    def __init__(self):
        self.down_since: float | None = None
        self._lock = threading.Lock()

    def lost(self, error: BaseException) -> None:
        with self._lock:
            if self.down_since is not None:
                return
            self.down_since = time.monotonic()
        text = (str(error).strip().splitlines() or [""])[0][:200]
        log.warning("broker out of reach (%s: %s): retrying every %g s at most, quietly",
                    type(error).__name__, text, RECONNECT_LONGEST)

    def reached(self) -> None:
        with self._lock:
            since, self.down_since = self.down_since, None
        if since is not None:
            log.warning("broker reachable again after %.0f s: capturing events", time.monotonic() - since)


BROKER = Broker()


def capture_events(events) -> None:
    """Replaces `flower.events.Events.run`: capture events for ever, through any broker outage."""
    from celery.events import EventReceiver

    wait = 1.0
    while True:
        try:
            with events.capp.connection() as conn:
                conn.ensure_connection(max_retries=1, interval_start=0)  # raises at once when the broker is down
                BROKER.reached()
                wait = 1.0
                receiver = EventReceiver(conn, handlers={"*": events.on_event}, app=events.capp)
                receiver.capture(limit=None, timeout=None, wakeup=True)
        except (KeyboardInterrupt, SystemExit):
            import _thread

            _thread.interrupt_main()
            return
        except Exception as exc:  # noqa: BLE001 - any failure here is the broker's: wait and try again
            BROKER.lost(exc)
            time.sleep(wait)
            wait = min(wait * 2, RECONNECT_LONGEST)


def quiet_while_down() -> None:
    """Flower's event thread and its enable-events timer, through broker outages."""
    from flower.events import Events

    if getattr(Events.run, "releve_patched", False):
        return
    enable_events = Events.on_enable_events

    async def on_enable_events(self):
        if BROKER.down_since is None:  # the event thread says when it is back
            await enable_events(self)

    def run(self):
        capture_events(self)

    run.releve_patched = True
    Events.run = run
    Events.on_enable_events = on_enable_events


def main() -> None:
    protect()
    quiet_while_down()
    from celery.bin.celery import main as celery_main

    sys.argv = ["celery", *sys.argv[1:]]
    sys.exit(celery_main())


if __name__ == "__main__":
    main()
