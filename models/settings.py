"""Settings read from the environment in one place and validated at start-up."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

MODES = ("development", "production", "test")

# The sandbox (`releve sandbox`, port 8800) stands in for both upstreams by default.
SANDBOX_URL = "http://127.0.0.1:8800"


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names the variable."""

    def __init__(self, variable: str, problem: str):
        self.variable = variable
        self.problem = problem
        super().__init__(f"{variable}: {problem}")


def _url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        raise ConfigError(name, f"expected a URL starting with {' or '.join(s + '://' for s in schemes)}, got {value!r}")
    if not parts.netloc and not parts.query and parts.scheme not in ("unix",):
        # postgresql+psycopg://user@/db?host=/socket/dir has no netloc but a host query.
        raise ConfigError(name, f"URL has no host: {value!r}")
    return value


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or address.is_unspecified or bool(mapped and mapped.is_loopback)


def _production_url(name: str, value: str, *, allow_loopback: bool = False) -> None:
    """In production, upstream and public URLs are https and (upstream) never this machine."""
    parts = urlsplit(value)
    if parts.scheme != "https":
        raise ConfigError(name, f"must be an https:// URL when RELEVE_ENV=production, got {value!r}")
    if not allow_loopback and _is_loopback(parts.hostname or ""):
        raise ConfigError(name, f"must not point at this machine (the sandbox?) when RELEVE_ENV=production, got {value!r}")


# Checked with _production_url in production: every upstream URL, and where Enedis sends people back.
PRODUCTION_URLS = ("ENEDIS_API_URL", "ENEDIS_CONSENT_URL", "ENEDIS_REDIRECT_URI", "RTE_API_URL", "RTE_TOKEN_URL")


