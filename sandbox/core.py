"""What both emulated upstreams share: the clock, the call log, quotas, faults, tokens.

The sandbox is a standalone package: it imports nothing from `models`, `pipeline` or
`webapp`. One `SandboxState` lives in `app.extensions["sandbox"]`; the Enedis and RTE
blueprints read it through `state()`.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, jsonify, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from sandbox.enedis_data import SANDBOX_PRMS

PARIS = ZoneInfo("Europe/Paris")

FAULT_KINDS = (
    "429",              # storm with Retry-After (seconds) header
    "429-next-access",  # storm with nextAccessTime in the body, no header
    "429-bare",         # storm with neither
    "500",
    "503",
    "slow",             # answer after `delay` seconds
    "timeout",          # answer after `delay` seconds (default 35 s: beyond any client timeout)
    "malformed",        # 200 with a body that is not JSON
    "expired-token",    # 401 gateway fault 900901 whatever the token
    "revoke",           # ADAM-DC-0008 on every data call for `prm` (consent revoked mid-life)
    "partial",          # the newest day of a metering answer is late: its load curve stops after
                        # `points` intervals, its daily value and max power are missing (corrected later)
)


@dataclass
class Fault:
    """One injected fault: on `api` ("enedis", "rte" or "all"), for `calls` calls or until `until`."""

    kind: str
    api: str = "all"
    calls: int | None = None          # how many matching calls it affects; None: no count limit
    until: float | None = None        # sandbox-clock epoch seconds; None: no time limit
    retry_after: int = 2              # seconds announced by 429 faults
    delay: float = 35.0               # seconds for slow and timeout
    path: str = ""                    # only paths starting with this
    prm: str = ""                     # for revoke: the point whose consent goes
    points: int = 24                  # for partial: intervals of the newest day still served
    id: int = 0

    def matches(self, api: str, path: str, now: float, bearer: bool = True) -> bool:
        if self.api not in ("all", api) or not path.startswith(self.path):
            return False
        if self.kind == "expired-token" and not bearer:
            return False  # only calls that carry a token can have an expired one
        if self.until is not None and now >= self.until:
            return False
        return self.calls is None or self.calls > 0

    def expired(self, now: float) -> bool:
        return (self.until is not None and now >= self.until) or (self.calls is not None and self.calls <= 0)


@dataclass
class Call:
    t: float          # real epoch seconds when the call arrived
    api: str
    client: str
    method: str
    path: str
    query: str
    status: int = 0
    duration: float = 0.0
    fault: str = ""   # the injected fault that shaped the answer, if any ("" for a real one, quotas included)


@dataclass
class SandboxState:
    """Mutable sandbox state, safe to share between the server's threads."""

    secret: str = "releve-sandbox"
    rate_per_second: int = 5
    rate_per_hour: int = 10_000
    ecowatt_interval: int = 15 * 60
    clients: dict[str, str] | None = None       # client_id -> secret; None: any non-empty pair
    clock_offset: float = 0.0                   # sandbox time = real time + offset
    frozen_at: float | None = None              # sandbox time frozen here when set
    calls: list[Call] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    # The consent register, as Enedis keeps it: client id -> PRMs that consented to that
    # application. A data call for a PRM not registered for the caller answers ADAM-DC-0008.
    consents: dict[str, set[str]] = field(default_factory=dict)
    register_all: bool = False                  # every PRM counts as consented (tests, benchmarks)
    register_customers: tuple[str, ...] = ()    # client ids given the nine test customers at start
    # Contract changes made through the admin API: PRM -> the offpeak_hours its contract now states
    # (None: a single-rate contract). Enedis does move off-peak hours (the 2025 reform moved some to 11-17 h).
    offpeak_changes: dict[str, str | None] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _windows: dict[tuple[str, float], collections.deque] = field(default_factory=dict, repr=False)
    _last_ecowatt: dict[str, float] = field(default_factory=dict, repr=False)
    _next_fault_id: int = 1

    def __post_init__(self) -> None:
        self._register_at_start()

    # -- clock ---------------------------------------------------------------
    def time(self) -> float:
        return self.frozen_at if self.frozen_at is not None else time.time() + self.clock_offset

    def now(self) -> datetime:
        """Sandbox time in Paris."""
        return datetime.fromtimestamp(self.time(), PARIS)

    def today(self) -> date:
        return self.now().date()

    def set_clock(self, when: datetime | None, frozen: bool = False) -> None:
        """Move the sandbox clock to `when` (aware), frozen or running; None resets it."""
        with self.lock:
            if when is None:
                self.clock_offset, self.frozen_at = 0.0, None
            elif frozen:
                self.frozen_at = when.timestamp()
            else:
                self.frozen_at, self.clock_offset = None, when.timestamp() - time.time()

    # -- call log ------------------------------------------------------------
    def log(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)
            if len(self.calls) > 200_000:
                del self.calls[:100_000]

    def calls_since(self, since: float = 0.0) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.t >= since]

    # -- quotas --------------------------------------------------------------
    def take_quota(self, client: str) -> bool:
        """Count one Enedis call for `client`; False when it is over 5/s or 10,000/h (real clock)."""
        now = time.time()
        with self.lock:
            windows = []
            for span, limit in ((1.0, self.rate_per_second), (3600.0, self.rate_per_hour)):
                window = self._windows.setdefault((client, span), collections.deque())
                while window and window[0] <= now - span:
                    window.popleft()
                if len(window) >= limit:
                    return False
                windows.append(window)
            for window in windows:
                window.append(now)
            return True

    def ecowatt_wait(self, client: str) -> int:
        """Seconds before `client` may call EcoWatt again (0: now, and the call is counted)."""
        now = self.time()
        with self.lock:
            last = self._last_ecowatt.get(client)
            if last is not None and now - last < self.ecowatt_interval:
                return int(self.ecowatt_interval - (now - last)) + 1
            self._last_ecowatt[client] = now
            return 0

    # -- faults --------------------------------------------------------------
    def add_fault(self, kind: str, *, seconds: float | None = None, **options: Any) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
        with self.lock:
            fault = Fault(kind=kind, id=self._next_fault_id, **options)
            if seconds is not None:
                fault.until = self.time() + seconds
            self._next_fault_id += 1
            self.faults.append(fault)
            return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()
            self.revoked.clear()

    def take_fault(self, api: str, path: str, bearer: bool = True) -> Fault | None:
        """The first active fault for this call, its count spent; expired ones are dropped."""
        now = self.time()
        with self.lock:
            self.faults = [f for f in self.faults if not f.expired(now)]
            for fault in self.faults:
                if fault.matches(api, path, now, bearer):
                    if fault.calls is not None:
                        fault.calls -= 1
                    return fault
        return None

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.faults.clear()
            self.revoked.clear()
            self._windows.clear()
            self._last_ecowatt.clear()
            self.offpeak_changes.clear()
            self.clock_offset, self.frozen_at = 0.0, None
        self._register_at_start()

    # -- contract changes ----------------------------------------------------
    def change_offpeak(self, prm: str, offpeak_hours: str | None) -> None:
        with self.lock:
            self.offpeak_changes[prm] = offpeak_hours

    def offpeak_of(self, prm: str, generated: str | None) -> str | None:
        """The off-peak hours a PRM's contract states now: a change made through the admin API, else `generated`."""
        with self.lock:
            return self.offpeak_changes.get(prm, generated)

    # -- consent register ----------------------------------------------------
    def _register_at_start(self) -> None:
        """The register as the sandbox starts: empty, or the nine test customers for some clients."""
        with self.lock:
            self.consents = {client: set(SANDBOX_PRMS) for client in self.register_customers}

    def register(self, client_id: str, prms) -> None:
        """Record that `prms` consented to `client_id` (the consent page's approval does this)."""
        with self.lock:
            self.consents.setdefault(client_id, set()).update(prms)

    def unregister(self, client_id: str, prms=None) -> None:
        """Withdraw consents of `client_id`: those of `prms`, or all of them."""
        with self.lock:
            if prms is None:
                self.consents.pop(client_id, None)
            else:
                self.consents.get(client_id, set()).difference_update(prms)

    def has_consent(self, client_id: str, prm: str) -> bool:
        with self.lock:
            return self.register_all or prm in self.consents.get(client_id, ())

    def register_of(self) -> dict[str, list[str]]:
        with self.lock:
            return {client: sorted(prms) for client, prms in sorted(self.consents.items())}

    # -- tokens --------------------------------------------------------------
    def check_client(self, client_id: str, client_secret: str) -> bool:
        if not client_id or not client_secret:
            return False
        return self.clients is None or self.clients.get(client_id) == client_secret

    def issue_token(self, api: str, client_id: str) -> str:
        """A signed token naming its client: still valid after a sandbox restart."""
        return URLSafeTimedSerializer(self.secret, salt=f"token:{api}").dumps(client_id)

    def token_client(self, api: str, token: str, max_age: int) -> str | None:
        """The client a bearer token was issued to, or None when it is unknown or expired."""
        try:
            return URLSafeTimedSerializer(self.secret, salt=f"token:{api}").loads(token, max_age=max_age)
        except (SignatureExpired, BadSignature):
            return None


def state() -> SandboxState:
    return current_app.extensions["sandbox"]


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def json_error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def fault_as_dict(fault: Fault) -> dict[str, Any]:
    return asdict(fault)


def call_as_dict(call: Call) -> dict[str, Any]:
    return asdict(call)


def parse_moment(value: str) -> datetime:
    """An ISO 8601 moment; a naive one is read as Paris time."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=PARIS)


def paris_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), PARIS)


def days(start: date, end: date):
    """Every day in [start, end[."""
    day = start
    while day < end:
        yield day
        day += timedelta(days=1)
