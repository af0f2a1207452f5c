""""Consommation (€)", the simulator's page and the offer of each meter in the settings.

The pages read the cache and PostgreSQL only (the settings point at a live sandbox, which must see no
call); the catalogue is the seeded one (EDF Tarif Bleu 6 kVA, ../shared/reference/tariffs/edf-tarif-bleu.json):

    Base   2025-02-01 13.72 €/mois 0.2016 €/kWh · 2025-08-01 15.47 € 0.1952 · 2026-02-01 15.65 € 0.19398
    HC     2025-02-01 14.04 € HC 0.1696 HP 0.2146 · 2025-08-01 15.74 € HC 0.1635 HP 0.2081
           2026-02-01 15.65 € HC 0.1578 HP 0.2065
    Tempo  2025-08-01 15.50 € bleu HC 0.1232 HP 0.1494, rouge HC 0.1460 HP 0.6468 (and white)

Expected figures are worked out here by hand (days × kWh × price, whole months of the fixed part),
not by the engine.
"""

from __future__ import annotations

import json
import re
from html import unescape
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
import redis
from sqlalchemy import select

from factories import make_point, make_user
from fixtures.web import csrf_of
from models.cache import EncryptedCache
from models.household_offers import HouseholdOfferInput, create_household_offer
from models.offers import Offer
from models.offpeak_history import record_offpeak
from models.tempo import TempoDay
from pipeline import tasks
from pipeline.costs import offer_choice, price_offers, set_progress, simulate
from webapp import clock as page_clock

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 14, 12, 0, tzinfo=PARIS)
LAST = date(2026, 3, 13)
FIRST_12 = date(2025, 4, 1)  # 12 months to 13 March 2026: April 2025 … March 2026
PDL_A, PDL_B = "11111111111111", "33333333333333"
D = Decimal
NNBSP = "\u202f"

pytestmark = pytest.mark.usefixtures("sandbox")  # the settings point at it: the pages must never call it


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setattr(page_clock, "now_paris", lambda: NOW)


@pytest.fixture
def store(settings, valkey):
    client = redis.Redis.from_url(settings.valkey_url)
    yield EncryptedCache.from_settings(client, settings)
    client.close()


def days(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def curve_of(day: date, watts=lambda start: 1000) -> list[dict]:
    """Every half-hour of a Paris day (46, 48 or 50), as the pipeline caches them (starts, aware)."""
    t = datetime.combine(day, time(0), PARIS).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), PARIS).astimezone(UTC)
    out = []
    while t < end:
        local = t.astimezone(PARIS)
        w = watts(local)
        out.append({"start": local.isoformat(), "minutes": 30, "watts": w, "wh": w // 2})
        t += timedelta(minutes=30)
    return out


def meter(session, store, user, pdl=PDL_A, *, offpeak: str | None = None, kva: int = 6, curve_from=date(2025, 3, 1),
          curve: bool = True, skip: set[date] = frozenset(), **extra):
    """A consumption point with its contract cached and a flat 1 kW load curve (or 24 kWh a day) since
    `curve_from`; upstream serves nothing older (its history start is cached), so nothing is missing."""
    point = make_point(session, user, pdl, kind="consumption", load_curve_enabled=curve, **extra)
    store.put(user.id, "contract", {"subscribed_power_kva": kva, "subscribed_power": f"{kva} kVA",
                                    "offpeak_hours": offpeak}, point=point.id)
    series = "load_curve" if curve else "daily_consumption"
    if curve:
        store.put_days(user.id, point.id, series, {d: curve_of(d) for d in days(curve_from, LAST) if d not in skip})
    else:
        store.put_days(user.id, point.id, series, {d: {"day": d.isoformat(), "value": 24000}
                                                   for d in days(curve_from, LAST) if d not in skip})
    store.set_history_start(user.id, point.id, series, curve_from)
    return point


def catalogue(session, code: str) -> Offer:
    return session.scalar(select(Offer).where(Offer.code == code))


def cents(amount: Decimal) -> str:
    """As the pages print euros: 1234.565 → "1 234,57 €"."""
    text = f"{amount.quantize(D('0.01'), rounding=ROUND_HALF_UP):,.2f}"
    return text.replace(",", NNBSP).replace(".", ",") + " €"


def text_of(response) -> str:
    assert response.status_code == 200, (response.status_code, response.get_data(as_text=True)[:500])
    return response.get_data(as_text=True)


def page_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    assert match, "no embedded page data"
    return json.loads(match.group(1))


def plain(html: str) -> str:
    """The page's text: tags out, entities read, spaces squeezed."""
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))  # narrow spaces stay


