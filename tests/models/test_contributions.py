"""Contributions: the state machine, its audit rows, and the one approval service (single and bulk) that creates
the right price periods, closing the previous ones of that same offer only."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from factories import make_user
from models import contributions as contrib
from models.audit import AuditLog
from models.contributions import (
    APPROVED, NEEDS_INFO, PENDING, REJECTED, WITHDRAWN, Contribution, ContributionRefused, Proposal,
)
from models.offer_edits import OfferEditRefused, PriceEntry
from models.offers import Offer, OfferPrice, Provider

SHEET = "https://example.org/grille-2026-08.pdf"
AUG = date(2026, 8, 1)


def offer(session, code: str) -> Offer:
    return session.scalar(select(Offer).where(Offer.code == code))


def periods(session, offer_id: int) -> list[tuple]:
    session.expire_all()
    return [(p.kva, p.valid_from, p.valid_to, p.fixed_eur_month, p.energy, p.status, tuple(p.sources))
            for p in session.scalars(select(OfferPrice).where(OfferPrice.offer_id == offer_id)
                                     .order_by(OfferPrice.kva, OfferPrice.valid_from))]


def audit(session, *where):
    """The audit rows matching `where` written in this test's transaction (not those a committing test left)."""
    return list(session.scalars(select(AuditLog).where(AuditLog.created_at >= func.transaction_timestamp(), *where).order_by(AuditLog.id)))


def trail(session, contribution_id: int) -> list[tuple]:
    return [(r.action, (r.before or {}).get("status"), (r.after or {}).get("status"))
            for r in audit(session, AuditLog.target == contrib.target(contribution_id))]


@pytest.fixture
def people(session):
    return (make_user(session, "author@example.org"), make_user(session, "moderator@example.org", roles=("moderator",)),
            make_user(session, "other@example.org"))


def price_change(session, author, code="EDF_TRV_HC_HP", kvas=(6, 9), hp="0.2150") -> Contribution:
    entries = [PriceEntry(kva, Decimal(15 + kva), {"hp": Decimal(hp), "hc": Decimal("0.1650")}) for kva in kvas]
    return contrib.submit(session, author.id, Proposal("price_change", SHEET, offer_id=offer(session, code).id,
                                                       valid_from=AUG, prices=entries), ip="192.0.2.7")


# -- the state machine ------------------------------------------------------------------------------


def test_question_answer_then_approval_each_audited(session, people):
    author, moderator, _ = people
    row = price_change(session, author)
    assert (row.status, row.kind, row.price_sheet_url) == (PENDING, "price_change", SHEET)

    contrib.ask(session, row.id, "Où voyez-vous 0,2150 ?", actor_id=moderator.id, ip=None)
    assert row.status == NEEDS_INFO
    contrib.answer(session, author.id, row.id, "Page 2 de la grille.", ip=None)
    assert row.status == PENDING
    result = contrib.approve(session, [row.id], actor_id=moderator.id, ip=None)
    assert result.approved == [row.id] and result.refused == {}
    assert (row.status, row.reviewed_by_id) == (APPROVED, moderator.id) and row.reviewed_at is not None
    assert [(m.from_moderator, m.body) for m in row.messages] == [(True, "Où voyez-vous 0,2150 ?"),
                                                                   (False, "Page 2 de la grille.")]
    assert trail(session, row.id) == [
        ("contribution.submitted", None, PENDING),
        ("admin.contribution.info_requested", PENDING, NEEDS_INFO),
        ("contribution.answered", NEEDS_INFO, PENDING),
        ("admin.contribution.approved", PENDING, APPROVED),
    ]


@pytest.mark.parametrize("first", ["approve", "reject", "withdraw"])
def test_a_decided_or_withdrawn_contribution_never_moves_again(session, people, first):
    author, moderator, _ = people
    row = price_change(session, author)
    moves = {
        "approve": lambda: contrib.approve(session, [row.id], actor_id=moderator.id, ip=None),
        "reject": lambda: contrib.reject(session, row.id, "Grille introuvable.", actor_id=moderator.id, ip=None),
        "withdraw": lambda: contrib.withdraw(session, author.id, row.id, ip=None),
        "ask": lambda: contrib.ask(session, row.id, "Question ?", actor_id=moderator.id, ip=None),
        "answer": lambda: contrib.answer(session, author.id, row.id, "Réponse.", ip=None),
    }
    moves[first]()
    final = row.status
    assert final == {"approve": APPROVED, "reject": REJECTED, "withdraw": WITHDRAWN}[first]
    before = periods(session, offer(session, "EDF_TRV_HC_HP").id)
    for name, move in moves.items():
        if name == "approve":
            assert contrib.approve(session, [row.id], actor_id=moderator.id, ip=None).approved == []
        else:
            with pytest.raises(ContributionRefused, match="plus rien à y faire"):
                move()
    assert row.status == final and periods(session, offer(session, "EDF_TRV_HC_HP").id) == before


