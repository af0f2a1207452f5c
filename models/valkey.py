"""Valkey/Redis clients: one pool per URL per process, created after fork."""

from __future__ import annotations

import os
from functools import lru_cache

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

# How this process's clients wait: (connect timeout, answer timeout, retries after a connection
# error; None keeps redis-py's own retries). The web app sets it once (`fail_fast`), so a
# request never waits long on a Valkey that is down or does not answer.
_profile: tuple[float, float, int | None] = (2.0, 5.0, None)


def fail_fast(timeout: float, retries: int = 0) -> None:
    """From now on, this process's clients give up after `timeout` seconds (to connect, and for an
    answer) and retry `retries` times, without backoff (redis-py retries the connection and then the
    command: each retry doubles the attempts). A pooled connection that a restarted server closed is
    replaced by the pool before use, without a retry."""
    global _profile
    _profile = (timeout, timeout, retries)


@lru_cache(maxsize=16)
def _client(url: str, pid: int, profile: tuple[float, float, int | None]) -> redis.Redis:
    connect, answer, retries = profile
    options = {} if retries is None else {"retry": Retry(NoBackoff(), retries)}
    return redis.Redis.from_url(url, socket_connect_timeout=connect, socket_timeout=answer, health_check_interval=30,
                                **options)


def get_client(url: str) -> redis.Redis:
    """A client for `url`, never shared across a fork (the pid is part of the key)."""
    return _client(url, os.getpid(), _profile)


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
