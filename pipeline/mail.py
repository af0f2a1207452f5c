"""Delivering a mail: SMTP when configured, else a local outbox (`releve dev` prints it).

Runs in a worker (the `releve.mail.send` task, queue `mail`), never in a web request;
workers that mail themselves (a meter transferred when its holder's consent ends) queue
the same task.
"""

from __future__ import annotations

import logging
import os
import smtplib
import time
from email.message import EmailMessage
from pathlib import Path

from models.settings import ConfigError, Settings

log = logging.getLogger(__name__)


def deliver(settings: Settings, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.mail_from, to, subject
    message.set_content(body)
    if not settings.smtp_host:
        if settings.is_production:  # a disk full of working reset links is no way to send mail
            raise ConfigError("SMTP_HOST", "is required to send mail when RELEVE_ENV=production (no outbox)")
        outbox = Path(settings.mail_outbox_dir)
        outbox.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = outbox / f"{time.time_ns()}.eml"
        # Only this user reads it: it holds single-use links.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(bytes(message))
        log.info("mail to the outbox: %s", path.name)  # never the body: it holds single-use links
        return
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password)
        smtp.send_message(message)
