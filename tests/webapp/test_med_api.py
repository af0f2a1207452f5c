"""MyElectricalData compatibility (webapp/med): each v1 and v2 route's shape against docs/compat-api.md,
auth, ownership, quotas, the miss, upstream throttling.

The cache is filled the way the pipeline fills it: Relevé's Enedis client reads the sandbox over HTTP
and `pipeline.series.group_by_day` cuts the answer into days. Bodies are compared with what the
sandbox (Enedis) answers for the same range, so "Enedis JSON passed through" is checked value by value.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime, timedelta

import pytest

from factories import make_point, make_user
from models.api_clients import ApiClient
from models.calendar import PARIS, last_published_day, now_paris, today_paris
from models.consents import EnedisConsent
from models.ecowatt import EcoWattSignal
from models.keys import ADDRESS, CONTRACT, fetch_claim, once_key
from models.series import SERIES
from models.tempo import TempoDay
from pipeline import services
from pipeline.clients.enedis import PATHS
from pipeline.ratelimit import RateLimiter
from pipeline.series import fetch, group_by_day
from tests_helpers import queued

C0 = "22516914714270"  # sandbox customer 0: consumption, load curve, no gaps
PRODUCER = "24880057139941"  # customer 5: production only
LAST = last_published_day(now_paris())
START, END = LAST - timedelta(days=4), LAST + timedelta(days=1)  # five published days, END exclusive


@pytest.fixture(scope="module")
def sandbox_config():
    return {"REGISTER_ALL": True, "RATE_PER_SECOND": 1000}


@pytest.fixture
def settings_env():
    return {"API_QUOTA_PER_MINUTE": "1000", "API_UPSTREAM_QUOTA_PER_MINUTE": "1000"}


@pytest.fixture
def upstream(settings, sandbox):
    """Relevé's own pipeline services (Enedis client, cache) on the test's settings and sandbox."""
    return services.build(settings)


class World:
    def __init__(self, session, upstream):
        self.session, self.upstream = session, upstream
        self.alice = make_user(session)
        self.point = make_point(session, self.alice, C0, kind="consumption")
        self.secret, self.client_id_of_alice = self.issue(self.alice)
        self.bob = make_user(session)
        self.bobs_point = make_point(session, self.bob, PRODUCER, kind="production")
        self.bobs_secret, _ = self.issue(self.bob)

    def issue(self, user) -> tuple[str, str]:
        client, secret = ApiClient.issue(user.id, "Home Assistant")
        self.session.add(client)
        self.session.flush()
        return secret, client.client_id

    def fill(self, series: str, start=START, end=END, *, point=None, skip=()):
        """Cache [start, end) of a series as the pipeline does (days in `skip` left out)."""
        point = point or self.point
        items = fetch(SERIES[series], self.upstream.enedis, point.pdl, start, end)
        days, final = group_by_day(SERIES[series], items, start, end, today_paris())
        days = {d: v for d, v in days.items() if d not in skip}
        self.upstream.cache.put_days(point.user_id, point.id, series, days, final)

    def fill_customer(self):
        self.upstream.cache.put(self.alice.id, CONTRACT, self.upstream.enedis.contract(C0), point=self.point.id)
        self.upstream.cache.put(self.alice.id, ADDRESS, self.upstream.enedis.address(C0), point=self.point.id)

    def raw(self, resource: str, start=START, end=END, pdl=C0) -> dict:
        """What Enedis (the sandbox) answers for the same request."""
        params = {"usage_point_id": pdl}
        if start is not None:
            params |= {"start": start.isoformat(), "end": end.isoformat()}
        return self.upstream.enedis.get(PATHS[resource], params)


@pytest.fixture
def world(session, upstream, app):
    return World(session, upstream)


def v1(client, path, secret=None, method="GET", **kwargs):
    headers = {"Authorization": secret} if secret else {}
    return client.open(path, method=method, headers=headers, **kwargs)


def dated(endpoint: str, start=START, end=END, pdl=C0) -> str:
    return f"/{endpoint}/{pdl}/start/{start}/end/{end}"


# -- v1: readings -------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/", "/cache", "/cache/"])
def test_v1_daily_is_enedis_json_with_string_values(client, world, suffix):
    world.fill("daily_consumption")
    response = v1(client, dated("daily_consumption") + suffix, world.secret)
    assert response.status_code == 200 and response.mimetype == "application/json"
    reading = response.get_json()["meter_reading"]
    assert reading["usage_point_id"] == C0 and reading["start"] == str(START) and reading["end"] == str(END)
    assert reading["reading_type"] == {"measurement_kind": "energy", "measuring_period": "P1D", "unit": "Wh",
                                       "aggregate": "sum"}
    upstream = world.raw("daily_consumption")["meter_reading"]["interval_reading"]
    assert reading["interval_reading"] == [{"value": i["value"], "date": i["date"][:10]} for i in upstream]
    assert len(reading["interval_reading"]) == 5  # end exclusive
    assert all(isinstance(i["value"], str) for i in reading["interval_reading"])


def test_v1_load_curve_is_dated_at_interval_end_and_v2_at_start(client, world):
    world.fill("load_curve", START, START + timedelta(days=2))
    path = dated("consumption_load_curve", START, START + timedelta(days=2))
    reading = v1(client, path, world.secret).get_json()["meter_reading"]
    upstream = world.raw("consumption_load_curve", START, START + timedelta(days=2))["meter_reading"]["interval_reading"]
    assert [(i["value"], i["date"], i["interval_length"]) for i in reading["interval_reading"]] == \
        [(i["value"], i["date"], i.get("interval_length", "PT30M")) for i in upstream]
    assert reading["interval_reading"][0]["date"] == f"{START} 00:30:00"
    assert reading["reading_type"]["unit"] == "W" and reading["reading_type"]["aggregate"] == "average"

    v2 = client.get(f"/api/enedis/consumption/detail/{C0}?start={START}&end={START + timedelta(days=2)}",
                    headers={"Authorization": f"Bearer {world.secret}"}).get_json()
    assert v2["success"] is True and v2["error"] is None
    items = v2["data"]["meter_reading"]["interval_reading"]
    assert items[0]["date"] == f"{START} 00:00:00"  # the interval's start
    assert [i["value"] for i in items] == [i["value"] for i in reading["interval_reading"]]
    assert [i["date"] for i in items[1:]] == [i["date"] for i in reading["interval_reading"][:-1]]


def test_v1_max_power_matches_enedis(client, world):
    world.fill("max_power")
    reading = v1(client, dated("daily_consumption_max_power"), world.secret).get_json()["meter_reading"]
    upstream = world.raw("daily_consumption_max_power")["meter_reading"]["interval_reading"]
    assert reading["interval_reading"] == [{"value": i["value"], "date": i["date"]} for i in upstream]
    datetime.strptime(reading["interval_reading"][0]["date"], "%Y-%m-%d %H:%M:%S")


def test_v1_contract_and_address_keep_enedis_strings(client, world):
    world.fill_customer()
    body = v1(client, f"/contracts/{C0}", world.secret).get_json()
    point = body["customer"]["usage_points"][0]
    upstream = world.raw("contracts", None)["customer"]["usage_points"][0]
    assert point["usage_point"]["usage_point_id"] == C0
    for key in ("segment", "subscribed_power", "distribution_tariff", "offpeak_hours", "contract_status"):
        assert point["contracts"][key] == upstream["contracts"].get(key), key
    for key in ("last_activation_date", "last_distribution_tariff_change_date"):
        # YYYY-MM-DD+HH:MM, the import client's `%Y-%m-%d%z`, with Paris's offset that day (as Enedis writes
        # "2006-05-24+02:00"; the sandbox always writes +01:00).
        ours = datetime.strptime(point["contracts"][key], "%Y-%m-%d%z")
        assert ours.date() == datetime.strptime(upstream["contracts"][key][:10], "%Y-%m-%d").date()
        assert ours.utcoffset() == ours.replace(tzinfo=PARIS).utcoffset()

    address = v1(client, f"/addresses/{C0}/cache/", world.secret).get_json()["customer"]["usage_points"][0]
    upstream_address = world.raw("addresses", None)["customer"]["usage_points"][0]["usage_point"]
    ours = address["usage_point"]["usage_point_addresses"]
    assert {k: v for k, v in ours.items() if v is not None} == upstream_address["usage_point_addresses"]


def test_v1_valid_access_has_the_six_keys_in_the_import_clients_formats(client, world, session):
    session.add(EnedisConsent(user_id=world.alice.id, state_hash="x" * 64, status="active", prms=[C0],
                              started_at=datetime(2026, 1, 1), expires_at=datetime(2027, 1, 14, 15, 32, 38),
                              state_expires_at=datetime(2026, 1, 1)))
    session.flush()
    response = v1(client, f"/valid_access/{C0}", world.secret)
    body = response.get_json()
    assert response.status_code == 200 and body["valid"] is True and body["ban"] is False
    assert body["consent_expiration_date"] == "2027-01-14T16:32:38"  # Paris wall clock
    assert isinstance(body["call_number"], int) and body["quota_limit"] == 5000 and body["quota_reached"] is False
    assert body["enedis_quota_limit"] == 50
    datetime.strptime(body["quota_reset_at"], "%Y-%m-%dT%H:%M:%S.%f")
    datetime.strptime(body["last_call"], "%Y-%m-%dT%H:%M:%S.%f")
    assert body["quota_reset_at"].endswith("T23:59:59.999999")
    assert v1(client, f"/valid_access/{C0}/cache/", world.secret).status_code == 200


# -- v1: auth, ownership, errors -----------------------------------------------------------------------


def test_v1_token_is_the_raw_secret_and_nothing_else(client, world, auth, session):
    world.fill("daily_consumption")
    path = dated("daily_consumption")
    assert v1(client, path, world.secret).status_code == 200
    assert v1(client, path, f"Bearer {world.secret}").status_code == 200
    for wrong in (None, world.secret + "x", "Basic abc", "x" * 5000, "Bearer"):
        response = v1(client, path, wrong)
        assert response.status_code == 401 and "detail" in response.get_json()
    # A signed-in browser session is no API credential.
    make_user(session, "carol@example.org", password="correct horse battery")
    auth.login("carol@example.org")
    assert client.get(path).status_code == 401


def test_another_accounts_pdl_is_404_in_v1_and_access_denied_in_v2_never_data(client, world):
    world.fill("daily_production", point=world.bobs_point)
    for path in (dated("daily_production", pdl=PRODUCER), f"/valid_access/{PRODUCER}", f"/contracts/{PRODUCER}",
                 f"/addresses/{PRODUCER}", dated("consumption_load_curve", START, START + timedelta(days=1),
                                                 pdl=PRODUCER)):
        response = v1(client, path, world.secret)
        assert response.status_code == 404 and list(response.get_json()) == ["detail"], path
    assert v1(client, dated("daily_production", pdl=PRODUCER), world.bobs_secret).status_code == 200
    for path in (f"/api/enedis/production/daily/{PRODUCER}?start={START}&end={END}", f"/api/enedis/contract/{PRODUCER}"):
        body = client.get(path, headers={"Authorization": f"Bearer {world.secret}"}).get_json()
        assert body["success"] is False and body["data"] is None and body["error"]["code"] == "ACCESS_DENIED"


def test_a_miss_is_503_with_retry_after_and_enqueues_the_missing_days(client, world, valkey):
    world.fill("daily_consumption", skip={START + timedelta(days=1)})
    response = v1(client, dated("daily_consumption"), world.secret)
    assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
    assert "1 jour" in response.get_json()["detail"] and "meter_reading" not in response.get_json()
    day = START + timedelta(days=1)
    assert valkey.exists(once_key(fetch_claim(world.point.id, "daily_consumption", day, day + timedelta(days=1))))
    assert ("releve.enedis.fetch_window", {"point_id": world.point.id, "series": "daily_consumption",
                                           "start": str(day), "end": str(day + timedelta(days=1))}) in \
        [(name, {k: kw[k] for k in ("point_id", "series", "start", "end")}) for name, kw in queued(valkey)]

    v2 = client.get(f"/api/enedis/consumption/daily/{C0}?start={START}&end={END}",
                    headers={"Authorization": world.secret})
    assert v2.status_code == 200 and int(v2.headers["Retry-After"]) > 0
    body = v2.get_json()
    assert body["success"] is False and body["data"] is None and body["error"]["code"] == "DATA_PENDING"


def test_a_miss_while_enedis_throttles_is_429_with_its_error_as_a_json_string(client, world, valkey):
    world.fill("daily_consumption", skip={LAST})
    RateLimiter(valkey, "enedis").block(600)
    response = v1(client, dated("daily_consumption"), world.secret)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 500
    inner = json.loads(response.get_json()["detail"])
    assert inner["nextAccessTime"] and "quota" in inner["description"]


def test_consent_lost_is_403_on_a_miss_and_valid_access_says_so(client, world, session):
    world.point.status = "consent_needed"
    session.flush()
    response = v1(client, dated("daily_consumption"), world.secret)
    assert response.status_code == 403 and "consentement" in response.get_json()["detail"]
    body = v1(client, f"/valid_access/{C0}", world.secret).get_json()
    assert body["valid"] is False and body["information"]


def test_a_series_the_meter_does_not_carry_is_404(client, world):
    response = v1(client, dated("daily_consumption", pdl=PRODUCER), world.bobs_secret)
    assert response.status_code == 404 and "detail" in response.get_json()


@pytest.mark.parametrize("path", [
    f"/daily_consumption/{C0}/start/2026-13-01/end/2026-01-02",
    f"/daily_consumption/{C0}/start/99999-01-01/end/2026-01-02",
    f"/daily_consumption/{C0}/start/2026-01-01%00/end/2026-01-02",
    f"/daily_consumption/{C0}/start/{'9' * 100000}/end/2026-01-02",
    f"/daily_consumption/{C0}/start/{END}/end/{START}",
    f"/consumption_load_curve/{C0}/start/{START - timedelta(days=10)}/end/{END}",  # over 7 days
    f"/daily_consumption/{C0}/start/2020-01-01/end/{END}",  # over 1095 days
    f"/rte/tempo/2026-01-01/not-a-day",
])
def test_hostile_or_impossible_ranges_are_a_clear_400(client, world, path):
    response = v1(client, path, world.secret)
    assert response.status_code == 400 and isinstance(response.get_json()["detail"], str)


def test_hostile_pdls_are_404_never_500(client, world):
    for pdl in ("1" * 13, "1" * 15, "abc", "2251691471427%00", "9" * 10000):
        assert v1(client, f"/valid_access/{pdl}", world.secret).status_code == 404


class TestQuotas:
    @pytest.fixture
    def settings_env(self):
        return {"API_QUOTA_PER_DAY": "3", "API_QUOTA_PER_MINUTE": "100", "API_UPSTREAM_QUOTA_PER_DAY": "2"}

    def test_own_quota_is_409_in_v1_rate_limit_exceeded_in_v2_and_valid_access_shows_it(self, client, world):
        world.fill("daily_consumption", START, LAST - timedelta(days=2))  # settled days only: pure cache reads
        path = dated("daily_consumption", START, LAST - timedelta(days=2))
        assert [v1(client, path, world.secret).status_code for _ in range(3)] == [200, 200, 200]
        refused = v1(client, path, world.secret)
        assert refused.status_code == 409 and "quota" in refused.get_json()["detail"]
        assert int(refused.headers["Retry-After"]) > 0
        access = v1(client, f"/valid_access/{C0}", world.secret).get_json()
        assert access["quota_reached"] is True and access["valid"] is False and "quota" in access["information"]
        v2 = client.get(f"/api/enedis/consumption/daily/{C0}?start={START}&end={LAST - timedelta(days=2)}",
                        headers={"Authorization": f"Bearer {world.secret}"})
        assert v2.status_code == 200 and v2.get_json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        # Another client of another account is not concerned.
        world.fill("daily_production", point=world.bobs_point)
        assert v1(client, dated("daily_production", pdl=PRODUCER), world.bobs_secret).status_code == 200


# -- v1: public and cache routes ----------------------------------------------------------------------


def test_public_routes_need_no_token(client, world, session):
    today = today_paris()
    now = datetime.now()
    session.add_all([TempoDay(day=today, colour="RED", rte_colour="RED", updated_at=now, fetched_at=now),
                     TempoDay(day=today + timedelta(days=1), colour="WHITE", rte_colour="WHITE", updated_at=now,
                              fetched_at=now),
                     EcoWattSignal(day=today, dvalue=2, message="Orange.", hvalues=[1] * 12 + [2] * 12,
                                   generated_at=now, fetched_at=now)])
    session.flush()
    tempo = client.get(f"/rte/tempo/{today - timedelta(days=1095)}/{today + timedelta(days=1)}")
    assert tempo.status_code == 200
    assert tempo.get_json() == {str(today): "red", str(today + timedelta(days=1)): "white"}
    ecowatt = client.get(f"/rte/ecowatt/{today}/{today + timedelta(days=2)}/").get_json()
    assert ecowatt[str(today)]["value"] == 2 and ecowatt[str(today)]["message"] == "Orange."
    assert ecowatt[str(today)]["detail"][f"{today} 13:00:00"] == 2
    for key in ecowatt[str(today)]["detail"]:
        datetime.strptime(key, "%Y-%m-%d %H:%M:%S")  # myEnedis's format
    days = client.get("/edf/tempo/days").get_json()
    assert set(days) == {"blue", "white", "red"} and all(isinstance(v, int) for v in days.values())
    assert client.get("/ping").get_json()["status"] is True
    v2 = client.get(f"/api/tempo/days?start_date={today}&end_date={today + timedelta(days=1)}").get_json()
    assert [(i["date"], i["color"]) for i in v2["data"]] == [(str(today), "RED"), (str(today + timedelta(days=1)), "WHITE")]


class TestUppercaseTempo:
    @pytest.fixture
    def settings_env(self):
        return {"MED_TEMPO_CASE": "upper"}

    def test_the_import_clients_case(self, client, session):
        now = datetime.now()
        session.add(TempoDay(day=today_paris(), colour="BLUE", rte_colour="BLUE", updated_at=now, fetched_at=now))
        session.flush()
        assert client.get(f"/rte/tempo/{today_paris()}/{today_paris()}").get_json() == {str(today_paris()): "BLUE"}


def test_cache_purges_are_acknowledged_for_the_owner_only(client, world):
    for path in (f"/cache/{C0}", f"/daily_consumption/{C0}/start/{START}/end/{END}/cache/", f"/contracts/{C0}/cache/"):
        assert v1(client, path, world.secret, method="DELETE").status_code == 200, path
        assert v1(client, path, world.bobs_secret, method="DELETE").status_code == 404, path
    response = client.delete(f"/api/enedis/cache/{C0}", headers={"Authorization": f"Bearer {world.secret}"})
    assert response.get_json()["success"] is True


# -- v2 ------------------------------------------------------------------------------------------------


def test_v2_token_endpoint_issues_a_short_lived_token(client, world):
    assert client.post("/api/accounts/token", data={"grant_type": "client_credentials"}).status_code == 422
    wrong = client.post("/api/accounts/token", data={"client_id": "nope", "client_secret": world.secret})
    assert wrong.status_code == 401
    response = client.post("/api/accounts/token", data={"grant_type": "client_credentials",
                                                         "client_id": world.client_id_of_alice,
                                                         "client_secret": world.secret})
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "bearer" and 0 < body["expires_in"] <= 3600
    basic = base64.b64encode(f"{world.client_id_of_alice}:{world.secret}".encode()).decode()
    assert client.post("/api/accounts/token", headers={"Authorization": f"Basic {basic}"}).status_code == 200

    world.fill("daily_consumption")
    path = f"/api/enedis/consumption/daily/{C0}?start={START}&end={END}"
    ok = client.get(path, headers={"Authorization": f"Bearer {body['access_token']}"}).get_json()
    assert ok.get("success") is True, (ok, body)
    assert len(ok["data"]["meter_reading"]["interval_reading"]) == 5
    client.set_cookie("access_token", body["access_token"])
    assert client.get(path).get_json()["success"] is True
    client.delete_cookie("access_token")
    token = body["access_token"]
    tampered = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    assert client.get(path, headers={"Authorization": f"Bearer {tampered}"}).status_code == 401
    assert client.get(path).status_code == 401


def test_v2_envelope_and_shapes(client, world):
    world.fill("daily_consumption")
    world.fill("max_power")
    world.fill_customer()
    headers = {"Authorization": f"Bearer {world.secret}"}
    for path in (f"/api/enedis/consumption/daily/{C0}?start={START}&end={END}&use_cache=true",
                 f"/api/enedis/power/{C0}?start={START}&end={END}", f"/api/enedis/contract/{C0}",
                 f"/api/enedis/address/{C0}", "/api/pdl", "/api/accounts/usage-stats"):
        response = client.get(path, headers=headers)
        body = response.get_json()
        assert response.status_code == 200 and set(body) == {"success", "data", "error", "timestamp"}, path
        assert body["success"] is True, (path, body)
        datetime.strptime(body["timestamp"], "%Y-%m-%dT%H:%M:%S.%f")
    pdls = client.get("/api/pdl", headers=headers).get_json()["data"]
    assert [p["usage_point_id"] for p in pdls] == [C0]
    assert {"id", "name", "subscribed_power", "offpeak_hours", "has_consumption", "has_production", "is_active",
            "activation_date", "oldest_available_data_date"} <= set(pdls[0])
    assert isinstance(pdls[0]["subscribed_power"], int)
    assert all(len(r) == 11 and r[2] == ":" for r in pdls[0]["offpeak_hours"])
    contract = client.get(f"/api/enedis/contract/{C0}", headers=headers).get_json()["data"]
    assert contract["customer"]["usage_points"][0]["contracts"]["offpeak_hours"] == \
        world.raw("contracts", None)["customer"]["usage_points"][0]["contracts"]["offpeak_hours"]
    missing = client.get(f"/api/enedis/consumption/daily/{C0}?start={START}", headers=headers)
    assert missing.status_code == 422 and missing.get_json()["detail"][0]["loc"] == ["query", "end"]
    bad = client.get(f"/api/enedis/consumption/daily/{C0}?start=2026-02-30&end={END}", headers=headers).get_json()
    assert bad["error"]["code"] == "INVALID_DATE_FORMAT"


def test_v2_public_and_counted_routes(client, world, session):
    today = today_paris()
    now = datetime.now()
    session.add(EcoWattSignal(day=today, dvalue=1, message="Pas d'alerte.", hvalues=[1] * 24, generated_at=now,
                              fetched_at=now))
    session.flush()
    headers = {"Authorization": f"Bearer {world.secret}"}
    assert client.get("/api/ecowatt/forecast").status_code == 401  # MED: authenticated and rate-limited
    forecast = client.get("/api/ecowatt/forecast?days=2", headers=headers).get_json()["data"]
    assert [(f["dvalue"], len(f["values"])) for f in forecast] == [(1, 24)]
    assert client.get("/api/ecowatt/forecast?days=9", headers=headers).status_code == 422
    providers = client.get("/api/energy/providers").get_json()
    assert providers["success"] is True and isinstance(providers["data"], list)
    offers = client.get("/api/energy/offers").get_json()["data"]
    assert all({"id", "provider_id", "name", "offer_type", "valid_from", "is_active"} <= set(o) for o in offers)
    national = client.get(f"/api/consumption-france?type=REALISED&start_date={today}&end_date={today}").get_json()
    assert national["success"] is True and set(national["data"]) == {"short_term", "period"}
    assert client.get("/api/consumption-france?type=NOPE").status_code == 422


@pytest.mark.parametrize("query", ["start=2026-01-01%00&end=2026-01-02", f"start={'9' * 100000}&end=2026-01-02",
                                   "start=-1&end=99999999999999999999", "start=2026-01-01&end=2026-01-01T00:00"])
def test_v2_hostile_dates_are_refused_never_500(client, world, query):
    response = client.get(f"/api/enedis/consumption/daily/{C0}?{query}",
                          headers={"Authorization": f"Bearer {world.secret}"})
    assert response.status_code == 200 and response.get_json()["error"]["code"] == "INVALID_DATE_FORMAT"


def test_v2_hostile_credentials_are_401_never_500(client, world):
    path = f"/api/enedis/consumption/daily/{C0}?start={START}&end={END}"
    for value in ("Bearer " + "a." * 3000, "Bearer x.y", "Bearer \x01", "Basic ####", "Bearer " + "é" * 10):
        assert client.get(path, headers={"Authorization": value.encode("latin-1", "replace").decode("latin-1")}
                          ).status_code == 401
    assert client.post("/api/accounts/token", headers={"Authorization": "Basic ####"}).status_code == 401
    assert client.post("/api/accounts/token", data={"client_id": "a", "client_secret": "b\x00"}).status_code == 401


def test_the_apps_own_errors_on_med_routes_are_detail_json(client, world):
    for method, path in (("POST", "/ping"), ("PUT", f"/valid_access/{C0}"), ("GET", f"/rte/tempo/{START}"),
                         ("POST", f"/api/enedis/contract/{C0}"), ("GET", "/api/enedis/nothing-here")):
        response = client.open(path, method=method, headers={"Authorization": world.secret})
        assert response.status_code in (404, 405) and isinstance(response.get_json()["detail"], str), path


def test_a_token_stands_for_its_secret_and_expires_within_the_hour(settings):
    from freezegun import freeze_time

    from models.api_clients import hash_secret
    from webapp.med import tokens

    secret = ApiClient.issue(1)[1]
    with freeze_time("2026-11-26 08:00:00"):
        token = tokens.issue(settings.secret_key, secret)
    assert len(token) <= tokens.MAX_TOKEN_LENGTH and "." in token and "." not in secret
    with freeze_time("2026-11-26 08:59:00"):
        assert tokens.secret_hash_of(settings.secret_key, token) == hash_secret(secret)
        assert tokens.secret_hash_of("another key " * 4, token) is None
        altered = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]  # not the last: its low bits are padding
        assert tokens.secret_hash_of(settings.secret_key, altered) is None
    with freeze_time("2026-11-26 09:00:02"):
        assert tokens.secret_hash_of(settings.secret_key, token) is None


def last_clock_change(month: int) -> date:
    """The newest published last Sunday of `month` (March: 46 half-hours; October: 50)."""
    year = LAST.year
    while True:
        day = date(year, month, 31)
        day -= timedelta(days=(day.weekday() + 1) % 7)
        if day <= LAST:
            return day
        year -= 1


@pytest.mark.parametrize("month, points", [(3, 46), (10, 50)])
def test_v1_load_curve_on_clock_change_days_is_what_enedis_sent(client, world, month, points):
    """Dated at the interval end, naive Paris time: the fall-back night repeats its labels, as Enedis does."""
    day = last_clock_change(month)
    world.fill("load_curve", day, day + timedelta(days=1))
    reading = v1(client, dated("consumption_load_curve", day, day + timedelta(days=1)), world.secret).get_json()
    upstream = world.raw("consumption_load_curve", day, day + timedelta(days=1))["meter_reading"]["interval_reading"]
    ours = [(i["value"], i["date"]) for i in reading["meter_reading"]["interval_reading"]]
    assert len(ours) == points and ours == [(i["value"], i["date"]) for i in upstream]
