"""Permission codes (resource:action) and system roles; audit before/after; Tempo corrections

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 09:00:00.000000+00:00

The permissions seeded until now (`admin.access`, `admin.users`, `admin.offers`,
`admin.contributions`, `data.read_own`) become `resource:action` codes; the holders of the
role `user` now hold `visitor` (no permission: reading one's own data is ownership, not a
permission), `moderator` is added, and admin, moderator and visitor are system roles. The
catalogue below is this revision's snapshot; `releve db upgrade` then syncs the descriptions
from `models/permissions.py` (seed_roles).

Expand now, contract later: the previous release's code, still running during a rolling
update or deployed again by a rollback, reads every column it knew (all kept; the new ones
are nullable or have defaults) and checks no permission code; its sign-up gives the role
`user`, so that row stays (no permission, a system role, shown as the old one) and
`seed_roles` moves its holders to `visitor`. A later release drops it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CODES = {
    "system:read": "Voir le tableau de bord technique (files, quotas, processus)",
    "users:read": "Voir les comptes (adresse, rôles, compteurs : jamais leurs relevés)",
    "users:edit": "Désactiver ou réactiver un compte, lui envoyer un lien de mot de passe, oublier son cache",
    "users:delete": "Supprimer un compte et ses données",
    "roles:edit": "Créer, modifier et supprimer des rôles ; changer le rôle d'un compte",
    "points:read": "Voir les compteurs (état, consentement, avancement : jamais leurs relevés)",
    "points:refresh": "Forcer l'actualisation d'un compteur",
    "points:detach": "Retirer un compteur d'un compte",
    "transfers:decide": "Approuver ou refuser les demandes de transfert de compteur",
    "offers:edit": "Gérer les fournisseurs, les offres et leurs prix",
    "contributions:review": "Modérer les contributions",
    "tempo:edit": "Actualiser et corriger le calendrier Tempo",
    "ecowatt:refresh": "Actualiser les signaux EcoWatt",
    "audit:read": "Lire et exporter le journal d'audit",
}
MODERATOR = ("offers:edit", "contributions:review")
LEGACY = {
    "admin.access": "Accéder à l'administration",
    "admin.users": "Gérer les comptes",
    "admin.offers": "Gérer les offres et fournisseurs",
    "admin.contributions": "Modérer les contributions",
    "data.read_own": "Lire ses propres données",
}
LEGACY_ROLES = {"admin": tuple(LEGACY), "user": ("data.read_own",)}
COLOURS = "('BLUE', 'WHITE', 'RED')"


def _permissions(codes: dict[str, str]) -> None:
    bind = op.get_bind()
    for code, description in codes.items():
        bind.execute(sa.text("INSERT INTO permissions (name, description) VALUES (:name, :description) "
                             "ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description"),
                     {"name": code, "description": description})


def _grant(role: str, codes) -> None:
    op.get_bind().execute(sa.text(
        "INSERT INTO role_permissions (role_id, permission_id) SELECT r.id, p.id FROM roles r, permissions p "
        "WHERE r.name = :role AND p.name = ANY(:codes) ON CONFLICT DO NOTHING"), {"role": role, "codes": list(codes)})


def _move_holders(old: str, new: str) -> None:
    """The holders of role `old` hold `new` instead (both rows stay)."""
    bind = op.get_bind()
    bind.execute(sa.text(
        "INSERT INTO user_roles (user_id, role_id) SELECT ur.user_id, n.id FROM user_roles ur "
        "JOIN roles o ON o.id = ur.role_id AND o.name = :old JOIN roles n ON n.name = :new ON CONFLICT DO NOTHING"),
        {"old": old, "new": new})
    bind.execute(sa.text("DELETE FROM user_roles WHERE role_id IN (SELECT id FROM roles WHERE name = :old)"),
                 {"old": old})


def upgrade() -> None:
    op.add_column('roles', sa.Column('description', sa.String(length=255), server_default='', nullable=False))
    op.add_column('roles', sa.Column('is_system', sa.Boolean(), server_default='false', nullable=False))

    op.add_column('audit_log', sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('audit_log', sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.create_index(op.f('ix_audit_log_target'), 'audit_log', ['target'], unique=False)
    op.create_index('ix_audit_log_created_at', 'audit_log', ['created_at'], unique=False)

    op.add_column('tempo_days', sa.Column('rte_colour', sa.String(length=5), nullable=True))
    op.add_column('tempo_days', sa.Column('manual_colour', sa.String(length=5), nullable=True))
    op.add_column('tempo_days', sa.Column('corrected_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('tempo_days', sa.Column('corrected_by_id', sa.Integer(), nullable=True))
    op.create_foreign_key(op.f('fk_tempo_days_corrected_by_id_users'), 'tempo_days', 'users', ['corrected_by_id'],
                          ['id'], ondelete='SET NULL')
    op.execute("UPDATE tempo_days SET rte_colour = colour")  # every colour so far is RTE's
    op.create_check_constraint(op.f('ck_tempo_days_manual_colour_known'), 'tempo_days',
                               f"manual_colour IS NULL OR manual_colour IN {COLOURS}")
    op.create_check_constraint(op.f('ck_tempo_days_rte_colour_known'), 'tempo_days',
                               f"rte_colour IS NULL OR rte_colour IN {COLOURS}")
    op.create_check_constraint(op.f('ck_tempo_days_corrected_when_manual'), 'tempo_days',
                               "(manual_colour IS NULL) = (corrected_at IS NULL)")

    op.execute(sa.text("DELETE FROM permissions WHERE name = ANY(:codes)").bindparams(codes=list(LEGACY)))
    _permissions(CODES)
    op.execute("INSERT INTO roles (name, description, is_system) VALUES ('admin', '', true), ('moderator', '', true), "
               "('visitor', '', true), ('user', '', true) ON CONFLICT (name) DO UPDATE SET is_system = true")
    _move_holders("user", "visitor")  # `user` stays for the previous release's sign-up (see above)
    _grant("admin", CODES)
    _grant("moderator", MODERATOR)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM permissions WHERE name = ANY(:codes)").bindparams(codes=list(CODES)))
    _permissions(LEGACY)
    for role, codes in LEGACY_ROLES.items():
        op.execute(sa.text("INSERT INTO roles (name) VALUES (:name) ON CONFLICT (name) DO NOTHING").bindparams(name=role))
        _grant(role, codes)
    _move_holders("visitor", "user")
    op.execute("DELETE FROM roles WHERE name = 'visitor'")

    op.execute("UPDATE tempo_days SET colour = rte_colour WHERE rte_colour IS NOT NULL")  # corrections go
    op.drop_constraint(op.f('ck_tempo_days_corrected_when_manual'), 'tempo_days', type_='check')
    op.drop_constraint(op.f('ck_tempo_days_rte_colour_known'), 'tempo_days', type_='check')
    op.drop_constraint(op.f('ck_tempo_days_manual_colour_known'), 'tempo_days', type_='check')
    op.drop_constraint(op.f('fk_tempo_days_corrected_by_id_users'), 'tempo_days', type_='foreignkey')
    op.drop_column('tempo_days', 'corrected_by_id')
    op.drop_column('tempo_days', 'corrected_at')
    op.drop_column('tempo_days', 'manual_colour')
    op.drop_column('tempo_days', 'rte_colour')

    op.drop_index('ix_audit_log_created_at', table_name='audit_log')
    op.drop_index(op.f('ix_audit_log_target'), table_name='audit_log')
    op.drop_column('audit_log', 'after')
    op.drop_column('audit_log', 'before')

    op.drop_column('roles', 'is_system')
    op.drop_column('roles', 'description')
