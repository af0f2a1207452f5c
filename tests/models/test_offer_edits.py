"""The one service that changes the catalogue: new prices close the previous period of that offer and kVA only,
a rename never touches a price, values are checked per field with French messages, every change is audited."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from factories import make_user
from models import offer_edits
from models.audit import AuditLog
from models.offer_catalogue import load_catalogue
from models.offer_edits import OfferEditRefused, PriceEntry
from models.offers import Offer, OfferPrice, Provider

HC_6 = PriceEntry(6, Decimal("16.10"), {"hp": Decimal("0.2100"), "hc": Decimal("0.1600")})
HC_9 = PriceEntry(9, Decimal("20.05"), {"hp": Decimal("0.2100"), "hc": Decimal("0.1600")})
AUG = date(2026, 8, 1)


def offer(session, code: str) -> Offer:
    return session.scalar(select(Offer).where(Offer.code == code))


def periods(session, offer_id: int) -> list[tuple]:
    session.expire_all()
    return [(p.kva, p.valid_from, p.valid_to, p.fixed_eur_month, p.energy) for p in session.scalars(
        select(OfferPrice).where(OfferPrice.offer_id == offer_id).order_by(OfferPrice.kva, OfferPrice.valid_from))]


def audit(session, action: str) -> list[AuditLog]:
    """The audit rows of `action` written in this test's transaction (not those a committing test left)."""
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action, AuditLog.created_at >= func.transaction_timestamp())
                                .order_by(AuditLog.id)))


@pytest.fixture
def actor(session):
    return make_user(session, "moderator@example.org", roles=("moderator",))


def test_new_prices_close_the_previous_period_of_that_offer_and_kva_only(session, actor):
    hc = offer(session, "EDF_TRV_HC_HP")
    others = {code: periods(session, offer(session, code).id)
              for code in ("EDF_TRV_BASE", "EDF_TRV_TEMPO", "EDF_ZEN_WEEKEND_HC")}
    before = periods(session, hc.id)

    added = offer_edits.add_prices(session, hc.id, AUG, [HC_9, HC_6], status="single_source",
                                   sources=["https://example.org/grille.pdf"], actor_id=actor.id, ip="192.0.2.1")

    assert [(p.kva, p.valid_from, p.valid_to) for p in added] == [(6, AUG, None), (9, AUG, None)]
    after = periods(session, hc.id)
    for kva, first, until, fixed, energy in before:
        if kva in (6, 9) and until is None:  # the period in force is closed the day the new one starts, kept
            assert (kva, first, AUG, fixed, energy) in after
        else:  # history and the other powers: untouched
            assert (kva, first, until, fixed, energy) in after
    assert (6, AUG, None, Decimal("16.10"), {"hp": Decimal("0.2100"), "hc": Decimal("0.1600")}) in after
    assert len(after) == len(before) + 2
    assert {code: periods(session, offer(session, code).id) for code in others} == others  # same provider, untouched

    [row] = audit(session, "admin.offer.prices_added")
    assert (row.actor_id, row.target, row.ip_address) == (actor.id, f"offer:{hc.id}", "192.0.2.1")
    assert sorted(c["before"]["kva"] for c in row.before["closed"]) == [6, 9]
    assert all(c["valid_to"] == AUG.isoformat() for c in row.before["closed"])
    assert [a["kva"] for a in row.after["added"]] == [6, 9]
    assert row.details["sources"] == ["https://example.org/grille.pdf"]


def test_history_is_never_rewritten(session, actor):
    hc = offer(session, "EDF_TRV_HC_HP")
    before = periods(session, hc.id)
    for first in (date(2026, 2, 1), date(2025, 9, 1)):  # the day the period in force starts, or before it
        with pytest.raises(OfferEditRefused, match="l'historique ne se réécrit pas"):
            offer_edits.add_prices(session, hc.id, first, [HC_6], status="single_source", sources=["s"],
                                   actor_id=actor.id, ip=None)
    assert periods(session, hc.id) == before and audit(session, "admin.offer.prices_added") == []


