"""pipeline/broker_fixes.py: a worker that loses Valkey while it holds unacknowledged messages survives.

Real Valkey, real kombu: a message is taken without acknowledging it, then the connection is detached
from its transport as Celery's consumer does when the broker goes away, and the channel is closed.
Without the fix kombu raises AttributeError there, which ends a worker ("Unrecoverable error").
"""

from __future__ import annotations

import kombu

import pipeline.celery_app  # noqa: F401 - applies the fix, as in every worker


def test_closing_a_channel_whose_connection_is_gone_keeps_its_messages_for_the_broker(settings, valkey):
    queue = kombu.Queue("releve-test-broker-fix", routing_key="releve-test-broker-fix")
    connection = kombu.Connection(settings.valkey_url)
    channel = connection.channel()
    kombu.Producer(channel).publish({"window": 1}, routing_key=queue.routing_key, declare=[queue])
    message = queue(channel).get(no_ack=False)
    assert message is not None and message.payload == {"window": 1}

    channel._disconnect_pools()  # what kombu does on a connection error
    connection._do_close_transport()  # what releasing the consumer's connection does
    channel.close()  # raised AttributeError before the fix

    # The message was not lost: it waits in the broker's unacknowledged set for the visibility timeout.
    assert valkey.hexists("unacked", message.delivery_tag)
    valkey.delete("unacked", "unacked_index", "releve-test-broker-fix")
