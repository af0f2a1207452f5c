"""A household's own offer: stored with its prices, compared like any other, invisible to other accounts."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from factories import make_point, make_user
from models.household_offers import (
    MAX_OFFERS_PER_ACCOUNT, HouseholdOfferInput, OfferRefused, create_household_offer, delete_household_offer,
    household_offer, household_offers,
)
from models.offers import Offer, OfferPrice, catalogue_prices, choose_offer, get_offer, offers_for_kva, price_periods
from models.usage_points import UsagePoint


def entry(**changes) -> HouseholdOfferInput:
    values = dict(name="Mon offre", supplier_name="Fournisseur local", option="HC_HP", kva=9,
                  valid_from=date(2025, 3, 1), valid_to=None, fixed_eur_month=Decimal("17.90"),
                  energy={"hp": Decimal("0.2101"), "hc": Decimal("0.1650")})
    values.update(changes)
    return HouseholdOfferInput(**values)


@pytest.fixture
def alice_and_bob(session):
    return make_user(session, "alice@example.org"), make_user(session, "bob@example.org")


def test_an_offer_is_stored_with_its_prices_and_compared_like_any_other(session, alice_and_bob):
    alice, bob = alice_and_bob
    offer = create_household_offer(session, alice.id, entry())
    assert (offer.owner_id, offer.code, offer.option, offer.offpeak_source) == (alice.id, None, "HC_HP", "contract")
    (period,) = price_periods(session, offer.id, 9)
    assert period.status == "household" and period.prices == {"hp": Decimal("0.2101"), "hc": Decimal("0.1650")}
    assert period.fixed_eur == Decimal("17.90") and period.valid_to is None
    assert offer.id in {o.id for o in offers_for_kva(session, 9, alice.id)}
    assert [o.id for o in household_offers(session, alice.id)] == [offer.id]


def test_another_account_can_neither_see_nor_delete_it(session, alice_and_bob):
    alice, bob = alice_and_bob
    offer = create_household_offer(session, alice.id, entry())
    assert household_offers(session, bob.id) == []
    assert household_offer(session, bob.id, offer.id) is None
    assert get_offer(session, offer.id, bob.id) is None and get_offer(session, offer.id, None) is None
    assert offer.id not in {o.id for o in offers_for_kva(session, 9, bob.id)}
    assert offer.id not in {o.id for o in offers_for_kva(session, 9, None)}
    assert all(r.offer_code for r in catalogue_prices(session))  # the admin list is the catalogue only
    assert not delete_household_offer(session, bob.id, offer.id)
    assert session.get(Offer, offer.id) is not None
    assert delete_household_offer(session, alice.id, offer.id)
    session.expire_all()
    assert session.get(Offer, offer.id) is None
    assert session.scalar(select(func.count()).select_from(OfferPrice).where(OfferPrice.offer_id == offer.id)) == 0


def test_a_meter_may_be_given_an_offer_its_owner_can_see_only(session, alice_and_bob):
    alice, bob = alice_and_bob
    point = make_point(session, bob, kind="consumption")
    alices = create_household_offer(session, alice.id, entry())
    tempo = session.scalar(select(Offer.id).where(Offer.code == "EDF_TRV_TEMPO"))
    assert not choose_offer(session, bob.id, point.id, alices.id)  # not Bob's to use
    assert not choose_offer(session, alice.id, point.id, tempo)  # not Alice's meter
    assert choose_offer(session, bob.id, point.id, tempo) and point.offer_id == tempo
    bobs = create_household_offer(session, bob.id, entry(name="La mienne"))
    assert choose_offer(session, bob.id, point.id, bobs.id)
    delete_household_offer(session, bob.id, bobs.id)
    session.expire_all()
    assert session.get(UsagePoint, point.id).offer_id is None  # the choice goes with the offer


@pytest.mark.parametrize("changes, message", [
    ({"option": "SEASONAL", "energy": {}}, "Type d'offre"),
    ({"name": "  "}, "nom de l'offre"),
    ({"kva": 7}, "Puissance"),
    ({"valid_to": date(2025, 3, 1)}, "date de fin"),
    ({"fixed_eur_month": Decimal("1000")}, "Abonnement"),
    ({"energy": {"hp": Decimal("0.2")}}, "Il manque"),
    ({"energy": {"hp": Decimal("0.2"), "hc": Decimal("0")}}, "hors limites"),
    ({"energy": {"hp": Decimal("0.2"), "hc": Decimal("10")}}, "hors limites"),
])
def test_bad_entries_are_refused_in_french(session, alice_and_bob, changes, message):
    with pytest.raises(OfferRefused, match=message):
        create_household_offer(session, alice_and_bob[0].id, entry(**changes))


def test_an_account_holds_a_bounded_number_of_offers(session, alice_and_bob):
    alice = alice_and_bob[0]
    for i in range(MAX_OFFERS_PER_ACCOUNT):
        create_household_offer(session, alice.id, entry(name=f"Offre {i}"))
    with pytest.raises(OfferRefused, match="Au plus"):
        create_household_offer(session, alice.id, entry(name="Une de trop"))


def test_options_with_fixed_hours_and_calendars_follow_their_rules(session, alice_and_bob):
    alice = alice_and_bob[0]
    tempo = create_household_offer(session, alice.id, entry(option="TEMPO", energy={
        b: Decimal("0.15") for b in ("tempo_blue_hc", "tempo_blue_hp", "tempo_white_hc", "tempo_white_hp",
                                     "tempo_red_hc", "tempo_red_hp")}))
    assert (tempo.day_calendar, tempo.offpeak_hours) == ("tempo", "HC (22H00-6H00)")
    weekend = create_household_offer(session, alice.id, entry(option="BASE_WEEKEND", holidays_as_weekend=True,
                                                               energy={"base_weekday": Decimal("0.2"),
                                                                       "base_weekend": Decimal("0.15")}))
    assert weekend.holidays_as_weekend and weekend.offpeak_source == "none"
