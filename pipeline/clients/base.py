"""What both upstream clients share: typed errors and one guarded HTTP call path.

Clients know nothing of Celery or Flask. One retry layer per time scale: tenacity here
for short transient failures only; a long wait raises `Throttled` at once so the task
layer can reschedule instead of holding a worker slot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from pipeline.outages import OutageLog

log = logging.getLogger(__name__)
# An upstream that fails is said so once per outage, and once that it answers again (pipeline/outages.py).
upstreams = OutageLog(log)


def upstream_name(upstream: str) -> str:
    return {"enedis": "Enedis", "rte": "RTE"}.get(upstream, upstream)


# (connect, read): both well under the tasks' soft time limit.
DEFAULT_TIMEOUT = (3.05, 30)
# Waits up to this long are absorbed in place; longer ones become Throttled.
SHORT_WAIT = 5.0


class UpstreamError(Exception):
    """An upstream call failed; `code` is the normalised upstream error code."""

    retryable = False

    def __init__(self, message: str, *, upstream: str = "", code: str = "", status: int | None = None):
        super().__init__(message)
        self.upstream = upstream
        self.code = code
        self.status = status


class ConsentNeeded(UpstreamError):
    """No valid consent for this point (expired, revoked, customer moved)."""


class HistoryExhausted(UpstreamError):
    """The window starts before what upstream keeps (history limit, activation, consent start)."""


class PermanentError(UpstreamError):
    """Asking again will not help (wrong point kind, load curve off, bad request)."""


class WrongPointKind(PermanentError):
    """Consumption asked on a production point, or the reverse (ADAM-ERR0069)."""


class LoadCurveNotActivated(PermanentError):
    """The meter does not collect its load curve (ADAM-ERR0075)."""


class NoData(UpstreamError):
    """Nothing in this window yet; later, maybe."""


class Throttled(UpstreamError):
    """Upstream (or our limiter) asks us to wait `retry_after` seconds."""

    retryable = True

    def __init__(self, message: str, retry_after: float, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Unavailable(UpstreamError):
    """Technical failure: 5xx, timeout, connection error, unreadable answer."""

    retryable = True


class Limiter(Protocol):
    """The cluster-wide rate limiter as the clients use it (see pipeline.ratelimit)."""

    def acquire(self, max_wait: float) -> None: ...
    def block(self, seconds: float) -> float: ...
    def backoff(self) -> float: ...


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str]


def with_token(tokens: Any, send: Callable[[dict[str, str]], Response], what: str) -> Response:
    """Send with the application's bearer token; on a 401, renew it once and send again."""
    for renewed in (False, True):
        token = tokens.renew() if renewed else tokens.get()
        response = send({"Authorization": f"Bearer {token}", "Accept": "application/json"})
        if response.status != 401:
            break
        log.warning("%s: 401, renewing the token once", what)
    return response


def normalise_code(code: Any) -> str:
    """`adam_err0069` and `ADAM-ERR0069` are the same code."""
    return str(code).strip().upper().replace("_", "-")


def _is_short_transient(exc: BaseException) -> bool:
    if isinstance(exc, Throttled):
        return exc.retry_after <= SHORT_WAIT
    return isinstance(exc, Unavailable)


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, Throttled):
        return exc.retry_after
    return wait_random_exponential(multiplier=0.5, max=SHORT_WAIT)(state)


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, Unavailable) and exc.upstream:
        upstreams.down(upstream_name(exc.upstream), exc, "calls are tried again, then their tasks back off")
    log.debug("upstream call failed (%s), attempt %d, retrying", exc, state.attempt_number)


def short_retries(fn: Callable) -> Callable:
    """Retry short transient failures: 3 attempts within 20 s at most, then re-raise."""
    return retry(
        retry=retry_if_exception(_is_short_transient),
        wait=_wait,
        stop=stop_after_attempt(3) | stop_before_delay(20),
        reraise=True,
        before_sleep=_log_retry,
    )(fn)


class HttpTransport:
    """One upstream's HTTP: limiter slot before every attempt, timeouts, JSON decoding."""

    def __init__(self, upstream: str, base_url: str, *, limiter: Limiter | None = None,
                 session: requests.Session | None = None, timeout=DEFAULT_TIMEOUT, max_limiter_wait: float = SHORT_WAIT):
        self.upstream = upstream
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.session = session or requests.Session()
        self.timeout = timeout
        self.max_limiter_wait = max_limiter_wait

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base_url + path

    def request(self, method: str, path: str, *, limiter: Limiter | None = None, **kwargs) -> Response:
        """One HTTP exchange; network failures and unreadable bodies become Unavailable."""
        limiter = limiter or self.limiter
        if limiter is not None:
            self._take_slot(limiter)
        try:
            raw = self.session.request(method, self.url(path), timeout=self.timeout, **kwargs)
        except requests.Timeout as exc:
            raise Unavailable(f"{self.upstream}: timeout on {path}", upstream=self.upstream) from exc
        except requests.RequestException as exc:
            raise Unavailable(f"{self.upstream}: {type(exc).__name__} on {path}", upstream=self.upstream) from exc
        if raw.status_code < 500:
            upstreams.up(upstream_name(self.upstream))  # it answers (a refusal is an answer): once per outage
        body: Any = None
        if raw.content:
            try:
                body = raw.json()
            except ValueError:
                if raw.status_code < 400:
                    raise Unavailable(f"{self.upstream}: unreadable JSON from {path}", upstream=self.upstream,
                                      status=raw.status_code) from None
                body = {"raw": raw.text[:200]}
        return Response(raw.status_code, body, dict(raw.headers))

    def _take_slot(self, limiter: Limiter) -> None:
        from pipeline.ratelimit import LimiterUnavailable, RateLimitWait

        try:
            limiter.acquire(max_wait=self.max_limiter_wait)
        except RateLimitWait as exc:
            raise Throttled(f"{self.upstream}: rate limit, wait {exc.wait:.1f} s", exc.wait, upstream=self.upstream) from None
        except LimiterUnavailable:
            # Without the shared limiter we cannot know the cluster's pace: never call. Valkey is down,
            # not upstream: the error goes up as it is, and the task waits the outage out.
            raise
