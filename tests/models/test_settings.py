import base64

import pytest

from models.settings import ConfigError, Settings

KEY = base64.urlsafe_b64encode(b"k" * 32).decode()
PRODUCTION = {
    "RELEVE_ENV": "production",
    "DATABASE_URL": "postgresql://releve:pw@db:5432/releve",
    "VALKEY_URL": "redis://valkey:6379/0",
    "RELEVE_MASTER_KEY": KEY,
    "SECRET_KEY": "s" * 40,
    "ENEDIS_CLIENT_ID": "id",
    "ENEDIS_CLIENT_SECRET": "secret",
    "ENEDIS_REDIRECT_URI": "https://releve.example/consent/callback",
    "RTE_CLIENT_ID": "rte-id",
    "RTE_CLIENT_SECRET": "rte-secret",
    "PUBLIC_URL": "https://releve.example",
    "ENEDIS_API_URL": "https://gw.ext.prod.api.enedis.fr",
    "ENEDIS_CONSENT_URL": "https://mon-compte-particulier.enedis.fr/dataconnect/v1/oauth2/authorize",
    "RTE_API_URL": "https://digital.iservices.rte-france.com",
    "RTE_TOKEN_URL": "https://digital.iservices.rte-france.com/token/oauth/",
}


def test_outage_settings_default_to_production_waits_and_can_be_shortened():
    defaults = Settings.from_env({})
    assert (defaults.retry_backoff_seconds, defaults.outage_retry_max_seconds, defaults.recovery_check_seconds,
            defaults.backfill_stall_seconds) == (10, 300, 60, 300)
    short = Settings.from_env({"RETRY_BACKOFF_SECONDS": "0.5", "OUTAGE_RETRY_MAX_SECONDS": "2",
                               "RECOVERY_CHECK_SECONDS": "2", "BACKFILL_STALL_SECONDS": "8"})
    assert (short.retry_backoff_seconds, short.outage_retry_max_seconds, short.recovery_check_seconds,
            short.backfill_stall_seconds) == (0.5, 2, 2, 8)


def test_defaults_point_at_the_sandbox():
    s = Settings.from_env({})
    assert s.mode == "development"
    assert s.enedis_api_url == "http://127.0.0.1:8800"
    assert s.rte_token_url == "http://127.0.0.1:8800/token/oauth/"
    assert (s.enedis_rate_per_second, s.enedis_rate_per_hour, s.cache_ttl_seconds) == (5.0, 10000, 86400)


def test_broker_defaults_to_valkey_and_driver_is_psycopg():
    s = Settings.from_env({"VALKEY_URL": "redis://v:6379/1", "DATABASE_URL": "postgres://u@h/db"})
    assert s.celery_broker_url == "redis://v:6379/1"
    assert s.database_url == "postgresql+psycopg://u@h/db"


def test_production_complete_is_accepted():
    s = Settings.from_env(PRODUCTION)
    assert s.is_production and s.master_key == b"k" * 32


@pytest.mark.parametrize("missing", ["RELEVE_MASTER_KEY", "DATABASE_URL", "SECRET_KEY", "ENEDIS_CLIENT_SECRET"])
def test_production_names_the_missing_variable(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env)
    assert err.value.variable == missing
    assert str(err.value).startswith(f"{missing}: ")


@pytest.mark.parametrize(
    "variable, value",
    [
        ("DATABASE_URL", "mysql://root@localhost/x"),
        ("DATABASE_URL", "not a url"),
        ("VALKEY_URL", "http://localhost:6379"),
        ("ENEDIS_RATE_PER_SECOND", "fast"),
        ("ENEDIS_RATE_PER_HOUR", "-3"),
        ("CACHE_TTL_SECONDS", "0"),
        ("RELEVE_MASTER_KEY", "short"),
        ("RELEVE_MASTER_KEY", "!!!not base64!!!"),
        ("RELEVE_ENV", "staging"),
        ("ENEDIS_API_URL", "gw.ext.prod.api.enedis.fr"),
        ("RETRY_BACKOFF_SECONDS", "0"),
        ("RETRY_BACKOFF_SECONDS", "nan"),
        ("OUTAGE_RETRY_MAX_SECONDS", "1e9"),
        ("RECOVERY_CHECK_SECONDS", "0.5"),
        ("BACKFILL_STALL_SECONDS", "inf"),
        ("BACKFILL_STALL_SECONDS", "soon"),
    ],
)
def test_bad_values_name_their_variable(variable, value):
    with pytest.raises(ConfigError) as err:
        Settings.from_env({variable: value})
    assert err.value.variable == variable


def test_short_secret_key_refused_in_production():
    with pytest.raises(ConfigError) as err:
        Settings.from_env({**PRODUCTION, "SECRET_KEY": "short"})
    assert err.value.variable == "SECRET_KEY"


def test_redacted_never_shows_secrets():
    s = Settings.from_env(PRODUCTION)
    text = repr(s) + str(s.redacted())
    for secret in (KEY, "s" * 40, "rte-secret"):
        assert secret not in text
    assert s.redacted()["master_key"] == "(set)"


