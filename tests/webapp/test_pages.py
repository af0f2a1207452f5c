"""Data pages: consumption, production, balance, Tempo, EcoWatt, France, FAQ.

The app's settings point at a live sandbox for the whole module, so every test can prove
the pages never call upstream: they read the cache, and enqueue interactive fetches for
what is missing (on the test Valkey, which is also the broker).
"""

from __future__ import annotations

import json
import re
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis
from sqlalchemy import select

from models.cache import EncryptedCache
from models.ecowatt import EcoWattSignal
from models.national_consumption import NationalConsumption
from models.tempo import TempoDay
from models.usage_points import UsagePoint
from webapp import clock as page_clock
from webapp.grid import views as grid_views

from factories import make_point

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2025, 3, 14, 12, 0, tzinfo=PARIS)  # a Friday; D-1 is published
LAST = date(2025, 3, 13)
PDL_A, PDL_A2, PDL_PROD, PDL_B = "11111111111111", "11111111111112", "22222222222222", "33333333333333"


pytestmark = pytest.mark.usefixtures("sandbox")  # the settings point at it


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    for module in (page_clock, grid_views):  # each module that reads the time
        monkeypatch.setattr(module, "now_paris", lambda: NOW)


@pytest.fixture
def store(settings, valkey):
    client = redis.Redis.from_url(settings.valkey_url)
    yield EncryptedCache(client, settings.master_key, ttl_seconds=3600)
    client.close()


