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
