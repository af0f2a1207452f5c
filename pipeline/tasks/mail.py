"""Mail: the web app queues, a worker delivers (SMTP or the development outbox)."""

from __future__ import annotations

import logging
import smtplib

from celery import Celery, shared_task

from pipeline import tasks
from pipeline.celery_app import enqueue
from pipeline.clients.base import Unavailable
from pipeline.mail import deliver
from pipeline.tasks.base import ReleveTask

log = logging.getLogger(__name__)


class MailTask(ReleveTask):
    abstract = True
    keep_if_unsent = False  # a body holds single-use links: never stored in PostgreSQL

    def message_options(self, kwargs):
        return hidden(kwargs.get("subject", ""))  # a rescheduled mail shows no more than the first message


@shared_task(bind=True, base=MailTask, name=tasks.SEND_MAIL, ignore_result=True)
def send_mail(self: ReleveTask, to: str, subject: str, body: str) -> None:
    """Deliver one mail; an SMTP server that is down or refuses for now is tried again later."""
    try:
        deliver(self.settings, to, subject, body)
    except smtplib.SMTPRecipientsRefused:
        log.warning("mail refused by the SMTP server for its recipient (%s): dropped", subject)
    except (smtplib.SMTPException, OSError) as exc:
        raise Unavailable(f"SMTP: {exc}", upstream="smtp") from exc  # the retry policy: later


def hidden(subject: str) -> dict[str, str]:
    """What worker logs, task events and Flower show of a mail's arguments: its subject only
    (a body holds single-use links, an address is personal data)."""
    return {"argsrepr": "()", "kwargsrepr": repr({"subject": subject})}


def enqueue_mail(celery: Celery, to: str, subject: str, body: str, **how) -> None:
    """Queue a mail (on the `mail` queue); `how`: enqueue's session and on_error."""
    enqueue(celery, tasks.SEND_MAIL, dict(to=to, subject=subject, body=body), **how, **hidden(subject))