def spread(price: Decimal, k: int, n: int) -> Decimal:
    """The fixed part of the first k days of an n-day month, to the micro-euro (the engine's convention)."""
    return (price * k / n).quantize(D("0.000001"))


# -- Base: the contract has no off-peak hours --------------------------------------------------------------------


def test_base_costs_per_month_with_the_fixed_part_apart_from_the_cache_only(client, session, store, sandbox, valkey,
                                                                              signed_in):
    alice = signed_in()
    meter(session, store, alice, offpeak=None)
    t0 = clock.time()
    html = text_of(client.get(f"/consommation-euros?pdl={PDL_A}"))
    text = plain(html)
    # The contract says "no off-peak hours": Base is preselected, to be confirmed.
    assert "Tarif Bleu – Base" in text and "Présélectionnée d'après votre contrat, qui n'a pas d'heures creuses" in text
    assert 'href="/parametres/offre?pdl=11111111111111"' in html
    # 1 April 2025 – 13 March 2026, 24 kWh a day (25 on 26 October 2025, the long day), by the price of each day.
    energy = (122 * 24 * D("0.2016") + (184 * 24 + 1) * D("0.1952") + 41 * 24 * D("0.19398"))
    fixed = 4 * D("13.72") + 6 * D("15.47") + D("15.65") + spread(D("15.65"), 13, 31)
    assert f"Total sur 12 mois {cents(energy + fixed)}" in text
    assert f"Énergie {cents(energy)}" in text and f"8{NNBSP}329,0 kWh" in text
    assert f"Abonnement {cents(fixed)}" in text
    # Each month: a row, the fixed part in its own column and its own trace.
    assert "avril 2025" in text and "mars 2026 (jusqu'au 13)" in text
    assert f"juillet 2025 {cents(31 * 24 * D('0.2016'))}" in text
    data = page_data(html)
    assert data["pending"] is False and data["live"] is True
    months = data["charts"]["cost_months"]["traces"]
    assert [t["name"] for t in months] == ["Base (€)", "Abonnement (€)"]
    assert months[1]["y"][:4] == [13.72] * 4 and len(months[0]["x"]) == 12
    daily = data["charts"]["cost_days"]["traces"]
    assert len(daily[0]["x"]) == 347 and daily[0]["y"][0] == 4.84  # 24 kWh × 0.2016
    # Coverage: complete, and the three price periods used.
    assert "Toutes les demi-heures de la période ont été relevées" in text
    assert ("Tarif en vigueur du 1 février 2025 au 31 juillet 2025, appliqué à 122 jours : abonnement 13,72 € par mois ; "
            "Base 0,2016 €/kWh — deux sources concordent") in text
    assert "Tarif en vigueur depuis le 1 février 2026, appliqué à 41 jours" in text
    # 24 months: the days before any catalogue price are "prix inconnu", never priced with a later price.
    text24 = plain(text_of(client.get(f"/consommation-euros?pdl={PDL_A}&mois=24")))
    assert "Total sur 24 mois" in text24
    assert "Prix inconnu : 306 jours (du 1 avril 2024 au 31 janvier 2025)" in text24
    assert sandbox.state.calls_since(t0) == [] and valkey.llen("interactive") == 0


