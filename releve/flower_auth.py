"""Flower with every page behind its basic auth, `/metrics` and `/healthcheck` included.

Flower 2 checks credentials only in handlers marked `@tornado.web.authenticated`; its
Prometheus metrics and its health check are not marked, so anyone who reaches the port reads
them (and the metrics name every task and worker). This entry point marks both handlers, then
runs `celery … flower` unchanged: `python -m releve.flower_auth -A pipeline flower --port=…`.
"""

from __future__ import annotations

import sys

import tornado.web


def protect() -> None:
    """Put Flower's open handlers behind the same authentication as its other pages."""
    from flower.views.monitor import Healthcheck, Metrics

    for handler in (Metrics, Healthcheck):
        if not getattr(handler.get, "releve_protected", False):
            handler.get = tornado.web.authenticated(handler.get)
            handler.get.releve_protected = True


def main() -> None:
    protect()
    from celery.bin.celery import main as celery_main

    sys.argv = ["celery", *sys.argv[1:]]
    sys.exit(celery_main())


if __name__ == "__main__":
    main()
