"""The mail task: the web app queues, a worker delivers; an SMTP server that is down means "later"."""

import pytest

from models.settings import Settings
from pipeline.celery_app import create_celery
from pipeline.clients.base import Unavailable
from pipeline.tasks import SEND_MAIL
from tests_helpers import free_port


def test_the_task_writes_the_outbox_without_smtp(env_for, tmp_path):
    send_mail = create_celery(Settings.from_env(env_for(MAIL_OUTBOX_DIR=str(tmp_path)))).tasks[SEND_MAIL]
    send_mail(to="zoe@example.org", subject="Relevé : essai", body="Bonjour.\n")
    [mail] = tmp_path.glob("*.eml")
    assert b"To: zoe@example.org" in mail.read_bytes()


def test_an_unreachable_smtp_server_is_tried_again_later(env_for, tmp_path):
    send_mail = create_celery(Settings.from_env(env_for(MAIL_OUTBOX_DIR=str(tmp_path), SMTP_HOST="127.0.0.1",
                                                        SMTP_PORT=str(free_port())))).tasks[SEND_MAIL]

    # Called directly, the task's retry re-raises what it would retry on (a worker reschedules it).
    with pytest.raises(Unavailable, match="SMTP"):
        send_mail(to="zoe@example.org", subject="Relevé : essai", body="Bonjour.\n")
    assert list(tmp_path.glob("*.eml")) == []
