"""A household's own offers: its supplier's prices, seen by its account only, compared like any other.

Every function takes the owner's user id and looks rows up by id AND owner: another account's
offer is "not found", exactly like one that does not exist. They work in the caller's session
and never commit (views and the CLI own the transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from models.offers import (
    FIRST_VALID_DAY, KVA_VALUES, LAST_VALID_DAY, MAX_EUR_KWH, MAX_FIXED_EUR_MONTH, OPTION_RULES, Offer, OfferPrice,
)

# Options a household can describe with prices alone (SEASONAL needs season rules no source gives yet).
HOUSEHOLD_OPTIONS = ("BASE", "HC_HP", "TEMPO", "EJP", "BASE_WEEKEND", "HC_WEEKEND", "HC_NUIT_WEEKEND", "ZEN_FLEX")
MAX_OFFERS_PER_ACCOUNT = 20


class OfferRefused(ValueError):
    """What a household entered cannot be stored; the message is French, for the page."""


@dataclass(frozen=True)
class HouseholdOfferInput:
    name: str
    supplier_name: str
    option: str
    kva: int
    valid_from: date
    valid_to: date | None  # exclusive; None: still in force
    fixed_eur_month: Decimal
    energy: dict[str, Decimal]
    holidays_as_weekend: bool = False


def _check(entry: HouseholdOfferInput) -> None:
    if entry.option not in HOUSEHOLD_OPTIONS:
        raise OfferRefused("Type d'offre inconnu.")
    if not entry.name.strip() or len(entry.name) > 100 or len(entry.supplier_name) > 100:
        raise OfferRefused("Le nom de l'offre est obligatoire (100 caractères au plus).")
    if entry.kva not in KVA_VALUES:
        raise OfferRefused("Puissance souscrite inconnue.")
    if not FIRST_VALID_DAY <= entry.valid_from < LAST_VALID_DAY:
        raise OfferRefused("Date de début hors limites.")
    if entry.valid_to is not None and not entry.valid_from < entry.valid_to <= LAST_VALID_DAY:
        raise OfferRefused("La date de fin doit suivre la date de début.")
    if not 0 <= entry.fixed_eur_month < MAX_FIXED_EUR_MONTH:
        raise OfferRefused("Abonnement hors limites.")
    buckets = OPTION_RULES[entry.option].buckets
    if set(entry.energy) != set(buckets):
        raise OfferRefused("Il manque un prix du kWh pour ce type d'offre.")
    if not all(0 < value < MAX_EUR_KWH for value in entry.energy.values()):
        raise OfferRefused("Un prix du kWh est hors limites.")


def create_household_offer(session: Session, owner_id: int, entry: HouseholdOfferInput) -> Offer:
    """Store a household's offer with one price period (status "household"); OfferRefused on bad input."""
    _check(entry)
    count = session.scalar(select(func.count()).select_from(Offer).where(Offer.owner_id == owner_id))
    if count >= MAX_OFFERS_PER_ACCOUNT:
        raise OfferRefused(f"Au plus {MAX_OFFERS_PER_ACCOUNT} offres par compte : supprimez-en une d'abord.")
    rule = OPTION_RULES[entry.option]
    source = rule.offpeak_sources[0]
    offer = Offer(owner_id=owner_id, code=None, provider_id=None, name=entry.name.strip(),
                  supplier_name=entry.supplier_name.strip(), option=entry.option, offpeak_source=source,
                  offpeak_hours=rule.offpeak_hours if source == "offer" else None, day_calendar=rule.day_calendar,
                  holidays_as_weekend=entry.holidays_as_weekend and entry.option in ("BASE_WEEKEND", "HC_WEEKEND",
                                                                                     "HC_NUIT_WEEKEND"))
    price = OfferPrice(kva=entry.kva, valid_from=entry.valid_from, valid_to=entry.valid_to,
                       fixed_eur_month=entry.fixed_eur_month, status="household", sources=[], notes="")
    price.set_energy(entry.energy)
    offer.prices.append(price)
    session.add(offer)
    session.flush()
    return offer


def household_offers(session: Session, owner_id: int) -> list[Offer]:
    """The account's own offers with their price periods, oldest first."""
    return list(session.scalars(select(Offer).where(Offer.owner_id == owner_id)
                                .options(selectinload(Offer.prices).selectinload(OfferPrice.energy_rows))
                                .order_by(Offer.created_at, Offer.id)))


def household_offer(session: Session, owner_id: int, offer_id: int) -> Offer | None:
    """One of the account's own offers, or None (another account's offer is None too)."""
    return session.scalar(select(Offer).where(Offer.id == offer_id, Offer.owner_id == owner_id))


def delete_household_offer(session: Session, owner_id: int, offer_id: int) -> bool:
    """Delete one of the account's own offers (and its prices); False when it is not the account's."""
    offer = household_offer(session, owner_id, offer_id)
    if offer is None:
        return False
    session.delete(offer)
    session.flush()
    return True
