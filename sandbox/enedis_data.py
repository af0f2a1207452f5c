"""Sandbox customers and the deterministic Enedis data generator (pure functions, no Flask).

Every value is a pure function of (PRM, day): random streams are seeded with strings such
as ``f"{prm}:{day}"`` (never Python's salted ``hash()``), so two sandboxes, or the same
sandbox after a restart, give byte-identical answers.

The model, per half-hour interval (labels mark the END of the interval, local Paris time):

- consumption: a base load, morning and evening peaks (later on weekends, with a midday
  bump), electric heating that grows in winter and with a per-day "temperature", and noise;
- production (PV): zero at night, a bell around solar noon from the sun's elevation (day
  length follows the season), times a per-day cloudiness shared by every PRM (same sky);
- self-consumption (customer 6): net consumption = max(0, load - PV) and net production
  = max(0, PV - load), one point carrying both;
- powers are even integers of watts, so each point's energy W x 30 / 60 is an integral
  number of Wh, and a day's total is exactly the sum of its points' energies;
- daily max power (VA) is at least the day's highest 30-minute average, with its moment
  inside that interval.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
STEP = timedelta(minutes=30)
LATITUDE, LONGITUDE = 46.0, 2.3

CONSUMPTION, PRODUCTION, BOTH = "consumption", "production", "both"


@dataclass(frozen=True)
class Point:
    """One usage point (PRM) and how the sandbox behaves for it."""

    prm: str
    kind: str = CONSUMPTION                 # consumption, production or both (self-consumption)
    load_curve: bool = True                 # consumption load-curve collection activated
    activation: date = date(2013, 8, 14)    # last activation date of the meter
    gaps: bool = False                      # no data on Tuesdays and Wednesdays
    revoked: bool = False                   # consent revoked at once: ADAM-DC-0008 everywhere
    subscribed_kva: int = 9
    distribution_tariff: str = "BTINFMUDT"
    offpeak_hours: str | None = "HC (23h00-7h30)"
    pv_kwc: float = 0.0                     # installed PV peak power

    @property
    def consumes(self) -> bool:
        return self.kind in (CONSUMPTION, BOTH)

    @property
    def produces(self) -> bool:
        return self.kind in (PRODUCTION, BOTH)


@dataclass(frozen=True)
class Customer:
    digit: int
    customer_id: str
    points: tuple[Point, ...]
    title: str
    firstname: str
    lastname: str
    street: str
    postal_code: str
    insee_code: str
    city: str
    latitude: str
    longitude: str
    phone: str
    email: str
    behaviour: str = ""


CUSTOMERS: tuple[Customer, ...] = (
    Customer(0, "1358019310", (Point("22516914714270"),),
             "M.", "Jean", "Dupont", "12 rue des Lilas", "75011", "75111", "Paris", "48.859", "2.379",
             "0145323490", "jean.dupont@example.fr", "consommation, courbe de charge, sans trou"),
    Customer(1, "1358019311", (Point("11453290002823", activation=date(2019, 8, 27),
                                     offpeak_hours="HC (22H00-6H00)", subscribed_kva=6),),
             "Mme", "Claire", "Martin", "3 avenue Jean Jaurès", "69007", "69387", "Lyon", "45.745", "4.842",
             "0478123411", "claire.martin@example.fr", "comme 0, compteur actif depuis le 2019-08-27"),
    Customer(2, "1358019312", (Point("32320647321714", load_curve=False, offpeak_hours=None,
                                     distribution_tariff="BTINFCUST", subscribed_kva=6),),
             "M.", "Paul", "Bernard", "8 impasse du Moulin", "33000", "33063", "Bordeaux", "44.838", "-0.579",
             "0556123412", "paul.bernard@example.fr", "consommation, courbe de charge non activée"),
    Customer(3, "1358019313", (Point("12345678901234", offpeak_hours="HC (1H30-8H00;12H30-14H00)",
                                     subscribed_kva=12),
                               Point("10284856584123", kind=PRODUCTION, offpeak_hours=None,
                                     distribution_tariff="BTINFCUST", pv_kwc=6.0)),
             "Mme", "Sophie", "Petit", "45 chemin des Vignes", "13100", "13001", "Aix-en-Provence", "43.529",
             "5.447", "0442123413", "sophie.petit@example.fr", "un point de consommation, un de production"),
    Customer(4, "1358019314", (Point("42900589957123", gaps=True, offpeak_hours="HC (22H00-6H00)"),),
             "M.", "Luc", "Robert", "27 rue Nationale", "59000", "59350", "Lille", "50.629", "3.057",
             "0320123414", "luc.robert@example.fr", "consommation, trous chaque mardi et mercredi"),
    Customer(5, "1358019315", (Point("24880057139941", kind=PRODUCTION, offpeak_hours=None,
                                     distribution_tariff="BTINFCUST", pv_kwc=9.0),),
             "Mme", "Anne", "Richard", "2 bis rue du capitaine Flam", "32400", "32244", "Maulichères",
             "43.687", "-0.088", "0562123415", "anne.richard@example.fr", "production seule"),
    Customer(6, "1358019316", (Point("12655648759651", kind=BOTH, pv_kwc=3.0,
                                     offpeak_hours="HC (23h00-7h30)"),),
             "M.", "Marc", "Durand", "5 allée des Tilleuls", "44000", "44109", "Nantes", "47.218", "-1.553",
             "0240123416", "marc.durand@example.fr", "autoconsommation : consommation et production nettes"),
    Customer(7, "1358019317", (Point("64975835695673", offpeak_hours="HC (22H00-6H00)"),
                               Point("63695879465986", offpeak_hours=None, distribution_tariff="BTINFCUST",
                                     subscribed_kva=3, activation=date(2016, 3, 2)),
                               Point("22315546958763", offpeak_hours="HC (1H30-8H00;12H30-14H00)",
                                     subscribed_kva=12)),
             "Mme", "Julie", "Leroy", "19 boulevard Carnot", "06000", "06088", "Nice", "43.703", "7.266",
             "0493123417", "julie.leroy@example.fr", "trois points de consommation"),
    Customer(8, "1358019318", (Point("26584978546985", revoked=True),),
             "M.", "Henri", "Moreau", "1 place de la Mairie", "21000", "21231", "Dijon", "47.322", "5.041",
             "0380123418", "henri.moreau@example.fr", "consent puis révoque aussitôt : ADAM-DC-0008"),
)

_BY_PRM = {p.prm: (c, p) for c in CUSTOMERS for p in c.points}
SANDBOX_PRMS: tuple[str, ...] = tuple(_BY_PRM)
_OFFPEAK = ("HC (23h00-7h30)", "HC (22H00-6H00)", "HC (1H30-8H00;12H30-14H00)", None)


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def customer_by_digit(digit: int) -> Customer:
    return CUSTOMERS[digit]


@lru_cache(maxsize=4096)
def lookup(prm: str) -> tuple[Customer, Point]:
    """The customer and point of a PRM; any unknown 14-digit PRM is a generic consumer."""
    if prm in _BY_PRM:
        return _BY_PRM[prm]
    h = _digest(f"prm:{prm}")
    activation = date(2014, 1, 1) + timedelta(days=h % (9 * 365))    # 2014 .. 2022
    offpeak = _OFFPEAK[(h >> 16) % len(_OFFPEAK)]
    point = Point(prm, activation=activation, offpeak_hours=offpeak,
                  distribution_tariff="BTINFMUDT" if offpeak else "BTINFCUST",
                  subscribed_kva=(6, 9, 9, 12)[(h >> 24) % 4])
    firstnames = ("Camille", "Louis", "Emma", "Hugo", "Léa", "Nathan", "Chloé", "Lucas")
    lastnames = ("Lefebvre", "Garcia", "Roux", "Fournier", "Girard", "Bonnet", "Mercier", "Blanc")
    first, last = firstnames[(h >> 32) % 8], lastnames[(h >> 40) % 8]
    customer = Customer(-1, str(1_000_000_000 + h % 8_999_999_999), (point,),
                        ("M.", "Mme")[(h >> 8) % 2], first, last, f"{1 + h % 120} rue de la Gare",
                        "37000", "37261", "Tours", "47.394", "0.685", f"02{h % 100_000_000:08d}",
                        f"{first.lower()}.{last.lower()}@example.fr".replace("é", "e"), "client générique")
    return customer, point


def is_gap_day(point: Point, day: date) -> bool:
    return point.gaps and day.weekday() in (1, 2)


def published(day: date, now: datetime) -> bool:
    """Day D is published from 08:00 Paris on D+1."""
    return now.astimezone(PARIS) >= datetime.combine(day + timedelta(days=1), datetime.min.time(),
                                                     PARIS).replace(hour=8)


# -- the generator --------------------------------------------------------------------------

def intervals(day: date) -> list[tuple[datetime, datetime]]:
    """The day's half-hour intervals as (start, end) in UTC: 46, 48 or 50 of them."""
    start = datetime.combine(day, datetime.min.time(), PARIS).astimezone(UTC)
    stop = datetime.combine(day + timedelta(days=1), datetime.min.time(), PARIS).astimezone(UTC)
    out = []
    while start < stop:
        out.append((start, start + STEP))
        start += STEP
    return out


