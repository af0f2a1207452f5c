"""The admin pages Offres, Jours EJP et Sobriété and Contributions, and the user's Contribuer pages: each action does
what it says, writes its audit row in the same transaction, and refuses bad input in French."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from factories import PASSWORD, make_user
from fixtures.web import csrf_of
from models import contributions as contrib
from models.audit import AuditLog
from models.contributions import Contribution, Proposal
from models.day_calendars import day_calendar
from models.offer_edits import PriceEntry
from models.offers import Offer, OfferPrice, Provider
from models.permissions import ADMIN, MODERATOR

IP = "127.0.0.1"
SHEET = "https://example.org/grille.pdf"


@pytest.fixture
def moderator(signed_in):
    return signed_in("moderator@example.org", roles=(MODERATOR,))


def post(client, path: str, **data):
    token = csrf_of(client.get("/tableau-de-bord").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data})


def rows(session, action: str) -> list[AuditLog]:
    """The audit rows of `action` written in this test's transaction (not those a committing test left)."""
    session.expire_all()
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action, AuditLog.created_at >= func.transaction_timestamp())
                                .order_by(AuditLog.id)))


def offer(session, code: str) -> Offer:
    return session.scalar(select(Offer).where(Offer.code == code))


def in_force(session, offer_id: int, kva: int) -> list[OfferPrice]:
    session.expire_all()
    return list(session.scalars(select(OfferPrice).where(OfferPrice.offer_id == offer_id, OfferPrice.kva == kva)
                                .order_by(OfferPrice.valid_from)))


# -- Offres ----------------------------------------------------------------------------------------------


def test_the_offers_page_lists_providers_offers_and_each_price_with_source_and_confidence(client, moderator, session):
    page = client.get("/admin/offres").get_data(as_text=True)
    assert 'data-provider="EDF"' in page and "Tarif Bleu – Tempo" in page and "trois sources concordent" in page
    hc = offer(session, "EDF_TRV_HC_HP")
    page = client.get(f"/admin/offres/{hc.id}").get_data(as_text=True)
    history = re.findall(r'<tr data-kva="6" data-from="([0-9-]+)"', page)
    assert history == ["2026-02-01", "2025-08-01", "2025-02-01"]  # newest first, nothing lost
    assert "en vigueur" in page and "JC144/EDF_Simulateur_Prix" in page  # each period's sources…
    assert "abonnement : les sources divergent" in page  # …and confidence


def test_new_prices_from_the_page_close_the_previous_period_and_are_audited(client, moderator, session):
    hc = offer(session, "EDF_TRV_HC_HP")
    before_9 = [(p.valid_from, p.valid_to) for p in in_force(session, hc.id, 9)]
    response = post(client, f"/admin/offres/{hc.id}/prix", valid_from="2026-08-01", status="single_source",
                    source=SHEET, notes="", fixed_6="16,10", hp_6="0,2100", hc_6="0,1600")
    assert response.status_code == 303
    periods = in_force(session, hc.id, 6)
    assert [(p.valid_from, p.valid_to) for p in periods][-2:] == [(date(2026, 2, 1), date(2026, 8, 1)),
                                                                   (date(2026, 8, 1), None)]
    assert periods[-1].energy == {"hp": Decimal("0.21"), "hc": Decimal("0.16")} and periods[-1].sources == [SHEET]
    assert [(p.valid_from, p.valid_to) for p in in_force(session, hc.id, 9)] == before_9  # another power: untouched
    [row] = rows(session, "admin.offer.prices_added")
    assert (row.actor_id, row.target, row.ip_address) == (moderator.id, f"offer:{hc.id}", IP)


