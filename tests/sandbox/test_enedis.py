"""The Enedis emulator over real HTTP: consent, token, the nine data endpoints, the rules."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import jsonschema
import pytest
import requests

from sandbox import enedis_data
from sandbox.testing import running_sandbox

PARIS = ZoneInfo("Europe/Paris")
# Enedis's own Swagger files, copied from the shared reference so a fresh clone has them.
SWAGGER = Path(__file__).resolve().parents[2] / "docs" / "reference" / "enedis-openapi"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=PARIS)
CONSENT_START_PRM = "64975835695673"
# REGISTER_ALL: these tests read PRMs directly, without going through a consent page.
CONFIG = {"RATE_PER_SECOND": 100_000, "CONSENT_STARTS": {CONSENT_START_PRM: "2026-01-01"}, "REGISTER_ALL": True}

P = {
    "daily_consumption": "/metering_data_dc/v5/daily_consumption",
    "consumption_load_curve": "/metering_data_clc/v5/consumption_load_curve",
    "daily_consumption_max_power": "/metering_data_dcmp/v5/daily_consumption_max_power",
    "daily_production": "/metering_data_dp/v5/daily_production",
    "production_load_curve": "/metering_data_plc/v5/production_load_curve",
    "contracts": "/customers_upc/v5/usage_points/contracts",
    "addresses": "/customers_upa/v5/usage_points/addresses",
    "identity": "/customers_i/v5/identity",
    "contact_data": "/customers_cd/v5/contact_data",
}
SWAGGER_FILE = {
    "daily_consumption": "03-metering-consommation-daily.json",
    "consumption_load_curve": "04-metering-consommation-detail.json",
    "daily_consumption_max_power": "05-metering-power.json",
    "daily_production": "06-metering-production-daily.json",
    "production_load_curve": "07-metering-production-detail.json",
    "contracts": "08-contract.json",
    "addresses": "09-address.json",
    "identity": "10-customer.json",
    "contact_data": "11-contact.json",
}
CONSUMPTION_PRMS = ["22516914714270", "11453290002823", "32320647321714", "12345678901234", "42900589957123",
                    "12655648759651", "64975835695673", "63695879465986", "22315546958763"]
PRODUCTION_PRMS = ["10284856584123", "24880057139941", "12655648759651"]


# -- helpers ---------------------------------------------------------------------------------

class Client:
    def __init__(self, running):
        self.url, self.state = running.url, running.state
        self.session = requests.Session()
        answer = self.session.post(f"{self.url}/oauth2/v3/token", data={
            "grant_type": "client_credentials", "client_id": "app", "client_secret": "secret"}, timeout=10)
        assert answer.status_code == 200, answer.text
        self.token = answer.json()["access_token"]

    def get(self, name: str, prm: str, start: date | str | None = None, end: date | str | None = None,
            token: str | None = None) -> requests.Response:
        params = {"usage_point_id": prm}
        if start is not None:
            params["start"] = str(start)
        if end is not None:
            params["end"] = str(end)
        return self.session.get(f"{self.url}{P[name]}", params=params, timeout=10,
                                headers={"Authorization": f"Bearer {token or self.token}"})


@pytest.fixture(scope="module")
def sandbox_config():
    return CONFIG  # quota off


@pytest.fixture
def enedis(sandbox):
    sandbox.state.set_clock(NOW, frozen=True)
    return Client(sandbox)


def normalise(schema):
    """The Swagger enums are descriptive ("BRUT : Données brutes", "PT30M : Pas de 30 minutes"):
    keep the code before " : ", which is what Enedis sends."""
    if isinstance(schema, dict):
        out = {k: normalise(v) for k, v in schema.items()}
        if isinstance(out.get("enum"), list):
            out["enum"] = [e.split(" : ")[0] if isinstance(e, str) else e for e in out["enum"]]
        return out
    if isinstance(schema, list):
        return [normalise(x) for x in schema]
    return schema


def resolve_refs(node, root):
    if isinstance(node, dict):
        if "$ref" in node:
            target = root
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return resolve_refs(target, root)
        return {k: resolve_refs(v, root) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve_refs(x, root) for x in node]
    return node


def schema_of(name: str) -> dict:
    swagger = json.loads((SWAGGER / SWAGGER_FILE[name]).read_text())
    (operations,) = swagger["paths"].values()
    return normalise(resolve_refs(operations["get"]["responses"]["200"]["schema"], swagger))


def error_code(response) -> str:
    return response.json()["error"]


# -- schemas: every endpoint x every sandbox PRM where it applies ----------------------------

START, END = date(2026, 11, 10), date(2026, 11, 17)


@pytest.mark.parametrize("name", ["daily_consumption", "consumption_load_curve", "daily_consumption_max_power"])
def test_consumption_metering_matches_swagger(enedis, name):
    schema = schema_of(name)
    for prm in CONSUMPTION_PRMS:
        answer = enedis.get(name, prm, START, END)
        if prm == "32320647321714" and name == "consumption_load_curve":
            assert answer.status_code == 400 and error_code(answer) == "ADAM-ERR0075"
            continue
        assert answer.status_code == 200, (prm, answer.text)
        body = answer.json()
        jsonschema.validate(body, schema)
        reading = body["meter_reading"]
        assert reading["usage_point_id"] == prm and reading["quality"] == "BRUT"
        assert all(isinstance(i["value"], str) for i in reading["interval_reading"])


@pytest.mark.parametrize("name", ["daily_production", "production_load_curve"])
def test_production_metering_matches_swagger(enedis, name):
    schema = schema_of(name)
    for prm in PRODUCTION_PRMS:
        answer = enedis.get(name, prm, START, END)
        assert answer.status_code == 200, (prm, answer.text)
        jsonschema.validate(answer.json(), schema)


def test_reading_types(enedis):
    expected = {
        "daily_consumption": {"measurement_kind": "energy", "measuring_period": "P1D", "unit": "Wh", "aggregate": "sum"},
        "daily_production": {"measurement_kind": "energy", "measuring_period": "P1D", "unit": "Wh", "aggregate": "sum"},
        "daily_consumption_max_power": {"measurement_kind": "power", "measuring_period": "P1D", "unit": "VA",
                                        "aggregate": "maximum"},
        "consumption_load_curve": {"measurement_kind": "power", "unit": "W", "aggregate": "average"},
        "production_load_curve": {"measurement_kind": "power", "unit": "W", "aggregate": "average"},
    }
    for name, reading_type in expected.items():
        assert enedis.get(name, "12655648759651", START, END).json()["meter_reading"]["reading_type"] == reading_type


@pytest.mark.parametrize("name", ["contracts", "addresses", "identity", "contact_data"])
def test_customer_data_matches_swagger(enedis, name):
    schema = schema_of(name)
    for prm in CONSUMPTION_PRMS:
        answer = enedis.get(name, prm)
        assert answer.status_code == 200, (prm, answer.text)
        body = answer.json()
        jsonschema.validate(body, schema)
        if name in ("identity", "contact_data"):
            # The gateway wraps these in "customer"; the Swagger shows the inner object.
            jsonschema.validate(body["customer"], schema)
        if name == "contact_data":
            assert set(body["customer"]["contact_data"]) == {"phone", "email"}
        if name == "identity":
            assert body["customer"]["identity"]["natural_person"]["lastname"]
        if name in ("contracts", "addresses"):
            assert body["customer"]["usage_points"][0]["usage_point"]["usage_point_id"] == prm
    for prm in ("10284856584123", "24880057139941"):
        answer = enedis.get(name, prm)
        assert answer.status_code == 400 and error_code(answer) == "ADAM-ERR0069"


def test_contracts_content(enedis):
    seen = set()
    for prm in CONSUMPTION_PRMS:
        contract = enedis.get("contracts", prm).json()["customer"]["usage_points"][0]["contracts"]
        assert contract["segment"] == "C5"
        assert contract["subscribed_power"].endswith(" kVA")
        assert contract["last_activation_date"].endswith("+01:00")
        seen.add(contract.get("offpeak_hours"))
        if prm == "11453290002823":
            assert contract["last_activation_date"] == "2019-08-27+01:00"
    assert {"HC (23h00-7h30)", "HC (22H00-6H00)", "HC (1H30-8H00;12H30-14H00)", None} <= seen
    up = enedis.get("contracts", "22516914714270").json()["customer"]["usage_points"][0]["usage_point"]
    assert up["usage_point_status"] == "com" and up["meter_type"] == "AMM"


# -- the load curve --------------------------------------------------------------------------

def curve(enedis, prm, day, kind="consumption_load_curve"):
    answer = enedis.get(kind, prm, day, day + timedelta(days=1))
    assert answer.status_code == 200, answer.text
    return answer.json()["meter_reading"]["interval_reading"]


def test_labels_mark_interval_end(enedis):
    points = curve(enedis, "22516914714270", date(2026, 11, 12))
    assert len(points) == 48
    assert points[0]["date"] == "2026-11-12 00:30:00"
    assert points[-1]["date"] == "2026-11-13 00:00:00"
    assert {p["interval_length"] for p in points} == {"PT30M"} and {p["measure_type"] for p in points} == {"B"}


def test_dst_days(enedis):
    spring = curve(enedis, "22516914714270", date(2026, 3, 29))
    assert len(spring) == 46
    assert not any(p["date"].startswith("2026-03-29 02:") for p in spring[:-1])
    autumn = curve(enedis, "22516914714270", date(2026, 10, 25))
    assert len(autumn) == 50
    labels = [p["date"] for p in autumn]
    assert labels.count("2026-10-25 02:00:00") == 2 and labels.count("2026-10-25 02:30:00") == 2
    assert labels.count("2026-10-25 03:00:00") == 1
    assert labels[0] == "2026-10-25 00:30:00" and labels[-1] == "2026-10-26 00:00:00"
    production = curve(enedis, "24880057139941", date(2026, 10, 25), "production_load_curve")
    assert len(production) == 50


@pytest.mark.parametrize("prm,kind", [("22516914714270", "consumption"), ("12655648759651", "consumption"),
                                      ("12655648759651", "production"), ("24880057139941", "production")])
def test_daily_is_exact_sum_of_curve(enedis, prm, kind):
    start, end = date(2026, 10, 22), date(2026, 10, 29)     # includes the fall-back day
    daily = enedis.get(f"daily_{kind}", prm, start, end).json()["meter_reading"]["interval_reading"]
    points = enedis.get(f"{kind}_load_curve", prm, start, end).json()["meter_reading"]["interval_reading"]
    per_day: dict[str, int] = {}
    for point in points:
        stamp = datetime.fromisoformat(point["date"]) - timedelta(minutes=30)
        per_day.setdefault(stamp.date().isoformat(), 0)
        watts = int(point["value"])
        assert watts * 30 % 60 == 0
        per_day[stamp.date().isoformat()] += watts * 30 // 60
    assert len(daily) == 7
    assert {d["date"]: int(d["value"]) for d in daily} == per_day


def test_max_power_consistent_with_curve(enedis):
    prm = "22516914714270"
    for day in (date(2026, 1, 14), date(2026, 3, 29), date(2026, 7, 4), date(2026, 10, 25)):
        points = curve(enedis, prm, day)
        (peak,) = enedis.get("daily_consumption_max_power", prm, day, day + timedelta(days=1)).json()[
            "meter_reading"]["interval_reading"]
        best = max(int(p["value"]) for p in points)
        assert int(peak["value"]) >= best
        moment = datetime.strptime(peak["date"], "%Y-%m-%d %H:%M:%S")
        assert moment.date() == day
        ends = [datetime.strptime(p["date"], "%Y-%m-%d %H:%M:%S") for p in points if int(p["value"]) == best]
        assert any(end - timedelta(minutes=30) < moment < end for end in ends)


def test_realistic_shapes(enedis):
    prm = "22516914714270"
    winter = sum(int(d["value"]) for d in enedis.get("daily_consumption", prm, date(2026, 1, 5), date(2026, 2, 2))
                 .json()["meter_reading"]["interval_reading"])
    summer = sum(int(d["value"]) for d in enedis.get("daily_consumption", prm, date(2026, 7, 6), date(2026, 8, 3))
                 .json()["meter_reading"]["interval_reading"])
    assert winter > 1.5 * summer
    pv = curve(enedis, "24880057139941", date(2026, 6, 21), "production_load_curve")
    by_hour = {p["date"][11:16]: int(p["value"]) for p in pv}
    assert by_hour["02:00"] == 0 and by_hour["23:30"] == 0
    assert by_hour["14:00"] > 0
    pv_winter = sum(int(d["value"]) for d in enedis.get("daily_production", "24880057139941", date(2026, 1, 5),
                    date(2026, 2, 2)).json()["meter_reading"]["interval_reading"])
    pv_summer = sum(int(d["value"]) for d in enedis.get("daily_production", "24880057139941", date(2026, 6, 8),
                    date(2026, 7, 6)).json()["meter_reading"]["interval_reading"])
    assert pv_summer > 2 * pv_winter


# -- rules and errors ------------------------------------------------------------------------

def test_token_endpoint(enedis):
    url = f"{enedis.url}/oauth2/v3/token"
    ok = requests.post(url, data={"grant_type": "client_credentials"}, auth=("app", "secret"), timeout=10)
    assert ok.status_code == 200
    body = ok.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == "12600" and body["access_token"]
    assert "scope" in body
    bad = requests.post(url, data={"grant_type": "password"}, auth=("app", "secret"), timeout=10)
    assert bad.status_code == 400 and bad.json()["error"] == "unsupported_grant_type"
    missing = requests.post(url, data={"client_id": "app"}, timeout=10)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    as_json = requests.post(url, json={"grant_type": "client_credentials"}, auth=("app", "secret"), timeout=10)
    assert as_json.status_code == 415
    assert requests.post(f"{enedis.url}/oauth2/v3/revoke", data={"token": enedis.token},
                         auth=("app", "secret"), timeout=10).status_code == 200


def test_invalid_client():
    with running_sandbox({"CLIENTS": {"app": "secret"}}) as running:
        answer = requests.post(f"{running.url}/oauth2/v3/token", timeout=10,
                               data={"grant_type": "client_credentials", "client_id": "app", "client_secret": "no"})
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


def test_bad_token_is_gateway_fault(enedis):
    answer = enedis.get("daily_consumption", "22516914714270", START, END, token="nope")
    assert answer.status_code == 401 and answer.json()["fault"]["code"] == 900901
    bare = requests.get(f"{enedis.url}{P['contracts']}", params={"usage_point_id": "22516914714270"}, timeout=10)
    assert bare.status_code == 401 and bare.json()["fault"]["code"] == 900902
    enedis.state.add_fault("expired-token", api="enedis", calls=1)
    answer = enedis.get("contracts", "22516914714270")
    assert answer.status_code == 401 and answer.json()["fault"]["code"] == 900901
    assert enedis.get("contracts", "22516914714270").status_code == 200


@pytest.mark.parametrize("params", [
    {"usage_point_id": "1234", "start": "2026-11-01", "end": "2026-11-02"},
    {"usage_point_id": "2251691471427a", "start": "2026-11-01", "end": "2026-11-02"},
    {"start": "2026-11-01", "end": "2026-11-02"},
    {"usage_point_id": "22516914714270", "start": "2026-11-02", "end": "2026-11-02"},
    {"usage_point_id": "22516914714270", "start": "2026-11-03", "end": "2026-11-02"},
    {"usage_point_id": "22516914714270", "start": "2026-11-19", "end": "2026-11-21"},
    {"usage_point_id": "22516914714270", "start": "01/11/2026", "end": "2026-11-02"},
    {"usage_point_id": "22516914714270", "start": "2026-11-01"},
])
def test_invalid_request(enedis, params):
    answer = enedis.session.get(f"{enedis.url}{P['daily_consumption']}", params=params, timeout=10,
                                headers={"Authorization": f"Bearer {enedis.token}"})
    assert answer.status_code == 400 and error_code(answer) == "invalid_request"
    assert answer.json()["error_description"]


def test_end_today_is_allowed(enedis):
    answer = enedis.get("daily_consumption", "22516914714270", date(2026, 11, 18), date(2026, 11, 20))
    assert answer.status_code == 200
    assert [d["date"] for d in answer.json()["meter_reading"]["interval_reading"]] == ["2026-11-18", "2026-11-19"]


def test_load_curve_window_limit(enedis):
    assert enedis.get("consumption_load_curve", "22516914714270", date(2026, 11, 1), date(2026, 11, 8)).status_code == 200
    answer = enedis.get("consumption_load_curve", "22516914714270", date(2026, 11, 1), date(2026, 11, 9))
    assert answer.status_code == 400 and error_code(answer) == "ADAM-DC-0015"


def test_history_limits(enedis):
    prm = "22516914714270"
    # today 2026-11-20: load curve back to 2024-11-05, daily back to 2023-11-05
    assert enedis.get("consumption_load_curve", prm, date(2024, 11, 5), date(2024, 11, 6)).status_code == 200
    answer = enedis.get("consumption_load_curve", prm, date(2024, 11, 4), date(2024, 11, 5))
    assert answer.status_code == 400 and error_code(answer) == "ADAM-DC-0016"
    assert enedis.get("daily_consumption", prm, date(2023, 11, 5), date(2023, 11, 6)).status_code == 200
    answer = enedis.get("daily_consumption", prm, date(2023, 11, 4), date(2023, 11, 6))
    assert answer.status_code == 400 and error_code(answer) == "ADAM-DC-0016"
    answer = enedis.get("daily_consumption_max_power", prm, date(2023, 11, 4), date(2023, 11, 6))
    assert answer.status_code == 400 and error_code(answer) == "ADAM-ERR0125"


def test_before_activation(enedis):
    prm = "11453290002823"                          # active since 2019-08-27
    enedis.state.set_clock(datetime(2021, 6, 1, 12, tzinfo=PARIS), frozen=True)
    answer = enedis.get("daily_consumption", prm, date(2019, 8, 20), date(2019, 9, 1))
    assert answer.status_code == 400 and error_code(answer) == "ADAM-ERR0123"
    assert enedis.get("daily_consumption", prm, date(2019, 8, 27), date(2019, 9, 1)).status_code == 200


def test_before_consent_start(enedis):
    answer = enedis.get("daily_consumption", CONSENT_START_PRM, date(2025, 12, 20), date(2026, 1, 5))
    assert answer.status_code == 403 and error_code(answer) == "ADAM-DC-0009"
    assert enedis.get("daily_consumption", CONSENT_START_PRM, date(2026, 1, 1), date(2026, 1, 5)).status_code == 200


def test_load_curve_not_activated(enedis):
    answer = enedis.get("consumption_load_curve", "32320647321714", START, END)
    assert answer.status_code == 400 and error_code(answer) == "ADAM-ERR0075"
    assert enedis.get("daily_consumption", "32320647321714", START, END).status_code == 200


def test_wrong_direction(enedis):
    for name in ("daily_consumption", "consumption_load_curve", "daily_consumption_max_power"):
        answer = enedis.get(name, "24880057139941", START, END)
        assert answer.status_code == 400 and error_code(answer) == "ADAM-ERR0069"
    for name in ("daily_production", "production_load_curve"):
        answer = enedis.get(name, "22516914714270", START, END)
        assert answer.status_code == 400 and error_code(answer) == "ADAM-ERR0069"


def test_revoked_consent(enedis):
    for name in P:
        answer = enedis.get(name, "26584978546985", START, END)
        assert answer.status_code == 403 and error_code(answer) == "ADAM-DC-0008", name
    assert enedis.get("daily_consumption", "22516914714270", START, END).status_code == 200
    enedis.state.revoked.add("22516914714270")
    answer = enedis.get("daily_consumption", "22516914714270", START, END)
    assert answer.status_code == 403 and error_code(answer) == "ADAM-DC-0008"
    enedis.state.revoked.clear()
    enedis.state.add_fault("revoke", api="enedis", prm="22315546958763")
    answer = enedis.get("contracts", "22315546958763")
    assert answer.status_code == 403 and error_code(answer) == "ADAM-DC-0008"
    enedis.state.clear_faults()
    enedis.state.add_fault("revoke", api="enedis", prm="22315546958763", calls=1, path=P["identity"])
    assert enedis.get("contracts", "22315546958763").status_code == 200
    assert error_code(enedis.get("identity", "22315546958763")) == "ADAM-DC-0008"
    assert enedis.get("identity", "22315546958763").status_code == 200


def test_customer_4_gaps(enedis):
    prm = "42900589957123"
    # 2026-11-09 is a Monday
    daily = enedis.get("daily_consumption", prm, date(2026, 11, 9), date(2026, 11, 16)).json()
    assert [d["date"] for d in daily["meter_reading"]["interval_reading"]] == [
        "2026-11-09", "2026-11-12", "2026-11-13", "2026-11-14", "2026-11-15"]
    points = enedis.get("consumption_load_curve", prm, date(2026, 11, 9), date(2026, 11, 13)).json()[
        "meter_reading"]["interval_reading"]
    assert len(points) == 96
    assert points[47]["date"] == "2026-11-10 00:00:00" and points[48]["date"] == "2026-11-12 00:30:00"
    peaks = enedis.get("daily_consumption_max_power", prm, date(2026, 11, 9), date(2026, 11, 16)).json()
    assert len(peaks["meter_reading"]["interval_reading"]) == 5
    empty = enedis.get("daily_consumption", prm, date(2026, 11, 10), date(2026, 11, 12))
    assert empty.status_code == 404 and error_code(empty) == "no_data_found"


def test_a_late_day_is_partial_then_corrected(enedis):
    prm = "22516914714270"
    start, end = date(2026, 11, 16), date(2026, 11, 18)
    enedis.state.add_fault("partial", api="enedis", calls=3, points=20)
    late_curve = enedis.get("consumption_load_curve", prm, start, end).json()["meter_reading"]["interval_reading"]
    late_daily = enedis.get("daily_consumption", prm, start, end).json()["meter_reading"]["interval_reading"]
    late_peak = enedis.get("daily_consumption_max_power", prm, start, end).json()["meter_reading"]["interval_reading"]
    assert len(late_curve) == 48 + 20 and late_curve[-1]["date"] == "2026-11-17 10:00:00"
    assert [d["date"] for d in late_daily] == ["2026-11-16"] and len(late_peak) == 1
    full = enedis.get("consumption_load_curve", prm, start, end).json()["meter_reading"]["interval_reading"]
    assert len(full) == 96 and full[:68] == late_curve  # what was served was right, only incomplete


def test_publication_at_eight(enedis):
    prm = "22516914714270"
    enedis.state.set_clock(datetime(2026, 11, 20, 7, 59, 59, tzinfo=PARIS), frozen=True)
    daily = enedis.get("daily_consumption", prm, date(2026, 11, 17), date(2026, 11, 20)).json()
    assert [d["date"] for d in daily["meter_reading"]["interval_reading"]] == ["2026-11-17", "2026-11-18"]
    answer = enedis.get("consumption_load_curve", prm, date(2026, 11, 19), date(2026, 11, 20))
    assert answer.status_code == 404 and error_code(answer) == "no_data_found"
    enedis.state.set_clock(datetime(2026, 11, 20, 8, 0, tzinfo=PARIS), frozen=True)
    daily = enedis.get("daily_consumption", prm, date(2026, 11, 17), date(2026, 11, 20)).json()
    assert [d["date"] for d in daily["meter_reading"]["interval_reading"]] == [
        "2026-11-17", "2026-11-18", "2026-11-19"]
    assert len(curve(enedis, prm, date(2026, 11, 19))) == 48


def test_unknown_prm(enedis):
    prms = [f"{n:014d}" for n in (1, 99_999_999_999_999, 12_345_000_000_042)]
    for prm in prms:
        customer, point = enedis_data.lookup(prm)
        assert date(2014, 1, 1) <= point.activation <= date(2022, 12, 31)
        for name in ("daily_consumption", "consumption_load_curve", "daily_consumption_max_power"):
            assert enedis.get(name, prm, START, END).status_code == 200, (prm, name)
        for name in ("contracts", "addresses", "identity", "contact_data"):
            assert enedis.get(name, prm).status_code == 200
        assert error_code(enedis.get("daily_production", prm, START, END)) == "ADAM-ERR0069"


def test_determinism_across_restarts():
    bodies = []
    for _ in range(2):
        for cached in (enedis_data.lookup, enedis_data.day_curves, enedis_data.daily_energy, enedis_data.max_power):
            cached.cache_clear()
        with running_sandbox(CONFIG) as running:
            running.state.set_clock(NOW, frozen=True)
            client = Client(running)
            bodies.append([client.get(name, prm, START, END).content
                           for name, prm in (("consumption_load_curve", "22516914714270"),
                                             ("daily_consumption", "12655648759651"),
                                             ("daily_consumption_max_power", "42900589957123"),
                                             ("production_load_curve", "24880057139941"),
                                             ("daily_consumption", "31415926535897"))]
                          + [client.get(name, "31415926535897").content
                             for name in ("contracts", "addresses", "identity", "contact_data")])
    assert bodies[0] == bodies[1]


def test_quota_sixth_call_in_a_second():
    with running_sandbox({"REGISTER_ALL": True}) as running:  # the module's sandbox has its quota off
        client = Client(running)
        time.sleep(1.1)                                  # the token call counts too
        statuses = [client.get("contracts", "22516914714270").status_code for _ in range(6)]
    assert statuses[:5] == [200] * 5
    assert statuses[5] == 429


# -- consent ---------------------------------------------------------------------------------

CONSENT = {"client_id": "app", "response_type": "code", "duration": "P1Y", "redirect_uri": "http://localhost:5000/cb"}


def authorize(running, method="GET", data=None, **params):
    query = {**CONSENT, **params}
    return requests.request(method, f"{running.url}/dataconnect/v1/oauth2/authorize", params=query, data=data,
                            allow_redirects=False, timeout=10)


def back(answer) -> dict[str, str]:
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CONSENT["redirect_uri"]
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def test_consent_page_preselects_from_state(enedis):
    page = authorize(enedis, state="xyz7")
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert 'value="7" checked' in page.text
    assert "64975835695673" in page.text and 'method="post"' in page.text
    assert 'value="0" checked' in authorize(enedis, state="abc").text


def test_consent_approve_via_form(enedis):
    query = back(authorize(enedis, "POST", data={"customer": "7", "decision": "approve"}, state="s-42"))
    assert query["state"] == "s-42" and query["code"]
    assert query["usage_point_id"] == "64975835695673;63695879465986;22315546958763"


def test_consent_refuse_via_form(enedis):
    query = back(authorize(enedis, "POST", data={"customer": "3", "decision": "refuse"}, state="s-43"))
    assert query == {"error": "access_denied", "state": "s-43"}


def test_consent_auto(enedis):
    query = back(authorize(enedis, auto="approve", state="abc3"))
    assert query["usage_point_id"] == "12345678901234;10284856584123" and query["state"] == "abc3"
    query = back(authorize(enedis, auto="approve", state="abc3", customer="5"))
    assert query["usage_point_id"] == "24880057139941"
    assert back(authorize(enedis, auto="refuse", state="q1"))["error"] == "access_denied"


def test_consent_form_driven_like_a_browser(enedis):
    """Follow the page's own form: action and the preselected radio."""
    page = authorize(enedis, state="zz4")
    action = re.search(r'action="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    selected = re.search(r'value="(\d)" checked', page.text).group(1)
    answer = requests.post(enedis.url + action, data={"customer": selected, "decision": "approve"},
                           allow_redirects=False, timeout=10)
    assert back(answer)["usage_point_id"] == "42900589957123"


@pytest.mark.parametrize("bad", [
    {"client_id": ""},
    {"response_type": "token"},
    {"duration": ""},
    {"duration": "P4Y"},
    {"duration": "P37M"},
    {"duration": "one year"},
    {"state": "x" * 101},
    {"redirect_uri": ""},
])
def test_consent_bad_parameters(enedis, bad):
    answer = authorize(enedis, **bad)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request" and answer.json()["error_description"]


def test_consent_durations_accepted(enedis):
    for duration in ("P1Y", "P36M", "P3Y", "P1D", "P6M"):
        assert authorize(enedis, duration=duration, state="a0").status_code == 200, duration


def test_determinism_across_processes():
    """Independent of Python's per-process hash salt."""
    code = ("from datetime import date; from sandbox import enedis_data as d; "
            "print(d.day_curves('31415926535897', date(2026, 10, 25)), d.day_curves('12655648759651', date(2026, 6, 3)),"
            " d.max_power('42900589957123', date(2026, 2, 2)), d.lookup('31415926535897'))")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parents[2],
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2")}
    assert len(outputs) == 1 and "2026-10-25 00:30:00" in outputs.pop()


# -- consent register --------------------------------------------------------------------------

NEVER_CONSENTED = "98765432109876"


@pytest.fixture
def registering():
    """A sandbox as Enedis is: only PRMs that consented to a client are readable by it."""
    with running_sandbox({"RATE_PER_SECOND": 100_000}) as running:
        running.state.set_clock(NOW, frozen=True)
        yield Client(running)


def token_for(running, client_id: str) -> str:
    answer = requests.post(f"{running.url}/oauth2/v3/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": "secret"})
    return answer.json()["access_token"]


