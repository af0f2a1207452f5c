"""The offer catalogue kept in the project (`models/data/offers/`), loaded into PostgreSQL.

`catalogue.json` names the providers and offers (by code) and the price files; each price file
is a list of rows as ../shared/reference/tariffs/edf-tarif-bleu.json writes them (copied
verbatim: the figures keep their sources and status). Loading is idempotent: providers, offers
and price periods are matched by code and (offer, kVA, first day), added when missing, changed
when the file says otherwise (except a period the database has closed: a later price came from the
admin area or a contribution, and it stays closed), never removed (what is in the database and not in the files is
reported). Prices are read as `Decimal` straight from the JSON text, never through a float.

A row of the file says `valid_to` for its last day (inclusive); the database keeps
`[valid_from, valid_to)`, so the day after is stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, selectinload

from models.offers import (
    KVA_VALUES, MAX_EUR_KWH, MAX_FIXED_EUR_MONTH, OPTION_RULES, PRICE_STATUSES, Offer, OfferPrice, Provider,
)


class CatalogueError(ValueError):
    """The catalogue files say something the schema cannot hold (a bug in the files: nothing is loaded)."""


@dataclass(frozen=True)
class PriceRow:
    offer: str
    kva: int
    valid_from: date
    valid_to: date | None  # exclusive
    fixed_eur_month: Decimal
    fixed_eur_year_cre: Decimal | None
    energy: dict[str, Decimal]
    status: str
    sources: tuple[str, ...]
    notes: str

    @property
    def label(self) -> str:
        return f"{self.offer} {self.kva} kVA from {self.valid_from}"


@dataclass
class Catalogue:
    providers: list[dict[str, Any]]
    offers: list[dict[str, Any]]
    prices: list[PriceRow]


@dataclass
class LoadReport:
    """What a load added and changed (labels), and what the database holds that the files do not."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    not_in_files: list[str] = field(default_factory=list)

    @property
    def touched(self) -> bool:
        return bool(self.added or self.changed)

    def lines(self) -> list[str]:
        out = [f"added: {label}" for label in self.added] + [f"changed: {label}" for label in self.changed]
        out += [f"in the database, not in the files (kept): {label}" for label in self.not_in_files]
        out.append(f"{len(self.added)} added, {len(self.changed)} changed, {self.unchanged} unchanged")
        return out


def data_dir() -> Path:
    return Path(str(files("models") / "data" / "offers"))


