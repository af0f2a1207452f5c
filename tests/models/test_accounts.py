"""Account operations in the caller's transaction: roles, administrators."""

import pytest
from sqlalchemy import func, select

from models.accounts import NotAnEmail, create_admin, has_admin, seed_roles
from models.users import DEFAULT_ROLES, Permission, Role, User

from factories import make_user


def test_seeding_roles_twice_changes_nothing(session):
    seed_roles(session)
    seed_roles(session)
    session.flush()
    roles = {r.name: sorted(p.name for p in r.permissions) for r in session.scalars(select(Role))}
    assert roles == {name: sorted(perms) for name, perms in DEFAULT_ROLES.items()}
    assert session.scalar(select(func.count()).select_from(Permission)) == len({p for ps in DEFAULT_ROLES.values()
                                                                               for p in ps})


def test_create_admin_makes_or_promotes_and_never_stores_the_generated_password(session):
    generated = create_admin(session, " Root@Example.org ")
    root = session.scalar(select(User).where(User.email == "root@example.org"))
    assert generated and root.check_password(generated) and root.has_permission("admin.access")
    assert has_admin(session)
    make_user(session, "bea@example.org", roles=())
    assert create_admin(session, "bea@example.org", "a chosen password") is None  # promoted, nothing generated
    bea = session.scalar(select(User).where(User.email == "bea@example.org"))
    assert bea.check_password("a chosen password") and bea.has_permission("admin.users")
    with pytest.raises(NotAnEmail):
        create_admin(session, "not-an-email")
