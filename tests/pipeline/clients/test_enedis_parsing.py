"""Normalisation of Enedis answers: interval starts, DST days, codes, units."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.clients.base import normalise_code
from pipeline.clients.enedis import energy_wh, interval_minutes, parse_contract, parse_load_curve, parse_max_power

PARIS = ZoneInfo("Europe/Paris")


def load_curve_body(day: date, step_minutes: int = 30) -> dict:
    """Labels as Enedis writes them: local wall-clock interval ends, repeated hour included."""
    start = datetime.combine(day, datetime.min.time(), PARIS)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), PARIS)
    items, t = [], start.astimezone(ZoneInfo("UTC"))
    while t < end.astimezone(ZoneInfo("UTC")):
        t += timedelta(minutes=step_minutes)
        label = t.astimezone(PARIS).strftime("%Y-%m-%d %H:%M:%S")
        items.append({"value": "1000", "date": label, "interval_length": f"PT{step_minutes}M", "measure_type": "B"})
    return {"meter_reading": {"usage_point_id": "22516914714270", "start": str(day), "end": str(day + timedelta(1)),
                              "quality": "BRUT", "reading_type": {"unit": "W", "measurement_kind": "power",
                                                                  "aggregate": "average"},
                              "interval_reading": items}}


@pytest.mark.parametrize("day, count", [(date(2026, 3, 29), 46), (date(2026, 10, 25), 50), (date(2026, 11, 24), 48)])
def test_dst_days_are_complete_and_start_at_midnight(day, count):
    points = parse_load_curve(load_curve_body(day))
    assert len(points) == count
    assert points[0].start == datetime.combine(day, datetime.min.time(), PARIS)
    assert all(p.day == day for p in points)
    starts = [p.start.timestamp() for p in points]
    assert starts == sorted(starts) and len(set(starts)) == count  # the repeated hour is kept, not merged
    assert sum(p.wh for p in points) == count * 500


def test_fall_back_day_keeps_both_occurrences_of_the_repeated_hour():
    points = parse_load_curve(load_curve_body(date(2026, 10, 25)))
    two_thirty = [p for p in points if (p.start.hour, p.start.minute) == (2, 30)]
    assert [p.start.utcoffset() for p in two_thirty] == [timedelta(hours=2), timedelta(hours=1)]


def test_midnight_label_belongs_to_the_previous_day():
    points = parse_load_curve(load_curve_body(date(2026, 11, 24)))
    assert points[-1].start == datetime(2026, 11, 24, 23, 30, tzinfo=PARIS)


def test_interval_length_may_change_inside_one_answer():
    body = load_curve_body(date(2026, 11, 24))
    items = body["meter_reading"]["interval_reading"]
    items[:2] = [{"value": "600", "date": "2026-11-24 00:10:00", "interval_length": "PT10M"},
                 {"value": "600", "date": "2026-11-24 00:20:00", "interval_length": "PT10M"},
                 {"value": "600", "date": "2026-11-24 00:30:00", "interval_length": "PT10M"},
                 {"value": "2000", "date": "2026-11-24 01:00:00", "interval_length": "PT30M"}]
    points = parse_load_curve(body)
    assert [(p.start.strftime("%H:%M"), p.minutes, p.wh) for p in points[:4]] == [
        ("00:00", 10, 100), ("00:10", 10, 100), ("00:20", 10, 100), ("00:30", 30, 1000)]


@pytest.mark.parametrize("text, minutes", [("PT10M", 10), ("PT15M", 15), ("PT30M", 30), ("PT60M", 60), ("PT1H", 60)])
def test_interval_lengths(text, minutes):
    assert interval_minutes(text) == minutes


def test_energy_is_integer_wh():
    assert energy_wh(1000, 30) == 500 and energy_wh(1234, 15) == 308 and isinstance(energy_wh(7, 30), int)


def test_max_power_keeps_the_local_time_of_the_peak():
    body = {"meter_reading": {"interval_reading": [{"value": "6120", "date": "2026-10-25 02:30:00"}]}}
    [mp] = parse_max_power(body)
    assert (mp.day, mp.va, mp.at.tzinfo) == (date(2026, 10, 25), 6120, PARIS)


@pytest.mark.parametrize("raw, code", [("adam_err0069", "ADAM-ERR0069"), ("ADAM-DC-0008", "ADAM-DC-0008"),
                                       ("no_data_found", "NO-DATA-FOUND"), (429, "429")])
def test_codes_are_normalised(raw, code):
    assert normalise_code(raw) == code


def test_contract_normalisation():
    body = {"customer": {"usage_points": [{
        "usage_point": {"usage_point_id": "22516914714270", "usage_point_status": "com", "meter_type": "AMM"},
        "contracts": {"segment": "C5", "subscribed_power": "9 kVA", "last_activation_date": "2013-08-14+01:00",
                      "distribution_tariff": "BTINFCUST", "offpeak_hours": "HC (23h00-7h30)",
                      "contract_status": "SERVC"}}]}}
    contract = parse_contract(body)
    assert contract["subscribed_power_kva"] == 9
    assert contract["last_activation_date"] == "2013-08-14"
    assert contract["offpeak_hours"] == "HC (23h00-7h30)"