def label(moment: datetime) -> str:
    """Local Paris time, naive: 'YYYY-MM-DD hh:mm:ss'."""
    return moment.astimezone(PARIS).strftime("%Y-%m-%d %H:%M:%S")


def _even(watts: float) -> int:
    return max(0, 2 * round(watts / 2))


def _gauss(x: float, mu: float, sigma: float) -> float:
    return math.exp(-((x - mu) ** 2) / (2 * sigma * sigma))


def _sky(day: date) -> float:
    """The day's clearness (0.1 overcast .. 1 clear), shared by every PRM."""
    rng = random.Random(f"sky:{day.isoformat()}")
    return 0.1 + 0.9 * rng.betavariate(2.2, 1.3)


def _sun(moment: datetime) -> float:
    """sin(elevation of the sun) at the sandbox's latitude, 0 below the horizon."""
    doy = moment.timetuple().tm_yday
    decl = math.radians(23.44) * math.sin(2 * math.pi * (284 + doy) / 365)
    solar_hours = moment.hour + moment.minute / 60 + LONGITUDE / 15
    omega = math.radians(15 * (solar_hours - 12))
    lat = math.radians(LATITUDE)
    return max(0.0, math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(omega))


def _profile(prm: str) -> tuple[float, float, float]:
    """Per-PRM constants: base load (W), heating power at the coldest (W), peak scale."""
    rng = random.Random(f"profile:{prm}")
    return rng.uniform(180, 420), rng.uniform(600, 2800), rng.uniform(0.8, 1.6)


