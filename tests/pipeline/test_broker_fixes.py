"""pipeline/broker_fixes.py: a worker that loses Valkey while it holds unacknowledged messages survives.

Real Valkey, real kombu: a message is taken without acknowledging it, then the connection is detached
from its transport as Celery's consumer does when the broker goes away; then the channel is closed,
or the message rejected. Without the fix kombu raises AttributeError there, which ends a worker
("Unrecoverable error"); with it, a connection error, which Celery logs and survives.
"""

from __future__ import annotations

import logging
import sys

import kombu
import pytest
import redis

import pipeline.celery_app  # noqa: F401 - applies the fix, as in every worker
from pipeline.outages import QuietRejects


QUEUE = kombu.Queue("releve-test-broker-fix", routing_key="releve-test-broker-fix")


def taken_then_cut_off(url: str):
    """A message taken and not acknowledged, on a channel whose connection then went away."""
    connection = kombu.Connection(url)
    channel = connection.channel()
    kombu.Producer(channel).publish({"window": 1}, routing_key=QUEUE.routing_key, declare=[QUEUE])
    message = QUEUE(channel).get(no_ack=False)
    assert message is not None and message.payload == {"window": 1}
    channel._disconnect_pools()  # what kombu does on a connection error
    connection._do_close_transport()  # what releasing the consumer's connection does
    return channel, message


def test_closing_a_channel_whose_connection_is_gone_keeps_its_messages_for_the_broker(settings, valkey):
    channel, message = taken_then_cut_off(settings.valkey_url)
    channel.close()  # raised AttributeError before the fix

    # The message was not lost: it waits in the broker's unacknowledged set for the visibility timeout.
    assert valkey.hexists("unacked", message.delivery_tag)
    valkey.delete("unacked", "unacked_index", QUEUE.name)


def test_rejecting_a_message_on_a_channel_whose_connection_is_gone_is_a_connection_error(settings, valkey):
    channel, message = taken_then_cut_off(settings.valkey_url)
    with pytest.raises(redis.exceptions.ConnectionError):  # logged by Celery ("Couldn't reject"), not fatal
        message.reject(requeue=True)  # raised AttributeError before the fix
    assert valkey.hexists("unacked", message.delivery_tag)
    channel.close()
    valkey.delete("unacked", "unacked_index", QUEUE.name)


def test_celery_says_in_one_warning_line_that_it_could_not_give_a_message_back():
    try:
        raise redis.exceptions.ConnectionError("this channel's broker connection is closed")
    except redis.exceptions.ConnectionError:
        record = logging.LogRecord("celery.worker.request", logging.CRITICAL, __file__, 1,
                                   "Couldn't reject %r, reason: %r", ("tag", "ConnectionError"), sys.exc_info())
    assert QuietRejects().filter(record)
    assert (record.levelname, record.exc_info) == ("WARNING", None)

    try:
        raise KeyError("a bug, not an outage")
    except KeyError:
        bug = logging.LogRecord("celery.worker.request", logging.CRITICAL, __file__, 1,
                                "Couldn't reject %r, reason: %r", ("tag", "KeyError"), sys.exc_info())
    assert QuietRejects().filter(bug)
    assert bug.levelname == "CRITICAL" and bug.exc_info is not None  # anything else keeps its traceback
