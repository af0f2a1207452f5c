"""Valkey/Redis clients: one pool per URL per process, created after fork."""

from __future__ import annotations

import os
from functools import lru_cache

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


@lru_cache(maxsize=16)
def _client(url: str, pid: int) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)


def get_client(url: str) -> redis.Redis:
    """A client for `url`, never shared across a fork (the pid is part of the key)."""
    return _client(url, os.getpid())


@lru_cache(maxsize=16)
def _quick_client(url: str, timeout: float, pid: int) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                retry=Retry(NoBackoff(), 0))


def get_quick_client(url: str, timeout: float = 1.0) -> redis.Redis:
    """A client that gives up after `timeout` seconds and never retries: health checks and heartbeats,
    which must not hang."""
    return _quick_client(url, timeout, os.getpid())



def count_in_window(client: redis.Redis, key: str, seconds: int) -> int:
    """Count one event in a window that starts at the first one; the count so far.

    SET NX EX then INCR in one round trip: the key always expires, even if this process
    dies right after (works on Redis 6.2).
    """
    pipe = client.pipeline()
    pipe.set(key, 0, ex=seconds, nx=True)
    pipe.incr(key)
    return pipe.execute()[1]