def test_the_catalogue_load_keeps_a_period_the_admin_closed(session, actor):
    """`releve db upgrade` loads the files again: it must not reopen what a later price closed."""
    hc = offer(session, "EDF_TRV_HC_HP")
    offer_edits.add_prices(session, hc.id, AUG, [HC_6], status="single_source", sources=["s"], actor_id=actor.id,
                           ip=None)
    before = periods(session, hc.id)
    report = load_catalogue(session)
    assert periods(session, hc.id) == before and report.not_in_files == [f"EDF_TRV_HC_HP 6 kVA from {AUG}"]


def test_a_rename_never_touches_a_price(session, actor):
    base = offer(session, "EDF_TRV_BASE")
    before = periods(session, base.id)
    offer_edits.rename_offer(session, base.id, "Tarif Bleu Base", actor_id=actor.id, ip=None)
    assert offer(session, "EDF_TRV_BASE").name == "Tarif Bleu Base" and periods(session, base.id) == before
    [row] = audit(session, "admin.offer.renamed")
    assert (row.before["name"], row.after["name"]) == ("Tarif Bleu – Base", "Tarif Bleu Base")


def test_providers_and_offers_are_created_with_codes_and_audited(session, actor):
    provider = offer_edits.create_provider(session, "Électricité Ünie", "https://example.org", actor_id=actor.id, ip=None)
    assert provider.code == "ELECTRICITE_UNIE"
    with pytest.raises(OfferEditRefused, match="existe déjà"):
        offer_edits.create_provider(session, "électricité ünie", actor_id=actor.id, ip=None)
    flex = offer_edits.create_offer(session, provider.id, "Flex", "ZEN_FLEX", actor_id=actor.id, ip=None)
    assert (flex.code, flex.offpeak_source, flex.day_calendar) == ("ELECTRICITE_UNIE_FLEX", "offer", "sobriete")
    assert [r.target for r in audit(session, "admin.provider.created")] == [f"provider:{provider.id}"]
    assert [r.after["option"] for r in audit(session, "admin.offer.created")] == ["ZEN_FLEX"]
    assert session.get(Provider, provider.id).website == "https://example.org"


@pytest.mark.parametrize("entry, message", [
    (PriceEntry(6, Decimal("15.65"), {"hp": Decimal("7"), "hc": Decimal("0.1579")}),
     "Prix du kWh « Heures pleines » à 6 kVA : 7 € par kWh est hors de la plage admise (0,01 à 2 € TTC par kWh). "
     "Les prix s'écrivent en euros (0,2065), pas en centimes (20,65)."),
    (PriceEntry(6, Decimal("15.65"), {"hp": Decimal("20.65"), "hc": Decimal("0.1579")}), "pas en centimes"),
    (PriceEntry(6, Decimal("15.65"), {"hp": Decimal("0.001"), "hc": Decimal("0.1579")}), "hors de la plage admise"),
    (PriceEntry(6, Decimal("2400"), {"hp": Decimal("0.2065"), "hc": Decimal("0.1579")}), "par mois, pas par an"),
    (PriceEntry(6, Decimal("15.65"), {"base": Decimal("0.2065")}), "exactement les prix du kWh de cette option"),
    (PriceEntry(7, Decimal("15.65"), {"hp": Decimal("0.2065"), "hc": Decimal("0.1579")}), "Puissance souscrite inconnue"),
    (PriceEntry(6, Decimal("15.65"), {"hp": Decimal("0.2065001"), "hc": Decimal("0.1579")}), "6 décimales au plus"),
])
def test_values_are_checked_per_field_in_french(entry, message):
    with pytest.raises(OfferEditRefused) as refused:
        offer_edits.check_entries("HC_HP", [entry])
    assert message in refused.value.message


@pytest.mark.parametrize("raw, value", [("0,2065", Decimal("0.2065")), (" 15.65 € ", Decimal("15.65")),
                                        ("12", Decimal("12"))])
def test_amounts_are_read_as_typed(raw, value):
    assert offer_edits.parse_amount(raw, "Prix") == value


@pytest.mark.parametrize("raw", ["1e3", "NaN", "-1", "0,2,3", "١٢", "9" * 30, "", "0.1234567"])
def test_unreadable_amounts_are_refused_in_french(raw):
    with pytest.raises(OfferEditRefused, match="n'est pas un montant"):
        offer_edits.parse_amount(raw, "Prix")
