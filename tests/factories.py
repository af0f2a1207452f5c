"""The one way tests make accounts and meters (rows as the application stores them).

In a test's own transaction: `make_user(session, …)`, `make_point(session, user, …)`.
For other processes to see them (workers, a `releve web`), use the `accounts` fixture
(`fixtures.accounts`): the same factories, committed, and deleted after the test.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.usage_points import UsagePoint
from models.users import Role, User

PASSWORD = "correct horse battery"  # what `auth` signs in with unless told otherwise


def unique_email(prefix: str = "user") -> str:
    """An address no other test of any run uses (committed rows outlive a test's transaction)."""
    return f"{prefix}-{random.getrandbits(48):012x}@example.org"


def made_up_pdl(prefix: str = "99") -> str:
    """A well-formed PDL that no sandbox customer has (the sandbox's REGISTER_ALL serves any)."""
    return f"{prefix}{random.randrange(10 ** (14 - len(prefix))):0{14 - len(prefix)}d}"


def make_user(session: Session, email: str | None = None, *, password: str | None = None,
              roles: tuple[str, ...] = ("user",), verified: bool = True, active: bool = True) -> User:
    """An account as sign-up leaves it once verified; without `password` it cannot sign in."""
    user = User(email=email or unique_email(), is_active=active,
                email_verified_at=datetime.now(UTC) if verified else None)
    if password is None:
        user.password_hash = "-"  # matches no password
    else:
        user.set_password(password)
    user.roles = list(session.scalars(select(Role).where(Role.name.in_(roles)))) if roles else []
    assert len(user.roles) == len(roles), f"unknown role among {roles}"
    session.add(user)
    session.flush()
    return user


def make_point(session: Session, user: User, pdl: str | None = None, kind: str = "unknown",
               **extra) -> UsagePoint:
    """A meter of `user` (a made-up PDL unless given); its kind is unknown until onboarding tells."""
    point = UsagePoint(pdl=pdl or made_up_pdl(), user_id=user.id, kind=kind, **extra)
    session.add(point)
    session.flush()
    return point