def test_only_the_author_answers_or_withdraws(session, people):
    author, moderator, other = people
    row = price_change(session, author)
    contrib.ask(session, row.id, "Question ?", actor_id=moderator.id, ip=None)
    for move in (lambda: contrib.answer(session, other.id, row.id, "Moi !", ip=None),
                 lambda: contrib.withdraw(session, other.id, row.id, ip=None)):
        with pytest.raises(ContributionRefused, match="introuvable"):
            move()
    assert row.status == NEEDS_INFO
    contrib.withdraw(session, author.id, row.id, ip=None)
    assert row.status == WITHDRAWN and row.reviewed_at is None
    assert trail(session, row.id)[-1] == ("contribution.withdrawn", NEEDS_INFO, WITHDRAWN)


def test_a_rejection_keeps_its_reason_for_the_author(session, people):
    author, moderator, _ = people
    row = price_change(session, author)
    contrib.reject(session, row.id, "Ces prix sont ceux d'une autre offre.", actor_id=moderator.id, ip="192.0.2.9")
    assert row.status == REJECTED and row.messages[-1].body == "Ces prix sont ceux d'une autre offre."
    [row] = audit(session, AuditLog.action == "admin.contribution.rejected")
    assert (row.actor_id, row.ip_address) == (moderator.id, "192.0.2.9")


# -- proposals are checked when made ---------------------------------------------------------------------


@pytest.mark.parametrize("proposal, message", [
    (dict(price_sheet_url=""), "Le lien vers la grille tarifaire est obligatoire."),
    (dict(price_sheet_url="javascript:alert(1)"), "adresse http(s)"),
    (dict(prices=[PriceEntry(6, Decimal("15.65"), {"hp": Decimal("7"), "hc": Decimal("0.16")})]),
     "7 € par kWh est hors de la plage admise"),
    (dict(valid_from=None), "date d'entrée en vigueur"),
    (dict(offer_id=None), "Choisissez l'offre"),
])
def test_a_proposal_that_does_not_hold_is_refused_in_french(session, people, proposal, message):
    author = people[0]
    values = dict(kind="price_change", price_sheet_url=SHEET, offer_id=offer(session, "EDF_TRV_HC_HP").id,
                  valid_from=AUG, prices=[PriceEntry(6, Decimal("15.65"), {"hp": Decimal("0.21"), "hc": Decimal("0.16")})])
    values.update(proposal)
    with pytest.raises(OfferEditRefused) as refused:
        contrib.submit(session, author.id, Proposal(**values), ip=None)
    assert message in refused.value.message
    assert session.scalar(select(Contribution.id)) is None


# -- the one approval service ---------------------------------------------------------------------------


def test_approving_a_price_change_creates_the_periods_and_closes_those_of_that_offer_only(session, people):
    author, moderator, _ = people
    hc = offer(session, "EDF_TRV_HC_HP")
    before = periods(session, hc.id)
    # Same provider, same kind of option (MyElectricalData closed every offer of provider + type): untouched.
    siblings = {code: periods(session, offer(session, code).id) for code in ("EDF_ZEN_WEEKEND_HC", "EDF_TRV_BASE")}
    row = price_change(session, author)

    contrib.approve(session, [row.id], actor_id=moderator.id, ip=None)

    after = periods(session, hc.id)
    new = [p for p in after if p[1] == AUG]
    assert new == [(6, AUG, None, Decimal("21"), {"hp": Decimal("0.2150"), "hc": Decimal("0.1650")}, "single_source",
                    (SHEET,)),
                   (9, AUG, None, Decimal("24"), {"hp": Decimal("0.2150"), "hc": Decimal("0.1650")}, "single_source",
                    (SHEET,))]
    closed = [p for p in before if p[0] in (6, 9) and p[2] is None]
    assert [(p[0], p[1]) for p in closed] == [(6, date(2026, 2, 1)), (9, date(2026, 2, 1))]
    assert all((*p[:2], AUG, *p[3:]) in after for p in closed)  # closed the day the new ones start, figures kept
    untouched = [p for p in before if p not in closed]
    assert all(p in after for p in untouched) and len(after) == len(before) + 2
    assert {code: periods(session, offer(session, code).id) for code in siblings} == siblings
    [approved] = audit(session, AuditLog.action == "admin.contribution.approved")
    made = approved.details["made"]
    assert made["offer_id"] == hc.id and len(made["periods"]) == 2
    [edit] = audit(session, AuditLog.action == "admin.offer.prices_added")
    assert (edit.actor_id, edit.details["contribution"]) == (moderator.id, row.id)


