"""From the database to the cost engine: every seeded offer, a meter's off-peak history and the day
calendars become the engine's inputs, and the engine prices with the row in force each day."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

import factories
from models.calendar import PARIS
from models.costs import Consumption, CurvePoint, FixedPer, OffPeakSource, Option, Unpriced, cost_offer
from models.day_calendars import CalendarError, engine_calendars, set_coverage, set_days
from models.offers import KVA_VALUES, Offer, OfferPrice, offer_spec, price_periods
from models.offpeak_history import engine_meter, record_offpeak
from models.tempo import TempoDay


def catalogue(session) -> dict[str, Offer]:
    return {o.code: o for o in session.scalars(select(Offer).where(Offer.owner_id.is_(None)))}


def test_every_seeded_offer_is_an_offer_the_engine_accepts(session):
    for code, offer in catalogue(session).items():
        spec = offer_spec(session, offer)  # the engine checks buckets, off-peak source and overlaps
        assert spec.option is Option(offer.option) and spec.key == str(offer.id)
        assert {p.kva for p in spec.periods} <= set(KVA_VALUES) and spec.periods, code
        assert all(p.fixed_per is FixedPer.MONTH and p.status for p in spec.periods)
    flex = offer_spec(session, catalogue(session)["EDF_ZEN_FLEX"], 6)
    assert flex.offpeak_source is OffPeakSource.OFFER and len(flex.offpeak_ranges) == 3
    assert offer_spec(session, catalogue(session)["EDF_TRV_HC_HP"]).offpeak_source is OffPeakSource.CONTRACT


def test_the_cre_annual_figure_when_asked(session):
    hc = catalogue(session)["EDF_TRV_HC_HP"]
    (sheet,) = price_periods(session, hc.id, 6, date(2026, 3, 1), date(2026, 3, 2))
    (cre,) = price_periods(session, hc.id, 6, date(2026, 3, 1), date(2026, 3, 2), cre_annual=True)
    assert (sheet.fixed_eur, sheet.fixed_per) == (Decimal("15.65"), FixedPer.MONTH)
    assert (cre.fixed_eur, cre.fixed_per) == (Decimal("188.24"), FixedPer.YEAR)
    assert cre.ref == sheet.ref == session.scalar(select(OfferPrice.id).where(
        OfferPrice.offer_id == hc.id, OfferPrice.kva == 6, OfferPrice.valid_from == date(2026, 2, 1)))


def test_each_day_is_priced_with_the_row_in_force(session):
    base = catalogue(session)["EDF_TRV_BASE"]
    point = factories.make_point(session, factories.make_user(session), kind="consumption")
    spec = offer_spec(session, base, 6)
    consumption = Consumption.from_daily({date(2025, 7, 31): 10_000, date(2025, 8, 1): 10_000},
                                         date(2025, 7, 31), date(2025, 8, 1))
    result = cost_offer(consumption, spec, engine_meter(session, point.id, 6),
                        engine_calendars(session, date(2025, 7, 31), date(2025, 8, 2)))
    july, august = result.days
    assert (july.period.valid_from, august.period.valid_from) == (date(2025, 2, 1), date(2025, 8, 1))
    assert july.amounts["base"] == Decimal("10") * Decimal("0.2016")
    assert august.amounts["base"] == Decimal("10") * Decimal("0.1952")
    assert july.period.status == "two_sources_agree" and "JC144" in july.period.source


def test_the_meter_and_the_calendars_carry_what_is_known_and_only_that(session):
    point = factories.make_point(session, factories.make_user(session), kind="consumption")
    record_offpeak(session, point.id, "HC (22H00-6H00)", date(2025, 11, 20))
    meter = engine_meter(session, point.id, 9)
    assert meter.kva == 9 and [r.label() for r in meter.offpeak.at(date(2025, 12, 1))] == ["22h00–6h00"]
    assert meter.offpeak.assumed(date(2025, 1, 1))  # before the first sighting: stretched back, flagged

    now = datetime.now(UTC)
    session.add(TempoDay(day=date(2026, 1, 12), colour="RED", updated_at=now, fetched_at=now))
    set_days(session, "ejp", [date(2026, 1, 12), date(2026, 3, 2)])
    set_coverage(session, "ejp", date(2025, 11, 1), date(2026, 1, 31))
    calendars = engine_calendars(session, date(2026, 1, 1), date(2026, 4, 2))
    assert calendars.tempo == {date(2026, 1, 12): "RED"}
    assert calendars.ejp_day(date(2026, 1, 12)) is True and calendars.ejp_day(date(2026, 1, 13)) is False
    assert calendars.ejp_day(date(2026, 3, 2)) is True  # listed outside the complete span: known
    assert calendars.ejp_day(date(2026, 3, 3)) is None and calendars.ejp_day(date(2026, 4, 1)) is False
    assert calendars.sobriete.status(date(2026, 1, 12)) is None
    assert calendars.holidays.status(date(2026, 1, 1)) is True
    with pytest.raises(CalendarError):
        engine_calendars(session, date(2026, 1, 2), date(2026, 1, 1))


def test_a_stored_tempo_colour_prices_and_an_unknown_one_stays_unpriced(session):
    tempo = catalogue(session)["EDF_TRV_TEMPO"]
    point = factories.make_point(session, factories.make_user(session), kind="consumption")
    now = datetime.now(UTC)
    session.add(TempoDay(day=date(2026, 1, 13), colour="RED", updated_at=now, fetched_at=now))
    session.flush()
    # 2 kW from 11:30 to 12:00 on the 12th (colour unknown) and on the 13th (red): 1 kWh each, in HP.
    points = [CurvePoint(datetime(2026, 1, d, 12, 0, tzinfo=PARIS), 30, 2000) for d in (12, 13)]
    consumption = Consumption.from_curve(points, date(2026, 1, 12), date(2026, 1, 13))
    result = cost_offer(consumption, offer_spec(session, tempo, 6), engine_meter(session, point.id, 6),
                        engine_calendars(session, date(2026, 1, 12), date(2026, 1, 14)))
    unknown, red = result.days
    assert unknown.reasons == {Unpriced.TEMPO_UNKNOWN} and unknown.amounts.get("tempo_red_hp", 0) == 0
    # 1 kWh at the red HP price in force (2025-08-01 grid); nothing of the 13th left unpriced.
    assert red.unpriced_wmin == 0 and red.amounts["tempo_red_hp"] == Decimal("0.6468")
