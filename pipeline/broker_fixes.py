"""Fixes for kombu's Redis transport, applied when `pipeline.celery_app` is imported.

When a worker loses Valkey (the broker), Celery closes the consumer's connection, which detaches
the transport from its channels. Two things then reach a channel without a connection:
- closing the channel gives the messages not yet acknowledged back to the queue;
- a task that gave its message back while the broker was down (`Reject(requeue=True)`, see
  pipeline/tasks/base.py) has it rejected a moment later, on the old channel.
kombu 5.x needs a Redis client for either, builds one from the connection, which is gone, and raises
`AttributeError: 'NoneType' object has no attribute 'hostname'` (or `'client'`); Celery calls it an
"Unrecoverable error" and the worker exits. Seen here in tests/pipeline/test_outages.py under load;
the same failure at shutdown is kombu issue #970.

With the connection gone there is no broker to talk to: the messages stay in the broker's "unacked"
hash, and any worker restores them once the visibility timeout has passed (backfill windows sooner,
through the recovery check: pipeline/backfill.py). So a channel without a connection says so with a
connection error, which Celery logs and survives, and closing it leaves those messages with the
broker; the worker reconnects as for any other broker outage.
"""

from __future__ import annotations

import logging

import redis
from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)

_restore_unacked = kombu_redis.QoS.restore_unacked
_create_client = kombu_redis.Channel._create_client


def _connection_gone(channel: kombu_redis.Channel) -> bool:
    transport = channel.connection
    return transport is None or getattr(transport, "client", None) is None


def create_client(self: kombu_redis.Channel, asynchronous: bool = False):
    pool = self._async_pool if asynchronous else self._pool
    if pool is None and _connection_gone(self):
        raise redis.exceptions.ConnectionError("this channel's broker connection is closed")
    return _create_client(self, asynchronous)


def restore_unacked(self: kombu_redis.QoS, client=None):
    if client is None and _connection_gone(self.channel):
        if self._delivered:
            log.warning("%d unacknowledged message(s) left with the broker (its connection is gone): "
                        "restored after the visibility timeout", len(self._delivered))
        self._delivered.clear()
        return None
    return _restore_unacked(self, client)


def apply() -> None:
    kombu_redis.QoS.restore_unacked = restore_unacked
    kombu_redis.Channel._create_client = create_client
