"""Audit log: who did what to what, from where, and what it was before and after. Append-only.

Never holds readings nor secrets (no password, token, nor e-mail address of a deleted
account): `before` and `after` carry the state an action changed (roles, active, a
colour), `details` whatever else explains it. Every admin action writes its row with
`record()` in the transaction of the change, so the row exists exactly when the change does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Select, String, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, Timestamped
from models.db import escape_like


class AuditLog(Timestamped, Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_created_at", "created_at"),)  # the journal's period filter

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(128), default="", index=True)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    details: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)


def record(session: Session, action: str, *, actor_id: int | None, target: str = "", ip: str | None = None,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None, **details: Any) -> AuditLog:
    """Add an audit row to `session` (it commits with the change it describes)."""
    row = AuditLog(actor_id=actor_id, action=action, target=target[:128], ip_address=(ip or None) and ip[:45],
                   before=before, after=after, details=details)
    session.add(row)
    return row


def user_target(user_id: int) -> str:
    return f"user:{user_id}"


def role_target(role_id: int) -> str:
    return f"role:{role_id}"


def point_target(pdl: str) -> str:
    return pdl  # as transfers and consent callbacks have always written it


def tempo_target(day) -> str:
    return f"tempo:{day.isoformat()}"


# What the journal shows of each action (others are shown by their code).
ACTION_LABELS = {
    "admin.user.disabled": "Compte désactivé",
    "admin.user.enabled": "Compte réactivé",
    "admin.user.deleted": "Compte supprimé par un administrateur",
    "admin.user.reset_sent": "Lien de mot de passe envoyé",
    "admin.user.role_changed": "Rôle changé",
    "admin.user.cache_forgotten": "Cache d'un compte oublié",
    "admin.user.quota_reset": "Quotas d'API remis à zéro",
    "admin.role.created": "Rôle créé",
    "admin.role.updated": "Permissions d'un rôle modifiées",
    "admin.role.deleted": "Rôle supprimé",
    "admin.point.refresh": "Actualisation d'un compteur demandée",
    "admin.point.detached": "Compteur retiré d'un compte",
    "admin.tempo.corrected": "Couleur Tempo corrigée",
    "admin.tempo.correction_removed": "Correction Tempo retirée",
    "admin.tempo.refresh": "Actualisation Tempo demandée",
    "admin.ecowatt.refresh": "Actualisation EcoWatt demandée",
    "admin.audit.exported": "Journal exporté",
    "account.deleted": "Compte supprimé par son titulaire",
    "account.password_changed": "Mot de passe changé",
    "account.signed_out_everywhere": "Déconnexion partout",
    "api_client.created": "Identifiants d'API créés",
    "api_client.regenerated": "Identifiants d'API régénérés",
    "api_client.revoked": "Identifiants d'API révoqués",
    "consent.callback": "Retour de consentement Enedis",
    "transfer.requested": "Transfert demandé",
    "transfer.refused": "Transfert refusé",
    "transfer.cancelled": "Transfert annulé",
    "usage_point.transferred": "Compteur transféré",
}


@dataclass(frozen=True)
class AuditFilter:
    """The journal's filters, already checked (bounded, printable): None or "" means any."""

    actor_id: int | None = None
    actor_email: str = ""  # a fragment of the actor's address
    action: str = ""  # a code, or a prefix ending with "."
    target: str = ""  # exact, or a prefix ending with "*"
    since: datetime | None = None
    until: datetime | None = None  # exclusive

    def as_dict(self) -> dict[str, Any]:
        """What an export records of the filters it used."""
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items() if v}


def audit_query(f: AuditFilter) -> Select:
    """The rows matching `f` with their actor's address (None: no actor, or a deleted account), newest first."""
    from models.users import User

    query = (select(AuditLog, User.email).outerjoin(User, User.id == AuditLog.actor_id)
             .order_by(AuditLog.created_at.desc(), AuditLog.id.desc()))
    if f.actor_id is not None:
        query = query.where(AuditLog.actor_id == f.actor_id)
    if f.actor_email:
        query = query.where(User.email.ilike(f"%{escape_like(f.actor_email.lower())}%", escape="\\"))
    if f.action:
        query = (query.where(AuditLog.action.like(escape_like(f.action) + "%", escape="\\"))
                 if f.action.endswith(".") else query.where(AuditLog.action == f.action))
    if f.target:
        query = (query.where(AuditLog.target.like(escape_like(f.target[:-1]) + "%", escape="\\"))
                 if f.target.endswith("*") else query.where(AuditLog.target == f.target))
    if f.since is not None:
        query = query.where(AuditLog.created_at >= f.since)
    if f.until is not None:
        query = query.where(AuditLog.created_at < f.until)
    return query
