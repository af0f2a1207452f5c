"""Account operations in the caller's transaction: permissions and roles, administrators, the last-admin rule."""

import threading

import pytest
from sqlalchemy import delete, func, select, text

from factories import make_user
from models.accounts import (
    AdminRefused, LastAdmin, NotAnEmail, active_admins, create_admin, create_role, delete_role, has_admin,
    seed_roles, set_active, set_role, update_role,
)
from models.audit import AuditLog
from models.db import session_factory
from models.permissions import (
    ADMIN, AUDIT_READ, LEGACY_USER, MODERATOR, PERMISSIONS, ROLES_EDIT, SYSTEM_ROLES, USERS_EDIT, USERS_READ,
    VISITOR,
)
from models.sessions import UserSession
from models.users import Permission, Role, User
from pipeline.accounts import delete_account


def role(session, name: str) -> Role:
    return session.scalar(select(Role).where(Role.name == name))


def audit_rows(session, action: str) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


# -- seeding ----------------------------------------------------------------------------------


def test_seeding_twice_gives_the_system_roles_and_every_code(session):
    seed_roles(session)
    seed_roles(session)
    roles = {r.name: sorted(r.codes) for r in session.scalars(select(Role))}
    assert roles.pop(LEGACY_USER) == []  # the previous release's role, kept empty (migration 0007)
    assert roles == {name: sorted(codes) for name, codes in SYSTEM_ROLES.items()}
    assert roles[ADMIN] == sorted(PERMISSIONS) and roles[VISITOR] == []
    assert all(r.is_system for r in session.scalars(select(Role)))
    assert sorted(session.scalars(select(Permission.name))) == sorted(PERMISSIONS)
    assert all(":" in code and code.split(":")[0] and code.split(":")[1] for code in PERMISSIONS)


def test_seeding_keeps_what_an_admin_gave_the_moderator_and_resets_the_fixed_roles(session):
    moderator, admin = role(session, MODERATOR), role(session, ADMIN)
    moderator.permissions = list(session.scalars(select(Permission).where(Permission.name == AUDIT_READ)))
    admin.permissions = []
    seed_roles(session)
    assert moderator.codes == {AUDIT_READ}
    assert admin.codes == set(PERMISSIONS)


def test_seeding_moves_the_previous_release_sign_ups_to_visitor(session):
    """A web process of the previous release, during a rolling update, still gives new accounts the role `user`."""
    late = make_user(session, "late@example.org", roles=(LEGACY_USER,))
    seed_roles(session)
    session.expire_all()
    assert [r.name for r in late.roles] == [VISITOR]
    root = make_user(session, "root@example.org", roles=(ADMIN,))
    with pytest.raises(AdminRefused, match="plus attribué"):
        set_role(session, late.id, role(session, LEGACY_USER).id, actor=root, ip=None)


def test_create_admin_makes_promotes_and_reenables(session):
    generated = create_admin(session, " Root@Example.org ")
    root = session.scalar(select(User).where(User.email == "root@example.org"))
    assert generated and root.check_password(generated) and root.permission_codes() == set(PERMISSIONS)
    assert has_admin(session)
    make_user(session, "bea@example.org", roles=(), active=False)
    assert create_admin(session, "bea@example.org", "a chosen password") is None  # promoted, nothing generated
    bea = session.scalar(select(User).where(User.email == "bea@example.org"))
    assert bea.check_password("a chosen password") and bea.is_active and bea.has_permission(USERS_EDIT)
    with pytest.raises(NotAnEmail):
        create_admin(session, "not-an-email")


# -- roles ------------------------------------------------------------------------------------


def test_a_role_is_created_edited_and_deleted_with_an_audit_row_each(session):
    root = make_user(session, "root@example.org", roles=(ADMIN,))
    support = create_role(session, "support", "Support", {USERS_READ}, actor=root, ip="192.0.2.1")
    assert support.codes == {USERS_READ} and not support.is_system
    update_role(session, support.id, {USERS_READ, USERS_EDIT}, "Support niveau 2", actor=root, ip="192.0.2.1")
    assert support.codes == {USERS_READ, USERS_EDIT}
    assert delete_role(session, support.id, actor=root, ip="192.0.2.1") == "support"
    assert role(session, "support") is None
    created, updated, deleted = (audit_rows(session, f"admin.role.{a}") for a in ("created", "updated", "deleted"))
    assert created[0].after == {"name": "support", "description": "Support", "permissions": [USERS_READ]}
    assert updated[0].before == {"description": "Support", "permissions": [USERS_READ]}
    assert updated[0].after == {"description": "Support niveau 2", "permissions": sorted([USERS_EDIT, USERS_READ])}
    assert deleted[0].before["permissions"] == sorted([USERS_EDIT, USERS_READ]) and deleted[0].after is None
    assert {r.actor_id for r in created + updated + deleted} == {root.id}
    assert {r.ip_address for r in created + updated + deleted} == {"192.0.2.1"}
    assert {r.target for r in created + updated + deleted} == {f"role:{support.id}"}