def test_a_prm_that_never_consented_answers_no_consent(registering):
    for prm in (NEVER_CONSENTED, "22516914714270"):  # made up, and a test customer nobody approved
        for name in P:
            answer = registering.get(name, prm, START, END)
            assert answer.status_code == 403 and error_code(answer) == "ADAM-DC-0008", (prm, name)


def test_approving_registers_the_customer_for_that_client_only(registering):
    assert back(authorize(registering, auto="refuse", state="r3"))["error"] == "access_denied"
    assert error_code(registering.get("contracts", "12345678901234")) == "ADAM-DC-0008"  # refusing registers nothing
    back(authorize(registering, auto="approve", state="a3"))  # client "app", customer 3
    assert registering.get("contracts", "12345678901234").status_code == 200
    assert registering.get("daily_production", "10284856584123", START, END).status_code == 200
    assert error_code(registering.get("daily_consumption", NEVER_CONSENTED, START, END)) == "ADAM-DC-0008"
    other = token_for(registering, "another-app")
    assert error_code(registering.get("contracts", "12345678901234", token=other)) == "ADAM-DC-0008"
    assert requests.get(f"{registering.url}/_sandbox/consents", timeout=10).json() == {
        "consents": {"app": ["10284856584123", "12345678901234"]}, "register_all": False}


