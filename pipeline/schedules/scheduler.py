"""The beat scheduler: redbeat (state and single-beat lock in Valkey) plus a heartbeat."""

from __future__ import annotations

import time

from redbeat import RedBeatScheduler

from models.keys import BEAT_HEARTBEAT_KEY
from models.valkey import get_client


class ReleveScheduler(RedBeatScheduler):
    """Writes the time of every tick to Valkey so /healthz can tell beat is alive."""

    def tick(self, *args, **kwargs):
        interval = super().tick(*args, **kwargs)
        # Only the beat holding the lock ticks for real; a standby beat stays silent.
        if getattr(self, "lock", None) is not None:
            get_client(self.app.conf.redbeat_redis_url).set(BEAT_HEARTBEAT_KEY, f"{time.time():.3f}", ex=600)
        return interval
