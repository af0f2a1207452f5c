"""The price table of an offer, as the admin area and the contribution pages both ask for it.

One row per subscribed power: the fixed part (€ TTC per month) and one € TTC per kWh figure per
bucket of the offer's option. Fields are named `fixed_<kVA>` and `<bucket>_<kVA>`; a row left
empty is skipped, a row half filled is an error. Values go through `models.offer_edits`, whose
checks (units, ranges) and French messages are the same for everyone.
"""

from __future__ import annotations

from flask import request

from models.costs.inputs import BUCKET_LABELS
from models.offer_edits import OfferEditRefused, PriceEntry, check_entries, parse_amount
from models.offers import KVA_VALUES, OPTION_RULES
from webapp.inputs import printable

MAX_FIELD = 20


def columns(option: str) -> list[tuple[str, str]]:
    """(bucket, French label) of an option's energy prices, in order."""
    return [(b, BUCKET_LABELS.get(b, b)) for b in OPTION_RULES[option].buckets]


def read_price_table(option: str) -> list[PriceEntry]:
    """The filled rows of the posted table, checked; OfferEditRefused (French) on the first problem."""
    buckets = OPTION_RULES[option].buckets
    entries = []
    for kva in KVA_VALUES:
        raw = {name: request.form.get(f"{name}_{kva}", "") for name in ("fixed", *buckets)}
        if any(len(v) > MAX_FIELD or not printable(v) for v in raw.values()):
            raise OfferEditRefused(f"À {kva} kVA, un montant est illisible.")
        if not any(v.strip() for v in raw.values()):
            continue
        if not all(v.strip() for v in raw.values()):
            raise OfferEditRefused(f"À {kva} kVA, remplissez l'abonnement et chaque prix du kWh, ou laissez la "
                                   f"ligne vide.")
        fixed = parse_amount(raw["fixed"], f"Abonnement à {kva} kVA")
        energy = {b: parse_amount(raw[b], f"{BUCKET_LABELS.get(b, b)} à {kva} kVA") for b in buckets}
        entries.append(PriceEntry(kva, fixed, energy))
    return check_entries(option, entries)


def posted_values() -> dict[str, str]:
    """What was typed in the table, to show it back with an error (short printable values only)."""
    return {k: v for k, v in request.form.items()
            if (k.startswith("fixed_") or "_" in k) and len(v) <= MAX_FIELD and printable(v)}