@pytest.mark.parametrize("fields, message", [
    ({"hp_6": "7"}, "7 € par kWh est hors de la plage admise"),
    ({"hp_6": "20,65"}, "pas en centimes"),
    ({"hc_6": ""}, "remplissez l'abonnement et chaque prix du kWh"),
    ({"hp_6": "1e3"}, "n'est pas un montant"),
    ({"hp_6": "0\x002"}, "illisible"),
    ({"valid_from": "2026-02-01"}, "l'historique ne se réécrit pas"),
])
def test_bad_prices_are_a_french_400_and_change_nothing(client, moderator, session, fields, message):
    hc = offer(session, "EDF_TRV_HC_HP")
    before = [(p.valid_from, p.valid_to) for p in in_force(session, hc.id, 6)]
    data = {"valid_from": "2026-08-01", "status": "single_source", "source": SHEET, "fixed_6": "16,10",
            "hp_6": "0,2100", "hc_6": "0,1600", **fields}
    response = post(client, f"/admin/offres/{hc.id}/prix", **data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True).replace("&#39;", "'").replace("&#34;", '"')
    assert [(p.valid_from, p.valid_to) for p in in_force(session, hc.id, 6)] == before
    assert rows(session, "admin.offer.prices_added") == []


def test_providers_and_offers_are_created_and_renamed_from_the_page(client, moderator, session):
    assert post(client, "/admin/offres/fournisseurs", name="Volt", website="https://volt.example.org").status_code == 303
    provider = session.scalar(select(Provider).where(Provider.name == "Volt"))
    assert post(client, "/admin/offres/nouvelle", provider=provider.id, name="Base verte", option="BASE").status_code == 303
    created = session.scalar(select(Offer).where(Offer.provider_id == provider.id))
    assert post(client, f"/admin/offres/{created.id}/nom", name="Base très verte").status_code == 303
    session.expire_all()
    assert created.name == "Base très verte"
    for action, target in (("admin.provider.created", f"provider:{provider.id}"),
                           ("admin.offer.created", f"offer:{created.id}"), ("admin.offer.renamed", f"offer:{created.id}")):
        [row] = rows(session, action)
        assert (row.actor_id, row.target, row.ip_address) == (moderator.id, target, IP)
    assert post(client, "/admin/offres/fournisseurs", name="volt").status_code == 409  # already there
    assert post(client, "/admin/offres/999999").status_code in (404, 405)


# -- Jours EJP et Sobriété -------------------------------------------------------------------------------


def test_ejp_and_sobriete_days_are_edited_here_audited_and_used_by_the_engine(client, session, signed_in):
    root = signed_in("root@example.org", roles=(ADMIN,))
    day = date(2031, 1, 14)
    assert post(client, "/admin/jours-speciaux/marquer", kind="ejp", day=day.isoformat(),
                source="https://example.org/ejp").status_code == 303
    assert day_calendar(session, day, date(2031, 1, 15))[day].ejp is True
    page = client.get("/admin/jours-speciaux", query_string={"calendrier": "ejp", "saison": "2030"}).get_data(as_text=True)
    assert f'data-day="{day.isoformat()}"' in page
    assert post(client, "/admin/jours-speciaux/periode-connue", kind="ejp", known_from="2030-11-01",
                known_through="2031-03-31", source="EDF").status_code == 303
    assert day_calendar(session, date(2031, 1, 15), date(2031, 1, 16))[date(2031, 1, 15)].ejp is False  # known: ordinary
    assert post(client, "/admin/jours-speciaux/retirer", kind="ejp", day=day.isoformat()).status_code == 303
    assert day_calendar(session, day, date(2031, 1, 15))[day].ejp is False
    for action, target in (("admin.calendar.day_marked", "calendar:ejp:2031-01-14"),
                           ("admin.calendar.coverage_set", "calendar:ejp"),
                           ("admin.calendar.day_unmarked", "calendar:ejp:2031-01-14")):
        [row] = rows(session, action)
        assert (row.actor_id, row.target, row.ip_address) == (root.id, target, IP)

    response = post(client, "/admin/jours-speciaux/marquer", kind="ejp", day="2031-06-14")
    assert response.status_code == 400 and "entre le 1er novembre et le 31 mars" in response.get_data(as_text=True)
    assert post(client, "/admin/jours-speciaux/marquer", kind="sobriete", day="2031-06-14").status_code == 303
    assert post(client, "/admin/jours-speciaux/retirer", kind="ejp", day="2031-06-14").status_code == 409
    assert post(client, "/admin/jours-speciaux/marquer", kind="tempo", day="2031-01-14").status_code == 400
    assert client.get("/admin/jours-speciaux", query_string={"calendrier": "x"}).status_code == 400