def days(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def curve_of(day: date, watts: int = 1000) -> list[dict]:
    start = datetime.combine(day, time(0), PARIS)
    return [{"start": (start + timedelta(minutes=30 * i)).isoformat(), "minutes": 30, "watts": watts,
             "wh": watts * 30 // 60} for i in range(48)]


def point_of(session, pdl: str) -> UsagePoint:
    return session.scalar(select(UsagePoint).where(UsagePoint.pdl == pdl))


def fill_consumption(store: EncryptedCache, session, pdl: str, *, skip_curve_day: date | None = None) -> None:
    """2024 at 8 kWh a day, 2025 at 10 kWh; a flat 1 kW load curve; max power 6 kVA on 9 kVA."""
    point = point_of(session, pdl)
    store.put_days(point.user_id, point.id, "daily_consumption",
                   {d: {"day": d.isoformat(), "value": 8000 if d.year == 2024 else 10000}
                    for d in days(date(2024, 1, 1), LAST)})
    store.put_days(point.user_id, point.id, "load_curve",
                   {d: curve_of(d) for d in days(LAST - timedelta(days=6), LAST) if d != skip_curve_day})
    store.put_days(point.user_id, point.id, "max_power",
                   {d: {"day": d.isoformat(), "va": 6000, "at": f"{d.isoformat()}T19:00:00+01:00"}
                    for d in days(LAST - timedelta(days=29), LAST)})
    store.put(point.user_id, "contract", {"subscribed_power_kva": 9, "subscribed_power": "9 kVA",
                                          "offpeak_hours": "HC (22H00-6H00)"}, point=point.id)


def fill_production(store: EncryptedCache, session, pdl: str) -> None:
    point = point_of(session, pdl)
    store.put_days(point.user_id, point.id, "daily_production", {d: {"day": d.isoformat(), "value": 4000}
                                                                 for d in days(date(2024, 1, 1), LAST)})
    store.put_days(point.user_id, point.id, "production_load_curve", {d: curve_of(d, 200) for d in days(LAST, LAST)})


def text_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def page_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    assert match, "no embedded page data"
    return json.loads(match.group(1))


NBSP = "\u202f"


# -- empty states ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/consommation", "/production", "/bilan"])
def test_personal_pages_need_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


@pytest.mark.parametrize("url", ["/api/ui/consommation.json?pdl=" + PDL_A, "/api/ui/production.json?pdl=" + PDL_A,
                                 f"/api/ui/bilan.json?conso={PDL_A}&prod={PDL_PROD}"])
def test_json_endpoints_need_a_login(client, url):
    assert client.get(url).status_code == 401


@pytest.mark.parametrize("url", ["/consommation", "/production", "/bilan"])
def test_no_points_renders_an_invitation(client, auth, url):
    auth.signup()
    html = text_of(client.get(url))
    assert "Aucun compteur n'est encore relié" in html


@pytest.mark.parametrize("url", ["/tempo", "/ecowatt", "/france", "/faq"])
def test_public_pages_render_without_data_and_without_login(client, url):
    html = text_of(client.get(url))
    assert "<h1>" in html


# -- consumption ------------------------------------------------------------------------------


def test_consumption_page_shows_cached_numbers_without_touching_upstream(client, auth, session, store, sandbox,
                                                                          valkey, celery_app, signed_in):
    alice = signed_in()
    make_point(session, alice, PDL_A, name="Maison", kind="consumption")
    fill_consumption(store, session, PDL_A)
    t0 = clock.time()
    html = text_of(client.get(f"/consommation?pdl={PDL_A}"))
    assert "300,0 kWh" in html                       # 30 days × 10 kWh
    assert "720,0 kWh" in html                       # 1 January – 13 March 2025: 72 days × 10 kWh
    assert "584,0 kWh" in html                       # same period of 2024: 73 days × 8 kWh
    assert f"2{NBSP}928,0 kWh" in html                # 2024: 366 days × 8 kWh
    assert "8,00 kWh HC · 16,00 kWh HP" in html       # flat 1 kW, off-peak 22:00–06:00
    assert "6,00 kVA" in html and "9 kVA" in html and "67 %" in html
    assert "Données en cours de récupération" in html and 'id="pending" role="status" hidden' in html
    data = page_data(html)
    assert data["pending"] is False
    assert {"daily", "months", "curve", "max_power"} <= set(data["charts"])
    assert len(data["charts"]["curve"]["traces"][0]["y"]) == 48
    assert data["charts"]["daily"]["traces"][0]["y"][-1] == 10.0
    for name in data["charts"]:
        assert 'class="chart' in html and f'data-chart="{name}"' in html
    # The week view and the JSON twin also answer from the cache.
    week = page_data(text_of(client.get(f"/consommation?pdl={PDL_A}&jour=2025-03-13&vue=semaine")))
    assert len(week["charts"]["curve"]["traces"][0]["y"]) == 7 * 48
    body = client.get(f"/api/ui/consommation.json?pdl={PDL_A}&jour=2025-03-13&vue=semaine").get_json()
    assert body["pending"] is False and "300,0 kWh" in body["summary_html"]
    assert sandbox.state.calls_since(t0) == []
    assert valkey.llen("interactive") == 0


def test_missing_days_enqueue_one_interactive_fetch_and_say_so(client, auth, session, store, sandbox, valkey,
                                                               celery_app, signed_in):
    alice = signed_in()
    make_point(session, alice, PDL_A, kind="consumption")
    fill_consumption(store, session, PDL_A, skip_curve_day=LAST)  # only the shown day's curve is missing
    t0 = clock.time()
    html = text_of(client.get(f"/consommation?pdl={PDL_A}"))
    assert "Données en cours de récupération…" in html and 'role="status" hidden' not in html
    data = page_data(html)
    assert data["pending"] is True and data["api"].startswith("/api/ui/consommation.json?")
    assert valkey.llen("interactive") == 1
    message = json.loads(valkey.lindex("interactive", 0))
    assert message["headers"]["task"] == "releve.enedis.fetch_window"
    # Seen again (or polled): deduplicated, nothing more is enqueued.
    text_of(client.get(f"/consommation?pdl={PDL_A}"))
    assert client.get(data["api"]).get_json()["pending"] is True
    assert valkey.llen("interactive") == 1
    # The worker delivers: the JSON twin stops saying pending.
    store.put_days(alice.id, point_of(session, PDL_A).id, "load_curve", {LAST: curve_of(LAST)})
    assert client.get(data["api"]).get_json()["pending"] is False
    assert sandbox.state.calls_since(t0) == []


def test_a_point_with_nothing_cached_renders_and_asks(client, auth, session, valkey, celery_app, signed_in):
    alice = signed_in()
    make_point(session, alice, PDL_A, kind="unknown")
    html = text_of(client.get("/consommation"))
    assert "Données en cours de récupération…" in html and "—" in html
    assert valkey.llen("interactive") > 0


def test_a_point_waiting_for_consent_asks_nothing(client, auth, session, valkey, celery_app, signed_in):
    alice = signed_in()
    make_point(session, alice, PDL_A, status="consent_needed", status_reason="ADAM-DC-0008", kind="consumption")
    html = text_of(client.get("/consommation"))
    assert "Renouveler le consentement" in html
    assert valkey.llen("interactive") == 0


def test_load_curve_not_activated_points_to_the_faq(client, auth, session, store, valkey, celery_app, signed_in):
    alice = signed_in()
    make_point(session, alice, PDL_A, load_curve_enabled=False, kind="consumption")
    fill_consumption(store, session, PDL_A)
    html = text_of(client.get("/consommation"))
    assert "n'est pas activée" in html and "/faq#courbe-de-charge" in html
    assert "curve" not in page_data(html)["charts"]
    assert valkey.llen("interactive") == 0


# -- production, several points -----------------------------------------------------------------


def test_production_only_point(client, auth, session, store, valkey, celery_app, signed_in):
    alice = signed_in()
    make_point(session, alice, PDL_PROD, kind="production", name="Toiture")
    fill_production(store, session, PDL_PROD)
    html = text_of(client.get("/production"))
    assert "120,0 kWh" in html  # 30 days × 4 kWh
    assert "Toiture" in html and "Heures creuses" not in html
    assert valkey.llen("interactive") == 0
    # Its consumption and balance pages explain instead of failing.
    assert "Aucun de vos compteurs n'est un point de consommation" in text_of(client.get("/consommation"))
    assert "est un point de production" in text_of(client.get(f"/consommation?pdl={PDL_PROD}"))
    assert "pas de point de consommation" in text_of(client.get("/bilan"))
    assert "Aucun de vos compteurs n'est un point de production" not in text_of(client.get("/production"))


def test_consumption_only_user_sees_friendly_production_and_balance(client, session, store, celery_app, signed_in):
    alice = signed_in()
    make_point(session, alice, PDL_A, kind="consumption")
    fill_consumption(store, session, PDL_A)
    assert "Aucun de vos compteurs n'est un point de production" in text_of(client.get("/production"))
    assert "Aucune production n'est connue" in text_of(client.get("/bilan"))


def test_several_points_get_a_selector(client, auth, session, store, valkey, celery_app, signed_in):
    alice = signed_in()
    make_point(session, alice, PDL_A, name="Appartement", kind="consumption")
    make_point(session, alice, PDL_A2, name="Maison", kind="consumption")
    make_point(session, alice, PDL_PROD, kind="production", name="Toiture")
    fill_consumption(store, session, PDL_A)
    fill_consumption(store, session, PDL_A2)
    store.put_days(alice.id, point_of(session, PDL_A2).id, "daily_consumption",
                   {d: {"day": d.isoformat(), "value": 20000} for d in days(date(2025, 1, 1), LAST)})
    fill_production(store, session, PDL_PROD)
    html = text_of(client.get("/consommation"))
    assert '<select name="pdl"' in html and PDL_A in html and PDL_A2 in html
    assert "300,0 kWh" in html  # the first point by name: Appartement
    assert "600,0 kWh" in text_of(client.get(f"/consommation?pdl={PDL_A2}"))
    balance = text_of(client.get(f"/bilan?conso={PDL_A2}"))
    assert "600,0 kWh" in balance and "120,0 kWh" in balance and "20 %" in balance
    assert valkey.llen("interactive") == 0


def test_balance_of_a_self_consumption_point(client, auth, session, store, valkey, celery_app, signed_in):
    alice = signed_in()
    make_point(session, alice, PDL_A, kind="consumption")
    fill_consumption(store, session, PDL_A)
    fill_production(store, session, PDL_A)  # the same point carries both
    html = text_of(client.get("/bilan"))
    assert "(autoconsommation)" in html and "300,0 kWh" in html and "120,0 kWh" in html and "40 %" in html
    assert valkey.llen("interactive") == 0


# -- security ------------------------------------------------------------------------------------


def test_another_users_pdl_is_404_everywhere(client, auth, session, store, valkey, celery_app, signed_in):
    bob = signed_in("bob@example.org")
    make_point(session, bob, PDL_B, name="Chez Bob", kind="consumption")
    make_point(session, bob, PDL_PROD, kind="production")
    fill_consumption(store, session, PDL_B)
    auth.logout()
    alice = signed_in()
    make_point(session, alice, PDL_A, kind="consumption")
    for url in (f"/consommation?pdl={PDL_B}", f"/production?pdl={PDL_PROD}", f"/bilan?conso={PDL_B}",
                f"/bilan?prod={PDL_PROD}", f"/api/ui/consommation.json?pdl={PDL_B}",
                f"/api/ui/production.json?pdl={PDL_PROD}", f"/api/ui/bilan.json?conso={PDL_B}&prod={PDL_PROD}",
                f"/api/ui/bilan.json?conso={PDL_A}&prod={PDL_PROD}", "/consommation?pdl=99999999999999"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Chez Bob" not in response.get_data(as_text=True)
    assert valkey.llen("interactive") == 0


def test_script_in_a_point_name_or_a_parameter_is_escaped(client, auth, session, store, celery_app, signed_in):
    evil = "<script>alert(1)</script>"
    alice = signed_in()
    make_point(session, alice, PDL_A, name=evil, kind="consumption")
    make_point(session, alice, PDL_A2, name=evil, kind="consumption")
    make_point(session, alice, PDL_PROD, kind="production", name=evil)
    fill_consumption(store, session, PDL_A)
    fill_production(store, session, PDL_PROD)
    for url in ("/consommation", f"/consommation?pdl={PDL_A}&jour={evil}&vue={evil}", "/production",
                f"/bilan?conso={PDL_A}", f"/consommation?pdl={evil}", f"/tempo?x={evil}"):
        html = client.get(url).get_data(as_text=True)
        assert evil not in html, url
    html = text_of(client.get(f"/consommation?jour={evil}"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the name, shown escaped


# -- public pages ----------------------------------------------------------------------------------


def test_tempo_counts_what_is_left_this_season(client, session):
    at = datetime(2025, 3, 14, 12, tzinfo=UTC)
    reds = [date(2025, 1, 8), date(2025, 1, 9), date(2025, 3, 14)]
    whites = [date(2024, 12, 2), date(2025, 3, 15)]
    for d in reds:
        session.add(TempoDay(day=d, colour="RED", updated_at=at, fetched_at=at))
    for d in whites:
        session.add(TempoDay(day=d, colour="WHITE", updated_at=at, fetched_at=at))
    session.add(TempoDay(day=date(2024, 3, 14), colour="RED", updated_at=at, fetched_at=at))  # last season
    session.flush()
    html = text_of(client.get("/tempo"))
    assert re.search(r'class="remaining-red">19<', html)
    assert re.search(r'class="remaining-white">41<', html)
    assert "Aujourd'hui, vendredi 14 mars 2025" in html
    today_card = html.split("Aujourd'hui")[1].split("</div>")[0]
    tomorrow_card = html.split("Demain")[1].split("</div>")[0]
    assert "Rouge" in today_card and "Blanc" in tomorrow_card
    assert "septembre 2024" in html.lower() and "août 2025" in html.lower()


def test_ecowatt_shows_four_days_by_hour(client, session):
    at = datetime(2025, 3, 14, 6, tzinfo=UTC)
    for i, level in enumerate((1, 2, 1, 3)):
        hours = [0] * 24
        hours[18] = level
        session.add(EcoWattSignal(day=date(2025, 3, 14) + timedelta(days=i), dvalue=level, message="",
                                  hvalues=hours, generated_at=at, fetched_at=at))
    session.flush()
    html = text_of(client.get("/ecowatt"))
    assert html.count('class="ecowatt-hour ') == 4 * 24
    assert "Orange : système électrique tendu" in html and "Rouge : coupures possibles" in html
    assert "Vendredi 14 mars 2025" in html


def test_france_draws_realised_against_forecast(client, session):
    at = datetime(2025, 3, 14, 12, tzinfo=UTC)
    start = datetime(2025, 3, 14, 0, tzinfo=PARIS)
    for i in range(4):
        s = start + timedelta(minutes=30 * i)
        session.add(NationalConsumption(series="REALISED", start_at=s, end_at=s + timedelta(minutes=30),
                                        value_mw=55000 + 1000 * i, updated_at=at))
        session.add(NationalConsumption(series="D-1", start_at=s, end_at=s + timedelta(minutes=30),
                                        value_mw=56000, updated_at=at))
    session.flush()
    html = text_of(client.get("/france"))
    charts = page_data(html)["charts"]
    names = [t["name"] for t in charts["france"]["traces"]]
    assert names == ["Réalisée", "Prévision de la veille"]
    assert charts["france"]["traces"][0]["y"] == [55.0, 56.0, 57.0, 58.0]
    assert "58,0 GW" in html and 'class="chart' in html


def test_faq_explains_the_enedis_errors(client):
    html = text_of(client.get("/faq"))
    for code in ("ADAM-DC-0008", "ADAM-DC-0007", "ADAM-ERR0075", "ADAM-ERR0069"):
        assert code in html
    assert "8 h" in html and "36 mois" in html and "24 mois" in html and "10 000 par heure" in html


def test_plotly_is_served_by_the_app(client):
    response = client.get("/vendor/plotly.min.js")
    try:
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"
        assert response.cache_control.max_age >= 86400 * 30
        assert b"plotly" in response.get_data()[:2000].lower()
    finally:
        response.close()


def test_pages_load_plotly_from_the_app_not_a_cdn(client, auth, session, store, celery_app, signed_in):
    alice = signed_in()
    make_point(session, alice, PDL_A, kind="consumption")
    fill_consumption(store, session, PDL_A)
    html = text_of(client.get("/consommation"))
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert any(s.startswith("/vendor/plotly.min.js") for s in scripts)
    assert all(s.startswith("/") and not s.startswith("//") for s in scripts)
    charts_js = client.get("/static/charts.js")
    assert charts_js.status_code == 200 and b"Plotly.react" in charts_js.get_data()
    charts_js.close()


# -- Content-Security-Policy -------------------------------------------------------------------

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
JAVASCRIPT_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.I)


def test_no_page_runs_inline_script_and_every_page_carries_the_policy(client, auth, session, store, valkey,
                                                                       celery_app, signed_in):
    """`script-src 'self'`: a script that is not a file this app serves would be blocked by the browser."""
    public = ["/", "/connexion", "/inscription", "/mot-de-passe-oublie", "/tempo", "/faq"]
    anonymous = {url: client.get(url) for url in public}
    alice = signed_in()
    make_point(session, alice, PDL_A, name="Appartement", kind="consumption")
    make_point(session, alice, PDL_A2, name="Maison", kind="consumption")  # two points: the selector
    make_point(session, alice, PDL_PROD, kind="production", name="Toiture")
    fill_consumption(store, session, PDL_A)
    fill_production(store, session, PDL_PROD)
    personal = ["/tableau-de-bord", "/consommation", "/production", "/bilan", "/ecowatt", "/france", "/parametres",
                "/compteurs/ajouter"]
    for url, response in [*anonymous.items(), *((url, client.get(url)) for url in personal)]:
        html = text_of(response)
        assert not INLINE_SCRIPT.search(html), (url, INLINE_SCRIPT.search(html).group(0))
        assert not INLINE_HANDLER.search(html), (url, INLINE_HANDLER.search(html).group(0))
        assert not JAVASCRIPT_URL.search(html), url
        policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
        assert policy["script-src"] == "'self'" and policy["object-src"] == "'none'", url
        assert policy["style-src"] == "'self' 'unsafe-inline'" and policy["img-src"] == "'self' data: blob:", url
        assert policy["frame-ancestors"] == "'none'", url
    html = text_of(client.get("/consommation"))
    assert "data-autosubmit" in html and '<script src="/static/selector.js"' in html
    assert '<script src="/static/dashboard.js"' in text_of(client.get("/tableau-de-bord"))
    for name in ("selector.js", "dashboard.js"):
        script = client.get(f"/static/{name}")
        assert script.status_code == 200 and script.mimetype == "text/javascript"
        script.close()


def test_personal_pages_and_json_are_never_stored(client, auth, session, store, valkey, celery_app, signed_in):
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")  # public, anonymous
    assert client.get("/healthz").headers["Cache-Control"] == "no-store"  # JSON, even anonymous
    alice = signed_in()
    make_point(session, alice, PDL_A, kind="consumption")
    fill_consumption(store, session, PDL_A)
    for url in ("/tableau-de-bord", "/tableau-de-bord/etat.json", "/consommation", f"/api/ui/consommation.json?pdl={PDL_A}",
                "/parametres", "/faq", "/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url
    plotly = client.get("/vendor/plotly.min.js")
    assert "no-store" not in plotly.headers["Cache-Control"]  # a static file stays cacheable
    plotly.close()
