"""Outgoing mail from the web app: handed to the workers, never sent inside the request."""

from __future__ import annotations

import logging

from kombu.exceptions import KombuError
from redis import RedisError

from pipeline.tasks.mail import enqueue_mail
from webapp.extensions import celery

log = logging.getLogger(__name__)


def send_mail(to: str, subject: str, body: str) -> bool:
    """Queue a mail for a worker (`releve.mail.send`); False, logged, when the broker cannot take it."""
    try:
        enqueue_mail(celery(), to, subject, body)
        return True
    except (RedisError, KombuError) as exc:
        log.warning("mail not queued (%s): %s", subject, exc)  # never the address nor the body
        return False
