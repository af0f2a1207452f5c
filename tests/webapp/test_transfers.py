"""Meters changing hands, end to end: callbacks, transfer requests, the holder's answer, the
consent_needed hook, the administrator's CLI, and what a transfer forgets.

Everything is committed for real (tasks and `releve` processes read the database through
their own connections): each test uses PDLs of its own and removes its accounts after.
The sandbox answers over HTTP as Enedis does: only PRMs that consented are readable.
"""

from __future__ import annotations

import base64
import json
import random
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
import requests
from sqlalchemy import delete, select

from models.audit import AuditLog
from models.cache import EncryptedCache
from models.db import session_scope
from models.transfers import TransferRequest, TransferStateError
from models.usage_points import KnownPdl, UsagePoint
from models.users import Role, User
from pipeline import tasks
from fixtures.web import csrf_of
from tests_helpers import deliver_queued_mails

RELEVE = str(Path(sys.executable).parent / "releve")
# The module's sandbox keeps its default register (no REGISTER_ALL): an unregistered PRM
# answers ADAM-DC-0008, as at Enedis.


@pytest.fixture
def settings_env():
    return {"ENEDIS_RATE_PER_SECOND": "100"}


@pytest.fixture
def world(settings, database_url, valkey, sandbox, accounts):
    """A web app on committed sessions, the PDLs and accounts a test makes, and a cleanup."""
    from webapp import create_app

    w = World(create_app({"RELEVE_SETTINGS": settings, "TESTING": True}), settings, database_url, valkey, sandbox,
              accounts)
    yield w
    w.app.extensions["celery"].close()
    with session_scope(database_url) as session:
        session.execute(delete(KnownPdl).where(KnownPdl.pdl.in_(w.pdls)))
        session.execute(delete(AuditLog).where(AuditLog.target.in_(w.pdls)))