@pytest.mark.parametrize("name", ["ab", "Support", "1abc", "a" * 65, "sup port", "admin"])
def test_a_role_name_is_a_short_new_identifier(session, name):
    root = make_user(session, "root@example.org", roles=(ADMIN,))
    with pytest.raises(AdminRefused):
        create_role(session, name, "", set(), actor=root, ip=None)


def test_system_roles_and_roles_in_use_are_not_deleted_and_fixed_roles_not_edited(session):
    root = make_user(session, "root@example.org", roles=(ADMIN,))
    for name in (ADMIN, MODERATOR, VISITOR):
        with pytest.raises(AdminRefused, match="rôle du système"):
            delete_role(session, role(session, name).id, actor=root, ip=None)
    for name in (ADMIN, VISITOR):
        with pytest.raises(AdminRefused, match="fixes"):
            update_role(session, role(session, name).id, {AUDIT_READ}, "", actor=root, ip=None)
    custom = create_role(session, "lecteur", "", {USERS_READ}, actor=root, ip=None)
    make_user(session, "carl@example.org", roles=("lecteur",))
    with pytest.raises(AdminRefused, match="1 compte"):
        delete_role(session, custom.id, actor=root, ip=None)
    with pytest.raises(AdminRefused, match="inconnue"):
        update_role(session, custom.id, {"users:fly"}, "", actor=root, ip=None)


def test_nobody_grants_a_permission_they_do_not_hold(session):
    seed_roles(session)
    root = make_user(session, "root@example.org", roles=(ADMIN,))
    create_role(session, "gestion", "", {ROLES_EDIT, USERS_READ}, actor=root, ip=None)
    manager = make_user(session, "mia@example.org", roles=("gestion",))
    with pytest.raises(AdminRefused, match="audit:read"):
        create_role(session, "curieux", "", {AUDIT_READ}, actor=manager, ip=None)
    reader = create_role(session, "lecteur", "", {USERS_READ}, actor=root, ip=None)
    with pytest.raises(AdminRefused, match="audit:read"):  # adding one she lacks
        update_role(session, reader.id, {USERS_READ, AUDIT_READ}, "", actor=manager, ip=None)
    with pytest.raises(AdminRefused, match="offers:edit"):  # editing a role that holds more than she does
        update_role(session, role(session, MODERATOR).id, set(), "", actor=manager, ip=None)
    update_role(session, reader.id, set(), "", actor=manager, ip=None)  # within her own: allowed
    visitor = make_user(session, "vic@example.org")
    with pytest.raises(AdminRefused, match="n'avez pas"):  # the admin role holds more than she does
        set_role(session, visitor.id, role(session, ADMIN).id, actor=manager, ip=None)
    with pytest.raises(AdminRefused, match="permissions que vous n'avez pas"):  # nor demotes someone above her
        set_role(session, root.id, role(session, VISITOR).id, actor=manager, ip=None)
    with pytest.raises(AdminRefused, match="propre compte"):
        set_role(session, manager.id, role(session, VISITOR).id, actor=manager, ip=None)


def test_set_role_gives_exactly_one_role_and_audits_it(session):
    root = make_user(session, "root@example.org", roles=(ADMIN,))
    bob = make_user(session, "bob@example.org")
    set_role(session, bob.id, role(session, MODERATOR).id, actor=root, ip="192.0.2.7")
    assert [r.name for r in bob.roles] == [MODERATOR]
    [row] = audit_rows(session, "admin.user.role_changed")
    assert (row.actor_id, row.target, row.ip_address) == (root.id, f"user:{bob.id}", "192.0.2.7")
    assert (row.before, row.after) == ({"roles": [VISITOR]}, {"roles": [MODERATOR]})


