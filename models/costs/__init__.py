"""The cost engine: what a meter's electricity cost, or would have cost, under an offer.

Pure code: no database, no cache, no network. The pages and the simulator turn their rows
into the inputs of `models.costs.inputs` and call:

    consumption = Consumption.from_curve(points, first, last)   # or .from_daily(wh_per_day, ...)
    result = cost_offer(consumption, offer, meter, calendars)   # OfferCost or NotComputable
    result.days / result.months / result.total                  # DayCost / Summary
    compare(cost_offers(consumption, offers, meter, calendars)) # the simulator's ranking
    to_dict(result) / from_dict(data)                           # JSON values for the cache, and back

The rules, each against an error MyElectricalData makes (tariffs-and-admin.md §3.2):
- an Enedis load-curve point is labelled by its interval's END; it is classified by the
  time it covers, i.e. by its start (defect 1);
- off-peak ranges are read to the minute, all of them, across midnight (defect 2);
- a Tempo day runs 06:00–06:00 Paris time, with HC 22:00–06:00 for every meter (defect 3);
- an unknown Tempo colour, EJP, Sobriété or holiday day is reported, never guessed
  (defects 4 and 5);
- each day is priced with the prices in force that day; a day without any is "prix
  inconnu", never priced with another period's prices (defect 6);
- the fixed part is charged for every calendar day, data or not (defect 7);
- daylight-saving days have 46 or 50 half-hours, all counted (defect 8).
See `engine` for money and rounding, `consumption` for energy units, `rules` for the
boundaries of each option.

From the database rows (issue #13's offers, calendars and off-peak history) to the inputs:
- a price period → `PricePeriod(kva, valid_from, valid_to, fixed_eur_month, FixedPer.MONTH,
  energy prices by bucket)`; `valid_to` is exclusive on both sides; CRE's annual figure
  goes in as `FixedPer.YEAR` instead, if the page prefers it;
- an offer → `OfferSpec(key, name, option, periods, offpeak_source, parsed offpeak_hours,
  holidays_as_weekend)`: the option names, bucket names and off-peak sources are the same
  strings;
- a point's off-peak schedules → `OffPeakHistory(((valid_from, ranges), …),
  assume_earliest=True)` to price the days before the first one seen with it (and say so);
- Tempo days → `Calendars.tempo`; EJP and Sobriété days with the span declared complete →
  `MarkedDays(days, ((known_from, known_through),))`; holidays → `french_public_holidays`;
- readings from the cache → `points_from_cache` / `daily_from_cache`.
"""

from models.costs.consumption import WMIN_PER_KWH, Consumption, DayEnergy, daily_from_cache, kwh, points_from_cache
from models.costs.engine import (
    CENT, CONTEXT, MICRO, Comparison, DayCost, NotComputable, OfferCost, Summary, blocked, compare, cost_offer,
    cost_offers, date_spans, fixed_for_day, summarise, to_cents,
)
from models.costs.inputs import (
    BUCKET_LABELS, BUCKETS, DAILY_OPTIONS, EJP_MONTHS, TEMPO_OFFPEAK, USES_OFFPEAK_HOURS, Calendars, CurvePoint, FixedPer, MarkedDays,
    Meter, OfferSpec, OffPeakHistory, OffPeakSource, Option, PricePeriod, french_public_holidays,
)
from models.costs.reasons import EXPLANATIONS, LABELS, Assumed, Blocked, Unpriced
from models.costs.serial import from_dict, to_dict

__all__ = [
    "BUCKETS", "BUCKET_LABELS", "CENT", "CONTEXT", "DAILY_OPTIONS", "EJP_MONTHS", "EXPLANATIONS", "LABELS", "MICRO",
    "TEMPO_OFFPEAK", "USES_OFFPEAK_HOURS", "WMIN_PER_KWH", "Assumed", "Blocked", "Calendars", "Comparison", "Consumption", "CurvePoint", "DayCost",
    "DayEnergy", "FixedPer", "MarkedDays", "Meter", "NotComputable", "OfferCost", "OfferSpec", "OffPeakHistory",
    "OffPeakSource", "Option", "PricePeriod", "Summary", "Unpriced", "blocked", "compare", "cost_offer", "cost_offers",
    "daily_from_cache", "date_spans", "fixed_for_day", "french_public_holidays", "from_dict", "kwh",
    "points_from_cache", "summarise", "to_cents", "to_dict",
]
