"""Valkey/Redis clients: one pool per URL per process, created after fork."""

from __future__ import annotations

import os
from functools import lru_cache

import redis


@lru_cache(maxsize=16)
def _client(url: str, pid: int) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)


def get_client(url: str) -> redis.Redis:
    """A client for `url`, never shared across a fork (the pid is part of the key)."""
    return _client(url, os.getpid())


# Keys written by the pipeline and read by the web app (one place, so both agree).
BEAT_HEARTBEAT_KEY = "releve:heartbeat:beat"
WORKER_HEARTBEAT_KEY = "releve:heartbeat:worker"