# -- Contribuer (user side) -------------------------------------------------------------------------------


def test_contribuer_is_in_the_navigation_of_signed_in_users_only(client, signed_in):
    assert "/contribuer" not in client.get("/").get_data(as_text=True)
    signed_in("alice@example.org")
    assert 'href="/contribuer"' in client.get("/tableau-de-bord").get_data(as_text=True)
    assert client.get("/contribuer").status_code == 200


def test_a_user_proposes_new_prices_follows_answers_and_sees_the_result(client, auth, session, signed_in):
    alice = signed_in("alice@example.org")
    hc = offer(session, "EDF_TRV_HC_HP")
    response = post(client, f"/contribuer/prix?offre={hc.id}", price_sheet_url=SHEET, valid_from="2026-08-01",
                    fixed_6="16,10", hp_6="7", hc_6="0,1600")
    assert response.status_code == 400
    assert "7 € par kWh est hors de la plage admise" in response.get_data(as_text=True)
    response = post(client, f"/contribuer/prix?offre={hc.id}", valid_from="2026-08-01", fixed_6="16,10",
                    hp_6="0,2100", hc_6="0,1600")
    assert response.status_code == 400 and "Ce champ est obligatoire." in response.get_data(as_text=True)  # the sheet
    assert session.scalar(select(Contribution.id)) is None

    response = post(client, f"/contribuer/prix?offre={hc.id}", price_sheet_url=SHEET, valid_from="2026-08-01",
                    fixed_6="16,10", hp_6="0,2100", hc_6="0,1600", comment="Grille d'août")
    assert response.status_code == 303
    row = session.scalar(select(Contribution))
    assert (row.user_id, row.kind, row.status, row.offer_id) == (alice.id, "price_change", "pending", hc.id)
    assert response.headers["Location"] == f"/contribuer/{row.id}"
    page = client.get(f"/contribuer/{row.id}").get_data(as_text=True)
    assert "En attente de modération" in page and "0,2065" in page and "0,21" in page

    moderator = make_user(session, "moderator@example.org", roles=(MODERATOR,))
    contrib.ask(session, row.id, "Quelle page de la grille ?", actor_id=moderator.id, ip=None)
    assert "Quelle page de la grille ?" in client.get(f"/contribuer/{row.id}").get_data(as_text=True)
    assert post(client, f"/contribuer/{row.id}/repondre", body="La page 2.").status_code == 303
    session.expire_all()
    assert row.status == "pending" and row.messages[-1].body == "La page 2."
    assert post(client, f"/contribuer/{row.id}/retirer").status_code == 303
    session.expire_all()
    assert row.status == "withdrawn"
    assert post(client, f"/contribuer/{row.id}/retirer").status_code == 409  # nothing left to do
    assert [r.actor_id for r in rows(session, "contribution.submitted")] == [alice.id]
    assert [r.ip_address for r in rows(session, "contribution.answered")] == [IP]

    auth.logout()
    signed_in("bob@example.org")
    assert client.get(f"/contribuer/{row.id}").status_code == 404  # another account's: not found
    assert post(client, f"/contribuer/{row.id}/retirer").status_code == 404


def test_every_kind_of_proposal_has_its_page(client, session, signed_in):
    signed_in("alice@example.org")
    base, edf = offer(session, "EDF_TRV_BASE"), session.scalar(select(Provider).where(Provider.code == "EDF"))
    assert post(client, "/contribuer/fournisseur", price_sheet_url=SHEET, name="Volt").status_code == 303
    assert post(client, f"/contribuer/nom?offre={base.id}", price_sheet_url=SHEET, name="Base (TRV)").status_code == 303
    page = client.get("/contribuer/offre?option=TEMPO").get_data(as_text=True)
    assert 'name="tempo_red_hp_6"' in page and 'name="hp_6"' not in page
    assert post(client, "/contribuer/offre?option=BASE", price_sheet_url=SHEET, provider=edf.id, name="Base Éco",
                valid_from="2026-09-01", fixed_6="15", base_6="0,19").status_code == 303
    assert [c.kind for c in session.scalars(select(Contribution).order_by(Contribution.id))] == [
        "new_provider", "rename_offer", "new_offer"]
    assert client.get("/contribuer/offre?option=NOPE").status_code == 404
    assert client.get("/contribuer/prix?offre=99999999999").status_code == 404