def test_the_twin_answers_the_same_and_the_result_is_cached_sealed(client, session, store, valkey, signed_in):
    alice = signed_in()
    point = meter(session, store, alice, offpeak=None)
    html = text_of(client.get(f"/consommation-euros?pdl={PDL_A}"))
    body = client.get(page_data(html)["api"]).get_json()
    assert body["pending"] is False and "Total sur 12 mois" in body["summary_html"]
    assert body["charts"]["cost_months"] == page_data(html)["charts"]["cost_months"]
    # One entry per offer and inputs, sealed: no amount, offer or date readable in Valkey.
    entries = [k for k in valkey.scan_iter(f"releve:c:{alice.id}:p{point.id}:costs:*")]
    assert len(entries) == 1
    raw = valkey.get(entries[0])
    assert b"offer_cost" not in raw and b"0.2016" not in raw and b"2025-" not in raw
    # The next reading of the same inputs comes from there; a day written again makes a new name.
    base = catalogue(session, "EDF_TRV_BASE")
    first = date(2024, 4, 1)
    again = price_offers(session, store, point, 6, [base], first, LAST)
    assert again.computed == 0 and again.missing == []
    store.put_days(alice.id, point.id, "load_curve", {LAST: curve_of(LAST, lambda t: 2000)})
    fresh = price_offers(session, store, point, 6, [base], first, LAST)
    assert fresh.computed == 1
    assert fresh.results[base.id].days[-1].energy == {"base": 48 * 60_000}
    # A new Tempo colour is another input too (the day calendars are part of the name).
    session.add(TempoDay(day=LAST, colour="BLUE", updated_at=NOW, fetched_at=NOW))
    session.flush()
    assert price_offers(session, store, point, 6, [base], first, LAST).computed == 1


# -- HC/HP: the contract's off-peak hours, over time --------------------------------------------------------------


def test_hc_hp_with_the_contracts_off_peak_history(client, session, store, signed_in):
    alice = signed_in()
    point = meter(session, store, alice, offpeak="HC (22H00-6H00)")
    # Relevé first saw the contract on 15 January 2026; the days before are priced with it, and said so.
    record_offpeak(session, point.id, "HC (22H00-6H00)", date(2026, 1, 15))
    session.flush()
    text = plain(text_of(client.get(f"/consommation-euros?pdl={PDL_A}")))
    assert "Tarif Bleu – Heures Creuses" in text and "qui comporte des heures creuses" in text
    # Flat 1 kW: 8 kWh of HC a day (9 on the long autumn day), 16 of HP.
    hc_kwh, hp_kwh = 347 * 8 + 1, 347 * 16
    hc = 122 * 8 * D("0.1696") + (184 * 8 + 1) * D("0.1635") + 41 * 8 * D("0.1578")
    hp = 122 * 16 * D("0.2146") + 184 * 16 * D("0.2081") + 41 * 16 * D("0.2065")
    assert f"Total {cents(hc)} {f'{hc_kwh:,}'.replace(',', NNBSP)},0 kWh {cents(hp)} " \
           f"{f'{hp_kwh:,}'.replace(',', NNBSP)},0 kWh" in text
    assert ("Heures creuses supposées : 289 jours (du 1 avril 2025 au 14 janvier 2026)" in text
            and "Heures creuses appliquées : 22h00–6h00 (vues pour la première fois le 15 janvier 2026)" in text)


def test_a_contract_whose_hours_are_not_recorded_yet_prices_hc_with_them_as_assumed(client, session, store,
                                                                                     signed_in):
    alice = signed_in()
    meter(session, store, alice, offpeak="HC (22H00-6H00)")  # cached before the history was kept: no row yet
    text = plain(text_of(client.get(f"/consommation-euros?pdl={PDL_A}")))
    assert "Total sur 12 mois" in text
    assert ("Heures creuses supposées : 347 jours (du 1 avril 2025 au 13 mars 2026)" in text
            and "Heures creuses appliquées : 22h00–6h00 (vues pour la première fois le 14 mars 2026)" in text)


def test_a_contract_without_off_peak_hours_cannot_price_hc(client, session, store, signed_in):
    alice = signed_in()
    meter(session, store, alice, offpeak=None)
    hc = catalogue(session, "EDF_TRV_HC_HP")
    text = plain(text_of(client.get(f"/consommation-euros?pdl={PDL_A}&comparer={hc.id}")))
    assert "Pas d'heures creuses au contrat." in text and "votre contrat n'en comporte pas" in text