class World:
    def __init__(self, app, settings, database_url, valkey, sandbox, accounts):
        self.app, self.settings, self.database_url, self.valkey, self.sandbox = app, settings, database_url, valkey, sandbox
        self.accounts = accounts  # deletes the accounts signed up here after the test
        self.tag = f"{random.getrandbits(32):08x}"
        self.pdls: list[str] = []
        self.cache = EncryptedCache.from_settings(redis.Redis.from_url(settings.valkey_url), settings)

    def task(self, name: str):
        """The task `name` bound to the app's Celery app (the test's settings)."""
        return self.app.extensions["celery"].tasks[name]

    def pdl(self) -> str:
        pdl = f"97{random.randrange(10**12):012d}"
        self.pdls.append(pdl)
        return pdl

    def account(self, name: str) -> Browser:
        email = f"{name}-{self.tag}@example.org"
        self.accounts.forget_on_cleanup(email)
        browser = Browser(self.app.test_client(), email)
        response = browser.post_form("/inscription", {"email": email, "password": "correct horse battery",
                                                      "confirm": "correct horse battery"})
        assert response.status_code in (302, 303), response.get_data(as_text=True)
        # Sign-up signs nobody in (it answers the same for a known address): sign in.
        signed_in = browser.post_form("/connexion", {"email": email, "password": "correct horse battery"})
        assert signed_in.status_code in (302, 303), signed_in.get_data(as_text=True)
        with session_scope(self.database_url) as session:
            browser.id = session.scalar(select(User.id).where(User.email == email))
        return browser

    def consented(self, pdl: str) -> None:
        """The household of `pdl` consents at Enedis to this application (the sandbox's register)."""
        answer = requests.post(f"{self.sandbox.url}/_sandbox/consents", timeout=10,
                               json={"client_id": self.settings.enedis_client_id, "prms": [pdl]})
        assert answer.status_code == 201

    def points(self) -> dict[str, tuple[int, int, str]]:
        """pdl -> (point id, holder id, status) for this test's PDLs."""
        with session_scope(self.database_url) as session:
            rows = session.execute(select(UsagePoint.pdl, UsagePoint.id, UsagePoint.user_id, UsagePoint.status)
                                   .where(UsagePoint.pdl.in_(self.pdls)))
            return {pdl: (pid, uid, status) for pdl, pid, uid, status in rows}

    def requests_of(self, pdl: str) -> list[TransferRequest]:
        with session_scope(self.database_url) as session:
            rows = list(session.scalars(select(TransferRequest).where(TransferRequest.pdl == pdl)
                                        .order_by(TransferRequest.id)))
            session.expunge_all()
            return rows

    def queued(self, queue: str = "interactive") -> list[tuple[str, dict]]:
        out = []
        for raw in self.valkey.lrange(queue, 0, -1):
            message = json.loads(raw)
            _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            out.append((message["headers"]["task"], kwargs))
        return out

    def audit(self, action: str, pdl: str) -> list[AuditLog]:
        with session_scope(self.database_url) as session:
            rows = list(session.scalars(select(AuditLog).where(AuditLog.action == action, AuditLog.target == pdl)
                                        .order_by(AuditLog.id)))
            session.expunge_all()
            return rows

    def env(self, **extra) -> dict[str, str]:
        import os

        env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "RELEVE_", "ENEDIS_", "RTE_"))}
        s = self.settings
        env.update(RELEVE_ENV="test", DATABASE_URL=self.database_url, VALKEY_URL=s.valkey_url,
                   RELEVE_MASTER_KEY=base64.urlsafe_b64encode(s.master_key).decode(), SECRET_KEY=s.secret_key,
                   MAIL_OUTBOX_DIR=s.mail_outbox_dir, ENEDIS_API_URL=s.enedis_api_url, **extra)
        return env

    def releve(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([RELEVE, *args], env=self.env(), capture_output=True, text=True, timeout=120)


class Browser:
    def __init__(self, client, email: str):
        self.client, self.email, self.id = client, email, 0

    def csrf(self, url: str = "/tableau-de-bord") -> str:
        return csrf_of(self.client.get(url).get_data(as_text=True))

    def post_form(self, url: str, data: dict, page: str | None = None):
        return self.client.post(url, data={**data, "csrf_token": self.csrf(page or url)})

    def callback(self, pdl: str, customer: int = 4):
        """Press "Ajouter mon compteur", never see the consent page, come back with `pdl` (a claim)."""
        started = self.post_form("/compteurs/ajouter", {"customer": str(customer)})
        assert started.status_code == 303
        state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
        return self.client.get(f"/consent/callback?code=x&state={state}&usage_point_id={pdl}")

    def ask(self, offer_page: str, pdl: str):
        """Press "Demander le transfert" on the callback's page."""
        consent = re.search(rf'name="consent" value="(\d+)">\s*<input type="hidden" name="pdl" value="{pdl}"',
                            offer_page).group(1)
        token = csrf_of(offer_page)
        return self.client.post("/transferts/demander", data={"consent": consent, "pdl": pdl, "csrf_token": token})


def mails_to(world: World, outbox: Path, email: str) -> list[tuple[str, str]]:
    """Mails to `email` in the outbox, once the mails still queued are delivered (a worker's job)."""
    from email import message_from_bytes, policy

    deliver_queued_mails(world.app.extensions["celery"])
    found = []
    for path in sorted(outbox.glob("*.eml")) if outbox.exists() else []:
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        if mail["To"] == email:
            found.append((str(mail["Subject"]), mail.get_body(preferencelist=("plain",)).get_content()))
    return found


def holds(world: World, browser: Browser, pdl: str) -> int:
    """`browser`'s account adds `pdl` with a real consent; its point id."""
    world.consented(pdl)
    assert browser.callback(pdl).status_code == 302
    point_id, holder, status = world.points()[pdl]
    assert holder == browser.id and status == "active"
    return point_id


def requested(world: World, browser: Browser, pdl: str) -> TransferRequest:
    """`browser`'s account claims `pdl` (held by another) and asks for its transfer."""
    offer = browser.callback(pdl)
    page = offer.get_data(as_text=True)
    assert offer.status_code == 200 and f"Le compteur {pdl} est suivi par un autre compte" in page
    asked = browser.ask(page, pdl)
    assert asked.status_code == 303, asked.get_data(as_text=True)
    [request] = [r for r in world.requests_of(pdl) if r.requester_id == browser.id and r.status == "pending"]
    assert asked.headers["Location"] == f"/transferts/{request.id}"
    return request


def make_admin(world: World, browser: Browser) -> None:
    with session_scope(world.database_url) as session:
        user = session.get(User, browser.id)
        user.roles.append(session.scalar(select(Role).where(Role.name == "admin")))


def give_history(world: World, user_id: int, point_id: int) -> None:
    """What a holder has after its backfill: cached days and contract, progress at 100 %, dedupe keys."""
    world.cache.put(user_id, "contract", {"subscribed_power": "9 kVA"}, point=point_id)
    world.cache.put_days(user_id, point_id, "daily_consumption", {date(2026, 11, 1): {"value": 1000}})
    world.valkey.hset(f"releve:progress:{point_id}", mapping={"total": 12, "done": 12})
    world.valkey.sadd(f"releve:progress:{point_id}:done", "daily_consumption:2025-11-25:2026-11-25")
    world.valkey.set(f"releve:once:fetch:{point_id}:daily_consumption:2025-11-25:2026-11-25", "1", ex=3600)


def keys_of_point(world: World, user_id: int, point_id: int) -> list[bytes]:
    return (world.valkey.keys(f"releve:c:{user_id}:p{point_id}:*")
            + world.valkey.keys(f"releve:progress:{point_id}*") + world.valkey.keys(f"releve:once:fetch:{point_id}:*"))


# -- the sandbox stops hiding the takeover ------------------------------------------------------

def test_a_pdl_that_never_consented_is_not_activated(world):
    """The callback accepts the claim of a PDL nobody holds, but Enedis (the sandbox) refuses its data."""
    onboard = world.task(tasks.ONBOARD)
    bob = world.account("bob")
    pdl = "98765432109876"
    world.pdls.append(pdl)
    assert bob.callback(pdl).status_code == 302
    point_id, holder, _ = world.points()[pdl]
    assert holder == bob.id and ("releve.enedis.onboard", {"point_id": point_id}) in world.queued()
    result = onboard.apply(kwargs={"point_id": point_id}).get()
    assert result == {"status": "consent-needed", "code": "ADAM-DC-0008"}
    assert world.points()[pdl][2] == "consent_needed"
    assert keys_of_point(world, bob.id, point_id) == []  # nothing read, nothing planned
    state = bob.client.get("/tableau-de-bord/etat.json").get_json()
    [card] = [p for p in state["points"] if p["pdl"] == pdl]
    assert card["status"] == "consent_needed" and card["progress"]["total"] is None


# -- the holder refuses --------------------------------------------------------------------------

def test_the_holder_is_mailed_and_refuses(world, outbox):
    alice, bob, carol = world.account("alice"), world.account("bob"), world.account("carol")
    pdl = world.pdl()
    point_id = holds(world, alice, pdl)
    request = requested(world, bob, pdl)
    assert request.holder_id == alice.id and request.status == "pending"
    assert world.points()[pdl] == (point_id, alice.id, "active")  # asking moves nothing
    [(subject, body)] = mails_to(world, outbox, alice.email)[-1:]
    assert "demande le transfert" in subject and f"/transferts/{request.id}" in body
    assert world.audit("transfer.requested", pdl)[0].actor_id == bob.id

    # Only the two parties see it; only the holder may refuse, with a CSRF token.
    assert carol.client.get(f"/transferts/{request.id}").status_code == 404
    assert bob.post_form(f"/transferts/{request.id}/refuser", {}, page=f"/transferts/{request.id}").status_code == 404
    assert alice.client.post(f"/transferts/{request.id}/refuser").status_code == 400  # no CSRF token
    page = alice.client.get(f"/transferts/{request.id}").get_data(as_text=True)
    assert "Refuser le transfert" in page and bob.email not in page
    refused = alice.post_form(f"/transferts/{request.id}/refuser", {}, page=f"/transferts/{request.id}")
    assert refused.status_code == 303
    [request] = world.requests_of(pdl)
    assert (request.status, request.resolution, request.decided_by_id) == ("refused", "refused_by_holder", alice.id)
    assert world.points()[pdl] == (point_id, alice.id, "active")
    assert any("refusée" in body for _, body in mails_to(world, outbox, bob.email))
    # Decided once: neither party can decide again, and the requester cannot ask again at once.
    again = alice.post_form(f"/transferts/{request.id}/accepter", {}, page=f"/transferts/{request.id}")
    assert again.status_code == 409 and "déjà été traitée" in again.get_data(as_text=True)
    offer = bob.callback(pdl).get_data(as_text=True)
    retry = bob.ask(offer, pdl)
    assert retry.status_code == 409 and "refusée" in retry.get_data(as_text=True)
    assert len(world.requests_of(pdl)) == 1


def test_the_requester_cancels_and_the_holder_accepts(world, outbox):
    alice, bob = world.account("alice"), world.account("bob")
    pdl = world.pdl()
    holds(world, alice, pdl)
    request = requested(world, bob, pdl)
    assert alice.post_form(f"/transferts/{request.id}/annuler", {}, page=f"/transferts/{request.id}").status_code == 404
    assert bob.post_form(f"/transferts/{request.id}/annuler", {}, page=f"/transferts/{request.id}").status_code == 303
    assert world.requests_of(pdl)[0].resolution == "cancelled_by_requester"
    request = requested(world, bob, pdl)
    accepted = alice.post_form(f"/transferts/{request.id}/accepter", {}, page=f"/transferts/{request.id}")
    assert accepted.status_code == 303
    assert world.points()[pdl][1] == bob.id
    assert world.requests_of(pdl)[-1].resolution == "accepted_by_holder"


# -- silence, then the holder's access ends ------------------------------------------------------

def test_a_request_completes_when_the_holders_consent_is_gone_and_the_old_holder_is_forgotten(world, outbox):
    fetch_window, onboard = world.task(tasks.FETCH_WINDOW), world.task(tasks.ONBOARD)
    holder_consent_gone = world.task(tasks.HOLDER_CONSENT_GONE)
    alice, bob = world.account("alice"), world.account("bob")
    pdl = world.pdl()
    old_point = holds(world, alice, pdl)
    give_history(world, alice.id, old_point)
    assert "Historique : 100 %" in alice.client.get("/tableau-de-bord").get_data(as_text=True)
    request = requested(world, bob, pdl)
    world.valkey.delete("interactive")

    # Bob's consent covers the PDL now; Alice's access ends (the next call for it is refused).
    world.sandbox.state.add_fault("revoke", api="enedis", prm=pdl, calls=1, path="/metering_data_dc/")
    end = datetime.now(UTC).date()
    fetch_window.apply(kwargs=dict(point_id=old_point, series="daily_consumption",
                                   start=(end - timedelta(days=3)).isoformat(), end=end.isoformat())).get()
    assert world.points()[pdl] == (old_point, alice.id, "consent_needed")
    assert ("releve.transfers.holder_consent_gone", {"pdl": pdl}) in world.queued()

    assert holder_consent_gone.apply(kwargs={"pdl": pdl}).get()["status"] == "transferred"
    new_point, holder, status = world.points()[pdl]
    assert holder == bob.id and status == "active" and new_point != old_point
    [request] = world.requests_of(pdl)
    assert (request.status, request.resolution) == ("completed", "holder_consent_gone")
    # Everything of Alice's for that point is gone: cache, progress, dedupe keys.
    assert keys_of_point(world, alice.id, old_point) == []
    assert world.cache.get(alice.id, "contract", point=old_point) is None
    assert pdl not in alice.client.get("/tableau-de-bord").get_data(as_text=True)
    # Bob's card does not claim a history it never fetched; onboarding runs and enqueues at once.
    assert "Historique : 100 %" not in bob.client.get("/tableau-de-bord").get_data(as_text=True)
    assert ("releve.enedis.onboard", {"point_id": new_point}) in world.queued()
    world.valkey.delete("backfill")
    assert onboard.apply(kwargs={"point_id": new_point}).get()["status"] == "ok"
    progress = bob.client.get("/tableau-de-bord/etat.json").get_json()["points"][0]["progress"]
    assert progress["total"] > 0 and progress["done"] == 0
    assert world.valkey.llen("backfill") == progress["total"]  # every window enqueued again, none deduped away
    # Both parties are told; the transfer is in the audit log and in `releve audit transfers`.
    assert any("a été transféré" in subject for subject, _ in mails_to(world, outbox, alice.email))
    assert any("rattaché à votre compte" in subject for subject, _ in mails_to(world, outbox, bob.email))
    [moved] = world.audit("usage_point.transferred", pdl)
    assert moved.details == {"from_user": alice.id, "to_user": bob.id, "request_id": request.id,
                             "resolution": "holder_consent_gone", "old_point_id": old_point, "new_point_id": new_point}
    listed = world.releve("audit", "transfers")
    assert listed.returncode == 0, listed.stderr
    [line] = [line for line in listed.stdout.splitlines() if pdl in line]
    assert f"from {alice.email} (#{alice.id})" in line and f"to {bob.email} (#{bob.id})" in line
    assert "how holder_consent_gone" in line and f"request #{request.id}" in line


def test_two_requesters_wait_for_an_administrator(world):
    holder_consent_gone = world.task(tasks.HOLDER_CONSENT_GONE)
    alice, bob, carol = world.account("alice"), world.account("bob"), world.account("carol")
    pdl = world.pdl()
    holds(world, alice, pdl)
    requested(world, bob, pdl)
    requested(world, carol, pdl)
    with session_scope(world.database_url) as session:
        point = session.scalar(select(UsagePoint).where(UsagePoint.pdl == pdl))
        point.status, point.status_reason = "consent_needed", "ADAM-DC-0008"
    assert holder_consent_gone.apply(kwargs={"pdl": pdl}).get() == {"status": "nothing-to-do"}
    assert world.points()[pdl][1] == alice.id
    assert [r.status for r in world.requests_of(pdl)] == ["pending", "pending"]


def set_point_status(world: World, pdl: str, status: str, reason: str = "") -> None:
    with session_scope(world.database_url) as session:
        point = session.scalar(select(UsagePoint).where(UsagePoint.pdl == pdl))
        point.status, point.status_reason = status, reason


def test_a_request_made_when_the_holders_access_is_already_gone_completes_at_once(world, outbox):
    alice, bob = world.account("alice"), world.account("bob")
    pdl = world.pdl()
    holds(world, alice, pdl)
    set_point_status(world, pdl, "consent_needed", "ADAM-DC-0007")  # Alice moved out
    offer = bob.callback(pdl).get_data(as_text=True)
    asked = bob.ask(offer, pdl)
    assert asked.status_code == 303 and asked.headers["Location"] == "/tableau-de-bord"
    assert world.points()[pdl][1:] == (bob.id, "active")
    assert world.requests_of(pdl)[0].resolution == "holder_consent_gone"


def test_a_requester_whose_consent_expired_gets_nothing(world):
    from models.consents import EnedisConsent

    holder_consent_gone = world.task(tasks.HOLDER_CONSENT_GONE)
    alice, bob = world.account("alice"), world.account("bob")
    pdl = world.pdl()
    holds(world, alice, pdl)
    request = requested(world, bob, pdl)
    with session_scope(world.database_url) as session:
        consent = session.get(EnedisConsent, request.consent_id)
        consent.started_at -= timedelta(days=366)  # given a year ago, ended yesterday
        consent.expires_at = datetime.now(UTC) - timedelta(days=1)
    set_point_status(world, pdl, "consent_needed", "ADAM-DC-0008")
    assert holder_consent_gone.apply(kwargs={"pdl": pdl}).get() == {"status": "nothing-to-do"}
    assert world.points()[pdl][1] == alice.id
    assert world.requests_of(pdl)[0].resolution == "requester_consent_expired"


def test_an_offer_is_valid_for_a_day_and_only_for_its_own_claims(world):
    from models.consents import EnedisConsent

    alice, bob = world.account("alice"), world.account("bob")
    pdl, elsewhere = world.pdl(), world.pdl()
    holds(world, alice, pdl)
    holds(world, alice, elsewhere)
    offer = bob.callback(pdl).get_data(as_text=True)
    # The offer's consent claimed `pdl` only: it cannot be used to ask for another meter.
    forged = offer.replace(f'name="pdl" value="{pdl}"', f'name="pdl" value="{elsewhere}"')
    assert bob.ask(forged, elsewhere).status_code == 409
    with session_scope(world.database_url) as session:
        consent = session.scalar(select(EnedisConsent).where(EnedisConsent.user_id == bob.id))
        consent.started_at -= timedelta(hours=25)
    stale = bob.ask(offer, pdl)
    assert stale.status_code == 409 and "plus valable" in stale.get_data(as_text=True)
    assert world.requests_of(pdl) == [] and world.requests_of(elsewhere) == []


# -- the administrator decides with the CLI ------------------------------------------------------

def test_an_administrator_approves_and_refuses_with_the_cli(world, outbox):
    alice, bob, carol = world.account("alice"), world.account("bob"), world.account("carol")
    make_admin(world, carol)
    pdl, other = world.pdl(), world.pdl()
    old_point = holds(world, alice, pdl)
    holds(world, alice, other)
    give_history(world, alice.id, old_point)
    first, second = requested(world, bob, pdl), requested(world, bob, other)

    listed = world.releve("transfers", "list")
    assert listed.returncode == 0, listed.stderr
    assert f"#{first.id} " in listed.stdout and f"PDL {pdl}  pending" in listed.stdout
    assert f"requester {bob.email}  holder {alice.email}  point active" in listed.stdout

    assert world.releve("transfers", "approve", str(first.id), "--by", alice.email).returncode == 2  # not an admin
    approved = world.releve("transfers", "approve", str(first.id), "--by", carol.email)
    assert approved.returncode == 0, approved.stderr
    assert f"PDL {pdl} is now held by {bob.email}" in approved.stdout
    assert world.points()[pdl][1] == bob.id and keys_of_point(world, alice.id, old_point) == []
    [done] = world.requests_of(pdl)
    assert (done.status, done.resolution, done.decided_by_id) == ("completed", "approved_by_admin", carol.id)
    assert world.audit("usage_point.transferred", pdl)[0].actor_id == carol.id

    refused = world.releve("transfers", "refuse", str(second.id))
    assert refused.returncode == 0 and f"PDL {other} stays where it is" in refused.stdout
    assert world.requests_of(other)[0].resolution == "refused_by_admin" and world.points()[other][1] == alice.id
    again = world.releve("transfers", "approve", str(second.id))
    assert again.returncode == 1 and "déjà été traitée" in again.stderr and "Traceback" not in again.stderr
    assert world.releve("transfers", "approve", "99999999999999999999").returncode == 2
    assert "No pending transfer request." in world.releve("transfers", "list").stdout or \
        f"#{first.id} " not in world.releve("transfers", "list").stdout


# -- a previous holder deleted their account ---------------------------------------------------------

def test_a_pdl_whose_holder_deleted_their_account_waits_for_review(world, outbox):
    alice, bob, carol = world.account("alice"), world.account("bob"), world.account("carol")
    make_admin(world, carol)
    pdl = world.pdl()
    holds(world, alice, pdl)  # Enedis keeps this consent after the account goes
    deleted = alice.post_form("/parametres/supprimer", {"confirm_password": "correct horse battery"},
                              page="/parametres")
    assert deleted.status_code in (302, 303) and pdl not in world.points()

    offer = bob.callback(pdl)
    page = offer.get_data(as_text=True)
    assert offer.status_code == 200 and "a déjà été suivi par un autre compte" in page
    assert pdl not in world.points()  # not added: the callback proves nothing
    assert bob.ask(page, pdl).status_code == 303
    [request] = world.requests_of(pdl)
    assert request.holder_id is None and request.status == "pending"
    assert any("attend votre décision" in subject for subject, _ in mails_to(world, outbox, carol.email))
    assert world.releve("transfers", "approve", str(request.id), "--by", carol.email).returncode == 0
    assert world.points()[pdl][1] == bob.id


# -- hostile input on the new routes ---------------------------------------------------------------

@pytest.mark.parametrize("data", [
    {"consent": "1", "pdl": "1234\x005678901"},
    {"consent": "99999999999999999999", "pdl": "12345678901234"},
    {"consent": "١٢", "pdl": "12345678901234"},
    {"consent": "1", "pdl": "x" * 1_000_000},
    {"consent": "x" * 1_000_000, "pdl": "12345678901234"},
    {},
])
def test_hostile_transfer_forms_are_4xx(world, data):
    bob = world.account("bob")
    answer = bob.post_form("/transferts/demander", data, page="/tableau-de-bord")
    assert 400 <= answer.status_code < 500


def test_hostile_transfer_ids_are_404(world):
    bob = world.account("bob")
    for path in ("/transferts/99999999999999999999", "/transferts/0", "/transferts/2147483648"):
        assert bob.client.get(path).status_code == 404
    for action in ("refuser", "accepter", "annuler"):
        assert bob.post_form(f"/transferts/99999999999999999999/{action}", {}, page="/tableau-de-bord").status_code == 404


def test_the_state_machine_allows_only_leaving_pending():
    now = datetime.now(UTC)
    request = TransferRequest(pdl="12345678901234", requester_id=1, status="pending")
    with pytest.raises(TransferStateError):
        request.move_to("completed", "refused_by_holder", at=now)  # a resolution of another state
    request.move_to("refused", "refused_by_holder", at=now, by=2)
    assert (request.status, request.decided_at, request.decided_by_id) == ("refused", now, 2)
    for status, resolution in (("completed", "approved_by_admin"), ("cancelled", "superseded"),
                               ("pending", ""), ("refused", "refused_by_admin")):
        with pytest.raises(TransferStateError):
            request.move_to(status, resolution, at=now)


def test_audit_transfers_lists_the_moves_the_old_callback_made(world):
    """Rows written before transfer requests existed (the takeover of issue 10) are listed for review."""
    alice, bob = world.account("alice"), world.account("bob")
    pdl = world.pdl()
    with session_scope(world.database_url) as session:
        session.add(AuditLog(actor_id=bob.id, action="usage_point.transferred", target=pdl, ip_address="203.0.113.7",
                             details={"from_user": alice.id, "to_user": bob.id}))
    listed = world.releve("audit", "transfers", "--since", datetime.now(UTC).strftime("%Y-%m-%d"))
    assert listed.returncode == 0, listed.stderr
    [line] = [line for line in listed.stdout.splitlines() if pdl in line]
    assert f"from {alice.email} (#{alice.id})  to {bob.email} (#{bob.id})  by {bob.email} (#{bob.id})" in line
    assert "how consent callback (before transfer requests)" in line and "ip 203.0.113.7" in line
    assert world.releve("audit", "transfers", "--since", "not-a-date").returncode == 2
