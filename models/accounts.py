"""Account operations: roles and permissions, administrators, enabling and disabling accounts.

Called by the CLI and the admin area alike. Each works in the caller's session and does not
commit (the caller owns the transaction); each change writes its audit row in that same
transaction. Operations that also touch the cache or send tasks live in `pipeline/accounts.py`.

Two rules hold here, not in the views:
- **the last active administrator stays**: nobody disables or deletes it, nor takes its
  admin role away. Every operation that could takes a row lock on the admin role first, so
  two administrators demoting each other at the same moment cannot both succeed;
- **nobody grants more than they hold**: an actor acts only on accounts, and edits only
  roles, whose permissions it holds all of, and gives (to a role or an account) only
  permissions it holds.
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy import delete, func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from models.audit import record, role_target, user_target
from models.permissions import ADMIN, DEFAULT_ROLE, FIXED_ROLES, LEGACY_USER, PERMISSIONS, SYSTEM_ROLES, VISITOR
from models.sessions import UserSession
from models.users import Permission, Role, User, normalise_email, user_roles


class NotAnEmail(ValueError):
    """An administrator's address that cannot be one."""


class AdminRefused(Exception):
    """An operation the rules forbid; `message` says why, in French, for the person who asked."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class LastAdmin(AdminRefused):
    """The operation would leave no active administrator."""


LAST_ADMIN = ("C'est le dernier administrateur actif : nommez-en un autre avant de le désactiver, "
              "de le supprimer ou de lui retirer ce rôle.")


# -- roles and permissions --------------------------------------------------------------------

def seed_roles(session: Session) -> None:
    """Every permission of the catalogue, and the system roles (idempotent; `releve db upgrade`).

    Descriptions follow the catalogue. The admin role always gets every permission (a permission
    added by a release reaches it at the next deploy) and the visitor none; a moderator role
    that exists keeps the permissions an administrator gave it. Holders of the previous
    release's role `user` become visitors.
    """
    perms = {p.name: p for p in session.scalars(select(Permission))}
    for code, description in PERMISSIONS.items():
        if code not in perms:
            perms[code] = Permission(name=code, description=description)
            session.add(perms[code])
        else:
            perms[code].description = description
    roles = {r.name: r for r in session.scalars(select(Role))}
    for name, codes in SYSTEM_ROLES.items():
        if name not in roles:
            roles[name] = Role(name=name, permissions=[perms[c] for c in codes])
            session.add(roles[name])
        elif name in FIXED_ROLES:
            roles[name].permissions = [perms[c] for c in codes]
        roles[name].is_system = True
    session.flush()
    legacy = roles.get(LEGACY_USER)
    if legacy is not None:
        legacy.permissions, legacy.is_system = [], True
        session.execute(insert(user_roles).from_select(
            ["user_id", "role_id"],
            select(user_roles.c.user_id, literal(roles[VISITOR].id)).where(user_roles.c.role_id == legacy.id),
        ).on_conflict_do_nothing())
        session.execute(delete(user_roles).where(user_roles.c.role_id == legacy.id))
        session.flush()


def role_by_name(session: Session, name: str) -> Role | None:
    return session.scalar(select(Role).where(Role.name == name))


def default_role(session: Session) -> Role:
    """The role a new account gets (seeded by `seed_roles`)."""
    role = role_by_name(session, DEFAULT_ROLE)
    if role is None:
        raise LookupError(f"role {DEFAULT_ROLE!r} missing: run `releve db upgrade`")
    return role


ROLE_NAME = re.compile(r"^[a-z][a-z0-9_-]{2,63}$")


def _grantable(actor: User, codes: set[str]) -> None:
    missing = codes - actor.permission_codes()
    if missing:
        raise AdminRefused("Vous ne pouvez donner, ni modifier un rôle qui a, une permission que vous n'avez pas : "
                           + ", ".join(sorted(missing)) + ".")


def _permissions(session: Session, codes: set[str]) -> list[Permission]:
    unknown = codes - set(PERMISSIONS)
    if unknown:
        raise AdminRefused("Permission inconnue : " + ", ".join(sorted(unknown)) + ".")
    return list(session.scalars(select(Permission).where(Permission.name.in_(codes)).order_by(Permission.name)))


def users_of_role(session: Session, role_id: int) -> int:
    return session.scalar(select(func.count()).select_from(user_roles).where(user_roles.c.role_id == role_id)) or 0


def create_role(session: Session, name: str, description: str, codes: set[str], *, actor: User,
                ip: str | None) -> Role:
    """A role an administrator makes (never a system role)."""
    if not ROLE_NAME.match(name):
        raise AdminRefused("Nom de rôle : 3 à 64 caractères, lettres minuscules, chiffres, « - » ou « _ », "
                           "en commençant par une lettre.")
    if role_by_name(session, name) is not None:
        raise AdminRefused("Un rôle porte déjà ce nom.")
    permissions = _permissions(session, codes)
    _grantable(actor, codes)
    role = Role(name=name, description=description, is_system=False)
    role.permissions = permissions
    session.add(role)
    session.flush()
    record(session, "admin.role.created", actor_id=actor.id, target=role_target(role.id), ip=ip, before=None,
           after={"name": name, "description": description, "permissions": sorted(codes)})
    return role


def _locked_role(session: Session, role_id: int, *, share: bool = False) -> Role | None:
    return session.scalar(select(Role).where(Role.id == role_id).with_for_update(read=share)
                          .execution_options(populate_existing=True))


def update_role(session: Session, role_id: int, codes: set[str], description: str, *, actor: User,
                ip: str | None) -> Role:
    """Change a role's permissions and description (not those of admin and visitor: they are fixed)."""
    role = _locked_role(session, role_id)
    if role is None:
        raise AdminRefused("Ce rôle n'existe pas.")
    if role.name in FIXED_ROLES:
        raise AdminRefused(f"Les permissions du rôle « {role.label} » sont fixes.")
    before = {"description": role.description, "permissions": sorted(role.codes)}
    permissions = _permissions(session, codes)
    _grantable(actor, codes | role.codes)  # nor edits a role that holds more than the actor
    role.permissions = permissions
    role.description = description
    session.flush()
    after = {"description": description, "permissions": sorted(codes)}
    if after != before:
        record(session, "admin.role.updated", actor_id=actor.id, target=role_target(role.id), ip=ip,
               before=before, after=after, name=role.name)
    return role