# -- Tempo, chosen in the settings, with the colours RTE published ------------------------------------------------


def test_tempo_chosen_in_the_settings_with_an_unknown_colour(client, session, store, signed_in):
    alice = signed_in()
    point = meter(session, store, alice, offpeak="HC (22H00-6H00)")
    colours = {d: "BLUE" for d in days(date(2025, 3, 31), LAST)}
    colours[date(2026, 1, 12)] = "RED"
    del colours[date(2026, 1, 10)]  # not known: 06:00 on the 10th to 06:00 on the 11th is unpriced
    session.add_all(TempoDay(day=d, colour=c, updated_at=NOW, fetched_at=NOW) for d, c in colours.items())
    tempo = catalogue(session, "EDF_TRV_TEMPO")
    # The settings page preselects what the contract suggests; the household says Tempo.
    form = text_of(client.get(f"/parametres/offre?pdl={PDL_A}"))
    assert re.search(r'<option selected value="\d+">EDF – Tarif Bleu – Heures Creuses</option>', form) or \
        re.search(r'<option value="\d+" selected>EDF – Tarif Bleu – Heures Creuses</option>', form)
    assert "Confirmez-la ou choisissez la vôtre" in form
    saved = client.post("/parametres/offre", data={"pdl": PDL_A, "offer": str(tempo.id), "csrf_token": csrf_of(form)})
    assert saved.status_code == 302 and saved.headers["Location"] == f"/consommation-euros?pdl={PDL_A}"
    session.refresh(point)
    assert point.offer_id == tempo.id
    text = plain(text_of(client.get(f"/consommation-euros?pdl={PDL_A}")))
    assert "Votre offre : Tarif Bleu – Tempo" in text and "Offre confirmée par vous" in text
    assert ("Couleur Tempo inconnue : 2 jours (du 10 janvier 2026 au 11 janvier 2026), 24,0 kWh non chiffrés"
            in text)
    # January 2026 by hand. A day's 00:00–06:00 has the colour of the Tempo day before (31 December … 30 January):
    # the 11th's night is unknown (the 10th), the 13th's red (the 12th). 06:00–22:00 and 22:00–24:00 have the day's:
    # the 10th unknown, the 12th red. 29 blue nights of 6 kWh, 29 blue days of 16 kWh HP and 2 kWh HC.
    html = text_of(client.get(f"/consommation-euros?pdl={PDL_A}"))
    blue = (29 * 6 + 29 * 2) * D("0.1232") + 29 * 16 * D("0.1494")
    red = (6 + 2) * D("0.1460") + 16 * D("0.6468")
    row = html.split('<th scope="row">janvier 2026</th>')[1].split("</tr>")[0]
    assert f"<td>{cents(D('15.50'))}</td><td><strong>{cents(blue + red + D('15.50'))}</strong></td>" in row
    assert "couleur Tempo inconnue" in row


# -- no load curve ---------------------------------------------------------------------------------------------


def test_without_a_load_curve_hc_is_not_computable_and_base_comes_from_daily_energy(client, session, store,
                                                                                       signed_in):
    alice = signed_in()
    point = meter(session, store, alice, offpeak="HC (22H00-6H00)", curve=False)
    record_offpeak(session, point.id, "HC (22H00-6H00)", date(2025, 1, 1))
    base = catalogue(session, "EDF_TRV_BASE")
    html = text_of(client.get(f"/consommation-euros?pdl={PDL_A}&comparer={base.id}"))
    text = plain(html)
    assert "Tarif Bleu – Heures Creuses (EDF) : courbe de charge non activée" in text
    assert "mon-compte-particulier.enedis.fr" in text and "Gérer l'accès à mes données" in text
    # Base, from one energy figure a day.
    energy = (122 * 24 * D("0.2016") + 184 * 24 * D("0.1952") + 41 * 24 * D("0.19398"))
    assert "Comparaison avec Tarif Bleu – Base (EDF)" in text
    assert ("Offres non calculables sans courbe de charge" in text
            and "Tarif Bleu – Tempo (EDF) : courbe de charge non activée" in text)
    cost = price_offers(session, store, point, 6, [base], FIRST_12, LAST).results[base.id]
    assert cost.curve is False and cost.total.energy_eur == energy