# -- Contributions (moderation) ------------------------------------------------------------------------------


def proposed(session, author, code="EDF_TRV_HC_HP", hp="0.2100") -> Contribution:
    entries = [PriceEntry(6, Decimal("16.10"), {"hp": Decimal(hp), "hc": Decimal("0.1600")})]
    return contrib.submit(session, author.id, Proposal("price_change", SHEET, offer_id=offer(session, code).id,
                                                       valid_from=date(2026, 8, 1), prices=entries), ip=None)


def test_the_moderator_sees_the_diff_asks_rejects_and_approves(client, moderator, session):
    author = make_user(session, "author@example.org", password=PASSWORD)
    first, second, third = proposed(session, author), proposed(session, author, hp="0.2150"), proposed(
        session, author, hp="0.2200")
    listing = client.get("/admin/contributions").get_data(as_text=True)
    assert all(f'data-contribution="{c.id}"' in listing for c in (first, second, third))
    page = client.get(f"/admin/contributions/{first.id}").get_data(as_text=True)
    assert "0,2065" in page and "0,21" in page and "+1,7 %" in page and "author@example.org" in page

    assert post(client, f"/admin/contributions/{first.id}/question", body="Source ?").status_code == 303
    assert post(client, f"/admin/contributions/{first.id}/approuver").status_code == 303
    session.expire_all()
    assert first.status == "approved"
    hc = offer(session, "EDF_TRV_HC_HP")
    assert [(p.valid_from, p.valid_to) for p in in_force(session, hc.id, 6)][-2:] == [
        (date(2026, 2, 1), date(2026, 8, 1)), (date(2026, 8, 1), None)]
    # The second one (same offer, kVA and day) no longer holds: refused, reported, nothing changed.
    response = post(client, f"/admin/contributions/{second.id}/approuver")
    assert response.status_code == 409 and "ne se réécrit pas" in response.get_data(as_text=True)
    assert post(client, f"/admin/contributions/{third.id}/refuser", reason="Déjà à jour.").status_code == 303
    session.expire_all()
    assert (second.status, third.status) == ("pending", "rejected")
    for action, contribution in (("admin.contribution.info_requested", first), ("admin.contribution.approved", first),
                                 ("admin.contribution.rejected", third)):
        [row] = rows(session, action)
        assert (row.actor_id, row.target, row.ip_address) == (moderator.id, f"contribution:{contribution.id}", IP)


def test_bulk_approval_goes_through_the_same_service(client, moderator, session):
    author = make_user(session, "author@example.org")
    hc = proposed(session, author)
    rename = contrib.submit(session, author.id, Proposal("rename_offer", SHEET, name="Tempo (TRV)",
                                                         offer_id=offer(session, "EDF_TRV_TEMPO").id), ip=None)
    token = csrf_of(client.get("/admin/contributions").get_data(as_text=True))
    response = client.post("/admin/contributions/approuver", data={"csrf_token": token, "ids": [hc.id, rename.id]})
    assert response.status_code == 303
    session.expire_all()
    assert (hc.status, rename.status) == ("approved", "approved")
    assert offer(session, "EDF_TRV_TEMPO").name == "Tempo (TRV)"
    assert len(rows(session, "admin.contribution.approved")) == 2 and len(rows(session, "admin.offer.prices_added")) == 1
    for bad in (["x"], ["1" * 20], [str(i) for i in range(101)]):
        assert client.post("/admin/contributions/approuver", data={"csrf_token": token, "ids": bad}).status_code == 400
    assert client.get("/admin/contributions", query_string={"etat": "nope"}).status_code == 400