def _positive_number(name: str, raw: str, kind: type = float) -> float | int:
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(name, f"expected a positive number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(name, f"expected a positive number, got {raw!r}")
    return value


def _bounded(name: str, raw: str, low: float, high: float) -> float:
    """A number of seconds between `low` and `high` (a typo must not become a zero wait or a year)."""
    value = _positive_number(name, raw)
    if not low <= value <= high:
        raise ConfigError(name, f"expected seconds between {low:g} and {high:g}, got {raw!r}")
    return value


def _count(name: str, raw: str) -> int:
    if not raw.strip().isdigit():
        raise ConfigError(name, f"expected 0 or a positive whole number, got {raw!r}")
    return int(raw)


def _boolean(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(name, f"expected true or false, got {raw!r}")


def decode_master_key(raw: str, variable: str = "RELEVE_MASTER_KEY") -> bytes:
    """Decode a master key (32 bytes, urlsafe base64) or raise ConfigError naming `variable`."""
    try:
        key = base64.urlsafe_b64decode(raw.strip() + "=" * (-len(raw.strip()) % 4))
    except (binascii.Error, ValueError):
        raise ConfigError(variable, "not valid base64 (generate one with `releve gen-key`)") from None
    if len(key) != 32:
        raise ConfigError(variable, f"must decode to 32 bytes, got {len(key)} (generate one with `releve gen-key`)")
    return key


# Master keys are versioned so a key can be rotated: `2:<key>` is version 2. A key written without
# a version is version 1, so the key of a deployment that never rotated is version 1 (as its cache
# entries say). The version is stored in every entry it seals; 1..255 (one byte).
MAX_KEY_VERSION = 255


def parse_master_key(raw: str, variable: str) -> tuple[int, bytes]:
    """`[version:]key` → (version, 32-byte key), or ConfigError naming `variable` (never the key)."""
    version_text, sep, key_text = raw.strip().rpartition(":")
    version = 1
    if sep:
        if not version_text.strip().isdigit() or not 1 <= int(version_text) <= MAX_KEY_VERSION:
            # The text is not echoed: it could be key material pasted in the wrong place.
            raise ConfigError(variable, f"write a key as `<key>` or `<version>:<key>`, the version a whole number "
                                        f"from 1 to {MAX_KEY_VERSION}")
        version = int(version_text)
    return version, decode_master_key(key_text, variable)


def parse_previous_master_keys(raw: str, current_version: int) -> tuple[tuple[int, bytes], ...]:
    """RELEVE_MASTER_KEY_PREVIOUS: comma-separated `[version:]key`, each version unique and not the current one."""
    variable = "RELEVE_MASTER_KEY_PREVIOUS"
    keys: dict[int, bytes] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        version, key = parse_master_key(item, variable)
        if version == current_version or version in keys:
            raise ConfigError(variable, f"key version {version} is given twice (RELEVE_MASTER_KEY holds version "
                                        f"{current_version}; write each previous key as `<version>:<key>`)")
        keys[version] = key
    return tuple(sorted(keys.items()))


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver whatever the scheme spelling (postgres://, postgresql://)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


# Read only on a development machine (`releve dev`, the outbox of mails): never part of a
# deployment's configuration (tests/test_kubernetes.py checks every other one is).
DEVELOPMENT_SETTINGS = frozenset({"MAIL_OUTBOX_DIR", "RELEVE_VAR_DIR"})
# Secrets: a Kubernetes Secret or the .env file, never a ConfigMap, never a log line.
SECRET_SETTINGS = frozenset({
    "DATABASE_URL", "VALKEY_URL", "CELERY_BROKER_URL", "RELEVE_MASTER_KEY", "RELEVE_MASTER_KEY_PREVIOUS",
    "SECRET_KEY", "ENEDIS_CLIENT_SECRET", "RTE_CLIENT_SECRET", "SMTP_PASSWORD", "FLOWER_BASIC_AUTH",
})


@dataclass(frozen=True)
class Settings:
    """Every setting of the gateway; build it with `Settings.from_env()`."""

    mode: str = "development"
    database_url: str = ""
    valkey_url: str = ""
    celery_broker_url: str = ""
    master_key: bytes = field(default=b"", repr=False)  # the current key: seals what is written now
    master_key_version: int = 1
    previous_master_keys: tuple[tuple[int, bytes], ...] = field(default=(), repr=False)  # (version, key): read only
    secret_key: str = field(default="", repr=False)
    enedis_api_url: str = SANDBOX_URL
    enedis_consent_url: str = SANDBOX_URL + "/dataconnect/v1/oauth2/authorize"
    enedis_client_id: str = "releve-dev"
    enedis_client_secret: str = field(default="releve-dev-secret", repr=False)
    enedis_redirect_uri: str = "http://127.0.0.1:8000/consent/callback"
    enedis_rate_per_second: float = 5.0
    enedis_rate_per_hour: int = 10000
    rte_api_url: str = SANDBOX_URL
    rte_token_url: str = SANDBOX_URL + "/token/oauth/"
    rte_client_id: str = "releve-dev"
    rte_client_secret: str = field(default="releve-dev-secret", repr=False)
    cache_ttl_seconds: int = 86400
    health_timeout_seconds: float = 1.0
    web_backend_timeout_seconds: float = 3.0
    web_retry_after_seconds: int = 30
    # How long a stopping worker lets its running tasks finish before handing them back to the
    # queue (Celery's soft shutdown); the tasks' soft time limit by default, so a deploy that
    # waits this long (Kubernetes' terminationGracePeriodSeconds) interrupts no task that could end.
    worker_shutdown_seconds: float = 540.0
    public_url: str = "http://127.0.0.1:8000"
    flower_basic_auth: str = field(default="", repr=False)
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = True
    mail_from: str = "Relevé <no-reply@releve.local>"
    mail_outbox_dir: str = "var/outbox"
    trusted_proxies: int = 0
    # Outages (README, "Outages"): how tasks wait for Valkey, the broker, PostgreSQL or upstream to come back,
    # and when the recovery check (beat) takes over work that stopped moving.
    retry_backoff_seconds: float = 10.0
    outage_retry_max_seconds: float = 300.0
    recovery_check_seconds: float = 60.0
    backfill_stall_seconds: float = 300.0
    # Read API quotas, per API client (`pipeline.api.Quotas`): reads answered from the cache, and reads
    # that cost an upstream call (an interactive fetch sent), each per minute and per Paris day.
    api_quota_per_minute: int = 60
    api_quota_per_day: int = 5000
    api_upstream_quota_per_minute: int = 5
    api_upstream_quota_per_day: int = 50

    @property
    def is_production(self) -> bool:
        return self.mode == "production"

    @property
    def master_keys(self) -> dict[int, bytes]:
        """Every configured master key by version: the current one and the previous ones."""
        return {**dict(self.previous_master_keys), self.master_key_version: self.master_key}

    def redacted(self) -> dict[str, str]:
        """The settings as text, secrets masked, for `releve check` and logs."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if not f.repr:
                value = "(set)" if value else "(not set)"
            out[f.name] = str(value)
        return out

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate settings; raise ConfigError naming the first bad variable."""
        env = os.environ if env is None else env

        def get(name: str, default: str = "") -> str:
            return env.get(name, "").strip() or default

        mode = get("RELEVE_ENV", "development")
        if mode not in MODES:
            raise ConfigError("RELEVE_ENV", f"expected one of {', '.join(MODES)}, got {mode!r}")
        production = mode == "production"

        required_in_production = [
            "DATABASE_URL", "VALKEY_URL", "RELEVE_MASTER_KEY", "SECRET_KEY",
            "ENEDIS_CLIENT_ID", "ENEDIS_CLIENT_SECRET", "ENEDIS_REDIRECT_URI",
            "RTE_CLIENT_ID", "RTE_CLIENT_SECRET", "PUBLIC_URL",
        ]
        if production:
            for name in required_in_production:
                if not get(name):
                    raise ConfigError(name, "is required when RELEVE_ENV=production")

        database_url = get("DATABASE_URL")
        if database_url:
            database_url = _url("DATABASE_URL", normalise_database_url(database_url), ("postgresql+psycopg",))
        valkey_url = get("VALKEY_URL")
        if valkey_url:
            _url("VALKEY_URL", valkey_url, ("redis", "rediss", "unix"))
        broker = get("CELERY_BROKER_URL", valkey_url)
        if broker:
            _url("CELERY_BROKER_URL", broker, ("redis", "rediss", "redis+socket", "amqp"))

        master_raw = get("RELEVE_MASTER_KEY")
        master_version, master_key = parse_master_key(master_raw, "RELEVE_MASTER_KEY") if master_raw else (1, b"")
        previous_raw = get("RELEVE_MASTER_KEY_PREVIOUS")
        if previous_raw and not master_raw:
            raise ConfigError("RELEVE_MASTER_KEY_PREVIOUS", "is set but RELEVE_MASTER_KEY (the current key) is not")
        previous_keys = parse_previous_master_keys(previous_raw, master_version)
        secret_key = get("SECRET_KEY")
        if production and len(secret_key) < 32:
            raise ConfigError("SECRET_KEY", "must be at least 32 characters in production")

        defaults = cls()
        values = dict(
            mode=mode,
            database_url=database_url,
            valkey_url=valkey_url,
            celery_broker_url=broker,
            master_key=master_key,
            master_key_version=master_version,
            previous_master_keys=previous_keys,
            secret_key=secret_key,
            enedis_api_url=_url("ENEDIS_API_URL", get("ENEDIS_API_URL", defaults.enedis_api_url), ("http", "https")).rstrip("/"),
            enedis_consent_url=_url("ENEDIS_CONSENT_URL", get("ENEDIS_CONSENT_URL", defaults.enedis_consent_url), ("http", "https")),
            enedis_client_id=get("ENEDIS_CLIENT_ID", defaults.enedis_client_id),
            enedis_client_secret=get("ENEDIS_CLIENT_SECRET", defaults.enedis_client_secret),
            enedis_redirect_uri=_url("ENEDIS_REDIRECT_URI", get("ENEDIS_REDIRECT_URI", defaults.enedis_redirect_uri), ("http", "https")),
            enedis_rate_per_second=_positive_number("ENEDIS_RATE_PER_SECOND", get("ENEDIS_RATE_PER_SECOND", "5")),
            enedis_rate_per_hour=_positive_number("ENEDIS_RATE_PER_HOUR", get("ENEDIS_RATE_PER_HOUR", "10000"), int),
            rte_api_url=_url("RTE_API_URL", get("RTE_API_URL", defaults.rte_api_url), ("http", "https")).rstrip("/"),
            rte_token_url=_url("RTE_TOKEN_URL", get("RTE_TOKEN_URL", defaults.rte_token_url), ("http", "https")),
            rte_client_id=get("RTE_CLIENT_ID", defaults.rte_client_id),
            rte_client_secret=get("RTE_CLIENT_SECRET", defaults.rte_client_secret),
            cache_ttl_seconds=_positive_number("CACHE_TTL_SECONDS", get("CACHE_TTL_SECONDS", "86400"), int),
            health_timeout_seconds=_positive_number("HEALTH_TIMEOUT_SECONDS", get("HEALTH_TIMEOUT_SECONDS", "1")),
            web_backend_timeout_seconds=_positive_number("WEB_BACKEND_TIMEOUT_SECONDS",
                                                         get("WEB_BACKEND_TIMEOUT_SECONDS", "3")),
            web_retry_after_seconds=_positive_number("WEB_RETRY_AFTER_SECONDS", get("WEB_RETRY_AFTER_SECONDS", "30"), int),
            worker_shutdown_seconds=_positive_number("WORKER_SHUTDOWN_SECONDS", get("WORKER_SHUTDOWN_SECONDS", "540")),
            public_url=_url("PUBLIC_URL", get("PUBLIC_URL", defaults.public_url), ("http", "https")).rstrip("/"),
            flower_basic_auth=get("FLOWER_BASIC_AUTH"),
            smtp_host=get("SMTP_HOST"),
            smtp_port=_positive_number("SMTP_PORT", get("SMTP_PORT", "587"), int),
            smtp_username=get("SMTP_USERNAME"),
            smtp_password=get("SMTP_PASSWORD"),
            smtp_starttls=_boolean("SMTP_STARTTLS", get("SMTP_STARTTLS", "true")),
            mail_from=get("MAIL_FROM", defaults.mail_from),
            mail_outbox_dir=get("MAIL_OUTBOX_DIR", str(Path(get("RELEVE_VAR_DIR", "var")) / "outbox")),
            trusted_proxies=_count("TRUSTED_PROXIES", get("TRUSTED_PROXIES", "0")),
            retry_backoff_seconds=_bounded("RETRY_BACKOFF_SECONDS", get("RETRY_BACKOFF_SECONDS", "10"), 0.1, 3600),
            outage_retry_max_seconds=_bounded("OUTAGE_RETRY_MAX_SECONDS", get("OUTAGE_RETRY_MAX_SECONDS", "300"),
                                              0.1, 1800),
            recovery_check_seconds=_bounded("RECOVERY_CHECK_SECONDS", get("RECOVERY_CHECK_SECONDS", "60"), 1, 86400),
            backfill_stall_seconds=_bounded("BACKFILL_STALL_SECONDS", get("BACKFILL_STALL_SECONDS", "300"), 1,
                                            7 * 86400),
            api_quota_per_minute=_positive_number("API_QUOTA_PER_MINUTE", get("API_QUOTA_PER_MINUTE", "60"), int),
            api_quota_per_day=_positive_number("API_QUOTA_PER_DAY", get("API_QUOTA_PER_DAY", "5000"), int),
            api_upstream_quota_per_minute=_positive_number("API_UPSTREAM_QUOTA_PER_MINUTE",
                                                           get("API_UPSTREAM_QUOTA_PER_MINUTE", "5"), int),
            api_upstream_quota_per_day=_positive_number("API_UPSTREAM_QUOTA_PER_DAY",
                                                        get("API_UPSTREAM_QUOTA_PER_DAY", "50"), int),
        )
        if production:
            for name in PRODUCTION_URLS:
                _production_url(name, values[name.lower()])
            # A gateway behind a proxy on the same host is fine; what matters is that browsers use https.
            _production_url("PUBLIC_URL", values["public_url"], allow_loopback=True)
        return cls(**values)

    def require_runtime(self) -> Settings:
        """Check what a running process needs (URLs and keys), naming what is missing."""
        for name, value in (
            ("DATABASE_URL", self.database_url),
            ("VALKEY_URL", self.valkey_url),
            ("RELEVE_MASTER_KEY", self.master_key),
            ("SECRET_KEY", self.secret_key),
        ):
            if not value:
                raise ConfigError(name, "is not set (run `releve dev` for embedded defaults, or set it)")
        return self


def load() -> Settings:
    """Settings of this process, validated (the one place the environment is read)."""
    return Settings.from_env()
