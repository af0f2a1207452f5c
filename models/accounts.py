"""Account operations: roles, administrators. Called by the CLI, and by the admin area to come.

Each works in the caller's session and does not commit (the caller owns the transaction).
Operations that also touch the cache or send tasks live in `pipeline/accounts.py`.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.users import DEFAULT_ROLES, PERMISSION_DESCRIPTIONS, Permission, Role, User, normalise_email


class NotAnEmail(ValueError):
    """An administrator's address that cannot be one."""


def seed_roles(session: Session) -> None:
    """Create the default roles and permissions, and give each role its permissions (idempotent)."""
    perms = {p.name: p for p in session.scalars(select(Permission))}
    for name, description in PERMISSION_DESCRIPTIONS.items():
        if name not in perms:
            perms[name] = Permission(name=name, description=description)
            session.add(perms[name])
    roles = {r.name: r for r in session.scalars(select(Role))}
    for role_name, perm_names in DEFAULT_ROLES.items():
        role = roles.get(role_name) or Role(name=role_name)
        session.add(role)
        role.permissions = [perms[n] for n in perm_names]


def create_admin(session: Session, email: str, password: str | None = None) -> str | None:
    """Create an administrator (or give an existing account the role, and `password` if given).

    Returns the generated password when a new account got one (shown once, never stored).
    The roles must exist (`seed_roles`).
    """
    email = normalise_email(email)
    if "@" not in email:
        raise NotAnEmail(f"{email!r} is not an email address")
    generated = None
    admin_role = session.scalar(select(Role).where(Role.name == "admin"))
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        if password is None:
            password = generated = secrets.token_urlsafe(12)
        user = User(email=email)
        user.set_password(password)
        session.add(user)
    elif password is not None:
        user.set_password(password)
    if admin_role not in user.roles:
        user.roles.append(admin_role)
    return generated


def has_admin(session: Session) -> bool:
    """Whether any account has the admin role."""
    return session.scalar(select(User.id).join(User.roles).where(Role.name == "admin").limit(1)) is not None
