"""Outgoing mail from the web app: handed to the workers, never sent inside the request."""

from __future__ import annotations

import logging

from pipeline.tasks.mail import enqueue_mail
from webapp.db import db
from webapp.extensions import celery

log = logging.getLogger(__name__)


def send_mail(to: str, subject: str, body: str) -> None:
    """Queue a mail for a worker (`releve.mail.send`) once the request commits; logged when the broker cannot take it."""
    enqueue_mail(celery(), to, subject, body, session=db(),
                 on_error=lambda exc: log.warning("mail not queued (%s): %s", subject, exc))  # never the address nor the body
