"""A person's first visit, in headless Chromium (Debian's, driven by Playwright).

Everything is real: the web app serves HTTP from a thread, a `releve worker` process
fetches from the sandbox over HTTP, PostgreSQL and Valkey are the test servers. The
screenshot is kept in `artifacts/` (ignored by git, kept by CI).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from models.accounts import create_admin
from models.audit import AuditLog
from models.contributions import Contribution
from models.db import session_scope
from models.offers import Offer
from models.settings import Settings
from models.usage_points import KnownPdl
from models.users import User
from factories import unique_email
from tests_helpers import Processes, empty_public_tables, free_port, upstream_env

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
PDL = "22516914714270"  # sandbox customer 0: consumption, load curve on
CONTRIBUTED_OFFER = "Offre du parcours navigateur"


@pytest.fixture
def gateway(env_for, valkey_databases, database_url, outbox, sandbox, accounts):
    from werkzeug.serving import make_server

    from webapp import create_app

    url = valkey_databases.lease()
    port = free_port()
    env = env_for(VALKEY_URL=url, CELERY_BROKER_URL=url, ENEDIS_REDIRECT_URI=f"http://127.0.0.1:{port}/consent/callback",
                  PUBLIC_URL=f"http://127.0.0.1:{port}", MAIL_OUTBOX_DIR=str(outbox), **upstream_env(sandbox.url))
    settings = Settings.from_env(env)
    processes = Processes()
    worker = processes.start(["worker", "--concurrency", "2", "--hostname", "browser@%h"], env)
    server = make_server("127.0.0.1", port, create_app({"RELEVE_SETTINGS": settings}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    email = unique_email("navigateur")
    accounts.forget_on_cleanup(email)  # signed up in the browser
    admin_email, admin_password = unique_email("premier-admin"), "le mot de passe de l'admin"
    with session_scope(database_url) as session:  # the first admin, as `make run` creates it
        create_admin(session, admin_email, admin_password)
    accounts.forget_on_cleanup(admin_email)
    try:
        yield f"http://127.0.0.1:{port}", email, worker, (admin_email, admin_password)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        processes.stop_all()
        empty_public_tables(database_url)
        valkey_databases.release(url)
        with session_scope(database_url) as session:
            # The PDL would stay known, last held by a deleted account: later claims would wait for review.
            session.execute(delete(KnownPdl).where(KnownPdl.pdl == PDL))
            # The contribution, the offer its approval created and their audit rows: other tests see the
            # catalogue as shipped and a journal with no admin action in it.
            admin_id = session.scalar(select(User.id).where(User.email == admin_email))
            session.execute(delete(AuditLog).where(AuditLog.target.like("contribution:%")
                                                   | (AuditLog.actor_id == admin_id)))
            session.execute(delete(Contribution))
            session.execute(delete(Offer).where(Offer.name == CONTRIBUTED_OFFER, Offer.owner_id.is_(None)))


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        message = "chromium is not installed (apt-get install chromium; .ci/run does it)"
        if os.environ.get("RELEVE_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


@pytest.mark.timeout(900)
def test_sign_up_consent_dashboard_chart_costs_simulation_and_a_contribution(gateway, browser, outbox):
    base, email, worker, (admin_email, admin_password) = gateway
    password = "un mot de passe solide"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(30_000)
    # Anything the Content-Security-Policy blocks: the browser's console message and the DOM event
    # (reported through a binding, which survives navigations; init scripts are not subject to the CSP).
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.expose_function("reportCspViolation", lambda text: blocked.append(text))
    page.add_init_script("document.addEventListener('securitypolicyviolation', function (e) {"
                         " window.reportCspViolation(e.violatedDirective + ' ' + e.blockedURI); });")

    page.goto(f"{base}/inscription")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.fill("input[name=confirm]", password)
    page.click("form [type=submit]")
    page.wait_for_url(f"{base}/connexion")  # sign-up signs nobody in: the same answer for a known address
    assert "Vérifiez votre boîte mail" in page.content()
    # The worker, not the web request, delivered the verification mail (queue `mail`).
    deadline = time.monotonic() + 60
    while not (outbox.exists() and any(outbox.glob("*.eml"))):
        assert time.monotonic() < deadline and worker.poll() is None, "no verification mail from the worker"
        time.sleep(0.2)

    def sign_in():
        page.goto(f"{base}/connexion")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("form [type=submit]")
        page.wait_for_url(f"{base}/tableau-de-bord")

    sign_in()
    page.click("button:has-text('Se déconnecter')")
    page.wait_for_url(f"{base}/")
    sign_in()

    page.goto(f"{base}/compteurs/ajouter")
    page.select_option("select[name=customer]", "0")
    page.click("button:has-text('Continuer vers Enedis')")
    page.wait_for_url("**/dataconnect/v1/oauth2/authorize**")  # the sandbox's consent page
    page.click("button:has-text(\"J'accepte\")")
    page.wait_for_url(f"{base}/tableau-de-bord**")

    card = page.locator(f"[data-pdl='{PDL}']")
    card.wait_for()
    assert page.evaluate("document.getElementById('points').dataset.pending") == "true"
    # The card fills in by itself once the worker has fetched the contract (no reload by the test):
    # dashboard.js, a static file, polls the state.
    page.locator(f"[data-pdl='{PDL}'] .subscribed-power:has-text('kVA')").wait_for(timeout=90_000)
    assert worker.poll() is None

    page.goto(f"{base}/consommation?pdl={PDL}")
    page.locator(".chart .main-svg").first.wait_for(timeout=90_000)  # plotly drew a chart
    assert "Consommation" in page.title()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "parcours-consommation.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert "script-src 'self'" in page.evaluate(
        "fetch(location.href).then(r => r.headers.get('Content-Security-Policy'))")

    # Consommation (€), from the dashboard card once the history is in: the offer the contract suggests (it has
    # off-peak hours), its cost per month drawn by plotly.
    page.goto(f"{base}/tableau-de-bord")
    card = page.locator(f"[data-pdl='{PDL}']")
    card.locator(".progress-text:has-text('100 %')").wait_for(timeout=300_000)
    card.locator("a:has-text('Consommation (€)')").click()
    page.wait_for_url(f"{base}/consommation-euros?pdl={PDL}")
    page.locator("#offer-choice:has-text('Tarif Bleu – Heures Creuses')").wait_for()
    page.locator("#summary [data-chart=cost_months] .main-svg").first.wait_for(timeout=90_000)
    page.locator("#summary [data-chart=cost_days] .main-svg").first.wait_for()
    assert "Total sur 12 mois" in page.content() and "Tarifs appliqués" not in page.title()
    # The household confirms its offer in the settings, and is brought back.
    page.click("#offer-choice a:has-text('Confirmer ou changer')")
    page.select_option("select[name=offer]", label="EDF – Tarif Bleu – Heures Creuses")
    page.click("#meter-offer [type=submit]")
    page.wait_for_url(f"{base}/consommation-euros?pdl={PDL}")
    page.locator("#offer-choice:has-text('Offre confirmée par vous')").wait_for()
    page.screenshot(path=str(ARTIFACTS / "parcours-consommation-euros.png"), full_page=True)

    # The simulator, from the navigation: started by the button, run by the worker, polled until its ranking shows.
    page.click("header nav a:has-text('Simulateur')")
    page.wait_for_url(f"{base}/simulateur")
    page.click("#simulate-form [type=submit]")
    page.wait_for_url(f"{base}/simulateur?pdl={PDL}")
    page.locator("#simulation-result").wait_for(timeout=180_000)  # no reload: charts.js polls the JSON twin
    page.locator("#summary [data-chart=ranking] .main-svg").first.wait_for()
    rows = page.locator("#simulation-result table.ranking tbody tr")
    assert rows.count() >= 3
    assert page.locator("#simulation-result tr.current").count() == 1  # the offer confirmed above
    assert "comparées sur les" in page.locator("#simulation-result .compared-period").inner_text()
    page.screenshot(path=str(ARTIFACTS / "parcours-simulateur.png"), full_page=True)
    assert worker.poll() is None
    assert blocked == []  # the policy blocked nothing: every script is a file, Plotly's styles are allowed

    # The household proposes an offer ("Contribuer", in the navigation); the first admin approves it.
    page.click("header nav a:has-text('Contribuer')")
    page.wait_for_url(f"{base}/contribuer")
    page.select_option("#propose select[name=option]", "BASE")
    page.click("#propose form:has(select[name=option]) button")
    page.wait_for_url(f"{base}/contribuer/offre?option=BASE")
    page.select_option("select[name=provider]", label="EDF")
    page.fill("input[name=name]", CONTRIBUTED_OFFER)
    page.fill("input[name=valid_from]", "2026-09-01")
    page.fill("input[name=price_sheet_url]", "https://example.org/grille-base.pdf")
    page.fill("input[name=fixed_6]", "15,50")
    page.fill("input[name=base_6]", "7")  # euros typed for cents: refused, in French
    page.click("#proposal [type=submit]")
    page.locator("text=7 € par kWh est hors de la plage admise").wait_for()
    page.fill("input[name=base_6]", "0,1899")
    page.click("#proposal [type=submit]")
    page.wait_for_url(re.compile(r".*/contribuer/[0-9]+$"))
    assert "En attente de modération" in page.content()
    page.click("button:has-text('Se déconnecter')")
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/connexion")
    page.fill("input[name=email]", admin_email)
    page.fill("input[name=password]", admin_password)
    page.click("form [type=submit]")
    page.wait_for_url(f"{base}/tableau-de-bord")
    page.click("header nav a:has-text('Administration')")
    page.click("nav.admin-nav a:has-text('Contributions')")
    page.wait_for_url(f"{base}/admin/contributions")
    page.click("table.contributions a:has-text('n°')")
    assert "nouvelle" in page.locator("table.diff").inner_text()  # the diff: a new offer, its 6 kVA prices
    page.click("#approve [type=submit]")
    page.locator(".flash-success:has-text('Approuvée')").wait_for()
    assert "Approuvée" in page.locator(".status").inner_text()
    page.click(f"a:has-text('{CONTRIBUTED_OFFER}')")
    history = page.locator("table.price-history tr[data-kva='6']")
    assert history.count() == 1 and "0.189900" in history.inner_text()
    assert "https://example.org/grille-base.pdf" in history.inner_text()
    page.screenshot(path=str(ARTIFACTS / "parcours-contribution-approuvee.png"), full_page=True)
    assert blocked == []
