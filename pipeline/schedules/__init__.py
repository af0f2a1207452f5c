"""Beat: every periodic task of the gateway, declared in one place."""

from __future__ import annotations

from datetime import timedelta

# name -> entry; names are stable because redbeat keys its state on them.
BEAT_SCHEDULE = {
    "heartbeat": {
        "task": "releve.heartbeat",
        "schedule": timedelta(seconds=30),
        "options": {"queue": "default", "expires": 25},
    },
}
