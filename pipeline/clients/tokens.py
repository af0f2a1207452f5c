"""Application tokens shared by every worker, kept encrypted in Valkey and renewed early."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from models.keys import token_entry

log = logging.getLogger(__name__)

RENEW_MARGIN = 300  # seconds before expiry at which a token is renewed


class SecretStore(Protocol):
    """Where tokens live: the encrypted cache's application scope."""

    def get(self, name: str) -> Any | None: ...
    def put(self, name: str, value: Any, ttl: int) -> None: ...
    def delete(self, name: str) -> None: ...


class TokenProvider:
    """A bearer token for one upstream application, shared through `store`."""

    def __init__(self, name: str, fetch: Callable[[], tuple[str, float]], store: SecretStore | None = None,
                 clock: Callable[[], float] = time.time):
        self.name = token_entry(name)
        self.fetch = fetch  # returns (access_token, expires_in seconds)
        self.store = store
        self.clock = clock
        self._local: dict[str, Any] | None = None  # used when no shared store is given

    def _load(self) -> dict[str, Any] | None:
        return self.store.get(self.name) if self.store is not None else self._local

    def get(self) -> str:
        """A token valid for at least RENEW_MARGIN seconds more (renewing it if needed)."""
        cached = self._load()
        if cached and cached["expires_at"] - RENEW_MARGIN > self.clock():
            return cached["access_token"]
        return self.renew()

    def renew(self) -> str:
        token, expires_in = self.fetch()
        record = {"access_token": token, "expires_at": self.clock() + expires_in}
        if self.store is not None:
            self.store.put(self.name, record, ttl=max(1, int(expires_in)))
        else:
            self._local = record
        log.info("renewed %s (valid %d s)", self.name, expires_in)  # never the token itself
        return token

    def invalidate(self) -> None:
        if self.store is not None:
            self.store.delete(self.name)
        self._local = None