# -- prices not known for every day ---------------------------------------------------------------------------


def test_an_offer_priced_from_october_only_is_prix_inconnu_before_and_compared_over_common_days(client, session, store,
                                                                                                signed_in):
    alice = signed_in()
    meter(session, store, alice, offpeak=None)
    own = create_household_offer(session, alice.id, HouseholdOfferInput(
        name="Offre locale", supplier_name="Régie", option="BASE", kva=6, valid_from=date(2025, 10, 1), valid_to=None,
        fixed_eur_month=D("12.00"), energy={"base": D("0.1800")}))
    text = plain(text_of(client.get(f"/consommation-euros?pdl={PDL_A}&comparer={own.id}")))
    assert "Comparaison avec Offre locale (Régie)" in text
    assert f"Prix inconnu : 183 jours (du 1 avril 2025 au 30 septembre 2025), 4{NNBSP}392,0 kWh non chiffrés" in text
    assert "Sur les 164 jours que les deux offres chiffrent entièrement (du 1 octobre 2025 au 13 mars 2026)" in text
    # Over those days: Base 123 days at 0.1952 (one of 25 kWh) and 41 at 0.19398; the household's 0.18.
    kwh = 164 * 24 + 1
    mine = (123 * 24 + 1) * D("0.1952") + 41 * 24 * D("0.19398") + 4 * D("15.47") + D("15.65") + spread(D("15.65"), 13, 31)
    theirs = kwh * D("0.18") + 5 * D("12") + spread(D("12"), 13, 31)
    assert (f"Tarif Bleu – Base (EDF) {cents(mine)}, Offre locale (Régie) {cents(theirs)}, "
            f"soit {cents(mine - theirs)} de moins avec Offre locale (Régie)") in text


def test_missing_days_are_asked_for_and_the_page_says_so(client, session, store, sandbox, valkey, signed_in):
    alice = signed_in()
    meter(session, store, alice, offpeak=None, skip={LAST - timedelta(days=1)})
    t0 = clock.time()
    html = text_of(client.get(f"/consommation-euros?pdl={PDL_A}"))
    data = page_data(html)
    assert data["pending"] is True and "Données en cours de récupération" in html
    assert valkey.llen("interactive") == 1
    message = json.loads(valkey.lindex("interactive", 0))
    assert message["headers"]["task"] == tasks.FETCH_WINDOW
    assert client.get(data["api"]).get_json()["pending"] is True
    assert valkey.llen("interactive") == 1  # deduplicated
    assert sandbox.state.calls_since(t0) == []


def test_an_unknown_subscribed_power_asks_for_the_contract(client, session, store, valkey, signed_in):
    alice = signed_in()
    point = make_point(session, alice, PDL_A, kind="consumption")
    html = text_of(client.get(f"/consommation-euros?pdl={PDL_A}"))
    assert "La puissance souscrite de ce compteur n'est pas encore connue" in html
    assert page_data(html)["pending"] is True
    message = json.loads(valkey.lindex("interactive", 0))
    assert message["headers"]["task"] == tasks.REFRESH_POINT
    text_of(client.get(f"/simulateur?pdl={PDL_A}"))
    assert valkey.llen("interactive") == 1  # once per 10 minutes
    assert point.offer_id is None


# -- who may see what ---------------------------------------------------------------------------------------------


