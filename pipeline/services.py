"""The objects a worker process uses, built once per process from the settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from models.cache import EncryptedCache
from models.settings import Settings
from models.valkey import get_client
from pipeline.clients.enedis import EnedisClient
from pipeline.clients.rte import RteClient
from pipeline.ratelimit import RateLimiter

APP_SCOPE = 0  # the cache "user" that holds application secrets (tokens); no account has id 0
ECOWATT_MIN_INTERVAL = 15 * 60


class AppSecrets:
    """Application tokens in the encrypted cache, under the application scope."""

    def __init__(self, cache: EncryptedCache):
        self.cache = cache

    def get(self, name: str):
        return self.cache.get(APP_SCOPE, name)

    def put(self, name: str, value, ttl: int) -> None:
        self.cache.put(APP_SCOPE, name, value, ttl=ttl)

    def delete(self, name: str) -> None:
        self.cache.delete(APP_SCOPE, name)


@dataclass
class Services:
    settings: Settings
    cache: EncryptedCache
    enedis: EnedisClient
    rte: RteClient
    enedis_limiter: RateLimiter
    ecowatt_limiter: RateLimiter


def enedis_limiter(client, settings: Settings) -> RateLimiter:
    """The cluster-wide Enedis quota (calls per second and per hour, all workers together)."""
    return RateLimiter(client, "enedis", per_second=settings.enedis_rate_per_second,
                       per_hour=settings.enedis_rate_per_hour)


def ecowatt_limiter(client) -> RateLimiter:
    """EcoWatt: one call per 15 minutes, cluster-wide."""
    return RateLimiter(client, "ecowatt", per_second=None, per_hour=None, min_interval=ECOWATT_MIN_INTERVAL)


def build(settings: Settings) -> Services:
    client = get_client(settings.valkey_url)
    cache = EncryptedCache.from_settings(client, settings)
    secrets = AppSecrets(cache)
    enedis_quota = enedis_limiter(client, settings)
    rte_limiter = RateLimiter(client, "rte", per_second=5, per_hour=None)
    ecowatt_quota = ecowatt_limiter(client)
    enedis = EnedisClient(settings.enedis_api_url, settings.enedis_client_id, settings.enedis_client_secret,
                          limiter=enedis_quota, store=secrets)
    rte = RteClient(settings.rte_api_url, settings.rte_token_url, settings.rte_client_id, settings.rte_client_secret,
                    limiter=rte_limiter, ecowatt_limiter=ecowatt_quota, store=secrets)
    return Services(settings, cache, enedis, rte, enedis_quota, ecowatt_quota)


@lru_cache(maxsize=4)
def _services(settings: Settings, pid: int) -> Services:
    return build(settings)


def services(settings: Settings) -> Services:
    """This process's services (rebuilt after a fork: sockets are never shared)."""
    return _services(settings, os.getpid())
