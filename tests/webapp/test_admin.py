"""The admin area at work: each action does what it says, writes its audit row in the same transaction,
refuses what the rules forbid, and never shows a household's readings."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
import redis
from sqlalchemy import func, select

from factories import PASSWORD, make_point, make_user
from fixtures.web import csrf_of
from models.audit import AuditLog
from models.cache import EncryptedCache
from models.calendar import tempo_season_start, today_paris
from models.ecowatt import EcoWattSignal
from models.keys import (
    BEAT_HEARTBEAT_KEY, cache_key, count_key, interactive_budget_key, progress_done_key, progress_key,
)
from models.permissions import ADMIN, MODERATOR, PERMISSIONS, VISITOR
from models.tempo import TempoDay, store_rte_colours
from models.transfers import TransferRequest
from models.usage_points import KnownPdl, UsagePoint
from models.users import Permission, Role, User
from pipeline import queues, tasks
from pipeline.services import ecowatt_limiter, enedis_limiter
from pipeline.tasks.maintenance import record_failure, record_worker_heartbeat

IP = "127.0.0.1"  # the test client's address


@pytest.fixture
def root(signed_in):
    return signed_in("root@example.org", roles=(ADMIN,))


@pytest.fixture
def bob(session):
    return make_user(session, "bob@example.org", password=PASSWORD)


def post(client, path: str, **data):
    token = csrf_of(client.get("/tableau-de-bord").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data})


def rows(session, action: str) -> list[AuditLog]:
    session.expire_all()
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def queued(celery_app, queue: str) -> list[tuple[str, dict]]:
    """Take every message waiting in `queue`: (task name, kwargs)."""
    found = []
    with celery_app.connection_for_read() as conn:
        channel = conn.default_channel
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            found.append((message.headers["task"], message.decode()[1]))
    return found


def role_id(session, name: str) -> int:
    return session.scalar(select(Role.id).where(Role.name == name))


# -- Utilisateurs ---------------------------------------------------------------------------------


def test_search_finds_by_address_id_and_meter(client, root, bob, session):
    point = make_point(session, bob)
    make_user(session, "carol@example.org")
    for q in ("BOB@", f"#{bob.id}", point.pdl):
        page = client.get("/admin/utilisateurs", query_string={"q": q}).get_data(as_text=True)
        assert "bob@example.org" in page and "carol@example.org" not in page, q
    page = client.get("/admin/utilisateurs", query_string={"q": "%"}).get_data(as_text=True)  # literal, not a wildcard
    assert "bob@example.org" not in page
    page = client.get("/admin/utilisateurs", query_string={"role": ADMIN}).get_data(as_text=True)
    assert "root@example.org" in page and "bob@example.org" not in page


def test_disable_then_enable_with_an_audit_row_each(client, app, root, bob, session):
    other = app.test_client()
    assert other.post("/connexion", data={"email": bob.email, "password": PASSWORD,
                                          "csrf_token": csrf_of(other.get("/connexion").get_data(as_text=True))}
                      ).status_code == 302
    assert other.get("/parametres").status_code == 200
    response = post(client, f"/admin/utilisateurs/{bob.id}/desactiver")
    assert response.status_code == 303
    session.refresh(bob)
    assert not bob.is_active
    assert other.get("/parametres").status_code == 302  # signed out at once
    [row] = rows(session, "admin.user.disabled")
    assert (row.actor_id, row.target, row.ip_address, row.before, row.after) == (
        root.id, f"user:{bob.id}", IP, {"active": True}, {"active": False})
    assert post(client, f"/admin/utilisateurs/{bob.id}/reactiver").status_code == 303
    session.refresh(bob)
    assert bob.is_active and rows(session, "admin.user.enabled")[0].after == {"active": True}


def test_delete_asks_for_the_address_then_forgets_the_cache(client, root, bob, session, valkey):
    point = make_point(session, bob)
    bob_id, point_id, root_id = bob.id, point.id, root.id
    keys = [cache_key(bob.id, point.id, "contract"), progress_key(point.id), progress_done_key(point.id),
            interactive_budget_key(bob.id)]
    for key in keys:
        valkey.set(key, "x")
    wrong = post(client, f"/admin/utilisateurs/{bob.id}/supprimer", email="someone@example.org")
    assert wrong.status_code == 400 and "pas l&#39;adresse de ce compte" in wrong.get_data(as_text=True)
    assert session.get(User, bob.id) is not None and rows(session, "admin.user.deleted") == []
    assert post(client, f"/admin/utilisateurs/{bob_id}/supprimer", email="BOB@example.org").status_code == 303
    session.expunge_all()
    assert session.get(User, bob_id) is None and session.get(UsagePoint, point_id) is None
    assert [key for key in keys if valkey.exists(key)] == []
    [row] = rows(session, "admin.user.deleted")
    assert (row.actor_id, row.target, row.before, row.after) == (
        root_id, f"user:{bob_id}", {"roles": [VISITOR], "active": True, "points": 1}, None)
    assert "bob@example.org" not in json.dumps([row.before, row.details])  # the address does not outlive the account


def test_a_reset_link_is_mailed_and_audited(client, root, bob, session, mails):
    assert post(client, f"/admin/utilisateurs/{bob.id}/reinitialiser").status_code == 303
    assert "/nouveau-mot-de-passe/" in mails.last_link(bob.email)
    [row] = rows(session, "admin.user.reset_sent")
    assert (row.actor_id, row.target) == (root.id, f"user:{bob.id}")


def test_change_role_is_audited_and_takes_effect(client, app, root, bob, session):
    assert post(client, f"/admin/utilisateurs/{bob.id}/role", role=role_id(session, MODERATOR)).status_code == 303
    session.refresh(bob)
    assert [r.name for r in bob.roles] == [MODERATOR]
    [row] = rows(session, "admin.user.role_changed")
    assert (row.before, row.after, row.actor_id) == ({"roles": [VISITOR]}, {"roles": [MODERATOR]}, root.id)
    for bad in ("999999", "abc", "99999999999999999999", ""):
        assert post(client, f"/admin/utilisateurs/{bob.id}/role", role=bad).status_code == 400


def test_forget_cache_drops_the_entries_and_fetches_the_history_again(client, root, bob, session, valkey,
                                                                      celery_app):
    active = make_point(session, bob, kind="consumption")
    waiting = make_point(session, bob, kind="consumption", status="consent_needed")
    for point in (active, waiting):
        valkey.set(cache_key(bob.id, point.id, "daily_consumption:2026-01-01"), "sealed")
        valkey.hset(progress_key(point.id), mapping={"total": 10, "done": 10})
    assert post(client, f"/admin/utilisateurs/{bob.id}/oublier-cache").status_code == 303
    assert list(valkey.scan_iter(f"releve:c:{bob.id}:*")) == [] and not valkey.exists(progress_key(active.id))
    assert queued(celery_app, queues.INTERACTIVE) == [(tasks.ONBOARD, {"point_id": active.id})]
    [row] = rows(session, "admin.user.cache_forgotten")
    assert (row.actor_id, row.details) == (root.id, {"points": 2, "refetched": 1})


def test_reset_quota_gives_every_api_client_of_the_account_its_reads_back(client, root, bob, session, valkey,
                                                                         settings):
    from models.api_clients import ApiClient
    from pipeline.api import Quotas

    issued = [ApiClient.issue(bob.id, name)[0] for name in ("HA", "script")]
    session.add_all(issued)
    session.flush()
    quotas = Quotas(valkey, settings)
    for api_client in issued:
        quotas.charge(api_client.id, "cache")
        quotas.charge(api_client.id, "upstream")
    page = client.get(f"/admin/utilisateurs/{bob.id}").get_data(as_text=True)
    assert "2 depuis le cache" in page and "2 avec appel à Enedis" in page
    assert post(client, f"/admin/utilisateurs/{bob.id}/quota-api").status_code == 303
    assert all(quotas.peek(c.id).used == dict.fromkeys(quotas.limits, 0) for c in issued)
    [row] = rows(session, "admin.user.quota_reset")
    assert row.actor_id == root.id


def test_the_last_admin_cannot_be_disabled_demoted_nor_deleted_from_the_area(client, auth, session, signed_in):
    """Sam holds every permission through a role of its own, not the admin role: root is the last administrator."""
    root = make_user(session, "root@example.org", roles=(ADMIN,))
    everything = Role(name="superviseur", description="", is_system=False)
    everything.permissions = list(session.scalars(select(Permission).where(Permission.name.in_(list(PERMISSIONS)))))
    session.add(everything)
    session.flush()
    signed_in("sam@example.org", roles=("superviseur",))
    for path, data in ((f"/admin/utilisateurs/{root.id}/desactiver", {}),
                       (f"/admin/utilisateurs/{root.id}/role", {"role": role_id(session, VISITOR)}),
                       (f"/admin/utilisateurs/{root.id}/supprimer", {"email": root.email})):
        response = post(client, path, **data)
        assert response.status_code == 409, path
        assert "dernier administrateur actif" in response.get_data(as_text=True)
    session.expire_all()
    assert root.is_active and [r.name for r in root.roles] == [ADMIN]
    assert session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action.like("admin.user.%"))) == 0


def test_the_last_admin_cannot_delete_itself_from_its_settings(client, root, session):
    token = csrf_of(client.get("/parametres").get_data(as_text=True))
    response = client.post("/parametres/supprimer", data={"confirm_password": PASSWORD, "csrf_token": token})
    assert response.status_code == 409 and "dernier administrateur actif" in response.get_data(as_text=True)
    assert session.get(User, root.id) is not None


def test_an_admin_does_not_act_on_itself(client, root, session):
    for path in (f"/admin/utilisateurs/{root.id}/desactiver", f"/admin/utilisateurs/{root.id}/role"):
        response = post(client, path, role=role_id(session, VISITOR))
        assert response.status_code == 409 and "propre compte" in response.get_data(as_text=True)


# -- Rôles ----------------------------------------------------------------------------------------


def test_roles_are_created_edited_and_deleted_from_the_area(client, root, session):
    response = post(client, "/admin/roles/nouveau", name="support", description="Support",
                    permissions=["users:read", "points:read"])
    assert response.status_code == 303
    role = session.scalar(select(Role).where(Role.name == "support"))
    assert role.codes == {"users:read", "points:read"}
    assert post(client, f"/admin/roles/{role.id}", description="Support N2", permissions=["users:read"]).status_code == 303
    session.refresh(role)
    assert role.codes == {"users:read"} and role.description == "Support N2"
    assert post(client, f"/admin/roles/{role.id}/supprimer").status_code == 303
    assert session.scalar(select(Role).where(Role.name == "support").execution_options(populate_existing=True)) is None
    assert [len(rows(session, f"admin.role.{a}")) for a in ("created", "updated", "deleted")] == [1, 1, 1]
    assert post(client, "/admin/roles/nouveau", name="intrus", permissions=["users:fly"]).status_code == 400
    for name in (ADMIN, VISITOR, MODERATOR):
        response = post(client, f"/admin/roles/{role_id(session, name)}/supprimer")
        assert response.status_code == 409 and "rôle du système" in response.get_data(as_text=True)
    response = post(client, f"/admin/roles/{role_id(session, ADMIN)}", permissions=[])
    assert response.status_code == 409 and "fixes" in response.get_data(as_text=True)


# -- Compteurs et transferts -------------------------------------------------------------------------


def test_force_a_refresh_once_per_five_minutes_and_never_of_a_point_without_consent(client, root, bob, session,
                                                                                    celery_app):
    point = make_point(session, bob, kind="consumption")
    assert post(client, f"/admin/compteurs/{point.id}/actualiser").status_code == 303
    assert queued(celery_app, queues.REFRESH) == [(tasks.REFRESH_POINT, {"point_id": point.id})]
    again = post(client, f"/admin/compteurs/{point.id}/actualiser")
    assert again.status_code == 409 and "moins de 5 minutes" in again.get_data(as_text=True)
    fresh = make_point(session, bob)  # never onboarded: onboarding is the refresh
    assert post(client, f"/admin/compteurs/{fresh.id}/actualiser").status_code == 303
    assert queued(celery_app, queues.INTERACTIVE) == [(tasks.ONBOARD, {"point_id": fresh.id})]
    waiting = make_point(session, bob, kind="consumption", status="consent_needed")
    assert post(client, f"/admin/compteurs/{waiting.id}/actualiser").status_code == 409
    assert [(r.actor_id, r.target, r.details["task"]) for r in rows(session, "admin.point.refresh")] == [
        (root.id, point.pdl, tasks.REFRESH_POINT), (root.id, fresh.pdl, tasks.ONBOARD)]


def test_detach_asks_for_the_pdl_forgets_the_cache_and_tells_the_holder(client, root, bob, session, valkey, mails):
    point = make_point(session, bob, kind="consumption")
    point_id, pdl, bob_id = point.id, point.pdl, bob.id
    valkey.set(cache_key(bob_id, point_id, "contract"), "sealed")
    assert post(client, f"/admin/compteurs/{point_id}/retirer", pdl="12345678901234").status_code == 400
    assert session.get(UsagePoint, point_id) is not None
    assert post(client, f"/admin/compteurs/{point_id}/retirer", pdl=pdl, reason="doublon").status_code == 303
    session.expunge_all()
    assert session.get(UsagePoint, point_id) is None and not valkey.exists(cache_key(bob_id, point_id, "contract"))
    assert session.get(KnownPdl, pdl).last_holder_id == bob_id  # another account only gets it by transfer
    [row] = rows(session, "admin.point.detached")
    assert (row.actor_id, row.target, row.before["user_id"], row.details["reason"]) == (
        root.id, pdl, bob_id, "doublon")
    [mail] = [m for m in mails.all() if m["To"] == "bob@example.org"]
    assert pdl in mail["Subject"]


def test_transfer_requests_are_approved_and_refused_here(client, root, bob, session, celery_app):
    point = make_point(session, bob, kind="consumption")
    pdl = point.pdl
    anna, carl = make_user(session, "anna@example.org"), make_user(session, "carl@example.org")
    first = TransferRequest(pdl=point.pdl, requester_id=anna.id, holder_id=bob.id)
    other = make_point(session, bob)
    second = TransferRequest(pdl=other.pdl, requester_id=carl.id, holder_id=bob.id)
    session.add_all([first, second])
    session.flush()
    page = client.get("/admin/compteurs/transferts").get_data(as_text=True)
    assert f'data-transfer="{first.id}" data-status="pending"' in page
    assert post(client, f"/admin/compteurs/transferts/{first.id}/approuver").status_code == 303
    assert post(client, f"/admin/compteurs/transferts/{second.id}/refuser").status_code == 303
    session.expunge_all()
    assert session.scalar(select(UsagePoint.user_id).where(UsagePoint.pdl == pdl)) == anna.id
    assert (session.get(TransferRequest, first.id).resolution, session.get(TransferRequest, second.id).resolution) == (
        "approved_by_admin", "refused_by_admin")
    [moved] = rows(session, "usage_point.transferred")
    [refused] = rows(session, "transfer.refused")
    assert (moved.actor_id, moved.ip_address, refused.actor_id, refused.ip_address) == (root.id, IP, root.id, IP)
    again = post(client, f"/admin/compteurs/transferts/{first.id}/approuver")
    assert again.status_code == 409 and "déjà été traitée" in again.get_data(as_text=True)


# -- Tempo et EcoWatt -------------------------------------------------------------------------------


def test_a_tempo_correction_wins_over_rte_until_it_is_removed(client, root, session):
    today = today_paris()
    day = max(today - timedelta(days=3), tempo_season_start(today))  # in this season: the public page shows it
    stamp = datetime.now(UTC)
    store_rte_colours(session, [{"day": day, "colour": "BLUE", "updated_at": stamp, "fetched_at": stamp}])
    assert post(client, "/admin/tempo/corriger", day=day.isoformat(), colour="RED", reason="erreur RTE").status_code == 303
    store_rte_colours(session, [{"day": day, "colour": "WHITE", "updated_at": stamp, "fetched_at": stamp}])
    session.expire_all()
    row = session.get(TempoDay, day)
    assert (row.colour, row.manual_colour, row.rte_colour, row.corrected_by_id) == ("RED", "RED", "WHITE", root.id)
    page = client.get("/admin/tempo", query_string={"saison": str(row.day.year if row.day.month >= 9
                                                                     else row.day.year - 1)}).get_data(as_text=True)
    assert f'data-day="{day.isoformat()}" class="corrected"' in page and "correction manuelle" in page
    public = client.get("/tempo").get_data(as_text=True)
    assert "(correction manuelle)" in public and "corrigée manuellement" in public  # shown as such to everyone
    assert post(client, "/admin/tempo/retirer-correction", day=day.isoformat()).status_code == 303
    session.expire_all()
    assert (session.get(TempoDay, day).colour, session.get(TempoDay, day).manual_colour) == ("WHITE", None)
    [corrected] = rows(session, "admin.tempo.corrected")
    [removed] = rows(session, "admin.tempo.correction_removed")
    assert corrected.before == {"colour": "BLUE", "rte_colour": "BLUE", "manual_colour": None}
    assert corrected.after == {"colour": "RED", "rte_colour": "BLUE", "manual_colour": "RED"}
    assert corrected.details == {"reason": "erreur RTE"} and corrected.target == f"tempo:{day.isoformat()}"
    assert removed.after == {"colour": "WHITE", "rte_colour": "WHITE", "manual_colour": None}


def test_a_correction_of_a_day_rte_never_gave_goes_away_with_it(client, root, session):
    tomorrow = today_paris() + timedelta(days=1)
    assert post(client, "/admin/tempo/corriger", day=tomorrow.isoformat(), colour="WHITE").status_code == 303
    assert session.get(TempoDay, tomorrow).rte_colour is None
    assert post(client, "/admin/tempo/retirer-correction", day=tomorrow.isoformat()).status_code == 303
    session.expire_all()
    assert session.get(TempoDay, tomorrow) is None
    assert post(client, "/admin/tempo/retirer-correction", day=tomorrow.isoformat()).status_code == 409


@pytest.mark.parametrize("day", ["2026-02-30", "2013-01-01", "2999-01-01", "26-01-01", "２０２６-０１-０１", "a\x00b"])
def test_a_correction_outside_the_calendar_is_a_form_error(client, root, session, day):
    response = post(client, "/admin/tempo/corriger", day=day, colour="RED")
    assert response.status_code == 400
    assert session.scalar(select(func.count()).select_from(TempoDay)) == 0


def test_refreshes_are_queued_audited_and_ecowatt_keeps_its_quarter_hour(client, root, session, valkey, celery_app):
    assert post(client, "/admin/tempo/actualiser").status_code == 303
    assert queued(celery_app, queues.RTE) == [(tasks.TEMPO_SEASON, {"force": True}), (tasks.TEMPO_TOMORROW, {})]
    assert post(client, "/admin/ecowatt/actualiser").status_code == 303
    assert queued(celery_app, queues.RTE) == [(tasks.ECOWATT, {})]
    assert ecowatt_limiter(valkey).try_acquire() == 0  # the worker called RTE
    assert "Prochain appel à RTE possible dans 15 minute" in client.get("/admin/ecowatt").get_data(as_text=True)
    too_soon = post(client, "/admin/ecowatt/actualiser")
    assert too_soon.status_code == 429 and "appel EcoWatt par quart d&#39;heure" in too_soon.get_data(as_text=True)
    assert queued(celery_app, queues.RTE) == []
    assert [len(rows(session, f"admin.{w}.refresh")) for w in ("tempo", "ecowatt")] == [1, 1]


def test_the_ecowatt_page_lists_the_signals(client, root, session):
    now = datetime.now(UTC)
    session.add(EcoWattSignal(day=date.today(), dvalue=2, message="Tension", hvalues=[1] * 18 + [2, 2] + [1] * 4,
                              generated_at=now, fetched_at=now))
    session.flush()
    page = client.get("/admin/ecowatt").get_data(as_text=True)
    assert "Tension" in page and "18 h, 19 h" in page


# -- Journal ----------------------------------------------------------------------------------------


def audit(session, action, target, actor_id=None, at=None, **details):
    row = AuditLog(action=action, target=target, actor_id=actor_id, details=details, ip_address="192.0.2.1")
    session.add(row)
    session.flush()
    if at is not None:
        row.created_at = at
        session.flush()
    return row


def journal(client, **filters) -> list[str]:
    page = client.get("/admin/journal", query_string=filters)
    assert page.status_code == 200, filters
    import re

    return re.findall(r'<tr data-action="([^"]+)">', page.get_data(as_text=True))


def test_the_journal_filters_on_the_server(client, root, bob, session):
    audit(session, "admin.user.disabled", f"user:{bob.id}", root.id)
    audit(session, "admin.tempo.corrected", "tempo:2026-01-02", root.id)
    audit(session, "transfer.requested", "12345678901234", bob.id)
    audit(session, "consent.callback", "", bob.id, at=datetime(2020, 5, 1, 12, tzinfo=UTC))
    assert journal(client, action="admin.") == ["admin.tempo.corrected", "admin.user.disabled"]
    assert journal(client, action="transfer.requested") == ["transfer.requested"]
    assert journal(client, acteur="BOB@") == ["transfer.requested", "consent.callback"]
    assert journal(client, acteur=f"#{root.id}") == ["admin.tempo.corrected", "admin.user.disabled"]
    assert journal(client, cible="tempo:*") == ["admin.tempo.corrected"]
    assert journal(client, cible="12345678901234") == ["transfer.requested"]
    assert journal(client, du="2020-05-01", au="2020-05-01") == ["consent.callback"]
    assert journal(client, au="2020-04-30") == []


def test_the_journal_is_paginated(client, root, session):
    for i in range(60):
        audit(session, "api_client.created", f"c{i:02d}", root.id)
    first, second = journal(client, action="api_client.created"), journal(client, action="api_client.created", page=2)
    assert (len(first), len(second)) == (50, 10)
    assert client.get("/admin/journal", query_string={"page": "3"}).status_code == 200  # past the end: empty


@pytest.mark.parametrize("name,value", [("page", "0"), ("page", "99999999999999999999"), ("page", "١"),
                                        ("du", "2026-13-01"), ("au", "x" * 1_000), ("acteur", "a\x00b"),
                                        ("cible", "x" * 1_000_000), ("action", "\r\n")])
def test_hostile_journal_filters_are_a_400(client, root, name, value):
    assert client.get("/admin/journal", query_string={name: value}).status_code in (400, 413, 414)
    if name != "page":  # the export has no pages
        assert client.get("/admin/journal.csv", query_string={name: value}).status_code in (400, 413, 414)


def test_the_csv_export_is_formula_safe_and_audited(client, root, session):
    audit(session, "transfer.requested", "=HYPERLINK(\"http://evil\")", root.id, note="+cmd|' /C calc'!A0")
    audit(session, "consent.callback", "@SUM(1+1)", root.id)
    response = client.get("/admin/journal.csv", query_string={"acteur": f"#{root.id}"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert table[0][:5] == ["date", "acteur", "adresse_acteur", "action", "cible"]
    cells = [cell for row in table[1:] for cell in row]
    assert "'=HYPERLINK(\"http://evil\")" in cells and "'@SUM(1+1)" in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    [export] = rows(session, "admin.audit.exported")
    assert export.details == {"rows": 2, "filters": {"actor_id": root.id}}


# -- Tableau de bord -----------------------------------------------------------------------------------


def test_the_dashboard_counts_what_the_pipeline_records(client, root, bob, session, settings, valkey, celery_app):
    make_user(session, "off@example.org", active=False)
    point = make_point(session, bob, kind="consumption")
    make_point(session, bob, status="consent_needed")
    valkey.hset(progress_key(point.id), mapping={"total": 40, "done": 10})
    limiter = enedis_limiter(valkey, settings)
    for _ in range(3):
        assert limiter.try_acquire() == 0
    limiter.block(0.001)  # a 429
    record_failure(valkey, tasks.FETCH_WINDOW, "Unavailable")
    record_worker_heartbeat(valkey, "worker@test")
    valkey.set(BEAT_HEARTBEAT_KEY, f"{datetime.now(UTC).timestamp():.3f}")
    celery_app.send_task(tasks.FETCH_WINDOW, kwargs={"point_id": point.id, "series": "daily_consumption",
                                                     "start": "2026-01-01", "end": "2026-01-08", "backfill": True})
    page = client.get("/admin").get_data(as_text=True)

    def value(css: str) -> str:
        import re

        return re.search(rf'class="(?:[^"]* )?{css}">([^<]*)<', page).group(1).strip()

    assert value("accounts-total") == "3" and value("accounts-week") == "1"
    assert (value("points-total"), value("points-active"), value("points-consent_needed")) == ("2", "1", "1")
    assert value("enedis-hour") == f"3 / {settings.enedis_rate_per_hour}" and value("enedis-today") == "3"
    assert value("enedis-429") == "1" and value("failed-today") == "1"
    assert value("queue-backfill") == "1" and value("queue-interactive") == "0"
    assert "worker@test" in page and "Unavailable" in page and value("backfills-count") == "1"
    assert valkey.get(count_key("enedis", "calls", date.today())) is not None


# -- the household's data is the household's ------------------------------------------------------------


def test_an_admin_never_sees_a_households_readings(client, root, bob, session, settings, valkey):
    point = make_point(session, bob, kind="consumption")
    cache = EncryptedCache.from_settings(redis.Redis.from_url(settings.valkey_url), settings)
    cache.put(bob.id, "contract", {"subscribed_power": "36 kVA", "offpeak_hours": "HC (2h04-7h04)"}, point=point.id)
    cache.put_days(bob.id, point.id, "daily_consumption", {date.today() - timedelta(days=1): 987654321})
    for path in (f"/consommation?pdl={point.pdl}", f"/api/ui/consommation.json?pdl={point.pdl}"):
        assert client.get(path).status_code == 404, path  # exactly like a meter that does not exist
    for path in ("/admin", "/admin/compteurs", f"/admin/compteurs/{point.id}", f"/admin/utilisateurs/{bob.id}",
                 "/admin/journal"):
        page = client.get(path).get_data(as_text=True)
        assert not any(secret in page for secret in ("36 kVA", "2h04", "987654321", "987 654 321")), path