def test_another_households_meter_and_offer_are_404_everywhere(client, session, store, signed_in):
    alice = signed_in()
    meter(session, store, alice, offpeak=None)
    bob = make_user(session, "bob@example.org")
    meter(session, store, bob, PDL_B, offpeak=None)
    bobs = create_household_offer(session, bob.id, HouseholdOfferInput(
        name="Offre de Bob", supplier_name="", option="BASE", kva=6, valid_from=date(2025, 1, 1), valid_to=None,
        fixed_eur_month=D("10"), energy={"base": D("0.1")}))
    for url in (f"/consommation-euros?pdl={PDL_B}", f"/api/ui/consommation-euros.json?pdl={PDL_B}",
                f"/simulateur?pdl={PDL_B}", f"/api/ui/simulateur.json?pdl={PDL_B}", f"/parametres/offre?pdl={PDL_B}",
                f"/consommation-euros?pdl={PDL_A}&comparer={bobs.id}",
                f"/api/ui/consommation-euros.json?pdl={PDL_A}&comparer={bobs.id}"):
        assert client.get(url).status_code == 404, url
    token = csrf_of(text_of(client.get("/simulateur")))
    assert client.post("/simulateur", data={"pdl": PDL_B, "csrf_token": token}).status_code == 404
    assert client.post("/parametres/offre", data={"pdl": PDL_B, "offer": "", "csrf_token": token}).status_code == 404
    # Bob's offer is no choice of Alice's: a form error, and nothing stored.
    refused = client.post("/parametres/offre", data={"pdl": PDL_A, "offer": str(bobs.id), "csrf_token": token})
    assert refused.status_code == 400 and "Choisissez une valeur de la liste." in refused.get_data(as_text=True)
    assert session.get(type(alice), alice.id) is not None and alice.id != bob.id


@pytest.mark.parametrize("query", ["mois=13", "mois=-1", "mois=１２", "mois=99999999999999999999", "comparer=x",
                                   "comparer=99999999999999999999", "comparer=2147483648", "comparer=%00"])
def test_hostile_parameters_are_a_400(client, session, store, signed_in, query):
    alice = signed_in()
    meter(session, store, alice, offpeak=None)
    assert client.get(f"/consommation-euros?pdl={PDL_A}&{query}").status_code == 400
    assert client.get(f"/api/ui/consommation-euros.json?pdl={PDL_A}&{query}").status_code == 400


def test_pages_need_a_login_and_their_twins_say_401(client):
    for url in ("/consommation-euros", "/simulateur", "/parametres/offre"):
        response = client.get(url)
        assert response.status_code == 302 and "/connexion" in response.headers["Location"]
    for url in (f"/api/ui/consommation-euros.json?pdl={PDL_A}", f"/api/ui/simulateur.json?pdl={PDL_A}"):
        assert client.get(url).status_code == 401


def test_links_from_the_navigation_and_the_dashboard_card(client, session, store, signed_in):
    alice = signed_in()
    meter(session, store, alice, offpeak=None)
    page = text_of(client.get("/tableau-de-bord"))
    nav = page.split("</nav>")[0]
    assert 'href="/consommation-euros"' in nav and 'href="/simulateur"' in nav
    card = page.split(f'data-pdl="{PDL_A}"')[1]
    assert f'href="/consommation-euros?pdl={PDL_A}"' in card and f'href="/simulateur?pdl={PDL_A}"' in card
    assert "à confirmer" in card
    assert client.get("/tableau-de-bord/etat.json").get_json()["points"][0]["offer"] is None


def test_clearing_the_choice_goes_back_to_the_contracts_suggestion(client, session, store, signed_in):
    alice = signed_in()
    point = meter(session, store, alice, offpeak=None)
    tempo = catalogue(session, "EDF_TRV_TEMPO")
    token = csrf_of(text_of(client.get("/parametres/offre")))
    assert client.post("/parametres/offre", data={"pdl": PDL_A, "offer": str(tempo.id), "csrf_token": token}) \
        .status_code == 302
    assert "Tarif Bleu – Tempo" in text_of(client.get("/tableau-de-bord"))
    assert client.post("/parametres/offre", data={"pdl": PDL_A, "offer": "", "csrf_token": token}).status_code == 302
    session.refresh(point)
    assert point.offer_id is None
    assert offer_choice(session, store, point).current.code == "EDF_TRV_BASE"


# -- the simulator's page -----------------------------------------------------------------------------------------