def _decimal(value: Any, where: str, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise CatalogueError(f"{where}: {name} must be a number, not {value!r}")
    return Decimal(value)


def _row(item: dict[str, Any], where: str, options: dict[str, str]) -> PriceRow:
    code = item.get("offer")
    if code not in options:
        raise CatalogueError(f"{where}: offer {code!r} is not in catalogue.json")
    kva = item.get("kva")
    if kva not in KVA_VALUES:
        raise CatalogueError(f"{where}: kva {kva!r} is not one of {KVA_VALUES}")
    try:
        first = date.fromisoformat(item["valid_from"])
        last = date.fromisoformat(item["valid_to"]) if item.get("valid_to") else None
    except (KeyError, TypeError, ValueError):
        raise CatalogueError(f"{where}: valid_from / valid_to must be YYYY-MM-DD") from None
    if last is not None and last < first:
        raise CatalogueError(f"{where}: valid_to is before valid_from")
    fixed = _decimal(item.get("subscription_eur_month"), where, "subscription_eur_month")
    if not 0 <= fixed < MAX_FIXED_EUR_MONTH:
        raise CatalogueError(f"{where}: subscription_eur_month {fixed} is out of range")
    cre = item.get("subscription_eur_year_cre")
    cre = _decimal(cre, where, "subscription_eur_year_cre") if cre is not None else None
    prices = item.get("prices") or {}
    buckets = OPTION_RULES[options[code]].buckets
    if set(prices) != set(buckets):
        raise CatalogueError(f"{where}: prices {sorted(prices)} are not the buckets of {options[code]} {sorted(buckets)}")
    energy = {b: _decimal(prices[b], where, b) for b in buckets}
    if not all(0 < v < MAX_EUR_KWH for v in energy.values()):
        raise CatalogueError(f"{where}: an energy price is out of range")
    status = item.get("status")
    if status not in PRICE_STATUSES or status == "household":
        raise CatalogueError(f"{where}: unknown status {status!r}")
    sources = item.get("source") or []
    if not sources or not all(isinstance(s, str) and s for s in sources):
        raise CatalogueError(f"{where}: every row names its sources")
    return PriceRow(code, kva, first, last + timedelta(days=1) if last else None, fixed, cre, energy, status,
                    tuple(sources), item.get("notes") or "")


def read_catalogue(directory: Path | None = None) -> Catalogue:
    """Read and check the files (CatalogueError names the file and row of any problem)."""
    directory = directory or data_dir()
    main = json.loads((directory / "catalogue.json").read_text(encoding="utf-8"))
    providers = main.get("providers") or []
    known_providers = {p["code"] for p in providers}
    options = {}
    for offer in main.get("offers") or []:
        if offer.get("option") not in OPTION_RULES:
            raise CatalogueError(f"catalogue.json: offer {offer.get('code')!r} has an unknown option")
        if offer.get("provider") not in known_providers:
            raise CatalogueError(f"catalogue.json: offer {offer.get('code')!r} names an unknown provider")
        options[offer["code"]] = offer["option"]
    prices, seen = [], set()
    for entry in main.get("price_files") or []:
        name = entry["file"]
        rows = json.loads((directory / name).read_text(encoding="utf-8"), parse_float=Decimal)
        for i, item in enumerate(rows):
            row = _row(item, f"{name} row {i}", options)
            key = (row.offer, row.kva, row.valid_from)
            if key in seen:
                raise CatalogueError(f"{name} row {i}: {row.label} appears twice")
            seen.add(key)
            prices.append(row)
    return Catalogue(providers, main.get("offers") or [], prices)


def _offer_fields(item: dict[str, Any], provider_id: int) -> dict[str, Any]:
    rule = OPTION_RULES[item["option"]]
    source = item.get("offpeak_source") or rule.offpeak_sources[0]
    if source not in rule.offpeak_sources:
        raise CatalogueError(f"catalogue.json: offer {item['code']}: off-peak hours cannot come from {source!r}")
    hours = (item.get("offpeak_hours") or rule.offpeak_hours) if source == "offer" else None
    return {"provider_id": provider_id, "name": item["name"], "option": item["option"], "offpeak_source": source,
            "offpeak_hours": hours, "day_calendar": rule.day_calendar,
            "holidays_as_weekend": bool(item.get("holidays_as_weekend", False)),
            "open_to_new_customers": bool(item.get("open_to_new_customers", True)), "notes": item.get("notes") or ""}


def _apply(row: object, values: dict[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _sync(session: Session, report: LoadReport, rows: dict[str, Any], model: type, code: str,
          values: dict[str, Any]) -> None:
    """Add the row of that code, or bring it in line with `values`; say which (then flush, for its id)."""
    row = rows.get(code)
    if row is None:
        rows[code] = model(code=code, **values)
        session.add(rows[code])
        report.added.append(f"{model.__tablename__[:-1]} {code}")
    elif _apply(row, values):
        report.changed.append(f"{model.__tablename__[:-1]} {code}")
    session.flush()


def load_catalogue(session: Session, directory: Path | None = None) -> LoadReport:
    """Bring the database in line with the catalogue files (idempotent), in the caller's transaction."""
    catalogue = read_catalogue(directory)
    report = LoadReport()
    # Closing one period and opening the next may pass through an overlap: checked once, at the end.
    session.execute(text("SET CONSTRAINTS ex_offer_prices_no_overlap DEFERRED"))

    providers = {p.code: p for p in session.scalars(select(Provider))}
    for item in catalogue.providers:
        _sync(session, report, providers, Provider, item["code"],
              {"name": item["name"], "website": item.get("website") or ""})
    offers = {o.code: o for o in session.scalars(select(Offer).where(Offer.code.is_not(None)))}
    for item in catalogue.offers:
        _sync(session, report, offers, Offer, item["code"], _offer_fields(item, providers[item["provider"]].id))

    by_id = {o.id: code for code, o in offers.items()}
    existing = {(by_id[p.offer_id], p.kva, p.valid_from): p for p in session.scalars(
        select(OfferPrice).where(OfferPrice.offer_id.in_(by_id)).options(selectinload(OfferPrice.energy_rows)))}
    for row in catalogue.prices:
        values = {"valid_to": row.valid_to, "fixed_eur_month": row.fixed_eur_month,
                  "fixed_eur_year_cre": row.fixed_eur_year_cre, "status": row.status, "sources": list(row.sources),
                  "notes": row.notes}
        price = existing.pop((row.offer, row.kva, row.valid_from), None)
        if price is not None and row.valid_to is None and price.valid_to is not None:
            # The files leave it open, the database closed it: a later price came from the admin area or a
            # contribution (models.offer_edits). History is kept: the load never reopens it.
            values["valid_to"] = price.valid_to
        if price is None:
            price = OfferPrice(offer_id=offers[row.offer].id, kva=row.kva, valid_from=row.valid_from, **values)
            price.set_energy(row.energy)
            session.add(price)
            report.added.append(row.label)
            continue
        changed = _apply(price, values)
        if price.energy != row.energy:
            price.set_energy(row.energy)
            changed = True
        if changed:
            report.changed.append(row.label)
        else:
            report.unchanged += 1
    report.not_in_files = sorted(f"{code} {kva} kVA from {first}" for code, kva, first in existing)
    session.flush()
    session.execute(text("SET CONSTRAINTS ex_offer_prices_no_overlap IMMEDIATE"))  # overlaps fail here, named
    return report