def delete_role(session: Session, role_id: int, *, actor: User, ip: str | None) -> str:
    """Delete a role nobody holds and that is not a system role; its name."""
    role = _locked_role(session, role_id)  # an assignment of this role waits, then finds it gone
    if role is None:
        raise AdminRefused("Ce rôle n'existe pas.")
    if role.is_system:
        raise AdminRefused(f"« {role.label} » est un rôle du système : il ne peut pas être supprimé.")
    _grantable(actor, role.codes)
    holders = users_of_role(session, role.id)
    if holders:
        raise AdminRefused(f"{holders} compte(s) ont ce rôle : changez-leur de rôle avant de le supprimer.")
    before = {"name": role.name, "description": role.description, "permissions": sorted(role.codes)}
    name = role.name
    session.delete(role)
    session.flush()
    record(session, "admin.role.deleted", actor_id=actor.id, target=role_target(role_id), ip=ip, before=before,
           after=None)
    return name


# -- administrators ---------------------------------------------------------------------------

def create_admin(session: Session, email: str, password: str | None = None) -> str | None:
    """Create an administrator (or give an existing account the role, enabled, and `password` if given).

    Returns the generated password when a new account got one (shown once, never stored).
    The roles must exist (`seed_roles`). The operator's way back in: it works on a disabled account.
    """
    email = normalise_email(email)
    if "@" not in email:
        raise NotAnEmail(f"{email!r} is not an email address")
    generated = None
    admin_role = role_by_name(session, ADMIN)
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        if password is None:
            password = generated = secrets.token_urlsafe(12)
        user = User(email=email)
        user.set_password(password)
        session.add(user)
    elif password is not None:
        user.set_password(password)
    user.is_active = True
    if admin_role not in user.roles:
        user.roles.append(admin_role)
    return generated


def has_admin(session: Session) -> bool:
    """Whether any account has the admin role."""
    return session.scalar(select(User.id).join(User.roles).where(Role.name == ADMIN).limit(1)) is not None


def _is_admin(user: User) -> bool:
    return any(role.name == ADMIN for role in user.roles)


def active_admins(session: Session) -> int:
    return session.scalar(select(func.count(func.distinct(User.id))).select_from(User).join(User.roles)
                          .where(Role.name == ADMIN, User.is_active.is_(True))) or 0


def guard_last_admin(session: Session, user: User) -> None:
    """Raise LastAdmin when `user` is the last active administrator. Call it before taking that away.

    The admin role's row is locked first (until the transaction ends), then the count is read by a
    new statement: a concurrent operation on another administrator waits for this transaction and
    then counts what it left.
    """
    session.scalar(select(Role.id).where(Role.name == ADMIN).with_for_update())
    session.refresh(user)
    if user.is_active and _is_admin(user) and active_admins(session) <= 1:
        raise LastAdmin(LAST_ADMIN)


def check_may_act_on(actor: User, user: User, what: str) -> None:
    """The actor acts on another account holding no permission the actor lacks."""
    if actor.id == user.id:
        raise AdminRefused(f"Vous ne pouvez pas {what} votre propre compte depuis l'administration.")
    if user.permission_codes() - actor.permission_codes():
        raise AdminRefused(f"Ce compte a des permissions que vous n'avez pas : vous ne pouvez pas {what} ce compte.")


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise AdminRefused("Ce compte n'existe pas.")
    return user


def set_active(session: Session, user_id: int, active: bool, *, actor: User, ip: str | None) -> User:
    """Disable (signs the account out everywhere: the user loader refuses it) or enable an account."""
    user = _user(session, user_id)
    check_may_act_on(actor, user, "désactiver" if not active else "réactiver")
    if not active:
        guard_last_admin(session, user)
    if user.is_active == active:
        return user
    user.is_active = active
    if not active:
        session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    record(session, "admin.user.enabled" if active else "admin.user.disabled", actor_id=actor.id,
           target=user_target(user.id), ip=ip, before={"active": not active}, after={"active": active})
    return user


def set_role(session: Session, user_id: int, role_id: int, *, actor: User, ip: str | None) -> User:
    """Give an account exactly one role (its others go)."""
    user = _user(session, user_id)
    check_may_act_on(actor, user, "changer le rôle de")
    role = _locked_role(session, role_id, share=True)  # a deletion of the role waits for this transaction
    if role is None or role.name == LEGACY_USER:
        raise AdminRefused("Ce rôle n'existe pas ou n'est plus attribué.")
    _grantable(actor, role.codes)
    before = sorted(r.name for r in user.roles)
    if before == [role.name]:
        return user
    if role.name != ADMIN:
        guard_last_admin(session, user)
    user.roles = [role]
    session.flush()
    record(session, "admin.user.role_changed", actor_id=actor.id, target=user_target(user.id), ip=ip,
           before={"roles": before}, after={"roles": [role.name]})
    return user