def _load(prm: str, day: date, moments: list[datetime]) -> list[float]:
    base, heating, scale = _profile(prm)
    rng = random.Random(f"{prm}:{day.isoformat()}")
    doy = day.timetuple().tm_yday
    season = max(0.0, math.cos(2 * math.pi * (doy - 20) / 365))       # 1 mid-January, 0 in summer
    cold = season * rng.uniform(0.7, 1.3)                             # the day's temperature
    weekend = day.weekday() >= 5
    morning, evening = (9.0, 19.5) if weekend else (7.2, 19.8)
    out = []
    for moment in moments:
        local = moment.astimezone(PARIS)
        h = local.hour + local.minute / 60
        watts = base
        watts += scale * 900 * _gauss(h, morning, 0.9)
        watts += scale * 1400 * _gauss(h, evening, 1.5)
        if weekend:
            watts += scale * 700 * _gauss(h, 12.5, 1.2)
        if 0.5 <= h <= 6.5:
            watts += 250 * scale * 0.5                                 # water heater at night
        heat_shape = 0.6 + 0.4 * (_gauss(h, 7, 2.5) + _gauss(h, 20, 3))
        watts += heating * cold * heat_shape
        watts *= rng.uniform(0.85, 1.15)
        if rng.random() < 0.05:
            watts += rng.uniform(500, 2500)                           # oven, washing machine…
        out.append(watts)
    return out


def _pv(point: Point, day: date, moments: list[datetime]) -> list[float]:
    sky = _sky(day)
    rng = random.Random(f"{point.prm}:{day.isoformat()}:pv")
    out = []
    for moment in moments:
        s = _sun(moment)
        watts = point.pv_kwc * 1000 * 0.82 * (s ** 1.15) * sky
        if watts > 0:
            watts *= rng.uniform(0.85, 1.05) if sky < 0.7 else rng.uniform(0.97, 1.01)
        out.append(watts)
    return out


@lru_cache(maxsize=4096)
def day_curves(prm: str, day: date) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]:
    """(consumption, production) for one day: ((end label, even watts), ...) each.

    A kind a point does not have gives an empty tuple. Gap days are not special here.
    """
    _, point = lookup(prm)
    spans = intervals(day)
    ends = [end for _, end in spans]
    mids = [start + STEP / 2 for start, _ in spans]
    load = _load(prm, day, mids) if point.consumes else []
    pv = _pv(point, day, mids) if point.produces else []
    labels = [label(end) for end in ends]
    if point.kind == CONSUMPTION:
        return tuple(zip(labels, map(_even, load))), ()
    if point.kind == PRODUCTION:
        return (), tuple(zip(labels, map(_even, pv)))
    net = [l - p for l, p in zip(load, pv)]
    return (tuple(zip(labels, (_even(n) for n in net))),
            tuple(zip(labels, (_even(-n) for n in net))))


def curve(prm: str, day: date, kind: str) -> tuple[tuple[str, int], ...]:
    consumption, production = day_curves(prm, day)
    return consumption if kind == CONSUMPTION else production


@lru_cache(maxsize=262144)
def daily_energy(prm: str, day: date, kind: str) -> int:
    """Wh: exactly the sum of the day's points' energies (W x 30 / 60, W even)."""
    return sum(watts // 2 for _, watts in curve(prm, day, kind))


@lru_cache(maxsize=262144)
def max_power(prm: str, day: date) -> tuple[str, int]:
    """(local moment 'YYYY-MM-DD hh:mm:ss', VA) of the day's consumption peak."""
    points = curve(prm, day, CONSUMPTION)
    spans = intervals(day)
    index = max(range(len(points)), key=lambda i: points[i][1])
    rng = random.Random(f"{prm}:{day.isoformat()}:max")
    va = math.ceil(points[index][1] * rng.uniform(1.04, 1.3)) + 30
    _, end = spans[index]
    moment = end - timedelta(seconds=rng.randint(60, 1740))
    return label(moment), va