def test_consents_endpoint_registers_and_withdraws(registering):
    url = f"{registering.url}/_sandbox/consents"
    answer = requests.post(url, json={"client_id": "app", "prms": [NEVER_CONSENTED]}, timeout=10)
    assert answer.status_code == 201 and answer.json() == {"client_id": "app", "prms": [NEVER_CONSENTED]}
    assert registering.get("daily_consumption", NEVER_CONSENTED, START, END).status_code == 200
    assert requests.delete(url, json={"client_id": "app", "prms": [NEVER_CONSENTED]}, timeout=10).status_code == 204
    assert error_code(registering.get("daily_consumption", NEVER_CONSENTED, START, END)) == "ADAM-DC-0008"
    requests.post(url, json={"client_id": "app", "prms": [NEVER_CONSENTED]}, timeout=10)
    assert requests.delete(url, json={"client_id": "app"}, timeout=10).status_code == 204  # all of the client's
    assert requests.get(url, timeout=10).json()["consents"] == {}
    for bad in ({"prms": [NEVER_CONSENTED]}, {"client_id": "app"}, {"client_id": "app", "prms": ["123"]},
                {"client_id": "app", "prms": NEVER_CONSENTED}, {"client_id": 7, "prms": []}, ["app"]):
        answer = requests.post(url, json=bad, timeout=10)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request", bad
    assert requests.post(url, data=b"\xff\x00", timeout=10).status_code == 400


