"""The RTE emulator over real HTTP: token, Tempo (rules, errors, 10:30 publication),
EcoWatt (shape, 15-minute limit), national consumption; plus the pure Tempo generator."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
import requests

from sandbox import rte_data
from sandbox.testing import running_sandbox

PARIS = ZoneInfo("Europe/Paris")
TEMPO = "/open_api/tempo_like_supply_contract/v1/tempo_like_calendars"
TEMPO_SANDBOX = "/open_api/tempo_like_supply_contract/v1/sandbox/tempo_like_calendars"
ECOWATT = "/open_api/ecowatt/v5/signals"
CONSUMPTION = "/open_api/consumption/v1/short_term"
NOW = datetime(2026, 11, 25, 10, 31, tzinfo=PARIS)


def rte_date(day: date) -> str:
    return datetime(day.year, day.month, day.day, tzinfo=PARIS).isoformat(timespec="seconds")


def token(url: str, client: str = "app", secret: str = "secret") -> str:
    answer = requests.post(f"{url}/token/oauth/", auth=(client, secret), data={"grant_type": "client_credentials"},
                           timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def get(sandbox, path: str, params: dict | None = None, client: str = "app") -> requests.Response:
    headers = {"Authorization": f"Bearer {token(sandbox.url, client)}"}
    return requests.get(f"{sandbox.url}{path}", params=params, headers=headers, timeout=5)


@pytest.fixture
def clocked(sandbox):
    sandbox.state.set_clock(NOW, frozen=True)
    return sandbox


def assert_rte_error(answer: requests.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == code
    assert body["error_description"]
    assert body["error_uri"] == ""
    assert len(body["error_details"]["transaction_id"]) >= 16


# -- token -----------------------------------------------------------------------------------

def test_token_is_issued_for_basic_credentials(sandbox):
    for path in ("/token/oauth/", "/token/oauth"):
        answer = requests.post(f"{sandbox.url}{path}", auth=("app", "secret"),
                               data={"grant_type": "client_credentials"}, timeout=5)
        assert answer.status_code == 200
        body = answer.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 7200 and isinstance(body["expires_in"], int)
        assert body["access_token"]


def test_token_refuses_bad_or_missing_credentials():
    with running_sandbox({"CLIENTS": {"app": "secret"}}) as sandbox:
        for auth in (("app", "wrong"), ("other", "secret"), None):
            answer = requests.post(f"{sandbox.url}/token/oauth/", auth=auth, data={"grant_type": "client_credentials"},
                                   timeout=5)
            assert answer.status_code == 401
            assert answer.json()["error"] == "invalid_client"
            assert answer.json()["error_description"]


def test_data_endpoints_need_a_valid_token(sandbox):
    for path in (TEMPO, ECOWATT, CONSUMPTION):
        for headers in ({}, {"Authorization": "Bearer forged"}):
            answer = requests.get(f"{sandbox.url}{path}", headers=headers, timeout=5)
            assert_rte_error(answer, 401, "invalid_token")


# -- Tempo: the generator --------------------------------------------------------------------

@pytest.mark.parametrize("season", [2024, 2025, 2026])
def test_a_season_obeys_every_tempo_rule(season):
    colours = rte_data.tempo_season(season)
    assert min(colours) == date(season, 9, 1) and max(colours) == date(season + 1, 8, 31)
    assert len(colours) == (date(season + 1, 9, 1) - date(season, 9, 1)).days
    counts = Counter(colours.values())
    assert counts["RED"] == 22 and counts["WHITE"] == 43
    assert counts["BLUE"] == len(colours) - 65
    public = holidays.France(years=[season, season + 1])
    for day, colour in colours.items():
        if day.weekday() == 6:
            assert colour == "BLUE", day
        if colour == "RED":
            assert day.month in (11, 12, 1, 2, 3), day
            assert day.weekday() < 5, day
            assert day not in public, day
    # Realistic: the cold months carry most of the heavy days.
    heavy = [d for d, c in colours.items() if c != "BLUE"]
    assert sum(d.month in (12, 1, 2) for d in heavy) > len(heavy) / 2
    assert sum(colours[d] == "RED" for d in heavy if d.month in (12, 1, 2)) >= 15


def test_seasons_differ_and_the_generator_is_stable():
    assert rte_data.tempo_season(2025) != rte_data.tempo_season(2026)
    rte_data.tempo_season.cache_clear()
    rte_data.season_weather.cache_clear()
    first = dict(rte_data.tempo_season(2025))
    rte_data.tempo_season.cache_clear()
    rte_data.season_weather.cache_clear()
    assert rte_data.tempo_season(2025) == first


# -- Tempo: over HTTP ------------------------------------------------------------------------

def tempo_values(sandbox, start: date, end: date, path: str = TEMPO, fallback: str = "false") -> list[dict]:
    answer = get(sandbox, path, {"start_date": rte_date(start), "end_date": rte_date(end), "fallback_status": fallback})
    assert answer.status_code == 200, answer.text
    calendar = answer.json()["tempo_like_calendars"]
    assert calendar["start_date"] == rte_date(start)
    return calendar["values"]


def test_tempo_window_matches_the_generator_newest_first(clocked):
    values = tempo_values(clocked, date(2026, 9, 1), date(2026, 11, 27))
    days = [datetime.fromisoformat(v["start_date"]).date() for v in values]
    assert days == sorted(days, reverse=True)
    assert days[0] == date(2026, 11, 26) and days[-1] == date(2026, 9, 1)
    assert len(days) == (date(2026, 11, 27) - date(2026, 9, 1)).days
    for value, day in zip(values, days):
        assert value["value"] == rte_data.tempo_colour(day)
        assert value["start_date"] == rte_date(day)
        assert value["end_date"] == rte_date(day + timedelta(days=1))
        assert datetime.fromisoformat(value["updated_date"]) <= NOW
    # Each value carries the offset of its own date: summer time in September, winter in November.
    assert values[-1]["start_date"] == "2026-09-01T00:00:00+02:00"
    assert values[0]["start_date"] == "2026-11-26T00:00:00+01:00"


def test_tempo_sandbox_alias_and_default_window(clocked):
    values = tempo_values(clocked, date(2026, 11, 20), date(2026, 11, 27), path=TEMPO_SANDBOX)
    assert len(values) == 7
    answer = get(clocked, TEMPO)
    assert answer.status_code == 200
    calendar = answer.json()["tempo_like_calendars"]
    days = [datetime.fromisoformat(v["start_date"]).date() for v in calendar["values"]]
    assert days[0] == date(2026, 11, 26) and days[-1] == date(2026, 9, 1)


def test_tomorrow_appears_at_half_past_ten(sandbox):
    sandbox.state.set_clock(datetime(2026, 11, 25, 10, 29, tzinfo=PARIS), frozen=True)
    before = tempo_values(sandbox, date(2026, 11, 20), date(2026, 11, 27))
    assert before[0]["start_date"] == rte_date(date(2026, 11, 25))
    sandbox.state.set_clock(NOW, frozen=True)
    after = tempo_values(sandbox, date(2026, 11, 20), date(2026, 11, 27))
    assert after[0]["start_date"] == rte_date(date(2026, 11, 26))
    assert after[1:] == before


@pytest.mark.parametrize(("params", "code"), [
    ({"start_date": "2026-11-20T00:00:00+01:00"}, "F01"),
    ({"end_date": "2026-11-20T00:00:00+01:00"}, "F01"),
    ({"start_date": "2026-11-22T00:00:00+01:00", "end_date": "2026-11-20T00:00:00+01:00"}, "F02"),
    ({"start_date": "2025-11-01T00:00:00+01:00", "end_date": "2026-11-26T00:00:00+01:00"}, "F03"),
    ({"start_date": "2026-11-20T00:00:00+01:00", "end_date": "2026-11-28T00:00:00+01:00"}, "F04"),
    ({"start_date": "2026-11-20T00:00:00+01:00", "end_date": "2026-11-20T12:00:00+01:00"}, "F05"),
    ({"start_date": "2026-11-20", "end_date": "2026-11-22T00:00:00+01:00"}, "F06"),
    ({"start_date": "2026-11-20T00:00:00 01:00", "end_date": "2026-11-22T00:00:00+01:00"}, "F06"),
    ({"start_date": "2026-11-20T00:00:00+01:00", "end_date": "2026-11-22T00:00:00+01:00",
      "fallback_status": "maybe"}, "F07"),
])
def test_tempo_errors(clocked, params, code):
    assert_rte_error(get(clocked, TEMPO, params), 400, f"TMPLIKSUPCON_TMPLIKCAL_{code}")


def test_tempo_end_at_d_plus_two_is_allowed(clocked):
    values = tempo_values(clocked, date(2026, 11, 25), date(2026, 11, 27), fallback="true")
    assert [v["start_date"] for v in values] == [rte_date(date(2026, 11, 26)), rte_date(date(2026, 11, 25))]


def test_tempo_value_without_colour_is_opt_in():
    with running_sandbox({"TEMPO_MISSING_VALUE_DATES": ["2026-11-24"]}) as sandbox:
        sandbox.state.set_clock(NOW, frozen=True)
        values = tempo_values(sandbox, date(2026, 11, 23), date(2026, 11, 26))
        by_day = {v["start_date"][:10]: v for v in values}
        assert "value" not in by_day["2026-11-24"]
        assert by_day["2026-11-23"]["value"] in ("BLUE", "WHITE", "RED")


def test_two_sandboxes_agree():
    answers = []
    for _ in range(2):
        with running_sandbox() as sandbox:
            sandbox.state.set_clock(NOW, frozen=True)
            values = tempo_values(sandbox, date(2025, 12, 1), date(2026, 3, 1))
            signals = get(sandbox, ECOWATT).json()["signals"]
            load = get(sandbox, CONSUMPTION, {"type": "REALISED,D-1"}).json()
            answers.append((
                [(v["start_date"], v["value"]) for v in values],
                [(s["jour"], s["dvalue"], s["values"]) for s in signals],
                load,
            ))
    assert answers[0] == answers[1]


# -- EcoWatt ---------------------------------------------------------------------------------

def test_ecowatt_signals(clocked):
    answer = get(clocked, ECOWATT)
    assert answer.status_code == 200
    signals = answer.json()["signals"]
    days = [datetime.fromisoformat(s["jour"]).date() for s in signals]
    assert sorted(days) == [date(2026, 11, 25) + timedelta(days=i) for i in range(4)]
    for signal in signals:
        assert signal["jour"].endswith("T00:00:00+01:00")
        assert [v["pas"] for v in signal["values"]] == list(range(24))
        hvalues = [v["hvalue"] for v in signal["values"]]
        assert all(h in (0, 1, 2, 3) for h in hvalues)
        assert signal["dvalue"] == max(hvalues) and signal["dvalue"] in (1, 2, 3)
        assert signal["message"]
        assert datetime.fromisoformat(signal["GenerationFichier"]) <= NOW


def test_ecowatt_days_come_out_of_order_somewhere():
    shuffled = 0
    for offset in range(10):
        today = date(2026, 1, 1) + timedelta(days=offset)
        signals = rte_data.ecowatt_signals(today, datetime(2026, 1, 1, tzinfo=PARIS))
        jours = [s["jour"] for s in signals]
        shuffled += jours != sorted(jours)
    assert shuffled >= 5


def test_ecowatt_is_mostly_green_with_winter_alerts():
    year = [rte_data.ecowatt_hours(date(2026, 1, 1) + timedelta(days=i)) for i in range(365)]
    dvalues = Counter(max(hours) for hours in year)
    assert dvalues[1] > 300
    alerts = [date(2026, 1, 1) + timedelta(days=i) for i, hours in enumerate(year) if max(hours) > 1]
    assert all(d.month in (11, 12, 1, 2, 3) for d in alerts)


def test_ecowatt_once_per_fifteen_minutes(clocked):
    assert get(clocked, ECOWATT).status_code == 200
    second = get(clocked, ECOWATT)
    assert_rte_error(second, 429, second.json()["error"])
    assert int(second.headers["Retry-After"]) > 0
    # another client has its own allowance
    assert get(clocked, ECOWATT, client="other-app").status_code == 200
    clocked.state.set_clock(NOW + timedelta(minutes=15), frozen=True)
    assert get(clocked, ECOWATT).status_code == 200


# -- national consumption --------------------------------------------------------------------

def series_by_type(answer: requests.Response) -> dict[str, dict]:
    assert answer.status_code == 200, answer.text
    return {s["type"]: s for s in answer.json()["short_term"]}


def test_consumption_realised_stops_at_now(clocked):
    series = series_by_type(get(clocked, CONSUMPTION, {"type": "REALISED,ID,D-1,D-2"}))
    assert set(series) == {"REALISED", "ID", "D-1", "D-2"}
    realised = series["REALISED"]["values"]
    assert realised[0]["start_date"] == "2026-11-25T00:00:00+01:00"
    assert datetime.fromisoformat(realised[-1]["end_date"]) <= NOW
    assert NOW - datetime.fromisoformat(realised[-1]["end_date"]) < timedelta(minutes=15)
    for kind in ("ID", "D-1", "D-2"):
        values = series[kind]["values"]
        assert len(values) == 96
        assert values[-1]["end_date"] == "2026-11-26T00:00:00+01:00"
        forecast = [v["value"] for v in values[:len(realised)]]
        actual = [v["value"] for v in realised]
        assert forecast != actual
        assert all(abs(f - a) / a < 0.08 for f, a in zip(forecast, actual))


def test_consumption_steps_range_and_shape(clocked):
    params = {"type": "D-1", "start_date": "2026-11-23T00:00:00+01:00", "end_date": "2026-11-26T00:00:00+01:00"}
    values = series_by_type(get(clocked, CONSUMPTION, params))["D-1"]["values"]
    assert len(values) == 3 * 96
    for value in values:
        start, end = datetime.fromisoformat(value["start_date"]), datetime.fromisoformat(value["end_date"])
        assert end - start == timedelta(minutes=15)
        assert isinstance(value["value"], int) and 30_000 <= value["value"] <= 90_000
    for first, second in zip(values, values[1:]):
        assert first["end_date"] == second["start_date"]
    day = [v["value"] for v in values[:96]]
    assert max(day[28:48]) > day[16] and max(day[72:84]) > day[16]     # morning and evening peaks over 04:00


def test_consumption_realistic_over_a_year():
    loads = {}
    for i in range(0, 365, 3):
        day = date(2026, 1, 1) + timedelta(days=i)
        for hour in (4, 12, 19):
            loads[(day, hour)] = rte_data.realised_load(datetime(day.year, day.month, day.day, hour, tzinfo=PARIS))
    assert 30_000 <= min(loads.values()) and max(loads.values()) <= 90_000
    winter = [v for (d, _), v in loads.items() if d.month in (1, 2)]
    summer = [v for (d, _), v in loads.items() if d.month in (7, 8)]
    assert sum(winter) / len(winter) > sum(summer) / len(summer) * 1.3


def test_consumption_dst_day_has_92_quarters(sandbox):
    sandbox.state.set_clock(datetime(2026, 4, 1, 12, tzinfo=PARIS), frozen=True)
    params = {"type": "REALISED", "start_date": "2026-03-29T00:00:00+01:00", "end_date": "2026-03-30T00:00:00+02:00"}
    values = series_by_type(get(sandbox, CONSUMPTION, params))["REALISED"]["values"]
    assert len(values) == 92


@pytest.mark.parametrize("kind", ["FORECAST", "REALISED,XX", ""])
def test_consumption_rejects_bad_types(clocked, kind):
    answer = get(clocked, CONSUMPTION, {"type": kind})
    assert answer.status_code == 400
    assert answer.json()["error_details"]["transaction_id"]


def test_past_seasons_are_served_whole(clocked):
    """A cost engine prices past years: the emulator serves any earlier season, one call per season."""
    for season in (2024, 2025):
        first, end = date(season, 9, 1), date(season + 1, 9, 1)
        answer = get(clocked, TEMPO, {"start_date": rte_date(first), "end_date": rte_date(end)})
        assert answer.status_code == 200, answer.text
        values = answer.json()["tempo_like_calendars"]["values"]
        days = [datetime.fromisoformat(v["start_date"]).date() for v in values]
        assert days == sorted(days, reverse=True) and len(days) == (end - first).days  # newest first, every day
        assert Counter(v["value"] for v in values)["RED"] == 22
        assert all(v["value"] == rte_data.tempo_colour(d) for v, d in zip(values, days))