def test_bulk_approval_is_the_same_service_and_reports_what_it_could_not_apply(session, people):
    author, moderator, _ = people
    first = price_change(session, author, kvas=(6,))
    rename = contrib.submit(session, author.id, Proposal("rename_offer", SHEET, name="Tarif Bleu – Tempo (TRV)",
                                                         offer_id=offer(session, "EDF_TRV_TEMPO").id), ip=None)
    tempo_prices = periods(session, offer(session, "EDF_TRV_TEMPO").id)
    clash = price_change(session, author, kvas=(6,), hp="0.2200")  # same offer, kVA and day as `first`

    result = contrib.approve(session, [clash.id, rename.id, first.id], actor_id=moderator.id, ip=None)

    assert result.approved == [first.id, rename.id]
    assert "la période en vigueur commence le 01/08/2026" in result.refused[clash.id]
    assert (first.status, rename.status, clash.status) == (APPROVED, APPROVED, PENDING)  # the refused one is untouched
    assert offer(session, "EDF_TRV_TEMPO").name == "Tarif Bleu – Tempo (TRV)"
    assert periods(session, offer(session, "EDF_TRV_TEMPO").id) == tempo_prices  # a rename never touches prices
    hc6 = [p for p in periods(session, offer(session, "EDF_TRV_HC_HP").id) if p[0] == 6 and p[1] == AUG]
    assert [p[4]["hp"] for p in hc6] == [Decimal("0.2150")]


def test_approving_a_new_provider_then_its_offer(session, people):
    author, moderator, _ = people
    provider_row = contrib.submit(session, author.id, Proposal("new_provider", SHEET, name="Volt Coopérative",
                                                               website="https://volt.example.org"), ip=None)
    contrib.approve(session, [provider_row.id], actor_id=moderator.id, ip=None)
    provider = session.scalar(select(Provider).where(Provider.name == "Volt Coopérative"))
    assert provider is not None and provider.code == "VOLT_COOPERATIVE"

    entries = [PriceEntry(6, Decimal("14.90"), {"base": Decimal("0.1899")}),
               PriceEntry(9, Decimal("18.70"), {"base": Decimal("0.1899")})]
    offer_row = contrib.submit(session, author.id, Proposal("new_offer", SHEET, name="Base verte", provider_id=provider.id,
                                                            option="BASE", valid_from=AUG, prices=entries), ip=None)
    contrib.approve(session, [offer_row.id], actor_id=moderator.id, ip=None)
    created = session.scalar(select(Offer).where(Offer.provider_id == provider.id))
    assert (created.name, created.option, offer_row.offer_id) == ("Base verte", "BASE", created.id)
    assert [(p[0], p[1], p[2], p[3]) for p in periods(session, created.id)] == [(6, AUG, None, Decimal("14.90")),
                                                                                 (9, AUG, None, Decimal("18.70"))]


def test_the_moderator_sees_a_diff_against_the_current_offer(session, people):
    author = people[0]
    row = price_change(session, author, kvas=(6,))
    lines = {line.what: line for line in contrib.diff(session, row)}
    fixed = lines["6 kVA · abonnement (€/mois)"]
    assert (fixed.current, fixed.proposed, fixed.change) == ("15,65", "21", "+34,2 %")
    hp = lines["6 kVA · Heures pleines (€/kWh)"]
    assert (hp.current, hp.proposed, hp.change) == ("0,2065", "0,215", "+4,1 %")
    assert lines["6 kVA · période actuelle"].current == "depuis le 01/02/2026"
    rename = contrib.submit(session, author.id, Proposal("rename_offer", SHEET, name="Base (TRV)",
                                                         offer_id=offer(session, "EDF_TRV_BASE").id), ip=None)
    [line] = contrib.diff(session, rename)
    assert (line.current, line.proposed) == ("Tarif Bleu – Base", "Base (TRV)") and "les prix ne changent pas" in line.change