def test_register_customers_setting():
    with running_sandbox({"REGISTER_CUSTOMERS": "releve-dev"}) as running:
        running.state.set_clock(NOW, frozen=True)
        client = Client(running)  # client "app": nothing registered for it
        dev = token_for(running, "releve-dev")
        assert client.get("contracts", "22516914714270", token=dev).status_code == 200
        assert client.get("daily_production", "24880057139941", START, END, token=dev).status_code == 200
        assert error_code(client.get("contracts", "22516914714270")) == "ADAM-DC-0008"
        assert error_code(client.get("contracts", NEVER_CONSENTED, token=dev)) == "ADAM-DC-0008"
        running.state.unregister("releve-dev")
        assert error_code(client.get("contracts", "22516914714270", token=dev)) == "ADAM-DC-0008"
        requests.post(f"{running.url}/_sandbox/reset", timeout=10)  # back to the register it started with
        running.state.set_clock(NOW, frozen=True)
        assert client.get("contracts", "22516914714270", token=dev).status_code == 200
        registered = requests.get(f"{running.url}/_sandbox/consents", timeout=10).json()["consents"]["releve-dev"]
        assert registered == sorted(enedis_data.SANDBOX_PRMS)


def test_a_contract_change_moves_the_offpeak_hours(enedis):
    url = f"{enedis.url}/_sandbox/contracts"

    def offpeak(prm):
        return enedis.get("contracts", prm).json()["customer"]["usage_points"][0]["contracts"].get("offpeak_hours")

    assert offpeak("22516914714270") == "HC (23h00-7h30)"
    answer = requests.post(url, json={"prm": "22516914714270", "offpeak_hours": "HC (2H00-7H00;13H00-16H00)"},
                           timeout=10)
    assert answer.status_code == 201
    assert offpeak("22516914714270") == "HC (2H00-7H00;13H00-16H00)"
    requests.post(url, json={"prm": "22516914714270", "offpeak_hours": None}, timeout=10)
    assert offpeak("22516914714270") is None  # now a single-rate contract
    assert requests.delete(url, timeout=10).status_code == 204
    assert offpeak("22516914714270") == "HC (23h00-7h30)"
    for bad in ({"prm": "123", "offpeak_hours": None}, {"offpeak_hours": "HC (1H00-2H00)"},
                {"prm": "22516914714270", "offpeak_hours": 7}, ["x"]):
        assert requests.post(url, json=bad, timeout=10).status_code == 400, bad
