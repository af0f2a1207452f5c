"""Pure, deterministic generators behind the RTE emulator: Tempo seasons, EcoWatt signals,
national consumption and generation forecasts.

Everything here is a function of dates only (seeded with hashlib, never `hash()`), so two
sandboxes, or two runs, always agree. The weather is a synthetic daily temperature series
per Tempo season (seasonal normal + an AR(1) anomaly): Tempo colours, EcoWatt alerts and
the national load all follow it, so a cold spell is red in Tempo, heavy in the load curve
and, sometimes, orange in EcoWatt.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
from datetime import UTC, date, datetime, timedelta

import holidays

from sandbox.core import PARIS, paris_midnight

RED_DAYS = 22
WHITE_DAYS = 43
COLOURS = ("BLUE", "WHITE", "RED")


def rng(*parts: object) -> random.Random:
    """A random generator seeded on `parts` through SHA-256 (stable across processes)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def unit(*parts: object) -> float:
    """A deterministic number in [0, 1) for `parts`."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# -- seasons and weather -----------------------------------------------------------------

def season_of(day: date) -> int:
    """The Tempo season a day belongs to, named by the year it starts (1 September)."""
    return day.year if day.month >= 9 else day.year - 1


def season_days(season: int) -> list[date]:
    start, end = date(season, 9, 1), date(season + 1, 9, 1)
    return [start + timedelta(days=i) for i in range((end - start).days)]


@functools.lru_cache(maxsize=64)
def french_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.France(years=year).keys())


def is_holiday(day: date) -> bool:
    return day in french_holidays(day.year)


def normal_temperature(day: date) -> float:
    """Seasonal normal daily mean (°C) for France: ~4 °C mid-January, ~21 °C mid-July."""
    doy = day.timetuple().tm_yday
    return 12.5 - 8.5 * math.cos(2 * math.pi * (doy - 15) / 365.25)


@functools.lru_cache(maxsize=16)
def season_weather(season: int) -> dict[date, float]:
    """Daily mean temperature over a season: normal + a persistent (AR(1)) anomaly."""
    r = rng("weather", season)
    anomaly, out = r.gauss(0, 2.5), {}
    for day in season_days(season):
        anomaly = 0.85 * anomaly + r.gauss(0, 1.6)   # stationary sd ≈ 3 °C, spells of a week or so
        out[day] = normal_temperature(day) + anomaly
    return out


def temperature(day: date) -> float:
    return season_weather(season_of(day))[day]


# -- Tempo ---------------------------------------------------------------------------------

def red_allowed(day: date) -> bool:
    """RED only 1 November – 31 March, Monday–Friday, never on a public holiday."""
    in_winter = day.month in (11, 12, 1, 2, 3)
    return in_winter and day.weekday() < 5 and not is_holiday(day)


def white_allowed(day: date) -> bool:
    """WHITE never on Sunday (Saturday is fine)."""
    return day.weekday() != 6


@functools.lru_cache(maxsize=16)
def tempo_season(season: int) -> dict[date, str]:
    """Every day of a season with its colour: 22 RED, 43 WHITE, the rest BLUE.

    RTE colours the days with the highest expected load: here the coldest, a weekday
    weighing more than a Saturday or a public holiday, with a little noise so that the
    colour is not a pure function of the temperature.
    """
    weather = season_weather(season)
    r = rng("tempo", season)
    score = {}
    for day in season_days(season):
        penalty = 2.5 if day.weekday() == 5 else 0.0
        penalty += 3.0 if is_holiday(day) else 0.0
        score[day] = weather[day] + penalty + r.gauss(0, 0.7)    # low score: heavy load
    colours = dict.fromkeys(season_days(season), "BLUE")
    reds = sorted((d for d in colours if red_allowed(d)), key=lambda d: (score[d], d))[:RED_DAYS]
    for day in reds:
        colours[day] = "RED"
    whites = sorted((d for d in colours if colours[d] == "BLUE" and white_allowed(d)),
                    key=lambda d: (score[d], d))[:WHITE_DAYS]
    for day in whites:
        colours[day] = "WHITE"
    return colours


def tempo_colour(day: date) -> str:
    return tempo_season(season_of(day))[day]


def tempo_updated(day: date) -> datetime:
    """When the colour of `day` was published: 10:30 Paris the day before."""
    return datetime.combine(day - timedelta(days=1), datetime.min.time(), PARIS).replace(hour=10, minute=30)


# -- EcoWatt ------------------------------------------------------------------------------

ECOWATT_MESSAGES = {
    1: "Pas d'alerte.",
    2: "Système électrique tendu. Les éco-gestes citoyens sont les bienvenus.",
    3: "Système électrique très tendu. Coupures inévitables si nous ne baissons pas notre consommation.",
}


def ecowatt_hours(day: date) -> list[int]:
    """The 24 hourly signals of `day`: 0 green low-carbon, 1 green, 2 orange, 3 red.

    Mostly green; nights and sunny middays often low-carbon; orange (rarely red) on the
    morning and evening peaks of cold winter weekdays.
    """
    r = rng("ecowatt", day.isoformat())
    cold = normal_temperature(day) - temperature(day) if day.month in (11, 12, 1, 2, 3) else -99.0
    cold += 8.0 - normal_temperature(day)        # absolute coldness matters too
    low_carbon = 0.55 if day.month in (4, 5, 6, 7, 8, 9) else 0.35
    hours = []
    for hour in range(24):
        value = 0 if (hour <= 5 or 12 <= hour <= 15) and r.random() < low_carbon else 1
        hours.append(value)
    hours[19] = max(hours[19], 1)   # the evening peak is never low-carbon: dvalue >= 1
    if day.weekday() < 5 and cold > 3.0 and r.random() < 0.5:
        for hour in (8, 9, 10, 18, 19, 20):
            hours[hour] = 2
        if cold > 6.0 and r.random() < 0.3:
            hours[19] = 3
    return hours


def ecowatt_day(day: date, generated: datetime) -> dict:
    hours = ecowatt_hours(day)
    dvalue = max(hours)
    return {
        "GenerationFichier": generated.isoformat(timespec="seconds"),
        "jour": paris_midnight(day).isoformat(timespec="seconds"),
        "dvalue": dvalue,
        "message": ECOWATT_MESSAGES[dvalue],
        "values": [{"pas": hour, "hvalue": value} for hour, value in enumerate(hours)],
    }


def ecowatt_signals(today: date, generated: datetime) -> list[dict]:
    """D..D+3, in a deterministic but shuffled order (upstream gives days in any order)."""
    signals = [ecowatt_day(today + timedelta(days=i), generated) for i in range(4)]
    rng("ecowatt-order", today.isoformat()).shuffle(signals)
    return signals


# -- national consumption -----------------------------------------------------------------

STEP = timedelta(minutes=15)
CONSUMPTION_TYPES = ("REALISED", "ID", "D-1", "D-2")
FORECAST_ERROR = {"ID": 0.008, "D-1": 0.02, "D-2": 0.03}
# Hourly shape (fraction of the daily mean): night trough, morning ramp, midday plateau,
# afternoon dip, evening peak.
_SHAPE = [0.93, 0.90, 0.87, 0.85, 0.84, 0.85, 0.90, 0.99, 1.06, 1.08, 1.08, 1.08,
          1.07, 1.04, 1.01, 0.99, 0.99, 1.02, 1.08, 1.13, 1.11, 1.05, 1.00, 0.97]


def _shape(moment: datetime) -> float:
    """Daily shape, linearly interpolated between hours."""
    hours = moment.hour + moment.minute / 60
    low = int(hours) % 24
    frac = hours - int(hours)
    return _SHAPE[low] * (1 - frac) + _SHAPE[(low + 1) % 24] * frac


def realised_load(moment: datetime) -> int:
    """French national load (MW) for the quarter-hour starting at `moment` (aware)."""
    local = moment.astimezone(PARIS)
    day = local.date()
    temp = temperature(day)
    daily = 49_000 + 1_450 * max(0.0, 15.0 - temp) + 250 * max(0.0, temp - 24.0)
    if day.weekday() == 5:
        daily *= 0.92
    elif day.weekday() == 6 or is_holiday(day):
        daily *= 0.86
    if day.month == 8:                        # summer holidays
        daily *= 0.95
    shape = _shape(local)
    evening = 1.0 + 0.04 * max(0.0, 12.0 - temp) / 12 if 17 <= local.hour <= 21 else 1.0
    noise = 1.0 + (unit("load", local.isoformat()) - 0.5) * 0.01
    return int(round(min(88_000, max(32_000, daily * shape * evening * noise))))


def forecast_load(kind: str, moment: datetime) -> int:
    """A forecast of `kind` (ID, D-1, D-2): the realised load off by a smooth daily bias."""
    local = moment.astimezone(PARIS)
    error = FORECAST_ERROR[kind]
    bias = (unit("bias", kind, local.date().isoformat()) - 0.5) * 2 * error
    wobble = (unit("wobble", kind, local.isoformat()) - 0.5) * error
    drift = math.sin(2 * math.pi * (local.hour + local.minute / 60) / 24 + unit("phase", kind, local.date())) * error / 2
    return int(round(realised_load(moment) * (1 + bias + wobble + drift)))


def quarter_hours(start: datetime, end: datetime):
    """Aware quarter-hour starts in [start, end[, stepping in UTC (DST-safe)."""
    moment = start
    while moment < end:
        yield moment
        moment = quarter_hours_end(moment)


def quarter_hours_end(moment: datetime) -> datetime:
    """The end of the quarter-hour starting at `moment` (in UTC: right across DST changes)."""
    return (moment.astimezone(UTC) + STEP).astimezone(PARIS)


def next_hour(moment: datetime) -> datetime:
    return (moment.astimezone(UTC) + timedelta(hours=1)).astimezone(PARIS)


# -- generation forecast ------------------------------------------------------------------

PRODUCTION_TYPES = ("SOLAR", "WIND_ONSHORE", "WIND_OFFSHORE", "AGGREGATED_PROGRAMMABLE_FRANCE",
                    "AGGREGATED_NON_PROGRAMMABLE_FRANCE", "AGGREGATED_CPC", "MDSETRF")
FORECAST_TYPES = ("CURRENT", "ID", "D-1", "D-2", "D-3")


def generation(production_type: str, kind: str, moment: datetime) -> int:
    """Plausible forecast output (MW) for the hour starting at `moment`."""
    local = moment.astimezone(PARIS)
    day = local.date()
    hour = local.hour + local.minute / 60
    doy = day.timetuple().tm_yday
    bias = 1 + (unit("gen-bias", production_type, kind, day) - 0.5) * 0.1
    if production_type == "SOLAR":
        length = 12 + 4 * math.sin(2 * math.pi * (doy - 80) / 365.25)      # day length, hours
        rise = 13.5 - length / 2
        if not rise < hour < rise + length:
            return 0
        cloud = 0.35 + 0.65 * unit("cloud", day)
        peak = 7_000 + 8_000 * (1 + math.sin(2 * math.pi * (doy - 80) / 365.25)) / 2
        return int(round(peak * cloud * math.sin(math.pi * (hour - rise) / length) * bias))
    if production_type in ("WIND_ONSHORE", "WIND_OFFSHORE"):
        capacity = 22_000 if production_type == "WIND_ONSHORE" else 1_500
        winter = 1.3 if day.month in (11, 12, 1, 2, 3) else 0.8
        wind = unit("wind", day) * 0.6 + unit("wind", day + timedelta(days=1)) * 0.4
        wind = wind + (unit("wind", day + timedelta(days=1)) - unit("wind", day)) * hour / 24 * 0.3
        return int(round(min(capacity, capacity * 0.35 * winter * wind * 1.6) * bias))
    if production_type == "AGGREGATED_NON_PROGRAMMABLE_FRANCE":
        return sum(generation(t, kind, moment) for t in ("SOLAR", "WIND_ONSHORE", "WIND_OFFSHORE"))
    if production_type == "AGGREGATED_CPC":
        return int(round(900 + 300 * unit("cpc", day, local.hour)))
    load = realised_load(moment)
    if production_type == "MDSETRF":
        return int(round(load * 0.02 * bias))
    non_programmable = generation("AGGREGATED_NON_PROGRAMMABLE_FRANCE", kind, moment)
    return int(round(max(20_000, load + 8_000 - non_programmable) * bias))
