"""Settings → "Mes offres": a household enters its own offer (French form, CSRF, bounded inputs), sees and
deletes its own offers only."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from fixtures.web import csrf_of
from models.offers import Offer, OfferPrice


def csrf(client, url="/parametres/offres") -> str:
    return csrf_of(client.get(url).get_data(as_text=True))


VALID = {"name": "Offre du fournisseur local", "supplier": "Régie locale", "kva": "9", "valid_from": "2025-03-01",
         "valid_until": "", "fixed": "17,90", "price_hp": "0,2101", "price_hc": "0.1650"}


def post_offer(client, option="HC_HP", **changes):
    data = {**VALID, **changes, "csrf_token": csrf(client, f"/parametres/offres/nouvelle?type={option}")}
    return client.post(f"/parametres/offres/nouvelle?type={option}", data=data)


def count_offers(session, owner_id) -> int:
    return session.scalar(select(func.count()).select_from(Offer).where(Offer.owner_id == owner_id))


def test_a_household_enters_lists_and_deletes_its_offer(client, signed_in, session):
    alice = signed_in().id
    assert 'href="/parametres/offres"' in client.get("/parametres").get_data(as_text=True)
    page = client.get("/parametres/offres").get_data(as_text=True)
    assert "Aucune offre pour l'instant." in page and 'name="type"' in page
    form = client.get("/parametres/offres/nouvelle?type=HC_HP").get_data(as_text=True)
    assert 'name="price_hp"' in form and 'name="price_hc"' in form and 'name="price_base"' not in form
    assert "Les heures creuses sont celles de votre compteur" in form
    flex = client.get("/parametres/offres/nouvelle?type=ZEN_FLEX").get_data(as_text=True)
    assert "Heures creuses fixées par l'option : 0h00–8h00 et 13h00–18h00 et 20h00–0h00." in flex

    response = post_offer(client)
    assert response.status_code == 302 and response.headers["Location"] == "/parametres/offres"
    (offer,) = session.scalars(select(Offer).where(Offer.owner_id == alice))
    (price,) = offer.prices
    assert (offer.name, offer.supplier_name, offer.option, price.kva) == ("Offre du fournisseur local", "Régie locale",
                                                                          "HC_HP", 9)
    assert price.fixed_eur_month == Decimal("17.90") and price.energy == {"hp": Decimal("0.2101"),
                                                                          "hc": Decimal("0.1650")}
    assert (price.valid_from, price.valid_to, price.status) == (date(2025, 3, 1), None, "household")
    listed = client.get("/parametres/offres").get_data(as_text=True)
    assert "Offre du fournisseur local" in listed and "17,90 €/mois" in listed and "0,2101 €" in listed

    deleted = client.post(f"/parametres/offres/{offer.id}/supprimer", data={"csrf_token": csrf(client)})
    assert deleted.status_code == 302
    assert count_offers(session, alice) == 0


def test_an_end_date_is_inclusive_on_the_page_and_exclusive_in_the_database(client, signed_in, session):
    alice = signed_in().id
    assert post_offer(client, valid_until="2025-12-31").status_code == 302
    price = session.scalar(select(OfferPrice).join(Offer).where(Offer.owner_id == alice))
    assert price.valid_to == date(2026, 1, 1)
    assert "du 01/03/2025 au 31/12/2025" in client.get("/parametres/offres").get_data(as_text=True)


def test_another_account_neither_sees_nor_deletes_it(client, auth, signed_in, session):
    signed_in()
    post_offer(client, name="Secret d'Alice")
    offer_id = session.scalar(select(Offer.id).where(Offer.name == "Secret d'Alice"))
    auth.logout()
    signed_in("bob@example.org")
    assert "Secret d'Alice" not in client.get("/parametres/offres").get_data(as_text=True)
    response = client.post(f"/parametres/offres/{offer_id}/supprimer", data={"csrf_token": csrf(client)})
    assert response.status_code == 404
    assert session.get(Offer, offer_id) is not None


def test_without_a_csrf_token_nothing_is_stored(client, signed_in, session):
    alice = signed_in().id
    response = client.post("/parametres/offres/nouvelle?type=HC_HP", data=VALID)
    assert response.status_code == 400
    assert count_offers(session, alice) == 0
    post_offer(client)
    offer_id = session.scalar(select(Offer.id).where(Offer.owner_id == alice))
    assert client.post(f"/parametres/offres/{offer_id}/supprimer").status_code == 400
    assert session.get(Offer, offer_id) is not None


def test_signed_out_visitors_are_sent_to_the_login_page(client):
    for url in ("/parametres/offres", "/parametres/offres/nouvelle?type=BASE"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")


@pytest.mark.parametrize("field, value, message", [
    ("price_hp", "1e999", "au plus 6 décimales"),
    ("price_hp", "NaN", "au plus 6 décimales"),
    ("price_hp", "١٢", "au plus 6 décimales"),
    ("price_hp", "99999999999999999999", "au plus 6 décimales"),
    ("price_hp", "-0,2", "au plus 6 décimales"),
    ("price_hp", "0", "Entre 0,000001 et 9,999999"),
    ("price_hp", "12", "Entre 0,000001 et 9,999999"),
    ("price_hc", "", "Indiquez ce prix."),
    ("fixed", "1000", "Entre 0 et 999,9999"),
    ("kva", "7", "Choisissez une valeur de la liste."),
    ("valid_from", "２０２６-０１-０１", "AAAA-MM-JJ"),
    ("valid_from", "2026-02-30", "AAAA-MM-JJ"),
    ("valid_from", "1999-01-01", "Entre le 01/01/2015"),
    ("name", "Offre\x00nulle", "caractères non autorisés"),
    ("name", "", "obligatoire"),
    ("supplier", "x" * 101, "100 caractères au plus."),
])
def test_bad_input_is_a_french_form_error_and_nothing_is_stored(client, signed_in, session, field, value, message):
    alice = signed_in().id
    response = post_offer(client, **{field: value})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page or message.replace("'", "&#39;") in page
    assert count_offers(session, alice) == 0


def test_an_end_before_the_start_is_refused(client, signed_in):
    signed_in()
    response = post_offer(client, valid_from="2025-03-01", valid_until="2025-02-01")
    assert response.status_code == 400 and "La date de fin doit suivre la date de début." in \
        response.get_data(as_text=True).replace("&#39;", "'")


@pytest.mark.parametrize("option", ["SEASONAL", "NOPE", "", "x" * 300])
def test_an_option_a_household_cannot_enter_is_a_400(client, signed_in, option):
    signed_in()
    assert client.get(f"/parametres/offres/nouvelle?type={option}").status_code == 400
    response = client.post(f"/parametres/offres/nouvelle?type={option}", data={"csrf_token": csrf(client)})
    assert response.status_code == 400


def test_every_household_option_has_its_price_fields(client, signed_in, session):
    from models.household_offers import HOUSEHOLD_OPTIONS
    from models.offers import OPTION_RULES

    alice = signed_in().id
    for option in HOUSEHOLD_OPTIONS:
        buckets = OPTION_RULES[option].buckets
        prices = {f"price_{b}": "0,15" for b in buckets}
        response = post_offer(client, option, **{**prices, "name": f"Offre {option}"})
        assert response.status_code == 302, (option, response.get_data(as_text=True)[:2000])
    offers = list(session.scalars(select(Offer).where(Offer.owner_id == alice)))
    assert sorted(o.option for o in offers) == sorted(HOUSEHOLD_OPTIONS)
