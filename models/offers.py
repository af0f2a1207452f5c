"""Electricity offers and their prices over time: provider → offer → price periods.

An offer is a product with one option (BASE, HC_HP, TEMPO…): which price buckets it has,
where its off-peak hours come from (the meter's contract, or fixed by the offer), which day
calendar it needs (Tempo colours, EJP days, EDF "Sobriété" days) and whether public holidays
count as weekend. Its prices live in periods, one per subscribed power (kVA) and validity
`[valid_from, valid_to)` (`valid_to` NULL: still in force), each with where the figures come
from (`sources`) and how sure we are of them (`status`). The database refuses two periods of
one offer and kVA that overlap.

Money is `Decimal` (PostgreSQL NUMERIC), never a float: the fixed part in € TTC per month as
price sheets print it, energy in € TTC per kWh. Public offers are the catalogue
(`models/data/offers/`, loaded by `models.offer_catalogue`); an offer with an `owner_id` is a
household's own (its supplier's prices), seen by that account only (`models.household_offers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint, Date, ForeignKey, Numeric, SmallInteger, String, Text, column, func, literal, or_, select,
)
from sqlalchemy.dialects.postgresql import ARRAY, ExcludeConstraint
from sqlalchemy.orm import Mapped, Session, attribute_keyed_dict, mapped_column, relationship, selectinload

from models.base import Base, Timestamped
from models.costs.inputs import BUCKET_LABELS, FixedPer, OfferSpec, OffPeakSource, Option, PricePeriod
from models.costs.inputs import BUCKETS as BUCKETS_OF
from models.offpeak import OffPeakRange, parse_offpeak_hours
from models.usage_points import UsagePoint

# -- options: the rules every offer of an option follows ------------------------------------------

OFFPEAK_SOURCES = ("none", "contract", "offer")  # no off-peak hours; the meter's contract; fixed by the offer
DAY_CALENDARS = ("none", "tempo", "ejp", "sobriete")


@dataclass(frozen=True)
class OptionRule:
    """What an option prices and what it needs to be priced."""

    label: str  # French, for the pages
    buckets: tuple[str, ...]  # the energy prices every period of such an offer has, € per kWh (the engine's names)
    offpeak_sources: tuple[str, ...]  # allowed sources of off-peak hours; the first is the default
    offpeak_hours: str | None = None  # default fixed hours (Enedis notation, `models.offpeak`) when "offer"
    day_calendar: str = "none"
    needs_load_curve: bool = True  # False: daily energy is enough (BASE only)


# Sources of the fixed hours and calendars: ../shared/docs/tariffs-and-admin.md §1 and §2.6
# (Tempo: arrêté du 30 octobre 2014, art. 3, HC 22:00–06:00; EJP: 22 days 1 Nov–31 Mar, peak
# 07:00–01:00; HC_NUIT_WEEKEND: weekdays 23:00–06:00 and the whole weekend, as MyElectricalData
# models it; Zen Flex: HC 00–08, 13–18, 20–24 as JC144/EDF_Simulateur_Prix and
# GaboFlo/Comparateur… model it).
OPTION_RULES: dict[str, OptionRule] = {
    "BASE": OptionRule("Base", BUCKETS_OF[Option.BASE], ("none",), needs_load_curve=False),
    "HC_HP": OptionRule("Heures creuses", BUCKETS_OF[Option.HC_HP], ("contract", "offer")),
    "TEMPO": OptionRule("Tempo", BUCKETS_OF[Option.TEMPO], ("offer",), "HC (22H00-6H00)", "tempo"),
    "EJP": OptionRule("EJP", BUCKETS_OF[Option.EJP], ("none",), day_calendar="ejp"),
    "BASE_WEEKEND": OptionRule("Base + week-end", BUCKETS_OF[Option.BASE_WEEKEND], ("none",)),
    "HC_WEEKEND": OptionRule("Heures creuses + week-end", BUCKETS_OF[Option.HC_WEEKEND], ("contract", "offer")),
    "HC_NUIT_WEEKEND": OptionRule("Heures creuses nuit + week-end", BUCKETS_OF[Option.HC_NUIT_WEEKEND], ("offer",),
                                  "HC (23H00-6H00)"),
    "SEASONAL": OptionRule("Saisonnière", BUCKETS_OF[Option.SEASONAL], ("contract", "offer")),
    "ZEN_FLEX": OptionRule("Zen Flex (jours Éco / Sobriété)", BUCKETS_OF[Option.ZEN_FLEX], ("offer",),
                           "HC (0H00-8H00;13H00-18H00;20H00-24H00)", "sobriete"),
}
OPTIONS = tuple(OPTION_RULES)
BUCKETS = tuple(dict.fromkeys(b for rule in OPTION_RULES.values() for b in rule.buckets))
# Subscribed powers of a household meter (C5, ≤ 36 kVA), as Enedis contracts state them.
KVA_VALUES = (3, 6, 9, 12, 15, 18, 24, 30, 36)

# How sure a period's figures are. The first six are those of the reference file
# (../shared/reference/tariffs/edf-tarif-bleu.json); "household" is a household's own entry.
PRICE_STATUSES = (
    "three_sources_agree", "two_sources_agree", "two_sources_agree_not_cre_checked", "single_source",
    "conflict_subscription", "unconfirmed_price", "household",
)
STATUS_LABELS = {
    "three_sources_agree": "trois sources concordent",
    "two_sources_agree": "deux sources concordent",
    "two_sources_agree_not_cre_checked": "deux sources concordent (non vérifié auprès de la CRE)",
    "single_source": "une seule source",
    "conflict_subscription": "abonnement : les sources divergent",
    "unconfirmed_price": "prix non confirmé",
    "household": "saisi par le foyer",
}
# Sane bounds, in the database too: a price outside them is a typo, not a tariff.
MAX_FIXED_EUR_MONTH = Decimal("1000")
MAX_EUR_KWH = Decimal("10")
FIRST_VALID_DAY = date(2000, 1, 1)
LAST_VALID_DAY = date(2100, 1, 1)


def _in(values: tuple) -> str:
    return "(" + ", ".join(f"'{v}'" if isinstance(v, str) else str(v) for v in values) + ")"


# -- tables ----------------------------------------------------------------------------------------


class Provider(Timestamped, Base):
    __tablename__ = "providers"
    __table_args__ = (CheckConstraint("code ~ '^[A-Z0-9_]{2,32}$'", name="code_format"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # stable key of the catalogue ("EDF")
    name: Mapped[str] = mapped_column(String(100), unique=True)
    website: Mapped[str] = mapped_column(String(255), default="")
    offers: Mapped[list[Offer]] = relationship(back_populates="provider", cascade="all, delete-orphan",
                                               passive_deletes=True)


class Offer(Timestamped, Base):
    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint(f"option IN {_in(OPTIONS)}", name="option_known"),
        CheckConstraint(f"offpeak_source IN {_in(OFFPEAK_SOURCES)}", name="offpeak_source_known"),
        CheckConstraint(f"day_calendar IN {_in(DAY_CALENDARS)}", name="day_calendar_known"),
        CheckConstraint("code IS NULL OR code ~ '^[A-Z0-9_]{2,48}$'", name="code_format"),
        # The catalogue's offers have a code and a provider; a household's own offer has an owner instead.
        CheckConstraint("(owner_id IS NULL) = (code IS NOT NULL)", name="public_has_code"),
        CheckConstraint("owner_id IS NOT NULL OR provider_id IS NOT NULL", name="public_has_provider"),
        CheckConstraint("(offpeak_source = 'offer') = (offpeak_hours IS NOT NULL)", name="fixed_hours_when_fixed"),
        CheckConstraint("(option IN ('BASE', 'EJP', 'BASE_WEEKEND')) = (offpeak_source = 'none')",
                        name="offpeak_fits_option"),
        CheckConstraint("(option = 'TEMPO') = (day_calendar = 'tempo') AND (option = 'EJP') = (day_calendar = 'ejp')"
                        " AND (option = 'ZEN_FLEX') = (day_calendar = 'sobriete')", name="calendar_fits_option"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str | None] = mapped_column(String(48), unique=True)  # the catalogue's key ("EDF_TRV_TEMPO")
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    supplier_name: Mapped[str] = mapped_column(String(100), default="", server_default="")  # a household's supplier
    option: Mapped[str] = mapped_column(String(16))
    offpeak_source: Mapped[str] = mapped_column(String(8))
    offpeak_hours: Mapped[str | None] = mapped_column(String(100))  # Enedis notation, read by models.offpeak
    day_calendar: Mapped[str] = mapped_column(String(8), default="none", server_default="none")
    holidays_as_weekend: Mapped[bool] = mapped_column(default=False, server_default="false")
    open_to_new_customers: Mapped[bool] = mapped_column(default=True, server_default="true")
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")

    provider: Mapped[Provider | None] = relationship(back_populates="offers")
    prices: Mapped[list[OfferPrice]] = relationship(back_populates="offer", cascade="all, delete-orphan",
                                                    passive_deletes=True,
                                                    order_by="(OfferPrice.kva, OfferPrice.valid_from)")

    @property
    def rule(self) -> OptionRule:
        return OPTION_RULES[self.option]

    @property
    def is_household(self) -> bool:
        return self.owner_id is not None

    @property
    def supplier(self) -> str:
        return self.provider.name if self.provider is not None else self.supplier_name

    def fixed_offpeak_ranges(self) -> tuple[OffPeakRange, ...] | None:
        """The offer's own off-peak ranges (minutes kept), or None when they come from the contract or do not exist."""
        return parse_offpeak_hours(self.offpeak_hours) if self.offpeak_source == "offer" else None


