"""Changes to the offer catalogue, made in the admin area or by approving a contribution: one service.

Prices are history. A new price never overwrites one: it opens a period `[valid_from, …)` at one
kVA and closes the period in force before it (its `valid_to` becomes the new `valid_from`), of
that same offer and kVA only; nothing else of the catalogue moves. A rename changes the name, never
a price. Every change writes its audit row (`models.audit.record`) in the caller's transaction;
nothing here commits.

Values are checked per field, with French messages for the person who typed them: the fixed part
in € TTC per month, energy in € TTC per kWh, within plausible ranges (a price sheet's cents typed as
euros, 20,65 for 0,2065, is refused and said so).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from models.audit import record
from models.costs.inputs import BUCKET_LABELS
from models.offers import (
    FIRST_VALID_DAY, KVA_VALUES, LAST_VALID_DAY, OPTION_RULES, PRICE_STATUSES, Offer, OfferPrice, Provider,
)

# Plausible ranges per field (TTC). The highest figure of the reference grids is Zen Flex's Sobriété
# HP at 0.7253 €/kWh and 36 kVA subscriptions near 55 €/month (../shared/docs/tariffs-and-admin.md §2):
# the bounds leave room for dearer offers and refuse a unit mistake (cents as euros, a year as a month).
ENERGY_MIN, ENERGY_MAX = Decimal("0.01"), Decimal("2")
FIXED_MIN, FIXED_MAX = Decimal("1"), Decimal("200")
MAX_DECIMALS = 6
NUMBER = re.compile(r"^[0-9]{1,5}(?:[.,][0-9]{1,6})?$")
CATALOGUE_STATUSES = tuple(s for s in PRICE_STATUSES if s != "household")
MAX_NAME = 100
MAX_SOURCE = 500


class OfferEditRefused(ValueError):
    """The change cannot be made; `message` is French, for the page."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class PriceEntry:
    """The prices of one subscribed power: fixed part € TTC per month, energy € TTC per kWh by bucket."""

    kva: int
    fixed_eur_month: Decimal
    energy: dict[str, Decimal]

    def as_json(self) -> dict:
        return {"kva": self.kva, "fixed_eur_month": str(self.fixed_eur_month),
                "energy": {b: str(v) for b, v in self.energy.items()}}

    @classmethod
    def from_json(cls, item: dict) -> PriceEntry:
        return cls(int(item["kva"]), Decimal(item["fixed_eur_month"]),
                   {b: Decimal(v) for b, v in item["energy"].items()})


def fr_number(value: Decimal) -> str:
    return format(value.normalize(), "f").replace(".", ",")


def parse_amount(raw: str, what: str) -> Decimal:
    """A price typed on a page ("0,2065" or "0.2065"): digits, one separator, at most 6 decimals."""
    raw = (raw or "").strip().replace("\u00a0", "").replace(" ", "")
    if raw.endswith("€"):
        raw = raw[:-1]
    if not NUMBER.match(raw):
        raise OfferEditRefused(f"{what} : « {raw[:20]} » n'est pas un montant (par exemple 0,2065).")
    try:
        return Decimal(raw.replace(",", "."))
    except InvalidOperation:  # the pattern lets none through; kept for safety
        raise OfferEditRefused(f"{what} : montant illisible.") from None


def check_fixed(value: Decimal, kva: int) -> None:
    if not FIXED_MIN <= value <= FIXED_MAX:
        raise OfferEditRefused(
            f"Abonnement à {kva} kVA : {fr_number(value)} € par mois est hors de la plage admise "
            f"({fr_number(FIXED_MIN)} à {fr_number(FIXED_MAX)} € TTC par mois). L'abonnement s'écrit par mois, "
            f"pas par an.")
    if -value.as_tuple().exponent > 4:
        raise OfferEditRefused(f"Abonnement à {kva} kVA : 4 décimales au plus.")


def check_energy(bucket: str, value: Decimal, kva: int) -> None:
    if not ENERGY_MIN <= value <= ENERGY_MAX:
        hint = " Les prix s'écrivent en euros (0,2065), pas en centimes (20,65)." if value > ENERGY_MAX else ""
        raise OfferEditRefused(
            f"Prix du kWh « {BUCKET_LABELS.get(bucket, bucket)} » à {kva} kVA : {fr_number(value)} € par kWh est "
            f"hors de la plage admise ({fr_number(ENERGY_MIN)} à {fr_number(ENERGY_MAX)} € TTC par kWh).{hint}")
    if -value.as_tuple().exponent > MAX_DECIMALS:
        raise OfferEditRefused(f"Prix du kWh « {BUCKET_LABELS.get(bucket, bucket)} » : {MAX_DECIMALS} décimales "
                               f"au plus.")