def test_the_simulator_enqueues_one_task_shows_progress_then_the_result(client, session, store, valkey, signed_in):
    alice = signed_in()
    point = meter(session, store, alice, offpeak="HC (22H00-6H00)")
    record_offpeak(session, point.id, "HC (22H00-6H00)", date(2025, 1, 1))
    session.add_all(TempoDay(day=d, colour="RED" if d == date(2026, 1, 12) else "BLUE", updated_at=NOW, fetched_at=NOW)
                    for d in days(date(2025, 3, 13), LAST))
    html = text_of(client.get(f"/simulateur?pdl={PDL_A}"))
    assert "Aucune simulation pour l'instant." in html and "Lancer la simulation" in html
    token = csrf_of(html)
    started = client.post("/simulateur", data={"pdl": PDL_A, "csrf_token": token})
    assert started.status_code == 302 and started.headers["Location"] == f"/simulateur?pdl={PDL_A}"
    (message,) = [json.loads(m) for m in valkey.lrange("interactive", 0, -1)]
    assert message["headers"]["task"] == tasks.SIMULATE
    assert message["headers"]["kwargsrepr"] == repr({"point_id": point.id, "last": LAST.isoformat()})
    # A second click while it runs enqueues nothing more.
    client.post("/simulateur", data={"pdl": PDL_A, "csrf_token": token})
    assert valkey.llen("interactive") == 1
    waiting = text_of(client.get(f"/simulateur?pdl={PDL_A}"))
    assert "Simulation en file d'attente" in waiting and page_data(waiting)["pending"] is True
    # The worker's steps, as the twin reports them.
    set_progress(store, alice.id, point.id, "fetching", done=3, total=8, last=LAST.isoformat())
    body = client.get(f"/api/ui/simulateur.json?pdl={PDL_A}").get_json()
    assert body["pending"] is True and body["progress"]["state"] == "fetching"
    assert "3 sur 8 périodes de 7 jours" in body["progress_html"]
    # Its work, in-process on the test's transaction (the task itself runs in tests/pipeline/test_simulation.py).
    choice = offer_choice(session, store, point)
    store.put(alice.id, "simulation", simulate(session, store, point, choice, date(2025, 3, 14), LAST), point=point.id)
    set_progress(store, alice.id, point.id, "done", done=8, total=8, last=LAST.isoformat())
    body = client.get(f"/api/ui/simulateur.json?pdl={PDL_A}").get_json()
    assert body["pending"] is False and "ranking" in body["charts"]
    text = plain(body["summary_html"])
    # Every offer at 6 kVA: the Zen offers have prices from 1 February 2026 only, so the ranking runs over the days
    # all of them price, and the page says which. Zen Flex prices no day (no Sobriété day is known): set apart.
    assert "comparées sur les 41 jours" in text and "du 1 février 2026 au 13 mars 2026" in text
    assert "La période est limitée par Zen Week-End" in text
    assert "Offres non classées" in text and "Zen Flex : prix inconnu, jour Sobriété inconnu" in text
    ranked = re.findall(r'<tr data-offer="(\d+)"', body["summary_html"])
    assert len(ranked) >= 5
    hc = catalogue(session, "EDF_TRV_HC_HP")
    assert "votre offre" in body["summary_html"].split(f'data-offer="{hc.id}"')[1].split("</tr>")[0]
    assert "d'économie" in text
    # Breakdown per offer, and each one's coverage over the year ("prix inconnu" before February for the Zen offers).
    assert "Détail par offre" in text and "Prix inconnu : 324 jours (du 14 mars 2025 au 31 janvier 2026)" in text
    page = text_of(client.get(f"/simulateur?pdl={PDL_A}"))
    assert "Relancer la simulation" in page and page_data(page)["charts"]["ranking"]["traces"]


def test_a_simulation_that_stopped_moving_can_be_started_again(client, session, store, valkey, signed_in):
    alice = signed_in()
    point = meter(session, store, alice, offpeak=None)
    store.put(alice.id, "simulation:progress", {"state": "fetching", "done": 1, "total": 5, "message": None,
                                                "last": LAST.isoformat(), "resume_at": None,
                                                "at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
              point=point.id)
    html = text_of(client.get(f"/simulateur?pdl={PDL_A}"))
    assert "La dernière simulation n'a pas abouti" in html and page_data(html)["pending"] is False
    response = client.post("/simulateur", data={"pdl": PDL_A, "csrf_token": csrf_of(html)})
    assert response.status_code == 302 and valkey.llen("interactive") == 1