class OfferPrice(Base):
    """One price period of an offer at one subscribed power: `[valid_from, valid_to)`."""

    __tablename__ = "offer_prices"
    __table_args__ = (
        CheckConstraint(f"kva IN {_in(KVA_VALUES)}", name="kva_standard"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="validity_order"),
        CheckConstraint(f"valid_from >= '{FIRST_VALID_DAY}' AND (valid_to IS NULL OR valid_to <= '{LAST_VALID_DAY}')",
                        name="validity_range"),
        CheckConstraint(f"fixed_eur_month >= 0 AND fixed_eur_month < {MAX_FIXED_EUR_MONTH}", name="fixed_range"),
        CheckConstraint(f"fixed_eur_year_cre IS NULL OR (fixed_eur_year_cre >= 0 AND fixed_eur_year_cre < "
                        f"{MAX_FIXED_EUR_MONTH * 12})", name="fixed_year_range"),
        CheckConstraint(f"status IN {_in(PRICE_STATUSES)}", name="status_known"),
        CheckConstraint("status = 'household' OR cardinality(sources) > 0", name="sourced"),
        # No two periods of one offer and kVA overlap. Single-value ranges stand for equality: GiST
        # compares ranges natively, so no extension (btree_gist) is needed, which the embedded
        # PostgreSQL of `make run` does not ship. Deferrable, so a loader may close one period and
        # open the next in either order within a transaction.
        ExcludeConstraint(
            (func.int4range(column("offer_id"), column("offer_id"), literal("[]")), "&&"),
            (func.int4range(column("kva"), column("kva"), literal("[]")), "&&"),
            (func.daterange(column("valid_from"), column("valid_to"), literal("[)")), "&&"),
            name="ex_offer_prices_no_overlap", using="gist", deferrable=True, initially="IMMEDIATE",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"), index=True)
    kva: Mapped[int] = mapped_column(SmallInteger)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)  # exclusive; NULL: in force until further notice
    fixed_eur_month: Mapped[Decimal] = mapped_column(Numeric(8, 4))  # € TTC per month, as the price sheet prints it
    fixed_eur_year_cre: Mapped[Decimal | None] = mapped_column(Numeric(9, 4))  # CRE's annual figure, when it differs
    status: Mapped[str] = mapped_column(String(40))
    sources: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    offer: Mapped[Offer] = relationship(back_populates="prices")
    energy_rows: Mapped[dict[str, OfferEnergyPrice]] = relationship(
        collection_class=attribute_keyed_dict("bucket"), cascade="all, delete-orphan", passive_deletes=True)

    @property
    def energy(self) -> dict[str, Decimal]:
        """€ per kWh by bucket, in the order of `BUCKETS` (an option's buckets keep their order)."""
        return {bucket: self.energy_rows[bucket].eur_kwh for bucket in BUCKETS if bucket in self.energy_rows}

    def set_energy(self, prices: dict[str, Decimal]) -> None:
        for bucket in set(self.energy_rows) - set(prices):
            del self.energy_rows[bucket]
        for bucket, value in prices.items():
            row = self.energy_rows.get(bucket)
            if row is None:
                self.energy_rows[bucket] = OfferEnergyPrice(bucket=bucket, eur_kwh=value)
            elif row.eur_kwh != value:
                row.eur_kwh = value

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


class OfferEnergyPrice(Base):
    """The price of one bucket (base, hp, tempo_red_hp…) in one price period, € TTC per kWh."""

    __tablename__ = "offer_energy_prices"
    __table_args__ = (
        CheckConstraint(f"bucket IN {_in(BUCKETS)}", name="bucket_known"),
        CheckConstraint(f"eur_kwh > 0 AND eur_kwh < {MAX_EUR_KWH}", name="price_range"),
    )

    price_id: Mapped[int] = mapped_column(ForeignKey("offer_prices.id", ondelete="CASCADE"), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(24), primary_key=True)
    eur_kwh: Mapped[Decimal] = mapped_column(Numeric(9, 6))


# -- reading: what the engine, the pages and the admin area consume ---------------------------------


def engine_period(row: OfferPrice, *, cre_annual: bool = False) -> PricePeriod:
    """A price period as the cost engine takes it (`models.costs.inputs.PricePeriod`): the fixed part
    per month as the sheet prints it, or CRE's annual figure where one is stored and `cre_annual`."""
    if cre_annual and row.fixed_eur_year_cre is not None:
        fixed, per = row.fixed_eur_year_cre, FixedPer.YEAR
    else:
        fixed, per = row.fixed_eur_month, FixedPer.MONTH
    return PricePeriod(kva=row.kva, valid_from=row.valid_from, valid_to=row.valid_to, fixed_eur=fixed, fixed_per=per,
                       prices=row.energy, ref=row.id, source="; ".join(row.sources), status=row.status)


def visible_to(user_id: int | None):
    """SQL condition: the catalogue's offers, plus the household offers of `user_id`."""
    return Offer.owner_id.is_(None) if user_id is None else or_(Offer.owner_id.is_(None), Offer.owner_id == user_id)


def get_offer(session: Session, offer_id: int, user_id: int | None) -> Offer | None:
    """An offer `user_id` may see (None for another household's offer, exactly like a missing one)."""
    return session.scalar(select(Offer).where(Offer.id == offer_id, visible_to(user_id))
                          .options(selectinload(Offer.provider)))


def offers_for_kva(session: Session, kva: int, user_id: int | None, *, on: date | None = None) -> list[Offer]:
    """Offers with at least one price period at `kva` (in force on `on` when given), visible to `user_id`:
    the catalogue's first, then the household's own; by provider and name."""
    has_price = select(OfferPrice.id).where(OfferPrice.offer_id == Offer.id, OfferPrice.kva == kva)
    if on is not None:
        has_price = has_price.where(OfferPrice.valid_from <= on,
                                    or_(OfferPrice.valid_to.is_(None), OfferPrice.valid_to > on))
    query = (select(Offer).where(visible_to(user_id), has_price.exists())
             .options(selectinload(Offer.provider))
             .order_by(Offer.owner_id.is_not(None), Offer.provider_id, Offer.name, Offer.id))
    return list(session.scalars(query))


def price_periods(session: Session, offer_id: int, kva: int, start: date | None = None,
                  end: date | None = None, *, cre_annual: bool = False) -> list[PricePeriod]:
    """The periods of an offer at `kva` that touch `[start, end)` (all of them without bounds), oldest first,
    as the engine takes them (`ref` is the row's id).

    A day no period covers has no known price: callers report it as such ("prix inconnu"), never
    priced with a neighbouring period.
    """
    query = select(OfferPrice).where(OfferPrice.offer_id == offer_id, OfferPrice.kva == kva)
    if end is not None:
        query = query.where(OfferPrice.valid_from < end)
    if start is not None:
        query = query.where(or_(OfferPrice.valid_to.is_(None), OfferPrice.valid_to > start))
    rows = session.scalars(query.order_by(OfferPrice.valid_from).options(selectinload(OfferPrice.energy_rows)))
    return [engine_period(row, cre_annual=cre_annual) for row in rows]


def offer_spec(session: Session, offer: Offer, kva: int | None = None, *, cre_annual: bool = False) -> OfferSpec:
    """An offer as the cost engine takes it (`models.costs.inputs.OfferSpec`), with its periods at `kva`
    (every kVA when None). `key` is the offer's id; the name carries the supplier of a household's offer."""
    query = select(OfferPrice).where(OfferPrice.offer_id == offer.id).options(selectinload(OfferPrice.energy_rows))
    if kva is not None:
        query = query.where(OfferPrice.kva == kva)
    periods = tuple(engine_period(row, cre_annual=cre_annual) for row in session.scalars(query))
    name = f"{offer.name} ({offer.supplier_name})" if offer.is_household and offer.supplier_name else offer.name
    return OfferSpec(key=str(offer.id), name=name, option=Option(offer.option), periods=periods,
                     offpeak_source=OffPeakSource(offer.offpeak_source),
                     offpeak_ranges=offer.fixed_offpeak_ranges() or (), holidays_as_weekend=offer.holidays_as_weekend)


def earliest_price_day(session: Session, day_calendar: str | None = None) -> date | None:
    """The first day any offer has a price (of offers needing `day_calendar`, when given)."""
    query = select(func.min(OfferPrice.valid_from)).join(Offer)
    if day_calendar is not None:
        query = query.where(Offer.day_calendar == day_calendar)
    return session.scalar(query)


@dataclass(frozen=True)
class PriceStatusRow:
    """One price period as the admin area lists it, with how sure its figures are."""

    price_id: int
    provider: str
    offer_code: str
    offer_name: str
    option: str
    kva: int
    valid_from: date
    valid_to: date | None
    fixed_eur_month: Decimal
    fixed_eur_year_cre: Decimal | None
    energy: dict[str, Decimal]
    status: str
    status_label: str
    sources: tuple[str, ...]
    notes: str


def catalogue_prices(session: Session, *, status: str | None = None, offer_code: str | None = None,
                     on: date | None = None) -> list[PriceStatusRow]:
    """The catalogue's price periods (never a household's), with their status and sources, for the admin area.

    Filters: one `status`, one offer `code`, the periods in force `on` a day. Ordered by provider, offer, kVA, date.
    """
    query = (select(OfferPrice, Offer, Provider).join(Offer, OfferPrice.offer_id == Offer.id)
             .join(Provider, Offer.provider_id == Provider.id).where(Offer.owner_id.is_(None))
             .options(selectinload(OfferPrice.energy_rows)))
    if status is not None:
        query = query.where(OfferPrice.status == status)
    if offer_code is not None:
        query = query.where(Offer.code == offer_code)
    if on is not None:
        query = query.where(OfferPrice.valid_from <= on, or_(OfferPrice.valid_to.is_(None), OfferPrice.valid_to > on))
    query = query.order_by(Provider.name, Offer.code, OfferPrice.kva, OfferPrice.valid_from)
    return [PriceStatusRow(p.id, prov.name, o.code or "", o.name, o.option, p.kva, p.valid_from, p.valid_to,
                           p.fixed_eur_month, p.fixed_eur_year_cre, p.energy, p.status,
                           STATUS_LABELS.get(p.status, p.status), tuple(p.sources), p.notes)
            for p, o, prov in session.execute(query).all()]


def status_counts(session: Session) -> dict[str, int]:
    """How many of the catalogue's price periods have each status (admin overview)."""
    rows = session.execute(select(OfferPrice.status, func.count()).join(Offer)
                           .where(Offer.owner_id.is_(None)).group_by(OfferPrice.status)).all()
    return {status: count for status, count in sorted(rows)}


def choose_offer(session: Session, user_id: int, point_id: int, offer_id: int | None) -> bool:
    """Record the offer a household says its meter has (None: not said). False when the point is not the
    user's or the offer is not one the user may see (another household's): nothing changes then."""
    point = session.scalar(select(UsagePoint).where(UsagePoint.id == point_id, UsagePoint.user_id == user_id))
    if point is None or (offer_id is not None and get_offer(session, offer_id, user_id) is None):
        return False
    point.offer_id = offer_id
    return True