def check_entries(option: str, entries: list[PriceEntry]) -> list[PriceEntry]:
    """Every entry of an offer of `option`: a known kVA once, the option's buckets exactly, each value in range."""
    if option not in OPTION_RULES:
        raise OfferEditRefused("Type d'offre inconnu.")
    if not entries:
        raise OfferEditRefused("Indiquez les prix d'au moins une puissance souscrite.")
    buckets = OPTION_RULES[option].buckets
    seen = set()
    for entry in entries:
        if entry.kva not in KVA_VALUES:
            raise OfferEditRefused(f"Puissance souscrite inconnue : {entry.kva} kVA.")
        if entry.kva in seen:
            raise OfferEditRefused(f"La puissance {entry.kva} kVA figure deux fois.")
        seen.add(entry.kva)
        check_fixed(entry.fixed_eur_month, entry.kva)
        missing = [BUCKET_LABELS.get(b, b) for b in buckets if b not in entry.energy]
        if missing or set(entry.energy) - set(buckets):
            raise OfferEditRefused(f"À {entry.kva} kVA, il faut exactement les prix du kWh de cette option "
                                   f"({', '.join(BUCKET_LABELS.get(b, b) for b in buckets)}).")
        for bucket in buckets:
            check_energy(bucket, entry.energy[bucket], entry.kva)
    return sorted(entries, key=lambda e: e.kva)


def check_name(name: str, what: str = "Le nom") -> str:
    name = " ".join((name or "").split())
    if not 2 <= len(name) <= MAX_NAME:
        raise OfferEditRefused(f"{what} doit faire de 2 à {MAX_NAME} caractères.")
    return name


def check_day(day: date) -> date:
    if not FIRST_VALID_DAY <= day < LAST_VALID_DAY:
        raise OfferEditRefused("Date hors limites.")
    return day


def _code(name: str, length: int) -> str:
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Z0-9]+", "_", ascii_.upper()).strip("_")[:length].strip("_")


def _free_code(session: Session, model, wanted: str, length: int) -> str:
    base = wanted if len(wanted) >= 2 else (wanted + "_X")[:2] if wanted else "XX"
    taken = set(session.scalars(select(model.code).where(model.code.like(base[: length - 4] + "%"))))
    code, n = base, 2
    while code in taken:
        suffix = f"_{n}"
        code, n = base[: length - len(suffix)] + suffix, n + 1
    return code


# -- providers and offers --------------------------------------------------------------------------


def _offer_state(offer: Offer) -> dict:
    return {"name": offer.name, "option": offer.option, "provider_id": offer.provider_id, "code": offer.code}


def create_provider(session: Session, name: str, website: str = "", *, actor_id: int | None, ip: str | None,
                    contribution_id: int | None = None) -> Provider:
    name = check_name(name, "Le nom du fournisseur")
    website = (website or "").strip()
    if len(website) > 255 or (website and not website.startswith(("https://", "http://"))):
        raise OfferEditRefused("Le site du fournisseur est une adresse http(s) de 255 caractères au plus.")
    if session.scalar(select(Provider.id).where(Provider.name.ilike(name))) is not None:
        raise OfferEditRefused(f"Le fournisseur « {name} » existe déjà.")
    provider = Provider(code=_free_code(session, Provider, _code(name, 32), 32), name=name, website=website)
    session.add(provider)
    session.flush()
    record(session, "admin.provider.created", actor_id=actor_id, target=f"provider:{provider.id}", ip=ip,
           after={"code": provider.code, "name": name, "website": website},
           **({"contribution": contribution_id} if contribution_id else {}))
    return provider


def create_offer(session: Session, provider_id: int, name: str, option: str, *, actor_id: int | None,
                 ip: str | None, contribution_id: int | None = None) -> Offer:
    """A catalogue offer with the option's default rules (off-peak hours and calendar); no price yet."""
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise OfferEditRefused("Fournisseur inconnu.")
    name = check_name(name, "Le nom de l'offre")
    if option not in OPTION_RULES:
        raise OfferEditRefused("Type d'offre inconnu.")
    if session.scalar(select(Offer.id).where(Offer.provider_id == provider_id, Offer.owner_id.is_(None),
                                             Offer.name.ilike(name))) is not None:
        raise OfferEditRefused(f"{provider.name} a déjà une offre « {name} ».")
    rule = OPTION_RULES[option]
    source = rule.offpeak_sources[0]
    code = _free_code(session, Offer, _code(f"{provider.code}_{name}", 48), 48)
    offer = Offer(code=code, provider_id=provider_id, name=name, option=option, offpeak_source=source,
                  offpeak_hours=rule.offpeak_hours if source == "offer" else None, day_calendar=rule.day_calendar)
    session.add(offer)
    session.flush()
    record(session, "admin.offer.created", actor_id=actor_id, target=f"offer:{offer.id}", ip=ip,
           after=_offer_state(offer), **({"contribution": contribution_id} if contribution_id else {}))
    return offer


