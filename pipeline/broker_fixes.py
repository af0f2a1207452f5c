"""A fix for kombu's Redis transport, applied when `pipeline.celery_app` is imported.

When a worker loses Valkey (the broker) while it holds messages not yet acknowledged, Celery closes
the consumer's connection, which detaches the transport from it, and then closes the channel, which
tries to give those messages back to the queue through that connection: kombu 5.x raises
`AttributeError: 'NoneType' object has no attribute 'hostname'` (`_connparams` reads the detached
connection), Celery calls it an "Unrecoverable error" and the worker exits. Seen here in
tests/pipeline/test_outages.py under load; the same failure at shutdown is kombu issue #970.

With the connection gone there is no broker to give them back to anyway: they stay in the broker's
"unacked" hash, and any worker restores them once the visibility timeout has passed (backfill
windows sooner, through the recovery check: pipeline/backfill.py). So the channel leaves them there
and the worker reconnects, as it does for any other broker outage.
"""

from __future__ import annotations

import logging

from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)

_restore_unacked = kombu_redis.QoS.restore_unacked


def restore_unacked(self: kombu_redis.QoS, client=None):
    transport = self.channel.connection
    if client is None and (transport is None or getattr(transport, "client", None) is None):
        if self._delivered:
            log.warning("%d unacknowledged message(s) left with the broker (its connection is gone): "
                        "restored after the visibility timeout", len(self._delivered))
        self._delivered.clear()
        return None
    return _restore_unacked(self, client)


def apply() -> None:
    kombu_redis.QoS.restore_unacked = restore_unacked
