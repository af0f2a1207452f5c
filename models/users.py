"""Accounts: users, roles and permissions."""

from __future__ import annotations

import hashlib
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CheckConstraint, Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Timestamped
from models.permissions import ROLE_LABELS

_hasher = PasswordHasher()  # argon2id, memory-hard

role_permissions = Table(
    "role_permissions",
    Base.metadata,
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Column("permission_id", ForeignKey("permissions.id", ondelete="CASCADE"), primary_key=True),
)

user_roles = Table(
    "user_roles",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)


class Permission(Base):
    __tablename__ = "permissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")


class Role(Base):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="", server_default="")
    # admin, moderator, visitor (models/permissions.py): never deleted.
    is_system: Mapped[bool] = mapped_column(default=False, server_default="false")
    permissions: Mapped[list[Permission]] = relationship(secondary=role_permissions, lazy="selectin")

    @property
    def label(self) -> str:
        """The name a person reads."""
        return ROLE_LABELS.get(self.name) or self.description or self.name

    @property
    def codes(self) -> set[str]:
        return {p.name for p in self.permissions}


class User(Timestamped, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("email = lower(email) AND position('@' in email) > 1", name="email_normalised"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")
    email_verified_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")

    def set_password(self, password: str) -> None:
        self.password_hash = _hasher.hash(password)

    def check_password(self, password: str) -> bool:
        try:
            return _hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    # flask-login's protocol, without importing Flask into the models.
    is_authenticated = True
    is_anonymous = False
    # The token of the browser session this object was loaded for (models.sessions; not a column).
    session_token = ""

    def session_fingerprint(self) -> str:
        """Changes with the password, so a new password signs every other session out."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]

    def get_id(self) -> str:
        """What the session and remember cookies hold: the account, its password state, the session."""
        return f"{self.id}.{self.session_fingerprint()}.{self.session_token}"

    def has_permission(self, code: str) -> bool:
        """Whether one of the account's roles grants `code` (models/permissions.py)."""
        return any(p.name == code for role in self.roles for p in role.permissions)

    def permission_codes(self) -> set[str]:
        return {p.name for role in self.roles for p in role.permissions}


def normalise_email(email: str) -> str:
    return email.strip().lower()


__all__ = ["Permission", "Role", "User", "normalise_email"]
