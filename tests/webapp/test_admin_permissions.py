"""Every /admin route carries the one decorator, and each permission opens exactly its routes.

The table below says which permission each admin endpoint needs. The URL map must match it
exactly (a new admin route without an entry, or without the decorator, fails here); then,
for every route and method: anonymous visitors go to the login page, an account holding
every permission but that one gets 403, an account holding only that one gets through.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from factories import PASSWORD, make_point, make_user
from fixtures.web import csrf_of
from models.permissions import (
    ADMIN, AUDIT_READ, ECOWATT_REFRESH, MODERATOR, PERMISSIONS, POINTS_DETACH, POINTS_READ, POINTS_REFRESH,
    ROLES_EDIT, SYSTEM_READ, TEMPO_EDIT, TRANSFERS_DECIDE, USERS_DELETE, USERS_EDIT, USERS_READ, VISITOR,
)
from models.transfers import TransferRequest
from models.usage_points import UsagePoint
from models.users import Permission, Role

REQUIRED = {
    "admin.dashboard": SYSTEM_READ,
    "admin.users": USERS_READ,
    "admin.user": USERS_READ,
    "admin.disable": USERS_EDIT,
    "admin.enable": USERS_EDIT,
    "admin.send_reset": USERS_EDIT,
    "admin.forget_cache": USERS_EDIT,
    "admin.reset_quota": USERS_EDIT,
    "admin.delete": USERS_DELETE,
    "admin.change_role": ROLES_EDIT,
    "admin.roles": ROLES_EDIT,
    "admin.create_role": ROLES_EDIT,
    "admin.role": ROLES_EDIT,
    "admin.update_role": ROLES_EDIT,
    "admin.delete_role": ROLES_EDIT,
    "admin.points": POINTS_READ,
    "admin.point": POINTS_READ,
    "admin.refresh_point": POINTS_REFRESH,
    "admin.detach_point": POINTS_DETACH,
    "admin.transfers_page": TRANSFERS_DECIDE,
    "admin.approve_transfer": TRANSFERS_DECIDE,
    "admin.refuse_transfer": TRANSFERS_DECIDE,
    "admin.tempo": TEMPO_EDIT,
    "admin.refresh_tempo": TEMPO_EDIT,
    "admin.correct_tempo": TEMPO_EDIT,
    "admin.remove_tempo_correction": TEMPO_EDIT,
    "admin.ecowatt": ECOWATT_REFRESH,
    "admin.refresh_ecowatt": ECOWATT_REFRESH,
    "admin.journal": AUDIT_READ,
    "admin.journal_csv": AUDIT_READ,
}


def admin_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.rule == "/admin" or rule.rule.startswith("/admin/")]


def test_every_admin_route_declares_the_permission_of_the_table(app):
    declared = {rule.endpoint: getattr(app.view_functions[rule.endpoint], "required_permission", None)
                for rule in admin_rules(app)}
    assert declared == REQUIRED
    assert all(rule.endpoint.startswith("admin.") for rule in admin_rules(app))
    # …and nothing else of the app lives under /admin, nor is an admin view outside it.
    assert {e for e in app.view_functions if e.startswith("admin.")} == set(REQUIRED)


def test_a_view_that_forgot_its_decorator_is_refused_before_it_runs(app, client, signed_in):
    ran = []

    def forgotten():
        ran.append(True)
        return "secret"

    app.add_url_rule("/admin/oubli", endpoint="admin.oubli", view_func=forgotten)  # in the admin blueprint's name
    signed_in("root@example.org", roles=(ADMIN,))
    assert client.get("/admin/oubli").status_code == 404 and ran == []


def test_no_admin_route_attaches_a_meter_to_an_account(app):
    """Meters reach accounts by consent or transfer request only: no admin endpoint may create a point."""
    words = re.compile(r"(attach|ratta|ajout|add|assign)", re.I)
    assert [r.rule for r in admin_rules(app) if words.search(r.rule) or words.search(r.endpoint)] == []


# -- each permission on each route -------------------------------------------------------------


@pytest.fixture
def world(session):
    """A household with a meter, a pending transfer request, a custom role nobody holds."""
    household = make_user(session, "household@example.org")
    point = make_point(session, household, kind="consumption")
    requester = make_user(session, "requester@example.org")
    request = TransferRequest(pdl=point.pdl, requester_id=requester.id, holder_id=household.id)
    session.add(request)
    spare = Role(name="spare", description="", is_system=False)
    session.add(spare)
    session.flush()
    return {"user_id": household.id, "point_id": point.id, "request_id": request.id, "role_id": spare.id}


def role_with(session, name: str, codes) -> str:
    role = Role(name=name, description="", is_system=False)
    role.permissions = list(session.scalars(select(Permission).where(Permission.name.in_(list(codes)))))
    session.add(role)
    session.flush()
    return name


def url_of(app, endpoint: str, world: dict) -> tuple[str, list[str]]:
    [rule] = [r for r in admin_rules(app) if r.endpoint == endpoint]
    path = rule.rule
    for arg in rule.arguments:
        path = path.replace(f"<int:{arg}>", str(world[arg]))
    return path, sorted(rule.methods & {"GET", "POST"})


def sign_in(client, auth, session, email: str, role: str | None):
    make_user(session, email, password=PASSWORD, roles=(role,) if role else ())
    auth.logout() if client.get("/parametres").status_code == 200 else None
    assert auth.login(email).status_code == 302
    return csrf_of(client.get("/tableau-de-bord").get_data(as_text=True))


def ask(client, method: str, path: str, token: str | None):
    if method == "GET":
        return client.get(path)
    return client.post(path, data={"csrf_token": token} if token else {})


def to_login(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/connexion")


@pytest.mark.parametrize("endpoint", sorted(REQUIRED))
def test_each_route_opens_to_its_permission_only(app, client, auth, session, world, endpoint):
    code = REQUIRED[endpoint]
    path, methods = url_of(app, endpoint, world)
    anonymous_token = csrf_of(client.get("/connexion").get_data(as_text=True))
    for method in methods:
        assert to_login(ask(client, method, path, anonymous_token)), (method, path)

    token = sign_in(client, auth, session, "without@example.org",
                    role_with(session, "without", set(PERMISSIONS) - {code}))
    for method in methods:
        assert ask(client, method, path, token).status_code == 403, (method, path)

    token = sign_in(client, auth, session, "with@example.org", role_with(session, "with", {code}))
    for method in methods:
        response = ask(client, method, path, token)
        assert response.status_code < 500 and response.status_code != 403 and not to_login(response), \
            (method, path, response.status_code)


def test_the_visitor_moderator_admin_matrix(app, client, auth, session, world):
    """Visitors and (until offers and contributions have pages) moderators are refused everywhere; admins go
    everywhere. GETs only: the POSTs of each permission are covered above."""
    pages = [url_of(app, endpoint, world)[0] for endpoint in sorted(REQUIRED)
             if "GET" in url_of(app, endpoint, world)[1]]
    for role, allowed in ((VISITOR, False), (MODERATOR, False), (ADMIN, True)):
        sign_in(client, auth, session, f"{role}@example.org", role)
        codes = {path: client.get(path).status_code for path in pages}
        if allowed:
            assert all(status == 200 for status in codes.values()), (role, codes)
        else:
            assert set(codes.values()) == {403}, (role, codes)
        home = client.get("/tableau-de-bord").get_data(as_text=True)
        assert ('href="/admin"' in home) is allowed  # the navigation shows the area to whoever may open it
    assert session.scalar(select(UsagePoint.pdl).where(UsagePoint.id == world["point_id"]))  # nothing was detached


def test_a_disabled_admin_is_signed_out_of_the_area(client, auth, session, signed_in):
    root = signed_in("root@example.org", roles=(ADMIN,))
    make_user(session, "second@example.org", roles=(ADMIN,))
    assert client.get("/admin").status_code == 200
    root.is_active = False
    session.flush()
    assert to_login(client.get("/admin"))