# -- the last administrator -------------------------------------------------------------------


def test_the_last_active_admin_is_never_disabled_demoted_nor_deleted(session, settings):
    root = make_user(session, "root@example.org", roles=(ADMIN,))
    other = make_user(session, "other@example.org", roles=(ADMIN,))
    make_user(session, "gone@example.org", roles=(ADMIN,), active=False)  # a disabled admin does not count
    set_active(session, other.id, False, actor=root, ip=None)  # two active admins: one may go
    assert active_admins(session) == 1
    with pytest.raises(LastAdmin):
        set_active(session, root.id, False, actor=other, ip=None)
    with pytest.raises(LastAdmin):
        set_role(session, root.id, role(session, VISITOR).id, actor=other, ip=None)
    with pytest.raises(LastAdmin):
        delete_account(session, settings, root.id)  # by the admin itself, from its settings page
    with pytest.raises(LastAdmin):
        delete_account(session, settings, root.id, actor=other)
    session.expire_all()
    assert root.is_active and [r.name for r in root.roles] == [ADMIN]
    set_active(session, other.id, True, actor=root, ip=None)
    set_role(session, root.id, role(session, VISITOR).id, actor=other, ip=None)  # now there is another
    assert active_admins(session) == 1


def test_disabling_ends_every_session_and_is_audited(session):
    from datetime import UTC, datetime, timedelta

    root = make_user(session, "root@example.org", roles=(ADMIN,))
    bob = make_user(session, "bob@example.org")
    session.add(UserSession(user_id=bob.id, token_hash="0" * 64, expires_at=datetime.now(UTC) + timedelta(days=1)))
    session.flush()
    set_active(session, bob.id, False, actor=root, ip="192.0.2.9")
    assert session.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == bob.id)) == 0
    [row] = audit_rows(session, "admin.user.disabled")
    assert (row.before, row.after, row.ip_address) == ({"active": True}, {"active": False}, "192.0.2.9")
    set_active(session, bob.id, True, actor=root, ip=None)
    assert audit_rows(session, "admin.user.enabled")[0].after == {"active": True}


def test_two_admins_disabling_each_other_at_once_leave_one(database_url, accounts, engine, wait_until):
    """A real race on two connections: the second waits for the first's row lock, then counts what it left."""
    one = accounts.user(roles=(ADMIN,))
    two = accounts.user(roles=(ADMIN,))
    make = session_factory(database_url)
    first, second = make(), make()
    outcome: list = []
    try:
        assert active_admins(first) == 2, "another test left an active admin behind"
        set_active(first, two.id, False, actor=first.get(User, one.id), ip=None)  # holds the lock, not committed

        def other_way_round():
            try:
                set_active(second, one.id, False, actor=second.get(User, two.id), ip=None)
                second.commit()
                outcome.append("disabled")
            except LastAdmin:
                second.rollback()
                outcome.append("refused")

        thread = threading.Thread(target=other_way_round)
        thread.start()
        with engine.connect() as watcher:
            # The second waits on the first's lock (without the lock it would have finished, and disabled).
            wait_until(lambda: not thread.is_alive() or watcher.execute(text(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()")).scalar() > 0, timeout=60)
        first.commit()
        thread.join(timeout=60)
        assert outcome == ["refused"]
        assert active_admins(first) == 1
    finally:
        first.rollback()
        first.execute(delete(AuditLog).where(AuditLog.target.in_([f"user:{one.id}", f"user:{two.id}"])))
        first.commit()
        first.close()
        second.close()


def test_the_audit_row_lives_and_dies_with_its_change(session):
    root = make_user(session, "root@example.org", roles=(ADMIN,))
    bob = make_user(session, "bob@example.org")
    savepoint = session.begin_nested()
    set_active(session, bob.id, False, actor=root, ip=None)
    set_role(session, bob.id, role(session, MODERATOR).id, actor=root, ip=None)
    savepoint.rollback()
    session.expire_all()
    assert bob.is_active and [r.name for r in bob.roles] == [VISITOR]
    assert audit_rows(session, "admin.user.disabled") == audit_rows(session, "admin.user.role_changed") == []
    set_active(session, bob.id, False, actor=root, ip=None)
    session.flush()
    assert len(audit_rows(session, "admin.user.disabled")) == 1 and not bob.is_active