def rename_offer(session: Session, offer_id: int, name: str, *, actor_id: int | None, ip: str | None,
                 contribution_id: int | None = None) -> Offer:
    """Change an offer's name; its prices stay exactly as they are."""
    offer = catalogue_offer(session, offer_id)
    name = check_name(name, "Le nouveau nom")
    if name == offer.name:
        raise OfferEditRefused("C'est déjà le nom de l'offre.")
    before = _offer_state(offer)
    offer.name = name
    session.flush()
    record(session, "admin.offer.renamed", actor_id=actor_id, target=f"offer:{offer.id}", ip=ip, before=before,
           after=_offer_state(offer), **({"contribution": contribution_id} if contribution_id else {}))
    return offer


def catalogue_offer(session: Session, offer_id: int) -> Offer:
    offer = session.scalar(select(Offer).where(Offer.id == offer_id, Offer.owner_id.is_(None)))
    if offer is None:
        raise OfferEditRefused("Offre inconnue.")
    return offer


# -- prices ------------------------------------------------------------------------------------------


def latest_periods(session: Session, offer_id: int, *, lock: bool = False) -> dict[int, OfferPrice]:
    """The latest price period of each kVA of an offer (locked FOR UPDATE when `lock`)."""
    query = select(OfferPrice).where(OfferPrice.offer_id == offer_id).order_by(OfferPrice.kva, OfferPrice.valid_from)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return {row.kva: row for row in session.scalars(query)}


def _period_state(row: OfferPrice) -> dict:
    return {"id": row.id, "kva": row.kva, "valid_from": row.valid_from.isoformat(),
            "valid_to": row.valid_to.isoformat() if row.valid_to else None,
            "fixed_eur_month": str(row.fixed_eur_month), "energy": {b: str(v) for b, v in row.energy.items()}}


def add_prices(session: Session, offer_id: int, valid_from: date, entries: list[PriceEntry], *, status: str,
               sources: list[str], notes: str = "", actor_id: int | None, ip: str | None,
               contribution_id: int | None = None) -> list[OfferPrice]:
    """New price periods from `valid_from` for each entry's kVA; each closes the period of that offer and kVA
    in force before it (never another offer's, never another kVA's). Audited as one action."""
    offer = catalogue_offer(session, offer_id)
    entries = check_entries(offer.option, entries)
    check_day(valid_from)
    if status not in CATALOGUE_STATUSES:
        raise OfferEditRefused("Niveau de confiance inconnu.")
    sources = [s.strip()[:MAX_SOURCE] for s in sources if s and s.strip()]
    if not sources:
        raise OfferEditRefused("Indiquez la source de ces prix (le lien de la grille tarifaire).")
    latest = latest_periods(session, offer.id, lock=True)
    closed, added = [], []
    for entry in entries:
        previous = latest.get(entry.kva)
        if previous is not None and valid_from <= previous.valid_from:
            raise OfferEditRefused(
                f"À {entry.kva} kVA, la période en vigueur commence le {previous.valid_from:%d/%m/%Y} : un nouveau "
                f"prix commence après cette date (l'historique ne se réécrit pas).")
        if previous is not None and (previous.valid_to is None or previous.valid_to > valid_from):
            before = _period_state(previous)
            previous.valid_to = valid_from
            closed.append({"before": before, "valid_to": valid_from.isoformat()})
        price = OfferPrice(offer_id=offer.id, kva=entry.kva, valid_from=valid_from, valid_to=None,
                           fixed_eur_month=entry.fixed_eur_month, status=status, sources=sources, notes=notes[:2000])
        price.set_energy(entry.energy)
        session.add(price)
        added.append(price)
    # The closing and the opening pass through no overlap, but the constraint is checked after both anyway.
    session.execute(text("SET CONSTRAINTS ex_offer_prices_no_overlap DEFERRED"))
    session.flush()
    session.execute(text("SET CONSTRAINTS ex_offer_prices_no_overlap IMMEDIATE"))
    record(session, "admin.offer.prices_added", actor_id=actor_id, target=f"offer:{offer.id}", ip=ip,
           before={"closed": closed} if closed else None, after={"added": [_period_state(p) for p in added]},
           status=status, sources=sources, **({"contribution": contribution_id} if contribution_id else {}))
    return added
