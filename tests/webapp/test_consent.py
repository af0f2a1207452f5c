"""The Enedis consent flow, end to end against the sandbox over HTTP, and the dashboard it fills."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from sqlalchemy import select

from models.audit import AuditLog
from models.consents import EnedisConsent
from models.usage_points import UsagePoint
from models.users import User
from tests_helpers import queued
from webapp.main import PARIS

CUSTOMER_7 = ["64975835695673", "63695879465986", "22315546958763"]
CUSTOMER_0 = "22516914714270"


pytestmark = pytest.mark.usefixtures("sandbox")  # the settings point at it


def start(auth, customer: int | None = None) -> str:
    """Press "Ajouter mon compteur"; the consent page's URL at the sandbox."""
    response = auth.post_form("/compteurs/ajouter", {"customer": str(customer)} if customer is not None else {})
    assert response.status_code == 303
    return response.headers["Location"]


def at_sandbox(consent_url: str, decision: str = "approve", customer: int | None = None) -> str:
    """The household decides at the sandbox (its automatic path); where the browser is sent back."""
    extra = {"auto": decision, **({"customer": str(customer)} if customer is not None else {})}
    response = requests.get(f"{consent_url}&{urlencode(extra)}", allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def back(client, location: str):
    parts = urlsplit(location)
    assert parts.path == "/consent/callback"
    return client.get(f"{parts.path}?{parts.query}")


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


def points(session, email="alice@example.org") -> dict[str, UsagePoint]:
    session.expire_all()
    rows = session.scalars(select(UsagePoint).join(User, User.id == UsagePoint.user_id).where(User.email == email))
    return {p.pdl: p for p in rows}


def consents(session) -> list[EnedisConsent]:
    session.expire_all()
    return list(session.scalars(select(EnedisConsent).order_by(EnedisConsent.id)))


def test_start_page_explains_and_offers_the_sandbox_customers(client, auth):
    assert client.get("/compteurs/ajouter").status_code == 302  # login first
    auth.signup()
    page = client.get("/compteurs/ajouter").get_data(as_text=True)
    assert "Continuer vers Enedis" in page and "10 minutes" in page
    assert page.count('<option value="') == 10  # « Au hasard » and the nine customers


def test_start_sends_the_browser_to_enedis_with_a_fresh_state(client, auth, session, settings):
    auth.signup()
    url = start(auth, customer=3)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == settings.enedis_consent_url
    assert query["client_id"] == settings.enedis_client_id and query["response_type"] == "code"
    assert query["duration"] == "P1Y" and query["redirect_uri"] == "http://127.0.0.1:8000/consent/callback"
    state = query["state"]
    assert len(state) <= 100 and state[-1] == "3" and len(state) > 40
    [consent] = consents(session)
    # Only the hash is stored.
    assert consent.state_hash == hashlib.sha256(state.encode()).hexdigest() and state not in consent.state_hash
    assert consent.status == "pending" and consent.state_used_at is None
    assert timedelta(minutes=9) < consent.state_expires_at - datetime.now(UTC) <= timedelta(minutes=10)
    assert state_of(start(auth)) != state  # a new state each time


def test_approving_customer_7_adds_three_points_and_starts_their_onboarding(client, auth, session, valkey, celery_app):
    auth.signup()
    location = at_sandbox(start(auth, customer=7))
    response = back(client, location)
    assert response.status_code == 302 and response.headers["Location"] == "/tableau-de-bord"
    mine = points(session)
    assert sorted(mine) == sorted(CUSTOMER_7)
    assert all(p.status == "active" and p.kind == "unknown" for p in mine.values())
    [consent] = consents(session)
    assert consent.status == "active" and consent.prms == CUSTOMER_7 and consent.state_used_at is not None
    assert timedelta(days=364) < consent.expires_at - consent.started_at <= timedelta(days=366)
    jobs = queued(valkey)
    assert sorted(jobs, key=lambda j: j[1]["point_id"]) == sorted(
        [("releve.enedis.onboard", {"point_id": p.id}) for p in mine.values()], key=lambda j: j[1]["point_id"])
    page = client.get("/tableau-de-bord").get_data(as_text=True)
    assert "3 compteurs ajoutés" in page
    for pdl in CUSTOMER_7:
        assert f'data-pdl="{pdl}"' in page
    assert "en cours de récupération" in page and f"valable jusqu'au {consent.expires_at.astimezone(PARIS).strftime('%d/%m/%Y')}" in page


def test_refusing_adds_nothing(client, auth, session, valkey):
    auth.signup()
    consent_url = start(auth, customer=7)
    location = at_sandbox(consent_url, decision="refuse")
    assert parse_qs(urlsplit(location).query)["error"] == ["access_denied"]
    assert state_of(location) == state_of(consent_url)  # the state comes back as sent
    response = back(client, location)
    assert response.status_code == 302 and response.headers["Location"] == "/tableau-de-bord"
    assert "Vous avez refusé" in client.get("/tableau-de-bord").get_data(as_text=True)
    assert points(session) == {}
    assert [c.status for c in consents(session)] == ["refused"]
    assert valkey.llen("interactive") == 0


def test_a_forged_state_is_refused(client, auth, session):
    auth.signup()
    start(auth, customer=0)
    response = client.get(f"/consent/callback?code=x&state=forged{'1' * 40}&usage_point_id={CUSTOMER_0}")
    assert response.status_code == 400
    assert "ne correspond à aucune demande" in response.get_data(as_text=True)
    assert points(session) == {}


def test_a_state_works_once(client, auth, session, celery_app):
    auth.signup()
    location = at_sandbox(start(auth, customer=0))
    assert back(client, location).status_code == 302
    again = back(client, location)
    assert again.status_code == 400
    assert list(points(session)) == [CUSTOMER_0]


def test_a_state_is_not_reusable_from_the_same_browser_either(client, auth, session):
    """Even with the state back in the session (a stolen cookie), the database says it was used."""
    auth.signup()
    location = at_sandbox(start(auth, customer=0), decision="refuse")
    assert back(client, location).status_code == 302
    with client.session_transaction() as s:
        s["enedis_consent_state"] = state_of(location)
    assert back(client, location).status_code == 400


def test_another_users_state_is_refused(app, client, auth, session):
    auth.signup()
    location = at_sandbox(start(auth, customer=0))  # Alice's state
    bob = app.test_client()
    bob_auth = type(auth)(bob)
    bob_auth.signup(email="bob@example.org")
    start(bob_auth, customer=0)  # Bob has a state of his own in his session
    assert back(bob, location).status_code == 400
    assert points(session, "bob@example.org") == {} and points(session) == {}


def test_an_expired_state_is_refused(client, auth, session):
    auth.signup()
    location = at_sandbox(start(auth, customer=0))
    [consent] = consents(session)
    consent.state_expires_at = datetime.now(UTC) - timedelta(seconds=1)
    session.commit()
    response = back(client, location)
    assert response.status_code == 400 and "expiré" in response.get_data(as_text=True)
    assert points(session) == {} and consents(session)[0].status == "expired"


def test_comma_separated_prms_are_accepted(client, auth, session, celery_app):
    auth.signup()
    state = state_of(start(auth))
    response = client.get(f"/consent/callback?code=x&state={state}&usage_point_id=12345678901234,10284856584123")
    assert response.status_code == 302
    assert sorted(points(session)) == ["10284856584123", "12345678901234"]


@pytest.mark.parametrize("prms", ["1234567890123", "12345678901234;abc", "", "12345678901234;;"])
def test_malformed_prms_are_refused(client, auth, session, prms):
    auth.signup()
    state = state_of(start(auth))
    response = client.get(f"/consent/callback?code=x&state={state}&usage_point_id={prms}")
    assert response.status_code == 400 and "14 chiffres" in response.get_data(as_text=True)
    assert points(session) == {}


def test_a_tampered_list_of_many_prms_is_refused(client, auth, session):
    auth.signup()
    state = state_of(start(auth))
    many = ";".join(f"{n:014d}" for n in range(11))
    response = client.get(f"/consent/callback?code=x&state={state}&usage_point_id={many}")
    assert response.status_code == 400 and points(session) == {}


def test_a_callback_never_moves_a_meter_another_account_holds(app, client, auth, session, valkey, celery_app, mails):
    """The probe of issue 10: B starts a consent, skips the consent page, comes back with A's PDL."""
    from models.keys import progress_key
    from webapp.data import _cache

    auth.signup()
    assert back(client, at_sandbox(start(auth, customer=0))).status_code == 302
    alice = session.scalar(select(User).where(User.email == "alice@example.org"))
    [point] = points(session).values()
    s = app.config["RELEVE_SETTINGS"]
    cache = _cache(s, 0)
    cache.put(alice.id, "contract", {"subscribed_power": "9 kVA"}, point=point.id)
    valkey.hset(progress_key(point.id), mapping={"total": 12, "done": 12})
    valkey.delete("interactive")

    bob = app.test_client()
    bob_auth = type(auth)(bob)
    bob_auth.signup(email="bob@example.org")
    state = state_of(start(bob_auth, customer=4))  # the 303 is not followed: no consent page
    response = bob.get(f"/consent/callback?code=x&state={state}&usage_point_id={CUSTOMER_0}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"Le compteur {CUSTOMER_0} est suivi par un autre compte" in page and "Demander le transfert" in page
    # A keeps the meter, its cache and its progress; B gets nothing, and nothing is fetched for B.
    assert list(points(session)) == [CUSTOMER_0] and points(session)[CUSTOMER_0].id == point.id
    assert points(session, "bob@example.org") == {}
    assert cache.get(alice.id, "contract", point=point.id) == {"subscribed_power": "9 kVA"}
    assert valkey.hgetall(progress_key(point.id)) == {b"total": b"12", b"done": b"12"}
    assert valkey.llen("interactive") == 0
    assert bob.get("/tableau-de-bord/etat.json").get_json()["points"] == []
    assert not [m for m in mails.all() if m["To"] == "alice@example.org" and "transf" in m["Subject"]]
    assert session.scalar(select(AuditLog).where(AuditLog.action == "usage_point.transferred")) is None
    # The claim is audited: account, PRMs, address, state id, outcome.
    bob_id = session.scalar(select(User.id).where(User.email == "bob@example.org"))
    consent_id = session.scalar(select(EnedisConsent.id).where(EnedisConsent.user_id == bob_id))
    claim = session.scalar(select(AuditLog).where(AuditLog.action == "consent.callback", AuditLog.actor_id == bob_id))
    assert claim.ip_address == "127.0.0.1" and claim.target == f"consent:{consent_id}"
    assert claim.details == {"outcome": "accepted", "state_id": consent_id, "prms": [CUSTOMER_0],
                             "outcomes": {CUSTOMER_0: "held_elsewhere"}}


def test_every_callback_is_audited_even_refused_ones(client, auth, session):
    auth.signup()
    alice = session.scalar(select(User.id).where(User.email == "alice@example.org"))
    start(auth, customer=0)
    client.get(f"/consent/callback?code=x&state=forged{'1' * 40}&usage_point_id={CUSTOMER_0}")
    state = state_of(start(auth))
    assert client.get(f"/consent/callback?code=x&state={state}&usage_point_id=12345678901234;abc").status_code == 400
    state = state_of(start(auth))
    assert client.get(f"/consent/callback?state={state}&error=access_denied").status_code == 302
    state = state_of(start(auth))
    huge = client.get(f"/consent/callback?code=x&state={state}&usage_point_id=1%00{'9' * 1_000_000}")
    assert huge.status_code == 400
    session.expire_all()
    rows = list(session.scalars(select(AuditLog).where(AuditLog.action == "consent.callback", AuditLog.actor_id == alice)
                                .order_by(AuditLog.id)))
    assert [r.details["outcome"] for r in rows] == ["unknown_state", "invalid_prms", "denied", "invalid_prms"]
    assert rows[0].details == {"outcome": "unknown_state", "state_id": None, "prms": [CUSTOMER_0]}
    assert rows[1].details["prms"] is None and rows[1].details["raw_length"] == len("12345678901234;abc")
    assert rows[3].details["raw_length"] == 1_000_002 and all(r.ip_address == "127.0.0.1" for r in rows)


def test_a_pdl_whose_last_holder_is_gone_is_offered_for_review_not_added(client, auth, session, celery_app):
    from models.usage_points import KnownPdl

    session.add(KnownPdl(pdl=CUSTOMER_0, last_holder_id=None))  # its holder deleted their account
    session.commit()
    auth.signup()
    response = back(client, at_sandbox(start(auth, customer=0)))
    assert response.status_code == 200 and "a déjà été suivi par un autre compte" in response.get_data(as_text=True)
    assert points(session) == {}


def test_renewing_reactivates_the_users_own_point(client, auth, session, celery_app):
    auth.signup()
    assert back(client, at_sandbox(start(auth, customer=0))).status_code == 302
    point = points(session)[CUSTOMER_0]
    point.status, point.status_reason, point.name = "consent_needed", "ADAM-DC-0008", "Maison"
    session.commit()
    page = client.get("/tableau-de-bord").get_data(as_text=True)
    assert "expiré ou a été retiré" in page and "Renouveler mon consentement" in page
    assert back(client, at_sandbox(start(auth, customer=0))).status_code == 302
    point = points(session)[CUSTOMER_0]
    assert point.status == "active" and point.status_reason == "" and point.name == "Maison"


def test_starting_needs_the_csrf_token(client, auth, session):
    auth.signup()
    assert client.post("/compteurs/ajouter", data={"customer": "0"}).status_code == 400
    assert consents(session) == []


def test_dashboard_explains_a_moved_meter_and_escapes_names(client, auth, session):
    auth.signup()
    alice = session.scalar(select(User).where(User.email == "alice@example.org"))
    session.add(UsagePoint(pdl=CUSTOMER_0, user_id=alice.id, name="<script>alert(1)</script>",
                           status="consent_needed", status_reason="ADAM-DC-0007"))
    session.commit()
    page = client.get("/tableau-de-bord").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "plus titulaire" in page and "Renouveler mon consentement" in page


def test_state_json_lists_only_own_points_with_progress_and_contract(app, client, auth, session, valkey):
    from models.keys import progress_key
    from webapp.data import _cache

    auth.signup()
    bob = app.test_client()
    bob_auth = type(auth)(bob)
    bob_auth.signup(email="bob@example.org")
    users = {u.email: u for u in session.scalars(select(User))}
    mine = UsagePoint(pdl=CUSTOMER_0, user_id=users["alice@example.org"].id, kind="consumption")
    theirs = UsagePoint(pdl=CUSTOMER_7[0], user_id=users["bob@example.org"].id)
    session.add_all([mine, theirs])
    session.commit()
    s = app.config["RELEVE_SETTINGS"]
    _cache(s, 0).put(
        mine.user_id, "contract", {"subscribed_power": "9 kVA", "offpeak_hours": "HC (22H00-6H00)",
                                   "distribution_tariff": "BTINFCUST"}, point=mine.id)
    valkey.hset(progress_key(mine.id), mapping={"total": 50, "done": 21})

    state = client.get("/tableau-de-bord/etat.json").get_json()
    assert state["pending"] is True
    [point] = state["points"]
    assert point["pdl"] == CUSTOMER_0 and point["status"] == "active"
    assert point["progress"] == {"total": 50, "done": 21, "percent": 42}
    assert point["contract"]["subscribed_power"] == "9 kVA"
    page = client.get("/tableau-de-bord").get_data(as_text=True)
    assert "Historique : 42 %" in page and 'class="subscribed-power">9 kVA<' in page
    assert 'data-pending="true"' in page

    valkey.hset(progress_key(mine.id), mapping={"total": 50, "done": 50})
    state = client.get("/tableau-de-bord/etat.json").get_json()
    assert state["pending"] is False and state["points"][0]["progress"]["percent"] == 100
    assert 'data-pending="false"' in client.get("/tableau-de-bord").get_data(as_text=True)
    assert [p["pdl"] for p in bob.get("/tableau-de-bord/etat.json").get_json()["points"]] == [CUSTOMER_7[0]]


def test_dashboard_offers_renewal_when_the_consent_ends_within_a_month(client, auth, session):
    from datetime import UTC, datetime, timedelta

    from models.consents import EnedisConsent

    auth.signup()
    alice = session.scalar(select(User).where(User.email == "alice@example.org"))
    now = datetime.now(UTC)
    session.add(UsagePoint(pdl=CUSTOMER_0, user_id=alice.id))
    session.add(EnedisConsent(user_id=alice.id, state_hash="a" * 64, status="active", prms=[CUSTOMER_0],
                              started_at=now - timedelta(days=350), expires_at=now + timedelta(days=15),
                              state_expires_at=now - timedelta(days=350)))
    session.commit()
    page = client.get("/tableau-de-bord").get_data(as_text=True)
    assert "se termine le" in page and "Renouveler mon consentement" in page
    consent = session.scalar(select(EnedisConsent).where(EnedisConsent.user_id == alice.id))
    consent.expires_at = now + timedelta(days=200)
    session.commit()
    assert "Renouveler mon consentement" not in client.get("/tableau-de-bord").get_data(as_text=True)