def test_require_runtime_names_what_is_missing():
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"VALKEY_URL": "redis://v/0"}).require_runtime()
    assert err.value.variable == "DATABASE_URL"


@pytest.mark.parametrize("variable", ["ENEDIS_API_URL", "ENEDIS_CONSENT_URL", "ENEDIS_REDIRECT_URI", "RTE_API_URL",
                                      "RTE_TOKEN_URL", "PUBLIC_URL"])
def test_production_refuses_plain_http(variable):
    value = PRODUCTION[variable].replace("https://", "http://")
    with pytest.raises(ConfigError) as err:
        Settings.from_env({**PRODUCTION, variable: value})
    assert err.value.variable == variable
    assert str(err.value) == f"{variable}: must be an https:// URL when RELEVE_ENV=production, got {value!r}"


@pytest.mark.parametrize("variable", ["ENEDIS_API_URL", "ENEDIS_CONSENT_URL", "ENEDIS_REDIRECT_URI", "RTE_API_URL",
                                      "RTE_TOKEN_URL"])
@pytest.mark.parametrize("host", ["127.0.0.1:8800", "localhost", "sandbox.localhost", "[::1]:8800", "127.1.2.3",
                                  "0.0.0.0:8800", "[::ffff:127.0.0.1]"])
def test_production_refuses_upstream_urls_on_this_machine(variable, host):
    value = f"https://{host}/x"
    with pytest.raises(ConfigError) as err:
        Settings.from_env({**PRODUCTION, variable: value})
    assert err.value.variable == variable and "\n" not in str(err.value)
    assert str(err.value).startswith(f"{variable}: must not point at this machine")


def test_production_refuses_the_sandbox_defaults():
    env = {k: v for k, v in PRODUCTION.items() if k != "ENEDIS_API_URL"}
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env)
    assert str(err.value) == "ENEDIS_API_URL: must be an https:// URL when RELEVE_ENV=production, got 'http://127.0.0.1:8800'"


def test_development_keeps_the_sandbox_over_http():
    s = Settings.from_env({"ENEDIS_API_URL": "http://127.0.0.1:9999", "PUBLIC_URL": "http://localhost:8000"})
    assert s.enedis_api_url == "http://127.0.0.1:9999" and s.public_url == "http://localhost:8000"


OLD = base64.urlsafe_b64encode(b"o" * 32).decode()
OLDER = base64.urlsafe_b64encode(b"p" * 32).decode()


def test_a_key_without_version_is_version_1_and_has_no_previous_keys():
    s = Settings.from_env({"RELEVE_MASTER_KEY": KEY})
    assert (s.master_key_version, s.previous_master_keys, s.master_keys) == (1, (), {1: b"k" * 32})


def test_rotation_current_key_with_its_version_and_the_previous_ones():
    s = Settings.from_env({"RELEVE_MASTER_KEY": f"3:{KEY}", "RELEVE_MASTER_KEY_PREVIOUS": f" {OLD} , 2:{OLDER},"})
    assert s.master_key == b"k" * 32 and s.master_key_version == 3
    assert s.master_keys == {1: b"o" * 32, 2: b"p" * 32, 3: b"k" * 32}
    text = repr(s) + str(s.redacted())
    assert OLD not in text and OLDER not in text and s.redacted()["previous_master_keys"] == "(set)"
    assert hash(s)  # settings key caches of processes (services, the web app's cache)


@pytest.mark.parametrize("env, problem", [
    ({"RELEVE_MASTER_KEY_PREVIOUS": OLD}, "RELEVE_MASTER_KEY (the current key) is not"),
    ({"RELEVE_MASTER_KEY": KEY, "RELEVE_MASTER_KEY_PREVIOUS": OLD}, "key version 1 is given twice"),
    ({"RELEVE_MASTER_KEY": f"3:{KEY}", "RELEVE_MASTER_KEY_PREVIOUS": f"1:{OLD},1:{OLDER}"}, "key version 1 is given twice"),
    ({"RELEVE_MASTER_KEY": f"2:{KEY}", "RELEVE_MASTER_KEY_PREVIOUS": f"1:{OLD[:24]}"}, "must decode to 32 bytes, got 18"),
    ({"RELEVE_MASTER_KEY": f"2:{KEY}", "RELEVE_MASTER_KEY_PREVIOUS": f"0:{OLD}"}, "from 1 to 255"),
    ({"RELEVE_MASTER_KEY": f"2:{KEY}", "RELEVE_MASTER_KEY_PREVIOUS": f"{OLDER}:{OLD}"}, "from 1 to 255"),
])
def test_bad_previous_keys_name_the_variable_and_never_echo_a_key(env, problem):
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env)
    assert err.value.variable == "RELEVE_MASTER_KEY_PREVIOUS" and problem in str(err.value)
    assert OLD not in str(err.value) and OLDER not in str(err.value)


@pytest.mark.parametrize("value", [f"256:{KEY}", f"x:{KEY}", f"2:{KEY[:-4]}"])
def test_a_bad_current_key_names_its_variable(value):
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"RELEVE_MASTER_KEY": value})
    assert err.value.variable == "RELEVE_MASTER_KEY" and KEY not in str(err.value)
