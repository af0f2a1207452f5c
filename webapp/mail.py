"""Outgoing mail from the web app: handed to the workers, never sent inside the request."""

from __future__ import annotations

import logging

from kombu.exceptions import KombuError
from redis import RedisError

from models.settings import Settings
from pipeline.tasks.mail import enqueue_mail

log = logging.getLogger(__name__)


def send_mail(settings: Settings, to: str, subject: str, body: str) -> bool:
    """Queue a mail for a worker (`releve.mail.send`); False, logged, when the broker cannot take it.

    `settings` are the web app's; the worker delivers with its own (the same environment).
    """
    try:
        enqueue_mail(to, subject, body)
        return True
    except (RedisError, KombuError) as exc:
        log.warning("mail not queued (%s): %s", subject, exc)  # never the address nor the body
        return False
