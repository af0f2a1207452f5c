"""`/edf/tempo/price`: the Tempo prices in force, from Relevé's offer catalogue (EDF's regulated Tempo offer)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from models.offers import Offer, OfferPrice

TEMPO_OFFER = "EDF_TRV_TEMPO"  # the catalogue's code (models/data/offers/catalogue.json)
KVA = 6  # Tempo's kWh prices are the same at every power; 6 kVA is the most common subscription


def _fr(value) -> str:
    return f"{value:.4f}".replace(".", ",")  # the import client accepts (and MED sent) comma decimals


def tempo_prices(session: Session, day: date) -> dict[str, str] | None:
    """`{"blue_hc": "0,1288", "blue_hp": …, "red_hp": …}` (€ TTC per kWh) on `day`; None when none is in force."""
    row = session.scalar(
        select(OfferPrice).join(Offer, Offer.id == OfferPrice.offer_id)
        .where(Offer.code == TEMPO_OFFER, OfferPrice.kva == KVA, OfferPrice.valid_from <= day,
               or_(OfferPrice.valid_to.is_(None), OfferPrice.valid_to > day))
        .options(selectinload(OfferPrice.energy_rows)))
    if row is None:
        return None
    out = {}
    for colour in ("blue", "white", "red"):
        for part in ("hc", "hp"):
            energy = row.energy_rows.get(f"tempo_{colour}_{part}")
            if energy is not None:
                out[f"{colour}_{part}"] = _fr(energy.eur_kwh)
    return out or None
